"""The resource metrics pipeline metrics-server runs, inside the API server: every `resolution`
seconds (15 by default) scrape /metrics/resource of each Ready node concurrently with a timeout,
keep the last two points per node and per container, and answer usage from them — CPU as the
rate between the two points (nanocores), memory as the last working set, timestamped with the
last point and windowed by the distance between the two.

As upstream: a container that restarted (its start time moved past the stored point) starts
over; a container started at least 10 s but less than one resolution ago counts from its start
with zero CPU; a pod has metrics only when every one of its containers has; pods missing from a
node's scrape disappear; a node whose scrape fails is left out until one succeeds.

Nodes advertising kubelet port 0 (hollow nodes, which serve no kubelet API) are asked through
`local`, a hook that returns the same /metrics/resource text from the in-process kubelet.

Must not serve the API (metricsapi.py does) nor decide which pods a caller may see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kubelite.api import errors
from kubelite.api import prometheus as prom
from kubelite.apiserver.kubeletclient import KubeletClient, kubelet_address
from kubelite.registry.registry import Registry
from kubelite.registry.store import ListOptions

log = logging.getLogger(__name__)

Obj = dict[str, Any]
LocalKubelet = Callable[[str], Awaitable[str | None]]  # node name -> its /metrics/resource text
PodKey = tuple[str, str]  # (namespace, name)

DEFAULT_RESOLUTION = 15.0
MAX_SCRAPE_TIMEOUT = 10.0
FRESH_CONTAINER_MIN = 10.0  # upstream freshContainerMinMetricsResolution


@dataclass(frozen=True, slots=True)
class Point:
    """One reading of a node or container: cumulative CPU seconds and working set at `timestamp`."""

    timestamp: float
    cpu_seconds: float
    memory: int
    start_time: float = 0.0


@dataclass(frozen=True, slots=True)
class Usage:
    """What the API reports: CPU in nanocores, memory in bytes, over [timestamp - window, timestamp]."""

    cpu_nanocores: int
    memory: int
    timestamp: float
    window: float


@dataclass(slots=True)
class NodeScrape:
    node: Point | None
    pods: dict[PodKey, dict[str, Point]] = field(default_factory=dict)


def decode(text: str, scraped_at: float) -> NodeScrape:
    """The points of a /metrics/resource text (samples without a timestamp take `scraped_at`);
    a container needs both its CPU and memory samples. Raises prom.ParseError."""
    node_cpu: tuple[float, float] | None = None
    node_memory: int | None = None
    cpu: dict[tuple[str, str, str], tuple[float, float]] = {}
    memory: dict[tuple[str, str, str], int] = {}
    starts: dict[tuple[str, str, str], float] = {}
    for sample in prom.parse(text):
        stamp = sample.timestamp_ms / 1000 if sample.timestamp_ms is not None else scraped_at
        name = sample.name
        if name == "node_cpu_usage_seconds_total":
            node_cpu = (stamp, sample.value)
        elif name == "node_memory_working_set_bytes":
            node_memory = int(sample.value)
        elif name.startswith("container_"):
            labels = sample.labels
            key = (labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", ""))
            if name == "container_cpu_usage_seconds_total":
                cpu[key] = (stamp, sample.value)
            elif name == "container_memory_working_set_bytes":
                memory[key] = int(sample.value)
            elif name == "container_start_time_seconds":
                starts[key] = sample.value
    scrape = NodeScrape(Point(node_cpu[0], node_cpu[1], node_memory) if node_cpu is not None and node_memory is not None else None)
    for key, (stamp, seconds) in cpu.items():
        if key in memory:
            namespace, pod, container = key
            scrape.pods.setdefault((namespace, pod), {})[container] = Point(stamp, seconds, memory[key], starts.get(key, 0.0))
    return scrape


def usage_between(last: Point, prev: Point) -> Usage | None:
    """The rate between two points of one node or container; None when they cannot be compared
    (not later, restarted, or a decreasing counter)."""
    window = round(last.timestamp - prev.timestamp, 3)  # kubelet timestamps are whole milliseconds
    if window <= 0 or last.start_time < prev.start_time or last.cpu_seconds < prev.cpu_seconds:
        return None
    rate = (last.cpu_seconds - prev.cpu_seconds) / window
    return Usage(int(rate * 1e9), last.memory, last.timestamp, window)


@dataclass(slots=True)
class _NodeState:
    last: NodeScrape
    prev_node: Point | None = None
    prev_containers: dict[PodKey, dict[str, Point]] = field(default_factory=dict)


class MetricsStorage:
    """The last two points per node and container, updated one node scrape at a time."""

    def __init__(self, resolution: float = DEFAULT_RESOLUTION):
        self.resolution = resolution
        self._nodes: dict[str, _NodeState] = {}
        self._pod_node: dict[PodKey, str] = {}

    def store(self, node: str, scrape: NodeScrape) -> None:
        old = self._nodes.get(node)
        state = _NodeState(scrape)
        if old is not None and scrape.node is not None and old.last.node is not None:
            if scrape.node.timestamp > old.last.node.timestamp:
                state.prev_node = old.last.node
            elif old.prev_node is not None and old.prev_node.timestamp < scrape.node.timestamp:
                state.prev_node = old.prev_node
        for pod, containers in scrape.pods.items():
            previous: dict[str, Point] = {}
            for name, point in containers.items():
                earlier = self._previous_point(old, pod, name, point)
                if earlier is not None:
                    previous[name] = earlier
            if previous:
                state.prev_containers[pod] = previous
        if old is not None:
            for pod in old.last.pods:
                if self._pod_node.get(pod) == node:
                    del self._pod_node[pod]
        for pod in scrape.pods:
            self._pod_node[pod] = node
        self._nodes[node] = state

    def _previous_point(self, old: _NodeState | None, pod: PodKey, name: str, point: Point) -> Point | None:
        age = point.timestamp - point.start_time
        if point.start_time and 0 < age < self.resolution and age >= FRESH_CONTAINER_MIN:
            return Point(point.start_time, 0.0, point.memory, point.start_time)  # counts from its start
        if old is None:
            return None
        last = old.last.pods.get(pod, {}).get(name)
        if last is None or point.start_time > last.timestamp:  # unseen, or restarted since
            return None
        if point.timestamp > last.timestamp:
            return last
        kept = old.prev_containers.get(pod, {}).get(name)
        return kept if kept is not None and kept.timestamp < point.timestamp else None

    def drop(self, node: str) -> None:
        old = self._nodes.pop(node, None)
        if old is not None:
            for pod in old.last.pods:
                if self._pod_node.get(pod) == node:
                    del self._pod_node[pod]

    def retain(self, nodes: set[str]) -> None:
        for node in [n for n in self._nodes if n not in nodes]:
            self.drop(node)

    def node_usage(self, node: str) -> Usage | None:
        state = self._nodes.get(node)
        if state is None or state.last.node is None or state.prev_node is None:
            return None
        return usage_between(state.last.node, state.prev_node)

    def pod_usage(self, namespace: str, name: str) -> tuple[float, float, list[tuple[str, Usage]]] | None:
        """(timestamp, window, [(container, usage)]) of a pod whose every container has two
        points; timestamp and window are the earliest container's."""
        key = (namespace, name)
        node = self._pod_node.get(key)
        state = self._nodes.get(node) if node is not None else None
        if state is None:
            return None
        last = state.last.pods.get(key) or {}
        prev = state.prev_containers.get(key) or {}
        found: list[tuple[str, Usage]] = []
        earliest: Usage | None = None
        for container, point in last.items():
            before = prev.get(container)
            if before is None:
                return None
            usage = usage_between(point, before)
            if usage is None:
                continue
            found.append((container, usage))
            if earliest is None or usage.timestamp < earliest.timestamp:
                earliest = usage
        if earliest is None:
            return None
        return earliest.timestamp, earliest.window, found


