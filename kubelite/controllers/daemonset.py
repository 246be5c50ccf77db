"""The DaemonSet controller as upstream's pkg/controller/daemon: one pod per eligible node (the
template's nodeName, nodeSelector and required node affinity must match; NoSchedule/NoExecute
taints must be tolerated, counting the tolerations upstream adds to every daemon pod), created
with a required node affinity `matchFields metadata.name In [node]` so the scheduler binds it,
labelled with `controller-revision-hash` and `pod-template-generation`. Pods on nodes that
stopped qualifying, on nodes that are gone, surplus and finished pods are deleted. Updates roll
out with RollingUpdate (maxUnavailable, or maxSurge) or wait for deletions (OnDelete); the
template history lives in ControllerRevisions (`kubelite.controllers.history`). Status carries the
counters `kubectl get ds` and `kubectl rollout status ds/x` read.

Must not bind pods (the scheduler does) nor mutate cached objects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubelite.api import taints as taintutil
from kubelite.api.errors import StatusError
from kubelite.api.labels import (
    DOES_NOT_EXIST,
    EXISTS,
    GREATER_THAN,
    IN,
    LESS_THAN,
    NOT_IN,
    LabelSelector,
    LabelSelectorError,
    Requirement,
    selector_from_spec,
)
from kubelite.client.cache import object_key, split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers import history
from kubelite.controllers.base import Controller
from kubelite.controllers.deploymentutil import scaled_value
from kubelite.controllers.events import NORMAL, WARNING, EventRecorder
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
from kubelite.controllers.podutil import creation_time, is_available, is_ready
from kubelite.controllers.replicaset import deep_copy, pod_from_template, slow_start_batch

Obj = dict[str, Any]

COMPONENT = "daemonset-controller"
KIND = "DaemonSet"
API_VERSION = "apps/v1"
BURST_REPLICAS = 250
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
NODE_NAME_FIELD = "metadata.name"
FAILED_BACKOFF_INITIAL = 1.0
FAILED_BACKOFF_MAX = 15 * 60.0

_OPERATORS = {
    "In": IN,
    "NotIn": NOT_IN,
    "Exists": EXISTS,
    "DoesNotExist": DOES_NOT_EXIST,
    "Gt": GREATER_THAN,
    "Lt": LESS_THAN,
}


def _exists_toleration(key: str, effect: str) -> Obj:
    return {"key": key, "operator": "Exists", "effect": effect}


# upstream AddOrUpdateDaemonPodTolerations, in its order
DEFAULT_TOLERATIONS: tuple[Obj, ...] = (
    _exists_toleration(taintutil.NOT_READY, taintutil.NO_EXECUTE),
    _exists_toleration(taintutil.UNREACHABLE, taintutil.NO_EXECUTE),
    _exists_toleration(taintutil.DISK_PRESSURE, taintutil.NO_SCHEDULE),
    _exists_toleration(taintutil.MEMORY_PRESSURE, taintutil.NO_SCHEDULE),
    _exists_toleration(taintutil.PID_PRESSURE, taintutil.NO_SCHEDULE),
    _exists_toleration(taintutil.UNSCHEDULABLE, taintutil.NO_SCHEDULE),
)
HOST_NETWORK_TOLERATION = _exists_toleration(taintutil.NETWORK_UNAVAILABLE, taintutil.NO_SCHEDULE)


# ---------------------------------------------------------------- pod template helpers
def _same_toleration(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """upstream Toleration.MatchToleration: key, operator, value and effect."""
    return (
        (a.get("key") or "") == (b.get("key") or "")
        and (a.get("operator") or "Equal") == (b.get("operator") or "Equal")
        and (a.get("value") or "") == (b.get("value") or "")
        and (a.get("effect") or "") == (b.get("effect") or "")
    )


def daemon_tolerations(pod_spec: Mapping[str, Any]) -> list[Obj]:
    """The pod spec's tolerations with upstream's daemon defaults added or replacing a same one."""
    tolerations = [dict(t) for t in pod_spec.get("tolerations") or ()]
    wanted = [*DEFAULT_TOLERATIONS, *((HOST_NETWORK_TOLERATION,) if pod_spec.get("hostNetwork") else ())]
    for toleration in wanted:
        index = next((i for i, t in enumerate(tolerations) if _same_toleration(t, toleration)), None)
        if index is None:
            tolerations.append(dict(toleration))
        elif tolerations[index] != toleration:
            tolerations[index] = dict(toleration)
    return tolerations


def node_name_affinity(affinity: Mapping[str, Any] | None, node_name: str) -> Obj:
    """upstream ReplaceDaemonSetPodNodeNameNodeAffinity: the required node selector becomes the one
    term `matchFields metadata.name In [node]`; everything else in the affinity is kept."""
    term = {"matchFields": [{"key": NODE_NAME_FIELD, "operator": "In", "values": [node_name]}]}
    result: Obj = dict(affinity or {})
    node_affinity = dict(result.get("nodeAffinity") or {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    result["nodeAffinity"] = node_affinity
    return result


def target_node_name(pod: Obj) -> str | None:
    """upstream GetTargetNodeName: spec.nodeName, else the single node the affinity names."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in required.get("nodeSelectorTerms") or ():
        for field in term.get("matchFields") or ():
            values = field.get("values") or []
            if field.get("key") == NODE_NAME_FIELD and field.get("operator") == "In" and len(values) == 1:
                return str(values[0])
    return None


