"""The Deployment controller (with the ReplicaSet controller) against a real in-process registry;
a background task stands in for the kubelet by marking pods Ready."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.controllers import deploymentutil as du
from kubelite.controllers.deployment import DeploymentController
from kubelite.controllers.events import EventRecorder
from kubelite.controllers.replicaset import ReplicaSetController
from tests.controllers.controllers_harness import ControllerCluster, deployment, eventually

Obj = dict[str, Any]


@pytest.fixture
async def running(cluster: ControllerCluster) -> AsyncIterator[EventRecorder]:
    recorder = EventRecorder(cluster.client, "deployment-controller")
    await recorder.start()
    await cluster.run(ReplicaSetController(cluster.client))
    await cluster.run(DeploymentController(cluster.client, recorder=recorder))
    yield recorder
    await recorder.stop()


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


async def owned_rss(cluster: ControllerCluster, d: Obj) -> list[Obj]:
    items = (await cluster.replica_sets.list())["items"]
    return [
        rs
        for rs in items
        if any(r["uid"] == d["metadata"]["uid"] for r in rs["metadata"].get("ownerReferences") or ())
    ]


def rollout_done(d: Obj) -> bool:
    """kubectl rollout status's test."""
    status = d.get("status") or {}
    progressing = du.condition(status, "Progressing") or {}
    want = d["spec"]["replicas"]
    return (
        d["metadata"]["generation"] <= status.get("observedGeneration", 0)
        and progressing.get("reason") != "ProgressDeadlineExceeded"
        and status.get("updatedReplicas", 0) >= want
        and status.get("replicas", 0) <= status.get("updatedReplicas", 0)
        and status.get("availableReplicas", 0) >= status.get("updatedReplicas", 0)
    )


async def wait_rolled_out(cluster: ControllerCluster, name: str) -> Obj:
    async def done() -> bool:
        return rollout_done(await cluster.deployments.get(name))

    await eventually(done, timeout=15, what=f"rollout of {name}")
    return await cluster.deployments.get(name)


async def test_creates_replica_set_and_pods_and_completes(
    cluster: ControllerCluster, running: EventRecorder
) -> None:
    d = await cluster.deployments.create(deployment("web", 3))
    async with kubelet(cluster):
        d = await wait_rolled_out(cluster, "web")
    (rs,) = await owned_rss(cluster, d)
    hash_value = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{hash_value}"
    assert hash_value == du.pod_template_hash(d["spec"]["template"], None)
    assert set(hash_value) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": hash_value}
    annotations = rs["metadata"]["annotations"]
    assert annotations[du.REVISION] == "1"
    assert annotations[du.DESIRED_REPLICAS] == "3"
    assert annotations[du.MAX_REPLICAS] == "4"  # 3 + ceil(25% of 3)
    assert d["metadata"]["annotations"][du.REVISION] == "1"
    pods = await cluster.live_pods("app=web")
    assert len(pods) == 3 and all(p["metadata"]["labels"]["pod-template-hash"] == hash_value for p in pods)
    status = d["status"]
    assert (
        status["replicas"]
        == status["updatedReplicas"]
        == status["readyReplicas"]
        == status["availableReplicas"]
        == 3
    )
    available = du.condition(status, "Available")
    progressing = du.condition(status, "Progressing")
    assert available and available["status"] == "True" and available["reason"] == "MinimumReplicasAvailable"
    assert (
        progressing and progressing["status"] == "True" and progressing["reason"] == "NewReplicaSetAvailable"
    )
    assert progressing["message"] == f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.'
    await running.flush()
    events = [
        e for e in (await cluster.events.list())["items"] if e["involvedObject"]["kind"] == "Deployment"
    ]
    assert [e["message"] for e in events] == [f"Scaled up replica set {rs['metadata']['name']} from 0 to 3"]
    assert (
        events[0]["reason"] == "ScalingReplicaSet"
        and events[0]["source"]["component"] == "deployment-controller"
    )


