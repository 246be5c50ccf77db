"""Pure facts about Jobs and their pods that the Job, CronJob and TTL-after-finished controllers
share, as upstream's pkg/controller/job (utils, indexed_job_utils, backoff_utils): the tracking
finalizer, completion indexes and their compressed interval form (`1,3-5`), conditions,
finished/succeeded Jobs, when a pod finished, and the exponential pod-failure backoff.

Must not do I/O, read a clock or keep state: callers pass `now` and keep the records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubelite.controllers.podutil import creation_time, parse_time

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
JOB_CONTROLLER_NAME = "kubernetes.io/job-controller"
UNKNOWN_INDEX = -1
MAX_GENERATED_NAME_LENGTH = 58  # validation's 63 minus the 5 random characters

# Condition types, reasons and messages as upstream writes them.
COMPLETE = "Complete"
FAILED = "Failed"
SUSPENDED = "Suspended"
FAILURE_TARGET = "FailureTarget"
SUCCESS_CRITERIA_MET = "SuccessCriteriaMet"
REASON_BACKOFF_LIMIT = "BackoffLimitExceeded"
MESSAGE_BACKOFF_LIMIT = "Job has reached the specified backoff limit"
REASON_DEADLINE = "DeadlineExceeded"
MESSAGE_DEADLINE = "Job was active longer than specified deadline"
REASON_COMPLETIONS = "CompletionsReached"
MESSAGE_COMPLETIONS = "Reached expected number of succeeded pods"

# Pod-failure backoff (upstream DefaultJobPodFailureBackOff / MaxJobPodFailureBackOff).
POD_FAILURE_BACKOFF = 10.0
MAX_POD_FAILURE_BACKOFF = 600.0

Interval = tuple[int, int]


# ---------------------------------------------------------------------------- pods
def has_tracking_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or ())


def completion_index(pod: Obj) -> int:
    """The pod's completion-index annotation, or UNKNOWN_INDEX when absent or not a number >= 0."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX)
    if text is None or not text.isdigit():
        return UNKNOWN_INDEX
    return int(text)


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_terminating(pod: Obj) -> bool:
    """Being deleted and not finished (upstream controller.IsPodTerminating)."""
    return bool((pod.get("metadata") or {}).get("deletionTimestamp")) and phase(pod) not in (
        "Succeeded",
        "Failed",
    )


def finished_time(pod: Obj) -> float:
    """When a pod finished (upstream getFinishedTime): the last container's finishedAt when every
    container terminated, else a Ready=False transition, else the deletion time less its grace
    period, else its creation."""
    status = pod.get("status") or {}
    latest = 0.0
    statuses = status.get("containerStatuses") or []
    for container in statuses:
        terminated = (container.get("state") or {}).get("terminated")
        finished = parse_time((terminated or {}).get("finishedAt") or "")
        if not finished:
            latest = 0.0
            break
        latest = max(latest, finished)
    if latest:
        return latest
    for condition in status.get("conditions") or ():
        if condition.get("type") == "Ready" and condition.get("status") == "False":
            when = parse_time(condition.get("lastTransitionTime") or "")
            if when:
                return when
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return parse_time(meta["deletionTimestamp"]) - float(meta.get("deletionGracePeriodSeconds") or 0)
    return creation_time(pod)


# ---------------------------------------------------------------------------- intervals
def parse_indexes(text: str, completions: int) -> list[Interval]:
    """`1,3-5` as ordered intervals below `completions` (corrupt parts are skipped)."""
    result: list[Interval] = []
    if not text:
        return result
    for part in text.split(","):
        limits = part.split("-")
        if not limits[0].isdigit():
            continue
        first = int(limits[0])
        if first >= completions:
            break
        if len(limits) > 1:
            if not limits[1].isdigit():
                continue
            last = min(int(limits[1]), completions - 1)
        else:
            last = first
        if result and result[-1][1] == first - 1:
            result[-1] = (result[-1][0], last)
        else:
            result.append((first, last))
    return result


def format_indexes(intervals: Iterable[Interval]) -> str:
    parts = []
    for first, last in intervals:
        if last == first:
            parts.append(str(first))
        elif last == first + 1:
            parts.append(f"{first},{last}")
        else:
            parts.append(f"{first}-{last}")
    return ",".join(parts)


