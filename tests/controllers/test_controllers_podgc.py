"""PodGarbageCollector in fake time against a real in-process registry: pods bound to a node that
stays gone past the quarantine are marked Failed with DeletionByPodGC and force-deleted, pods on a
node that exists are kept, terminating pods on an out-of-service NotReady node are force-deleted,
and terminated pods beyond the threshold go oldest first."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.client.client import ResourceClient
from kubelite.client.clock import FakeClock
from kubelite.controllers.podgc import PodGarbageCollector, terminated_over_threshold
from tests.controllers.controllers_harness import ControllerCluster, eventually, stamp

Obj = dict[str, Any]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(wall_start=time.time())


@pytest.fixture
def nodes(cluster: ControllerCluster) -> ResourceClient:
    return cluster.client.resource("", "v1", "nodes")


def pod_on(node: str, name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}}


async def make_node(nodes: ResourceClient, name: str, *, ready: bool = True, taints: list[Obj] | None = None) -> None:
    await nodes.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {"taints": taints or []}})
    node = await nodes.get(name)
    node["status"] = {"conditions": [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": stamp()}]}
    await nodes.update_status(node)


async def gone(pods: ResourceClient, name: str) -> bool:
    try:
        await pods.get(name)
    except StatusError as err:
        return err.code == 404
    return False


async def run(cluster: ControllerCluster, clock: FakeClock, **options: Any) -> PodGarbageCollector:
    controller = PodGarbageCollector(cluster.client, clock=clock, **options)
    await cluster.run(controller)
    return controller


async def test_pods_of_a_deleted_node_go_after_the_quarantine(cluster: ControllerCluster, clock: FakeClock, nodes: ResourceClient) -> None:
    await make_node(nodes, "kept")
    await make_node(nodes, "lost")
    await cluster.pods.create(pod_on("kept", "stays"))
    await cluster.pods.create(pod_on("lost", "orphan"))
    controller = await run(cluster, clock)
    deleted_at = clock.time()
    await nodes.delete("lost")
    await eventually(lambda: _cache_lacks(controller, "lost"), what="node gone from the cache")
    clock.advance(21)  # a pass notes the node missing
    await _settle()
    clock.advance(15)  # still inside the 40 s quarantine
    await _settle()
    assert not await gone(cluster.pods, "orphan")

    async def orphan_deleted() -> bool:
        if await gone(cluster.pods, "orphan"):
            return True
        clock.advance(5)
        return False

    await eventually(orphan_deleted, what="orphan force-deleted")
    assert clock.time() - deleted_at >= 40
    assert not await gone(cluster.pods, "stays")


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.01)


async def _cache_lacks(controller: PodGarbageCollector, node: str) -> bool:
    return all(n["metadata"]["name"] != node for n in controller.nodes.cache.list())


async def test_orphans_are_marked_failed_with_the_podgc_condition(cluster: ControllerCluster, clock: FakeClock, nodes: ResourceClient) -> None:
    await make_node(nodes, "lost")
    pod = pod_on("lost", "orphan")
    pod["metadata"]["finalizers"] = ["example.com/hold"]  # keeps the object readable after the delete
    await cluster.pods.create(pod)
    await nodes.delete("lost")
    await run(cluster, clock, quarantine=0.0, period=1.0)

    async def marked() -> bool:
        found = await cluster.pods.get("orphan")
        return bool(found["metadata"].get("deletionTimestamp"))

    await eventually(marked, what="orphan deleted")
    found = await cluster.pods.get("orphan")
    assert found["status"]["phase"] == "Failed"
    condition = next(c for c in found["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (condition["status"], condition["reason"], condition["message"]) == ("True", "DeletionByPodGC", "PodGC: node no longer exists")
    assert found["metadata"]["deletionGracePeriodSeconds"] == 0
    await cluster.pods.patch("orphan", {"metadata": {"finalizers": None}})


async def test_terminating_pods_on_an_out_of_service_node_are_force_deleted(cluster: ControllerCluster, clock: FakeClock, nodes: ResourceClient) -> None:
    await make_node(nodes, "down", ready=False, taints=[{"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}])
    await make_node(nodes, "up")
    await cluster.pods.create(pod_on("down", "stuck"))
    await cluster.pods.create(pod_on("up", "graceful"))
    await cluster.pods.delete("stuck", grace_period_seconds=30)
    await cluster.pods.delete("graceful", grace_period_seconds=30)
    await run(cluster, clock, period=1.0)
    await eventually(lambda: gone(cluster.pods, "stuck"), what="stuck pod force-deleted")
    assert not await gone(cluster.pods, "graceful")  # its kubelet can still finish it


def test_terminated_pods_beyond_the_threshold_oldest_first() -> None:
    def pod(name: str, phase: str, created: str) -> Obj:
        return {"metadata": {"name": name, "namespace": "n", "creationTimestamp": created}, "status": {"phase": phase}}

    pods = [
        pod("new-done", "Succeeded", "2026-01-03T00:00:00Z"),
        pod("old-failed", "Failed", "2026-01-01T00:00:00Z"),
        pod("running", "Running", "2025-01-01T00:00:00Z"),
        pod("mid-done", "Succeeded", "2026-01-02T00:00:00Z"),
    ]
    assert [p["metadata"]["name"] for p in terminated_over_threshold(pods, 1)] == ["old-failed", "mid-done"]
    assert terminated_over_threshold(pods, 3) == []
    assert terminated_over_threshold(pods, 0) == []
