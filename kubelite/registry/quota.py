"""ResourceQuota admission, as upstream's ResourceQuota plugin: a create or update in a namespace
with quotas is checked against every quota whose scopes match it (constraints, known usage, hard
limits), and the usage it adds is charged to those quotas' status.used with a compare-and-swap
write (re-checked against the fresh quota on every retry) before the object itself is stored.

Nothing is refunded when the object's own write then fails: as upstream, the ResourceQuota
controller recomputes usage from what is stored. Dry runs are checked but charge nothing.
Must not compute usage itself (kubelite.schema.quotausage does) nor write anything but quota status.
"""

from __future__ import annotations

import time
from typing import Any

from kubelite.api import errors
from kubelite.registry.admission import AdmissionRequest
from kubelite.registry.context import RequestContext
from kubelite.schema.quotausage import (
    Charge,
    QuotaRejection,
    charge,
    check_request,
    evaluator_for,
    format_list,
)

Obj = dict[str, Any]

QUOTA_PREFIX = "/registry/core/resourcequotas/"
# Resources upstream never charges (events are written by the system at high rates).
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})
APISERVER = "kube-apiserver"


class ResourceQuotaAdmission:
    name = "ResourceQuota"

    def handles(self, group: str, resource: str) -> bool:
        return (group, resource) not in IGNORED

    async def mutate(self, request: AdmissionRequest) -> None:
        return None

    async def validate(self, request: AdmissionRequest) -> None:
        if request.subresource or not request.info.namespaced:
            return
        namespace = request.namespace
        held = request.registry.watch_cache.cache(QUOTA_PREFIX).by_namespace.get(namespace)
        if not held:
            return
        evaluator = evaluator_for(request.info.group, request.info.resource)
        if not evaluator.handles(request.obj, request.old):
            return
        quotas = [held[name] for name in sorted(held)]
        try:
            charges = check_request(quotas, evaluator, request.obj, request.old, time.time())
        except QuotaRejection as rejection:
            raise request.forbidden(str(rejection)) from None
        if request.ctx.dry_run:
            return
        for item in charges:
            await self._charge(request, item)

    async def _charge(self, request: AdmissionRequest, item: Charge) -> None:
        store = request.registry.store("", "v1", "resourcequotas")
        if store is None:
            return

        def add_usage(quota: Obj) -> None:
            try:
                used = charge(quota, item.delta)  # the fresh quota: another write may have charged it
            except QuotaRejection as rejection:
                raise request.forbidden(str(rejection)) from None
            if used is not None:
                quota.setdefault("status", {})["used"] = format_list(used)

        try:
            await store.guaranteed_update(
                request.namespace, item.quota, add_usage, RequestContext(field_manager=APISERVER)
            )
        except errors.StatusError as err:
            if err.code != 404:  # a quota deleted meanwhile charges nothing
                raise
