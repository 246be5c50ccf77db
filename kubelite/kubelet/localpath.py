"""The local-path provisioner, as k3s ships rancher's local-path-provisioner: StorageClass
provisioner `rancher.io/local-path`, run for the nodes of one process (a real node, or a pool of
hollow nodes). It watches claims and volumes through the node's Client and, one at a time:

- provisions a claim the PV controller handed to it (storage-provisioner annotation naming it)
  whose selected-node is this node: a directory DATA/storage/pvc-<uid>_<namespace>_<name> (mode
  0777), then the PV `pvc-<uid>`: hostPath DirectoryOrCreate, node affinity
  kubernetes.io/hostname In [node], claimRef to the claim, pv.kubernetes.io/provisioned-by, the
  claim's size, access modes and volume mode, the class's reclaim policy and mount options (events
  Provisioning, then ProvisioningSucceeded; on failure ProvisioningFailed and the selected-node
  annotation removed so the scheduler picks again);
- deletes a Released volume with reclaim policy Delete that it provisioned on its nodes: the
  directory, then the PV.

For hollow nodes (`hollow=True`) the same objects are made but no directory is (hollow pods mount
nothing). It runs on the generic controller loop (client/controller.py) with one worker; its keys
are `claim:<namespace>/<name>` and `volume:<name>`. Must not bind claims (the PV controller does),
nor touch a directory outside its base dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any

from kubelite.api import volumebinding as vb
from kubelite.api.errors import StatusError
from kubelite.client.cache import key_of
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.client.controller import Controller

log = logging.getLogger(__name__)

Obj = dict[str, Any]

PROVISIONER_NAME = "rancher.io/local-path"
HOSTNAME_LABEL = "kubernetes.io/hostname"
SUPPORTED_ACCESS_MODES = ("ReadWriteOnce", "ReadWriteOncePod")


def volume_dir_name(claim: Obj) -> str:
    meta = claim["metadata"]
    return f"pvc-{meta['uid']}_{meta['namespace']}_{meta['name']}"


def _stamp(seconds: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class LocalPathProvisioner(Controller):
    def __init__(
        self,
        client: Client,
        nodes: Collection[str],
        base_dir: Path,
        clock: Clock | None = None,
        *,
        name: str = PROVISIONER_NAME,
        hollow: bool = False,
    ):
        """`nodes`: the names of the nodes it serves; `base_dir`: where volumes' directories go
        (DATA/storage); `hollow`: name directories there without making or removing them."""
        self.nodes = nodes if isinstance(nodes, set | frozenset) else frozenset(nodes)
        self.node_name = next(iter(self.nodes)) if len(self.nodes) == 1 else f"{len(self.nodes)} nodes"
        super().__init__(client, name=f"local-path {self.node_name}", workers=1, clock=clock)
        self.base_dir = base_dir
        self.provisioner_name = name
        self.hollow = hollow
        self.identity = f"{name}_{self.node_name}"
        self.claims_client = client.resource("", "v1", "persistentvolumeclaims")
        self.volumes_client = client.resource("", "v1", "persistentvolumes")
        self.events = client.resource("", "v1", "events")
        self.classes = self.informer("storage.k8s.io", "v1", "storageclasses")
        self.claims = self.informer("", "v1", "persistentvolumeclaims")
        self.volumes = self.informer("", "v1", "persistentvolumes")
        self.claims.add_handler(self._claim_changed, lambda _old, new: self._claim_changed(new), lambda _obj: None)
        self.volumes.add_handler(self._volume_changed, lambda _old, new: self._volume_changed(new), lambda _obj: None)

    # ------------------------------------------------------------------ what concerns this node
    def _claim_changed(self, claim: Obj) -> None:
        if self.wants_to_provision(claim):
            meta = claim["metadata"]
            self.queue.add("claim:" + key_of(meta["namespace"], meta["name"]))

    def _volume_changed(self, volume: Obj) -> None:
        if self.wants_to_delete(volume):
            self.queue.add("volume:" + volume["metadata"]["name"])

    def wants_to_provision(self, claim: Obj) -> bool:
        notes = vb.annotations_of(claim)
        asked = notes.get(vb.STORAGE_PROVISIONER) or notes.get(vb.BETA_STORAGE_PROVISIONER)
        return (
            asked == self.provisioner_name
            and notes.get(vb.SELECTED_NODE) in self.nodes
            and not (claim.get("spec") or {}).get("volumeName")
            and not claim["metadata"].get("deletionTimestamp")
        )

    def wants_to_delete(self, volume: Obj) -> bool:
        spec = volume.get("spec") or {}
        return (
            (volume.get("status") or {}).get("phase") == "Released"
            and spec.get("persistentVolumeReclaimPolicy") == "Delete"
            and vb.annotations_of(volume).get(vb.PROVISIONED_BY) == self.provisioner_name
            and self._node_of(volume) in self.nodes
        )

    @staticmethod
    def _node_of(volume: Obj) -> str:
        """The node a local-path volume lives on (its node affinity's one hostname)."""
        for term in (((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or ():
            for expression in term.get("matchExpressions") or ():
                values = expression.get("values") or []
                if expression.get("key") == HOSTNAME_LABEL and expression.get("operator") == "In" and len(values) == 1:
                    return str(values[0])
        return ""

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        if kind == "claim":
            claim = self.claims.cache.get(rest)
            if claim is not None and self.wants_to_provision(claim):
                await self.provision(claim)
        else:
            volume = self.volumes.cache.get(rest)
            if volume is not None and self.wants_to_delete(volume):
                await self.delete(volume)

    async def provision(self, claim: Obj) -> None:
        meta = claim["metadata"]
        pv_name = f"pvc-{meta['uid']}"
        if self.volumes.cache.get(pv_name) is not None:
            return
        class_name = vb.claim_class(claim)
        storage_class = self.classes.cache.get(class_name) if class_name else None
        if storage_class is None or storage_class.get("provisioner") != self.provisioner_name:
            return
        await self._event(claim, "Normal", "Provisioning", f'External provisioner is provisioning volume for claim "{meta["namespace"]}/{meta["name"]}"')
        spec = claim.get("spec") or {}
        modes = list(spec.get("accessModes") or ["ReadWriteOnce"])
        unsupported = [m for m in modes if m not in SUPPORTED_ACCESS_MODES]
        if unsupported:
            await self._fail(claim, class_name, "Only support ReadWriteOnce and ReadWriteOncePod access modes")
            return
        node = vb.annotations_of(claim).get(vb.SELECTED_NODE) or ""
        directory = self.base_dir / volume_dir_name(claim)
        try:
            if not self.hollow:
                await asyncio.to_thread(self._make_dir, directory)
        except OSError as error:
            await self._fail(claim, class_name, str(error))
            return
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage") or "0"
        volume: Obj = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv_name, "annotations": {vb.PROVISIONED_BY: self.provisioner_name}},
            "spec": {
                "accessModes": modes,
                "capacity": {"storage": storage},
                "claimRef": vb.claim_reference(claim),
                "hostPath": {"path": str(directory), "type": "DirectoryOrCreate"},
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}
                        ]
                    }
                },
                "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
                "storageClassName": class_name,
                "volumeMode": spec.get("volumeMode") or "Filesystem",
            },
        }
        if storage_class.get("mountOptions"):
            volume["spec"]["mountOptions"] = list(storage_class["mountOptions"])
        try:
            await self.volumes_client.create(volume)
        except StatusError as error:
            if error.code != 409:
                raise
        await self._event(claim, "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {pv_name}")

    def _make_dir(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o777)

    async def _fail(self, claim: Obj, class_name: str, why: str) -> None:
        """ProvisioningFailed, and the scheduler told to choose again (selected-node removed)."""
        meta = claim["metadata"]
        await self._event(claim, "Warning", "ProvisioningFailed", f'failed to provision volume with StorageClass "{class_name}": {why}')
        patch = {"metadata": {"annotations": {vb.SELECTED_NODE: None}}}
        with contextlib.suppress(StatusError):
            await self.claims_client.namespace(meta["namespace"]).patch(meta["name"], patch)

    async def delete(self, volume: Obj) -> None:
        name = volume["metadata"]["name"]
        path = Path(str(((volume.get("spec") or {}).get("hostPath") or (volume.get("spec") or {}).get("local") or {}).get("path") or ""))
        if self.hollow:
            pass
        elif path.parent == self.base_dir and path.name.startswith("pvc-"):
            await asyncio.to_thread(shutil.rmtree, path, True)
        else:
            log.warning("local-path %s: volume %s path %s is outside %s: left alone", self.node_name, name, path, self.base_dir)
        try:
            await self.volumes_client.delete(name, uid=str(volume["metadata"].get("uid") or ""))
        except StatusError as error:
            if error.code not in (404, 409):
                raise

    async def _event(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        meta = obj["metadata"]
        now = _stamp(self.clock.time())
        namespace = str(meta.get("namespace") or "default")
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta.get("namespace", ""),
                "name": meta["name"],
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "type": event_type,
            "reason": reason,
            "message": message,
            "source": {"component": self.identity},
            "reportingComponent": self.provisioner_name,
            "reportingInstance": self.identity,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.events.namespace(namespace).create(event)
        except StatusError as error:
            log.info("local-path %s: recording %s: %s", self.node_name, reason, error)
