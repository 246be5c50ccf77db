"""The Registry: one Store per served resource version over one backend and one watch cache, plus
the cross-resource questions stores ask (does this namespace exist, which cluster IPs are used).
CRDs become served resources here, and their status is kept Established.

Must not know about HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from kubelite.api import errors
from kubelite.registry.allocators import NodePortAllocator, ServiceIPAllocator
from kubelite.registry.context import RequestContext
from kubelite.registry.crds import CLEANUP_FINALIZER, established_status, served_resources
from kubelite.registry.kinds import strategy_for
from kubelite.registry.objectschema import BuiltinSchema, CustomSchema
from kubelite.registry.store import DeleteOptions, ListOptions, Store
from kubelite.registry.strategy import Strategy
from kubelite.registry.watchcache import CachedEvent, WatchCache
from kubelite.schema.catalogue import Catalogue, ResourceInfo
from kubelite.schema.conversion import convert
from kubelite.schema.definitions import Definitions
from kubelite.storage.backend import Backend

log = logging.getLogger(__name__)

Obj = dict[str, Any]

CRD_PREFIX = "/registry/apiextensions.k8s.io/customresourcedefinitions/"
COMPACT_EVERY_SECONDS = 60.0
COMPACT_KEEP_SECONDS = 300.0


class Registry:
    def __init__(self, backend: Backend, catalogue: Catalogue, definitions: Definitions):
        self.backend = backend
        self.catalogue = catalogue
        self.definitions = definitions
        self.watch_cache = WatchCache(backend)
        self.stores: dict[tuple[str, str, str], Store] = {}
        self.ips = ServiceIPAllocator()
        self.ports = NodePortAllocator()
        self.crd_schemas: dict[tuple[str, str], dict[str, Any]] = {}  # (group, version) kind -> schema
        self.on_catalogue_change: list[Callable[[], None]] = []
        self.token_issuer: Any = None  # set by the server when service account tokens are configured
        self._tasks: list[asyncio.Task[None]] = []
        self._crd_versions: dict[str, list[tuple[str, str, str]]] = {}

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self.backend.start()
        await self.watch_cache.start()
        for info in list(self.catalogue):
            self._add_store(info)
        crd_cache = self.watch_cache.cache(CRD_PREFIX)
        for _ns, _name, crd in crd_cache.iter_sorted(None):
            self._serve_crd(crd)
        self.watch_cache.add_listener(CRD_PREFIX, self._on_crd_event)
        self._tasks.append(asyncio.create_task(self._compaction_loop(), name="compaction"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.watch_cache.stop()
        await self.backend.close()

    def _add_store(self, info: ResourceInfo) -> None:
        strategy: Strategy = strategy_for(info, self.ips, self.ports)
        schema = BuiltinSchema(info, self.definitions)
        storage_version = None
        conv = None
        if info.storage_group is not None or (info.group, info.resource) == ("autoscaling", "horizontalpodautoscalers"):
            storage_version = _storage_version(info)
            conv = convert
        self.stores[(info.group, info.version, info.resource)] = Store(
            info, strategy, schema, self.backend, self.watch_cache, self, storage_version, conv
        )

    def store(self, group: str, version: str, resource: str) -> Store | None:
        return self.stores.get((group, version, resource))

    def store_for(self, group: str, resource: str) -> Store | None:
        """Any served version's store of a resource (preferred version first)."""
        for version in self.catalogue.versions(group):
            s = self.stores.get((group, version, resource))
            if s is not None:
                return s
        return None

    # ------------------------------------------------------------------ questions stores ask
    async def try_get(self, group: str, resource: str, namespace: str, name: str) -> Obj | None:
        store = self.store_for(group, resource)
        if store is None:
            return None
        obj = store.cache.get(namespace, name)
        return store.to_external(obj) if obj is not None else None

    async def require_namespace_open(self, namespace: str) -> None:
        if not namespace:
            raise errors.bad_request("the server could not find the requested resource: namespace required")
        ns = self.watch_cache.cache("/registry/core/namespaces/").get("", namespace)
        if ns is None:
            await self.watch_cache.wait_fresh()
            ns = self.watch_cache.cache("/registry/core/namespaces/").get("", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp") or (ns.get("status") or {}).get("phase") == "Terminating":
            raise errors.StatusError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being terminated",
                {"name": namespace, "kind": "namespaces"},
            )

    def used_cluster_ips(self) -> set[str]:
        used: set[str] = set()
        for _ns, _name, svc in self.watch_cache.cache("/registry/core/services/").iter_sorted(None):
            for ip in (svc.get("spec") or {}).get("clusterIPs") or []:
                used.add(ip)
        return used

    def used_node_ports(self, exclude: str | None = None) -> set[int]:
        used: set[int] = set()
        for _ns, _name, svc in self.watch_cache.cache("/registry/core/services/").iter_sorted(None):
            if exclude and svc["metadata"].get("uid") == exclude:
                continue
            for port in (svc.get("spec") or {}).get("ports") or []:
                if port.get("nodePort"):
                    used.add(int(port["nodePort"]))
        return used

    def has_dependents(self, obj: Obj) -> bool:
        """Whether another object names `obj` as an owner. The garbage collector that would act on
        orphan/foreground finalizers is not running yet, so no finalizer is added (see docs)."""
        return False

    # ------------------------------------------------------------------ CRDs
    def _serve_crd(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        self._unserve_crd(name)
        try:
            resources = served_resources(crd)
        except KeyError:
            return
        keys = []
        for info, schema in resources:
            self.catalogue.add(info)
            self.crd_schemas[(info.group, info.version, info.kind)] = schema or {}  # type: ignore[index]
            self.stores[(info.group, info.version, info.resource)] = Store(
                info,
                strategy_for(info, self.ips, self.ports),
                CustomSchema(info, schema),
                self.backend,
                self.watch_cache,
                self,
                storage_version=f"{info.group}/{info.extra['storage_version']}",
                convert=_crd_convert,
            )
            keys.append((info.group, info.version, info.resource))
        self._crd_versions[name] = keys
        self._catalogue_changed()

    def _unserve_crd(self, name: str) -> None:
        for group, version, resource in self._crd_versions.pop(name, []):
            info = self.catalogue.get(group, version, resource)
            self.catalogue.remove(group, version, resource)
            self.stores.pop((group, version, resource), None)
            if info is not None:
                self.crd_schemas.pop((group, version, info.kind), None)  # type: ignore[arg-type]
        self._catalogue_changed()

    def _catalogue_changed(self) -> None:
        for callback in self.on_catalogue_change:
            callback()

    def _on_crd_event(self, event: CachedEvent) -> None:
        if event.type == "DELETED":
            self._unserve_crd(event.name)
            return
        crd = event.obj
        self._serve_crd(crd)
        if crd["metadata"].get("deletionTimestamp"):
            self._tasks.append(asyncio.create_task(self._cleanup_crd(crd)))
        elif not _is_established(crd):
            self._tasks.append(asyncio.create_task(self._establish(crd["metadata"]["name"])))

    async def _establish(self, name: str) -> None:
        store = self.store("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        if store is None:
            return
        for _ in range(5):
            try:
                crd = await store.get("", name)
                if _is_established(crd):
                    return
                crd["status"] = established_status(crd)
                await store.update("", name, crd, RequestContext(field_manager="kube-apiserver"), subresource="status")
                return
            except errors.StatusError as exc:
                if exc.code == 404:
                    return
                await asyncio.sleep(0.05)

    async def _cleanup_crd(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        if CLEANUP_FINALIZER not in (crd["metadata"].get("finalizers") or []):
            return
        ctx = RequestContext(field_manager="kube-apiserver")
        for group, version, resource in list(self._crd_versions.get(name, [])):
            store = self.stores.get((group, version, resource))
            if store is None:
                continue
            with contextlib.suppress(errors.StatusError):
                await store.delete_collection(None, ListOptions(), DeleteOptions(), ctx)
            break
        crd_store = self.store("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        if crd_store is None:
            return
        for _ in range(5):
            try:
                current = await crd_store.get("", name)
                current["metadata"]["finalizers"] = [
                    f for f in current["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER
                ]
                await crd_store.update("", name, current, ctx)
                return
            except errors.StatusError as exc:
                if exc.code == 404:
                    return
                await asyncio.sleep(0.05)

    # ------------------------------------------------------------------ compaction
    async def _compaction_loop(self) -> None:
        samples: list[tuple[float, int]] = []
        while True:
            await asyncio.sleep(COMPACT_EVERY_SECONDS)
            now = time.monotonic()
            samples.append((now, self.watch_cache.revision))
            old = [s for s in samples if now - s[0] >= COMPACT_KEEP_SECONDS]
            if old:
                revision = old[-1][1]
                samples = [s for s in samples if now - s[0] < COMPACT_KEEP_SECONDS]
                try:
                    await self.backend.compact(revision)
                except Exception as exc:  # a failed compaction is retried next round
                    log.warning("compaction at %s failed: %s", revision, exc)


def _is_established(crd: Obj) -> bool:
    for cond in (crd.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Established" and cond.get("status") == "True":
            return True
    return False


def _storage_version(info: ResourceInfo) -> str:
    if (info.group, info.resource) == ("autoscaling", "horizontalpodautoscalers"):
        return "autoscaling/v2"
    if info.storage_group == "" and info.resource == "events":
        return "v1"
    return info.api_version


def _crd_convert(obj: Obj, api_version: str) -> Obj:
    """CRD versions convert with strategy None: only apiVersion changes."""
    result = dict(obj)
    result["apiVersion"] = api_version
    return result
