"""TaintEvictionController in fake time against a real in-process registry: a NoExecute taint a
pod does not tolerate deletes it at once (DisruptionTarget condition and TaintManagerEviction
event first), a toleration with tolerationSeconds delays the deletion to that long after the
taint's timeAdded, removing the taint earlier cancels it (with its event), and tolerating forever
keeps the pod."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kubelite.client.client import ResourceClient
from kubelite.client.clock import FakeClock
from kubelite.controllers.tainteviction import TaintEvictionController, eviction_deadline
from tests.controllers.controllers_harness import ControllerCluster, eventually, stamp

Obj = dict[str, Any]
BROKEN = {"key": "example.com/broken", "effect": "NoExecute"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(wall_start=time.time())


@pytest.fixture
def nodes(cluster: ControllerCluster) -> ResourceClient:
    return cluster.client.resource("", "v1", "nodes")


def pod_on(node: str, name: str, *tolerations: Obj) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}], "tolerations": list(tolerations)},
    }


def tolerate(seconds: int | None = None, **taint: str) -> Obj:
    toleration: Obj = {"key": BROKEN["key"], "operator": "Exists", "effect": "NoExecute", **taint}
    if seconds is not None:
        toleration["tolerationSeconds"] = seconds
    return toleration


async def taint(nodes: ResourceClient, name: str, *taints: Obj) -> None:
    await nodes.patch(name, {"spec": {"taints": list(taints) or None}})


async def going(cluster: ControllerCluster, name: str) -> bool:
    return bool((await cluster.pods.get(name))["metadata"].get("deletionTimestamp"))


async def run(cluster: ControllerCluster, clock: FakeClock) -> TaintEvictionController:
    controller = TaintEvictionController(cluster.client, clock=clock)
    await cluster.run(controller)
    return controller


async def test_untolerated_taints_evict_at_once_and_tolerated_ones_after_their_seconds(
    cluster: ControllerCluster, nodes: ResourceClient, clock: FakeClock
) -> None:
    await nodes.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    await cluster.pods.create(pod_on("n1", "plain"))
    await cluster.pods.create(pod_on("n1", "patient", tolerate(10)))
    await cluster.pods.create(pod_on("n1", "stubborn", tolerate()))
    await cluster.pods.create(pod_on("n2", "elsewhere"))
    controller = await run(cluster, clock)
    await taint(nodes, "n1", {**BROKEN, "timeAdded": stamp(clock.time())})

    async def plain_going() -> bool:
        return await going(cluster, "plain")

    await eventually(plain_going, what="the intolerant pod deleted")
    plain = await cluster.pods.get("plain")
    target = next(c for c in plain["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["status"], target["reason"], target["message"]) == (
        "True",
        "DeletionByTaintManager",
        "Taint manager: deleting due to NoExecute taint",
    )

    async def patient_scheduled() -> bool:
        return "ctl/patient" in controller.scheduled

    await eventually(patient_scheduled, what="the tolerating pod scheduled for deletion")
    clock.advance(9)
    await controller.recorder.flush()
    assert not await going(cluster, "patient")
    clock.advance(2)

    async def patient_going() -> bool:
        return await going(cluster, "patient")

    await eventually(patient_going, what="the tolerating pod deleted after its seconds")
    clock.advance(600)
    await controller.recorder.flush()
    assert not await going(cluster, "stubborn")
    assert not await going(cluster, "elsewhere")
    events = (await cluster.events.list())["items"]
    marked = {e["involvedObject"]["name"] for e in events if e["message"] == f"Marking for deletion Pod ctl/{e['involvedObject']['name']}"}
    assert marked == {"plain", "patient"}
    assert all(e["reason"] == "TaintManagerEviction" and e["source"]["component"] == "taint-eviction-controller" for e in events)


async def test_removing_the_taint_cancels_the_deletion(cluster: ControllerCluster, nodes: ResourceClient, clock: FakeClock) -> None:
    await nodes.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    await cluster.pods.create(pod_on("n1", "patient", tolerate(10)))
    controller = await run(cluster, clock)
    await taint(nodes, "n1", {**BROKEN, "timeAdded": stamp(clock.time())})

    async def scheduled() -> bool:
        return "ctl/patient" in controller.scheduled

    await eventually(scheduled, what="deletion scheduled")
    clock.advance(5)
    await taint(nodes, "n1")

    async def cancelled() -> bool:
        return "ctl/patient" not in controller.scheduled

    await eventually(cancelled, what="deletion cancelled")
    clock.advance(20)
    await controller.recorder.flush()
    assert not await going(cluster, "patient")
    messages = [e["message"] for e in (await cluster.events.list())["items"]]
    assert messages == ["Cancelling deletion of Pod ctl/patient"]


async def test_the_seconds_count_from_the_taints_time_added(
    cluster: ControllerCluster, nodes: ResourceClient, clock: FakeClock
) -> None:
    await nodes.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    await cluster.pods.create(pod_on("n1", "patient", tolerate(10)))
    controller = await run(cluster, clock)
    clock.advance(8)
    await taint(nodes, "n1", {**BROKEN, "timeAdded": stamp(clock.time() - 8)})

    async def scheduled() -> bool:
        return "ctl/patient" in controller.scheduled

    await eventually(scheduled, what="deletion scheduled")
    clock.advance(3)

    async def patient_going() -> bool:
        return await going(cluster, "patient")

    await eventually(patient_going, what="deleted 10 s after the taint was added")


async def test_node_lifecycle_taints_meet_the_default_tolerations(
    cluster: ControllerCluster, nodes: ResourceClient, clock: FakeClock
) -> None:
    """Pods get 300 s for not-ready/unreachable by admission; a shorter toleration wins."""
    await nodes.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    await cluster.pods.create(pod_on("n1", "default"))
    quick = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}
    await cluster.pods.create(pod_on("n1", "quick", quick))
    await run(cluster, clock)
    unreachable = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": stamp(clock.time())}
    await taint(nodes, "n1", unreachable)
    clock.advance(3)

    async def quick_going() -> bool:
        return await going(cluster, "quick")

    await eventually(quick_going, what="the pod tolerating 2 s deleted")
    assert not await going(cluster, "default")
    clock.advance(300)

    async def default_going() -> bool:
        return await going(cluster, "default")

    await eventually(default_going, what="the pod with the default 300 s deleted")


def test_deadlines() -> None:
    pod = pod_on("n1", "p", tolerate(10), {"key": "other", "operator": "Exists", "effect": "NoExecute"})
    pod["metadata"]["creationTimestamp"] = stamp(1000)
    added = stamp(2000)
    assert eviction_deadline(pod, [{**BROKEN, "timeAdded": added}], 0) == 2010
    assert eviction_deadline(pod, [{"key": "other", "effect": "NoExecute"}], 0) is None
    assert eviction_deadline(pod, [{"key": "third", "effect": "NoExecute"}], 0) == float("-inf")
    late = dict(pod, metadata={"name": "p", "creationTimestamp": stamp(3000)})
    assert eviction_deadline(late, [{**BROKEN, "timeAdded": added}], 0) == 3010  # bound after the taint
    assert eviction_deadline(pod, [BROKEN], 5000) == 5010  # no timeAdded: from when first seen
