"""The namespace controller, as upstream's (pkg/controller/namespace): a namespace with a
deletionTimestamp has every namespaced object of every resource deleted (built-ins from the
catalogue, custom resources from the CRDs served at the time), its status conditions report
progress with upstream's types, reasons and messages, and once nothing is left its `kubernetes`
spec finalizer is removed through `namespaces/{name}/finalize` (the API server then deletes it).

Namespace events are handled `NAMESPACE_DELETION_GRACE` seconds late, as upstream, so objects a
client deletes together with their namespace are still there for it to delete. Content with
finalizers is checked again after (15/2 + 1) seconds; other remaining content is retried with the
queue's backoff.

Must not delete namespaces themselves nor touch finalizers of the content (the collector and the
other controllers own those).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.client.transport import ResourceRef
from kubelite.controllers.base import Controller
from kubelite.schema.builtins import builtin_resources
from kubelite.schema.catalogue import ResourceInfo

Obj = dict[str, Any]

NAMESPACE_DELETION_GRACE = 5.0
FINALIZER_ESTIMATE_SECONDS = 15
KUBERNETES_FINALIZER = "kubernetes"
FIELD_MANAGER = "namespace-controller"

DISCOVERY_FAILURE = "NamespaceDeletionDiscoveryFailure"
GV_PARSING_FAILURE = "NamespaceDeletionGroupVersionParsingFailure"
CONTENT_FAILURE = "NamespaceDeletionContentFailure"
CONTENT_REMAINING = "NamespaceContentRemaining"
FINALIZERS_REMAINING = "NamespaceFinalizersRemaining"

# (type, ok reason, ok message), in upstream's order
_CONDITIONS: tuple[tuple[str, str, str], ...] = (
    (DISCOVERY_FAILURE, "ResourcesDiscovered", "All resources successfully discovered"),
    (GV_PARSING_FAILURE, "ParsedGroupVersions", "All legacy kube types successfully parsed"),
    (CONTENT_FAILURE, "ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
    (CONTENT_REMAINING, "ContentRemoved", "All content successfully removed"),
    (FINALIZERS_REMAINING, "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
)


def deletable_namespaced_resources(resources: Iterable[ResourceInfo]) -> list[ResourceInfo]:
    """Namespaced resources that can be listed and deleted, one version per storage."""
    chosen: list[ResourceInfo] = []
    storages: set[str] = set()
    for info in resources:
        if not info.namespaced or "list" not in info.verbs:
            continue
        if "delete" not in info.verbs and "deletecollection" not in info.verbs:
            continue
        prefix = info.storage_prefix()
        if prefix not in storages:
            storages.add(prefix)
            chosen.append(info)
    return chosen


def _crd_resources(crds: Iterable[Obj]) -> list[ResourceInfo]:
    found: list[ResourceInfo] = []
    for crd in crds:
        spec = crd.get("spec") or {}
        if spec.get("scope") != "Namespaced":
            continue
        served = [v["name"] for v in spec.get("versions") or [] if v.get("served") and v.get("name")]
        names = spec.get("names") or {}
        if not served or not names.get("plural"):
            continue
        found.append(
            ResourceInfo(
                group=str(spec.get("group") or ""),
                version=served[0],
                resource=str(names["plural"]),
                kind=str(names.get("kind") or ""),
                singular=str(names.get("singular") or ""),
                namespaced=True,
                crd=True,
            )
        )
    return found


def _group_resource(info: ResourceInfo) -> str:
    """As Go's GroupResource.String(): "pods." for core, "deployments.apps" otherwise."""
    return f"{info.resource}.{info.group}"


@dataclass
class _Progress:
    discovery_errors: list[str] = field(default_factory=list)
    deletion_errors: list[str] = field(default_factory=list)
    remaining: dict[str, int] = field(default_factory=dict)  # group resource -> count
    finalizers: dict[str, int] = field(default_factory=dict)  # finalizer -> count
    unexplained: int = 0  # remaining objects with no finalizer and no grace period running
    pod_grace: int = 0


class ContentRemaining(Exception):
    """Content remains that nothing explains (no finalizers): retry with backoff."""


