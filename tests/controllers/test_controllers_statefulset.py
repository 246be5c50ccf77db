"""The StatefulSet controller against a real in-process registry. The test stands in for the
kubelet (pods made Running and Ready) and, where retention policies delete claims, for the garbage
collector."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.client.client import ResourceClient
from kubelite.controllers import history
from kubelite.controllers.events import EventRecorder
from kubelite.controllers.statefulset import (
    StatefulSetController,
    claim_owner_refs,
    claim_owner_up_to_date,
    claims_of,
    count_status,
    new_pod,
    parent_and_ordinal,
)
from tests.controllers.controllers_harness import ControllerCluster, eventually

Obj = dict[str, Any]


def sts_obj(
    name: str = "web", replicas: int = 3, image: str = "img:1", claims: bool = True, **spec: Any
) -> Obj:
    labels = {"app": name}
    body: Obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
            **spec,
        },
    }
    if claims:
        body["spec"]["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "www", "labels": {"tier": "data"}},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }
        ]
    return body


# ---------------------------------------------------------------- pure helpers
def test_ordinals_are_parsed_from_names() -> None:
    assert parent_and_ordinal("web-0") == ("web", 0)
    assert parent_and_ordinal("my-web-12") == ("my-web", 12)
    assert parent_and_ordinal("web") == ("", -1)
    assert parent_and_ordinal("web-x") == ("", -1)


def test_new_pod_has_identity_storage_and_revision() -> None:
    sts = {**sts_obj(), "metadata": {"name": "web", "namespace": "ns", "uid": "u1"}}
    pod = new_pod(sts, 2, "web-abc")
    meta, spec = pod["metadata"], pod["spec"]
    assert meta["name"] == "web-2" and meta["generateName"] == "web-" and meta["namespace"] == "ns"
    assert meta["labels"] == {
        "app": "web",
        "statefulset.kubernetes.io/pod-name": "web-2",
        "apps.kubernetes.io/pod-index": "2",
        "controller-revision-hash": "web-abc",
    }
    assert spec["hostname"] == "web-2" and spec["subdomain"] == "web"
    assert spec["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-2"}}]
    assert meta["ownerReferences"][0] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": "web",
        "uid": "u1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    ((template_name, claim),) = claims_of(sts, 2)
    assert template_name == "www"
    assert claim["metadata"] == {
        "name": "www-web-2",
        "namespace": "ns",
        "labels": {"tier": "data", "app": "web"},
    }
    assert claim["spec"]["resources"] == {"requests": {"storage": "1Gi"}}


@pytest.mark.parametrize(
    ("when_scaled", "when_deleted", "scaled_down", "owners"),
    [
        ("Retain", "Retain", False, []),
        ("Retain", "Retain", True, []),
        ("Retain", "Delete", False, ["StatefulSet"]),
        ("Retain", "Delete", True, ["StatefulSet"]),
        ("Delete", "Retain", False, []),
        ("Delete", "Retain", True, ["Pod"]),
        ("Delete", "Delete", False, ["StatefulSet"]),
        ("Delete", "Delete", True, ["Pod"]),
    ],
)
def test_claim_owners_follow_the_retention_policy(
    when_scaled: str, when_deleted: str, scaled_down: bool, owners: list[str]
) -> None:
    sts = sts_obj(
        replicas=1,
        persistentVolumeClaimRetentionPolicy={"whenScaled": when_scaled, "whenDeleted": when_deleted},
    )
    sts["metadata"] = {"name": "web", "namespace": "ns", "uid": "set-uid"}
    pod = {"metadata": {"name": "web-1" if scaled_down else "web-0", "uid": "pod-uid"}}
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "other"}
    claim: Obj = {"metadata": {"name": "www-web-0", "ownerReferences": [other]}}
    refs = claim_owner_refs(claim, sts, pod)
    assert refs[0] == other
    assert [r["kind"] for r in refs[1:]] == owners
    assert all(r["controller"] for r in refs[1:])
    assert claim_owner_up_to_date({"metadata": {"ownerReferences": refs}}, sts, pod)
    assert claim_owner_up_to_date(claim, sts, pod) == (owners == [])
    # a reference to an earlier set of the same name is left to the garbage collector
    stale = {
        "metadata": {
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "old"}]
        }
    }
    assert claim_owner_up_to_date(stale, sts, pod)


def test_status_counts() -> None:
    def pod(
        name: str, revision: str, phase: str = "Running", ready: bool = True, deleting: bool = False
    ) -> Obj:
        meta: Obj = {"name": name, "uid": name, "labels": {"controller-revision-hash": revision}}
        if deleting:
            meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
        conditions = [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": "2024-01-01T00:00:00Z",
            }
        ]
        return {"metadata": meta, "status": {"phase": phase, "conditions": conditions}}

    pods = [
        pod("web-0", "a"),
        pod("web-1", "b"),
        pod("web-2", "b", "Pending", False),
        pod("web-3", "a", deleting=True),
    ]
    assert count_status(pods, 0, "a", "b", time.time()) == {
        "replicas": 4,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "currentReplicas": 1,
        "updatedReplicas": 2,
    }


# ---------------------------------------------------------------- against a registry
@pytest.fixture
async def recorder(cluster: ControllerCluster) -> AsyncIterator[EventRecorder]:
    made = EventRecorder(cluster.client, "statefulset-controller")
    await made.start()
    await cluster.run(StatefulSetController(cluster.client, recorder=made))
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


def sets(cluster: ControllerCluster) -> ResourceClient:
    return cluster.rc("apps", "v1", "statefulsets")


def claims(cluster: ControllerCluster) -> ResourceClient:
    return cluster.rc("", "v1", "persistentvolumeclaims")


def revisions(cluster: ControllerCluster) -> ResourceClient:
    return cluster.rc("apps", "v1", "controllerrevisions")


async def pod_names(cluster: ControllerCluster) -> list[str]:
    return sorted(p["metadata"]["name"] for p in await cluster.live_pods("app=web"))


async def wait_names(cluster: ControllerCluster, names: list[str]) -> None:
    async def found() -> bool:
        return await pod_names(cluster) == names

    await eventually(found, what=f"pods {names}")


def rollout_done(sts: Obj) -> bool:
    """kubectl rollout status's test for a RollingUpdate set with a partition."""
    status = sts.get("status") or {}
    want = sts["spec"]["replicas"]
    partition = sts["spec"]["updateStrategy"]["rollingUpdate"]["partition"]
    return (
        status.get("observedGeneration", 0) > 0
        and sts["metadata"]["generation"] <= status.get("observedGeneration", 0)
        and status.get("readyReplicas", 0) >= want
        and status.get("updatedReplicas", 0) >= want - partition
    )