def merge_intervals(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """Two ordered interval lists as one ordered list, touching intervals joined."""
    result: list[Interval] = []
    for first, last in sorted(a + b):
        if result and first <= result[-1][1] + 1:
            if last > result[-1][1]:
                result[-1] = (result[-1][0], last)
        else:
            result.append((first, last))
    return result


def with_indexes(intervals: list[Interval], indexes: Iterable[int]) -> list[Interval]:
    return merge_intervals(intervals, [(ix, ix) for ix in sorted(set(indexes))])


def total(intervals: Iterable[Interval]) -> int:
    return sum(last - first + 1 for first, last in intervals)


def contains(intervals: Iterable[Interval], index: int) -> bool:
    return any(first <= index <= last for first, last in intervals)


def first_pending_indexes(non_pending: list[Interval], count: int, completions: int) -> list[int]:
    """The `count` lowest indexes below `completions` not covered by `non_pending`."""
    result: list[int] = []
    candidate = 0
    for first, last in non_pending:
        while candidate < completions and len(result) < count and candidate < first:
            result.append(candidate)
            candidate += 1
        candidate = max(candidate, last + 1)
    while candidate < completions and len(result) < count:
        result.append(candidate)
        candidate += 1
    return result


def generate_name_with_index(job_name: str, index: int) -> str:
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATED_NAME_LENGTH:
        prefix = prefix[: MAX_GENERATED_NAME_LENGTH - len(suffix)] + suffix
    return prefix


def add_completion_index_env(pod_spec: Obj) -> None:
    """JOB_COMPLETION_INDEX from the index label in every container that does not set it."""
    for field in ("initContainers", "containers"):
        for container in pod_spec.get(field) or ():
            env = container.setdefault("env", [])
            if any(var.get("name") == COMPLETION_INDEX_ENV for var in env):
                continue
            env.append(
                {
                    "name": COMPLETION_INDEX_ENV,
                    "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{COMPLETION_INDEX}']"}},
                }
            )


# ---------------------------------------------------------------------------- jobs
def is_indexed(job: Obj) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def is_suspended(job: Obj) -> bool:
    return bool((job.get("spec") or {}).get("suspend"))


def condition(job: Obj, condition_type: str) -> Obj | None:
    for found in (job.get("status") or {}).get("conditions") or ():
        if found.get("type") == condition_type:
            return found  # type: ignore[no-any-return]
    return None


def condition_true(job: Obj, condition_type: str) -> bool:
    found = condition(job, condition_type)
    return found is not None and found.get("status") == "True"


def finished_type(job: Obj) -> str:
    """COMPLETE or FAILED when the Job finished (that condition is True), else ""."""
    for found in (job.get("status") or {}).get("conditions") or ():
        if found.get("type") in (COMPLETE, FAILED) and found.get("status") == "True":
            return str(found["type"])
    return ""


def is_finished(job: Obj) -> bool:
    return bool(finished_type(job))


def finish_time(job: Obj) -> float:
    """When the Job's Complete/Failed condition became True (0.0 when not finished)."""
    for found in (job.get("status") or {}).get("conditions") or ():
        if found.get("type") in (COMPLETE, FAILED) and found.get("status") == "True":
            return parse_time(found.get("lastTransitionTime") or "")
    return 0.0


def new_condition(condition_type: str, status: str, reason: str, message: str, stamp: str) -> Obj:
    made: Obj = {
        "type": condition_type,
        "status": status,
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
    }
    if reason:
        made["reason"] = reason
    if message:
        made["message"] = message
    return made


def ensure_condition(
    conditions: list[Obj], condition_type: str, status: str, reason: str, message: str, stamp: str
) -> bool:
    """Set (or append, unless status is False) the condition; whether the list changed."""
    for index, found in enumerate(conditions):
        if found.get("type") != condition_type:
            continue
        if (
            found.get("status") != status
            or found.get("reason", "") != reason
            or found.get("message", "") != message
        ):
            conditions[index] = new_condition(condition_type, status, reason, message, stamp)
            return True
        return False
    if status != "False":
        conditions.append(new_condition(condition_type, status, reason, message, stamp))
        return True
    return False


def past_backoff_limit_on_failure(job: Obj, pods: list[Obj]) -> bool:
    """restartPolicy OnFailure: the restarts of running and pending pods reached backoffLimit."""
    spec = job.get("spec") or {}
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for pod in pods:
        if phase(pod) in ("Running", "Pending"):
            status = pod.get("status") or {}
            for container in (status.get("initContainerStatuses") or []) + (
                status.get("containerStatuses") or []
            ):
                restarts += int(container.get("restartCount") or 0)
    limit = int(spec.get("backoffLimit") or 0)
    return restarts > 0 if limit == 0 else restarts >= limit


# ---------------------------------------------------------------------------- backoff
@dataclass(frozen=True, slots=True)
class BackoffRecord:
    """Pod failures since the last success and when the last of them happened."""

    failures: int = 0
    last_failure: float | None = None


def next_backoff_record(
    previous: BackoffRecord, new_succeeded: list[Obj], new_failed: list[Obj]
) -> BackoffRecord:
    """The record after pods newly seen succeeded or failed (upstream newBackoffRecord)."""
    if not new_failed:
        return BackoffRecord() if new_succeeded else previous
    failed_times = sorted(finished_time(pod) for pod in new_failed)
    if not new_succeeded:
        return BackoffRecord(previous.failures + len(failed_times), failed_times[-1])
    last_success = max(finished_time(pod) for pod in new_succeeded)
    later = [when for when in failed_times if when > last_success]
    return BackoffRecord(len(later), later[-1] if later else None)


def remaining_backoff(
    record: BackoffRecord, now: float, base: float = POD_FAILURE_BACKOFF, cap: float = MAX_POD_FAILURE_BACKOFF
) -> float:
    """Seconds to wait before replacing failed pods: base doubled per failure after the first,
    capped, counted from the last failure."""
    if record.failures == 0 or record.last_failure is None:
        return 0.0
    delay = base
    for _ in range(1, record.failures):
        delay *= 2
        if delay >= cap:
            delay = cap
            break
    elapsed = now - record.last_failure
    return 0.0 if delay < elapsed else delay - elapsed