def template_generation(ds: Obj) -> str:
    """The template generation pods are labelled with: the annotation the API server keeps when it
    does, else metadata.generation (it also moves whenever the template does)."""
    found = ((ds.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)
    if found and found.isdigit():
        return str(found)
    return str((ds.get("metadata") or {}).get("generation") or 0)


def is_pod_updated(pod: Obj, hash_value: str, generation: str) -> bool:
    """upstream IsPodUpdated: the pod carries the current revision hash or template generation."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return (
        bool(hash_value)
        and labels.get(history.CONTROLLER_REVISION_HASH) == hash_value
        or (bool(generation) and labels.get(TEMPLATE_GENERATION_LABEL) == generation)
    )


def _by_creation_and_phase(pod: Obj) -> tuple[int, float, str]:
    """upstream podByCreationTimestampAndPhase: bound pods first, then oldest, then by name."""
    return (0 if (pod.get("spec") or {}).get("nodeName") else 1, creation_time(pod), pod["metadata"]["name"])


def _requirement(expression: Mapping[str, Any]) -> Requirement | None:
    operator = _OPERATORS.get(expression.get("operator", ""))
    return (
        None
        if operator is None
        else Requirement(expression.get("key", ""), operator, expression.get("values") or ())
    )


class _NodeSelectorTerm:
    __slots__ = ("labels", "fields")

    def __init__(self, term: Mapping[str, Any]):
        self.labels = [_requirement(e) for e in term.get("matchExpressions") or ()]
        self.fields = [_requirement(e) for e in term.get("matchFields") or ()]

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        if not self.labels and not self.fields:
            return False
        if not all(r is not None and r.matches(labels) for r in self.labels):
            return False
        fields = {NODE_NAME_FIELD: name}
        return all(r is not None and r.matches(fields) for r in self.fields)


class Placement:
    """Where a DaemonSet's pods may run, prepared once per sync from its template (upstream
    NodeShouldRunDaemonPod and its predicates)."""

    __slots__ = ("node_name", "node_selector", "terms", "tolerations")

    def __init__(self, ds: Obj):
        spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
        self.node_name: str = spec.get("nodeName") or ""
        self.node_selector: dict[str, str] = spec.get("nodeSelector") or {}
        required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        self.terms = (
            None
            if required is None
            else [_NodeSelectorTerm(t) for t in required.get("nodeSelectorTerms") or ()]
        )
        self.tolerations = daemon_tolerations(spec)

    def _untolerated(self, taints: Iterable[Mapping[str, Any]], effects: tuple[str, ...]) -> bool:
        return any(
            taint.get("effect") in effects
            and not any(taintutil.tolerates(t, taint) for t in self.tolerations)
            for taint in taints
        )

    def should_run(self, node: Obj) -> tuple[bool, bool]:
        """(a pod should be created on node, an existing pod may keep running there)."""
        meta = node.get("metadata") or {}
        name = meta.get("name", "")
        if self.node_name and self.node_name != name:
            return False, False
        labels = meta.get("labels") or {}
        if any(labels.get(key) != value for key, value in self.node_selector.items()):
            return False, False
        if self.terms is not None and not any(term.matches(name, labels) for term in self.terms):
            return False, False
        taints = (node.get("spec") or {}).get("taints") or ()
        if self._untolerated(taints, (taintutil.NO_SCHEDULE, taintutil.NO_EXECUTE)):
            return False, not self._untolerated(taints, (taintutil.NO_EXECUTE,))
        return True, True


def _allows_surge(ds: Obj) -> bool:
    return _strategy_type(ds) == "RollingUpdate" and _rolling_count(ds, "maxSurge", 1) != 0


def _strategy_type(ds: Obj) -> str:
    return str(((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate")


def _rolling_count(ds: Obj, field: str, total: int) -> int:
    """maxSurge / maxUnavailable scaled against `total`, rounding up (upstream SurgeCount and
    UnavailableCount)."""
    if _strategy_type(ds) != "RollingUpdate":
        return 0
    rolling = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate")
    if not rolling or rolling.get(field) is None:
        return 0
    return scaled_value(rolling[field], total, True)


# ---------------------------------------------------------------- status
_REQUIRED_STATUS = ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady")
_OPTIONAL_STATUS = ("observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable")


def public_status(status: Mapping[str, Any]) -> Obj:
    """The status as the API stores it: the four required counters always, the others when set."""
    out: Obj = {field: int(status.get(field) or 0) for field in _REQUIRED_STATUS}
    for field in _OPTIONAL_STATUS:
        if status.get(field):
            out[field] = int(status[field])
    if status.get("collisionCount") is not None:
        out["collisionCount"] = int(status["collisionCount"])
    if status.get("conditions"):
        out["conditions"] = status["conditions"]
    return out


@dataclass
class _Backoff:
    delay: float
    updated: float


class FailedPodBackoff:
    """Per-(DaemonSet, node) backoff before deleting a failed pod again (upstream failedPodsBackoff:
    1s doubling to 15 minutes), so the controller does not fight a kubelet that rejects pods."""

    def __init__(self, initial: float = FAILED_BACKOFF_INITIAL, maximum: float = FAILED_BACKOFF_MAX):
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, _Backoff] = {}

    def in_backoff(self, key: str, now: float) -> float:
        """Seconds still to wait (0.0 when the key may act now)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(entry.updated + entry.delay - now, 0.0)

    def next(self, key: str, now: float) -> None:
        entry = self._entries.get(key)
        if entry is None or now - entry.updated > 2 * self.maximum:
            self._entries[key] = _Backoff(self.initial, now)
        else:
            entry.delay = min(entry.delay * 2, self.maximum)
            entry.updated = now

    def gc(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if now - e.updated > 2 * self.maximum]:
            del self._entries[key]


