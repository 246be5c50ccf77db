"""VolumeBinding, after upstream's plugin and its volume binder (scheduler_binder.go):

- PreFilter: a pod without persistentVolumeClaim volumes is skipped (costs one look at its volumes).
  A missing or deleted claim, or an unbound claim of an Immediate class ("pod has unbound immediate
  PersistentVolumeClaims"), makes the pod unschedulable everywhere.
- Filter: bound claims' volumes must fit the node by their node affinity; unbound claims of a
  WaitForFirstConsumer class need a matching Available volume for that node, or a class that can
  provision there (a provisioner other than kubernetes.io/no-provisioner, allowedTopologies).
- Reserve / PreBind (driven by the scheduler component): the chosen volumes get their claimRef
  (assumed at once so the next pod does not take them), the claims to provision get
  volume.kubernetes.io/selected-node; then the pod is bound only once the PV controller (and a
  provisioner) have bound every claim — failures surface as `binding volumes: ...`.

Reads claims, volumes and classes from its own informers. Must NOT bind pods, choose nodes or
bind claims itself (the PV controller completes every binding).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from kubelite.api import volumebinding as vb
from kubelite.api.labels import IN, Requirement
from kubelite.client.cache import key_of
from kubelite.client.client import Client
from kubelite.client.clock import Clock, RealClock
from kubelite.client.informer import Informer
from kubelite.scheduler import queue as q
from kubelite.scheduler.framework import SKIP, SUCCESS, Code, CycleState, NodeInfo, Obj, Snapshot, Status

NAME = "VolumeBinding"
STATE_KEY = "PreFilterVolumeBinding"
BIND_TIMEOUT = 600.0  # upstream's default bindTimeoutSeconds

ERR_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"



def _rv(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class VolumeBindingError(Exception):
    """PreBind failed: the pod goes back to the queue with this message."""


@dataclass
class PodVolumes:
    """What PreBind must do for the pod on its node: volumes to bind to claims, claims to provision."""

    node_name: str
    bindings: list[tuple[Obj, Obj]] = field(default_factory=list)  # (claim, volume with claimRef set)
    provisions: list[Obj] = field(default_factory=list)


@dataclass
class _State:
    bound: list[tuple[Obj, Obj | None]]  # fully bound claims and their volumes (None: missing)
    to_bind: list[Obj]  # unbound claims of WaitForFirstConsumer classes, smallest request first
    by_node: dict[str, PodVolumes] = field(default_factory=dict)


def _topology_fits(storage_class: Obj, labels: dict[str, str]) -> bool:
    """upstream MatchTopologySelectorTerms: no allowedTopologies fits all; else any term fits."""
    terms = storage_class.get("allowedTopologies") or ()
    if not terms:
        return True
    for term in terms:
        expressions = term.get("matchLabelExpressions") or ()
        if all(Requirement(str(e.get("key") or ""), IN, e.get("values") or ()).matches(labels) for e in expressions):
            return True
    return False


class VolumeBinding:
    name = NAME

    def __init__(self, client: Client, clock: Clock | None = None, *, bind_timeout: float = BIND_TIMEOUT):
        self.clock = clock or RealClock()
        self.bind_timeout = bind_timeout
        self.claims = Informer(client.resource("", "v1", "persistentvolumeclaims"), clock=self.clock, name="scheduler pvcs")
        self.volumes = Informer(client.resource("", "v1", "persistentvolumes"), clock=self.clock, name="scheduler pvs")
        self.classes = Informer(client.resource("storage.k8s.io", "v1", "storageclasses"), clock=self.clock, name="scheduler storageclasses")
        self.informers = [self.claims, self.volumes, self.classes]
        self.claims_client = client.resource("", "v1", "persistentvolumeclaims")
        self.volumes_client = client.resource("", "v1", "persistentvolumes")
        self.on_change: Callable[[str], None] = lambda _event: None  # the queue's move_all_to_active_or_backoff
        self._assumed: dict[str, Obj] = {}  # volume name -> the volume as PreBind is about to write it
        self._changed: asyncio.Event | None = None
        for informer, event in (
            (self.claims, q.PERSISTENT_VOLUME_CLAIM_CHANGE),
            (self.volumes, q.PERSISTENT_VOLUME_CHANGE),
            (self.classes, q.STORAGE_CLASS_CHANGE),
        ):
            informer.add_handler(*self._notifiers(event))

    def _notifiers(self, event: str) -> tuple[Callable[[Obj], None], Callable[[Obj, Obj], None], Callable[[Obj], None]]:
        def one(_obj: Obj) -> None:
            self._notify(event)

        def two(_old: Obj, _new: Obj) -> None:
            self._notify(event)

        return one, two, one

    def _notify(self, event: str) -> None:
        self.on_change(event)
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    # ------------------------------------------------------------------ PreFilter / Filter
    def pre_filter(self, state: CycleState, pod: Obj, snapshot: Snapshot) -> Status:
        names = vb.pod_claim_names(pod)
        if not names:
            return SKIP
        namespace = str((pod.get("metadata") or {}).get("namespace") or "")
        bound: list[tuple[Obj, Obj | None]] = []
        to_bind: list[Obj] = []
        immediate = False
        for name in names:
            claim = self.claims.cache.get(key_of(namespace, name))
            if claim is None:
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f'persistentvolumeclaim "{name}" not found')
            if (claim.get("status") or {}).get("phase") == "Lost":
                volume_name = (claim.get("spec") or {}).get("volumeName") or ""
                return Status(
                    Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                    f'persistentvolumeclaim "{name}" bound to non-existent persistentvolume "{volume_name}"',
                )
            if claim["metadata"].get("deletionTimestamp"):
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f'persistentvolumeclaim "{name}" is being deleted')
            if vb.is_fully_bound(claim):
                bound.append((claim, self._volume(str(claim["spec"]["volumeName"]))))
            elif vb.is_delay_binding(claim, self.classes.cache.get(vb.claim_class(claim) or "\0")) and not (
                claim.get("spec") or {}
            ).get("volumeName"):
                to_bind.append(claim)
            else:
                immediate = True
        if immediate:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_UNBOUND_IMMEDIATE)
        to_bind.sort(key=vb.requested_storage)
        state[STATE_KEY] = _State(bound, to_bind)
        return SUCCESS

    def _volume(self, name: str) -> Obj | None:
        return self._assumed.get(name) or self.volumes.cache.get(name)

    def _candidates(self, class_name: str) -> list[Obj]:
        found = [v for v in self.volumes.cache.list() if vb.volume_class(v) == class_name]
        if self._assumed:
            found = [self._assumed.get(v["metadata"]["name"], v) for v in found]
        return found

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        data: _State | None = state.get(STATE_KEY)
        if data is None:
            return SUCCESS
        reasons: list[str] = []
        for _claim, volume in data.bound:
            if volume is None:
                reasons.append(ERR_PV_NOT_EXIST)
                break
            if not vb.node_affinity_matches(volume, node.labels, node.name):
                reasons.append(ERR_NODE_CONFLICT)
                break
        if data.to_bind:
            decided = PodVolumes(node.name)
            chosen: set[str] = set()
            for claim in data.to_bind:
                class_name = vb.claim_class(claim)
                volume = vb.find_matching_volume(
                    claim, self._candidates(class_name), node_labels=node.labels, node_name=node.name,
                    excluded=chosen, delay_binding=True,
                )  # fmt: skip
                if volume is not None:
                    chosen.add(volume["metadata"]["name"])
                    decided.bindings.append((claim, volume))
                    continue
                storage_class = self.classes.cache.get(class_name)
                if storage_class is None:
                    return Status(Code.ERROR, f'failed to find storage class "{class_name}"')
                provisioner = str(storage_class.get("provisioner") or "")
                if not provisioner or provisioner == vb.NO_PROVISIONER or not _topology_fits(storage_class, node.labels):
                    reasons.append(ERR_BIND_CONFLICT)
                    break
                decided.provisions.append(claim)
            data.by_node[node.name] = decided
        if reasons:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, *reasons)
        return SUCCESS

    # ------------------------------------------------------------------ Reserve / PreBind
    def reserve(self, state: CycleState, node_name: str) -> PodVolumes | None:
        """What PreBind must do for the pod on `node_name` (None: nothing), its volumes assumed."""
        data: _State | None = state.get(STATE_KEY)
        if data is None or not data.to_bind:
            return None
        decided = data.by_node.get(node_name)
        if decided is None:
            return None
        bindings = []
        for claim, volume in decided.bindings:
            updated, _dirty = vb.bind_volume_to_claim(volume, claim)
            self._assumed[updated["metadata"]["name"]] = updated
            bindings.append((claim, updated))
        return PodVolumes(node_name, bindings, list(decided.provisions))

    def unreserve(self, volumes: PodVolumes) -> None:
        for _claim, volume in volumes.bindings:
            self._assumed.pop(volume["metadata"]["name"], None)

    async def pre_bind(self, volumes: PodVolumes, still_wanted: Callable[[], bool]) -> None:
        """Write the bindings and provisioning requests, then wait until every claim is bound;
        VolumeBindingError when that fails or times out (the assumption is dropped either way)."""
        try:
            for index, (claim, volume) in enumerate(volumes.bindings):
                volumes.bindings[index] = (claim, await self.volumes_client.update(volume))
            for index, claim in enumerate(volumes.provisions):
                meta = claim["metadata"]
                patch = {"metadata": {"annotations": {vb.SELECTED_NODE: volumes.node_name}}}
                volumes.provisions[index] = await self.claims_client.namespace(meta["namespace"]).patch(meta["name"], patch)
        except Exception as error:
            raise VolumeBindingError(f"binding volumes: {error}") from None
        finally:
            self.unreserve(volumes)
        deadline = self.clock.monotonic() + self.bind_timeout
        while not self._all_bound(volumes):
            if not still_wanted():
                raise VolumeBindingError("binding volumes: pod does not exist any more")
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                raise VolumeBindingError("binding volumes: timed out waiting for the condition")
            changed = self._changed = self._changed or asyncio.Event()
            try:
                await asyncio.wait_for(changed.wait(), min(remaining, 1.0))
            except TimeoutError:
                pass

    def _all_bound(self, volumes: PodVolumes) -> bool:
        """upstream checkBindings (raises VolumeBindingError when binding must be retried)."""
        for claim, volume in volumes.bindings:
            name = volume["metadata"]["name"]
            current = self.volumes.cache.get(name)
            if current is None or _rv(current) < _rv(volume):
                return False  # what we wrote has not arrived yet
            if not ((current.get("spec") or {}).get("claimRef") or {}).get("uid"):
                raise VolumeBindingError(f'binding volumes: ClaimRef got reset for pv "{name}"')
            if not self._claim_bound(claim):
                return False
        for claim in volumes.provisions:
            meta = claim["metadata"]
            current = self.claims.cache.get(key_of(meta["namespace"], meta["name"]))
            if current is None:
                raise VolumeBindingError(f'binding volumes: persistentvolumeclaim "{meta["name"]}" not found')
            if _rv(current) < _rv(claim):
                return False
            if vb.annotations_of(current).get(vb.SELECTED_NODE) != volumes.node_name:
                raise VolumeBindingError(f'binding volumes: provisioning failed for PVC "{meta["name"]}"')
            if not vb.is_fully_bound(current):
                return False
        return True

    def _claim_bound(self, claim: Obj) -> bool:
        meta = claim["metadata"]
        current = self.claims.cache.get(key_of(meta["namespace"], meta["name"]))
        return current is not None and vb.is_fully_bound(current)