async def wait_rolled_out(cluster: ControllerCluster, name: str = "web") -> Obj:
    async def done() -> bool:
        return rollout_done(await sets(cluster).get(name))

    await eventually(done, timeout=15, what=f"rollout of {name}")
    return await sets(cluster).get(name)


async def set_messages(cluster: ControllerCluster, recorder: EventRecorder) -> list[str]:
    await recorder.flush()
    items = (await cluster.events.list())["items"]
    items.sort(key=lambda e: e["metadata"]["name"].rsplit(".", 1)[1])
    return [e["message"] for e in items if e["involvedObject"]["kind"] == "StatefulSet"]


async def test_ordered_ready_creates_in_order_with_claims_first(
    cluster: ControllerCluster, recorder: EventRecorder
) -> None:
    sts = await sets(cluster).create(sts_obj())
    await wait_names(cluster, ["web-0"])
    await asyncio.sleep(0.2)
    assert await pod_names(cluster) == ["web-0"], "web-1 waits for web-0 to be Running and Ready"
    for step, expected in ((0, ["web-0", "web-1"]), (1, ["web-0", "web-1", "web-2"])):
        await cluster.make_ready(await cluster.pods.get(f"web-{step}"))
        await wait_names(cluster, expected)
    await cluster.make_ready(await cluster.pods.get("web-2"))
    sts = await wait_rolled_out(cluster)
    pods = {p["metadata"]["name"]: p for p in await cluster.live_pods("app=web")}
    (revision,) = (await revisions(cluster).list())["items"]
    for ordinal in range(3):
        pod = pods[f"web-{ordinal}"]
        assert pod["spec"]["hostname"] == f"web-{ordinal}" and pod["spec"]["subdomain"] == "web"
        assert pod["metadata"]["labels"]["controller-revision-hash"] == revision["metadata"]["name"]
        assert pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == str(ordinal)
        assert {"name": "www", "persistentVolumeClaim": {"claimName": f"www-web-{ordinal}"}} in pod["spec"][
            "volumes"
        ]
    pvcs = {c["metadata"]["name"]: c for c in (await claims(cluster).list())["items"]}
    assert sorted(pvcs) == ["www-web-0", "www-web-1", "www-web-2"]
    assert pvcs["www-web-0"]["metadata"]["labels"] == {"tier": "data", "app": "web"}
    assert "ownerReferences" not in pvcs["www-web-0"]["metadata"]  # Retain / Retain
    status = sts["status"]
    assert (
        status["replicas"]
        == status["readyReplicas"]
        == status["currentReplicas"]
        == status["updatedReplicas"]
        == 3
    )
    assert status["availableReplicas"] == 3 and status["observedGeneration"] == 1
    assert status["currentRevision"] == status["updateRevision"] == revision["metadata"]["name"]
    assert status["collisionCount"] == 0
    assert revision["data"] == history.template_patch(sts) and revision["revision"] == 1
    messages = await set_messages(cluster, recorder)
    assert messages[:2] == [
        "create Claim www-web-0 Pod web-0 in StatefulSet web success",
        "create Pod web-0 in StatefulSet web successful",
    ]
    assert messages.index("create Pod web-1 in StatefulSet web successful") < messages.index(
        "create Pod web-2 in StatefulSet web successful"
    )


