"""metrics.k8s.io/v1beta1 served from the scraper's storage: over HTTP (discovery, get, list with
selectors, NotFound and 405 as metrics-server) and through the in-process transport the HPA uses;
the API server's /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kubelite.api import prometheus as prom
from kubelite.api.labels import parse_label_selector as parse_selector
from kubelite.apiserver import metricsapi
from kubelite.apiserver.app import APIServer, ServerInfo
from kubelite.apiserver.auth import Authenticator
from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.apiserver.metricsscraper import MetricsStorage, NodeScrape, Point
from kubelite.client.client import Client
from kubelite.controllers.metricsclient import ResourceMetricsClient
from kubelite.registry.context import RequestContext, UserInfo
from kubelite.registry.registry import Registry
from tests.registry.registry_harness import start_registry

TOKEN = "metrics-test-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
Obj = dict[str, Any]


async def _pod(registry: Registry, name: str, labels: dict[str, str], phase: str = "Running") -> None:
    pods = registry.store("", "v1", "pods")
    assert pods is not None
    ctx = RequestContext(field_manager="t")
    body = {"metadata": {"name": name, "labels": labels}, "spec": {"containers": [{"name": "b", "image": "x"}, {"name": "a", "image": "x"}]}}
    created = await pods.create("default", body, ctx)
    created["status"] = {"phase": phase}
    await pods.update("default", name, created, ctx, subresource="status")


def _storage() -> MetricsStorage:
    storage = MetricsStorage(resolution=15.0)
    for stamp, cpu in ((1700000000.0, 0.0), (1700000015.0, 1.5)):
        pods = {
            ("default", name): {"a": Point(stamp, cpu, 10 * 2**20, 1.0), "b": Point(stamp, cpu * 2, 2**20, 1.0)}
            for name in ("web-1", "web-2", "pending", "gone-from-node")
        }
        storage.store("node-a", NodeScrape(Point(stamp, cpu * 10, 3 * 2**30), pods))
    return storage


@pytest.fixture
async def served() -> AsyncIterator[tuple[Registry, TestClient[Any, Any]]]:
    registry = await start_registry()
    nodes = registry.store("", "v1", "nodes")
    assert nodes is not None
    await nodes.create("", {"metadata": {"name": "node-a", "labels": {"zone": "z1"}}}, RequestContext(field_manager="t"))
    await nodes.create("", {"metadata": {"name": "node-b"}}, RequestContext(field_manager="t"))
    await _pod(registry, "web-1", {"app": "web"})
    await _pod(registry, "web-2", {"app": "web", "tier": "x"})
    await _pod(registry, "pending", {"app": "web"}, phase="Pending")
    await _pod(registry, "nometrics", {"app": "other"})
    metricsapi.install(registry, _storage())
    api = APIServer(registry, Authenticator({TOKEN: UserInfo("admin", ("system:masters",))}, []), ServerInfo("127.0.0.1:6443"))
    client = TestClient(TestServer(api.app()))
    await client.start_server()
    try:
        yield registry, client
    finally:
        await client.close()
        await registry.stop()


async def _get(client: TestClient[Any, Any], path: str, status: int = 200, **headers: str) -> Any:
    response = await client.get(path, headers={**HEADERS, **headers})
    assert response.status == status, await response.text()
    return await response.json(content_type=None) if status != 200 or "json" in response.content_type else await response.text()


async def test_discovery_lists_the_metrics_group(served: tuple[Registry, TestClient[Any, Any]]) -> None:
    _, client = served
    groups = await _get(client, "/apis")
    assert {"name": "metrics.k8s.io", "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}],
            "preferredVersion": {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}} in groups["groups"]
    resources = await _get(client, "/apis/metrics.k8s.io/v1beta1")
    assert [(r["name"], r["kind"], r["namespaced"], r["verbs"]) for r in resources["resources"]] == [
        ("nodes", "NodeMetrics", False, ["get", "list"]),
        ("pods", "PodMetrics", True, ["get", "list"]),
    ]
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    aggregated = await _get(client, "/apis", Accept=accept)
    entry = next(item for item in aggregated["items"] if item["metadata"]["name"] == "metrics.k8s.io")
    assert [r["resource"] for r in entry["versions"][0]["resources"]] == ["nodes", "pods"]


async def test_node_metrics(served: tuple[Registry, TestClient[Any, Any]]) -> None:
    _, client = served
    listed = await _get(client, "/apis/metrics.k8s.io/v1beta1/nodes")
    assert listed["kind"] == "NodeMetricsList" and [i["metadata"]["name"] for i in listed["items"]] == ["node-a"]
    node = await _get(client, "/apis/metrics.k8s.io/v1beta1/nodes/node-a")
    assert node["usage"] == {"cpu": "1", "memory": "3Gi"} and node["window"] == "15s"
    assert node["timestamp"] == "2023-11-14T22:13:35Z" and node["metadata"]["labels"] == {"zone": "z1"}
    missing = await _get(client, "/apis/metrics.k8s.io/v1beta1/nodes/node-b", 404)
    assert missing["message"] == 'nodemetrics.metrics.k8s.io "node-b" not found'
    unknown = await _get(client, "/apis/metrics.k8s.io/v1beta1/nodes/nope", 404)
    assert unknown["message"] == 'node "nope" not found'
    by_label = await _get(client, "/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=zone%3Dz2")
    assert by_label["items"] == []


async def test_pod_metrics(served: tuple[Registry, TestClient[Any, Any]]) -> None:
    _, client = served
    listed = await _get(client, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods")
    assert listed["kind"] == "PodMetricsList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["web-1", "web-2"]  # Running, with metrics
    pod = listed["items"][0]
    assert pod["containers"] == [
        {"name": "b", "usage": {"cpu": "200m", "memory": "1Mi"}},  # in the pod's spec order
        {"name": "a", "usage": {"cpu": "100m", "memory": "10Mi"}},
    ]
    assert pod["window"] == "15s" and pod["metadata"]["labels"] == {"app": "web"}
    selected = await _get(client, "/apis/metrics.k8s.io/v1beta1/pods?labelSelector=tier%3Dx")
    assert [i["metadata"]["name"] for i in selected["items"]] == ["web-2"]
    by_field = await _get(client, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-1")
    assert [i["metadata"]["name"] for i in by_field["items"]] == ["web-1"]
    no_metrics = await _get(client, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nometrics", 404)
    assert no_metrics["message"] == 'podmetrics.metrics.k8s.io "default/nometrics" not found'
    assert no_metrics["details"] == {"name": "default/nometrics", "group": "metrics.k8s.io", "kind": "podmetrics"}
    missing = await _get(client, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/x", 404)
    assert missing["message"] == 'pod "x" not found'


async def test_watch_and_writes_are_not_allowed(served: tuple[Registry, TestClient[Any, Any]]) -> None:
    _, client = served
    watch = await _get(client, "/apis/metrics.k8s.io/v1beta1/pods?watch=true", 405)
    assert watch["reason"] == "MethodNotAllowed"
    assert watch["message"] == 'watch is not supported on resources of kind "pods.metrics.k8s.io"'
    response = await client.post("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", json={"metadata": {"name": "x"}}, headers=HEADERS)
    assert response.status == 405


async def test_the_hpa_source_reads_it_in_process(served: tuple[Registry, TestClient[Any, Any]]) -> None:
    registry, _ = served
    source = ResourceMetricsClient(Client(InProcessTransport(registry)))
    found, stamp = await source.resource_metric("cpu", "default", parse_selector("app=web"))
    assert {name: metric.value for name, metric in found.items()} == {"web-1": 300, "web-2": 300}
    assert stamp == 1700000015.0 and found["web-1"].window == 15.0
    memory, _ = await source.resource_metric("memory", "default", parse_selector("app=web"), container="a")
    assert memory["web-2"].value == 10 * 2**20 * 1000


async def test_apiserver_metrics_count_requests(served: tuple[Registry, TestClient[Any, Any]]) -> None:
    _, client = served
    await _get(client, "/api/v1/namespaces/default/pods")
    await _get(client, "/api/v1/namespaces/default/pods/nope", 404)
    unauthenticated = await client.get("/metrics")
    assert unauthenticated.status == 401
    text = await _get(client, "/metrics")
    samples = prom.parse(text)
    counts = {
        (s.labels["verb"], s.labels["resource"], s.labels["scope"], s.labels["code"]): s.value
        for s in samples if s.name == "apiserver_request_total"
    }
    assert counts[("LIST", "pods", "namespace", "200")] == 1
    assert counts[("GET", "pods", "resource", "404")] == 1
    buckets = [s for s in samples if s.name == "apiserver_request_duration_seconds_count" and s.labels["verb"] == "LIST" and s.labels["resource"] == "pods"]
    assert [s.value for s in buckets] == [1]
    assert any(s.name == "process_resident_memory_bytes" for s in samples)
