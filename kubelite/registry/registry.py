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
from kubelite.registry.admission import AdmissionChain
from kubelite.registry.allocators import NodePortAllocator, ServiceIPAllocator
from kubelite.registry.context import RequestContext
from kubelite.registry.crds import CLEANUP_FINALIZER, established_status, served_resources
from kubelite.registry.kinds import strategy_for
from kubelite.registry.limitrange import LimitRanger
from kubelite.registry.objectschema import BuiltinSchema, CustomSchema
from kubelite.registry.quota import ResourceQuotaAdmission
from kubelite.registry.storageadmission import DefaultStorageClass, StorageObjectInUseProtection
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
NAMESPACE_PREFIX = "/registry/core/namespaces/"
NAMESPACE_SWEEP_DELAY = 0.5
COMPACT_EVERY_SECONDS = 60.0
COMPACT_KEEP_SECONDS = 300.0


class Registry:
    def __init__(self, backend: Backend, catalogue: Catalogue, definitions: Definitions):
        self.backend = backend
        self.catalogue = catalogue
        self.definitions = definitions
        # a remote store costs a round trip per revision probe: share probes between readers
        self.watch_cache = WatchCache(backend, coalesce_probes=type(backend).__name__ == "EtcdBackend")
        self.stores: dict[tuple[str, str, str], Store] = {}
        self.ips = ServiceIPAllocator()
        self.ports = NodePortAllocator()
        self.pending_ips: set[str] = set()  # allocated by writes still in flight
        self.pending_ports: set[int] = set()
        # admission plugins every create and update passes (mutating, then validating), in this order
        self.admission = AdmissionChain(
            [DefaultStorageClass(), StorageObjectInUseProtection(), LimitRanger(), ResourceQuotaAdmission()]
        )
        self.crd_schemas: dict[tuple[str, str, str], dict[str, Any]] = {}  # (group, version, kind) -> schema
        self.on_catalogue_change: list[Callable[[], None]] = []
        self.token_issuer: Any = None  # set by the server when service account tokens are configured
        self.authorizer: Any = None  # the API server's RBAC authorizer (apiserver.rbac.shared_authorizer)
        self._tasks: list[asyncio.Task[None]] = []
        self._crd_versions: dict[str, list[tuple[str, str, str]]] = {}
        self._finalizing: set[str] = set()
        # Until a controller manager runs, the registry itself empties deleted namespaces and
        # creates their default ServiceAccount; with one running, it leaves both to it.
        self.namespace_lifecycle_inside = True
        # With a garbage collector running, orphan/foreground deletions get their finalizers.
        self.garbage_collector_running = False
        # With a controller manager running (it removes them), new claims and volumes get the
        # pvc-protection / pv-protection finalizers.
        self.volume_protection_running = False

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
        self.watch_cache.add_listener(NAMESPACE_PREFIX, self._on_namespace_event)
        for _ns, _name, namespace in self.watch_cache.cache(NAMESPACE_PREFIX).iter_sorted(None):
            if self.namespace_lifecycle_inside and namespace["metadata"].get("deletionTimestamp"):
                self._spawn(self._finalize_namespace(namespace["metadata"]["name"]))
        self._tasks.append(asyncio.create_task(self._compaction_loop(), name="compaction"))

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
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

    async def require_namespace_open(self, namespace: str, resource: str = "", group: str = "", name: str = "") -> None:
        if not namespace:
            raise errors.bad_request("the server could not find the requested resource: namespace required")
        ns = self.watch_cache.cache("/registry/core/namespaces/").get("", namespace)
        if ns is None:
            await self.watch_cache.wait_fresh()
            ns = self.watch_cache.cache("/registry/core/namespaces/").get("", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp") or (ns.get("status") or {}).get("phase") == "Terminating":
            qualified = errors.qualified_resource(resource, group)
            details: dict[str, Any] = {"name": name, "kind": resource}
            if group:
                details["group"] = group
            raise errors.StatusError(
                403,
                "Forbidden",
                f'{qualified} "{name}" is forbidden: unable to create new content in namespace {namespace} '
                "because it is being terminated",
                details,
            )

    def used_cluster_ips(self) -> set[str]:
        used: set[str] = set(self.pending_ips)
        for _ns, _name, svc in self.watch_cache.cache("/registry/core/services/").iter_sorted(None):
            for ip in (svc.get("spec") or {}).get("clusterIPs") or []:
                used.add(ip)
        return used

    def used_node_ports(self, exclude: str | None = None) -> set[int]:
        used: set[int] = set(self.pending_ports)
        for _ns, _name, svc in self.watch_cache.cache("/registry/core/services/").iter_sorted(None):
            if exclude and svc["metadata"].get("uid") == exclude:
                continue
            for port in (svc.get("spec") or {}).get("ports") or []:
                if port.get("nodePort"):
                    used.add(int(port["nodePort"]))
        return used

    def has_dependents(self, obj: Obj) -> bool:
        """Whether orphan/foreground deletion should hold `obj` with a finalizer: only when a
        garbage collector runs to act on it (else the object could never go away), as upstream
        always adds the finalizer and leaves the rest to the collector."""
        return self.garbage_collector_running

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
            self.crd_schemas[(info.group, info.version, info.kind)] = schema or {}
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
                self.crd_schemas.pop((group, version, info.kind), None)
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

    # ------------------------------------------------------------------ namespace finalization
    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    def _on_namespace_event(self, event: CachedEvent) -> None:
        if not self.namespace_lifecycle_inside:
            return
        if event.type == "ADDED":
            self._spawn(self._ensure_default_service_account(event.name))
        if event.type == "DELETED" or not event.obj["metadata"].get("deletionTimestamp"):
            return
        if event.name in self._finalizing:
            return
        self._spawn(self._finalize_namespace(event.name))

    async def _ensure_default_service_account(self, namespace: str) -> None:
        """Every namespace gets a `default` ServiceAccount (upstream's serviceaccounts controller;
        it moves to the controller manager with it)."""
        store = self.store("", "v1", "serviceaccounts")
        if store is None or store.cache.get(namespace, "default") is not None:
            return
        account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": namespace}}
        with contextlib.suppress(errors.StatusError):
            await store.create(namespace, account, RequestContext(field_manager="kube-controller-manager"))

    async def _finalize_namespace(self, name: str) -> None:
        """Empty a terminating namespace, then drop its `kubernetes` finalizer so it goes away.
        (Upstream's namespace controller does this; it moves to the controller manager with it.)"""
        if name in self._finalizing:
            return
        self._finalizing.add(name)
        ctx = RequestContext(field_manager="namespace-controller")
        try:
            # Like upstream's controller, start a moment later: a client deleting a namespace and its
            # objects together (`kubectl delete -f`) should find those objects still there to delete.
            await asyncio.sleep(NAMESPACE_SWEEP_DELAY)
            while True:
                remaining = 0
                seen: set[str] = set()
                for store in list(self.stores.values()):
                    if not store.info.namespaced or store.prefix in seen:
                        continue
                    seen.add(store.prefix)
                    objects = store.cache.by_namespace.get(name, {})
                    remaining += len(objects)
                    for obj_name, obj in list(objects.items()):
                        if obj["metadata"].get("deletionTimestamp"):
                            continue
                        with contextlib.suppress(errors.StatusError):
                            await store.delete(name, obj_name, DeleteOptions(), ctx)
                if remaining == 0:
                    break
                await asyncio.sleep(0.2)
            ns_store = self.store("", "v1", "namespaces")
            assert ns_store is not None
            for _ in range(10):
                try:
                    current = await ns_store.get("", name)
                except errors.StatusError:
                    return
                spec = current.setdefault("spec", {})
                spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != "kubernetes"]
                try:
                    await ns_store.update("", name, current, ctx, subresource="finalize")
                    return
                except errors.StatusError as exc:
                    if exc.code == 404:
                        return
                    await asyncio.sleep(0.05)
        finally:
            self._finalizing.discard(name)

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
