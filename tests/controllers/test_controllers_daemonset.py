"""The DaemonSet controller against a real in-process registry: nodes are created by the test, and
a background task stands in for the kubelet by marking pods Ready (no scheduler runs, so pods stay
unbound and are placed by their node affinity)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.client.client import ResourceClient
from kubelite.controllers import history
from kubelite.controllers.daemonset import (
    DaemonSetController,
    FailedPodBackoff,
    Placement,
    daemon_tolerations,
    is_pod_updated,
    node_name_affinity,
    target_node_name,
)
from kubelite.controllers.events import EventRecorder
from tests.controllers.controllers_harness import ControllerCluster, eventually

Obj = dict[str, Any]


# ---------------------------------------------------------------- pure helpers
def ds_obj(name: str = "agent", image: str = "img:1", **spec: Any) -> Obj:
    labels = {"app": name}
    template_spec = {"containers": [{"name": "c", "image": image}], **spec.pop("pod", {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": template_spec},
            **spec,
        },
    }


def node_obj(name: str, labels: dict[str, str] | None = None, taints: list[Obj] | None = None) -> Obj:
    node: Obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}}}
    if taints:
        node["spec"] = {"taints": taints}
    return node


def test_default_tolerations_are_added_once_in_upstream_order() -> None:
    tolerations = daemon_tolerations(
        {
            "tolerations": [
                {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}
            ]
        }
    )
    keys = [(t["key"], t["effect"]) for t in tolerations]
    assert keys == [
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ]
    assert all(t["operator"] == "Exists" and "tolerationSeconds" not in t for t in tolerations)
    host_network = daemon_tolerations({"hostNetwork": True})
    assert host_network[-1] == {
        "key": "node.kubernetes.io/network-unavailable",
        "operator": "Exists",
        "effect": "NoSchedule",
    }
    # a toleration for another key or value is kept alongside
    custom = daemon_tolerations({"tolerations": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]})
    assert custom[0]["key"] == "dedicated" and len(custom) == 7


def test_node_name_affinity_replaces_required_terms_only() -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "Exists"}]}]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {}}],
        },
        "podAntiAffinity": {"x": 1},
    }
    replaced = node_name_affinity(affinity, "n1")
    assert replaced["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]
    }
    assert replaced["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] == [
        {"weight": 1, "preference": {}}
    ]
    assert replaced["podAntiAffinity"] == {"x": 1}
    assert "matchFields" not in str(affinity)  # the input is not modified
    assert target_node_name({"spec": {"affinity": replaced}}) == "n1"
    assert target_node_name({"spec": {"nodeName": "n2", "affinity": replaced}}) == "n2"
    assert target_node_name({"spec": {}}) is None


def test_placement_follows_selector_affinity_and_taints() -> None:
    ds = ds_obj(
        pod={
            "nodeSelector": {"disk": "ssd"},
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]},
                            {
                                "matchFields": [
                                    {"key": "metadata.name", "operator": "In", "values": ["special"]}
                                ]
                            },
                        ]
                    }
                }
            },
        }
    )
    placement = Placement(ds)
    assert placement.should_run(node_obj("n", {"disk": "ssd", "zone": "a"})) == (True, True)
    assert placement.should_run(node_obj("n", {"disk": "hdd", "zone": "a"})) == (False, False)
    assert placement.should_run(node_obj("n", {"disk": "ssd", "zone": "c"})) == (False, False)
    assert placement.should_run(node_obj("special", {"disk": "ssd"})) == (True, True)
    ssd = {"disk": "ssd", "zone": "a"}
    no_schedule = [{"key": "gpu", "value": "x", "effect": "NoSchedule"}]
    no_execute = [{"key": "gpu", "value": "x", "effect": "NoExecute"}]
    prefer = [{"key": "gpu", "value": "x", "effect": "PreferNoSchedule"}]
    assert placement.should_run(node_obj("n", ssd, no_schedule)) == (False, True)
    assert placement.should_run(node_obj("n", ssd, no_execute)) == (False, False)
    assert placement.should_run(node_obj("n", ssd, prefer)) == (True, True)
    # the taints upstream's default tolerations cover: cordoned, not ready, under pressure
    for key, effect in (
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ):
        assert placement.should_run(node_obj("n", ssd, [{"key": key, "effect": effect}])) == (True, True)
    unavailable = [{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]
    assert placement.should_run(node_obj("n", ssd, unavailable)) == (False, True)
    assert Placement(ds_obj(pod={"hostNetwork": True})).should_run(node_obj("n", {}, unavailable)) == (
        True,
        True,
    )
    pinned = Placement(ds_obj(pod={"nodeName": "n1"}))
    assert pinned.should_run(node_obj("n1")) == (True, True)
    assert pinned.should_run(node_obj("n2")) == (False, False)


def test_pod_updated_by_hash_or_generation() -> None:
    pod = {"metadata": {"labels": {"controller-revision-hash": "h1", "pod-template-generation": "3"}}}
    assert is_pod_updated(pod, "h1", "9")
    assert is_pod_updated(pod, "h2", "3")
    assert not is_pod_updated(pod, "h2", "9")


def test_failed_pod_backoff_doubles_up_to_the_maximum() -> None:
    backoff = FailedPodBackoff(1.0, 4.0)
    assert backoff.in_backoff("k", 100.0) == 0.0
    backoff.next("k", 100.0)
    assert backoff.in_backoff("k", 100.5) == pytest.approx(0.5)
    assert backoff.in_backoff("k", 101.0) == 0.0
    backoff.next("k", 101.0)
    assert backoff.in_backoff("k", 101.0) == 2.0
    backoff.next("k", 104.0)
    backoff.next("k", 108.0)
    assert backoff.in_backoff("k", 108.0) == 4.0  # capped
    backoff.next("k", 200.0)  # long idle: starts over
    assert backoff.in_backoff("k", 200.0) == 1.0


# ---------------------------------------------------------------- against a registry
@pytest.fixture
async def recorder(cluster: ControllerCluster) -> AsyncIterator[EventRecorder]:
    made = EventRecorder(cluster.client, "daemonset-controller")
    await made.start()
    await cluster.run(DaemonSetController(cluster.client, recorder=made))
    yield made
    await made.stop()


@contextlib.asynccontextmanager
async def kubelet(cluster: ControllerCluster, period: float = 0.05) -> AsyncIterator[None]:
    async def loop() -> None:
        while True:
            await cluster.make_all_ready()
            await asyncio.sleep(period)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def nodes(cluster: ControllerCluster) -> ResourceClient:
    return cluster.client.resource("", "v1", "nodes")


def daemon_sets(cluster: ControllerCluster) -> ResourceClient:
    return cluster.rc("apps", "v1", "daemonsets")


def revisions(cluster: ControllerCluster) -> ResourceClient:
    return cluster.rc("apps", "v1", "controllerrevisions")


def by_node(pods: list[Obj]) -> dict[str, list[Obj]]:
    found: dict[str, list[Obj]] = {}
    for pod in pods:
        found.setdefault(target_node_name(pod) or "", []).append(pod)
    return found


def image_of(pod: Obj) -> str:
    return str(pod["spec"]["containers"][0]["image"])


def rollout_done(ds: Obj) -> bool:
    """kubectl rollout status's test for daemon sets."""
    status = ds.get("status") or {}
    return (
        ds["metadata"]["generation"] <= status.get("observedGeneration", 0)
        and status.get("updatedNumberScheduled", 0) >= status.get("desiredNumberScheduled", 0)
        and status.get("numberAvailable", 0) >= status.get("desiredNumberScheduled", 0)
    )


