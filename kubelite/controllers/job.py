"""The Job controller (batch/v1) as upstream's pkg/controller/job in 1.33: claim the Job's pods,
create pods from the template (NonIndexed, or Indexed with the completion-index annotation, label,
hostname and JOB_COMPLETION_INDEX), delete surplus ones, and replace failed ones after the
exponential pod-failure backoff. Finished pods are counted exactly once through the
`batch.kubernetes.io/job-tracking` finalizer: a finished pod's uid goes into
status.uncountedTerminatedPods, its finalizer is removed, then it moves into succeeded/failed.
A Job ends with SuccessCriteriaMet then Complete, or FailureTarget then Failed
(BackoffLimitExceeded, DeadlineExceeded) once no pod is left terminating; suspending it deletes
its active pods (condition Suspended). Events as upstream's job-controller writes them.

Pods whose Job is gone or finished lose the tracking finalizer through `pod:<namespace>/<name>`
keys in the same work queue.

Must not touch pods it does not control (beyond adopting orphans that match), nor mutate cached
objects. Pod failure policies, backoffLimitPerIndex and success policies are not implemented.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.api.labels import LabelSelectorError, selector_from_spec
from kubelite.client.cache import OWNER_UID_INDEX, index_by_owner_uid, object_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller
from kubelite.controllers.events import NORMAL, WARNING, EventRecorder, rfc3339
from kubelite.controllers.expectations import ControllerExpectations
from kubelite.controllers.jobutil import (
    COMPLETE,
    COMPLETION_INDEX,
    FAILED,
    FAILURE_TARGET,
    JOB_CONTROLLER_NAME,
    MESSAGE_BACKOFF_LIMIT,
    MESSAGE_COMPLETIONS,
    MESSAGE_DEADLINE,
    REASON_BACKOFF_LIMIT,
    REASON_COMPLETIONS,
    REASON_DEADLINE,
    SUCCESS_CRITERIA_MET,
    SUSPENDED,
    TRACKING_FINALIZER,
    UNKNOWN_INDEX,
    BackoffRecord,
    Interval,
    add_completion_index_env,
    completion_index,
    condition,
    contains,
    ensure_condition,
    first_pending_indexes,
    format_indexes,
    generate_name_with_index,
    has_tracking_finalizer,
    is_finished,
    is_indexed,
    is_suspended,
    is_terminating,
    new_condition,
    next_backoff_record,
    parse_indexes,
    past_backoff_limit_on_failure,
    phase,
    remaining_backoff,
    total,
    with_indexes,
)
from kubelite.controllers.ownership import (
    claim,
    controller_ref,
    fresh_owner_check,
    is_deleting,
    new_controller_ref,
    owners_selecting,
    resolve_controller,
)
from kubelite.controllers.podcontrol import PodControl
from kubelite.controllers.podranking import pods_to_delete
from kubelite.controllers.podutil import is_active, is_ready, parse_time
from kubelite.controllers.replicaset import (
    SLOW_START_INITIAL_BATCH,
    deep_copy,
    pod_from_template,
    slow_start_batch,
)

Obj = dict[str, Any]

KIND = "Job"
API_VERSION = "batch/v1"
COMPONENT = "job-controller"
ORPHAN_PREFIX = "pod:"
ORPHAN_NAMESPACE_INDEX = "orphanNamespace"
SYNC_BATCH_PERIOD = 1.0
DEFAULT_BACKOFF_LIMIT = 6
MAX_UNCOUNTED_PODS = 500
MAX_POD_CREATE_DELETE_PER_SYNC = 500
REMOVE_FINALIZER_PATCH = {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}}
ADD_FINALIZER_PATCH = {"metadata": {"finalizers": [TRACKING_FINALIZER]}}


def index_orphans_by_namespace(obj: Obj) -> list[str]:
    """Objects without a controller, filed under their namespace (the adoption candidates)."""
    if controller_ref(obj) is not None:
        return []
    return [(obj.get("metadata") or {}).get("namespace") or ""]


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def only_replace_failed(job: Obj) -> bool:
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """Failed, or (unless only failed pods are replaced) deleted before it succeeded."""
    if phase(pod) == "Failed":
        return True
    if only_replace_failed(job):
        return False
    return bool((pod.get("metadata") or {}).get("deletionTimestamp")) and phase(pod) != "Succeeded"


def _managed_elsewhere(job: Obj) -> bool:
    managed_by = (job.get("spec") or {}).get("managedBy")
    return bool(managed_by) and managed_by != JOB_CONTROLLER_NAME


def _set_count(status: Obj, field_name: str, value: int) -> None:
    """omitempty counters: dropped at zero."""
    if value:
        status[field_name] = value
    else:
        status.pop(field_name, None)


@dataclass
class _JobSync:
    """What one sync of a Job knows (upstream syncJobCtx)."""

    key: str
    job: Obj
    pods: list[Obj]
    active_pods: list[Obj]
    ready: int
    terminating: int
    uncounted_succeeded: set[str]
    uncounted_failed: set[str]
    expected_removals: set[str]
    succeeded: int = 0
    failed: int = 0
    finished: Obj | None = None
    prev_succeeded_indexes: list[Interval] = field(default_factory=list)
    succeeded_indexes: list[Interval] = field(default_factory=list)
    new_backoff: BackoffRecord = BackoffRecord()

    @property
    def status(self) -> Obj:
        return self.job.setdefault("status", {})  # type: ignore[no-any-return]

    @property
    def completions(self) -> int | None:
        value = (self.job.get("spec") or {}).get("completions")
        return None if value is None else int(value)


class JobController(Controller):
    def __init__(
        self,
        client: Client,
        *,
        workers: int = 5,
        clock: Clock | None = None,
        recorder: EventRecorder | None = None,
        sync_batch_period: float = SYNC_BATCH_PERIOD,
    ):
        super().__init__(client, name=COMPONENT, workers=workers, clock=clock)
        self.batch_period = sync_batch_period
        self.jobs_client = client.resource("batch", "v1", "jobs")
        self.pods_client = client.resource("", "v1", "pods")
        self.pod_control = PodControl(self.pods_client, self._event)
        self.expectations = ControllerExpectations(self.clock)
        self.finalizer_expectations: dict[str, set[str]] = {}  # job key -> pod uids
        self.backoff: dict[str, BackoffRecord] = {}
        self.recorder = self.event_recorder(recorder, COMPONENT)
        self.jobs = self.informer("batch", "v1", "jobs")
        self.pods = self.informer(
            "",
            "v1",
            "pods",
            indexers={
                OWNER_UID_INDEX: index_by_owner_uid,
                ORPHAN_NAMESPACE_INDEX: index_orphans_by_namespace,
            },
        )
        self.jobs.add_handler(self.enqueue, self._job_updated, self._job_deleted)
        self.pods.add_handler(
            self._pod_added, self._pod_updated, lambda pod: self._pod_deleted(pod, final=True)
        )

    # ------------------------------------------------------------------ queueing
    def _enqueue_batched(self, job: Obj) -> None:
        self.queue.add_after(object_key(job), self.batch_period)

    def _enqueue_orphan(self, pod: Obj) -> None:
        self.queue.add(ORPHAN_PREFIX + object_key(pod))

    def _cleanup_pod_finalizers(self, job: Obj) -> None:
        uid = _uid(job)
        for pod in self.pods.cache.by_index(OWNER_UID_INDEX, uid):
            ref = controller_ref(pod)
            if ref is not None and ref.get("uid") == uid and has_tracking_finalizer(pod):
                self._enqueue_orphan(pod)

    # ------------------------------------------------------------------ job handlers
    def _job_updated(self, old: Obj, new: Obj) -> None:
        if old["metadata"].get("generation") == new["metadata"].get("generation"):
            self._enqueue_batched(new)
        else:
            self.enqueue(new)
        if is_finished(new):
            self._cleanup_pod_finalizers(new)
        start = parse_time((new.get("status") or {}).get("startTime") or "")
        deadline = (new.get("spec") or {}).get("activeDeadlineSeconds")
        if (
            start
            and deadline is not None
            and (old.get("spec") or {}).get("activeDeadlineSeconds") != deadline
        ):
            self.queue.add_after(object_key(new), deadline - (self.clock.time() - start))

    def _job_deleted(self, job: Obj) -> None:
        self.enqueue(job)
        self._cleanup_pod_finalizers(job)

    # ------------------------------------------------------------------ pod handlers
    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        return resolve_controller(self.jobs.cache, namespace, ref, KIND)

    def _matching_jobs(self, pod: Obj) -> list[Obj]:
        return owners_selecting(self.jobs.cache, pod)

    def _pod_added(self, pod: Obj) -> None:
        if is_deleting(pod):
            self._pod_deleted(pod, final=False)
            return
        ref = controller_ref(pod)
        if ref is not None:
            job = self._resolve(pod["metadata"].get("namespace") or "", ref)
            if job is not None:
                self.expectations.creation_observed(object_key(job))
                self._enqueue_batched(job)
            return
        if has_tracking_finalizer(pod):
            self._enqueue_orphan(pod)
        for job in self._matching_jobs(pod):
            self._enqueue_batched(job)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        if is_deleting(new):
            self._pod_deleted(new, final=False)
            return
        namespace = new["metadata"].get("namespace") or ""
        finalizer_removed = not has_tracking_finalizer(new)
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        ref_changed = old_ref != new_ref
        if ref_changed and old_ref is not None:
            previous = self._resolve(namespace, old_ref)
            if previous is not None:
                if finalizer_removed:
                    self._finalizer_removal_observed(object_key(previous), _uid(new))
                self._enqueue_batched(previous)
        if new_ref is not None:
            job = self._resolve(namespace, new_ref)
            if job is not None:
                if finalizer_removed:
                    self._finalizer_removal_observed(object_key(job), _uid(new))
                self._enqueue_batched(job)
            return
        if has_tracking_finalizer(new):
            self._enqueue_orphan(new)
        if ref_changed or old["metadata"].get("labels") != new["metadata"].get("labels"):
            for job in self._matching_jobs(new):
                self._enqueue_batched(job)

    def _pod_deleted(self, pod: Obj, *, final: bool) -> None:
        ref = controller_ref(pod)
        with_finalizer = has_tracking_finalizer(pod)
        if ref is None:
            if with_finalizer:
                self._enqueue_orphan(pod)
            return
        job = self._resolve(pod["metadata"].get("namespace") or "", ref)
        if job is None or is_finished(job):
            if with_finalizer:
                self._enqueue_orphan(pod)
            return
        key = object_key(job)
        self.expectations.deletion_observed(key, object_key(pod))
        if final or not with_finalizer:
            self._finalizer_removal_observed(key, _uid(pod))
        self._enqueue_batched(job)

    def _finalizer_removal_observed(self, key: str, uid: str) -> None:
        expected = self.finalizer_expectations.get(key)
        if expected is not None:
            expected.discard(uid)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        if key.startswith(ORPHAN_PREFIX):
            await self._sync_orphan_pod(key[len(ORPHAN_PREFIX) :])
        else:
            await self._sync_job(key)

    async def _sync_orphan_pod(self, key: str) -> None:
        """Drop the tracking finalizer of a pod whose Job is gone, finished or not a Job."""
        pod = self.pods.cache.get(key)
        if pod is None:
            return
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("kind") != KIND or ref.get("apiVersion") != API_VERSION:
                return
            job = self._resolve(pod["metadata"].get("namespace") or "", ref)
            if job is not None and (_managed_elsewhere(job) or not is_finished(job)):
                return
        if has_tracking_finalizer(pod):
            await self._remove_finalizer(pod)

    async def _remove_finalizer(self, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            await self.pods_client.namespace(meta.get("namespace") or "").patch(
                meta["name"], REMOVE_FINALIZER_PATCH, "strategic"
            )
        except StatusError as err:
            if err.code != 404:
                raise

    async def _sync_job(self, key: str) -> None:
        cached = self.jobs.cache.get(key)
        if cached is None:
            self.expectations.delete(key)
            self.finalizer_expectations.pop(key, None)
            self.backoff.pop(key, None)
            return
        if _managed_elsewhere(cached):
            return
        if is_finished(cached):
            self.backoff.pop(key, None)
            return
        spec = cached.get("spec") or {}
        if spec.get("completionMode") not in (None, "NonIndexed", "Indexed"):
            self._event(
                cached,
                WARNING,
                "UnknownCompletionMode",
                "Skipped Job sync because completion mode is unknown",
            )
            return
        job = deep_copy(cached)
        status = job.setdefault("status", {})
        uncounted = status.get("uncountedTerminatedPods") or {}
        status["uncountedTerminatedPods"] = {
            name: list(uncounted[name]) for name in ("succeeded", "failed") if uncounted.get(name)
        }
        satisfied = self.expectations.satisfied(key)
        pods = await self._pods_for_job(job)
        active_pods = [pod for pod in pods if is_active(pod)]
        state = _JobSync(
            key=key,
            job=job,
            pods=pods,
            active_pods=active_pods,
            ready=sum(1 for pod in active_pods if is_ready(pod)),
            terminating=sum(1 for pod in pods if is_terminating(pod)),
            uncounted_succeeded=set(uncounted.get("succeeded") or ()),
            uncounted_failed=set(uncounted.get("failed") or ()),
            expected_removals=set(self.finalizer_expectations.get(key) or ()),
        )
        active = len(active_pods)
        new_succeeded, new_failed = self._new_finished_pods(state)
        state.succeeded = (
            int(status.get("succeeded") or 0) + len(new_succeeded) + len(state.uncounted_succeeded)
        )
        state.failed = int(status.get("failed") or 0) + len(new_failed) + len(state.uncounted_failed)
        now = self.clock.time()
        stamp = rfc3339(now)
        if not status.get("startTime") and not is_suspended(job):
            status["startTime"] = stamp
        state.new_backoff = next_backoff_record(
            self.backoff.get(key, BackoffRecord()), new_succeeded, new_failed
        )

        criteria_met = condition(job, SUCCESS_CRITERIA_MET)
        if criteria_met is not None and criteria_met.get("status") == "True":
            state.finished = criteria_met
        else:
            target = condition(job, FAILURE_TARGET)
            if target is not None and target.get("status") == "True":
                state.finished = new_condition(
                    FAILED, "True", target.get("reason", ""), target.get("message", ""), stamp
                )
        if state.finished is None:
            deadline = spec.get("activeDeadlineSeconds")
            limit = spec.get("backoffLimit")
            limit = DEFAULT_BACKOFF_LIMIT if limit is None else int(limit)
            if state.failed > limit or past_backoff_limit_on_failure(job, pods):
                state.finished = new_condition(
                    FAILURE_TARGET, "True", REASON_BACKOFF_LIMIT, MESSAGE_BACKOFF_LIMIT, stamp
                )
            elif self._past_active_deadline(job, now):
                state.finished = new_condition(
                    FAILURE_TARGET, "True", REASON_DEADLINE, MESSAGE_DEADLINE, stamp
                )
            elif deadline is not None and not is_suspended(job):
                self.queue.add_after(key, deadline - (now - parse_time(status["startTime"])))

        if is_indexed(job):
            state.prev_succeeded_indexes, state.succeeded_indexes = self._succeeded_indexes(state)
            state.succeeded = total(state.succeeded_indexes)

        suspend_changed = False
        manage_error: Exception | None = None
        if state.finished is not None:
            deleted_ready, deleted, manage_error = await self._delete_active_pods(job, active_pods)
            if deleted != active or not satisfied:
                state.finished = None  # pods or finalizers may still be on their way to the cache
            active -= deleted
            state.terminating += deleted
            state.ready -= deleted_ready
        else:
            manage_called = False
            if satisfied and not is_deleting(job):
                active, manage_error = await self._manage_job(state)
                manage_called = True
            completions = state.completions
            if completions is None:
                complete = state.succeeded > 0 and active == 0
            else:
                complete = state.succeeded >= completions and active == 0
            if complete:
                state.finished = new_condition(
                    SUCCESS_CRITERIA_MET, "True", REASON_COMPLETIONS, MESSAGE_COMPLETIONS, stamp
                )
            elif manage_called:
                suspend_changed = self._record_suspension(job, stamp)

        needs_update = (
            suspend_changed
            or active != int(status.get("active") or 0)
            or state.ready != status.get("ready")
            or state.terminating != status.get("terminating")
        )
        _set_count(status, "active", active)
        status["ready"] = state.ready
        status["terminating"] = state.terminating
        await self._track_status(state, needs_update)
        if manage_error is not None:
            raise manage_error

    def _record_suspension(self, job: Obj, stamp: str) -> bool:
        """The Suspended condition (True while suspended, False once resumed); whether it changed."""
        status = job["status"]
        conditions = status.setdefault("conditions", [])
        if is_suspended(job):
            changed = ensure_condition(conditions, SUSPENDED, "True", "JobSuspended", "Job suspended", stamp)
            if changed:
                self._event(job, NORMAL, "Suspended", "Job suspended")
        else:
            changed = ensure_condition(conditions, SUSPENDED, "False", "JobResumed", "Job resumed", stamp)
            if changed:
                self._event(job, NORMAL, "Resumed", "Job resumed")
                status["startTime"] = stamp  # activeDeadlineSeconds counts from the resumption
        if not conditions:
            status.pop("conditions")
        return changed

    def _past_active_deadline(self, job: Obj, now: float) -> bool:
        deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
        start = (job.get("status") or {}).get("startTime")
        if deadline is None or not start or is_suspended(job):
            return False
        return now - parse_time(start) >= deadline

    def _new_finished_pods(self, state: _JobSync) -> tuple[list[Obj], list[Obj]]:
        """Finished pods not counted yet: they still hold the finalizer and are in no uncounted list."""
        succeeded: list[Obj] = []
        failed: list[Obj] = []
        completions = state.completions
        indexed = is_indexed(state.job)
        for pod in state.pods:
            uid = _uid(pod)
            if not has_tracking_finalizer(pod) or uid in state.expected_removals:
                continue
            if indexed:
                index = completion_index(pod)
                if index == UNKNOWN_INDEX or completions is None or index >= completions:
                    continue
            if phase(pod) == "Succeeded" and uid not in state.uncounted_succeeded:
                succeeded.append(pod)
            elif is_pod_failed(pod, state.job) and uid not in state.uncounted_failed:
                failed.append(pod)
        return succeeded, failed

    def _succeeded_indexes(self, state: _JobSync) -> tuple[list[Interval], list[Interval]]:
        completions = state.completions or 0
        previous = parse_indexes(state.status.get("completedIndexes") or "", completions)
        new = [
            index
            for pod in state.pods
            if phase(pod) == "Succeeded"
            and has_tracking_finalizer(pod)
            and UNKNOWN_INDEX != (index := completion_index(pod)) < completions
        ]
        return previous, with_indexes(previous, new)

    # ------------------------------------------------------------------ pods of a job
    async def _pods_for_job(self, job: Obj) -> list[Obj]:
        """The Job's pods after adopting matching orphans (which get the tracking finalizer) and
        releasing owned pods that stopped matching."""
        meta = job["metadata"]
        namespace = meta.get("namespace") or ""
        try:
            selector = selector_from_spec((job.get("spec") or {}).get("selector"))
        except LabelSelectorError as err:
            raise ValueError(f"couldn't convert Job selector: {err}") from err
        candidates: dict[str, Obj] = {}
        for pod in self.pods.cache.by_index(OWNER_UID_INDEX, meta["uid"]):
            candidates[object_key(pod)] = pod
        for pod in self.pods.cache.by_index(ORPHAN_NAMESPACE_INDEX, namespace):
            candidates.setdefault(object_key(pod), pod)
        ref = new_controller_ref(job, API_VERSION, KIND)
        claimed = await claim(
            self.pods_client,
            job,
            ref,
            selector,
            list(candidates.values()),
            fresh_owner_check(self.jobs_client, job),
        )
        pods = []
        for pod in claimed:
            adopted = controller_ref(candidates.get(object_key(pod)) or pod) is None
            if adopted and not has_tracking_finalizer(pod):
                pod = await self.pods_client.namespace(namespace).patch(
                    pod["metadata"]["name"], ADD_FINALIZER_PATCH, "strategic"
                )
            pods.append(pod)
        return pods

    def _active_pods_for_removal(self, job: Obj, pods: list[Obj], at_least: int) -> list[Obj]:
        """Pods to delete: for Indexed Jobs first those without a valid index and the repeats of
        an index; then the least valuable of the rest."""
        doomed: list[Obj] = []
        left = pods
        if is_indexed(job):
            completions = int((job.get("spec") or {}).get("completions") or 0)
            by_index: dict[int, list[Obj]] = {}
            for pod in pods:
                index = completion_index(pod)
                if index == UNKNOWN_INDEX or index >= completions:
                    doomed.append(pod)
                else:
                    by_index.setdefault(index, []).append(pod)
            left = []
            now = self.clock.time()
            for index in sorted(by_index):
                same = by_index[index]
                extra = pods_to_delete(same, [], len(same) - 1, now) if len(same) > 1 else []
                doomed.extend(extra)
                left.extend(pod for pod in same if not any(pod is other for other in extra))
        if len(doomed) < at_least:
            doomed.extend(pods_to_delete(left, [], at_least - len(doomed), self.clock.time()))
        return doomed

    # ------------------------------------------------------------------ managing pods
    async def _manage_job(self, state: _JobSync) -> tuple[int, Exception | None]:
        """Create or delete pods toward the wanted number of active pods; returns the new
        active count and the first error."""
        job, key = state.job, state.key
        spec = job.get("spec") or {}
        active = len(state.active_pods)
        if is_suspended(job):
            doomed = self._active_pods_for_removal(job, state.active_pods, active)
            self.expectations.expect_deletions(key, [object_key(pod) for pod in doomed])
            removed_ready, removed, error = await self._delete_job_pods(state, doomed)
            state.terminating += removed
            state.ready -= removed_ready
            return active - removed, error
        parallelism = int(spec.get("parallelism", 1))
        completions = state.completions
        if completions is None:
            want = active if state.succeeded > 0 else parallelism
        else:
            want = max(min(completions - state.succeeded, parallelism), 0)
        doomed = self._active_pods_for_removal(job, state.active_pods, max(active - want, 0))
        doomed = doomed[:MAX_POD_CREATE_DELETE_PER_SYNC]
        if doomed:
            self.expectations.expect_deletions(key, [object_key(pod) for pod in doomed])
            removed_ready, removed, error = await self._delete_job_pods(state, doomed)
            state.terminating += removed
            state.ready -= removed_ready
            return active - removed, error
        terminating = state.terminating if only_replace_failed(job) else 0
        diff = want - terminating - active
        if diff <= 0:
            return active, None
        remaining = remaining_backoff(state.new_backoff, self.clock.time())
        if remaining > 0:
            self.queue.add_after(key, max(remaining, self.batch_period))
            return active, None
        diff = min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)
        indexes: list[int] = []
        if is_indexed(job):
            busy = [completion_index(pod) for pod in state.active_pods]
            if only_replace_failed(job):
                busy += [completion_index(pod) for pod in state.pods if is_terminating(pod)]
            non_pending = with_indexes(state.succeeded_indexes, (ix for ix in busy if ix != UNKNOWN_INDEX))
            indexes = first_pending_indexes(non_pending, diff, completions or 0)
            diff = len(indexes)
            if diff == 0:
                return active, None
        self.expectations.expect_creations(key, diff)
        template = deep_copy(spec.get("template") or {})
        template_meta = template.setdefault("metadata", {})
        if is_indexed(job):
            add_completion_index_env(template.setdefault("spec", {}))
        finalizers = template_meta.setdefault("finalizers", [])
        if TRACKING_FINALIZER not in finalizers:
            finalizers.append(TRACKING_FINALIZER)
        ref = new_controller_ref(job, API_VERSION, KIND)
        pending = iter(indexes)

        async def create_one() -> None:
            index = next(pending, None)
            await self._create_pod(job, template, ref, index)

        successes, error = await slow_start_batch(diff, SLOW_START_INITIAL_BATCH, create_one)
        for _ in range(diff - successes):
            self.expectations.creation_observed(key)
        return active + successes, error

    async def _create_pod(self, job: Obj, template: Obj, ref: Obj, index: int | None) -> None:
        pod = pod_from_template(template, job, ref)
        meta = pod["metadata"]
        if index is not None:
            name = job["metadata"]["name"]
            meta.setdefault("annotations", {})[COMPLETION_INDEX] = str(index)
            meta.setdefault("labels", {})[COMPLETION_INDEX] = str(index)
            meta["generateName"] = generate_name_with_index(name, index)
            pod["spec"]["hostname"] = f"{name}-{index}"
        if not meta.get("labels"):
            raise ValueError("unable to create pods, no labels")
        await self.pod_control.create(job, pod)

    async def _delete_pod(self, job: Obj, pod: Obj) -> None:
        """Delete as upstream's PodControl (events; a missing pod raises its 404 unreported)."""
        await self.pod_control.delete(job, pod)

    async def _delete_job_pods(self, state: _JobSync, pods: list[Obj]) -> tuple[int, int, Exception | None]:
        """Delete pods the Job no longer wants, dropping their finalizer first so they are not
        counted as failed. Returns (ready deleted, deleted, first error)."""

        async def delete_one(pod: Obj) -> bool:
            try:
                if has_tracking_finalizer(pod):
                    await self._remove_finalizer_strict(pod)
                await self._delete_pod(state.job, pod)
            except StatusError as err:
                self.expectations.deletion_observed(state.key, object_key(pod))
                if err.code != 404:
                    raise
            return is_ready(pod)

        return await self._delete_all(pods, delete_one)

    async def _delete_active_pods(self, job: Obj, pods: list[Obj]) -> tuple[int, int, Exception | None]:
        """Delete the active pods of a finishing Job, keeping their finalizers (they are counted
        as the Job's status is tracked)."""

        async def delete_one(pod: Obj) -> bool:
            try:
                await self._delete_pod(job, pod)
            except StatusError as err:
                if err.code != 404:
                    raise
            return is_ready(pod)

        return await self._delete_all(pods, delete_one)

    @staticmethod
    async def _delete_all(
        pods: list[Obj], delete_one: Callable[[Obj], Awaitable[bool]]
    ) -> tuple[int, int, Exception | None]:
        results = await asyncio.gather(*(delete_one(pod) for pod in pods), return_exceptions=True)
        ready = deleted = 0
        error: Exception | None = None
        for result in results:
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                error = error or result
                continue
            deleted += 1
            ready += int(bool(result))
        return ready, deleted, error

    async def _remove_finalizer_strict(self, pod: Obj) -> None:
        meta = pod["metadata"]
        await self.pods_client.namespace(meta.get("namespace") or "").patch(
            meta["name"], REMOVE_FINALIZER_PATCH, "strategic"
        )

    # ------------------------------------------------------------------ status tracking
    async def _track_status(self, state: _JobSync, needs_flush: bool) -> None:
        """Count finished pods through uncountedTerminatedPods and their finalizers, then add the
        terminal condition when nothing is left to count (upstream trackJobStatusAndRemoveFinalizers)."""
        job = state.job
        indexed = is_indexed(job)
        completions = state.completions or 0
        pods = sorted(state.pods, key=completion_index) if indexed else state.pods
        with_finalizer = {
            _uid(pod)
            for pod in pods
            if has_tracking_finalizer(pod) and _uid(pod) not in state.expected_removals
        }
        if _count_uncounted_without_finalizers(state.status, with_finalizer):
            needs_flush = True
        uncounted = state.status["uncountedTerminatedPods"]
        to_remove: list[Obj] = []
        new_indexes: list[int] = []
        reached_max = False
        for pod in pods:
            uid = _uid(pod)
            if not has_tracking_finalizer(pod) or uid in state.expected_removals:
                continue
            failed = is_pod_failed(pod, job)
            if not (is_deleting(job) or state.finished is not None or phase(pod) == "Succeeded" or failed):
                continue
            to_remove.append(pod)
            if phase(pod) == "Succeeded" and uid not in state.uncounted_failed:
                if indexed:
                    index = completion_index(pod)
                    if UNKNOWN_INDEX != index < completions and not contains(
                        state.prev_succeeded_indexes, index
                    ):
                        new_indexes.append(index)
                        needs_flush = True
                elif uid not in state.uncounted_succeeded:
                    needs_flush = True
                    uncounted.setdefault("succeeded", []).append(uid)
            elif failed or (
                state.finished is not None and state.finished.get("type") != SUCCESS_CRITERIA_MET
            ):
                index = completion_index(pod)
                if uid not in state.uncounted_failed and (
                    not indexed or UNKNOWN_INDEX != index < completions
                ):
                    needs_flush = True
                    uncounted.setdefault("failed", []).append(uid)
            if len(new_indexes) + len(uncounted.get("succeeded") or ()) + len(
                uncounted.get("failed") or ()
            ) >= (MAX_UNCOUNTED_PODS):
                reached_max = True
                break
        if indexed:
            state.succeeded_indexes = with_indexes(state.succeeded_indexes, new_indexes)
            text = format_indexes(state.succeeded_indexes)
            if text != (state.status.get("completedIndexes") or ""):
                needs_flush = True
            _set_count(state.status, "succeeded", total(state.succeeded_indexes))
            if text:
                state.status["completedIndexes"] = text
            else:
                state.status.pop("completedIndexes", None)
        stamp = rfc3339(self.clock.time())
        finished = state.finished
        if finished is not None and finished.get("type") == FAILURE_TARGET:
            state.status.setdefault("conditions", []).append(finished)
            needs_flush = True
            finished = new_condition(
                FAILED, "True", finished.get("reason", ""), finished.get("message", ""), stamp
            )
        elif finished is not None and finished.get("type") == SUCCESS_CRITERIA_MET:
            if condition(job, SUCCESS_CRITERIA_MET) is None:
                state.status.setdefault("conditions", []).append(finished)
                needs_flush = True
            finished = new_condition(
                COMPLETE, "True", finished.get("reason", ""), finished.get("message", ""), stamp
            )
        state.finished = finished
        needs_flush = await self._flush_and_remove_finalizers(state, to_remove, with_finalizer, needs_flush)
        job_finished = not reached_max and self._enact_finished(state)
        if job_finished:
            needs_flush = True
        if needs_flush:
            state.job = await self._update_status(state.job)
            if job_finished and state.finished is not None:
                self._record_finished(state.job, state.finished)

    async def _flush_and_remove_finalizers(
        self, state: _JobSync, to_remove: list[Obj], with_finalizer: set[str], needs_flush: bool
    ) -> bool:
        """Write the uncounted uids (and interim conditions) first, then drop the finalizers and
        move the uids of pods that lost them into the counters. Returns whether the status has
        changes left to write."""
        if needs_flush:
            state.job = await self._update_status(state.job)
            self.backoff[state.key] = state.new_backoff
            needs_flush = False
        removal_error: Exception | None = None
        if to_remove:
            removed, removal_error = await self._remove_finalizers(state.key, to_remove)
            for pod, ok in zip(to_remove, removed, strict=True):
                if ok:
                    with_finalizer.discard(_uid(pod))
        status = state.job.setdefault("status", {})
        status.setdefault("uncountedTerminatedPods", {})
        if _count_uncounted_without_finalizers(status, with_finalizer):
            needs_flush = True
        if removal_error is not None:
            if needs_flush:
                await self._update_status(state.job)
            raise removal_error
        return needs_flush

    async def _remove_finalizers(self, key: str, pods: list[Obj]) -> tuple[list[bool], Exception | None]:
        expected = self.finalizer_expectations.setdefault(key, set())
        expected.update(_uid(pod) for pod in pods)

        async def remove_one(pod: Obj) -> bool:
            try:
                await self._remove_finalizer_strict(pod)
            except StatusError as err:
                self._finalizer_removal_observed(key, _uid(pod))
                if err.code != 404:
                    raise
            return True

        results = await asyncio.gather(*(remove_one(pod) for pod in pods), return_exceptions=True)
        removed: list[bool] = []
        error: Exception | None = None
        for result in results:
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                error = error or result
                removed.append(False)
            else:
                removed.append(True)
        return removed, error

    def _enact_finished(self, state: _JobSync) -> bool:
        """Add the Complete or Failed condition once every finished pod is counted and none is
        terminating; whether the Job is now finished."""
        finished = state.finished
        if finished is None:
            return False
        status = state.job.setdefault("status", {})
        uncounted = status.get("uncountedTerminatedPods") or {}
        if uncounted.get("succeeded") or uncounted.get("failed"):
            return False
        if state.terminating > 0:
            return False
        stamp = rfc3339(self.clock.time())
        conditions = status.setdefault("conditions", [])
        ensure_condition(
            conditions,
            finished["type"],
            finished["status"],
            finished.get("reason", ""),
            finished.get("message", ""),
            stamp,
        )
        if finished["type"] == COMPLETE:
            status["completionTime"] = finished["lastTransitionTime"]
        return True

    def _record_finished(self, job: Obj, finished: Obj) -> None:
        if finished["type"] == COMPLETE:
            completions = (job.get("spec") or {}).get("completions")
            succeeded = int((job.get("status") or {}).get("succeeded") or 0)
            if completions is not None and succeeded > completions:
                self._event(
                    job,
                    WARNING,
                    "TooManySucceededPods",
                    "Too many succeeded pods running after completion count reached",
                )
            self._event(job, NORMAL, "Completed", "Job completed")
        else:
            self._event(job, WARNING, finished.get("reason", ""), finished.get("message", ""))

    async def _update_status(self, job: Obj) -> Obj:
        return await self.jobs_client.namespace(job["metadata"].get("namespace") or "").update_status(job)

    def _event(self, job: Obj, event_type: str, reason: str, message: str) -> None:
        self.recorder.event(job, event_type, reason, message, kind=KIND, api_version=API_VERSION)


def _count_uncounted_without_finalizers(status: Obj, with_finalizer: set[str]) -> bool:
    """Move uids whose pods no longer hold the finalizer from uncountedTerminatedPods into the
    succeeded/failed counters (upstream cleanUncountedPodsWithoutFinalizers); whether anything moved."""
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    changed = False
    for name in ("succeeded", "failed"):
        uids = uncounted.get(name) or []
        kept = [uid for uid in uids if uid in with_finalizer]
        if len(kept) != len(uids):
            changed = True
            _set_count(status, name, int(status.get(name) or 0) + len(uids) - len(kept))
            if kept:
                uncounted[name] = kept
            else:
                uncounted.pop(name, None)
    return changed
