"""The ReplicaSet controller against a real in-process registry."""

from __future__ import annotations

import asyncio

from kubelite.controllers.events import EventRecorder
from kubelite.controllers.replicaset import REPLICATION_CONTROLLER, ReplicaSetController, slow_start_batch
from tests.controllers.controllers_harness import ControllerCluster, eventually, replica_set

LABELS = {"app": "web"}


async def start_rs(cluster: ControllerCluster) -> ReplicaSetController:
    controller = ReplicaSetController(cluster.client, workers=2)
    await cluster.run(controller)
    return controller


async def count_is(cluster: ControllerCluster, n: int) -> bool:
    return len(await cluster.live_pods("app=web")) == n


async def test_creates_pods_with_owner_and_status(cluster: ControllerCluster) -> None:
    await start_rs(cluster)
    rs = await cluster.replica_sets.create(replica_set("web", 3, LABELS))
    await eventually(lambda: count_is(cluster, 3), what="3 pods")
    pods = await cluster.live_pods("app=web")
    for pod in pods:
        assert pod["metadata"]["generateName"] == "web-"
        assert pod["metadata"]["name"].startswith("web-")
        (ref,) = pod["metadata"]["ownerReferences"]
        assert ref == {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web",
            "uid": rs["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        assert pod["metadata"]["labels"] == LABELS

    async def status_ok() -> bool:
        status = (await cluster.replica_sets.get("web")).get("status") or {}
        return (
            status.get("replicas") == 3
            and status.get("fullyLabeledReplicas") == 3
            and status.get("observedGeneration") == 1
        )

    await eventually(status_ok, what="status")
    assert "readyReplicas" not in (await cluster.replica_sets.get("web"))["status"]
    await cluster.make_all_ready("app=web")

    async def ready() -> bool:
        status = (await cluster.replica_sets.get("web"))["status"]
        return status.get("readyReplicas") == 3 and status.get("availableReplicas") == 3

    await eventually(ready, what="ready status")


async def test_replaces_deleted_pod_and_no_over_creation(cluster: ControllerCluster) -> None:
    await start_rs(cluster)
    await cluster.replica_sets.create(replica_set("web", 2, LABELS))
    await eventually(lambda: count_is(cluster, 2), what="2 pods")
    victim = (await cluster.live_pods("app=web"))[0]
    await cluster.pods.delete(victim["metadata"]["name"])
    await eventually(lambda: count_is(cluster, 2), what="replacement")
    names = {p["metadata"]["name"] for p in await cluster.live_pods("app=web")}
    assert victim["metadata"]["name"] not in names
    await asyncio.sleep(0.3)
    assert len(await cluster.live_pods("app=web")) == 2  # expectations: no extra pods


async def test_scale_down_deletes_least_valuable_pods(cluster: ControllerCluster) -> None:
    await start_rs(cluster)
    await cluster.replica_sets.create(replica_set("web", 3, LABELS))
    await eventually(lambda: count_is(cluster, 3), what="3 pods")
    unscheduled, not_ready, ready = sorted(p["metadata"]["name"] for p in await cluster.live_pods("app=web"))
    for name in (not_ready, ready):
        await cluster.pods.create_subresource(
            name,
            "binding",
            {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": name},
                "target": {"kind": "Node", "name": "n1"},
            },
        )
    running = await cluster.pods.get(not_ready)
    running["status"] = {**running["status"], "phase": "Running"}
    await cluster.pods.update_status(running)
    await cluster.make_ready(await cluster.pods.get(ready))
    await cluster.replica_sets.patch("web", {"spec": {"replicas": 1}})
    await eventually(lambda: count_is(cluster, 1), what="scale down")
    (kept,) = await cluster.live_pods("app=web")
    assert kept["metadata"]["name"] == ready


async def test_adopts_orphan_and_releases_relabelled_pod(cluster: ControllerCluster) -> None:
    orphan = await cluster.pods.create(
        {
            "metadata": {"name": "orphan", "labels": LABELS},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        }
    )
    await start_rs(cluster)
    rs = await cluster.replica_sets.create(replica_set("web", 2, LABELS))

    async def adopted() -> bool:
        refs = (await cluster.pods.get("orphan"))["metadata"].get("ownerReferences") or []
        return [r["uid"] for r in refs if r.get("controller")] == [rs["metadata"]["uid"]]

    await eventually(adopted, what="adoption")
    await eventually(lambda: count_is(cluster, 2), what="only one pod created")
    assert orphan["metadata"]["uid"] == (await cluster.pods.get("orphan"))["metadata"]["uid"]
    await cluster.pods.patch("orphan", {"metadata": {"labels": {"app": "other"}}})

    async def released() -> bool:
        return not (await cluster.pods.get("orphan"))["metadata"].get("ownerReferences")

    await eventually(released, what="release")
    await eventually(lambda: count_is(cluster, 2), what="replacement for the released pod")


async def test_events_recorded_with_upstream_messages(cluster: ControllerCluster) -> None:
    recorder = EventRecorder(cluster.client, "replicaset-controller")
    await recorder.start()
    try:
        await cluster.run(ReplicaSetController(cluster.client, recorder=recorder))
        rs = await cluster.replica_sets.create(replica_set("web", 2, LABELS))
        await eventually(lambda: count_is(cluster, 2), what="pods")
        await cluster.replica_sets.patch("web", {"spec": {"replicas": 1}})
        await eventually(lambda: count_is(cluster, 1), what="scale down")
        await recorder.flush()
        events = (await cluster.events.list())["items"]
        pod_names = {p["metadata"]["name"] for p in (await cluster.pods.list())["items"]}
        created = [e for e in events if e["reason"] == "SuccessfulCreate"]
        assert len(created) == 2
        for event in created:
            assert event["message"].startswith("Created pod: web-")
            assert event["type"] == "Normal"
            assert event["source"] == {"component": "replicaset-controller"}
            assert event["involvedObject"]["uid"] == rs["metadata"]["uid"]
            assert event["involvedObject"]["kind"] == "ReplicaSet"
            assert event["metadata"]["name"].startswith("web.")
        (deleted,) = [e for e in events if e["reason"] == "SuccessfulDelete"]
        assert deleted["message"].startswith("Deleted pod: web-")
        live = {p["metadata"]["name"] for p in await cluster.live_pods("app=web")}
        assert deleted["message"].removeprefix("Deleted pod: ") not in live
        assert {e["message"].removeprefix("Created pod: ") for e in created} <= pod_names | {
            deleted["message"][13:]
        }
    finally:
        await recorder.stop()


async def test_replication_controller_uses_map_selector(cluster: ControllerCluster) -> None:
    await cluster.run(ReplicaSetController(cluster.client, kind=REPLICATION_CONTROLLER))
    rcs = cluster.rc("", "v1", "replicationcontrollers")
    rc = await rcs.create(
        {
            "metadata": {"name": "legacy"},
            "spec": {
                "replicas": 2,
                "selector": {"app": "web"},
                "template": {
                    "metadata": {"labels": LABELS},
                    "spec": {"containers": [{"name": "c", "image": "x"}]},
                },
            },
        }
    )
    await eventually(lambda: count_is(cluster, 2), what="rc pods")
    for pod in await cluster.live_pods("app=web"):
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"
        assert pod["metadata"]["ownerReferences"][0]["uid"] == rc["metadata"]["uid"]

    async def status_ok() -> bool:
        return ((await rcs.get("legacy")).get("status") or {}).get("replicas") == 2

    await eventually(status_ok, what="rc status")


async def test_slow_start_batches_stop_at_first_failing_batch() -> None:
    calls: list[int] = []

    async def action() -> None:
        calls.append(1)
        if len(calls) > 4:
            raise RuntimeError("quota")

    successes, error = await slow_start_batch(10, 1, action)
    # batches 1, 2, 4: the third batch (calls 4-7) has failures, nothing more is tried
    assert len(calls) == 7
    assert successes == 4
    assert isinstance(error, RuntimeError)
