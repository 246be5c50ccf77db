"""The ReplicaSet controller as upstream's pkg/controller/replicaset, also serving
ReplicationControllers through `ReplicatedKind` (only the resource and the selector's shape
differ): claim pods (selector + controllerRef: adopt orphans, release non-matching), create
missing pods from the template in slow-start batches (1, 2, 4, ...), delete surplus pods in
upstream's order, and write status (replicas, fullyLabeledReplicas, readyReplicas,
availableReplicas, observedGeneration, the ReplicaFailure condition). Expectations keep it from
acting again while its own creates and deletes are still on their way to the cache.

Must not touch the objects of any other controller, nor mutate cached objects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from kubelite.api.errors import StatusError
from kubelite.api.labels import LabelSelector, LabelSelectorError, selector_from_set, selector_from_spec
from kubelite.client.cache import OWNER_UID_INDEX, index_by_owner_uid, object_key, split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller
from kubelite.controllers.events import EventRecorder, rfc3339
from kubelite.controllers.expectations import ControllerExpectations
from kubelite.controllers.ownership import (
    claim,
    controller_ref,
    fresh_owner_check,
    is_deleting,
    new_controller_ref,
    owners_selecting,
    owners_to_sync_on_update,
    resolve_controller,
)
from kubelite.controllers.podcontrol import PodControl
from kubelite.controllers.podranking import pods_to_delete
from kubelite.controllers.podutil import is_active, is_available, is_ready

Obj = dict[str, Any]

BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1
REPLICA_FAILURE = "ReplicaFailure"
CONTROLLER_UID_INDEX = "controllerUID"


@dataclass(frozen=True, slots=True)
class ReplicatedKind:
    """What differs between ReplicaSets and ReplicationControllers."""

    group: str
    version: str
    resource: str
    kind: str
    component: str
    map_selector: bool  # spec.selector is a plain label map (ReplicationController)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def selector(self, obj: Obj) -> LabelSelector:
        spec = obj.get("spec") or {}
        if self.map_selector:
            labels = spec.get("selector") or ((spec.get("template") or {}).get("metadata") or {}).get(
                "labels"
            )
            return selector_from_set(labels) if labels else LabelSelector.nothing()
        return selector_from_spec(spec.get("selector"))


REPLICA_SET = ReplicatedKind("apps", "v1", "replicasets", "ReplicaSet", "replicaset-controller", False)
REPLICATION_CONTROLLER = ReplicatedKind(
    "", "v1", "replicationcontrollers", "ReplicationController", "replication-controller", True
)


def deep_copy(obj: Obj) -> Obj:
    return orjson.loads(orjson.dumps(obj))  # type: ignore[no-any-return]


def index_by_controller_uid(obj: Obj) -> list[str]:
    ref = controller_ref(obj)
    return [ref["uid"]] if ref and ref.get("uid") else []


def pod_from_template(template: Obj, owner: Obj, ref: Obj) -> Obj:
    """upstream GetPodFromTemplate: template labels/annotations/finalizers, generateName
    `<owner>-`, the controllerRef, and a copy of the template's spec."""
    template_meta = template.get("metadata") or {}
    metadata: Obj = {"generateName": f"{owner['metadata']['name']}-", "ownerReferences": [ref]}
    for field in ("labels", "annotations"):
        if template_meta.get(field):
            metadata[field] = dict(template_meta[field])
    if template_meta.get("finalizers"):
        metadata["finalizers"] = list(template_meta["finalizers"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": deep_copy(template.get("spec") or {}),
    }


async def slow_start_batch(
    count: int, initial: int, action: Callable[[], Awaitable[None]]
) -> tuple[int, Exception | None]:
    """Run `action` count times in batches 1, 2, 4, ... (each batch concurrently); stop after the
    first batch with a failure. Returns (successes, first error)."""
    remaining = count
    successes = 0
    batch = min(remaining, initial)
    while batch > 0:
        results = await asyncio.gather(*(action() for _ in range(batch)), return_exceptions=True)
        errors = [result for result in results if isinstance(result, BaseException)]
        successes += batch - len(errors)
        for error in errors:
            if not isinstance(error, Exception):
                raise error
        if errors:
            return successes, errors[0]  # type: ignore[return-value]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


def _public_status(status: Obj) -> Obj:
    """Drop zero counters as the API's omitempty does (replicas is always present)."""
    out: Obj = {"replicas": status.get("replicas", 0)}
    for field in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"):
        if status.get(field):
            out[field] = status[field]
    if status.get("conditions"):
        out["conditions"] = status["conditions"]
    return out


class ReplicaSetController(Controller):
    def __init__(
        self,
        client: Client,
        *,
        kind: ReplicatedKind = REPLICA_SET,
        workers: int = 5,
        clock: Clock | None = None,
        burst_replicas: int = BURST_REPLICAS,
        recorder: EventRecorder | None = None,
    ):
        super().__init__(client, name=kind.component, workers=workers, clock=clock)
        self.kind = kind
        self.burst_replicas = burst_replicas
        self.owners_client = client.resource(kind.group, kind.version, kind.resource)
        self.pods_client = client.resource("", "v1", "pods")
        self.pod_control = PodControl(self.pods_client, self._event)
        self.expectations = ControllerExpectations(self.clock)
        self.recorder = self.event_recorder(recorder, kind.component)
        self.owners = self.informer(
            kind.group, kind.version, kind.resource, indexers={CONTROLLER_UID_INDEX: index_by_controller_uid}
        )
        self.pods = self.informer("", "v1", "pods", indexers={OWNER_UID_INDEX: index_by_owner_uid})
        self.owners.add_handler(self.enqueue, self._owner_updated, self._owner_deleted)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    # ------------------------------------------------------------------ informer handlers
    def _owner_updated(self, old: Obj, new: Obj) -> None:
        if old["metadata"].get("uid") != new["metadata"].get("uid"):
            self._owner_deleted(old)
        self.enqueue(new)

    def _owner_deleted(self, obj: Obj) -> None:
        key = object_key(obj)
        self.expectations.delete(key)
        self.queue.add(key)

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        return resolve_controller(self.owners.cache, namespace, ref, self.kind.kind)

    def _matching_owners(self, pod: Obj) -> list[Obj]:
        return owners_selecting(self.owners.cache, pod, self.kind.selector)

    def _pod_added(self, pod: Obj) -> None:
        if is_deleting(pod):
            self._pod_deleted(pod)
            return
        owner = self._resolve(pod["metadata"].get("namespace") or "", controller_ref(pod))
        if owner is not None:
            self.expectations.creation_observed(object_key(owner))
            self.enqueue(owner)
            return
        if controller_ref(pod) is None:
            for owner in self._matching_owners(pod):
                self.enqueue(owner)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        labels_changed = old["metadata"].get("labels") != new["metadata"].get("labels")
        if is_deleting(new):
            self._pod_deleted(new)
            if labels_changed:
                self._pod_deleted(old)
            return
        for owner, after_min_ready in owners_to_sync_on_update(old, new, self._resolve, self._matching_owners, is_ready):
            self.enqueue(owner)
            if after_min_ready:
                self.enqueue_after(owner, owner["spec"]["minReadySeconds"] + 1.0)

    def _pod_deleted(self, pod: Obj) -> None:
        owner = self._resolve(pod["metadata"].get("namespace") or "", controller_ref(pod))
        if owner is not None:
            self.expectations.deletion_observed(object_key(owner), object_key(pod))
            self.enqueue(owner)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        owner = self.owners.cache.get(key)
        if owner is None:
            self.expectations.delete(key)
            return
        namespace, _name = split_key(key)
        try:
            selector = self.kind.selector(owner)
        except LabelSelectorError:
            return  # invalid selectors are rejected by validation; nothing sensible to do
        needs_sync = self.expectations.satisfied(key)
        active = [pod for pod in self.pods.cache.list_namespace(namespace) if is_active(pod)]
        ref = new_controller_ref(owner, self.kind.api_version, self.kind.kind)
        claimed = await claim(
            self.pods_client, owner, ref, selector, active, fresh_owner_check(self.owners_client, owner)
        )
        manage_error: Exception | None = None
        if needs_sync and not is_deleting(owner):
            manage_error = await self._manage_replicas(key, owner, claimed, ref)
        updated = await self._update_status(owner, claimed, manage_error)
        spec_replicas = (owner.get("spec") or {}).get("replicas", 1)
        min_ready = (owner.get("spec") or {}).get("minReadySeconds") or 0
        status = updated.get("status") or {}
        if (
            manage_error is None
            and min_ready > 0
            and status.get("readyReplicas", 0) == spec_replicas
            and status.get("availableReplicas", 0) != spec_replicas
        ):
            self.queue.add_after(key, float(min_ready))
        if manage_error is not None:
            raise manage_error

    async def _manage_replicas(self, key: str, owner: Obj, pods: list[Obj], ref: Obj) -> Exception | None:
        namespace = owner["metadata"].get("namespace") or ""
        diff = len(pods) - (owner.get("spec") or {}).get("replicas", 1)
        if diff < 0:
            count = min(-diff, self.burst_replicas)
            self.expectations.expect_creations(key, count)
            template = (owner.get("spec") or {}).get("template") or {}

            async def create_one() -> None:
                await self._create_pod(namespace, template, owner, ref)

            successes, error = await slow_start_batch(count, SLOW_START_INITIAL_BATCH, create_one)
            for _ in range(count - successes):
                self.expectations.creation_observed(key)
            return error
        if diff > 0:
            count = min(diff, self.burst_replicas)
            doomed = pods_to_delete(pods, self._related_pods(owner), count, self.clock.time())
            self.expectations.expect_deletions(key, [object_key(pod) for pod in doomed])
            results = await asyncio.gather(
                *(self._delete_pod(key, owner, pod) for pod in doomed), return_exceptions=True
            )
            for result in results:
                if isinstance(result, Exception):
                    return result
        return None

    def _related_pods(self, owner: Obj) -> list[Obj]:
        """Pods of every ReplicaSet sharing owner's controller (upstream getIndirectlyRelatedPods)."""
        ref = controller_ref(owner)
        if ref is None or not ref.get("uid"):
            return []
        related: list[Obj] = []
        seen: set[str] = set()
        for sibling in self.owners.cache.by_index(CONTROLLER_UID_INDEX, ref["uid"]):
            for pod in self.pods.cache.by_index(OWNER_UID_INDEX, sibling["metadata"]["uid"]):
                pod_key = object_key(pod)
                if pod_key not in seen:
                    seen.add(pod_key)
                    related.append(pod)
        return related

    async def _create_pod(self, namespace: str, template: Obj, owner: Obj, ref: Obj) -> None:
        pod = pod_from_template(template, owner, ref)
        if not pod["metadata"].get("labels"):
            raise ValueError("unable to create pods, no labels")
        pod["metadata"]["namespace"] = namespace
        await self.pod_control.create(owner, pod)

    async def _delete_pod(self, key: str, owner: Obj, pod: Obj) -> None:
        try:
            await self.pod_control.delete(owner, pod)
        except StatusError as err:
            self.expectations.deletion_observed(key, object_key(pod))
            if err.code != 404:
                raise

    def _event(self, owner: Obj, event_type: str, reason: str, message: str) -> None:
        self.recorder.event(
            owner, event_type, reason, message, kind=self.kind.kind, api_version=self.kind.api_version
        )

    # ------------------------------------------------------------------ status
    def calculate_status(self, owner: Obj, pods: list[Obj], manage_error: Exception | None) -> Obj:
        spec = owner.get("spec") or {}
        previous = owner.get("status") or {}
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = spec.get("minReadySeconds") or 0
        now = self.clock.time()
        fully_labeled = ready = available = 0
        for pod in pods:
            labels = pod["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in template_labels.items()):
                fully_labeled += 1
            if is_ready(pod):
                ready += 1
                if is_available(pod, min_ready, now):
                    available += 1
        conditions = [dict(c) for c in previous.get("conditions") or ()]
        failure = next((c for c in conditions if c.get("type") == REPLICA_FAILURE), None)
        if manage_error is not None and failure is None:
            reason = "FailedCreate" if len(pods) < spec.get("replicas", 1) else "FailedDelete"
            message = manage_error.message if isinstance(manage_error, StatusError) else str(manage_error)
            conditions.append(
                {
                    "type": REPLICA_FAILURE,
                    "status": "True",
                    "lastTransitionTime": rfc3339(now),
                    "reason": reason,
                    "message": message,
                }
            )
        elif manage_error is None and failure is not None:
            conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
        return _public_status(
            {
                "replicas": len(pods),
                "fullyLabeledReplicas": fully_labeled,
                "readyReplicas": ready,
                "availableReplicas": available,
                "observedGeneration": owner["metadata"].get("generation", 0),
                "conditions": conditions,
            }
        )

    async def _update_status(self, owner: Obj, pods: list[Obj], manage_error: Exception | None) -> Obj:
        status = self.calculate_status(owner, pods, manage_error)
        if _public_status(owner.get("status") or {}) == status:
            return owner
        updated = deep_copy(owner)
        updated["status"] = status
        resource = self.owners_client.namespace(owner["metadata"].get("namespace") or "")
        try:
            return await resource.update_status(updated)
        except StatusError as err:
            if err.code != 409:
                raise
        fresh = await resource.get(owner["metadata"]["name"])
        fresh["status"] = status
        return await resource.update_status(fresh)


def replication_controller_manager(
    client: Client, *, workers: int = 5, clock: Clock | None = None, recorder: EventRecorder | None = None
) -> ReplicaSetController:
    """The same controller serving ReplicationControllers."""
    return ReplicaSetController(
        client, kind=REPLICATION_CONTROLLER, workers=workers, clock=clock, recorder=recorder
    )