async def wait_rolled_out(cluster: ControllerCluster, name: str, desired: int) -> Obj:
    async def done() -> bool:
        ds = await daemon_sets(cluster).get(name)
        return rollout_done(ds) and (ds.get("status") or {}).get("desiredNumberScheduled") == desired

    await eventually(done, timeout=15, what=f"rollout of {name}")
    return await daemon_sets(cluster).get(name)


async def pods_on(cluster: ControllerCluster, expected: set[str]) -> None:
    async def placed() -> bool:
        found = by_node(await cluster.live_pods("app=agent"))
        return set(found) == expected and all(len(p) == 1 for p in found.values())

    await eventually(placed, what=f"one pod on each of {sorted(expected)}")


async def test_one_pod_per_eligible_node_with_daemon_identity(
    cluster: ControllerCluster, recorder: EventRecorder
) -> None:
    for name, labels in (("n1", {"role": "worker"}), ("n2", {"role": "worker"}), ("n3", {"role": "db"})):
        await nodes(cluster).create(node_obj(name, labels))
    ds = await daemon_sets(cluster).create(ds_obj(pod={"nodeSelector": {"role": "worker"}}))
    await pods_on(cluster, {"n1", "n2"})
    (revision,) = (await revisions(cluster).list())["items"]
    hash_value = revision["metadata"]["labels"]["controller-revision-hash"]
    assert revision["metadata"]["name"] == f"agent-{hash_value}"
    assert revision["revision"] == 1
    assert revision["metadata"]["labels"]["app"] == "agent"
    assert revision["metadata"]["ownerReferences"][0]["uid"] == ds["metadata"]["uid"]
    assert revision["data"] == history.template_patch(ds)
    for pod in await cluster.live_pods("app=agent"):
        meta, spec = pod["metadata"], pod["spec"]
        assert meta["generateName"] == "agent-"
        assert meta["labels"] == {
            "app": "agent",
            "controller-revision-hash": hash_value,
            "pod-template-generation": "1",
        }
        assert meta["ownerReferences"][0]["kind"] == "DaemonSet" and meta["ownerReferences"][0]["controller"]
        assert "nodeName" not in spec  # the scheduler binds it
        assert spec["nodeSelector"] == {"role": "worker"}
        assert {t["key"] for t in spec["tolerations"]} >= {
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
            "node.kubernetes.io/unschedulable",
        }
    async with kubelet(cluster):
        ds = await wait_rolled_out(cluster, "agent", 2)
    status = ds["status"]
    assert status["desiredNumberScheduled"] == status["currentNumberScheduled"] == 2
    assert status["numberReady"] == status["numberAvailable"] == status["updatedNumberScheduled"] == 2
    assert status["numberMisscheduled"] == 0 and "numberUnavailable" not in status
    assert status["observedGeneration"] == 1
    await recorder.flush()
    events = [e for e in (await cluster.events.list())["items"] if e["involvedObject"]["kind"] == "DaemonSet"]
    created = sorted(e["message"] for e in events if e["reason"] == "SuccessfulCreate")
    assert len(created) == 2 and all(m.startswith("Created pod: agent-") for m in created)
    assert all(e["source"]["component"] == "daemonset-controller" for e in events)


