"""InProcessTransport: the client Transport served by calling the Registry's Stores directly, for
components running inside the server process (no HTTP, no JSON encoding on the wire).

Ownership: everything returned belongs to the caller, as over HTTP. Reads use the Stores'
copying paths; write results are copied because a no-op write answers with the cached object;
every watch event's object is a deep copy of the watch cache's (so informers may keep them, and
a buggy caller that mutates one cannot corrupt what the server serves). Inputs are copied
before the Store sees them, since Store writes fill in the dict they are given.

Must not implement object semantics (the registry does) nor anything HTTP-specific.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Any

from kubelite.api import errors
from kubelite.api.jsonvalue import copy_json
from kubelite.apiserver import reviews
from kubelite.apiserver.rbac import shared_authorizer
from kubelite.client.transport import (
    DeleteOptions,
    ListOptions,
    Obj,
    PatchType,
    ResourceRef,
    WatchEvent,
    WatchOptions,
    WriteOptions,
    as_gone,
)
from kubelite.registry import store as registry_store
from kubelite.registry import subresources
from kubelite.registry.context import RequestContext, UserInfo
from kubelite.registry.registry import Registry
from kubelite.registry.store import Store

BOOKMARK_EVERY = 10.0  # seconds a watch is idle before it sends a BOOKMARK (when asked for them)
_SUCCESS_201: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _no_route() -> errors.StatusError:
    return errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})


def _without_managed_fields(obj: Obj) -> Obj:
    """A shallow copy of obj whose metadata lacks managedFields (obj itself is left alone)."""
    meta = obj.get("metadata")
    if not meta or "managedFields" not in meta:
        return obj
    trimmed = dict(obj)
    trimmed["metadata"] = {key: value for key, value in meta.items() if key != "managedFields"}
    return trimmed


class InProcessTransport:
    def __init__(
        self,
        registry: Registry,
        user: UserInfo | None = None,
        manager: str = "kubelite",
        *,
        bookmark_every: float = BOOKMARK_EVERY,
        authenticate: Callable[[str], UserInfo | None] | None = None,
        without_managed_fields: bool = False,
    ):
        """`manager` is the field manager of writes that name none (as a User-Agent is over HTTP);
        `authenticate` answers TokenReviews (none authenticate without it). With
        `without_managed_fields`, lists and watches leave out metadata.managedFields, as upstream
        components' informers trim them: they are about half of a pod and no component reads them
        (writes of objects without them keep the stored ones)."""
        self.without_managed_fields = without_managed_fields
        self.registry = registry
        self.user = user or UserInfo("system:admin", ("system:masters", "system:authenticated"))
        self.manager = manager
        self.bookmark_every = bookmark_every
        self.authenticate = authenticate or (lambda token: None)

    def _store(self, ref: ResourceRef, subresource: str = "") -> Store:
        store = self.registry.store(ref.group, ref.version, ref.resource)
        if store is None or (subresource and store.info.subresource(subresource) is None):
            raise _no_route()
        return store

    @staticmethod
    def _namespace(store: Store, namespace: str | None) -> str:
        if not store.info.namespaced:
            return ""
        if not namespace:
            raise errors.bad_request("the server could not find the requested resource: a namespace is required")
        return namespace

    @staticmethod
    def _scope(store: Store, namespace: str | None) -> str | None:
        return (namespace or None) if store.info.namespaced else None

    def _ctx(self, opts: WriteOptions) -> RequestContext:
        return RequestContext(
            user=self.user,
            dry_run=opts.dry_run,
            field_manager=opts.field_manager,
            field_validation=opts.field_validation or "Warn",
            user_agent=self.manager,
        )

    # ------------------------------------------------------------------ reads
    async def get(
        self, ref: ResourceRef, namespace: str, name: str, *, subresource: str = "", resource_version: str = ""
    ) -> Obj:
        store = self._store(ref, subresource)
        ns = self._namespace(store, namespace)
        if subresource == "scale":
            return await subresources.get_scale(store, ns, name)
        if subresource not in ("", "status"):
            raise errors.method_not_allowed(f"GET is not supported on {ref.resource}/{subresource}")
        return await store.get(ns, name, resource_version)

    async def list(self, ref: ResourceRef, namespace: str | None, opts: ListOptions) -> Obj:
        store = self._store(ref)
        result = await store.list(
            self._scope(store, namespace),
            registry_store.ListOptions(
                opts.label_selector,
                opts.field_selector,
                opts.limit,
                opts.continue_token,
                opts.resource_version,
                opts.resource_version_match,
            ),
        )
        meta: Obj = {"resourceVersion": result.resource_version}
        if result.continue_token:
            meta["continue"] = result.continue_token
        if result.remaining is not None:
            meta["remainingItemCount"] = result.remaining
        info = store.info
        items = result.items
        if self.without_managed_fields:
            items = [_without_managed_fields(item) for item in items]
        return {
            "kind": info.extra.get("list_kind") or info.list_kind,
            "apiVersion": info.api_version,
            "metadata": meta,
            "items": items,
        }

    async def watch(self, ref: ResourceRef, namespace: str | None, opts: WatchOptions) -> AsyncGenerator[WatchEvent, None]:
        store = self._store(ref)
        try:
            watcher, initial = store.watch(
                self._scope(store, namespace),
                registry_store.ListOptions(
                    opts.label_selector, opts.field_selector, resource_version=opts.resource_version
                ),
            )
        except errors.StatusError as exc:
            raise as_gone(exc) from None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + opts.timeout_seconds if opts.timeout_seconds else None
        try:
            for event_type, obj in initial:
                yield WatchEvent(event_type, self._external_copy(store, obj))
            while True:
                wait = self.bookmark_every if opts.allow_bookmarks else None
                if deadline is not None:
                    left = deadline - loop.time()
                    if left <= 0:
                        return
                    wait = left if wait is None else min(wait, left)
                batch = await watcher.next_batch(wait)
                if batch is None:
                    return  # fell behind, or the server is stopping: the caller resumes or relists
                if not batch:
                    if opts.allow_bookmarks and (deadline is None or loop.time() < deadline):
                        # every event up to the cache's revision has been handed out above
                        yield WatchEvent("BOOKMARK", _bookmark(store, store.watch_cache.revision))
                    continue
                for event_type, event in batch:
                    yield WatchEvent(event_type, self._external_copy(store, event.obj))
        finally:
            watcher.close()

    def _external_copy(self, store: Store, obj: Obj) -> Obj:
        if self.without_managed_fields:
            obj = _without_managed_fields(obj)
        return store.to_external(obj, copy=True)

    # ------------------------------------------------------------------ writes
    async def create(
        self, ref: ResourceRef, namespace: str, obj: Obj, opts: WriteOptions, *, name: str = "", subresource: str = ""
    ) -> Obj:
        store = self._store(ref, subresource)
        ctx = self._ctx(opts)
        if (ref.group, ref.resource) in reviews.REVIEW_RESOURCES and not subresource:
            return reviews.answer(ref.resource, copy_json(obj), self.user, self.authenticate, shared_authorizer(self.registry), namespace)
        ns = self._namespace(store, namespace)
        if subresource == "binding":
            await subresources.bind(store, ns, name, copy_json(obj), ctx)
            return dict(_SUCCESS_201, metadata={})
        if subresource == "eviction":
            await subresources.evict(store, ns, name, copy_json(obj), ctx)
            return dict(_SUCCESS_201, metadata={})
        if subresource == "token":
            issuer = self.registry.token_issuer
            if issuer is None:
                raise errors.service_unavailable("service account token issuing is not configured")
            result: Obj = issuer.token_request(await store.get(ns, name), copy_json(obj))
            return result
        if subresource:
            raise errors.method_not_allowed(f"POST is not supported on {ref.resource}/{subresource}")
        return await store.create(ns, copy_json(obj), ctx)  # the Store returns the copy it was given

    async def update(self, ref: ResourceRef, namespace: str, obj: Obj, opts: WriteOptions, *, subresource: str = "") -> Obj:
        store = self._store(ref, subresource)
        ns = self._namespace(store, namespace)
        name = str((obj.get("metadata") or {}).get("name") or "")
        ctx = self._ctx(opts)
        if subresource == "scale":
            return await subresources.write_scale(store, ns, name, ctx, scale=copy_json(obj))
        updated, _created = await store.update(ns, name, copy_json(obj), ctx, subresource=subresource)
        result: Obj = copy_json(updated)
        return result

    async def patch(
        self,
        ref: ResourceRef,
        namespace: str,
        name: str,
        patch_type: PatchType,
        patch: Any,
        opts: WriteOptions,
        *,
        force: bool = False,
        subresource: str = "",
    ) -> Obj:
        store = self._store(ref, subresource)
        ns = self._namespace(store, namespace)
        ctx = self._ctx(opts)
        if force and patch_type != "apply":
            raise errors.invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                [errors.cause("force", "Forbidden: may not be specified for non-apply patch", "FieldValueForbidden")],
            )
        if subresource == "scale":
            return await subresources.write_scale(store, ns, name, ctx, patch=(patch_type, copy_json(patch)))
        patched, _created = await store.patch(ns, name, patch_type, copy_json(patch), ctx, force=force, subresource=subresource)
        result: Obj = copy_json(patched)
        return result

    async def delete(self, ref: ResourceRef, namespace: str, name: str, opts: DeleteOptions) -> None:
        store = self._store(ref)
        await store.delete(self._namespace(store, namespace), name, _delete_options(opts), self._ctx(WriteOptions(dry_run=opts.dry_run)))

    async def delete_collection(
        self, ref: ResourceRef, namespace: str | None, list_opts: ListOptions, opts: DeleteOptions
    ) -> None:
        store = self._store(ref)
        await store.delete_collection(
            self._scope(store, namespace),
            registry_store.ListOptions(list_opts.label_selector, list_opts.field_selector),
            _delete_options(opts),
            self._ctx(WriteOptions(dry_run=opts.dry_run)),
        )

    async def close(self) -> None:
        return None


def _delete_options(opts: DeleteOptions) -> registry_store.DeleteOptions:
    return registry_store.DeleteOptions(
        opts.propagation_policy,
        opts.grace_period_seconds,
        opts.precondition_uid,
        opts.precondition_resource_version,
    )


def _bookmark(store: Store, revision: int) -> Obj:
    return {"kind": store.info.kind, "apiVersion": store.info.api_version, "metadata": {"resourceVersion": str(revision)}}
