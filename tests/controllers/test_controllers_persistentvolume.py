"""The PV binder and the protection controllers against a real in-process registry: static
binding (phases, claimRef, annotations, status), pre-binding by volumeName, WaitForFirstConsumer
claims waiting and then handed to their provisioner, release and reclaim (Retain / Delete), and
the pvc/pv protection finalizers holding deletions while a pod or a binding uses the object."""

from __future__ import annotations

from typing import Any

from kubelite.api import volumebinding as vb
from kubelite.api.errors import StatusError
from kubelite.client.client import ResourceClient
from kubelite.controllers.persistentvolume import PersistentVolumeController
from kubelite.controllers.volumeprotection import VolumeProtectionController
from tests.controllers.controllers_harness import ControllerCluster, eventually

Obj = dict[str, Any]


def claim(name: str, size: str = "1Gi", cls: str = "", **spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, "storageClassName": cls, **spec},
    }


def volume(name: str, size: str = "1Gi", cls: str = "", policy: str = "Retain", **spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": f"/tmp/{name}"},
            "storageClassName": cls,
            "persistentVolumeReclaimPolicy": policy,
            **spec,
        },
    }


def clients(cluster: ControllerCluster) -> tuple[ResourceClient, ResourceClient]:
    return cluster.rc("", "v1", "persistentvolumeclaims"), cluster.client.resource("", "v1", "persistentvolumes")


async def phase_of(rc: ResourceClient, name: str) -> str:
    try:
        return str(((await rc.get(name)).get("status") or {}).get("phase") or "")
    except StatusError as error:
        if error.code == 404:
            return "<gone>"
        raise


async def reasons(cluster: ControllerCluster, name: str) -> list[str]:
    items = (await cluster.events.list())["items"]
    return [e["reason"] for e in items if e["involvedObject"]["name"] == name]