async def test_nodes_coming_going_and_changing(cluster: ControllerCluster, recorder: EventRecorder) -> None:
    await nodes(cluster).create(node_obj("n1", {"role": "worker"}))
    await daemon_sets(cluster).create(ds_obj(pod={"nodeSelector": {"role": "worker"}}))
    await pods_on(cluster, {"n1"})
    await nodes(cluster).create(node_obj("n2", {"role": "worker"}))
    await pods_on(cluster, {"n1", "n2"})
    await nodes(cluster).delete("n1")
    await pods_on(cluster, {"n2"})
    # a node that stops matching loses its pod
    await nodes(cluster).patch("n2", {"metadata": {"labels": {"role": "db"}}})
    await pods_on(cluster, set())
    # an untolerated NoSchedule taint stops new pods but keeps running ones (counted misscheduled)
    await nodes(cluster).create(node_obj("n3", {"role": "worker"}))
    await pods_on(cluster, {"n3"})
    await nodes(cluster).patch(
        "n3", {"spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}}
    )

    async def misscheduled() -> bool:
        status = (await daemon_sets(cluster).get("agent")).get("status") or {}
        return status.get("numberMisscheduled") == 1 and status.get("desiredNumberScheduled") == 0

    await eventually(misscheduled, what="the pod on the tainted node counted misscheduled")
    assert set(by_node(await cluster.live_pods("app=agent"))) == {"n3"}
    await nodes(cluster).patch(
        "n3", {"spec": {"taints": [{"key": "k", "value": "v", "effect": "NoExecute"}]}}
    )
    await pods_on(cluster, set())
    await recorder.flush()
    reasons = {e["reason"] for e in (await cluster.events.list())["items"]}
    assert {"SuccessfulCreate", "SuccessfulDelete"} <= reasons


async def watch_availability(cluster: ControllerCluster, into: list[tuple[int, int]]) -> None:
    """Record (nodes with a Ready pod, live pods) until cancelled."""
    while True:
        pods = await cluster.live_pods("app=agent")
        ready_nodes = {
            target_node_name(p)
            for p in pods
            if any(
                c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or ()
            )
        }
        into.append((len(ready_nodes), len(pods)))
        await asyncio.sleep(0.005)


async def test_rolling_update_keeps_max_unavailable_then_undo_renumbers(
    cluster: ControllerCluster, recorder: EventRecorder
) -> None:
    for name in ("n1", "n2", "n3", "n4"):
        await nodes(cluster).create(node_obj(name))
    await daemon_sets(cluster).create(ds_obj())
    async with kubelet(cluster):
        first = await wait_rolled_out(cluster, "agent", 4)
        steps: list[tuple[int, int]] = []
        watcher = asyncio.create_task(watch_availability(cluster, steps))
        try:
            await daemon_sets(cluster).patch(
                "agent", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}}}}
            )
            second = await wait_rolled_out(cluster, "agent", 4)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    assert len(steps) > 5
    assert min(ready for ready, _live in steps) >= 3, "maxUnavailable 1 of 4 nodes"
    assert max(live for _ready, live in steps) <= 4, "no surge by default"
    pods = await cluster.live_pods("app=agent")
    assert {image_of(p) for p in pods} == {"img:2"} and len(pods) == 4
    assert {p["metadata"]["labels"]["pod-template-generation"] for p in pods} == {"2"}
    owned = {r["revision"]: r for r in (await revisions(cluster).list())["items"]}
    assert sorted(owned) == [1, 2]
    assert second["status"]["updatedNumberScheduled"] == 4
    # what `kubectl rollout undo` sends: revision 1's data as a strategic merge patch
    await daemon_sets(cluster).patch("agent", owned[1]["data"], "strategic")
    async with kubelet(cluster):
        undone = await wait_rolled_out(cluster, "agent", 4)
        shaped = history.go_shaped_template
        assert shaped(undone["spec"]["template"]) == shaped(first["spec"]["template"])

        async def renumbered() -> bool:
            found = {r["metadata"]["name"]: r["revision"] for r in (await revisions(cluster).list())["items"]}
            return found == {owned[1]["metadata"]["name"]: 3, owned[2]["metadata"]["name"]: 2}

        await eventually(renumbered, what="revision 1 renumbered to 3")
    assert {image_of(p) for p in await cluster.live_pods("app=agent")} == {"img:1"}


