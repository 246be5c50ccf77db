"""Two storage admission plugins, as upstream's:

- DefaultStorageClass: a new PersistentVolumeClaim that asks for no class (neither
  spec.storageClassName nor the beta annotation; "" counts as asking for none) gets the default
  StorageClass's name — of several defaults, the newest.
- StorageObjectInUseProtection: a new claim gets the kubernetes.io/pvc-protection finalizer and a
  new volume kubernetes.io/pv-protection, so neither disappears while in use. Only while a
  controller manager runs (`registry.volume_protection_running`): it is what removes them.

Must not look at anything but claim and volume creates, nor write any other object.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.volumebinding import PV_PROTECTION, PVC_PROTECTION, claim_has_class, default_class
from kubelite.registry.admission import AdmissionRequest

Obj = dict[str, Any]

STORAGE_CLASS_PREFIX = "/registry/storage.k8s.io/storageclasses/"
_CLAIMS = ("", "persistentvolumeclaims")
_VOLUMES = ("", "persistentvolumes")


def _is_create(request: AdmissionRequest) -> bool:
    return request.old is None and not request.subresource


class DefaultStorageClass:
    name = "DefaultStorageClass"

    def handles(self, group: str, resource: str) -> bool:
        return (group, resource) == _CLAIMS

    async def mutate(self, request: AdmissionRequest) -> None:
        if not _is_create(request) or claim_has_class(request.obj):
            return
        held = request.registry.watch_cache.cache(STORAGE_CLASS_PREFIX).by_namespace.get("") or {}
        found = default_class(held.values())
        if found is not None:
            request.obj.setdefault("spec", {})["storageClassName"] = found["metadata"]["name"]

    async def validate(self, request: AdmissionRequest) -> None:
        return None


class StorageObjectInUseProtection:
    name = "StorageObjectInUseProtection"

    def handles(self, group: str, resource: str) -> bool:
        return (group, resource) in (_CLAIMS, _VOLUMES)

    async def mutate(self, request: AdmissionRequest) -> None:
        if not _is_create(request) or not request.registry.volume_protection_running:
            return
        finalizer = PVC_PROTECTION if request.info.resource == "persistentvolumeclaims" else PV_PROTECTION
        finalizers = request.obj.setdefault("metadata", {}).setdefault("finalizers", [])
        if finalizer not in finalizers:
            finalizers.append(finalizer)

    async def validate(self, request: AdmissionRequest) -> None:
        return None