# ---------------------------------------------------------------- the controller
class DaemonSetController(Controller):
    def __init__(
        self,
        client: Client,
        *,
        workers: int = 2,
        clock: Clock | None = None,
        burst_replicas: int = BURST_REPLICAS,
        recorder: EventRecorder | None = None,
    ):
        super().__init__(client, name=COMPONENT, workers=workers, clock=clock)
        self.burst_replicas = burst_replicas
        self.ds_client = client.resource("apps", "v1", "daemonsets")
        self.pods_client = client.resource("", "v1", "pods")
        self.pod_control = PodControl(self.pods_client, self._event)
        self.revisions_client = client.resource("apps", "v1", "controllerrevisions")
        self.creations = ControllerExpectations(self.clock)
        self.deletions = ControllerExpectations(self.clock)
        self.failed_backoff = FailedPodBackoff()
        self.recorder = self.event_recorder(recorder, COMPONENT)
        self.daemon_sets = self.informer("apps", "v1", "daemonsets")
        self.nodes = self.informer("", "v1", "nodes")
        self.pods = self.informer("", "v1", "pods")
        self.revisions = self.informer("apps", "v1", "controllerrevisions")
        self.daemon_sets.add_handler(self.enqueue, lambda _old, new: self.enqueue(new), self._ds_deleted)
        self.nodes.add_handler(self._node_added, self._node_updated, self._node_deleted)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.revisions.add_handler(
            self._revision_changed, lambda _old, new: self._revision_changed(new), self._revision_changed
        )

    # ------------------------------------------------------------------ handlers
    def _ds_deleted(self, ds: Obj) -> None:
        key = object_key(ds)
        self.creations.delete(key)
        self.deletions.delete(key)
        self.queue.add(key)

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        return resolve_controller(self.daemon_sets.cache, namespace, ref, KIND)

    def _selecting(self, obj: Obj) -> list[Obj]:
        return owners_selecting(self.daemon_sets.cache, obj)

    def _pod_added(self, pod: Obj) -> None:
        if is_deleting(pod):
            self._pod_deleted(pod)
            return
        ds = self._resolve(pod["metadata"].get("namespace") or "", controller_ref(pod))
        if ds is not None:
            self.creations.creation_observed(object_key(ds))
            self.enqueue(ds)
        elif controller_ref(pod) is None:
            for found in self._selecting(pod):
                self.enqueue(found)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        if is_deleting(new):
            self._pod_deleted(new)
            return
        for ds, after_min_ready in owners_to_sync_on_update(old, new, self._resolve, self._selecting, is_ready):
            self.enqueue(ds)
            if after_min_ready:
                self.enqueue_after(ds, float(ds["spec"]["minReadySeconds"]))

    def _pod_deleted(self, pod: Obj) -> None:
        ds = self._resolve(pod["metadata"].get("namespace") or "", controller_ref(pod))
        if ds is not None:
            self.deletions.deletion_observed(object_key(ds), object_key(pod))
            self.enqueue(ds)

    def _revision_changed(self, revision: Obj) -> None:
        ds = self._resolve(revision["metadata"].get("namespace") or "", controller_ref(revision))
        if ds is not None:
            self.enqueue(ds)
        elif controller_ref(revision) is None:
            for found in self._selecting(revision):
                self.enqueue(found)

    def _node_added(self, node: Obj) -> None:
        for ds in self.daemon_sets.cache.list():
            if Placement(ds).should_run(node)[0]:
                self.enqueue(ds)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if old["metadata"].get("labels") == new["metadata"].get("labels") and (old.get("spec") or {}).get(
            "taints"
        ) == (new.get("spec") or {}).get("taints"):
            return
        for ds in self.daemon_sets.cache.list():
            placement = Placement(ds)
            if placement.should_run(old) != placement.should_run(new):
                self.enqueue(ds)

    def _node_deleted(self, node: Obj) -> None:
        for ds in self.daemon_sets.cache.list():
            self.enqueue(ds)

    # ------------------------------------------------------------------ sync
    def _satisfied(self, key: str) -> bool:
        return self.creations.satisfied(key) and self.deletions.satisfied(key)

    async def sync(self, key: str) -> None:
        cached = self.daemon_sets.cache.get(key)
        if cached is None:
            self.creations.delete(key)
            self.deletions.delete(key)
            return
        ds = deep_copy(cached)
        try:
            selector = selector_from_spec(ds["spec"].get("selector"))
        except LabelSelectorError:
            return
        if selector.is_empty:
            self._event(
                ds,
                WARNING,
                "SelectingAll",
                "This daemon set is selecting all pods. A non-empty selector is required.",
            )
            return
        if is_deleting(ds):
            return  # its pods and revisions may be going already: the status cannot be trusted
        namespace, _name = split_key(key)
        nodes = self.nodes.cache.list()
        ref = new_controller_ref(ds, API_VERSION, KIND)
        can_adopt = fresh_owner_check(self.ds_client, ds)
        owned_revisions = await claim(
            self.revisions_client,
            ds,
            ref,
            selector,
            self.revisions.cache.list_namespace(namespace),
            can_adopt,
        )
        collision_count = int((ds.get("status") or {}).get("collisionCount") or 0)
        current, collision_count = await history.update_revision(
            self.revisions_client, ds, ref, owned_revisions, collision_count
        )
        hash_value = history.revision_label(current)
        placement = Placement(ds)
        claim_pods = _PodClaimer(self, ds, ref, selector, can_adopt)
        if not self._satisfied(key):
            await self._update_status(
                ds, nodes, placement, await claim_pods(False), hash_value, collision_count, False
            )
            return
        error: Exception | None = None
        try:
            await self._manage(key, ds, nodes, placement, await claim_pods(False), hash_value)
            if self._satisfied(key) and _strategy_type(ds) == "RollingUpdate":
                await self._rolling_update(key, ds, nodes, placement, await claim_pods(False), hash_value)
            old = [r for r in owned_revisions if r["metadata"]["name"] != current["metadata"]["name"]]
            await self._cleanup_history(ds, old, await claim_pods(True))
        except Exception as err:
            error = err
        await self._update_status(
            ds, nodes, placement, await claim_pods(False), hash_value, collision_count, True
        )
        if error is not None:
            raise error

    # ------------------------------------------------------------------ manage
    async def _manage(
        self,
        key: str,
        ds: Obj,
        nodes: list[Obj],
        placement: Placement,
        by_node: dict[str, list[Obj]],
        hash_value: str,
    ) -> None:
        self.failed_backoff.gc(self.clock.monotonic())
        creates: list[str] = []
        deletes: list[Obj] = []
        for node in nodes:
            node_creates, node_deletes = self._pods_should_be_on_node(
                ds, placement, node, by_node, hash_value
            )
            creates += node_creates
            deletes += node_deletes
        # pods aimed at nodes that are gone can never run: upstream deletes the unbound ones (and
        # the pod GC the bound ones; here the controller does both)
        known = {node["metadata"]["name"] for node in nodes}
        for node_name, pods in by_node.items():
            if node_name not in known:
                deletes += [pod for pod in pods if not is_deleting(pod)]
        await self._sync_nodes(key, ds, deletes, creates, hash_value)

    def _pods_should_be_on_node(
        self, ds: Obj, placement: Placement, node: Obj, by_node: dict[str, list[Obj]], hash_value: str
    ) -> tuple[list[str], list[Obj]]:
        node_name = node["metadata"]["name"]
        should_run, should_continue = placement.should_run(node)
        pods = by_node.get(node_name)
        if should_run and pods is None:
            return [node_name], []
        if not should_continue:
            return [], [pod for pod in pods or () if not is_deleting(pod)]
        creates: list[str] = []
        deletes: list[Obj] = []
        running: list[Obj] = []
        now = self.clock.time()
        for pod in pods or ():
            if is_deleting(pod):
                continue
            phase = (pod.get("status") or {}).get("phase")
            if phase == "Failed":
                backoff_key = f"{ds['metadata']['uid']}/{(ds.get('status') or {}).get('observedGeneration', 0)}/{node_name}"
                wait = self.failed_backoff.in_backoff(backoff_key, self.clock.monotonic())
                if wait > 0:
                    self.enqueue_after(ds, wait)
                    continue
                self.failed_backoff.next(backoff_key, self.clock.monotonic())
                message = (
                    f"Found failed daemon pod {pod['metadata'].get('namespace')}/{pod['metadata']['name']} "
                    f"on node {node_name}, will try to kill it"
                )
                self._event(ds, WARNING, "FailedDaemonPod", message)
                deletes.append(pod)
            elif phase == "Succeeded":
                message = (
                    f"Found succeeded daemon pod {pod['metadata'].get('namespace')}/{pod['metadata']['name']} "
                    f"on node {node_name}, will try to delete it"
                )
                self._event(ds, NORMAL, "SucceededDaemonPod", message)
                deletes.append(pod)
            else:
                running.append(pod)
        running.sort(key=_by_creation_and_phase)
        if not _allows_surge(ds):
            return creates, deletes + running[1:]
        if len(running) <= 1:
            if not running and should_run:
                creates.append(node_name)
            return creates, deletes
        # surging: keep the oldest new pod, and the oldest old pod while the new one is not yet
        # available and the old one still ready
        oldest_new: Obj | None = None
        oldest_old: Obj | None = None
        for pod in running:
            is_new = (pod["metadata"].get("labels") or {}).get(history.CONTROLLER_REVISION_HASH) == hash_value
            if is_new and oldest_new is None:
                oldest_new = pod
            elif not is_new and oldest_old is None:
                oldest_old = pod
            else:
                deletes.append(pod)
        if oldest_new is not None and oldest_old is not None:
            min_ready = ds["spec"].get("minReadySeconds") or 0
            if not is_ready(oldest_old) or is_available(oldest_new, min_ready, now):
                deletes.append(oldest_old)
        return creates, deletes

    async def _sync_nodes(
        self, key: str, ds: Obj, deletes: list[Obj], creates: list[str], hash_value: str
    ) -> None:
        """Delete pods and create one on each node given, within the burst limit (upstream syncNodes)."""
        creates = creates[: self.burst_replicas]
        deletes = deletes[: self.burst_replicas]
        self.creations.expect_creations(key, len(creates))
        self.deletions.expect_deletions(key, [object_key(pod) for pod in deletes])
        errors: list[Exception] = []
        if creates:
            template = self._pod_template(ds, hash_value)
            ref = new_controller_ref(ds, API_VERSION, KIND)
            targets = iter(creates)
            attempted = 0

            async def create_one() -> None:
                nonlocal attempted
                attempted += 1
                await self._create_pod(key, ds, template, ref, next(targets))

            _successes, error = await slow_start_batch(len(creates), 1, create_one)
            if error is not None:
                errors.append(error)
                for _ in range(len(creates) - attempted):  # never attempted: no longer expected
                    self.creations.creation_observed(key)
        if deletes:
            results = await asyncio.gather(
                *(self._delete_pod(key, ds, pod) for pod in deletes), return_exceptions=True
            )
            errors += [result for result in results if isinstance(result, Exception)]
        if errors:
            raise errors[0]

    def _pod_template(self, ds: Obj, hash_value: str) -> Obj:
        """upstream CreatePodTemplate: daemon tolerations, the generation and revision labels."""
        template = deep_copy(ds["spec"]["template"])
        spec = template.setdefault("spec", {})
        spec["tolerations"] = daemon_tolerations(spec)
        meta = template.setdefault("metadata", {})
        meta["labels"] = {
            **(meta.get("labels") or {}),
            TEMPLATE_GENERATION_LABEL: template_generation(ds),
            history.CONTROLLER_REVISION_HASH: hash_value,
        }
        return template

    async def _create_pod(self, key: str, ds: Obj, template: Obj, ref: Obj, node_name: str) -> None:
        pod = pod_from_template(template, ds, ref)
        pod["spec"]["affinity"] = node_name_affinity(pod["spec"].get("affinity"), node_name)
        try:
            created = await self.pod_control.create(ds, pod)
        except Exception:
            self.creations.creation_observed(key)
            raise
        if created is None:  # the namespace is terminating
            self.creations.creation_observed(key)

    async def _delete_pod(self, key: str, ds: Obj, pod: Obj) -> None:
        try:
            await self.pod_control.delete(ds, pod)
        except StatusError as err:
            self.deletions.deletion_observed(key, object_key(pod))
            if err.code != 404:
                raise

    # ------------------------------------------------------------------ rolling update
    async def _rolling_update(
        self,
        key: str,
        ds: Obj,
        nodes: list[Obj],
        placement: Placement,
        by_node: dict[str, list[Obj]],
        hash_value: str,
    ) -> None:
        desired = 0
        for node in nodes:
            if placement.should_run(node)[0]:
                desired += 1
                by_node.setdefault(node["metadata"]["name"], [])
        max_unavailable = _rolling_count(ds, "maxUnavailable", desired)
        max_surge = _rolling_count(ds, "maxSurge", desired)
        if desired > 0 and max_unavailable == 0 and max_surge == 0:
            max_unavailable = 1
        min_ready = ds["spec"].get("minReadySeconds") or 0
        now = self.clock.time()
        generation = template_generation(ds)
        nodes_by_name = {node["metadata"]["name"]: node for node in nodes}
        if max_surge == 0:
            unavailable = 0
            replacements: list[Obj] = []
            candidates: list[Obj] = []
            for pods in by_node.values():
                found = _new_and_old(pods, hash_value, generation)
                if found is None:
                    unavailable += 1
                    continue
                new_pod, old_pod = found
                if (old_pod is None) == (new_pod is None):
                    unavailable += 1
                elif new_pod is not None:
                    if not is_available(new_pod, min_ready, now):
                        unavailable += 1
                elif old_pod is not None:
                    if not is_available(old_pod, min_ready, now):
                        replacements.append(old_pod)
                        unavailable += 1
                    elif unavailable < max_unavailable:
                        candidates.append(old_pod)
            room = min(max(max_unavailable - unavailable, 0), len(candidates))
            await self._sync_nodes(key, ds, replacements + candidates[:room], [], hash_value)
            return
        surging = 0
        available = 0
        old_to_delete: list[Obj] = []
        should_not_run: list[Obj] = []
        allowed_nodes: list[str] = []
        candidate_nodes: list[str] = []
        for node_name, pods in by_node.items():
            found = _new_and_old(pods, hash_value, generation)
            if found is None:
                surging += 1
                continue
            new_pod, old_pod = found
            counted = old_pod if old_pod is not None else new_pod
            if counted is not None and is_available(counted, min_ready, now):
                available += 1
            if old_pod is None:
                continue
            if new_pod is None:
                target = nodes_by_name.get(node_name)
                runs_here = target is not None and placement.should_run(target)[0]
                if not is_available(old_pod, min_ready, now):
                    if not runs_here:
                        old_to_delete.append(old_pod)
                    else:
                        allowed_nodes.append(node_name)
                elif not runs_here:
                    should_not_run.append(old_pod)
                elif surging < max_surge:
                    candidate_nodes.append(node_name)
                continue
            if not is_available(new_pod, min_ready, now):
                surging += 1
                continue
            old_to_delete.append(old_pod)
        deletable = available - desired
        if deletable > 0:
            old_to_delete += should_not_run[:deletable]
        room = min(max(max_surge - surging, 0), len(candidate_nodes))
        await self._sync_nodes(key, ds, old_to_delete, allowed_nodes + candidate_nodes[:room], hash_value)

    # ------------------------------------------------------------------ history
    async def _cleanup_history(self, ds: Obj, old: list[Obj], by_node: dict[str, list[Obj]]) -> None:
        limit = ds["spec"].get("revisionHistoryLimit")
        if limit is None or len(old) <= limit:
            return
        live_hashes = {
            (pod["metadata"].get("labels") or {}).get(history.CONTROLLER_REVISION_HASH)
            for pods in by_node.values()
            for pod in pods
        }
        live = {r["metadata"]["name"] for r in old if history.revision_label(r) in live_hashes}
        await history.truncate_history(self.revisions_client, old, live, limit)

    # ------------------------------------------------------------------ status
    def calculate_status(
        self, ds: Obj, nodes: list[Obj], placement: Placement, by_node: dict[str, list[Obj]], hash_value: str
    ) -> Obj:
        desired = current = misscheduled = ready = updated = available = 0
        min_ready = ds["spec"].get("minReadySeconds") or 0
        now = self.clock.time()
        generation = template_generation(ds)
        for node in nodes:
            should_run, _continue = placement.should_run(node)
            pods = by_node.get(node["metadata"]["name"]) or []
            if not should_run:
                if pods:
                    misscheduled += 1
                continue
            desired += 1
            if not pods:
                continue
            current += 1
            pod = min(pods, key=_by_creation_and_phase)
            if is_ready(pod):
                ready += 1
                if is_available(pod, min_ready, now):
                    available += 1
            if is_pod_updated(pod, hash_value, generation):
                updated += 1
        return {
            "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled,
            "desiredNumberScheduled": desired,
            "numberReady": ready,
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberUnavailable": desired - available,
        }

    async def _update_status(
        self,
        ds: Obj,
        nodes: list[Obj],
        placement: Placement,
        by_node: dict[str, list[Obj]],
        hash_value: str,
        collision_count: int,
        observe: bool,
    ) -> None:
        counters = self.calculate_status(ds, nodes, placement, by_node, hash_value)
        previous = ds.get("status") or {}
        status = {**previous, **counters}
        if observe:
            status["observedGeneration"] = ds["metadata"].get("generation") or 0
        if collision_count or previous.get("collisionCount") is not None:
            status["collisionCount"] = collision_count
        wanted = public_status(status)
        if wanted != public_status(previous):
            await self._write_status(ds, wanted)
        if (ds["spec"].get("minReadySeconds") or 0) > 0 and counters["numberReady"] != counters[
            "numberAvailable"
        ]:
            self.enqueue_after(ds, float(ds["spec"]["minReadySeconds"]))

    async def _write_status(self, ds: Obj, status: Obj) -> None:
        resource = self.ds_client.namespace(ds["metadata"]["namespace"])
        try:
            await resource.update_status({**ds, "status": status})
            return
        except StatusError as err:
            if err.code != 409:
                raise
        fresh = await resource.get(ds["metadata"]["name"])
        if fresh["metadata"].get("uid") != ds["metadata"].get("uid"):
            return
        await resource.update_status({**fresh, "status": status})

    def _event(self, ds: Obj, event_type: str, reason: str, message: str) -> None:
        self.recorder.event(ds, event_type, reason, message, kind=KIND, api_version=API_VERSION)


