"""NodeLifecycleController in fake time against a real in-process registry: a node whose Lease
stops being renewed goes Unknown after the grace period (conditions, NoSchedule and NoExecute
unreachable taints, Ready=False on its pods, the NodeNotReady event), a node that never posted
status gets the startup grace from its creation, taints follow Ready=False and spec.unschedulable
and go away with recovery, and a cluster whose every node is down is not NoExecute-tainted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.client.client import ResourceClient
from kubelite.client.clock import FakeClock
from kubelite.client.leaderelection import micro_time
from kubelite.controllers.nodelifecycle import (
    DEFAULT_GRACE_PERIOD,
    GRACE_PERIOD_ENV,
    NodeLifecycleController,
    NodeLifecycleOptions,
    grace_period_from_environment,
    parse_duration,
    zone_state,
)
from tests.controllers.controllers_harness import ControllerCluster, eventually, stamp

Obj = dict[str, Any]
CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")
LEASES = "kube-node-lease"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(wall_start=time.time())


@pytest.fixture
async def nodes(cluster: ControllerCluster) -> AsyncIterator[ResourceClient]:
    await cluster.client.resource("", "v1", "namespaces").create({"metadata": {"name": LEASES}})
    yield cluster.client.resource("", "v1", "nodes")


def leases(cluster: ControllerCluster) -> ResourceClient:
    return cluster.client.resource("coordination.k8s.io", "v1", "leases").namespace(LEASES)


def node_object(name: str, clock: FakeClock, ready: str | None = "True", **spec: Any) -> Obj:
    obj: Obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": dict(spec)}
    if ready is not None:
        now = stamp(clock.time())
        obj["status"] = {
            "conditions": [
                {
                    "type": kind,
                    "status": ready if kind == "Ready" else "False",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                    "reason": "KubeletReady" if kind == "Ready" else "KubeletHasNoPressure",
                    "message": "kubelet is posting ready status",
                }
                for kind in CONDITIONS
            ]
        }
    return obj


async def add_node(cluster: ControllerCluster, nodes: ResourceClient, name: str, clock: FakeClock, **kw: Any) -> Obj:
    created = await nodes.create(node_object(name, clock, **kw))
    await leases(cluster).create(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": name},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": micro_time(clock.time())},
        }
    )
    return created


async def renew(cluster: ControllerCluster, name: str, clock: FakeClock) -> None:
    lease = await leases(cluster).get(name)
    lease["spec"]["renewTime"] = micro_time(clock.time())
    await leases(cluster).update(lease)


async def run(cluster: ControllerCluster, clock: FakeClock, **options: Any) -> NodeLifecycleController:
    opts = NodeLifecycleOptions(**{"node_monitor_grace_period": 40.0, **options})
    controller = NodeLifecycleController(cluster.client, options=opts, clock=clock)
    await cluster.run(controller)
    return controller


def condition(obj: Obj, kind: str) -> Obj:
    return next(c for c in (obj.get("status") or {}).get("conditions") or () if c.get("type") == kind)


def taint_pairs(node: Obj) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in (node.get("spec") or {}).get("taints") or ()}


UNREACHABLE = {("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")}
NOT_READY = {("node.kubernetes.io/not-ready", "NoSchedule"), ("node.kubernetes.io/not-ready", "NoExecute")}


async def settle(controller: NodeLifecycleController, names: list[str]) -> None:
    """Wait until the controller has seen every node once (its first sync remembers them)."""

    async def seen() -> bool:
        return all(name in controller.health for name in names)

    await eventually(seen, what="nodes observed")


async def test_a_node_whose_lease_stops_goes_unknown_tainted_and_its_pods_unready(
    cluster: ControllerCluster, nodes: ResourceClient, clock: FakeClock
) -> None:
    await add_node(cluster, nodes, "alive", clock)
    await add_node(cluster, nodes, "dead", clock)
    pod = await cluster.pods.create(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "victim"}, "spec": {"nodeName": "dead", "containers": [{"name": "c", "image": "i"}]}}
    )
    await cluster.make_ready(pod)
    controller = await run(cluster, clock)
    await settle(controller, ["alive", "dead"])

    clock.advance(30)
    await renew(cluster, "alive", clock)
    clock.advance(5)  # alive's next check sees the renewal
    for _ in range(2):
        clock.advance(5)
        await renew(cluster, "alive", clock)

    async def dead_is_unknown() -> bool:
        return condition(await nodes.get("dead"), "Ready")["status"] == "Unknown"

    await eventually(dead_is_unknown, what="dead node Unknown")
    dead = await nodes.get("dead")
    for kind in CONDITIONS:
        cond = condition(dead, kind)
        assert (cond["status"], cond["reason"], cond["message"]) == (
            "Unknown",
            "NodeStatusUnknown",
            "Kubelet stopped posting node status.",
        )

    async def dead_is_tainted() -> bool:
        return taint_pairs(await nodes.get("dead")) == UNREACHABLE

    await eventually(dead_is_tainted, what="unreachable taints")
    assert all(t.get("timeAdded") for t in (await nodes.get("dead"))["spec"]["taints"])
    alive = await nodes.get("alive")
    assert condition(alive, "Ready")["status"] == "True" and not taint_pairs(alive)

    async def pod_unready() -> bool:
        return condition(await cluster.pods.get("victim"), "Ready")["status"] == "False"

    await eventually(pod_unready, what="the pod marked not ready")
    await controller.recorder.flush()
    events = (await cluster.client.resource("", "v1", "events").namespace("default").list())["items"]
    messages = {(e["reason"], e["message"]) for e in events if e["involvedObject"]["name"] == "dead"}
    assert ("NodeNotReady", "Node dead status is now: NodeNotReady") in messages
    assert ("RegisteredNode", "Node dead event: Registered Node dead in Controller") in messages
    pod_events = (await cluster.events.list())["items"]
    assert any(e["reason"] == "NodeNotReady" and e["message"] == "Node is not ready" for e in pod_events)

    # the kubelet comes back: Ready again, taints gone
    revived = await nodes.get("dead")
    revived["status"] = node_object("dead", clock)["status"]
    await nodes.update_status(revived)
    await renew(cluster, "dead", clock)

    async def untainted() -> bool:
        return not taint_pairs(await nodes.get("dead"))

    await eventually(untainted, what="taints removed on recovery")


async def test_a_node_that_never_posted_status_gets_the_startup_grace(
    cluster: ControllerCluster, nodes: ResourceClient, clock: FakeClock
) -> None:
    await add_node(cluster, nodes, "alive", clock)
    await nodes.create(node_object("mute", clock, ready=None))
    controller = await run(cluster, clock)
    await settle(controller, ["alive", "mute"])
    for _ in range(10):  # 50 s: past the monitor grace (40 s), not the startup grace (60 s)
        clock.advance(5)
        await renew(cluster, "alive", clock)
    await controller.recorder.flush()
    assert not (await nodes.get("mute")).get("status", {}).get("conditions")
    for _ in range(3):
        clock.advance(5)
        await renew(cluster, "alive", clock)

    async def marked() -> bool:
        return bool((await nodes.get("mute")).get("status", {}).get("conditions"))

    await eventually(marked, what="never-updated conditions")
    mute = await nodes.get("mute")
    assert [c["type"] for c in mute["status"]["conditions"]] == ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]
    for cond in mute["status"]["conditions"]:
        assert (cond["status"], cond["reason"], cond["message"]) == (
            "Unknown",
            "NodeStatusNeverUpdated",
            "Kubelet never posted node status.",
        )


async def test_ready_false_and_cordon_taint_the_node(cluster: ControllerCluster, nodes: ResourceClient, clock: FakeClock) -> None:
    await add_node(cluster, nodes, "alive", clock)
    await add_node(cluster, nodes, "sick", clock, ready="False")
    await run(cluster, clock)

    async def sick_tainted() -> bool:
        return taint_pairs(await nodes.get("sick")) == NOT_READY

    await eventually(sick_tainted, what="not-ready taints")
    version = (await nodes.get("sick"))["metadata"]["resourceVersion"]
    await asyncio.sleep(0.3)
    assert (await nodes.get("sick"))["metadata"]["resourceVersion"] == version, "taints in place are not written again"
    await nodes.patch("alive", {"spec": {"unschedulable": True}})

    async def cordoned() -> bool:
        return taint_pairs(await nodes.get("alive")) == {("node.kubernetes.io/unschedulable", "NoSchedule")}

    await eventually(cordoned, what="unschedulable taint")
    await nodes.patch("alive", {"spec": {"unschedulable": None}})

    async def uncordoned() -> bool:
        return not taint_pairs(await nodes.get("alive"))

    await eventually(uncordoned, what="unschedulable taint removed")


async def test_other_taints_are_left_alone(cluster: ControllerCluster, nodes: ResourceClient, clock: FakeClock) -> None:
    mine = {"key": "example.com/special", "value": "yes", "effect": "NoSchedule"}
    await add_node(cluster, nodes, "alive", clock, taints=[mine])
    await add_node(cluster, nodes, "sick", clock, ready="False", taints=[mine])
    await run(cluster, clock)

    async def sick_tainted() -> bool:
        return taint_pairs(await nodes.get("sick")) == NOT_READY | {("example.com/special", "NoSchedule")}

    await eventually(sick_tainted, what="not-ready taints beside the user's")
    assert (await nodes.get("alive"))["spec"]["taints"] == [mine]


async def test_when_every_node_is_down_nothing_is_evicted(
    cluster: ControllerCluster, nodes: ResourceClient, clock: FakeClock
) -> None:
    await add_node(cluster, nodes, "only", clock)
    controller = await run(cluster, clock)
    await settle(controller, ["only"])
    clock.advance(45)

    async def unknown_and_unschedulable() -> bool:
        node = await nodes.get("only")
        return condition(node, "Ready")["status"] == "Unknown" and bool(taint_pairs(node))

    await eventually(unknown_and_unschedulable, what="the node Unknown")
    clock.advance(5)
    await controller.recorder.flush()
    assert taint_pairs(await nodes.get("only")) == {("node.kubernetes.io/unreachable", "NoSchedule")}


async def test_a_deleted_node_is_forgotten(cluster: ControllerCluster, nodes: ResourceClient, clock: FakeClock) -> None:
    await add_node(cluster, nodes, "gone", clock)
    controller = await run(cluster, clock)
    await settle(controller, ["gone"])
    await nodes.delete("gone")

    async def forgotten() -> bool:
        return "gone" not in controller.health

    await eventually(forgotten, what="the node forgotten")
    await controller.recorder.flush()
    events = (await cluster.client.resource("", "v1", "events").namespace("default").list())["items"]
    assert any(e["reason"] == "RemovingNode" and e["message"] == "Node gone event: Removing Node gone from Controller" for e in events)
    with pytest.raises(StatusError):
        await nodes.get("gone")


def test_durations_and_the_grace_period_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_duration("40") == 40.0
    assert parse_duration("2.5s") == 2.5
    assert parse_duration("1m") == 60.0
    assert parse_duration("500ms") == 0.5
    with pytest.raises(ValueError):
        parse_duration("soon")
    monkeypatch.delenv(GRACE_PERIOD_ENV, raising=False)
    assert grace_period_from_environment() == DEFAULT_GRACE_PERIOD == 50.0
    monkeypatch.setenv(GRACE_PERIOD_ENV, "7s")
    assert NodeLifecycleOptions().node_monitor_grace_period == 7.0
    monkeypatch.setenv(GRACE_PERIOD_ENV, "bogus")
    assert grace_period_from_environment() == DEFAULT_GRACE_PERIOD


def test_zone_states_as_upstream() -> None:
    assert zone_state(ready=0, not_ready=1, threshold=0.55) == "FullDisruption"
    assert zone_state(ready=1, not_ready=2, threshold=0.55) == "Normal"  # two down is never partial
    assert zone_state(ready=2, not_ready=3, threshold=0.55) == "PartialDisruption"
    assert zone_state(ready=10, not_ready=3, threshold=0.55) == "Normal"
