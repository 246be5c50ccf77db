"""The disruption controller, as upstream's pkg/controller/disruption: the status of each policy/v1
PodDisruptionBudget — expectedPods (the pods' count, or with a percentage minAvailable or any
maxUnavailable the sum of their controllers' spec.replicas: Deployments, ReplicaSets,
ReplicationControllers, StatefulSets, else any built-in resource's scale subresource),
desiredHealthy, currentHealthy (Ready pods not being deleted nor recently evicted),
disruptionsAllowed, disruptedPods (evictions the API approved; dropped once the pod is being
deleted or after two minutes), observedGeneration and the DisruptionAllowed condition (reasons
SufficientPods, InsufficientPods, SyncFailed). It also resets a DisruptionTarget condition left
on a pod that was not deleted within two minutes.

Queue keys are budget keys (`namespace/name`) and `pod:namespace/name` for the stale conditions.

Must not evict or delete pods (the eviction subresource does), nor mutate cached objects.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from kubelite.api.disruption import (
    DISRUPTION_ALLOWED,
    DISRUPTION_TARGET,
    SYNC_FAILED,
    TERMINAL_PHASES,
    budget_selects,
    disruption_conditions_up_to_date,
    pod_condition,
    pod_is_ready,
    set_pod_condition,
    set_status_condition,
    update_disruption_allowed_condition,
)
from kubelite.api.errors import StatusError
from kubelite.api.labels import selector_from_spec
from kubelite.client.cache import object_key, split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller
from kubelite.controllers.deploymentutil import scaled_value
from kubelite.controllers.events import NORMAL, WARNING, EventRecorder, rfc3339
from kubelite.controllers.ownership import controller_ref, is_deleting
from kubelite.controllers.podutil import parse_time
from kubelite.schema.builtins import builtin_resources

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DELETION_TIMEOUT = 120.0  # an approved eviction not followed by a deletion is forgotten after this
STALE_DISRUPTION_TIMEOUT = 120.0  # a DisruptionTarget condition without a deletion is reset after this
STALE_POD_PREFIX = "pod:"


def deep_copy(obj: Obj) -> Obj:
    return orjson.loads(orjson.dumps(obj))  # type: ignore[no-any-return]


def api_group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def go_selector(selector: Obj | None) -> str:
    """`%v` of a *metav1.LabelSelector as upstream's events print it."""
    if selector is None:
        return "nil"
    labels = selector.get("matchLabels") or {}
    mapped = "".join(f"{key}: {labels[key]}," for key in sorted(labels))
    requirements = "".join(
        f"LabelSelectorRequirement{{Key:{req.get('key', '')},Operator:{req.get('operator', '')},"
        f"Values:[{' '.join(req.get('values') or [])}],}},"
        for req in selector.get("matchExpressions") or []
    )
    return (
        f"&LabelSelector{{MatchLabels:map[string]string{{{mapped}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{requirements}}},}}"
    )


def stale_condition_wait(pod: Obj, now: float) -> float | None:
    """Seconds until a pod's DisruptionTarget condition counts as stale (upstream
    nonTerminatingPodHasStaleDisruptionCondition); None when it never will."""
    if is_deleting(pod):
        return None
    condition = pod_condition(pod, DISRUPTION_TARGET)
    phase = (pod.get("status") or {}).get("phase")
    if (
        condition is None
        or condition.get("status") != "True"
        or condition.get("reason") == "TerminationByKubelet"
        or phase in TERMINAL_PHASES
    ):
        return None
    since = parse_time(condition.get("lastTransitionTime") or "")
    return max(STALE_DISRUPTION_TIMEOUT - (now - since), 0.0)


class ExpectedCountError(Exception):
    """The expected pod count cannot be computed (the message is upstream's)."""


