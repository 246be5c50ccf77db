"""The StatefulSet controller as upstream's pkg/controller/statefulset: pods `<set>-<ordinal>` with
a stable identity (hostname, subdomain = serviceName, the `statefulset.kubernetes.io/pod-name` and
`apps.kubernetes.io/pod-index` labels) and stable storage (a PVC `<template>-<set>-<ordinal>` per
volumeClaimTemplate, created before the pod and mounted through its volumes). OrderedReady
creates in ordinal order, each pod waiting for its predecessors to be Running, Ready and
available, and removes in reverse order; Parallel does both at once. RollingUpdate replaces pods
from the highest ordinal down to the partition, one at a time, waiting for each to be available;
OnDelete waits for the user. persistentVolumeClaimRetentionPolicy is enforced by owner references
on the PVCs (the garbage collector does the deleting). Template history is kept in
ControllerRevisions (`kubelite.controllers.history`); a pod's `controller-revision-hash` label is
its revision's name. Status carries what `kubectl rollout status sts/x` reads.

Must not mutate cached objects nor delete PVCs itself.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.api.labels import LabelSelector, LabelSelectorError, selector_from_spec
from kubelite.client.cache import split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers import history
from kubelite.controllers.base import Controller
from kubelite.controllers.events import NORMAL, WARNING, EventRecorder
from kubelite.controllers.ownership import (
    claim,
    controller_ref,
    fresh_owner_check,
    is_deleting,
    new_controller_ref,
    owners_selecting,
    owners_to_sync_on_update,
    release,
    resolve_controller,
)
from kubelite.controllers.podutil import is_available, is_ready
from kubelite.controllers.replicaset import deep_copy, pod_from_template

Obj = dict[str, Any]

COMPONENT = "statefulset-controller"
KIND = "StatefulSet"
API_VERSION = "apps/v1"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
RETAIN = "Retain"
DELETE = "Delete"
MAX_BATCH = 500
UPDATE_ATTEMPTS = 4

_ORDINAL = re.compile(r"(.*)-([0-9]+)$")
_INT32_MAX = 2**31 - 1


class StatefulSetError(Exception):
    """A step of the sync failed; the message is upstream's."""


# ---------------------------------------------------------------- identity
def parent_and_ordinal(name: str) -> tuple[str, int]:
    """upstream getParentNameAndOrdinal: ("", -1) for a name that is not `<parent>-<ordinal>`."""
    found = _ORDINAL.fullmatch(name)
    if found is None:
        return "", -1
    ordinal = int(found.group(2))
    return (found.group(1), ordinal) if ordinal <= _INT32_MAX else (found.group(1), -1)


def ordinal_of(pod: Obj) -> int:
    return parent_and_ordinal(pod["metadata"].get("name", ""))[1]


def start_ordinal(sts: Obj) -> int:
    return int(((sts["spec"].get("ordinals") or {}).get("start")) or 0)


def replicas_of(sts: Obj) -> int:
    value = sts["spec"].get("replicas")
    return 1 if value is None else int(value)


def in_ordinal_range(pod: Obj, sts: Obj) -> bool:
    ordinal = ordinal_of(pod)
    return start_ordinal(sts) <= ordinal < start_ordinal(sts) + replicas_of(sts)


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{sts['metadata']['name']}-{ordinal}"


def claim_name(template: Obj, sts: Obj, ordinal: int) -> str:
    return f"{(template.get('metadata') or {}).get('name', '')}-{sts['metadata']['name']}-{ordinal}"


def is_member(sts: Obj, pod: Obj) -> bool:
    return parent_and_ordinal(pod["metadata"].get("name", ""))[0] == sts["metadata"]["name"]


def revision_of(pod: Obj) -> str:
    return str((pod["metadata"].get("labels") or {}).get(history.CONTROLLER_REVISION_HASH, ""))


def identity_matches(sts: Obj, pod: Obj) -> bool:
    meta = pod["metadata"]
    parent, ordinal = parent_and_ordinal(meta.get("name", ""))
    labels = meta.get("labels") or {}
    return (
        ordinal >= 0
        and parent == sts["metadata"]["name"]
        and meta.get("namespace") == sts["metadata"].get("namespace")
        and labels.get(POD_NAME_LABEL) == meta.get("name")
        and labels.get(POD_INDEX_LABEL) == str(ordinal)
    )