class _PodClaimer:
    """Claims a DaemonSet's pods from the pod cache and groups them by target node (upstream
    getNodesToDaemonPods); each call reads the cache afresh."""

    def __init__(
        self,
        controller: DaemonSetController,
        ds: Obj,
        ref: Obj,
        selector: LabelSelector,
        can_adopt: Callable[[], Awaitable[None]],
    ):
        self.controller = controller
        self.ds = ds
        self.ref = ref
        self.selector = selector
        self.can_adopt = can_adopt

    async def __call__(self, include_deleted_terminal: bool) -> dict[str, list[Obj]]:
        namespace = self.ds["metadata"]["namespace"]
        controller = self.controller
        claimed = await claim(
            controller.pods_client,
            self.ds,
            self.ref,
            self.selector,
            controller.pods.cache.list_namespace(namespace),
            self.can_adopt,
        )
        by_node: dict[str, list[Obj]] = {}
        for pod in claimed:
            phase = (pod.get("status") or {}).get("phase")
            if not include_deleted_terminal and phase in ("Succeeded", "Failed") and is_deleting(pod):
                continue
            node_name = target_node_name(pod)
            if node_name is not None:
                by_node.setdefault(node_name, []).append(pod)
        return by_node


def _new_and_old(pods: list[Obj], hash_value: str, generation: str) -> tuple[Obj | None, Obj | None] | None:
    """upstream findUpdatedPodsOnNode: the node's one new and one old live pod, or None when it has
    more than one of either (the manage loop prunes those first)."""
    new_pod: Obj | None = None
    old_pod: Obj | None = None
    for pod in pods:
        if is_deleting(pod):
            continue
        if is_pod_updated(pod, hash_value, generation):
            if new_pod is not None:
                return None
            new_pod = pod
        else:
            if old_pod is not None:
                return None
            old_pod = pod
    return new_pod, old_pod


__all__ = [
    "DEFAULT_TOLERATIONS",
    "DaemonSetController",
    "FailedPodBackoff",
    "Placement",
    "daemon_tolerations",
    "is_pod_updated",
    "node_name_affinity",
    "target_node_name",
    "template_generation",
]