async def test_scale_down_removes_highest_first_and_keeps_claims(
    cluster: ControllerCluster, recorder: EventRecorder
) -> None:
    await sets(cluster).create(sts_obj())
    async with kubelet(cluster):
        await wait_rolled_out(cluster)
        await sets(cluster).patch("web", {"spec": {"replicas": 1}})
        await wait_names(cluster, ["web-0"])
        sts = await wait_rolled_out(cluster)
    assert sts["status"]["replicas"] == 1
    messages = await set_messages(cluster, recorder)
    deletes = [m for m in messages if m.startswith("delete Pod")]
    assert deletes == [
        "delete Pod web-2 in StatefulSet web successful",
        "delete Pod web-1 in StatefulSet web successful",
    ]
    assert sorted(c["metadata"]["name"] for c in (await claims(cluster).list())["items"]) == [
        "www-web-0",
        "www-web-1",
        "www-web-2",
    ]


async def test_parallel_creates_without_waiting(cluster: ControllerCluster, recorder: EventRecorder) -> None:
    await sets(cluster).create(sts_obj(podManagementPolicy="Parallel", claims=False))
    await wait_names(cluster, ["web-0", "web-1", "web-2"])
    assert all(p["status"].get("phase") == "Pending" for p in await cluster.live_pods("app=web"))
    await sets(cluster).patch("web", {"spec": {"replicas": 0}})
    await wait_names(cluster, [])


async def test_rolling_update_goes_down_to_the_partition_then_undo(
    cluster: ControllerCluster, recorder: EventRecorder
) -> None:
    await sets(cluster).create(sts_obj(claims=False))
    async with kubelet(cluster):
        first = await wait_rolled_out(cluster)
        old_revision = first["status"]["currentRevision"]
        await sets(cluster).patch(
            "web",
            {
                "spec": {
                    "updateStrategy": {"rollingUpdate": {"partition": 1}},
                    "template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}},
                }
            },
        )
        sts = await wait_rolled_out(cluster)
        new_revision = sts["status"]["updateRevision"]
        assert new_revision != old_revision
        assert sts["status"]["currentRevision"] == old_revision and sts["status"]["updatedReplicas"] == 2
        images = {
            p["metadata"]["name"]: p["spec"]["containers"][0]["image"]
            for p in await cluster.live_pods("app=web")
        }
        assert images == {"web-0": "img:1", "web-1": "img:2", "web-2": "img:2"}
        await sets(cluster).patch("web", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}})

        async def completed() -> bool:
            status = (await sets(cluster).get("web")).get("status") or {}
            return status.get("currentRevision") == new_revision and status.get("currentReplicas") == 3

        await eventually(completed, timeout=15, what="the update completed")
        messages = [m for m in await set_messages(cluster, recorder) if m.startswith("delete Pod")]
        assert messages == [f"delete Pod web-{i} in StatefulSet web successful" for i in (2, 1, 0)]
        # `kubectl rollout undo`: revision 1's data as a strategic merge patch
        owned = {r["metadata"]["name"]: r for r in (await revisions(cluster).list())["items"]}
        await sets(cluster).patch("web", owned[old_revision]["data"], "strategic")

        async def undone() -> bool:
            status = (await sets(cluster).get("web")).get("status") or {}
            return status.get("currentRevision") == old_revision and status.get("updatedReplicas") == 3

        await eventually(undone, timeout=15, what="rolled back")
    numbers = {r["metadata"]["name"]: r["revision"] for r in (await revisions(cluster).list())["items"]}
    assert numbers == {old_revision: 3, new_revision: 2}
    assert {p["spec"]["containers"][0]["image"] for p in await cluster.live_pods("app=web")} == {"img:1"}