def update_identity(sts: Obj, pod: Obj) -> None:
    ordinal = ordinal_of(pod)
    meta = pod["metadata"]
    meta["name"] = pod_name(sts, ordinal)
    meta["namespace"] = sts["metadata"].get("namespace")
    meta["labels"] = {
        **(meta.get("labels") or {}),
        POD_NAME_LABEL: meta["name"],
        POD_INDEX_LABEL: str(ordinal),
    }


def claims_of(sts: Obj, ordinal: int) -> list[tuple[str, Obj]]:
    """(template name, PVC) for each volumeClaimTemplate (upstream getPersistentVolumeClaims): the
    template's metadata and spec, the claim's name, and the set's matchLabels added to its labels."""
    match_labels = (sts["spec"].get("selector") or {}).get("matchLabels") or {}
    found: list[tuple[str, Obj]] = []
    for template in sts["spec"].get("volumeClaimTemplates") or ():
        template_meta = template.get("metadata") or {}
        meta: Obj = {k: template_meta[k] for k in ("annotations", "finalizers") if template_meta.get(k)}
        meta = deep_copy(meta)
        meta["labels"] = {**(template_meta.get("labels") or {}), **match_labels}
        meta["name"] = claim_name(template, sts, ordinal)
        meta["namespace"] = sts["metadata"].get("namespace")
        claim_obj = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta,
            "spec": deep_copy(template.get("spec") or {}),
        }
        found.append((template_meta.get("name", ""), claim_obj))
    return found


def storage_matches(sts: Obj, pod: Obj) -> bool:
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or ()}
    for template in sts["spec"].get("volumeClaimTemplates") or ():
        volume = volumes.get((template.get("metadata") or {}).get("name"))
        source = (volume or {}).get("persistentVolumeClaim")
        if source is None or source.get("claimName") != claim_name(template, sts, ordinal):
            return False
    return True


def update_storage(sts: Obj, pod: Obj) -> None:
    """The pod's volumes with one PVC volume per claim template (replacing same-named ones)."""
    claims = claims_of(sts, ordinal_of(pod))
    names = {name for name, _claim in claims}
    volumes: list[Obj] = [
        {"name": name, "persistentVolumeClaim": {"claimName": claim_obj["metadata"]["name"]}}
        for name, claim_obj in claims
    ]
    spec = pod.setdefault("spec", {})
    volumes += [v for v in spec.get("volumes") or () if v.get("name") not in names]
    spec["volumes"] = volumes


def new_pod(sts: Obj, ordinal: int, revision_name: str) -> Obj:
    """upstream newStatefulSetPod + setPodRevision: the template's pod with its identity, storage
    and revision label (sts is the set as of that revision)."""
    pod = pod_from_template(
        sts["spec"].get("template") or {}, sts, new_controller_ref(sts, API_VERSION, KIND)
    )
    pod["metadata"]["name"] = pod_name(sts, ordinal)
    update_identity(sts, pod)
    pod["spec"]["hostname"] = pod["metadata"]["name"]
    if sts["spec"].get("serviceName"):
        pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
    update_storage(sts, pod)
    pod["metadata"]["labels"][history.CONTROLLER_REVISION_HASH] = revision_name
    return pod