async def test_rolling_update_respects_surge_and_unavailability(
    cluster: ControllerCluster, running: EventRecorder
) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
    await cluster.deployments.create(deployment("web", 4, strategy=strategy))
    async with kubelet(cluster):
        await wait_rolled_out(cluster, "web")
    violations: list[str] = []
    steps = 0

    async def observe() -> None:
        nonlocal steps
        while True:
            rss = (await cluster.replica_sets.list())["items"]
            total = sum(rs["spec"]["replicas"] for rs in rss)
            pods = await cluster.live_pods("app=web")
            ready = sum(
                1
                for p in pods
                if any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in p["status"].get("conditions") or ()
                )
            )
            steps += 1
            if total > 5:
                violations.append(f"replicas {total} > 4 + maxSurge 1")
            if ready < 3:
                violations.append(f"ready pods {ready} < 4 - maxUnavailable 1")
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(observe())
    try:
        await cluster.deployments.patch(
            "web",
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}}}},
            "strategic",
        )
        async with kubelet(cluster, period=0.1):
            d = await wait_rolled_out(cluster, "web")
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    assert steps > 5
    assert violations == []
    rss = {rs["metadata"]["annotations"][du.REVISION]: rs for rs in await owned_rss(cluster, d)}
    assert rss["2"]["spec"]["replicas"] == 4 and rss["1"]["spec"]["replicas"] == 0
    assert d["metadata"]["annotations"][du.REVISION] == "2"
    assert all(
        c["image"] == "img:2" for p in await cluster.live_pods("app=web") for c in p["spec"]["containers"]
    )


async def test_rollback_reuses_and_renumbers_old_replica_set(
    cluster: ControllerCluster, running: EventRecorder
) -> None:
    await cluster.deployments.create(
        {**deployment("web", 2), "metadata": {"name": "web", "annotations": {du.CHANGE_CAUSE: "first"}}}
    )
    async with kubelet(cluster):
        d = await wait_rolled_out(cluster, "web")
        first = (await owned_rss(cluster, d))[0]
        await cluster.deployments.patch(
            "web",
            {
                "metadata": {"annotations": {du.CHANGE_CAUSE: "second"}},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}}},
            },
            "strategic",
        )
        d = await wait_rolled_out(cluster, "web")
        assert len(await owned_rss(cluster, d)) == 2
        # what `kubectl rollout undo` sends: the old template without pod-template-hash
        template = du.without_hash(first["spec"]["template"])
        await cluster.deployments.patch(
            "web", [{"op": "replace", "path": "/spec/template", "value": template}], "json"
        )
        d = await wait_rolled_out(cluster, "web")
    rss = await owned_rss(cluster, d)
    assert len(rss) == 2  # no third ReplicaSet
    reused = next(rs for rs in rss if rs["metadata"]["uid"] == first["metadata"]["uid"])
    assert reused["metadata"]["annotations"][du.REVISION] == "3"
    assert reused["metadata"]["annotations"][du.REVISION_HISTORY] == "1"
    assert reused["spec"]["replicas"] == 2
    other = next(rs for rs in rss if rs is not reused)
    assert other["metadata"]["annotations"][du.REVISION] == "2"
    assert other["metadata"]["annotations"][du.CHANGE_CAUSE] == "second"
    assert d["metadata"]["annotations"][du.REVISION] == "3"


async def test_recreate_scales_old_to_zero_before_new(
    cluster: ControllerCluster, running: EventRecorder
) -> None:
    await cluster.deployments.create(deployment("web", 2, strategy={"type": "Recreate"}))
    async with kubelet(cluster):
        await wait_rolled_out(cluster, "web")
    overlap: list[int] = []

    async def observe() -> None:
        while True:
            pods = await cluster.live_pods("app=web")
            images = {c["image"] for p in pods for c in p["spec"]["containers"]}
            if len(images) > 1:
                overlap.append(len(pods))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(observe())
    try:
        await cluster.deployments.patch(
            "web",
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}}}},
            "strategic",
        )
        async with kubelet(cluster):
            d = await wait_rolled_out(cluster, "web")
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    assert overlap == []
    await running.flush()
    messages = [
        e["message"]
        for e in (await cluster.events.list())["items"]
        if e["involvedObject"]["kind"] == "Deployment"
    ]
    old, new = sorted(await owned_rss(cluster, d), key=lambda rs: rs["metadata"]["annotations"][du.REVISION])
    assert messages.index(f"Scaled down replica set {old['metadata']['name']} from 2 to 0") < messages.index(
        f"Scaled up replica set {new['metadata']['name']} from 0 to 2"
    )