class NamespaceController(Controller):
    def __init__(
        self,
        client: Client,
        *,
        resources: Iterable[ResourceInfo] | None = None,
        deletion_grace: float = NAMESPACE_DELETION_GRACE,
        workers: int = 2,
        clock: Clock | None = None,
    ):
        """`resources` default to the built-ins; custom resources are found from the CRDs."""
        super().__init__(client, name="namespace-controller", workers=workers, clock=clock)
        self.resources = deletable_namespaced_resources(resources if resources is not None else builtin_resources())
        self.deletion_grace = deletion_grace
        self.namespaces = self.client.resource("", "v1", "namespaces")
        self.namespace_informer = self.informer("", "v1", "namespaces")
        self.namespace_informer.add_handler(self._later, lambda _old, new: self._later(new))

    def _later(self, namespace: Obj) -> None:
        if (namespace.get("metadata") or {}).get("deletionTimestamp"):
            self.enqueue_after(namespace, self.deletion_grace)

    async def sync(self, key: str) -> None:
        try:
            namespace = await self.namespaces.get(key)
        except StatusError as err:
            if err.code == 404:
                return
            raise
        if not namespace["metadata"].get("deletionTimestamp"):
            return
        if KUBERNETES_FINALIZER not in ((namespace.get("spec") or {}).get("finalizers") or []):
            return  # finalized: the API server deletes it once its other finalizers are gone
        progress = await self._delete_content(key)
        await self._report(namespace, progress)
        if progress.deletion_errors or progress.discovery_errors:
            raise ContentRemaining("; ".join(progress.discovery_errors + progress.deletion_errors))
        if progress.remaining:
            if progress.unexplained and not progress.pod_grace:
                raise ContentRemaining(f"unexpected items still remain in namespace: {key}")
            estimate = max(progress.pod_grace, FINALIZER_ESTIMATE_SECONDS if progress.finalizers else 0)
            self.queue.add_after(key, estimate // 2 + 1)
            return
        await self._finalize(key)

    async def _discover(self, progress: _Progress) -> list[ResourceInfo]:
        resources = list(self.resources)
        try:
            crds = await self.client.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions").list()
        except StatusError as err:
            progress.discovery_errors.append(f"apiextensions.k8s.io/v1: {err.message}")
            return resources
        return resources + deletable_namespaced_resources(_crd_resources(crds.get("items") or []))

    async def _delete_content(self, namespace: str) -> _Progress:
        progress = _Progress()
        for info in await self._discover(progress):
            client = self.client.for_ref(ResourceRef(info.group, info.version, info.resource, True)).namespace(namespace)
            try:
                if "deletecollection" in info.verbs:
                    await client.delete_collection()
                else:
                    for item in (await client.list()).get("items") or []:
                        if not item["metadata"].get("deletionTimestamp"):
                            await client.delete(item["metadata"]["name"])
                left = (await client.list()).get("items") or []
            except StatusError as err:
                if err.code in (404, 405):
                    continue  # not served (any more)
                progress.deletion_errors.append(f"{_group_resource(info)}: {err.message}")
                continue
            if not left:
                continue
            progress.remaining[_group_resource(info)] = len(left)
            for item in left:
                finalizers = item["metadata"].get("finalizers") or []
                for finalizer in finalizers:
                    progress.finalizers[finalizer] = progress.finalizers.get(finalizer, 0) + 1
                grace = item["metadata"].get("deletionGracePeriodSeconds")
                if info.resource == "pods" and info.group == "" and grace:
                    progress.pod_grace = max(progress.pod_grace, int(grace))
                elif not finalizers:
                    progress.unexplained += 1
        return progress

    async def _report(self, namespace: Obj, progress: _Progress) -> None:
        failed: dict[str, tuple[str, str]] = {}
        if progress.discovery_errors:
            failed[DISCOVERY_FAILURE] = (
                "DiscoveryFailed",
                f"Discovery failed for some groups, {len(progress.discovery_errors)} failing: "
                + ", ".join(progress.discovery_errors),
            )
        if progress.deletion_errors:
            failed[CONTENT_FAILURE] = (
                "ContentDeletionFailed",
                f"Failed to delete all resource types, {len(progress.deletion_errors)} remaining: "
                + ", ".join(sorted(progress.deletion_errors)),
            )
        if progress.remaining:
            failed[CONTENT_REMAINING] = (
                "SomeResourcesRemain",
                "Some resources are remaining: "
                + ", ".join(sorted(f"{gr} has {n} resource instances" for gr, n in progress.remaining.items())),
            )
        if progress.finalizers:
            failed[FINALIZERS_REMAINING] = (
                "SomeFinalizersRemain",
                "Some content in the namespace has finalizers remaining: "
                + ", ".join(sorted(f"{f} in {n} resource instances" for f, n in progress.finalizers.items())),
            )
        status = dict(namespace.get("status") or {})
        conditions = [dict(c) for c in status.get("conditions") or []]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock.time()))
        changed = False
        for kind, ok_reason, ok_message in _CONDITIONS:
            reason, message = failed.get(kind, (ok_reason, ok_message))
            wanted = {"type": kind, "status": "True" if kind in failed else "False", "reason": reason, "message": message}
            old = next((c for c in conditions if c.get("type") == kind), None)
            if old is None:
                conditions.append({**wanted, "lastTransitionTime": now})
                changed = True
            elif any(old.get(k) != wanted[k] for k in ("status", "reason", "message")):
                old.update(wanted, lastTransitionTime=now)
                changed = True
        if not changed:
            return
        status["conditions"] = conditions
        updated = {**namespace, "status": status}
        try:
            await self.namespaces.update_status(updated, field_manager=FIELD_MANAGER)
        except StatusError as err:
            if err.code != 404:
                raise

    async def _finalize(self, name: str) -> None:
        try:
            namespace = await self.namespaces.get(name)
        except StatusError as err:
            if err.code == 404:
                return
            raise
        spec = dict(namespace.get("spec") or {})
        finalizers = spec.get("finalizers") or []
        if KUBERNETES_FINALIZER not in finalizers:
            return
        spec["finalizers"] = [f for f in finalizers if f != KUBERNETES_FINALIZER]
        try:
            await self.namespaces.update({**namespace, "spec": spec}, field_manager=FIELD_MANAGER, subresource="finalize")
        except StatusError as err:
            if err.code != 404:
                raise