async def test_claim_binds_to_the_smallest_fitting_volume(cluster: ControllerCluster) -> None:
    claims, volumes = clients(cluster)
    for name, size in (("pv-small", "500Mi"), ("pv-fit", "2Gi"), ("pv-big", "5Gi")):
        await volumes.create(volume(name, size))
    await cluster.run(PersistentVolumeController(cluster.client))
    await claims.create(claim("data"))
    await eventually(lambda: _equals(phase_of(claims, "data"), "Bound"), what="claim bound")
    made = await claims.get("data")
    assert made["spec"]["volumeName"] == "pv-fit"
    notes = made["metadata"]["annotations"]
    assert notes[vb.BIND_COMPLETED] == "yes" and notes[vb.BOUND_BY_CONTROLLER] == "yes"
    assert made["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "2Gi"}}
    pv = await volumes.get("pv-fit")
    assert pv["status"]["phase"] == "Bound"
    assert pv["spec"]["claimRef"]["uid"] == made["metadata"]["uid"] and pv["spec"]["claimRef"]["name"] == "data"
    assert pv["metadata"]["annotations"][vb.BOUND_BY_CONTROLLER] == "yes"
    await eventually(lambda: _equals(phase_of(volumes, "pv-small"), "Available"), what="others Available")

    await claims.delete("data")
    await eventually(lambda: _equals(phase_of(volumes, "pv-fit"), "Released"), what="volume released")
    assert (await volumes.get("pv-fit"))["spec"]["claimRef"]["name"] == "data", "Retain keeps the claimRef"


async def test_pre_bound_claim_and_mismatch_event(cluster: ControllerCluster) -> None:
    claims, volumes = clients(cluster)
    await volumes.create(volume("tiny", "100Mi"))
    await volumes.create(volume("wanted", "10Gi"))
    await cluster.run(PersistentVolumeController(cluster.client))
    await claims.create(claim("picky", volumeName="wanted"))
    await claims.create(claim("greedy", volumeName="tiny"))
    await eventually(lambda: _equals(phase_of(claims, "picky"), "Bound"), what="pre-bound claim bound")
    picky = await claims.get("picky")
    assert vb.BOUND_BY_CONTROLLER not in picky["metadata"]["annotations"], "the user chose the volume"
    await eventually(lambda: _contains(reasons(cluster, "greedy"), "VolumeMismatch"), what="mismatch event")
    assert await phase_of(claims, "greedy") == "Pending"


async def test_wait_for_first_consumer_then_provisioning_then_delete(cluster: ControllerCluster) -> None:
    claims, volumes = clients(cluster)
    classes = cluster.client.resource("storage.k8s.io", "v1", "storageclasses")
    await classes.create(
        {
            "metadata": {"name": "lazy"},
            "provisioner": "example.com/disk",
            "volumeBindingMode": "WaitForFirstConsumer",
            "reclaimPolicy": "Delete",
        }
    )
    await cluster.run(PersistentVolumeController(cluster.client))
    await claims.create(claim("later", cls="lazy"))
    await eventually(lambda: _contains(reasons(cluster, "later"), "WaitForFirstConsumer"), what="waiting event")
    assert vb.STORAGE_PROVISIONER not in ((await claims.get("later"))["metadata"].get("annotations") or {})

    await claims.patch("later", {"metadata": {"annotations": {vb.SELECTED_NODE: "n1"}}})

    async def handed_over() -> bool:
        notes = (await claims.get("later"))["metadata"].get("annotations") or {}
        return notes.get(vb.STORAGE_PROVISIONER) == "example.com/disk" == notes.get(vb.BETA_STORAGE_PROVISIONER)

    await eventually(handed_over, what="storage-provisioner annotations")
    await eventually(lambda: _contains(reasons(cluster, "later"), "ExternalProvisioning"), what="provisioning event")

    # the provisioner's part: a PV pre-bound to the claim
    made = await claims.get("later")
    provisioned = volume(f"pvc-{made['metadata']['uid']}", cls="lazy", policy="Delete", claimRef=vb.claim_reference(made))
    provisioned["metadata"]["annotations"] = {vb.PROVISIONED_BY: "example.com/disk"}
    await volumes.create(provisioned)
    await eventually(lambda: _equals(phase_of(claims, "later"), "Bound"), what="provisioned claim bound")

    await claims.delete("later")
    pv_name = provisioned["metadata"]["name"]
    await eventually(lambda: _equals(phase_of(volumes, pv_name), "Released"), what="released for its provisioner")
    assert await phase_of(volumes, pv_name) == "Released", "a provisioned volume is its provisioner's to delete"


async def test_manual_delete_and_recycle_volumes_fail(cluster: ControllerCluster) -> None:
    claims, volumes = clients(cluster)
    await volumes.create(volume("manual", policy="Delete"))
    await cluster.run(PersistentVolumeController(cluster.client))
    await claims.create(claim("c"))
    await eventually(lambda: _equals(phase_of(claims, "c"), "Bound"), what="bound")
    await claims.delete("c")
    await eventually(lambda: _equals(phase_of(volumes, "manual"), "Failed"), what="failed delete")
    events = (await cluster.client.resource("", "v1", "events").namespace("default").list())["items"]
    assert any(e["reason"] == "VolumeFailedDelete" and e["involvedObject"]["name"] == "manual" for e in events)


async def test_claim_in_use_stays_terminating_until_its_pod_is_gone(cluster: ControllerCluster) -> None:
    claims, volumes = clients(cluster)
    await volumes.create(volume("pv1"))
    await cluster.run(PersistentVolumeController(cluster.client))
    await cluster.run(VolumeProtectionController(cluster.client))
    await claims.create(claim("used"))
    await eventually(lambda: _equals(phase_of(claims, "used"), "Bound"), what="bound")

    async def protected() -> bool:
        return vb.PVC_PROTECTION in ((await claims.get("used"))["metadata"].get("finalizers") or []) and vb.PV_PROTECTION in (
            (await volumes.get("pv1"))["metadata"].get("finalizers") or []
        )

    await eventually(protected, what="finalizers added to existing objects")
    pod = {
        "metadata": {"name": "user"},
        "spec": {
            "nodeName": "n1",
            "containers": [{"name": "c", "image": "img"}],
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "used"}}],
        },
    }
    await cluster.pods.create(pod)
    await claims.delete("used")
    await eventually(lambda: _is_deleting(claims, "used"), what="claim terminating")
    await volumes.delete("pv1")
    for _ in range(20):  # the claim and the (bound) volume are held
        assert await phase_of(claims, "used") == "Bound"
        assert await phase_of(volumes, "pv1") == "Bound"
    await cluster.pods.delete("user", grace_period_seconds=0)
    await eventually(lambda: _equals(phase_of(claims, "used"), "<gone>"), what="claim gone with its pod")
    await eventually(lambda: _equals(phase_of(volumes, "pv1"), "<gone>"), what="released volume gone")


async def _equals(value: Any, wanted: Any) -> bool:
    return bool(await value == wanted)


async def _contains(values: Any, wanted: str) -> bool:
    return wanted in await values


async def _is_deleting(rc: ResourceClient, name: str) -> bool:
    return bool((await rc.get(name))["metadata"].get("deletionTimestamp"))
