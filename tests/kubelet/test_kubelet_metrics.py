"""The kubelet's /metrics/resource and /metrics documents."""

from __future__ import annotations

from kubelite.api import prometheus as prom
from kubelite.kubelet.metrics import kubelet_metrics, resource_metrics
from kubelite.runtime.base import ContainerStatus, ContainerUsage, PodStatus, ResourceUsage, SandboxStatus


def _usage() -> ResourceUsage:
    return ResourceUsage(
        1700000000.5,
        1234.5,
        2_000_000_000,
        (
            ContainerUsage("u1", "default", "web", "app", 1.5, 10_000_000, 1699999000.0),
            ContainerUsage("u1", "default", "web", "side", 0.5, 5_000_000, 1699999001.0),
            ContainerUsage("u2", "kube-system", "dns", "coredns", 3.0, 20_000_000, 1699999002.0),
        ),
    )


def test_resource_metrics_have_upstream_names_labels_and_timestamps() -> None:
    text = resource_metrics(_usage())
    assert "# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds\n" in text
    assert 'container_cpu_usage_seconds_total{container="app",namespace="default",pod="web"} 1.5 1700000000500\n' in text
    assert "node_memory_working_set_bytes 2e+09 1700000000500\n" in text
    samples = prom.parse(text)
    by_name: dict[str, list[prom.Sample]] = {}
    for s in samples:
        by_name.setdefault(s.name, []).append(s)
    assert list(by_name) == sorted(by_name)  # families in name order, as the Go registry gathers them
    pods = {(s.labels["namespace"], s.labels["pod"]): s.value for s in by_name["pod_cpu_usage_seconds_total"]}
    assert pods == {("default", "web"): 2.0, ("kube-system", "dns"): 3.0}
    memory = {s.labels["pod"]: s.value for s in by_name["pod_memory_working_set_bytes"]}
    assert memory == {"web": 15_000_000, "dns": 20_000_000}
    assert [s.value for s in by_name["resource_scrape_error"]] == [0]
    assert {s.labels["container"]: s.value for s in by_name["container_start_time_seconds"]}["app"] == 1699999000.0


def test_a_failed_reading_reports_a_scrape_error_only() -> None:
    assert [(s.name, s.value) for s in prom.parse(resource_metrics(None))] == [("resource_scrape_error", 1)]


def test_a_node_without_containers_has_node_metrics_only() -> None:
    names = {s.name for s in prom.parse(resource_metrics(ResourceUsage(1.0, 2.0, 3)))}
    assert names == {"node_cpu_usage_seconds_total", "node_memory_working_set_bytes", "resource_scrape_error"}


def test_kubelet_metrics_count_pods_and_containers() -> None:
    sandbox = SandboxStatus("u1", "10.42.0.5", 1.0)
    pods = [
        PodStatus("u1", "default", "web", sandbox, (
            ContainerStatus("app", "x://1", "img", "sha256:1", "running"),
            ContainerStatus("init", "x://2", "img", "sha256:1", "terminated", exit_code=0),
        )),
        PodStatus("u2", "default", "done", sandbox, (ContainerStatus("job", "x://3", "img", "sha256:1", "terminated", exit_code=0),)),
    ]
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in prom.parse(kubelet_metrics("node-a", pods))}
    assert values[("kubelet_node_name", (("node", "node-a"),))] == 1
    assert values[("kubelet_running_pods", ())] == 1
    assert values[("kubelet_running_containers", (("container_state", "running"),))] == 1
    assert values[("kubelet_running_containers", (("container_state", "exited"),))] == 2
    assert ("process_resident_memory_bytes", ()) in values


class _Source:
    async def list_pods(self) -> list[PodStatus]:
        return []

    async def resource_usage(self) -> ResourceUsage:
        return _usage()


async def test_the_kubelet_serves_both_documents_to_allowed_callers() -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from kubelite.kubelet.server import KubeletAuth, KubeletServer

    auth = KubeletAuth(verify_token=lambda token: ("kube-apiserver-kubelet-client", ()) if token == "ok" else ("someone", ()))
    server = KubeletServer(None, lambda key: None, auth=auth, metrics_source=_Source(), node_name="n1")  # type: ignore[arg-type]
    async with TestClient(TestServer(server.app())) as client:
        allowed = {"Authorization": "Bearer ok"}
        resource = await client.get("/metrics/resource", headers=allowed)
        assert resource.status == 200 and resource.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "node_cpu_usage_seconds_total 1234.5 1700000000500" in await resource.text()
        own = await client.get("/metrics", headers=allowed)
        assert 'kubelet_node_name{node="n1"} 1' in await own.text()
        denied = await client.get("/metrics", headers={"Authorization": "Bearer other"})
        assert denied.status == 403 and "subresource=metrics" in await denied.text()
        assert (await client.get("/metrics/resource")).status == 401
