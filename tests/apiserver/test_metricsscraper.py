"""The resource metrics pipeline: decoding a kubelet's /metrics/resource, rates between two
points, metrics-server's storage rules, and scraping Ready nodes (a failing one is left out)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api import prometheus as prom
from kubelite.apiserver.metricsscraper import (
    MetricsScraper,
    MetricsStorage,
    NodeScrape,
    Point,
    decode,
    usage_between,
)
from kubelite.registry.context import RequestContext
from tests.registry.registry_harness import start_registry


def resource_text(stamp: float, node_cpu: float, containers: dict[tuple[str, str, str], tuple[float, int, float]]) -> str:
    ms = int(stamp * 1000)
    parts = [prom.sample("node_cpu_usage_seconds_total", (), node_cpu, ms), prom.sample("node_memory_working_set_bytes", (), 5e8, ms)]
    for (ns, pod, name), (cpu, memory, started) in containers.items():
        labels = (("container", name), ("namespace", ns), ("pod", pod))
        parts.append(prom.sample("container_cpu_usage_seconds_total", labels, cpu, ms))
        parts.append(prom.sample("container_memory_working_set_bytes", labels, memory, ms))
        parts.append(prom.sample("container_start_time_seconds", labels, started))
    return "".join(parts) + prom.sample("resource_scrape_error", (), 0)


def test_decode_needs_cpu_and_memory_per_container() -> None:
    text = resource_text(100.0, 50.0, {("ns", "p", "a"): (1.0, 2048, 90.0)})
    text += prom.sample("container_cpu_usage_seconds_total", (("container", "b"), ("namespace", "ns"), ("pod", "p")), 3.0, 100000)
    scrape = decode(text, 999.0)
    assert scrape.node == Point(100.0, 50.0, 500_000_000)
    assert scrape.pods == {("ns", "p"): {"a": Point(100.0, 1.0, 2048, 90.0)}}


def test_usage_between_two_points() -> None:
    usage = usage_between(Point(115.0, 3.0, 4096, 1.0), Point(100.0, 1.5, 1024, 1.0))
    assert usage is not None
    assert (usage.cpu_nanocores, usage.memory, usage.timestamp, usage.window) == (100_000_000, 4096, 115.0, 15.0)
    assert usage_between(Point(100.0, 3.0, 1), Point(100.0, 1.0, 1)) is None  # no time between
    assert usage_between(Point(115.0, 1.0, 1), Point(100.0, 2.0, 1)) is None  # counter went down


def scrape(stamp: float, containers: dict[tuple[str, str, str], tuple[float, int, float]], node_cpu: float = 0.0) -> NodeScrape:
    return decode(resource_text(stamp, node_cpu or stamp, containers), stamp)


def test_storage_needs_two_points_and_forgets_missing_pods() -> None:
    storage = MetricsStorage(resolution=15.0)
    storage.store("n1", scrape(100.0, {("ns", "p", "a"): (1.0, 10, 1.0), ("ns", "q", "a"): (1.0, 10, 1.0)}))
    assert storage.pod_usage("ns", "p") is None and storage.node_usage("n1") is None
    storage.store("n1", scrape(115.0, {("ns", "p", "a"): (2.5, 20, 1.0), ("ns", "q", "a"): (1.0, 10, 1.0)}, node_cpu=130.0))
    found = storage.pod_usage("ns", "p")
    assert found is not None
    stamp, window, containers = found
    assert (stamp, window) == (115.0, 15.0)
    assert [(name, u.cpu_nanocores, u.memory) for name, u in containers] == [("a", 100_000_000, 20)]
    node = storage.node_usage("n1")
    assert node is not None and node.cpu_nanocores == 2_000_000_000  # (130 - 100) / 15 cores
    storage.store("n1", scrape(130.0, {("ns", "p", "a"): (4.0, 20, 1.0)}))
    assert storage.pod_usage("ns", "q") is None  # gone from the scrape, gone from the API
    storage.drop("n1")
    assert storage.pod_usage("ns", "p") is None and storage.node_usage("n1") is None


def test_a_restarted_container_starts_over() -> None:
    storage = MetricsStorage(resolution=15.0)
    storage.store("n1", scrape(100.0, {("ns", "p", "a"): (50.0, 10, 1.0)}))
    storage.store("n1", scrape(115.0, {("ns", "p", "a"): (0.5, 10, 110.0)}))  # started after the stored point
    assert storage.pod_usage("ns", "p") is None
    storage.store("n1", scrape(130.0, {("ns", "p", "a"): (2.0, 10, 110.0)}))
    found = storage.pod_usage("ns", "p")
    assert found is not None and found[2][0][1].cpu_nanocores == 100_000_000


def test_a_pod_needs_every_container() -> None:
    storage = MetricsStorage(resolution=15.0)
    storage.store("n1", scrape(100.0, {("ns", "p", "a"): (1.0, 10, 1.0)}))
    storage.store("n1", scrape(115.0, {("ns", "p", "a"): (2.0, 10, 1.0), ("ns", "p", "b"): (1.0, 10, 1.0)}))
    assert storage.pod_usage("ns", "p") is None


def test_a_fresh_container_counts_from_its_start() -> None:
    storage = MetricsStorage(resolution=60.0)
    storage.store("n1", scrape(100.0, {("ns", "p", "a"): (6.0, 10, 88.0)}))  # 12 s old, one point only
    found = storage.pod_usage("ns", "p")
    assert found is not None and found[1] == 12.0 and found[2][0][1].cpu_nanocores == 500_000_000


def ready_node(name: str, port: int = 0, ready: bool = True) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        },
    }


async def test_scraping_asks_ready_nodes_and_leaves_out_failing_ones() -> None:
    registry = await start_registry()
    try:
        nodes = registry.store("", "v1", "nodes")
        assert nodes is not None
        for node in (ready_node("a"), ready_node("b"), ready_node("down", ready=False)):
            created = await nodes.create("", {k: v for k, v in node.items() if k != "status"}, RequestContext(field_manager="t"))
            created["status"] = node["status"]
            await nodes.update("", node["metadata"]["name"], created, RequestContext(field_manager="t"), subresource="status")
        asked: list[str] = []
        clock = {"now": 100.0}

        async def local(name: str) -> str | None:
            asked.append(name)
            if name == "b" and clock["now"] > 100.0:
                raise OSError("kubelet gone")
            return resource_text(clock["now"], clock["now"] * 2, {("ns", f"pod-{name}", "c"): (clock["now"] / 10, 100, 1.0)})

        scraper = MetricsScraper(registry, None, resolution=1.0, local=local)
        await scraper.scrape_once()
        clock["now"] = 101.0
        await scraper.scrape_once()
        assert sorted(asked) == ["a", "a", "b", "b"]  # never the NotReady node
        usage = scraper.storage.node_usage("a")
        assert usage is not None and usage.cpu_nanocores == 2_000_000_000
        assert scraper.storage.pod_usage("ns", "pod-a") is not None
        assert scraper.storage.node_usage("b") is None and scraper.storage.pod_usage("ns", "pod-b") is None
    finally:
        await registry.stop()


@pytest.mark.parametrize("resolution", [0.5, 15.0, 60.0])
def test_scrape_timeout_stays_within_bounds(resolution: float) -> None:
    scraper = MetricsScraper(None, None, resolution=resolution)  # type: ignore[arg-type]
    assert 1.0 <= scraper.timeout <= 10.0
