"""The client facade: `Client(transport).resource("apps", "v1", "deployments").namespace("x")`
gives a `ResourceClient` with get / list / watch / create / update / update_status / patch /
apply / delete for that resource. One generic mechanism for every resource (built-ins and CRDs);
no per-kind classes.

Must not cache, retry or interpret objects; it only shapes calls for the transport.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from kubelite.client.transport import (
    DeleteOptions,
    ListOptions,
    Obj,
    PatchType,
    ResourceRef,
    Transport,
    WatchEvent,
    WatchOptions,
    WriteOptions,
)
from kubelite.schema.builtins import builtin_resources

if TYPE_CHECKING:
    from kubelite.client.sharedinformers import SharedInformers


@functools.cache
def _builtin_scopes() -> dict[tuple[str, str, str], bool]:
    return {(info.group, info.version, info.resource): info.namespaced for info in builtin_resources()}


def resource_ref(group: str, version: str, resource: str, namespaced: bool | None = None) -> ResourceRef:
    """The ref of a resource; whether it is namespaced is looked up for built-ins and must be
    given for custom resources."""
    if namespaced is None:
        found = _builtin_scopes().get((group, version, resource))
        if found is None:
            raise ValueError(f"unknown resource {resource!r} in {group or 'core'}/{version}: pass namespaced=")
        namespaced = found
    return ResourceRef(group, version, resource, namespaced)


class Client:
    """`informers`, when set, is the SharedInformers of the components built on this client
    (controllers then share one informer per resource instead of building their own)."""

    def __init__(self, transport: Transport):
        self.transport = transport
        self.informers: SharedInformers | None = None

    def resource(self, group: str, version: str, resource: str, *, namespaced: bool | None = None) -> ResourceClient:
        return ResourceClient(self.transport, resource_ref(group, version, resource, namespaced))

    def for_ref(self, ref: ResourceRef) -> ResourceClient:
        return ResourceClient(self.transport, ref)

    async def close(self) -> None:
        await self.transport.close()


class ResourceClient:
    """Calls on one resource, in one namespace or (namespace None) across all of them. Writes of a
    namespaced resource without a bound namespace use the object's metadata.namespace."""

    def __init__(self, transport: Transport, ref: ResourceRef, namespace: str | None = None):
        self.transport = transport
        self.ref = ref
        self.bound_namespace = namespace if ref.namespaced else None

    def namespace(self, namespace: str) -> ResourceClient:
        return ResourceClient(self.transport, self.ref, namespace)

    def _ns(self, obj: Obj | None = None) -> str:
        if not self.ref.namespaced:
            return ""
        if self.bound_namespace:
            return self.bound_namespace
        namespace = ((obj or {}).get("metadata") or {}).get("namespace")
        if namespace:
            return str(namespace)
        raise ValueError(f"{self.ref} is namespaced: call .namespace(name) or set metadata.namespace")

    # ------------------------------------------------------------------ reads
    async def get(self, name: str, *, resource_version: str = "", subresource: str = "") -> Obj:
        return await self.transport.get(
            self.ref, self._ns(), name, subresource=subresource, resource_version=resource_version
        )

    async def list(
        self,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
        resource_version_match: str = "",
    ) -> Obj:
        opts = ListOptions(label_selector, field_selector, limit, continue_token, resource_version, resource_version_match)
        return await self.transport.list(self.ref, self.bound_namespace, opts)

    def watch(
        self,
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        allow_bookmarks: bool = False,
        timeout_seconds: float | None = None,
    ) -> AsyncGenerator[WatchEvent, None]:
        """Events as an async generator: use `async with contextlib.aclosing(rc.watch(...)) as events`."""
        opts = WatchOptions(label_selector, field_selector, resource_version, allow_bookmarks, timeout_seconds)
        return self.transport.watch(self.ref, self.bound_namespace, opts)

    # ------------------------------------------------------------------ writes
    async def create(
        self, obj: Obj, *, field_manager: str = "", dry_run: bool = False, field_validation: str = ""
    ) -> Obj:
        return await self.transport.create(
            self.ref, self._ns(obj), obj, WriteOptions(field_manager, dry_run, field_validation)
        )

    async def create_subresource(
        self, name: str, subresource: str, body: Obj, *, field_manager: str = "", dry_run: bool = False
    ) -> Obj:
        """POST to a subresource of `name` (pods/binding, pods/eviction, serviceaccounts/token)."""
        return await self.transport.create(
            self.ref, self._ns(), body, WriteOptions(field_manager, dry_run), name=name, subresource=subresource
        )

    async def update(
        self,
        obj: Obj,
        *,
        field_manager: str = "",
        dry_run: bool = False,
        field_validation: str = "",
        subresource: str = "",
    ) -> Obj:
        return await self.transport.update(
            self.ref, self._ns(obj), obj, WriteOptions(field_manager, dry_run, field_validation), subresource=subresource
        )

    async def update_status(self, obj: Obj, *, field_manager: str = "", dry_run: bool = False) -> Obj:
        return await self.update(obj, field_manager=field_manager, dry_run=dry_run, subresource="status")

    async def patch(
        self,
        name: str,
        patch: Any,
        patch_type: PatchType = "merge",
        *,
        field_manager: str = "",
        dry_run: bool = False,
        field_validation: str = "",
        force: bool = False,
        subresource: str = "",
    ) -> Obj:
        return await self.transport.patch(
            self.ref,
            self._ns(),
            name,
            patch_type,
            patch,
            WriteOptions(field_manager, dry_run, field_validation),
            force=force,
            subresource=subresource,
        )

    async def apply(
        self, obj: Obj, *, field_manager: str, force: bool = False, dry_run: bool = False, subresource: str = ""
    ) -> Obj:
        """Server-side apply of `obj` (a partial object naming apiVersion, kind and metadata.name)."""
        name = (obj.get("metadata") or {}).get("name") or ""
        return await self.transport.patch(
            self.ref,
            self._ns(obj),
            name,
            "apply",
            obj,
            WriteOptions(field_manager, dry_run),
            force=force,
            subresource=subresource,
        )

    async def delete(
        self,
        name: str,
        *,
        propagation_policy: str = "",
        grace_period_seconds: int | None = None,
        uid: str = "",
        resource_version: str = "",
        dry_run: bool = False,
    ) -> None:
        """Delete; `uid` / `resource_version` are preconditions."""
        opts = DeleteOptions(propagation_policy, grace_period_seconds, uid, resource_version, dry_run)
        await self.transport.delete(self.ref, self._ns(), name, opts)

    async def delete_collection(
        self,
        *,
        label_selector: str = "",
        field_selector: str = "",
        propagation_policy: str = "",
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
    ) -> None:
        await self.transport.delete_collection(
            self.ref,
            self.bound_namespace,
            ListOptions(label_selector, field_selector),
            DeleteOptions(propagation_policy, grace_period_seconds, dry_run=dry_run),
        )
