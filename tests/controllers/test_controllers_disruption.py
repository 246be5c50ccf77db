"""DisruptionController against a real in-process registry: budget status from the selected pods
and their controllers' scale (integer and percentage minAvailable, maxUnavailable, ReplicaSets
under Deployments), the DisruptionAllowed condition, SyncFailed when no controller is found,
unmanaged pods, approved evictions (disruptedPods) kept out of currentHealthy until they expire,
eviction through the subresource end to end, and stale DisruptionTarget conditions reset."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from kubelite.client.client import ResourceClient
from kubelite.client.clock import FakeClock
from kubelite.controllers.disruption import DisruptionController, go_selector
from tests.controllers.controllers_harness import ControllerCluster, eventually, stamp

Obj = dict[str, Any]
LABELS = {"app": "web"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(wall_start=time.time())


def budgets(cluster: ControllerCluster) -> ResourceClient:
    return cluster.rc("policy", "v1", "poddisruptionbudgets")


def budget(name: str, **spec: Any) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": LABELS}, **spec},
    }


async def owner(cluster: ControllerCluster, resource: str, name: str, replicas: int, parent: Obj | None = None) -> Obj:
    kind = {"replicasets": "ReplicaSet", "deployments": "Deployment", "statefulsets": "StatefulSet"}[resource]
    spec: Obj = {
        "replicas": replicas,
        "selector": {"matchLabels": LABELS},
        "template": {"metadata": {"labels": LABELS}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
    }
    if resource == "statefulsets":
        spec["serviceName"] = name
    meta: Obj = {"name": name}
    if parent is not None:
        meta["ownerReferences"] = [ref(parent)]
    return await cluster.rc("apps", "v1", resource).create({"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec})


def ref(obj: Obj) -> Obj:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
    }


async def pods(cluster: ControllerCluster, count: int, controller: Obj | None = None, ready: int | None = None, prefix: str = "p") -> list[Obj]:
    made = []
    for index in range(count):
        meta: Obj = {"name": f"{prefix}{index}", "labels": dict(LABELS)}
        if controller is not None:
            meta["ownerReferences"] = [ref(controller)]
        pod = await cluster.pods.create(
            {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]}}
        )
        if ready is None or index < ready:
            pod = await cluster.make_ready(pod)
        made.append(pod)
    return made


async def run(cluster: ControllerCluster, clock: FakeClock) -> DisruptionController:
    controller = DisruptionController(cluster.client, clock=clock)
    await cluster.run(controller)
    return controller


def status_is(cluster: ControllerCluster, name: str, **expected: Any) -> Callable[[], Any]:
    async def check() -> bool:
        status = (await budgets(cluster).get(name)).get("status") or {}
        return all(status.get(field) == value for field, value in expected.items())

    return check


def allowed_condition(pdb: Obj) -> Obj:
    return next(c for c in pdb["status"]["conditions"] if c["type"] == "DisruptionAllowed")


async def test_min_available_counts_the_pods(cluster: ControllerCluster, clock: FakeClock) -> None:
    rs = await owner(cluster, "replicasets", "web", 3)
    await pods(cluster, 3, rs)
    await budgets(cluster).create(budget("web", minAvailable=2))
    await run(cluster, clock)
    await eventually(
        status_is(cluster, "web", expectedPods=3, desiredHealthy=2, currentHealthy=3, disruptionsAllowed=1, observedGeneration=1),
        what="status of minAvailable 2",
    )
    pdb = await budgets(cluster).get("web")
    condition = allowed_condition(pdb)
    assert (condition["status"], condition["reason"], condition["observedGeneration"]) == ("True", "SufficientPods", 1)
    await asyncio.sleep(0.3)
    assert (await budgets(cluster).get("web"))["metadata"]["resourceVersion"] == pdb["metadata"]["resourceVersion"], (
        "an unchanged status is not written again"
    )
    await budgets(cluster).patch("web", {"spec": {"minAvailable": 3}})
    await eventually(status_is(cluster, "web", desiredHealthy=3, disruptionsAllowed=0, observedGeneration=2), what="new generation")
    condition = allowed_condition(await budgets(cluster).get("web"))
    assert (condition["status"], condition["reason"]) == ("False", "InsufficientPods")


async def test_percentages_and_max_unavailable_use_the_controllers_scale(cluster: ControllerCluster, clock: FakeClock) -> None:
    deployment = await owner(cluster, "deployments", "web", 4)
    rs = await owner(cluster, "replicasets", "web-1", 4, parent=deployment)
    await pods(cluster, 3, rs)
    await budgets(cluster).create(budget("half", minAvailable="50%"))
    await run(cluster, clock)
    await eventually(
        status_is(cluster, "half", expectedPods=4, desiredHealthy=2, currentHealthy=3, disruptionsAllowed=1),
        what="50% of the deployment's 4",
    )
    await budgets(cluster).delete("half")
    await budgets(cluster).create(budget("one", maxUnavailable=1))
    await eventually(
        status_is(cluster, "one", expectedPods=4, desiredHealthy=3, currentHealthy=3, disruptionsAllowed=0),
        what="maxUnavailable 1 of 4",
    )


async def test_stateful_sets_count_too(cluster: ControllerCluster, clock: FakeClock) -> None:
    sts = await owner(cluster, "statefulsets", "db", 5)
    await pods(cluster, 5, sts)
    await budgets(cluster).create(budget("db", maxUnavailable="40%"))
    await run(cluster, clock)
    await eventually(status_is(cluster, "db", expectedPods=5, desiredHealthy=3, disruptionsAllowed=2), what="40% of 5")


async def test_pods_without_a_known_controller_fail_safe(cluster: ControllerCluster, clock: FakeClock) -> None:
    ghost_owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "gone", "uid": "0000"}}
    await pods(cluster, 2, ghost_owner)
    await budgets(cluster).create(budget("web", maxUnavailable=1))
    await run(cluster, clock)

    async def failed() -> bool:
        pdb = await budgets(cluster).get("web")
        conditions = (pdb.get("status") or {}).get("conditions") or []
        return any(c["reason"] == "SyncFailed" for c in conditions)

    await eventually(failed, what="SyncFailed")
    pdb = await budgets(cluster).get("web")
    condition = allowed_condition(pdb)
    assert condition["status"] == "False" and condition["message"] == 'found no controllers for pod "p0"'
    assert pdb["status"]["disruptionsAllowed"] == 0


async def test_unmanaged_pods_are_reported(cluster: ControllerCluster, clock: FakeClock) -> None:
    await pods(cluster, 2)
    await budgets(cluster).create(budget("web", maxUnavailable=1))
    controller = await run(cluster, clock)
    await eventually(status_is(cluster, "web", expectedPods=0, currentHealthy=2, disruptionsAllowed=0), what="status")
    await controller.recorder.flush()
    events = {e["reason"]: e for e in (await cluster.events.list())["items"]}
    assert events["UnmanagedPods"]["type"] == "Warning"
    assert events["UnmanagedPods"]["source"]["component"] == "controllermanager"
    assert "(selector: &LabelSelector{MatchLabels:map[string]string{app: web,},MatchExpressions:[]LabelSelectorRequirement{},})" in (
        events["UnmanagedPods"]["message"]
    )


async def test_no_pods_no_disruptions(cluster: ControllerCluster, clock: FakeClock) -> None:
    await budgets(cluster).create(budget("web", minAvailable=0))
    controller = await run(cluster, clock)
    await eventually(status_is(cluster, "web", observedGeneration=1, expectedPods=0, currentHealthy=0, disruptionsAllowed=0), what="empty status")
    await controller.recorder.flush()
    assert [e["message"] for e in (await cluster.events.list())["items"] if e["reason"] == "NoPods"] == ["No matching pods found"]


async def test_approved_evictions_are_not_counted_until_they_expire(cluster: ControllerCluster, clock: FakeClock) -> None:
    rs = await owner(cluster, "replicasets", "web", 3)
    await pods(cluster, 3, rs)
    created = await budgets(cluster).create(budget("web", minAvailable=1))
    created["status"] = {
        "disruptedPods": {"p0": stamp(clock.time())},
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    }
    await budgets(cluster).update_status(created)
    controller = await run(cluster, clock)
    await eventually(status_is(cluster, "web", currentHealthy=2, disruptionsAllowed=1), what="p0 not counted")
    assert set((await budgets(cluster).get("web"))["status"]["disruptedPods"]) == {"p0"}
    clock.advance(121)

    async def expired() -> bool:
        status = (await budgets(cluster).get("web"))["status"]
        return "disruptedPods" not in status and status["currentHealthy"] == 3

    await eventually(expired, what="the approval forgotten")
    await controller.recorder.flush()
    assert any(e["reason"] == "NotDeleted" for e in (await cluster.events.list())["items"])


async def test_eviction_end_to_end(cluster: ControllerCluster, clock: FakeClock) -> None:
    rs = await owner(cluster, "replicasets", "web", 3)
    await pods(cluster, 3, rs)
    await budgets(cluster).create(budget("web", minAvailable=2))
    await run(cluster, clock)
    await eventually(status_is(cluster, "web", disruptionsAllowed=1), what="one disruption allowed")
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p0"}}
    await cluster.pods.create_subresource("p0", "eviction", eviction)
    refused = None
    try:
        await cluster.pods.create_subresource("p1", "eviction", {**eviction, "metadata": {"name": "p1"}})
    except Exception as err:  # noqa: BLE001 - the StatusError is what we look at
        refused = err
    assert getattr(refused, "code", None) == 429
    await eventually(status_is(cluster, "web", currentHealthy=2, disruptionsAllowed=0), what="p0 gone from the count")


async def test_stale_disruption_target_conditions_are_reset(cluster: ControllerCluster, clock: FakeClock) -> None:
    [pod] = await pods(cluster, 1)
    pod["status"]["conditions"].append(
        {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI", "lastTransitionTime": stamp(clock.time())}
    )
    await cluster.pods.update_status(pod)
    await run(cluster, clock)
    clock.advance(60)
    await eventually(lambda: _target_status(cluster, "True"), what="still True after a minute")
    clock.advance(61)
    await eventually(lambda: _target_status(cluster, "False"), what="reset after two minutes")


async def _target_status(cluster: ControllerCluster, expected: str) -> bool:
    pod = await cluster.pods.get("p0")
    return any(c["type"] == "DisruptionTarget" and c["status"] == expected for c in pod["status"]["conditions"])


def test_go_selector() -> None:
    selector = {"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [{"key": "k", "operator": "In", "values": ["x", "y"]}]}
    assert go_selector(selector) == (
        "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},"
        "MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:k,Operator:In,Values:[x y],},},}"
    )
    assert go_selector(None) == "nil"