class DisruptionController(Controller):
    def __init__(
        self,
        client: Client,
        *,
        workers: int = 2,
        clock: Clock | None = None,
        recorder: EventRecorder | None = None,
    ):
        super().__init__(client, name="disruption-controller", workers=workers, clock=clock)
        self.budgets_client = client.resource("policy", "v1", "poddisruptionbudgets")
        self.pods_client = client.resource("", "v1", "pods")
        self.recorder = self.event_recorder(recorder, "controllermanager")
        self.budgets = self.informer("policy", "v1", "poddisruptionbudgets")
        self.pods = self.informer("", "v1", "pods")
        self.replica_sets = self.informer("apps", "v1", "replicasets")
        self.deployments = self.informer("apps", "v1", "deployments")
        self.replication_controllers = self.informer("", "v1", "replicationcontrollers")
        self.stateful_sets = self.informer("apps", "v1", "statefulsets")
        self.budgets.add_handler(self.enqueue, self._budget_updated, self.enqueue)
        self.pods.add_handler(self._pod_changed, self._pod_updated, self._pod_deleted)

    # ------------------------------------------------------------------ informer handlers
    def _budget_updated(self, old: Obj, new: Obj) -> None:
        self.enqueue(new)

    def _enqueue_budgets_of(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        for budget in self.budgets.cache.list_namespace(meta.get("namespace") or ""):
            if budget_selects(budget, labels):
                self.enqueue(budget)

    def _pod_changed(self, pod: Obj) -> None:
        self._enqueue_budgets_of(pod)
        wait = stale_condition_wait(pod, self.clock.time())
        if wait is not None:
            self.queue.add_after(STALE_POD_PREFIX + object_key(pod), wait)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
            self._enqueue_budgets_of(old)
        self._pod_changed(new)

    def _pod_deleted(self, pod: Obj) -> None:
        self._enqueue_budgets_of(pod)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        if key.startswith(STALE_POD_PREFIX):
            await self._sync_stale_pod(key[len(STALE_POD_PREFIX) :])
            return
        budget = self.budgets.cache.get(key)
        if budget is None:
            return
        try:
            await self._try_sync(key, budget)
        except StatusError as err:
            if err.code == 409:
                raise
            await self._fail_safe(budget, err.message)
        except Exception as err:
            log.info("disruption: sync of %s failed: %s", key, err)
            await self._fail_safe(budget, str(err))

    async def _try_sync(self, key: str, budget: Obj) -> None:
        spec = budget.get("spec") or {}
        namespace = budget["metadata"].get("namespace") or ""
        try:
            selector = selector_from_spec(spec.get("selector"))
        except ValueError as err:
            self._event(budget, WARNING, "NoPods", f"Failed to get pods: {err}")
            raise
        pods = [pod for pod in self.pods.cache.list_namespace(namespace) if selector.matches(pod["metadata"].get("labels") or {})]
        if not pods:
            self._event(budget, NORMAL, "NoPods", "No matching pods found")
        try:
            expected, desired, unmanaged = await self.expected_counts(budget, pods)
        except Exception as err:
            message = err.message if isinstance(err, StatusError) else str(err)
            self._event(budget, WARNING, "CalculateExpectedPodCountFailed", f"Failed to calculate the number of expected pods: {message}")
            raise
        if unmanaged:
            self._event(
                budget,
                WARNING,
                "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {go_selector(spec.get('selector'))}) were found "
                "to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result "
                'in undefined behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to '
                "an integer value.",
            )
        now = self.clock.time()
        disrupted, recheck = self._disrupted_pods(budget, pods, now)
        healthy = 0
        for pod in pods:
            if is_deleting(pod):
                continue
            since = disrupted.get(pod["metadata"]["name"])
            if since is not None and parse_time(since) + DELETION_TIMEOUT > now:
                continue
            if pod_is_ready(pod):
                healthy += 1
        await self._update_status(budget, healthy, desired, expected, disrupted)
        if recheck is not None:
            self.queue.add_after(key, max(recheck - now, 0.0))

    # ------------------------------------------------------------------ expected pods
    async def expected_counts(self, budget: Obj, pods: list[Obj]) -> tuple[int, int, list[str]]:
        """upstream getExpectedPodCount: (expectedPods, desiredHealthy, names of unmanaged pods)."""
        spec = budget.get("spec") or {}
        max_unavailable = spec.get("maxUnavailable")
        min_available = spec.get("minAvailable")
        if max_unavailable is not None:
            expected, unmanaged = await self._expected_scale(pods)
            unavailable = scaled_value(max_unavailable, expected, True)
            return expected, max(expected - unavailable, 0), unmanaged
        if min_available is None:
            return 0, 0, []
        if isinstance(min_available, int):
            return len(pods), min_available, []
        expected, unmanaged = await self._expected_scale(pods)
        return expected, scaled_value(min_available, expected, True), unmanaged

    async def _expected_scale(self, pods: list[Obj]) -> tuple[int, list[str]]:
        """The sum of the scales of the pods' controllers (each counted once); unmanaged pods apart."""
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None:
                unmanaged.append(pod["metadata"]["name"])
                continue
            if ref.get("uid") in scales:
                continue
            found = await self._controller_scale(ref, pod["metadata"].get("namespace") or "")
            if found is None:
                raise ExpectedCountError(f'found no controllers for pod "{pod["metadata"]["name"]}"')
            scales[found[0]] = found[1]
        return sum(scales.values()), unmanaged

    async def _controller_scale(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        """upstream's finders, in order: ReplicationController, Deployment (through its ReplicaSet),
        ReplicaSet (not owned by a Deployment), StatefulSet, then the scale subresource."""
        group, kind, name = api_group(ref.get("apiVersion") or ""), ref.get("kind"), ref.get("name") or ""
        if kind == "ReplicationController" and group == "":
            return _scale_of(self.replication_controllers.cache.get_by_name(namespace, name), ref)
        if kind == "ReplicaSet" and group in ("apps", "extensions"):
            replica_set = self.replica_sets.cache.get_by_name(namespace, name)
            if replica_set is not None and replica_set["metadata"].get("uid") == ref.get("uid"):
                owner = controller_ref(replica_set)
                if owner is None:
                    return _scale_of(replica_set, ref)
                if owner.get("kind") == "Deployment" and api_group(owner.get("apiVersion") or "") in ("apps", "extensions"):
                    found = _scale_of(self.deployments.cache.get_by_name(namespace, owner.get("name") or ""), owner)
                    if found is not None:
                        return found
        if kind == "StatefulSet" and group == "apps":
            found = _scale_of(self.stateful_sets.cache.get_by_name(namespace, name), ref)
            if found is not None:
                return found
        return await self._scale_subresource(ref, namespace)

    async def _scale_subresource(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        api_version, kind = ref.get("apiVersion") or "", ref.get("kind") or ""
        group = api_group(api_version)
        info = next((i for i in builtin_resources() if i.group == group and i.kind == kind), None)
        if info is None:
            raise ExpectedCountError(f'no matches for kind "{kind}" in version "{api_version}"')
        if info.subresource("scale") is None:
            resource = f"{info.resource}.{info.group}" if info.group else info.resource
            raise ExpectedCountError(f"{resource} does not implement the scale subresource")
        client = self.client.resource(info.group, info.version, info.resource).namespace(namespace)
        try:
            scale = await client.get(ref.get("name") or "", subresource="scale")
        except StatusError as err:
            if err.code == 404:
                return None
            raise
        if (scale.get("metadata") or {}).get("uid") != ref.get("uid"):
            return None
        return str(ref.get("uid")), int((scale.get("spec") or {}).get("replicas") or 0)

    # ------------------------------------------------------------------ status
    def _disrupted_pods(self, budget: Obj, pods: list[Obj], now: float) -> tuple[dict[str, str], float | None]:
        """upstream buildDisruptedPodMap: approved evictions still expected to happen, and when to
        look again."""
        known = (budget.get("status") or {}).get("disruptedPods") or {}
        kept: dict[str, str] = {}
        recheck: float | None = None
        if not known:
            return kept, recheck
        for pod in pods:
            name = pod["metadata"]["name"]
            if is_deleting(pod) or name not in known:
                continue
            expected_deletion = parse_time(known[name]) + DELETION_TIMEOUT
            if expected_deletion < now:
                meta = budget["metadata"]
                self.recorder.event(
                    pod,
                    WARNING,
                    "NotDeleted",
                    f"Pod was expected by PDB {meta.get('namespace', '')}/{meta['name']} to be deleted but it wasn't",
                    kind="Pod",
                    api_version="v1",
                )
                continue
            kept[name] = known[name]
            recheck = expected_deletion if recheck is None else min(recheck, expected_deletion)
        return kept, recheck

    async def _update_status(self, budget: Obj, healthy: int, desired: int, expected: int, disrupted: dict[str, str]) -> None:
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        status = budget.get("status") or {}
        generation = budget["metadata"].get("generation") or 0
        if (
            status.get("currentHealthy", 0) == healthy
            and status.get("desiredHealthy", 0) == desired
            and status.get("expectedPods", 0) == expected
            and status.get("disruptionsAllowed", 0) == allowed
            and (status.get("disruptedPods") or {}) == disrupted
            and (status.get("observedGeneration") or 0) == generation
            and disruption_conditions_up_to_date(budget)
        ):
            return
        new_status: Obj = {
            "disruptionsAllowed": allowed,
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": expected,
        }
        if generation:
            new_status["observedGeneration"] = generation
        if disrupted:
            new_status["disruptedPods"] = disrupted
        if status.get("conditions"):
            new_status["conditions"] = status["conditions"]
        update_disruption_allowed_condition(new_status, rfc3339(self.clock.time()))
        await self._write_status(budget, new_status)

    async def _fail_safe(self, budget: Obj, message: str) -> None:
        """upstream failSafe: at least make sure no eviction is approved while the status is unknown."""
        status = deep_copy(budget.get("status") or {})
        status["disruptionsAllowed"] = 0
        conditions: list[Obj] = status.get("conditions") or []
        condition = {
            "type": DISRUPTION_ALLOWED,
            "status": "False",
            "reason": SYNC_FAILED,
            "message": message,
            "observedGeneration": status.get("observedGeneration") or 0,
        }
        set_status_condition(conditions, condition, rfc3339(self.clock.time()))
        status["conditions"] = conditions
        for field in ("currentHealthy", "desiredHealthy", "expectedPods"):
            status.setdefault(field, 0)
        await self._write_status(budget, status)

    async def _write_status(self, budget: Obj, status: Obj) -> None:
        updated = deep_copy(budget)
        updated["status"] = status
        await self.budgets_client.namespace(budget["metadata"].get("namespace") or "").update_status(updated)

    # ------------------------------------------------------------------ stale DisruptionTarget conditions
    async def _sync_stale_pod(self, key: str) -> None:
        pod = self.pods.cache.get(key)
        if pod is None:
            return
        wait = stale_condition_wait(pod, self.clock.time())
        if wait is None:
            return
        if wait > 0:
            self.queue.add_after(STALE_POD_PREFIX + key, wait)
            return
        updated = deep_copy(pod)
        reset = {"type": DISRUPTION_TARGET, "status": "False"}
        if not set_pod_condition(updated.setdefault("status", {}), reset, rfc3339(self.clock.time())):
            return
        namespace, _ = split_key(key)
        await self.pods_client.namespace(namespace).update_status(updated)

    def _event(self, budget: Obj, event_type: str, reason: str, message: str) -> None:
        self.recorder.event(budget, event_type, reason, message, kind="PodDisruptionBudget", api_version="policy/v1")


def _scale_of(owner: Obj | None, ref: Obj) -> tuple[str, int] | None:
    """(uid, spec.replicas) of the owner when it is the one the reference names."""
    if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
        return None
    replicas = (owner.get("spec") or {}).get("replicas")
    return str(owner["metadata"]["uid"]), int(1 if replicas is None else replicas)
