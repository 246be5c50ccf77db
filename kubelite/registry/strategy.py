"""Per-kind behaviour plugged into the one generic Store: what create/update/delete do beyond storing.

The base `Strategy` covers most kinds (defaults, validation, status reset, generation). Kinds with
extra rules subclass it in `kubelite.registry.kinds`. Must not touch storage directly: strategies
that need other objects read them through the `Registry` passed in.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from kubelite.api import errors
from kubelite.registry.context import RequestContext
from kubelite.schema import defaults as schema_defaults
from kubelite.schema import kindvalidation
from kubelite.schema.catalogue import ResourceInfo

if TYPE_CHECKING:
    from kubelite.registry.registry import Registry

Obj = dict[str, Any]

# Kinds whose strategies set metadata.generation (spec changes bump it), as upstream.
GENERATION_TRACKED = {
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("", "replicationcontrollers"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("policy", "poddisruptionbudgets"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "networkpolicies"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
}

# Fields besides metadata and status whose change is not a "spec change" for generation purposes.
_NOT_SPEC = ("metadata", "status", "apiVersion", "kind")


def now_rfc3339() -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def spec_of(obj: Obj) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _NOT_SPEC}


class Strategy:
    """Default behaviour of a resource. Subclasses override the hooks they need."""

    allow_create_on_update = False
    allow_unconditional_update = True
    resets_status_on_create = True  # nodes keep theirs: the kubelet registers with its status

    def __init__(self, info: ResourceInfo):
        self.info = info
        self.has_status = info.subresource("status") is not None
        self.tracks_generation = (info.group, info.resource) in GENERATION_TRACKED or info.crd

    # --- create -------------------------------------------------------------------------------
    def prepare_for_create(self, obj: Obj, ctx: RequestContext) -> None:
        meta = obj["metadata"]
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        for transient in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "selfLink"):
            meta.pop(transient, None)
        if self.tracks_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if self.has_status and self.resets_status_on_create:
            obj.pop("status", None)
            if not self.info.crd:
                self.initial_status(obj)

    def initial_status(self, obj: Obj) -> None:
        """The status a freshly created object starts with (after the client's status is dropped):
        empty, as upstream's zero-value status structs encode."""
        obj["status"] = {}

    # --- update -------------------------------------------------------------------------------
    def prepare_for_update(self, new: Obj, old: Obj, ctx: RequestContext, subresource: str = "") -> None:
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        for kept in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if kept in old_meta:
                meta[kept] = old_meta[kept]
            else:
                meta.pop(kept, None)
        if self.has_status and subresource != "binding":  # a binding also sets PodScheduled, in one write
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if self.tracks_generation and spec_of(new) != spec_of(old):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1

    def prepare_for_status_update(self, new: Obj, old: Obj) -> Obj:
        """Status writes change only status (and nothing of metadata but managedFields)."""
        result = {k: v for k, v in old.items() if k != "status"}
        result["metadata"] = dict(old["metadata"])
        if "managedFields" in new.get("metadata", {}):
            result["metadata"]["managedFields"] = new["metadata"]["managedFields"]
        if "status" in new:
            result["status"] = new["status"]
        return result

    # --- defaults and validation --------------------------------------------------------------
    def default(self, obj: Obj) -> None:
        if not self.info.crd:
            schema_defaults.apply_defaults(self.info.resource, self.info.group, obj)

    def validate(self, obj: Obj, old: Obj | None) -> list[dict[str, str]]:
        if self.info.crd:
            return kindvalidation.validate_object("", "", obj, old) if hasattr(kindvalidation, "validate_object") else []
        return kindvalidation.validate_object(self.info.resource, self.info.group, obj, old)

    # --- hooks that may read other objects -----------------------------------------------------
    async def before_create(self, obj: Obj, registry: Registry, ctx: RequestContext) -> None:
        """Admission and allocation before the object is stored (may raise StatusError)."""

    async def before_update(self, new: Obj, old: Obj, registry: Registry, ctx: RequestContext) -> None:
        """Admission on update (may raise StatusError)."""

    def release(self, obj: Obj, registry: Registry) -> None:
        """Drop reservations made by before_create/before_update once the write is done (or failed)."""

    async def after_create(self, obj: Obj, registry: Registry) -> None:
        """Side effects once stored (e.g. bookkeeping of allocations)."""

    async def after_delete(self, obj: Obj, registry: Registry) -> None:
        """Side effects once deleted (e.g. freeing allocations)."""

    def spec_finalizers(self, obj: Obj) -> list[str]:
        """Finalizers kept outside metadata (namespaces' spec.finalizers) that also hold deletion."""
        return []

    def on_terminating(self, obj: Obj) -> None:
        """Called when an object gets its deletionTimestamp (e.g. a namespace turns Terminating)."""

    def graceful_period(self, obj: Obj, requested: int | None) -> int:
        """Seconds of graceful deletion (0 = delete now). Only pods are graceful upstream."""
        return 0

    def immutable_error(self, field: str) -> errors.StatusError:
        return errors.invalid(
            self.info.kind, self.info.group, "", [errors.cause(field, "field is immutable", "FieldValueInvalid")]
        )