async def test_surge_replaces_each_pod_only_once_the_new_one_is_ready(
    cluster: ControllerCluster, recorder: EventRecorder
) -> None:
    for name in ("n1", "n2", "n3"):
        await nodes(cluster).create(node_obj(name))
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    await daemon_sets(cluster).create(ds_obj(updateStrategy=strategy))
    async with kubelet(cluster):
        await wait_rolled_out(cluster, "agent", 3)
        steps: list[tuple[int, int]] = []
        watcher = asyncio.create_task(watch_availability(cluster, steps))
        try:
            await daemon_sets(cluster).patch(
                "agent", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}}}}
            )
            await wait_rolled_out(cluster, "agent", 3)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    assert min(ready for ready, _live in steps) == 3, "every node keeps a ready pod"
    assert max(live for _ready, live in steps) <= 4, "at most maxSurge extra pods"
    assert max(live for _ready, live in steps) == 4, "the update surged"
    assert {image_of(p) for p in await cluster.live_pods("app=agent")} == {"img:2"}


async def test_on_delete_waits_for_deletion_and_failed_pods_are_replaced(
    cluster: ControllerCluster, recorder: EventRecorder
) -> None:
    for name in ("n1", "n2"):
        await nodes(cluster).create(node_obj(name))
    await daemon_sets(cluster).create(ds_obj(updateStrategy={"type": "OnDelete"}))
    await pods_on(cluster, {"n1", "n2"})
    await daemon_sets(cluster).patch(
        "agent", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}}}}
    )

    async def observed() -> bool:
        ds = await daemon_sets(cluster).get("agent")
        return (ds.get("status") or {}).get("observedGeneration") == 2

    await eventually(observed, what="the new generation observed")
    await asyncio.sleep(0.2)
    assert {image_of(p) for p in await cluster.live_pods("app=agent")} == {"img:1"}
    assert "updatedNumberScheduled" not in (await daemon_sets(cluster).get("agent"))["status"]
    victim = by_node(await cluster.live_pods("app=agent"))["n1"][0]
    await cluster.pods.delete(victim["metadata"]["name"])

    async def replaced() -> bool:
        found = by_node(await cluster.live_pods("app=agent"))
        return [image_of(p) for p in found.get("n1", [])] == ["img:2"]

    await eventually(replaced, what="the deleted pod replaced from the new template")
    # a pod that failed is deleted (with a Warning event) and replaced
    failed = by_node(await cluster.live_pods("app=agent"))["n2"][0]
    fresh = await cluster.pods.get(failed["metadata"]["name"])
    fresh["status"] = {"phase": "Failed"}
    await cluster.pods.update_status(fresh)

    async def recreated() -> bool:
        found = by_node(await cluster.live_pods("app=agent")).get("n2", [])
        return len(found) == 1 and found[0]["metadata"]["name"] != failed["metadata"]["name"]

    await eventually(recreated, what="the failed pod replaced")
    await recorder.flush()
    warnings = [e for e in (await cluster.events.list())["items"] if e["reason"] == "FailedDaemonPod"]
    assert warnings and warnings[0]["type"] == "Warning"
    assert warnings[0]["message"] == (
        f"Found failed daemon pod ctl/{failed['metadata']['name']} on node n2, will try to kill it"
    )