# ---------------------------------------------------------------- pod states
def phase_of(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_created(pod: Obj) -> bool:
    return bool(phase_of(pod) or pod["metadata"].get("uid"))


def running_and_ready(pod: Obj) -> bool:
    return phase_of(pod) == "Running" and is_ready(pod)


def is_healthy(pod: Obj) -> bool:
    return running_and_ready(pod) and not is_deleting(pod)


def is_unavailable(pod: Obj, min_ready: int, now: float) -> bool:
    return not is_healthy(pod) or not is_available(pod, min_ready, now)


# ---------------------------------------------------------------- PVC retention (upstream stateful_set_utils)
def retention_policy(sts: Obj) -> tuple[str, str]:
    """(whenScaled, whenDeleted), Retain when unset."""
    policy = sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenScaled") or RETAIN, policy.get("whenDeleted") or RETAIN


def _refs(obj: Obj) -> list[Obj]:
    return list((obj.get("metadata") or {}).get("ownerReferences") or ())


def _matches_ref(ref: Obj, obj: Obj, api_version: str, kind: str) -> bool:
    return (
        ref.get("apiVersion") == api_version
        and ref.get("kind") == kind
        and ref.get("name") == obj["metadata"]["name"]
    )


def _uid(obj: Obj) -> str:
    return str(obj["metadata"].get("uid") or "")


def has_owner_ref(target: Obj, owner: Obj) -> bool:
    uid = _uid(owner)
    return any(ref.get("uid") == uid for ref in _refs(target))


def has_stale_owner_ref(target: Obj, owner: Obj, api_version: str, kind: str) -> bool:
    """A reference naming owner whose uid is not owner's (a previous incarnation's)."""
    for ref in _refs(target):
        if _matches_ref(ref, owner, api_version, kind):
            return ref.get("uid") != _uid(owner)
    return False


def has_unexpected_controller(claim_obj: Obj, sts: Obj, pod: Obj) -> bool:
    if retention_policy(sts) == (RETAIN, RETAIN):
        return False
    for ref in _refs(claim_obj):
        if _matches_ref(ref, sts, API_VERSION, KIND):
            if ref.get("uid") != _uid(sts):
                return True
            continue
        if _matches_ref(ref, pod, "v1", "Pod"):
            if ref.get("uid") != _uid(pod):
                return True
            continue
        if ref.get("controller"):
            return True
    return False


def _has_non_controller_owner(claim_obj: Obj, sts: Obj, pod: Obj) -> bool:
    uids = {_uid(sts), _uid(pod)} - {""}
    return any(ref.get("uid") in uids and not ref.get("controller") for ref in _refs(claim_obj))


def claim_owner_up_to_date(claim_obj: Obj, sts: Obj, pod: Obj) -> bool:
    """upstream isClaimOwnerUpToDate: the claim's references to the set and the pod are as the
    retention policy wants (claims managed by someone else are left alone)."""
    if has_stale_owner_ref(claim_obj, sts, API_VERSION, KIND) or has_stale_owner_ref(
        claim_obj, pod, "v1", "Pod"
    ):
        return True
    if has_unexpected_controller(claim_obj, sts, pod):
        return not (has_owner_ref(claim_obj, sts) or has_owner_ref(claim_obj, pod))
    if _has_non_controller_owner(claim_obj, sts, pod):
        return False
    when_scaled, when_deleted = retention_policy(sts)
    scaled_down = not in_ordinal_range(pod, sts)
    to_set, to_pod = has_owner_ref(claim_obj, sts), has_owner_ref(claim_obj, pod)
    if when_scaled == DELETE and when_deleted == DELETE:
        return scaled_down != to_set and scaled_down == to_pod
    if when_scaled == DELETE:
        return not to_set and scaled_down == to_pod
    if when_deleted == DELETE:
        return to_set and not to_pod
    return not to_set and not to_pod


def claim_owner_refs(claim_obj: Obj, sts: Obj, pod: Obj) -> list[Obj]:
    """upstream updateClaimOwnerRefForSetAndPod: the claim's references with those to the set and
    the pod made to follow the retention policy (as controller references)."""
    unexpected = has_unexpected_controller(claim_obj, sts, pod)
    refs = [
        ref
        for ref in _refs(claim_obj)
        if not (_matches_ref(ref, sts, API_VERSION, KIND) or _matches_ref(ref, pod, "v1", "Pod"))
    ]
    if unexpected:
        return refs
    when_scaled, when_deleted = retention_policy(sts)
    scaled_down = not in_ordinal_range(pod, sts)
    if when_scaled == DELETE and scaled_down:
        refs.append(new_controller_ref(pod, "v1", "Pod"))
    elif when_deleted == DELETE and not (when_scaled == DELETE and scaled_down):
        refs.append(new_controller_ref(sts, API_VERSION, KIND))
    return refs


# ---------------------------------------------------------------- status
def count_status(pods: list[Obj], min_ready: int, current: str, update: str, now: float) -> Obj:
    """upstream computeReplicaStatus over the given pods."""
    replicas = ready = available = current_count = updated = 0
    for pod in pods:
        created = is_created(pod)
        if created:
            replicas += 1
        if running_and_ready(pod):
            ready += 1
            if is_available(pod, min_ready, now):
                available += 1
        if created and not is_deleting(pod):
            revision = revision_of(pod)
            if revision == current:
                current_count += 1
            if revision == update:
                updated += 1
    return {
        "replicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": available,
        "currentReplicas": current_count,
        "updatedReplicas": updated,
    }


_STATUS_COMPARED = (
    "observedGeneration",
    "replicas",
    "currentReplicas",
    "readyReplicas",
    "updatedReplicas",
    "currentRevision",
    "availableReplicas",
    "updateRevision",
)


def public_status(status: Mapping[str, Any]) -> Obj:
    """As the API stores it: replicas and availableReplicas always, collisionCount when known,
    the other counters and revisions when set."""
    out: Obj = {
        "replicas": int(status.get("replicas") or 0),
        "availableReplicas": int(status.get("availableReplicas") or 0),
    }
    for field in ("observedGeneration", "readyReplicas", "currentReplicas", "updatedReplicas"):
        if status.get(field):
            out[field] = int(status[field])
    for field in ("currentRevision", "updateRevision"):
        if status.get(field):
            out[field] = str(status[field])
    if status.get("collisionCount") is not None:
        out["collisionCount"] = int(status["collisionCount"])
    if status.get("conditions"):
        out["conditions"] = status["conditions"]
    return out


# ---------------------------------------------------------------- the controller
class StatefulSetController(Controller):
    def __init__(
        self,
        client: Client,
        *,
        workers: int = 2,
        clock: Clock | None = None,
        recorder: EventRecorder | None = None,
    ):
        super().__init__(client, name=COMPONENT, workers=workers, clock=clock)
        self.sets_client = client.resource("apps", "v1", "statefulsets")
        self.pods_client = client.resource("", "v1", "pods")
        self.claims_client = client.resource("", "v1", "persistentvolumeclaims")
        self.revisions_client = client.resource("apps", "v1", "controllerrevisions")
        self.recorder = self.event_recorder(recorder, COMPONENT)
        self.sets = self.informer("apps", "v1", "statefulsets")
        self.pods = self.informer("", "v1", "pods")
        self.claims = self.informer("", "v1", "persistentvolumeclaims")
        self.revisions = self.informer("apps", "v1", "controllerrevisions")
        self.sets.add_handler(self.enqueue, lambda _old, new: self.enqueue(new), self.enqueue)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.claims.add_handler(on_delete=self._claim_deleted)
        self.revisions.add_handler(
            self._owned_changed, lambda _old, new: self._owned_changed(new), self._owned_changed
        )

    # ------------------------------------------------------------------ handlers
    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        return resolve_controller(self.sets.cache, namespace, ref, KIND)

    def _selecting(self, obj: Obj) -> list[Obj]:
        return owners_selecting(self.sets.cache, obj)

    def _owned_changed(self, obj: Obj) -> None:
        sts = self._resolve(obj["metadata"].get("namespace") or "", controller_ref(obj))
        if sts is not None:
            self.enqueue(sts)
        elif controller_ref(obj) is None:
            for found in self._selecting(obj):
                self.enqueue(found)

    def _pod_added(self, pod: Obj) -> None:
        self._owned_changed(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        for sts, after_min_ready in owners_to_sync_on_update(old, new, self._resolve, self._selecting, is_ready):
            self.enqueue(sts)
            if after_min_ready:
                self.enqueue_after(sts, float(sts["spec"]["minReadySeconds"]))

    def _pod_deleted(self, pod: Obj) -> None:
        sts = self._resolve(pod["metadata"].get("namespace") or "", controller_ref(pod))
        if sts is not None:
            self.enqueue(sts)

    def _claim_deleted(self, claim_obj: Obj) -> None:
        """A claim that was waiting to be garbage collected may unblock a pod's re-creation."""
        for found in self._selecting(claim_obj):
            self.enqueue(found)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        cached = self.sets.cache.get(key)
        if cached is None:
            return
        sts = deep_copy(cached)
        try:
            selector = selector_from_spec(sts["spec"].get("selector"))
        except LabelSelectorError:
            return
        if selector.is_empty:
            return  # validation requires a selector; an empty one would claim every pod
        namespace, _name = split_key(key)
        ref = new_controller_ref(sts, API_VERSION, KIND)
        can_adopt = fresh_owner_check(self.sets_client, sts)
        owned = await claim(
            self.revisions_client,
            sts,
            ref,
            selector,
            self.revisions.cache.list_namespace(namespace),
            can_adopt,
        )
        pods = await self._claim_pods(sts, ref, selector, can_adopt)
        ordered = history.sort_revisions(owned)
        status: Obj | None = None
        recorded = sts.get("status") or {}
        live = {revision_of(pod) for pod in pods} | {
            recorded.get("currentRevision") or "",
            recorded.get("updateRevision") or "",
        }
        try:
            collision_count = int(recorded.get("collisionCount") or 0)
            update, collision_count = await history.update_revision(
                self.revisions_client, sts, ref, ordered, collision_count
            )
            current = next(
                (r for r in ordered if r["metadata"]["name"] == recorded.get("currentRevision")), update
            )
            live |= {current["metadata"]["name"], update["metadata"]["name"]}
            status, error = await self._update_set(sts, current, update, collision_count, pods)
            status_error: Exception | None = None
            try:
                await self._update_status(sts, status)
            except Exception as err:
                status_error = err
            if error is not None:
                raise error
            if status_error is not None:
                raise status_error
        finally:
            await history.truncate_history(
                self.revisions_client, ordered, live, sts["spec"].get("revisionHistoryLimit")
            )
        min_ready = sts["spec"].get("minReadySeconds") or 0
        if min_ready > 0 and status is not None and status["availableReplicas"] != replicas_of(sts):
            self.enqueue_after(sts, float(min_ready))

    async def _claim_pods(
        self, sts: Obj, ref: Obj, selector: LabelSelector, can_adopt: Callable[[], Awaitable[None]]
    ) -> list[Obj]:
        """The set's pods: adopted orphans must be members (`<set>-<ordinal>`); owned pods that are
        not members are released (upstream getPodsForStatefulSet's filter)."""
        uid = sts["metadata"]["uid"]
        candidates = [
            pod
            for pod in self.pods.cache.list_namespace(sts["metadata"]["namespace"])
            if is_member(sts, pod) or (controller_ref(pod) or {}).get("uid") == uid
        ]
        claimed = await claim(self.pods_client, sts, ref, selector, candidates, can_adopt)
        members = []
        for pod in claimed:
            if is_member(sts, pod):
                members.append(pod)
            elif not is_deleting(sts):
                await release(self.pods_client, pod, uid)
        return members

    async def _update_set(
        self, sts: Obj, current: Obj, update: Obj, collision_count: int, pods: list[Obj]
    ) -> tuple[Obj, Exception | None]:
        """upstream updateStatefulSet: converge the pods one step; returns the status to record and
        the error (the status is recorded either way)."""
        current_set = history.apply_revision(sts, current)
        update_set = history.apply_revision(sts, update)
        current_name, update_name = current["metadata"]["name"], update["metadata"]["name"]
        status: Obj = {
            "observedGeneration": sts["metadata"].get("generation") or 0,
            "currentRevision": current_name,
            "updateRevision": update_name,
            "collisionCount": collision_count,
        }
        min_ready = sts["spec"].get("minReadySeconds") or 0
        now = self.clock.time()
        if is_deleting(sts):
            status.update(count_status(pods, min_ready, current_name, update_name, now))
            return status, None
        start, count = start_ordinal(sts), replicas_of(sts)
        replicas: list[Obj | None] = [None] * count
        condemned: list[Obj] = []
        for pod in pods:
            ordinal = ordinal_of(pod)
            if start <= ordinal < start + count:
                replicas[ordinal - start] = pod
            elif ordinal >= 0:
                condemned.append(pod)
        rolling = (sts["spec"].get("updateStrategy") or {}).get("rollingUpdate")
        is_rolling = (
            (sts["spec"].get("updateStrategy") or {}).get("type") or "RollingUpdate"
        ) == "RollingUpdate"
        partition = int((rolling or {}).get("partition") or 0)
        current_replicas = int((sts.get("status") or {}).get("currentReplicas") or 0)
        for index in range(count):
            if replicas[index] is None:
                ordinal = start + index
                at_current = is_rolling and (
                    (rolling is None and ordinal < start + current_replicas)
                    or (rolling is not None and ordinal < start + partition)
                )
                replicas[index] = (
                    new_pod(current_set, ordinal, current_name)
                    if at_current
                    else new_pod(update_set, ordinal, update_name)
                )
        members: list[Obj] = [pod for pod in replicas if pod is not None]
        condemned.sort(key=ordinal_of, reverse=True)
        first_unavailable = next(
            (pod for pod in [*members, *reversed(condemned)] if is_unavailable(pod, min_ready, now)), None
        )
        error: Exception | None = None
        deleted_for_update = 0
        try:
            deleted_for_update = await self._converge(
                sts, update_set, update_name, members, condemned, first_unavailable, is_rolling, partition
            )
        except Exception as err:
            error = err
        status.update(count_status([*members, *condemned], min_ready, current_name, update_name, now))
        status["currentReplicas"] -= deleted_for_update
        return status, error

    async def _converge(
        self,
        sts: Obj,
        update_set: Obj,
        update_name: str,
        replicas: list[Obj],
        condemned: list[Obj],
        first_unavailable: Obj | None,
        is_rolling: bool,
        partition: int,
    ) -> int:
        """Create, repair, scale down, then update (each phase only when the previous one let the
        set through). Returns how many pods were deleted to be updated."""
        monotonic = sts["spec"].get("podManagementPolicy") != "Parallel"
        min_ready = sts["spec"].get("minReadySeconds") or 0

        async def process_replica(index: int) -> bool:
            return await self._process_replica(sts, update_set, monotonic, replicas[index])

        if await _run_for_all(len(replicas), process_replica, monotonic):
            return 0

        async def fix_claims(index: int) -> bool:
            if not self._claims_match(update_set, condemned[index]):
                await self._update_claims_for_retention(update_set, condemned[index])
            return False

        if await _run_for_all(len(condemned), fix_claims, monotonic):
            return 0

        async def process_condemned(index: int) -> bool:
            pod = condemned[index]
            if is_deleting(pod):
                return monotonic
            now = self.clock.time()
            if monotonic and pod is not first_unavailable and is_unavailable(pod, min_ready, now):
                return True
            await self._delete_pod(sts, pod)
            return True

        if await _run_for_all(len(condemned), process_condemned, monotonic):
            return 0
        if not is_rolling:
            return 0
        now = self.clock.time()
        for target in range(len(replicas) - 1, partition - 1, -1):
            pod = replicas[target]
            if revision_of(pod) != update_name and not is_deleting(pod):
                await self._delete_pod(sts, pod)
                return 1
            if is_unavailable(pod, min_ready, now):
                return 0
        return 0

    async def _process_replica(self, sts: Obj, update_set: Obj, monotonic: bool, pod: Obj) -> bool:
        phase = phase_of(pod)
        if phase in ("Failed", "Succeeded"):
            if not is_deleting(pod):
                await self._delete_pod(sts, pod)
            return True  # recreated once it is gone
        if not is_created(pod):
            if self._claims_stale(sts, pod):
                return True  # wait for the garbage collector to remove the previous pod's claims
            await self._create_pod(sts, pod)
            return monotonic
        if phase == "Pending":
            await self._create_missing_claims(sts, pod)
        if monotonic:
            if is_deleting(pod) or not running_and_ready(pod):
                return True
            if not is_available(pod, sts["spec"].get("minReadySeconds") or 0, self.clock.time()):
                return True
        try:
            retention_match = self._claims_match(update_set, pod)
        except StatefulSetError:
            retention_match = True
        if identity_matches(sts, pod) and storage_matches(sts, pod) and retention_match:
            return False
        await self._update_pod(update_set, deep_copy(pod))
        return False

    # ------------------------------------------------------------------ pods
    async def _create_pod(self, sts: Obj, pod: Obj) -> None:
        """upstream CreateStatefulPod: the claims first, then the pod, then the claims' owners."""
        try:
            await self._create_claims(sts, pod)
        except Exception as err:
            self._pod_event(sts, pod, "create", err)
            raise
        try:
            await self.pods_client.namespace(sts["metadata"]["namespace"]).create(pod)
        except StatusError as err:
            if err.code == 409:
                raise  # the cache is behind: the next sync sees the pod
            self._pod_event(sts, pod, "create", err)
            raise
        try:
            await self._update_claims_for_retention(sts, pod)
        except Exception as err:
            self._pod_event(sts, pod, "update", err)
            raise
        self._pod_event(sts, pod, "create", None)

    async def _delete_pod(self, sts: Obj, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            await self.pods_client.namespace(meta.get("namespace") or "").delete(meta["name"])
        except StatusError as err:
            if err.code == 404:
                return
            self._pod_event(sts, pod, "delete", err)
            raise
        self._pod_event(sts, pod, "delete", None)

    async def _update_pod(self, sts: Obj, pod: Obj) -> None:
        """upstream UpdateStatefulPod: restore identity, storage and the claims' owners, retrying
        on conflicts with a fresh copy."""
        resource = self.pods_client.namespace(
            pod["metadata"].get("namespace") or sts["metadata"]["namespace"]
        )
        attempted = False
        error: Exception | None = None
        for _attempt in range(UPDATE_ATTEMPTS):
            consistent = True
            if not identity_matches(sts, pod):
                update_identity(sts, pod)
                consistent = False
            try:
                if not storage_matches(sts, pod):
                    update_storage(sts, pod)
                    consistent = False
                    await self._create_claims(sts, pod)
                if not self._claims_match(sts, pod):
                    await self._update_claims_for_retention(sts, pod)
                    consistent = False
            except Exception as err:
                self._pod_event(sts, pod, "update", err)
                raise
            if consistent:
                return
            attempted = True
            try:
                await resource.update(pod)
                error = None
                break
            except StatusError as err:
                error = err
                if err.code != 409:
                    break
                pod = await resource.get(pod["metadata"]["name"])
        if attempted:
            self._pod_event(sts, pod, "update", error)
        if error is not None:
            raise error

    # ------------------------------------------------------------------ claims
    def _cached_claim(self, namespace: str, name: str) -> Obj | None:
        return self.claims.cache.get_by_name(namespace, name)

    async def _create_claims(self, sts: Obj, pod: Obj) -> None:
        """upstream createPersistentVolumeClaims: create each missing claim; a claim being deleted
        is an error (the pod must wait for it to go)."""
        namespace = sts["metadata"]["namespace"]
        errors: list[str] = []
        for _template_name, claim_obj in claims_of(sts, ordinal_of(pod)):
            name = claim_obj["metadata"]["name"]
            existing = self._cached_claim(namespace, name)
            if existing is not None:
                if is_deleting(existing):
                    errors.append(f"pvc {name} is being deleted")
                continue
            try:
                await self.claims_client.namespace(namespace).create(claim_obj)
            except StatusError as err:
                if err.code == 409:
                    continue  # created by an earlier sync the cache has not shown yet
                errors.append(f"failed to create PVC {name}: {err.message}")
                self._claim_event(sts, pod, name, err)
                continue
            self._claim_event(sts, pod, name, None)
        if errors:
            raise StatefulSetError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")

    async def _create_missing_claims(self, sts: Obj, pod: Obj) -> None:
        await self._create_claims(sts, pod)
        try:
            await self._update_claims_for_retention(sts, pod)
        except Exception as err:
            self._pod_event(sts, pod, "update", err)
            raise

    def _claims_stale(self, sts: Obj, pod: Obj) -> bool:
        """upstream PodClaimIsStale: with whenScaled=Delete, a claim still owned by an earlier pod
        of this name is about to be garbage collected and must not be reused."""
        if retention_policy(sts)[0] == RETAIN:
            return False
        namespace = sts["metadata"]["namespace"]
        for _template_name, claim_obj in claims_of(sts, ordinal_of(pod)):
            existing = self._cached_claim(namespace, claim_obj["metadata"]["name"])
            if existing is not None and has_stale_owner_ref(existing, pod, "v1", "Pod"):
                return True
        return False

    def _claims_match(self, sts: Obj, pod: Obj) -> bool:
        namespace = sts["metadata"]["namespace"]
        for _template_name, claim_obj in claims_of(sts, ordinal_of(pod)):
            existing = self._cached_claim(namespace, claim_obj["metadata"]["name"])
            if existing is not None and not claim_owner_up_to_date(existing, sts, pod):
                return False
        return True

    async def _update_claims_for_retention(self, sts: Obj, pod: Obj) -> None:
        """upstream UpdatePodClaimForRetentionPolicy: set the owner references the policy wants."""
        namespace = sts["metadata"]["namespace"]
        for _template_name, claim_obj in claims_of(sts, ordinal_of(pod)):
            name = claim_obj["metadata"]["name"]
            existing = self._cached_claim(namespace, name)
            if existing is None:
                continue  # picked up on a later sync
            if claim_owner_up_to_date(existing, sts, pod):
                continue
            updated = deep_copy(existing)
            updated["metadata"]["ownerReferences"] = claim_owner_refs(existing, sts, pod)
            if not updated["metadata"]["ownerReferences"]:
                del updated["metadata"]["ownerReferences"]
            try:
                await self.claims_client.namespace(namespace).update(updated)
            except StatusError as err:
                raise StatefulSetError(
                    f"could not update claim {name} for delete policy ownerRefs: {err.message}"
                ) from err

    # ------------------------------------------------------------------ status
    async def _update_status(self, sts: Obj, status: Obj) -> None:
        """upstream updateStatefulSetStatus: complete a finished rolling update, then write the
        status when it differs from the recorded one."""
        replicas = replicas_of(sts)
        if (
            ((sts["spec"].get("updateStrategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"
            and status["updatedReplicas"] == replicas
            and status["readyReplicas"] == replicas
            and status["replicas"] == replicas
        ):
            status["currentReplicas"] = status["updatedReplicas"]
            status["currentRevision"] = status["updateRevision"]
        previous = sts.get("status") or {}
        if all((status.get(f) or 0) == (previous.get(f) or 0) for f in _STATUS_COMPARED) and (
            status.get("collisionCount") == previous.get("collisionCount")
        ):
            return
        wanted = public_status({**status, "conditions": previous.get("conditions")})
        resource = self.sets_client.namespace(sts["metadata"]["namespace"])
        body = {**sts, "status": wanted}
        for _attempt in range(UPDATE_ATTEMPTS):
            try:
                await resource.update_status(body)
                return
            except StatusError as err:
                if err.code != 409:
                    raise
            fresh = await resource.get(sts["metadata"]["name"])
            if fresh["metadata"].get("uid") != sts["metadata"].get("uid"):
                return
            body = {**fresh, "status": wanted}
        await resource.update_status(body)

    # ------------------------------------------------------------------ events
    def _pod_event(self, sts: Obj, pod: Obj, verb: str, err: Exception | None) -> None:
        name = pod["metadata"]["name"]
        if err is None:
            reason = f"Successful{verb.title()}"
            message = f"{verb} Pod {name} in StatefulSet {sts['metadata']['name']} successful"
            self._event(sts, NORMAL, reason, message)
        else:
            reason = f"Failed{verb.title()}"
            text = err.message if isinstance(err, StatusError) else str(err)
            message = f"{verb} Pod {name} in StatefulSet {sts['metadata']['name']} failed error: {text}"
            self._event(sts, WARNING, reason, message)

    def _claim_event(self, sts: Obj, pod: Obj, claim_name_: str, err: Exception | None) -> None:
        pod_name_ = pod["metadata"]["name"]
        set_name = sts["metadata"]["name"]
        if err is None:
            message = f"create Claim {claim_name_} Pod {pod_name_} in StatefulSet {set_name} success"
            self._event(sts, NORMAL, "SuccessfulCreate", message)
        else:
            text = err.message if isinstance(err, StatusError) else str(err)
            message = f"create Claim {claim_name_} for Pod {pod_name_} in StatefulSet {set_name} failed error: {text}"
            self._event(sts, WARNING, "FailedCreate", message)

    def _event(self, sts: Obj, event_type: str, reason: str, message: str) -> None:
        self.recorder.event(sts, event_type, reason, message, kind=KIND, api_version=API_VERSION)


async def _run_for_all(count: int, step: Callable[[int], Awaitable[bool]], monotonic: bool) -> bool:
    """upstream runForAll: in order, stopping at the first step that says so (OrderedReady), or all
    at once in slow-start batches (Parallel), stopping at a batch with an error. True = stop."""
    if monotonic:
        for index in range(count):
            if await step(index):
                return True
        return False
    position = 0
    batch = min(count, 1)
    while batch > 0:
        results = await asyncio.gather(
            *(step(i) for i in range(position, position + batch)), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        position += batch
        batch = min(2 * batch, count - position, MAX_BATCH)
    return False


__all__ = [
    "POD_INDEX_LABEL",
    "POD_NAME_LABEL",
    "StatefulSetController",
    "claim_owner_refs",
    "claim_owner_up_to_date",
    "claims_of",
    "count_status",
    "new_pod",
    "parent_and_ordinal",
]
