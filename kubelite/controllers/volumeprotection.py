"""The pvc-protection and pv-protection controllers, after upstream
pkg/controller/volume/{pvcprotection,pvprotection}: claims carry kubernetes.io/pvc-protection and
volumes kubernetes.io/pv-protection (admission adds them on create; this adds them to older
objects). A deleted claim keeps its finalizer — `kubectl get` shows Terminating — while a scheduled
pod that names it exists (asked of the informer, then of the API before letting go); a deleted
volume keeps its finalizer while it is Bound.

Must not bind, release or delete anything: it only adds and removes the two finalizers.
"""

from __future__ import annotations

import copy
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.api.volumebinding import PV_PROTECTION, PVC_PROTECTION, pod_claim_names
from kubelite.client.cache import key_of
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller
from kubelite.controllers.persistentvolume import POD_CLAIM_INDEX, PersistentVolumeController, pod_claim_keys

Obj = dict[str, Any]


def _uses(pod: Obj, claim_name: str) -> bool:
    """upstream podUsesPVC: only a scheduled pod counts (the kubelet refuses a deleted claim)."""
    return bool((pod.get("spec") or {}).get("nodeName")) and claim_name in pod_claim_names(pod)


class VolumeProtectionController(Controller):
    def __init__(self, client: Client, *, clock: Clock | None = None):
        super().__init__(client, name="volume-protection", workers=1, clock=clock)
        self.claims = self.informer("", "v1", "persistentvolumeclaims")
        self.volumes = self.informer("", "v1", "persistentvolumes")
        self.pods = self.informer("", "v1", "pods", indexers={POD_CLAIM_INDEX: pod_claim_keys})
        self.claims_client = client.resource("", "v1", "persistentvolumeclaims")
        self.volumes_client = client.resource("", "v1", "persistentvolumes")
        self.pods_client = client.resource("", "v1", "pods")
        self.claims.add_handler(self._claim_changed, lambda _old, new: self._claim_changed(new), lambda _obj: None)
        self.volumes.add_handler(self._volume_changed, lambda _old, new: self._volume_changed(new), lambda _obj: None)
        self.pods.add_handler(lambda _pod: None, self._pod_updated, self._pod_gone)

    # ------------------------------------------------------------------ handlers
    @staticmethod
    def _needs_work(obj: Obj, finalizer: str) -> bool:
        meta = obj.get("metadata") or {}
        has = finalizer in (meta.get("finalizers") or ())
        return has if meta.get("deletionTimestamp") else not has

    def _claim_changed(self, claim: Obj) -> None:
        if self._needs_work(claim, PVC_PROTECTION):
            self.enqueue(claim)

    def _volume_changed(self, volume: Obj) -> None:
        if self._needs_work(volume, PV_PROTECTION):
            self.enqueue(volume)

    def _pod_gone(self, pod: Obj) -> None:
        for key in pod_claim_keys(pod):
            claim = self.claims.cache.get(key)
            if claim is not None and claim["metadata"].get("deletionTimestamp"):
                self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if not (old.get("spec") or {}).get("nodeName") and (new.get("spec") or {}).get("nodeName"):
            return  # a pod just scheduled only adds a user
        if new["metadata"].get("deletionTimestamp"):
            self._pod_gone(new)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        if "/" in key:
            claim = self.claims.cache.get(key)
            if claim is not None:
                await self._sync_claim(claim)
        else:
            volume = self.volumes.cache.get(key)
            if volume is not None:
                await self._sync_volume(volume)

    async def _sync_claim(self, claim: Obj) -> None:
        meta = claim["metadata"]
        finalizers = list(meta.get("finalizers") or ())
        client = self.claims_client.namespace(meta["namespace"])
        if not meta.get("deletionTimestamp"):
            if PVC_PROTECTION not in finalizers:
                await self._set_finalizers(client, claim, [*finalizers, PVC_PROTECTION])
            return
        if PVC_PROTECTION not in finalizers or await self._in_use(claim):
            return
        await self._set_finalizers(client, claim, [f for f in finalizers if f != PVC_PROTECTION])

    async def _in_use(self, claim: Obj) -> bool:
        meta = claim["metadata"]
        name = meta["name"]
        cached = self.pods.cache.by_index(POD_CLAIM_INDEX, key_of(meta["namespace"], name))
        if any(_uses(pod, name) for pod in cached):
            return True
        listed = await self.pods_client.namespace(meta["namespace"]).list()  # the cache may lag a new pod
        return any(_uses(pod, name) for pod in listed.get("items") or ())

    async def _sync_volume(self, volume: Obj) -> None:
        meta = volume["metadata"]
        finalizers = list(meta.get("finalizers") or ())
        if not meta.get("deletionTimestamp"):
            if PV_PROTECTION not in finalizers:
                await self._set_finalizers(self.volumes_client, volume, [*finalizers, PV_PROTECTION])
            return
        if PV_PROTECTION in finalizers and (volume.get("status") or {}).get("phase") != "Bound":
            await self._set_finalizers(self.volumes_client, volume, [f for f in finalizers if f != PV_PROTECTION])

    @staticmethod
    async def _set_finalizers(client: Any, obj: Obj, finalizers: list[str]) -> None:
        updated = copy.deepcopy(obj)
        updated["metadata"]["finalizers"] = finalizers
        try:
            await client.update(updated)
        except StatusError as error:
            if error.code != 404:
                raise



def storage_controllers(client: Client) -> list[Controller]:
    """The controller manager's volume controllers: the PV binder and the protection controllers."""
    return [PersistentVolumeController(client), VolumeProtectionController(client)]
