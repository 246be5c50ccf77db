"""The garbage collector, as upstream's (pkg/controller/garbagecollector): informers over every
listable, watchable, deletable resource keep a graph of ownerReferences (each informer indexes its
objects by uid and by owner uid), and two kinds of work items act on it:

- `delete:<uid>` — an object whose owners may be gone: when no owner is solid (every owner is
  absent, has another uid, or is deleting its dependents in the foreground) the object is deleted
  (Background, or as its own orphan/foregroundDeletion finalizer says; Foreground when it waits on
  a foreground owner and has dependents itself). References to dangling or waiting owners beside
  a solid one are removed instead. An object holding `foregroundDeletion` loses that finalizer
  once no dependent with blockOwnerDeletion remains (the others are deleted meanwhile).
- `orphan:<uid>` — an object deleted with the `orphan` finalizer: its dependents lose their
  references to it, then the finalizer is removed.

Owners not in the caches are looked up live (a cache may lag); uids found absent are remembered.
Must not decide what gets the finalizers (the API server does) and must not touch events.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.cache import OWNER_UID_INDEX, index_by_owner_uid
from kubelite.client.client import Client, ResourceClient
from kubelite.client.clock import Clock
from kubelite.client.informer import Informer
from kubelite.client.transport import ResourceRef
from kubelite.controllers.base import Controller
from kubelite.schema.builtins import builtin_resources
from kubelite.schema.catalogue import ResourceInfo

log = logging.getLogger(__name__)

Obj = dict[str, Any]

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
UID_INDEX = "uid"
ABSENT_OWNER_CACHE_SIZE = 500
# upstream's DefaultIgnoredResources: events are never owners worth collecting for
IGNORED_RESOURCES = frozenset({("", "events"), ("events.k8s.io", "events")})
_NEEDED_VERBS = ("list", "watch", "delete")


def _index_by_uid(obj: Obj) -> list[str]:
    uid = (obj.get("metadata") or {}).get("uid")
    return [uid] if uid else []


def collectable_resources(resources: Iterable[ResourceInfo]) -> list[ResourceInfo]:
    """The resources to watch: listable, watchable and deletable, not ignored, one version per
    storage (the first given, i.e. the preferred one)."""
    chosen: list[ResourceInfo] = []
    storages: set[str] = set()
    for info in resources:
        if (info.group, info.resource) in IGNORED_RESOURCES or not all(v in info.verbs for v in _NEEDED_VERBS):
            continue
        prefix = info.storage_prefix()
        if prefix in storages:
            continue
        storages.add(prefix)
        chosen.append(info)
    return chosen


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _finalizers(obj: Obj) -> list[str]:
    return list(_meta(obj).get("finalizers") or [])


def _deleting_dependents(obj: Obj) -> bool:
    return bool(_meta(obj).get("deletionTimestamp")) and FOREGROUND in _finalizers(obj)


def _orphaning(obj: Obj) -> bool:
    return bool(_meta(obj).get("deletionTimestamp")) and ORPHAN in _finalizers(obj)


def _owner_refs(obj: Obj) -> list[Obj]:
    return list(_meta(obj).get("ownerReferences") or [])


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class _NamespacedOwnerOfClusterScopedObject(Exception):
    """A cluster-scoped object names a namespaced owner: unresolvable, not worth retrying."""


class GarbageCollector(Controller):
    def __init__(
        self,
        client: Client,
        *,
        resources: Iterable[ResourceInfo] | None = None,
        workers: int = 4,
        clock: Clock | None = None,
    ):
        """`resources` to watch default to every built-in one (custom resources may be passed too)."""
        super().__init__(client, name="garbage-collector", workers=workers, clock=clock)
        self._by_kind: dict[tuple[str, str], ResourceInfo] = {}  # (group, kind) -> watched resource
        self._by_gvk: dict[tuple[str, str, str], ResourceInfo] = {}
        self._absent: OrderedDict[str, None] = OrderedDict()  # uids known not to exist
        self._informers_by_ref: list[tuple[ResourceRef, Informer]] = []
        for info in collectable_resources(resources if resources is not None else builtin_resources()):
            self._by_kind.setdefault((info.group, info.kind), info)
            self._by_gvk[(info.group, info.version, info.kind)] = info
            informer = self.informer(
                info.group,
                info.version,
                info.resource,
                namespaced=info.namespaced,
                indexers={UID_INDEX: _index_by_uid, OWNER_UID_INDEX: index_by_owner_uid},
            )
            informer.add_handler(self._on_add, self._on_update, self._on_delete)
            self._informers_by_ref.append((ResourceRef(info.group, info.version, info.resource, info.namespaced), informer))

    # ------------------------------------------------------------------ graph queries
    def find(self, uid: str) -> tuple[ResourceRef, Obj] | None:
        """The cached object with this uid and its resource."""
        for ref, informer in self._informers_by_ref:
            found = informer.cache.by_index(UID_INDEX, uid)
            if found:
                return ref, found[0]
        return None

    def dependents(self, uid: str) -> list[Obj]:
        """Cached objects with an ownerReference to this uid."""
        found: list[Obj] = []
        for _ref, informer in self._informers_by_ref:
            found.extend(informer.cache.by_index(OWNER_UID_INDEX, uid))
        return found

    def _blocking_dependents(self, uid: str) -> list[Obj]:
        return [
            dep
            for dep in self.dependents(uid)
            if any(r.get("uid") == uid and r.get("blockOwnerDeletion") for r in _owner_refs(dep))
        ]

    # ------------------------------------------------------------------ graph changes (no I/O)
    def _enqueue_delete(self, uid: str) -> None:
        self.queue.add(f"delete:{uid}")

    def _enqueue_dependents(self, uid: str) -> None:
        for dep in self.dependents(uid):
            dep_uid = _meta(dep).get("uid")
            if dep_uid:
                self._enqueue_delete(dep_uid)

    def _observe(self, obj: Obj) -> None:
        uid = _meta(obj).get("uid") or ""
        if not uid:
            return
        if _orphaning(obj):
            self.queue.add(f"orphan:{uid}")
        if _deleting_dependents(obj):
            self._enqueue_delete(uid)
            self._enqueue_dependents(uid)
        if any(ref.get("uid") and self.find(ref["uid"]) is None for ref in _owner_refs(obj)):
            self._enqueue_delete(uid)  # an owner we have not seen: verify it exists

    def _on_add(self, obj: Obj) -> None:
        self._observe(obj)

    def _on_update(self, old: Obj, new: Obj) -> None:
        self._observe(new)
        old_refs = {r.get("uid"): bool(r.get("blockOwnerDeletion")) for r in _owner_refs(old)}
        new_refs = {r.get("uid"): bool(r.get("blockOwnerDeletion")) for r in _owner_refs(new)}
        if old_refs != new_refs:
            # owners dropped or unblocked may be waiting on this object in the foreground
            for owner_uid, blocked in old_refs.items():
                if owner_uid and blocked and not new_refs.get(owner_uid):
                    self._enqueue_if_deleting_dependents(owner_uid)
            if any(uid not in old_refs for uid in new_refs):
                self._enqueue_delete(_meta(new).get("uid") or "")

    def _on_delete(self, obj: Obj) -> None:
        uid = _meta(obj).get("uid") or ""
        if uid:
            self._remember_absent(uid)
            self._enqueue_dependents(uid)
        for ref in _owner_refs(obj):
            if ref.get("uid"):
                self._enqueue_if_deleting_dependents(ref["uid"])  # it may be waiting on us

    def _enqueue_if_deleting_dependents(self, uid: str) -> None:
        found = self.find(uid)
        if found is not None and _deleting_dependents(found[1]):
            self._enqueue_delete(uid)

    def _remember_absent(self, uid: str) -> None:
        self._absent[uid] = None
        self._absent.move_to_end(uid)
        while len(self._absent) > ABSENT_OWNER_CACHE_SIZE:
            self._absent.popitem(last=False)

    # ------------------------------------------------------------------ work
    async def sync(self, key: str) -> None:
        action, _, uid = key.partition(":")
        if not uid:
            return
        if action == "orphan":
            await self._orphan_dependents(uid)
        else:
            await self._attempt_to_delete(uid)

    async def _attempt_to_delete(self, uid: str) -> None:
        found = self.find(uid)
        if found is None:
            return  # gone: its dependents were queued when it went
        ref, obj = found
        meta = _meta(obj)
        if meta.get("deletionTimestamp") and FOREGROUND not in _finalizers(obj):
            return  # already going away
        if _deleting_dependents(obj):
            await self._process_deleting_dependents(ref, obj)
            return
        owner_refs = _owner_refs(obj)
        if not owner_refs:
            return
        solid: list[Obj] = []
        dangling: list[Obj] = []
        waiting: list[Obj] = []
        for owner_ref in owner_refs:
            try:
                owner = await self._owner(obj, ref, owner_ref)
            except _NamespacedOwnerOfClusterScopedObject:
                log.info("%s: cluster-scoped %s names namespaced owner %s", self.name, meta.get("name"), owner_ref)
                return
            if owner is None:
                dangling.append(owner_ref)
            elif _deleting_dependents(owner):
                waiting.append(owner_ref)
            else:
                solid.append(owner_ref)
        client = self._client_for(ref, obj)
        if solid:
            if dangling or waiting:
                gone = {r.get("uid") for r in dangling + waiting}
                kept = [r for r in owner_refs if r.get("uid") not in gone]
                await self._patch_owner_refs(client, obj, kept)
            return
        if waiting and self.dependents(uid):
            if any(_deleting_dependents(dep) for dep in self.dependents(uid)):
                # break a possible cycle of foreground deletions: stop blocking our owners
                unblocked = [{**r, "blockOwnerDeletion": False} if r.get("blockOwnerDeletion") else r for r in owner_refs]
                await self._patch_owner_refs(client, obj, unblocked)
            await self._delete(client, obj, "Foreground")
            return
        finalizers = _finalizers(obj)
        policy = "Orphan" if ORPHAN in finalizers else "Foreground" if FOREGROUND in finalizers else "Background"
        await self._delete(client, obj, policy)

    async def _process_deleting_dependents(self, ref: ResourceRef, obj: Obj) -> None:
        uid = _meta(obj)["uid"]
        blocking = self._blocking_dependents(uid)
        if not blocking:
            await self._remove_finalizer(self._client_for(ref, obj), obj, FOREGROUND)
            return
        for dep in blocking:
            if not _deleting_dependents(dep):
                self._enqueue_delete(_meta(dep).get("uid") or "")

    async def _orphan_dependents(self, uid: str) -> None:
        found = self.find(uid)
        if found is None:
            return
        ref, obj = found
        if not _orphaning(obj):
            return
        for dep in self.dependents(uid):
            dep_ref = self._ref_of(dep)
            if dep_ref is None:
                continue
            kept = [r for r in _owner_refs(dep) if r.get("uid") != uid]
            await self._patch_owner_refs(self._client_for(dep_ref, dep), dep, kept)
        await self._remove_finalizer(self._client_for(ref, obj), obj, ORPHAN)

    # ------------------------------------------------------------------ lookups
    def _info_for(self, api_version: str, kind: str) -> ResourceInfo | None:
        group, version = _split_api_version(api_version)
        return self._by_gvk.get((group, version, kind)) or self._by_kind.get((group, kind))

    def _ref_of(self, obj: Obj) -> ResourceRef | None:
        info = self._info_for(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))
        if info is not None:
            return ResourceRef(info.group, info.version, info.resource, info.namespaced)
        found = self.find(_meta(obj).get("uid") or "")
        return found[0] if found else None

    def _client_for(self, ref: ResourceRef, obj: Obj) -> ResourceClient:
        client = self.client.for_ref(ref)
        return client.namespace(_meta(obj).get("namespace") or "") if ref.namespaced else client

    async def _owner(self, dependent: Obj, dependent_ref: ResourceRef, owner_ref: Obj) -> Obj | None:
        """The owner named by `owner_ref` if it exists with that uid, else None."""
        owner_uid = owner_ref.get("uid") or ""
        cached = self.find(owner_uid)
        if cached is not None:
            return cached[1]
        if owner_uid in self._absent:
            return None
        info = self._info_for(str(owner_ref.get("apiVersion") or ""), str(owner_ref.get("kind") or ""))
        if info is None:
            raise StatusError(
                404, "NotFound", f"unable to resolve owner kind {owner_ref.get('kind')} in {owner_ref.get('apiVersion')}"
            )
        if info.namespaced and not dependent_ref.namespaced:
            raise _NamespacedOwnerOfClusterScopedObject()
        client = self.client.resource(info.group, info.version, info.resource, namespaced=info.namespaced)
        if info.namespaced:
            client = client.namespace(_meta(dependent).get("namespace") or "")
        try:
            owner = await client.get(str(owner_ref.get("name") or ""))
        except StatusError as err:
            if err.code != 404:
                raise
            self._remember_absent(owner_uid)
            return None
        if _meta(owner).get("uid") != owner_uid:
            self._remember_absent(owner_uid)
            return None
        return owner

    # ------------------------------------------------------------------ writes
    async def _patch_owner_refs(self, client: ResourceClient, obj: Obj, refs: list[Obj]) -> None:
        meta = _meta(obj)
        patch = {"metadata": {"ownerReferences": refs or None, "resourceVersion": meta.get("resourceVersion")}}
        try:
            await client.patch(meta["name"], patch, "merge", field_manager="garbage-collector")
        except StatusError as err:
            if err.code != 404:
                raise

    async def _delete(self, client: ResourceClient, obj: Obj, policy: str) -> None:
        meta = _meta(obj)
        try:
            await client.delete(meta["name"], propagation_policy=policy, uid=meta.get("uid") or "")
        except StatusError as err:
            if err.code not in (404, 409):  # gone, or replaced by another object of that name
                raise

    async def _remove_finalizer(self, client: ResourceClient, obj: Obj, finalizer: str) -> None:
        meta = _meta(obj)
        try:
            current = await client.get(meta["name"])
        except StatusError as err:
            if err.code == 404:
                return
            raise
        current_meta = _meta(current)
        if current_meta.get("uid") != meta.get("uid") or finalizer not in _finalizers(current):
            return
        kept = [f for f in _finalizers(current) if f != finalizer]
        patch = {"metadata": {"finalizers": kept or None, "resourceVersion": current_meta.get("resourceVersion")}}
        try:
            await client.patch(meta["name"], patch, "merge", field_manager="garbage-collector")
        except StatusError as err:
            if err.code != 404:
                raise
