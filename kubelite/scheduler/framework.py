"""The scheduling framework's shapes, after upstream pkg/scheduler/framework (interface.go, types.go):
`Status` with upstream's codes, one small Protocol per extension point, `CycleState`, `NodeInfo`
(a node with its pods, requested resources and used host ports) and `Snapshot` (every NodeInfo, taken
once per cycle).

Pure data and bookkeeping: must NOT talk to the API, hold a queue, decide where a pod goes, or know
any particular plugin.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from decimal import ROUND_CEILING, Decimal
from enum import IntEnum
from functools import lru_cache
from typing import Any, Protocol

from kubelite.api.quantity import QuantityError, parse_quantity

Obj = dict[str, Any]

MAX_NODE_SCORE = 100
CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"
# upstream's defaults for a container that requests no cpu / memory, used when spreading by score.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


class Code(IntEnum):
    """upstream framework.Code, same numbering."""

    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5


class Status:
    """A plugin's verdict: a code, the reasons (upstream's exact strings) and the plugin that said it."""

    __slots__ = ("code", "reasons", "plugin")

    def __init__(self, code: Code = Code.SUCCESS, *reasons: str, plugin: str = ""):
        self.code = code
        self.reasons: tuple[str, ...] = reasons
        self.plugin = plugin

    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    def is_skip(self) -> bool:
        return self.code == Code.SKIP

    def is_rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        return Status(self.code, *self.reasons, plugin=plugin)

    def __repr__(self) -> str:
        return f"Status({self.code.name}, {list(self.reasons)!r}, plugin={self.plugin!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Status) and (self.code, self.reasons) == (other.code, other.reasons)

    def __hash__(self) -> int:
        return hash((self.code, self.reasons))


SUCCESS = Status()
SKIP = Status(Code.SKIP)


class CycleState(dict[str, Any]):
    """Per-cycle scratch space plugins share between their extension points (keyed by plugin name).
    The cycle stores the Snapshot under SNAPSHOT_KEY for plugins that score against every node."""


SNAPSHOT_KEY = "Snapshot"


# ---------------------------------------------------------------------------------------- resources


@lru_cache(maxsize=4096)
def _amount(text: str, milli: bool) -> int:
    try:
        value = parse_quantity(text).amount
    except QuantityError:
        return 0
    if milli:
        value *= 1000
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def quantity_value(resource: str, value: object) -> int:
    """A quantity as the scheduler counts it: cpu in millicores, everything else in whole units
    (rounded up, as upstream's Value()/MilliValue())."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return 0
    return _amount(value, resource == CPU)


def resource_list(values: Mapping[str, Any] | None) -> dict[str, int]:
    if not values:
        return {}
    return {name: quantity_value(name, value) for name, value in values.items()}


def _add_into(total: dict[str, int], extra: Mapping[str, int]) -> None:
    for name, value in extra.items():
        total[name] = total.get(name, 0) + value


def _max_into(total: dict[str, int], other: Mapping[str, int]) -> None:
    for name, value in other.items():
        if value > total.get(name, 0):
            total[name] = value


def _container_requests(container: Mapping[str, Any], non_zero: bool) -> dict[str, int]:
    requests = resource_list((container.get("resources") or {}).get("requests"))
    if non_zero:
        requests.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
        requests.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
    return requests


def pod_requests(pod: Mapping[str, Any], non_zero: bool = False) -> dict[str, int]:
    """upstream resourcehelper.PodRequests: the sum of the containers, restartable init containers
    (sidecars) added to it, the largest regular init container (plus the sidecars started before it)
    as a floor, then the pod overhead. `non_zero` fills upstream's defaults for a container that
    requests no cpu or memory (the figure scoring uses)."""
    spec = pod.get("spec") or {}
    total: dict[str, int] = {}
    for container in spec.get("containers") or ():
        _add_into(total, _container_requests(container, non_zero))
    sidecars: dict[str, int] = {}
    init_floor: dict[str, int] = {}
    for container in spec.get("initContainers") or ():
        requests = _container_requests(container, non_zero)
        if container.get("restartPolicy") == "Always":
            _add_into(total, requests)
            _add_into(sidecars, requests)
            step = dict(sidecars)
        else:
            step = dict(requests)
            _add_into(step, sidecars)
        _max_into(init_floor, step)
    _max_into(total, init_floor)
    _add_into(total, resource_list(spec.get("overhead")))
    return total


def pod_host_ports(pod: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    """(hostIP, protocol, hostPort) of every container port that claims a host port."""
    ports = []
    for container in (pod.get("spec") or {}).get("containers") or ():
        for port in container.get("ports") or ():
            host_port = port.get("hostPort") or 0
            if host_port > 0:
                ports.append((port.get("hostIP") or "0.0.0.0", port.get("protocol") or "TCP", host_port))
    return ports


def pod_priority(pod: Mapping[str, Any]) -> int:
    priority = (pod.get("spec") or {}).get("priority")
    return priority if isinstance(priority, int) else 0


def pod_key(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def has_affinity(pod: Mapping[str, Any]) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    return bool(affinity.get("podAffinity") or affinity.get("podAntiAffinity"))


def has_required_anti_affinity(pod: Mapping[str, Any]) -> bool:
    anti = ((pod.get("spec") or {}).get("affinity") or {}).get("podAntiAffinity") or {}
    return bool(anti.get("requiredDuringSchedulingIgnoredDuringExecution"))


# ---------------------------------------------------------------------------------------- NodeInfo


class NodeInfo:
    """A node with the pods on it and what they take: requested (as declared), non-zero requested
    (with upstream's per-container defaults, for scoring), allocatable and used host ports. The
    node's fields the always-on filters read are prepared once per node object (`set_node`): its
    taints (and those that filter), cordon flag, and cpu / memory / pods allocatable as ints; cpu
    and memory requested are mirrored as ints too. A Snapshot that owns the NodeInfo (`watcher`)
    is told when pods with inter-pod affinity come or go."""

    __slots__ = (
        "node",
        "name",
        "labels",
        "pods",
        "requested",
        "non_zero_requested",
        "allocatable",
        "used_ports",
        "pods_with_affinity",
        "pods_with_required_anti_affinity",
        "generation",
        "taints",
        "filter_taints",
        "unschedulable",
        "alloc_cpu",
        "alloc_memory",
        "alloc_pods",
        "req_cpu",
        "req_memory",
        "non_zero_cpu",
        "non_zero_memory",
        "watcher",
        "score_memo",
        "free_cpu",
        "free_memory",
        "free_pods",
    )

    def __init__(self, node: Obj, pods: Iterable[Obj] = ()):
        self.set_node(node)
        self.pods: list[Obj] = []
        self.requested: dict[str, int] = {}
        self.non_zero_requested: dict[str, int] = {CPU: 0, MEMORY: 0}
        self.req_cpu = self.req_memory = self.non_zero_cpu = self.non_zero_memory = 0
        self._refresh_free()
        self.used_ports: dict[tuple[str, str, int], int] = {}
        self.pods_with_affinity: list[Obj] = []
        self.pods_with_required_anti_affinity: list[Obj] = []
        self.generation = 0
        self.watcher: Snapshot | None = None
        for pod in pods:
            self.add_pod(pod)

    def set_node(self, node: Obj) -> None:
        """(Re)read the node object, keeping the pods."""
        self.score_memo: dict[Hashable, int] = {}  # see MemoScorePlugin; replaced (never cleared) on change
        self.node = node
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        self.name: str = meta.get("name", "")
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.allocatable = resource_list((node.get("status") or {}).get("allocatable"))
        self.alloc_cpu = self.allocatable.get(CPU, 0)
        self.alloc_memory = self.allocatable.get(MEMORY, 0)
        self.alloc_pods = self.allocatable.get(PODS, 0)
        self.taints: list[Obj] = spec.get("taints") or []
        self.filter_taints: list[Obj] = [t for t in self.taints if t.get("effect") in _FILTERED_EFFECTS]
        self.unschedulable = bool(spec.get("unschedulable"))
        if hasattr(self, "pods"):
            self._refresh_free()

    def add_pod(self, pod: Obj) -> None:
        self.pods.append(pod)
        self._account(pod, 1)
        affinity = has_affinity(pod)
        if affinity:
            self.pods_with_affinity.append(pod)
        if has_required_anti_affinity(pod):
            self.pods_with_required_anti_affinity.append(pod)
        if affinity and self.watcher is not None:
            self.watcher.affinity_changed()

    def replace_pod(self, old: Obj, new: Obj) -> bool:
        """Put `new` where `old` (the same object) is, counting nothing again: only for a version
        of the pod whose spec and labels are unchanged. False when `old` is not here."""
        for index, present in enumerate(self.pods):
            if present is old:
                self.pods[index] = new
                for group in (self.pods_with_affinity, self.pods_with_required_anti_affinity):
                    for position, member in enumerate(group):
                        if member is old:
                            group[position] = new
                return True
        return False

    def remove_pod(self, pod: Obj) -> bool:
        key = pod_key(pod)
        for index, present in enumerate(self.pods):
            if present is pod or pod_key(present) == key:
                del self.pods[index]
                self._account(present, -1)
                if self.pods_with_affinity:
                    self.pods_with_affinity = [p for p in self.pods_with_affinity if pod_key(p) != key]
                    if self.watcher is not None:
                        self.watcher.affinity_changed()
                if self.pods_with_required_anti_affinity:
                    self.pods_with_required_anti_affinity = [
                        p for p in self.pods_with_required_anti_affinity if pod_key(p) != key
                    ]
                return True
        return False

    def _account(self, pod: Obj, sign: int) -> None:
        requested = self.requested
        for name, value in pod_requests(pod).items():
            requested[name] = requested.get(name, 0) + sign * value
        self.req_cpu = requested.get(CPU, 0)
        self.req_memory = requested.get(MEMORY, 0)
        non_zero = pod_requests(pod, non_zero=True)
        self.non_zero_cpu = self.non_zero_requested[CPU] = self.non_zero_requested[CPU] + sign * non_zero[CPU]
        self.non_zero_memory = self.non_zero_requested[MEMORY] = (
            self.non_zero_requested[MEMORY] + sign * non_zero[MEMORY]
        )
        if (pod.get("spec") or {}).get("containers"):
            for port in pod_host_ports(pod):
                count = self.used_ports.get(port, 0) + sign
                if count > 0:
                    self.used_ports[port] = count
                else:
                    self.used_ports.pop(port, None)
        self.generation += 1
        self.score_memo = {}
        self._refresh_free()

    def _refresh_free(self) -> None:
        """cpu, memory and pod slots left, as the fit filter's fast path reads them."""
        self.free_cpu = self.alloc_cpu - self.req_cpu
        self.free_memory = self.alloc_memory - self.req_memory
        self.free_pods = self.alloc_pods - len(self.pods)

    def clone(self) -> NodeInfo:
        copy = NodeInfo.__new__(NodeInfo)
        for slot in NodeInfo.__slots__:
            setattr(copy, slot, getattr(self, slot))
        copy.pods = list(self.pods)
        copy.requested = dict(self.requested)
        copy.non_zero_requested = dict(self.non_zero_requested)
        copy.used_ports = dict(self.used_ports)
        copy.pods_with_affinity = list(self.pods_with_affinity)
        copy.pods_with_required_anti_affinity = list(self.pods_with_required_anti_affinity)
        copy.watcher = None
        return copy

    def __repr__(self) -> str:
        return f"NodeInfo({self.name!r}, pods={len(self.pods)})"


# ---------------------------------------------------------------------------------------- Snapshot

_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
_FILTERED_EFFECTS = frozenset({"NoSchedule", "NoExecute"})


class Snapshot:
    """Every node's NodeInfo in a stable order. An owning snapshot (the default) watches its
    NodeInfos so it can keep the lists of nodes holding pods with affinity between cycles; a
    what-if copy (`with_node`) does not own them and computes those lists on demand. A NodeInfo is
    owned by at most one snapshot at a time."""

    __slots__ = ("node_infos", "by_name", "_owning", "_with_affinity", "_with_anti_affinity")

    def __init__(self, node_infos: Iterable[NodeInfo], *, owning: bool = True):
        self.node_infos: list[NodeInfo] = list(node_infos)
        self.by_name: dict[str, NodeInfo] = {info.name: info for info in self.node_infos}
        self._owning = owning
        self._with_affinity: list[NodeInfo] | None = None
        self._with_anti_affinity: list[NodeInfo] | None = None
        if owning:
            for info in self.node_infos:
                info.watcher = self

    @classmethod
    def from_objects(cls, nodes: Iterable[Obj], pods: Iterable[Obj]) -> Snapshot:
        """Nodes plus the pods bound to them (spec.nodeName set, not finished)."""
        infos = [NodeInfo(node) for node in nodes]
        by_name = {info.name: info for info in infos}
        for pod in pods:
            if (pod.get("status") or {}).get("phase") in _TERMINAL_PHASES:
                continue
            info = by_name.get((pod.get("spec") or {}).get("nodeName") or "")
            if info is not None:
                info.add_pod(pod)
        return cls(infos)

    def get(self, name: str) -> NodeInfo | None:
        return self.by_name.get(name)

    def assume(self, pod: Obj, node_name: str) -> None:
        """Count a pod on a node before its binding is seen (upstream's assume)."""
        self.by_name[node_name].add_pod(pod)

    def add_pod(self, info: NodeInfo, pod: Obj) -> None:
        info.add_pod(pod)

    def remove_pod(self, info: NodeInfo, pod: Obj) -> None:
        info.remove_pod(pod)

    def add_node_info(self, info: NodeInfo) -> None:
        self.node_infos.append(info)
        self.by_name[info.name] = info
        if self._owning:
            info.watcher = self
        self.affinity_changed()

    def remove_node_info(self, name: str) -> NodeInfo | None:
        info = self.by_name.pop(name, None)
        if info is not None:
            self.node_infos.remove(info)
            if info.watcher is self:
                info.watcher = None
            self.affinity_changed()
        return info

    def affinity_changed(self) -> None:
        self._with_affinity = self._with_anti_affinity = None

    def with_node(self, info: NodeInfo) -> Snapshot:
        """A copy in which one node's NodeInfo is replaced (preemption's what-if)."""
        return Snapshot(
            (info if present.name == info.name else present for present in self.node_infos), owning=False
        )

    def pods_with_affinity(self) -> list[NodeInfo]:
        found = self._with_affinity
        if found is None:
            found = [info for info in self.node_infos if info.pods_with_affinity]
            if self._owning:
                self._with_affinity = found
        return found

    def pods_with_required_anti_affinity(self) -> list[NodeInfo]:
        found = self._with_anti_affinity
        if found is None:
            found = [info for info in self.node_infos if info.pods_with_required_anti_affinity]
            if self._owning:
                self._with_anti_affinity = found
        return found

    def __len__(self) -> int:
        return len(self.node_infos)


# ---------------------------------------------------------------------------------- extension points


class Plugin(Protocol):
    name: str


class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(self, state: CycleState, pod: Obj, snapshot: Snapshot) -> Status:
        """Compute what Filter needs; SKIP means this plugin's Filter is not run for this pod."""
        ...


class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status: ...


class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status:
        """Compute what Score needs; SKIP means this plugin's Score is not run for this pod."""
        ...


class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int: ...

    def normalize_scores(self, state: CycleState, pod: Obj, scores: list[int]) -> None:
        """Rescale the scores (aligned with the scored nodes) to 0..MAX_NODE_SCORE, in place."""
        ...


class BatchFilterPlugin(FilterPlugin, Protocol):
    """Optional speed-up of a cheap, always-on Filter: the nodes (in order) whose `filter` would
    succeed. The cycle runs `filter` itself only on the nodes this drops, for their reasons."""

    def filter_batch(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> list[NodeInfo]: ...


class BatchScorePlugin(ScorePlugin, Protocol):
    """Optional speed-up of a Score: `score` of every node at once, aligned with `nodes`."""

    def score_batch(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> list[int]: ...


class MemoScorePlugin(ScorePlugin, Protocol):
    """Optional speed-up of a Score that depends only on the pod (through the returned key) and the
    scored node's own state: scores are remembered on the NodeInfo per key until the node or its
    pods change. `None` means do not remember for this pod."""

    def score_memo_key(self, state: CycleState, pod: Obj) -> Hashable | None: ...


def default_normalize_score(scores: list[int], reverse: bool) -> None:
    """upstream helper.DefaultNormalizeScore."""
    highest = max(scores, default=0)
    if highest == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    for index, score in enumerate(scores):
        scaled = MAX_NODE_SCORE * score // highest
        scores[index] = MAX_NODE_SCORE - scaled if reverse else scaled


# ------------------------------------------------------------------------------------ cycle outcome

NO_NODE_AVAILABLE = "0/{} nodes are available"


class FitError(Exception):
    """No node fits the pod. str() is upstream's FitError.Error(): the per-node reasons counted and
    sorted, then whatever PostFilter (preemption) said."""

    def __init__(
        self,
        pod: Obj,
        num_all_nodes: int,
        node_to_status: Mapping[str, Status],
        pre_filter_msg: str = "",
        post_filter_msg: str = "",
    ):
        super().__init__()
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.node_to_status = dict(node_to_status)
        self.pre_filter_msg = pre_filter_msg
        self.post_filter_msg = post_filter_msg
        self.post_filter_result: PostFilterResult | None = None

    def __str__(self) -> str:
        message = NO_NODE_AVAILABLE.format(self.num_all_nodes) + ":"
        if self.pre_filter_msg:
            message += f" {self.pre_filter_msg}."
        else:
            histogram: dict[str, int] = {}
            for status in self.node_to_status.values():
                for reason in status.reasons:
                    histogram[reason] = histogram.get(reason, 0) + 1
            if histogram:
                message += (
                    " " + ", ".join(sorted(f"{count} {reason}" for reason, count in histogram.items())) + "."
                )
        if self.post_filter_msg:
            message += f" {self.post_filter_msg}."
        return message


class PostFilterResult:
    """Where the pod may go once the victims are gone (upstream's nominated node)."""

    __slots__ = ("nominated_node_name", "victims")

    def __init__(self, nominated_node_name: str, victims: list[Obj]):
        self.nominated_node_name = nominated_node_name
        self.victims = victims

    def __repr__(self) -> str:
        return f"PostFilterResult({self.nominated_node_name!r}, victims={[pod_key(v) for v in self.victims]})"


class PodFitsOnNode(Protocol):
    """Runs PreFilter over `snapshot` and every Filter on `node` (a node of that snapshot)."""

    def __call__(self, pod: Obj, snapshot: Snapshot, node: NodeInfo) -> Status: ...


class PostFilterPlugin(Plugin, Protocol):
    def post_filter(
        self,
        state: CycleState,
        pod: Obj,
        snapshot: Snapshot,
        statuses: Mapping[str, Status],
        fits: PodFitsOnNode,
    ) -> tuple[PostFilterResult | None, Status]: ...
