"""The PersistentVolume binder, after upstream pkg/controller/volume/persistentvolume (pv_controller.go):
one queue of claim keys (`namespace/name`) and volume keys (`name`), one worker (binding is not
re-entrant). A claim is bound to the best matching Available volume (or the one it or a volume
names: pre-binding), the volume's claimRef written first, then the claim's volumeName with
bind-completed / bound-by-controller, then both phases Bound. A claim of a WaitForFirstConsumer class
waits (event WaitForFirstConsumer / WaitForPodScheduled) until the scheduler names a node
(volume.kubernetes.io/selected-node); then, as with an Immediate class and no match, it is marked
for the class's external provisioner (storage-provisioner annotations, event ExternalProvisioning).
A volume whose claim is gone is Released and reclaimed: Retain keeps it, Delete leaves a
provisioned volume to its provisioner (which deletes it) and fails a manual one (no deleter here),
Recycle fails (no recycler). Claims that lose their volume go Lost.

Must not provision or delete storage, nor touch pods; finalizers belong to volumeprotection.py.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kubelite.api import volumebinding as vb
from kubelite.api.errors import StatusError
from kubelite.client.cache import key_of, split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller
from kubelite.controllers.events import EventRecorder

log = logging.getLogger(__name__)

Obj = dict[str, Any]

POD_CLAIM_INDEX = "pvc"  # pods by the `namespace/claim` keys of their persistentVolumeClaim volumes
CLAIM_KIND = {"kind": "PersistentVolumeClaim", "api_version": "v1"}
VOLUME_KIND = {"kind": "PersistentVolume", "api_version": "v1"}


def pod_claim_keys(pod: Obj) -> list[str]:
    namespace = str((pod.get("metadata") or {}).get("namespace") or "")
    return [key_of(namespace, name) for name in vb.pod_claim_names(pod)]


def _rv(obj: Obj | None) -> int:
    try:
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def _terminated(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class PersistentVolumeController(Controller):
    def __init__(self, client: Client, *, clock: Clock | None = None, recorder: EventRecorder | None = None):
        super().__init__(client, name="persistentvolume-binder", workers=1, clock=clock)
        self.claims = self.informer("", "v1", "persistentvolumeclaims")
        self.volumes = self.informer("", "v1", "persistentvolumes")
        self.classes = self.informer("storage.k8s.io", "v1", "storageclasses")
        self.pods = self.informer("", "v1", "pods", indexers={POD_CLAIM_INDEX: pod_claim_keys})
        self.recorder = self.event_recorder(recorder, "persistentvolume-controller")
        self.claims_client = client.resource("", "v1", "persistentvolumeclaims")
        self.volumes_client = client.resource("", "v1", "persistentvolumes")
        # what this controller wrote last, until the informers catch up (upstream's own caches)
        self._written: dict[str, Obj] = {}
        self.claims.add_handler(self.enqueue, lambda _old, new: self.enqueue(new), self._claim_deleted)
        self.volumes.add_handler(self._volume_changed, lambda _old, new: self._volume_changed(new), self._volume_deleted)
        self.classes.add_handler(self._class_changed, lambda _old, new: self._class_changed(new), lambda _obj: None)

    # ------------------------------------------------------------------ handlers
    def _claim_deleted(self, claim: Obj) -> None:
        self._written.pop("claim:" + key_of(claim["metadata"].get("namespace", ""), claim["metadata"]["name"]), None)
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name:
            self.queue.add(str(volume_name))  # its volume is released now
        for volume in self.volumes.cache.list():
            if vb.is_bound_to_claim(volume, claim) and volume["metadata"]["name"] != volume_name:
                self.enqueue(volume)

    def _volume_changed(self, volume: Obj) -> None:
        """Sync the volume; once Available it may be what a pending claim waits for (upstream
        finds those on its periodic resync)."""
        self.enqueue(volume)
        if (volume.get("status") or {}).get("phase") != "Available":
            return
        ref = (volume.get("spec") or {}).get("claimRef")
        if ref:
            self.queue.add(key_of(str(ref.get("namespace") or ""), str(ref.get("name") or "")))
            return
        for claim in self.claims.cache.list():
            if not (claim.get("spec") or {}).get("volumeName") and (claim.get("status") or {}).get("phase") == "Pending":
                self.enqueue(claim)

    def _volume_deleted(self, volume: Obj) -> None:
        self._written.pop("volume:" + volume["metadata"]["name"], None)
        ref = (volume.get("spec") or {}).get("claimRef")
        if ref and ref.get("name"):
            self.queue.add(key_of(str(ref.get("namespace") or ""), str(ref["name"])))

    def _class_changed(self, storage_class: Obj) -> None:
        """A new or changed class may be what a pending claim waited for."""
        name = storage_class["metadata"]["name"]
        for claim in self.claims.cache.list():
            if not (claim.get("spec") or {}).get("volumeName") and vb.claim_class(claim) in (name, ""):
                self.enqueue(claim)

    # ------------------------------------------------------------------ freshest copies
    def _fresh(self, kind: str, key: str, cached: Obj | None) -> Obj | None:
        written = self._written.get(f"{kind}:{key}")
        if written is None:
            return cached
        if cached is None or _rv(cached) >= _rv(written):
            self._written.pop(f"{kind}:{key}", None)
            return cached
        return written

    def claim(self, namespace: str, name: str) -> Obj | None:
        key = key_of(namespace, name)
        return self._fresh("claim", key, self.claims.cache.get(key))

    def volume(self, name: str) -> Obj | None:
        return self._fresh("volume", name, self.volumes.cache.get(name))

    def _remember(self, kind: str, obj: Obj) -> Obj:
        meta = obj["metadata"]
        key = key_of(meta.get("namespace", ""), meta["name"]) if kind == "claim" else meta["name"]
        self._written[f"{kind}:{key}"] = obj
        return obj

    def _storage_class(self, name: str) -> Obj | None:
        return self.classes.cache.get(name) if name else None

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        if "/" in key:
            namespace, name = split_key(key)
            claim = self.claim(namespace, name)
            if claim is not None:
                await self.sync_claim(claim)
        else:
            volume = self.volume(key)
            if volume is not None:
                await self.sync_volume(volume)

    async def sync_claim(self, claim: Obj) -> None:
        if vb.BIND_COMPLETED in vb.annotations_of(claim):
            await self._sync_bound_claim(claim)
        else:
            await self._sync_unbound_claim(claim)

    async def _sync_unbound_claim(self, claim: Obj) -> None:
        volume_name = str((claim.get("spec") or {}).get("volumeName") or "")
        if not volume_name:
            storage_class = self._storage_class(vb.claim_class(claim))
            delay = vb.is_delay_binding(claim, storage_class)
            volume = vb.find_matching_volume(claim, self.volumes.cache.list(), delay_binding=delay)
            if volume is not None:
                await self._bind(self.volume(volume["metadata"]["name"]) or volume, claim)
                return
            if await self._assign_default_class(claim):
                return
            if delay and vb.SELECTED_NODE not in vb.annotations_of(claim):
                self._wait_for_consumer_event(claim)
            elif vb.claim_class(claim):
                await self._provision(claim, storage_class)
                return
            else:
                self.recorder.event(
                    claim, "Normal", "FailedBinding",
                    "no persistent volumes available for this claim and no storage class is set", **CLAIM_KIND,
                )  # fmt: skip
            await self._claim_status(claim, "Pending", None)
            return
        volume = self.volume(volume_name)
        if volume is None:
            await self._claim_status(claim, "Pending", None)  # pre-bound to a volume not there (yet)
            return
        if not (volume.get("spec") or {}).get("claimRef"):
            problem = self._unsatisfied(volume, claim)
            if problem:
                self.recorder.event(claim, "Warning", "VolumeMismatch", f'Cannot bind to requested volume "{volume_name}": {problem}', **CLAIM_KIND)
                await self._claim_status(claim, "Pending", None)
                return
            await self._bind(volume, claim)
        elif vb.is_bound_to_claim(volume, claim):
            await self._bind(volume, claim)
        else:
            self.recorder.event(claim, "Warning", "FailedBinding", f'volume "{volume_name}" already bound to a different claim.', **CLAIM_KIND)
            if vb.BOUND_BY_CONTROLLER in vb.annotations_of(claim):
                raise RuntimeError(f"invalid binding of claim {key_of(claim['metadata']['namespace'], claim['metadata']['name'])} to volume {volume_name}: volume already claimed")
            await self._claim_status(claim, "Pending", None)

    @staticmethod
    def _unsatisfied(volume: Obj, claim: Obj) -> str:
        """upstream checkVolumeSatisfyClaim: why a requested volume cannot serve the claim ("" if it can)."""
        if volume["metadata"].get("deletionTimestamp"):
            return f'the volume is marked for deletion "{volume["metadata"]["name"]}"'
        if vb.volume_capacity(volume) < vb.requested_storage(claim):
            return "requested PV is too small"
        if vb.volume_class(volume) != vb.claim_class(claim):
            return "storageClassName does not match"
        if vb.volume_mode_mismatch(claim, volume):
            return "incompatible volumeMode"
        if not vb.access_modes_fit(claim, volume):
            return "incompatible accessMode"
        return ""

    def _wait_for_consumer_event(self, claim: Obj) -> None:
        meta = claim["metadata"]
        pods = [
            p["metadata"]["name"]
            for p in self.pods.cache.by_index(POD_CLAIM_INDEX, key_of(meta.get("namespace", ""), meta["name"]))
            if not _terminated(p) and not (p.get("spec") or {}).get("nodeName")
        ]
        if not pods:
            self.recorder.event(claim, "Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding", **CLAIM_KIND)
        elif len(pods) == 1:
            self.recorder.event(claim, "Normal", "WaitForPodScheduled", f"waiting for pod {pods[0]} to be scheduled", **CLAIM_KIND)
        else:
            self.recorder.event(claim, "Normal", "WaitForPodScheduled", f"waiting for pods {','.join(sorted(pods))} to be scheduled", **CLAIM_KIND)

    async def _assign_default_class(self, claim: Obj) -> bool:
        """upstream's retroactive default class: a claim asking for no class gets today's default."""
        if vb.claim_has_class(claim):
            return False
        found = vb.default_class(self.classes.cache.list())
        if found is None:
            return False
        updated = copy.deepcopy(claim)
        updated.setdefault("spec", {})["storageClassName"] = found["metadata"]["name"]
        self._remember("claim", await self.claims_client.namespace(claim["metadata"]["namespace"]).update(updated))
        return True

    async def _provision(self, claim: Obj, storage_class: Obj | None) -> None:
        """Hand the claim to its class's external provisioner (upstream provisionClaimOperationExternal)."""
        if storage_class is None:
            message = f'storageclass.storage.k8s.io "{vb.claim_class(claim)}" not found'
            self.recorder.event(claim, "Warning", "ProvisioningFailed", message, **CLAIM_KIND)
            await self._claim_status(claim, "Pending", None)
            return
        provisioner = str(storage_class.get("provisioner") or "")
        notes = vb.annotations_of(claim)
        if notes.get(vb.STORAGE_PROVISIONER) != provisioner or notes.get(vb.BETA_STORAGE_PROVISIONER) != provisioner:
            updated = copy.deepcopy(claim)
            marks = updated["metadata"].setdefault("annotations", {})
            marks[vb.STORAGE_PROVISIONER] = marks[vb.BETA_STORAGE_PROVISIONER] = provisioner
            claim = self._remember("claim", await self.claims_client.namespace(claim["metadata"]["namespace"]).update(updated))
        if provisioner != vb.NO_PROVISIONER:
            message = (
                f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually "
                "by the system administrator. If volume creation is delayed, please verify that the provisioner "
                "is running and correctly registered."
            )
            self.recorder.event(claim, "Normal", "ExternalProvisioning", message, **CLAIM_KIND)
        await self._claim_status(claim, "Pending", None)

    async def _sync_bound_claim(self, claim: Obj) -> None:
        volume_name = str((claim.get("spec") or {}).get("volumeName") or "")
        if not volume_name:
            await self._claim_status(claim, "Lost", None, ("Warning", "ClaimLost", "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!"))
            return
        volume = self.volume(volume_name)
        if volume is None:
            await self._claim_status(claim, "Lost", None, ("Warning", "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!"))
            return
        ref = (volume.get("spec") or {}).get("claimRef")
        if not ref or ref.get("uid") == claim["metadata"].get("uid"):
            await self._bind(volume, claim)
        else:
            await self._claim_status(claim, "Lost", None, ("Warning", "ClaimMisbound", "Two claims are bound to the same volume, this one is bound incorrectly"))

    async def sync_volume(self, volume: Obj) -> None:
        ref = (volume.get("spec") or {}).get("claimRef")
        if not ref or not ref.get("uid"):
            await self._volume_phase(volume, "Available")  # unused, or pre-bound to a claim not bound yet
            return
        namespace, name = str(ref.get("namespace") or ""), str(ref.get("name") or "")
        claim = self.claim(namespace, name)
        if claim is None and (volume.get("status") or {}).get("phase") not in ("Released", "Failed"):
            claim = await self._live_claim(namespace, name)  # the claim may be newer than our cache
        if claim is not None and claim["metadata"].get("uid") != ref.get("uid"):
            claim = await self._live_claim(namespace, name)
            if claim is not None and claim["metadata"].get("uid") != ref.get("uid"):
                claim = None
        if claim is None:
            if (volume.get("status") or {}).get("phase") not in ("Released", "Failed"):
                volume = await self._volume_phase(volume, "Released")
            await self._reclaim(volume)
            return
        claimed_volume = (claim.get("spec") or {}).get("volumeName")
        if not claimed_volume:
            self.enqueue(claim)  # the claim's sync finishes the binding
        elif claimed_volume == volume["metadata"]["name"]:
            await self._volume_phase(volume, "Bound")
        elif vb.PROVISIONED_BY in vb.annotations_of(volume) and (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete":
            if (volume.get("status") or {}).get("phase") not in ("Released", "Failed"):
                volume = await self._volume_phase(volume, "Released")
            await self._reclaim(volume)
        else:
            await self._unbind(volume)

    async def _live_claim(self, namespace: str, name: str) -> Obj | None:
        try:
            found: Obj = await self.claims_client.namespace(namespace).get(name)
            return found
        except StatusError as error:
            if error.code == 404:
                return None
            raise

    # ------------------------------------------------------------------ writes
    async def _bind(self, volume: Obj, claim: Obj) -> None:
        """upstream bind(): the volume's claimRef, its phase, the claim's volumeName and annotations, its phase."""
        updated, dirty = vb.bind_volume_to_claim(volume, claim)
        if dirty:
            volume = self._remember("volume", await self.volumes_client.update(updated))
        volume = await self._volume_phase(volume, "Bound")
        meta = claim["metadata"]
        clone = copy.deepcopy(claim)
        marks = clone["metadata"].setdefault("annotations", {})
        dirty = False
        if (claim.get("spec") or {}).get("volumeName") != volume["metadata"]["name"]:
            clone.setdefault("spec", {})["volumeName"] = volume["metadata"]["name"]
            marks.setdefault(vb.BOUND_BY_CONTROLLER, "yes")
            dirty = True
        if vb.BIND_COMPLETED not in marks:
            marks[vb.BIND_COMPLETED] = "yes"
            dirty = True
        if dirty:
            claim = self._remember("claim", await self.claims_client.namespace(meta["namespace"]).update(clone))
        await self._claim_status(claim, "Bound", volume)

    async def _unbind(self, volume: Obj) -> None:
        """upstream unbindVolume: forget a binding the controller made; keep a user's pre-binding."""
        clone = copy.deepcopy(volume)
        marks = clone["metadata"].get("annotations") or {}
        if vb.BOUND_BY_CONTROLLER in marks:
            clone["spec"].pop("claimRef", None)
            del marks[vb.BOUND_BY_CONTROLLER]
        else:
            clone["spec"]["claimRef"] = {k: v for k, v in clone["spec"]["claimRef"].items() if k != "uid"}
        volume = self._remember("volume", await self.volumes_client.update(clone))
        await self._volume_phase(volume, "Available")

    async def _reclaim(self, volume: Obj) -> None:
        policy = (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") or "Retain"
        if policy == "Retain":
            return
        if policy == "Recycle":
            await self._volume_phase(volume, "Failed", ("Warning", "VolumeFailedRecycle", "No recycler plugin found for the volume!"))
        elif policy == "Delete":
            if vb.PROVISIONED_BY in vb.annotations_of(volume):
                return  # its external provisioner deletes it
            message = f'error getting deleter volume plugin for volume "{volume["metadata"]["name"]}": no deletable volume plugin matched'
            await self._volume_phase(volume, "Failed", ("Warning", "VolumeFailedDelete", message))
        else:
            await self._volume_phase(volume, "Failed", ("Warning", "VolumeUnknownReclaimPolicy", "Volume has unrecognized PersistentVolumeReclaimPolicy"))

    async def _volume_phase(self, volume: Obj, phase: str, event: tuple[str, str, str] | None = None) -> Obj:
        if (volume.get("status") or {}).get("phase") == phase:
            return volume
        clone = copy.deepcopy(volume)
        clone["status"] = {**(clone.get("status") or {}), "phase": phase}
        clone["status"].pop("message", None)
        updated = self._remember("volume", await self.volumes_client.update_status(clone))
        if event is not None:
            self.recorder.event(updated, *event, **VOLUME_KIND)
        return updated

    async def _claim_status(self, claim: Obj, phase: str, volume: Obj | None, event: tuple[str, str, str] | None = None) -> Obj:
        status = dict(claim.get("status") or {})
        if event is not None and status.get("phase") == phase:
            return claim
        wanted = dict(status, phase=phase)
        if volume is None:
            wanted.pop("accessModes", None)
            wanted.pop("capacity", None)
        else:
            spec = volume.get("spec") or {}
            wanted["accessModes"] = list(spec.get("accessModes") or [])
            if vb.storage_amount((status.get("capacity") or {}).get("storage")) != vb.volume_capacity(volume) or "capacity" not in status:
                wanted["capacity"] = dict(spec.get("capacity") or {})
        if wanted == status:
            return claim
        clone = copy.deepcopy(claim)
        clone["status"] = wanted
        updated = self._remember("claim", await self.claims_client.namespace(claim["metadata"]["namespace"]).update_status(clone))
        if event is not None:
            self.recorder.event(updated, *event, **CLAIM_KIND)
        return updated