async def test_history_beyond_the_limit_is_truncated(
    cluster: ControllerCluster, recorder: EventRecorder
) -> None:
    await nodes(cluster).create(node_obj("n1"))
    await daemon_sets(cluster).create(ds_obj(revisionHistoryLimit=1))
    async with kubelet(cluster):
        for image in ("img:2", "img:3", "img:4"):
            await wait_rolled_out(cluster, "agent", 1)
            await daemon_sets(cluster).patch(
                "agent", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}
            )
        await wait_rolled_out(cluster, "agent", 1)

        async def truncated() -> bool:
            return sorted(r["revision"] for r in (await revisions(cluster).list())["items"]) == [3, 4]

        await eventually(truncated, what="only the current and one old revision kept")


async def test_deleted_daemon_set_is_left_alone(cluster: ControllerCluster, recorder: EventRecorder) -> None:
    await nodes(cluster).create(node_obj("n1"))
    await daemon_sets(cluster).create(
        {**ds_obj(), "metadata": {"name": "agent", "finalizers": ["example.com/hold"]}}
    )
    await pods_on(cluster, {"n1"})
    await daemon_sets(cluster).delete("agent")
    await nodes(cluster).create(node_obj("n2"))
    await asyncio.sleep(0.3)
    assert set(by_node(await cluster.live_pods("app=agent"))) == {"n1"}