def is_ready(node: Obj) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def serves_kubelet_api(node: Obj) -> bool:
    endpoint = ((node.get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}
    return endpoint.get("Port") != 0


class MetricsScraper:
    def __init__(
        self,
        registry: Registry,
        kubelets: KubeletClient | None,
        *,
        resolution: float = DEFAULT_RESOLUTION,
        local: LocalKubelet | None = None,
        wall_clock: Callable[[], float] = time.time,
    ):
        """`local`: how to reach kubelets of nodes with kubelet port 0 (may be set after start)."""
        self.registry = registry
        self.kubelets = kubelets
        self.resolution = resolution
        self.timeout = min(max(resolution * 0.9, 1.0), MAX_SCRAPE_TIMEOUT)
        self.local = local
        self.wall_clock = wall_clock
        self.storage = MetricsStorage(resolution)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="metrics scraper")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            try:
                await self.scrape_once()
            except Exception:
                log.exception("metrics scrape failed")
            await asyncio.sleep(max(self.resolution - (loop.time() - began), 0.0))

    async def scrape_once(self) -> None:
        """Scrape every Ready node once (concurrently) and store what came back."""
        nodes_store = self.registry.store("", "v1", "nodes")
        if nodes_store is None:
            return
        listed = await nodes_store.list(None, ListOptions(), copy=False)
        ready = [node for node in listed.items if is_ready(node)]
        names = {str(node["metadata"]["name"]) for node in ready}
        self.storage.retain(names)
        results = await asyncio.gather(*(self._scrape(node) for node in ready))
        for node, scrape in zip(ready, results, strict=True):
            name = str(node["metadata"]["name"])
            if scrape is None:
                self.storage.drop(name)
            else:
                self.storage.store(name, scrape)

    async def _scrape(self, node: Obj) -> NodeScrape | None:
        name = str(node["metadata"]["name"])
        try:
            text = await asyncio.wait_for(self._fetch(node), self.timeout)
            return None if text is None else decode(text, self.wall_clock())
        except (TimeoutError, errors.StatusError, prom.ParseError, OSError) as exc:
            log.info("scraping node %s failed: %s", name, exc)
            return None

    async def _fetch(self, node: Obj) -> str | None:
        if not serves_kubelet_api(node):
            return await self.local(str(node["metadata"]["name"])) if self.local is not None else None
        if self.kubelets is None:
            return None
        kubelet_address(node)  # raises for a node without an address
        response = await self.kubelets.get(node, "/metrics/resource", ())
        try:
            if response.status != 200:
                raise errors.internal(f"kubelet answered {response.status}")
            return await response.text()
        finally:
            response.release()