async def test_paused_deployment_does_not_roll_out_but_scales(
    cluster: ControllerCluster, running: EventRecorder
) -> None:
    await cluster.deployments.create(deployment("web", 2))
    async with kubelet(cluster):
        await wait_rolled_out(cluster, "web")
        await cluster.deployments.patch("web", {"spec": {"paused": True}})

        async def paused_condition() -> bool:
            d = await cluster.deployments.get("web")
            cond = du.condition(d.get("status") or {}, "Progressing") or {}
            return cond.get("reason") == "DeploymentPaused" and cond.get("status") == "Unknown"

        await eventually(paused_condition, what="paused condition")
        await cluster.deployments.patch(
            "web",
            {
                "spec": {
                    "replicas": 3,
                    "template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}},
                }
            },
            "strategic",
        )

        async def scaled() -> bool:
            d = await cluster.deployments.get("web")
            return (d.get("status") or {}).get("observedGeneration") == d["metadata"]["generation"] and (
                d["status"].get("availableReplicas") == 3
            )

        await eventually(scaled, what="scaled while paused")
        d = await cluster.deployments.get("web")
        (rs,) = await owned_rss(cluster, d)
        assert rs["spec"]["template"]["spec"]["containers"][0]["image"] == "img:1"
        assert rs["spec"]["replicas"] == 3
        assert not rollout_done(d)  # updatedReplicas counts no pod of the new template
        await cluster.deployments.patch("web", {"spec": {"paused": False}})
        d = await wait_rolled_out(cluster, "web")
    assert {c["image"] for p in await cluster.live_pods("app=web") for c in p["spec"]["containers"]} == {
        "img:2"
    }


async def test_revision_history_limit_deletes_oldest(
    cluster: ControllerCluster, running: EventRecorder
) -> None:
    await cluster.deployments.create(deployment("web", 1, revisionHistoryLimit=1))
    async with kubelet(cluster):
        for image in ("img:2", "img:3", "img:4"):
            await wait_rolled_out(cluster, "web")
            await cluster.deployments.patch(
                "web",
                {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}},
                "strategic",
            )
        d = await wait_rolled_out(cluster, "web")

        async def cleaned() -> bool:
            return len(await owned_rss(cluster, d)) == 2

        await eventually(cleaned, what="history cleanup")
    revisions = sorted(int(rs["metadata"]["annotations"][du.REVISION]) for rs in await owned_rss(cluster, d))
    assert revisions == [3, 4]


async def test_progress_deadline_exceeded(cluster: ControllerCluster, running: EventRecorder) -> None:
    await cluster.deployments.create(deployment("web", 1, progressDeadlineSeconds=1))

    async def timed_out() -> bool:
        d = await cluster.deployments.get("web")
        cond = du.condition(d.get("status") or {}, "Progressing") or {}
        return cond.get("status") == "False" and cond.get("reason") == "ProgressDeadlineExceeded"

    await eventually(timed_out, timeout=8, what="ProgressDeadlineExceeded")
    d = await cluster.deployments.get("web")
    (rs,) = await owned_rss(cluster, d)
    assert (
        du.condition(d["status"], "Progressing")["message"]
        == f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.'
    )
    assert du.condition(d["status"], "Available")["reason"] == "MinimumReplicasUnavailable"


def test_pod_template_hash_is_stable_and_changes_with_collisions() -> None:
    template = {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    reordered = {"spec": {"containers": [{"image": "i", "name": "c"}]}, "metadata": {"labels": {"a": "b"}}}
    assert du.pod_template_hash(template, None) == du.pod_template_hash(reordered, None)
    assert du.pod_template_hash(template, None) != du.pod_template_hash(template, 1)
    assert du.fnv32a(b"") == 0x811C9DC5 and du.fnv32a(b"a") == 0xE40C292C
    assert du.safe_encode("0123") == "4567"  # byte % 27 into "bcdfghjklmnpqrstvwxz2456789"


def test_surge_rounds_up_and_unavailable_rounds_down() -> None:
    d = deployment(
        "x",
        10,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
    )
    assert du.resolve_fenceposts(d) == (3, 2)
    zero = deployment(
        "x",
        1,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "10%"}},
    )
    assert du.resolve_fenceposts(zero) == (0, 1)
