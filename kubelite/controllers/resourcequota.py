"""The ResourceQuota controller, as upstream's (pkg/controller/resourcequota): every quota's
status.hard is a copy of spec.hard and status.used the usage its namespace's objects add up to
(counted by kubelite.schema.quotausage from the informer caches), so `kubectl describe quota`
shows Used / Hard and quota admission has a usage to charge against.

A quota is recomputed when it appears or its spec.hard changes, when something it counts goes
away or counts differently (a deleted object, a pod turned terminal, a service changing to or
from a node-port type, a claim's allocated storage changing), and every `resync_period` seconds. Creates are not
watched for: quota admission charged them already. The resources a quota counts are watched from
the first quota that counts them on (built-in resources only).

Must not write anything but quota status, nor charge usage on behalf of admission.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from kubelite.client.cache import split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.client.informer import Informer
from kubelite.controllers.base import Controller
from kubelite.schema.builtins import builtin_resources
from kubelite.schema.quotausage import (
    Evaluator,
    calculate_usage,
    equals,
    evaluator_for,
    evaluators_for_names,
    format_list,
    mask,
    parse_list,
    pod_is_charged,
    status_used,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]

FULL_RESYNC_SECONDS = 300.0
MONITOR_SYNC_TIMEOUT = 30.0
FIELD_MANAGER = "resourcequota-controller"
_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


@functools.cache
def _preferred_versions() -> dict[tuple[str, str], str]:
    """(group, resource) -> preferred version of every namespaced built-in resource."""
    found: dict[tuple[str, str], str] = {}
    for info in builtin_resources():
        if info.namespaced and "list" in info.verbs:
            found.setdefault((info.group, info.resource), info.version)
    return found


def _stops_counting(resource: tuple[str, str], old: Obj, new: Obj, now: float) -> bool:
    """upstream's replenishment filter for updates: changes that lower a namespace's usage."""
    if resource == ("", "pods"):
        return pod_is_charged(old, now) and not pod_is_charged(new, now)
    if resource == ("", "services"):
        old_type = (old.get("spec") or {}).get("type")
        new_type = (new.get("spec") or {}).get("type")
        return (old_type in _NODE_PORT_TYPES or new_type in _NODE_PORT_TYPES) and old_type != new_type
    if resource == ("", "persistentvolumeclaims"):
        allocated = [
            ((o.get("status") or {}).get("allocatedResources") or {}).get("storage") for o in (old, new)
        ]
        return allocated[0] != allocated[1]
    return False


def _hard_changed(old: Obj, new: Obj) -> bool:
    return not equals(
        parse_list((old.get("spec") or {}).get("hard")), parse_list((new.get("spec") or {}).get("hard"))
    )


class ResourceQuotaController(Controller):
    def __init__(
        self,
        client: Client,
        *,
        workers: int = 2,
        clock: Clock | None = None,
        resync_period: float = FULL_RESYNC_SECONDS,
    ):
        super().__init__(client, name="resourcequota-controller", workers=workers, clock=clock)
        self.resync_period = resync_period
        self.quotas_client = client.resource("", "v1", "resourcequotas")
        self.quotas = self.informer("", "v1", "resourcequotas")
        self.quotas.add_handler(self.enqueue, self._quota_updated, self._quota_deleted)
        # resources counted by some quota: their informers, watched for replenishment
        self.monitors: dict[tuple[str, str], Informer] = {("", "resourcequotas"): self.quotas}

    async def start(self) -> None:
        await super().start()
        self._tasks.append(asyncio.create_task(self._resync_forever(), name=f"{self.name} resync"))

    # ------------------------------------------------------------------ events
    def _quota_updated(self, old: Obj, new: Obj) -> None:
        # status changes are this controller's own (or admission's charges): only spec.hard matters
        if _hard_changed(old, new):
            self.enqueue(new)

    def _quota_deleted(self, quota: Obj) -> None:
        self.enqueue(quota)
        self._replenish(("", "resourcequotas"), quota)

    def _replenish(self, resource: tuple[str, str], obj: Obj) -> None:
        """Recompute the quotas of obj's namespace that count this resource."""
        namespace = (obj.get("metadata") or {}).get("namespace") or ""
        evaluator = evaluator_for(*resource)
        for quota in self.quotas.cache.list_namespace(namespace):
            if evaluator.matching_resources((quota.get("status") or {}).get("hard") or {}):
                self.enqueue(quota)

    async def _resync_forever(self) -> None:
        while True:
            await self.clock.sleep(self.resync_period)
            for quota in self.quotas.cache.list():
                self.enqueue(quota)

    # ------------------------------------------------------------------ monitors
    async def _monitor(self, resource: tuple[str, str]) -> Informer | None:
        """The informer of a counted resource, started (and synced) on first use; None when the
        resource is not a built-in this controller can list."""
        informer = self.monitors.get(resource)
        if informer is None:
            version = _preferred_versions().get(resource)
            if version is None:
                return None
            informer = self.informer(resource[0], version, resource[1])
            self.monitors[resource] = informer
            informer.add_handler(
                None, self._on_update(resource), functools.partial(self._replenish, resource)
            )
            informer.start()
        if not informer.has_synced() and not await informer.wait_for_sync(MONITOR_SYNC_TIMEOUT):
            raise TimeoutError(f"{self.name}: the {resource[1]} informer did not sync")
        return informer

    def _on_update(self, resource: tuple[str, str]) -> Callable[[Obj, Obj], None]:
        def changed(old: Obj, new: Obj) -> None:
            if _stops_counting(resource, old, new, self.clock.time()):
                self._replenish(resource, new)

        return changed

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        quota = self.quotas.cache.get_by_name(namespace, name)
        if quota is None:
            return
        spec_hard: Mapping[str, Any] = (quota.get("spec") or {}).get("hard") or {}
        listed: dict[tuple[str, str], list[Obj]] = {}
        for evaluator, _names in evaluators_for_names(parse_list(spec_hard)):
            informer = await self._monitor((evaluator.group, evaluator.resource))
            if informer is not None:
                listed[(evaluator.group, evaluator.resource)] = informer.cache.list_namespace(namespace)

        def objects_of(evaluator: Evaluator) -> list[Obj]:
            return listed.get((evaluator.group, evaluator.resource), [])

        status = quota.get("status") or {}
        previous = status_used(quota)
        computed = calculate_usage(quota, objects_of, self.clock.time())
        # names nobody can count keep what was observed before, as upstream
        computed = {**previous, **mask(computed, self._countable(spec_hard))}
        used = mask(computed, spec_hard)
        dirty = (
            status.get("hard") is None
            or status.get("used") is None
            or not equals(parse_list(spec_hard), parse_list(status.get("hard")))
            or not equals(used, previous)
        )
        if not dirty:
            return
        body = dict(quota)
        body["status"] = {"hard": dict(spec_hard), "used": format_list(used)}
        await self.quotas_client.namespace(namespace).update_status(body, field_manager=FIELD_MANAGER)

    def _countable(self, names: Mapping[str, Any]) -> list[str]:
        """The quota names whose resources have a monitor."""
        return [
            name
            for evaluator, matched in evaluators_for_names(names)
            if (evaluator.group, evaluator.resource) in self.monitors
            for name in matched
        ]