async def test_on_delete_replaces_only_deleted_pods(
    cluster: ControllerCluster, recorder: EventRecorder
) -> None:
    await sets(cluster).create(sts_obj(replicas=2, claims=False, updateStrategy={"type": "OnDelete"}))
    async with kubelet(cluster):
        await wait_names(cluster, ["web-0", "web-1"])

        async def ready() -> bool:
            return ((await sets(cluster).get("web")).get("status") or {}).get("readyReplicas") == 2

        await eventually(ready, what="2 ready")
        await sets(cluster).patch(
            "web", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}}}}
        )

        async def observed() -> bool:
            sts = await sets(cluster).get("web")
            return (sts.get("status") or {}).get("observedGeneration") == 2

        await eventually(observed, what="generation 2 observed")
        await asyncio.sleep(0.2)
        assert {p["spec"]["containers"][0]["image"] for p in await cluster.live_pods("app=web")} == {"img:1"}
        before = (await cluster.pods.get("web-1"))["metadata"]["uid"]
        await cluster.pods.delete("web-1")

        async def replaced() -> bool:
            with contextlib.suppress(Exception):
                pod = await cluster.pods.get("web-1")
                return pod["metadata"]["uid"] != before and pod["spec"]["containers"][0]["image"] == "img:2"
            return False

        await eventually(replaced, what="web-1 recreated from the new template")
    assert (await cluster.pods.get("web-0"))["spec"]["containers"][0]["image"] == "img:1"


async def test_when_scaled_delete_hands_claims_to_pods(
    cluster: ControllerCluster, recorder: EventRecorder
) -> None:
    policy = {"whenScaled": "Delete", "whenDeleted": "Delete"}
    sts = await sets(cluster).create(sts_obj(replicas=2, persistentVolumeClaimRetentionPolicy=policy))
    async with kubelet(cluster):
        await wait_rolled_out(cluster)

        async def set_owned() -> bool:
            items = (await claims(cluster).list())["items"]
            return len(items) == 2 and all(
                [(r["kind"], r["uid"]) for r in c["metadata"].get("ownerReferences") or ()]
                == [("StatefulSet", sts["metadata"]["uid"])]
                for c in items
            )

        await eventually(set_owned, what="claims owned by the set (whenDeleted: Delete)")
        web1_uid = (await cluster.pods.get("web-1"))["metadata"]["uid"]
        await sets(cluster).patch("web", {"spec": {"replicas": 1}})
        await wait_names(cluster, ["web-0"])
        claim = await claims(cluster).get("www-web-1")
        (ref,) = claim["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == ("Pod", "web-1", web1_uid, True)
        # scaling back up waits while the old pod's claim awaits the garbage collector
        await sets(cluster).patch("web", {"spec": {"replicas": 2}})
        await asyncio.sleep(0.3)
        assert await pod_names(cluster) == ["web-0"]
        await claims(cluster).delete("www-web-1")  # what the garbage collector does
        await wait_names(cluster, ["web-0", "web-1"])

        async def fresh_claim() -> bool:
            with contextlib.suppress(Exception):
                found = await claims(cluster).get("www-web-1")
                return found["metadata"]["uid"] != claim["metadata"]["uid"]
            return False

        await eventually(fresh_claim, what="a new claim for web-1")


async def test_min_ready_seconds_holds_the_next_pod(
    cluster: ControllerCluster, recorder: EventRecorder
) -> None:
    await sets(cluster).create(sts_obj(replicas=2, claims=False, minReadySeconds=1))
    await wait_names(cluster, ["web-0"])
    await cluster.make_ready(await cluster.pods.get("web-0"))
    await asyncio.sleep(0.3)
    assert await pod_names(cluster) == ["web-0"], "web-0 is not available for a second yet"
    await wait_names(cluster, ["web-0", "web-1"])
