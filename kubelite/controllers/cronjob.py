"""The CronJob controller (batch/v1) as upstream's cronjob_controllerv2: each sync reconciles the
CronJob's Jobs (finished ones leave status.active, successful ones set lastSuccessfulTime, the
oldest finished ones beyond successfulJobsHistoryLimit / failedJobsHistoryLimit are deleted),
then, unless suspended, starts the Job of the most recent missed activation (named
`<cronjob>-<minutes since epoch>`, so an activation never runs twice) within
startingDeadlineSeconds and as concurrencyPolicy allows (Forbid skips, Replace deletes the
running Jobs first), records it in status.active / lastScheduleTime, and requeues itself for the
next activation. Events as upstream's cronjob-controller writes them.

Must not touch Jobs it does not own (beyond deleting its own), nor mutate cached objects.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.api.gofmt import go_quote
from kubelite.client.cache import split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller
from kubelite.controllers.cronutil import (
    LOTS_MISSED,
    CronSchedule,
    ScheduleError,
    job_from_template,
    job_name,
    most_recent_schedule_time,
    next_schedule_delay,
    parse_schedule,
)
from kubelite.controllers.events import NORMAL, WARNING, EventRecorder, rfc3339
from kubelite.controllers.jobutil import COMPLETE, FAILED, finished_type
from kubelite.controllers.ownership import controller_ref, is_deleting, new_controller_ref, resolve_controller
from kubelite.controllers.podcontrol import namespace_terminating
from kubelite.controllers.podutil import parse_time
from kubelite.controllers.replicaset import deep_copy
from kubelite.schema.cronschedule import load_location_error

Obj = dict[str, Any]

KIND = "CronJob"
API_VERSION = "batch/v1"
COMPONENT = "cronjob-controller"
JOB_DELETE_PROPAGATION = "Background"


def rfc1123z(seconds: float) -> str:
    """Go's time.RFC1123Z of a UTC time."""
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(seconds))


def job_reference(job: Obj) -> Obj:
    """The ObjectReference status.active holds for a Job."""
    meta = job["metadata"]
    ref: Obj = {"kind": "Job", "namespace": meta.get("namespace", ""), "name": meta["name"]}
    ref["uid"] = meta.get("uid", "")
    ref["apiVersion"] = API_VERSION
    if meta.get("resourceVersion"):
        ref["resourceVersion"] = meta["resourceVersion"]
    return ref


def _active(cron_job: Obj) -> list[Obj]:
    return list((cron_job.get("status") or {}).get("active") or [])


def in_active_list(cron_job: Obj, uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in _active(cron_job))


def delete_from_active_list(cron_job: Obj, uid: str) -> None:
    status = cron_job.setdefault("status", {})
    kept = [ref for ref in _active(cron_job) if ref.get("uid") != uid]
    if kept:
        status["active"] = kept
    else:
        status.pop("active", None)


def _start_order(job: Obj) -> tuple[int, float, str]:
    """Started Jobs first, oldest first; names break ties (upstream byJobStartTime)."""
    start = (job.get("status") or {}).get("startTime")
    return (0 if start else 1, parse_time(start or ""), job["metadata"]["name"])


@dataclass
class _Outcome:
    """What syncing a CronJob decided: the copy to write, whether it changed, when to look
    again and the error to retry on."""

    cron_job: Obj
    changed: bool = False
    requeue_after: float | None = None
    error: Exception | None = None


class CronJobController(Controller):
    def __init__(
        self,
        client: Client,
        *,
        workers: int = 5,
        clock: Clock | None = None,
        recorder: EventRecorder | None = None,
    ):
        super().__init__(client, name=COMPONENT, workers=workers, clock=clock)
        self.cron_jobs_client = client.resource("batch", "v1", "cronjobs")
        self.jobs_client = client.resource("batch", "v1", "jobs")
        self.recorder = self.event_recorder(recorder, COMPONENT)
        self.cron_jobs = self.informer("batch", "v1", "cronjobs")
        self.jobs = self.informer("batch", "v1", "jobs")
        self.cron_jobs.add_handler(self.enqueue, self._cron_job_updated, self.enqueue)
        self.jobs.add_handler(self._job_added, self._job_updated, self._job_deleted)

    # ------------------------------------------------------------------ handlers
    def _cron_job_updated(self, old: Obj, new: Obj) -> None:
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        if old_spec.get("schedule") == new_spec.get("schedule") and old_spec.get("timeZone") == new_spec.get(
            "timeZone"
        ):
            self.enqueue(new)
            return
        try:
            schedule = parse_schedule(new_spec.get("schedule") or "", new_spec.get("timeZone"))
        except ScheduleError:
            self._event(
                new,
                WARNING,
                "UnParseableCronJobSchedule",
                f"unparseable schedule for cronjob: {new_spec.get('schedule', '')}",
            )
            return
        delay = next_schedule_delay(new, self.clock.time(), schedule)
        if delay is not None:
            self.enqueue_after(new, delay)

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        return resolve_controller(self.cron_jobs.cache, namespace, ref, KIND)

    def _enqueue_owner(self, job: Obj, ref: Obj | None) -> None:
        owner = self._resolve(job["metadata"].get("namespace") or "", ref)
        if owner is not None:
            self.enqueue(owner)

    def _job_added(self, job: Obj) -> None:
        self._enqueue_owner(job, controller_ref(job))

    def _job_updated(self, old: Obj, new: Obj) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if old_ref != new_ref and old_ref is not None:
            self._enqueue_owner(old, old_ref)
        self._enqueue_owner(new, new_ref)

    def _job_deleted(self, job: Obj) -> None:
        self._enqueue_owner(job, controller_ref(job))

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        cached = self.cron_jobs.cache.get(key)
        if cached is None:
            return
        namespace, name = split_key(key)
        jobs = [
            job
            for job in self.jobs.cache.list_namespace(namespace)
            if (ref := controller_ref(job)) is not None
            and ref.get("kind") == KIND
            and ref.get("name") == name
        ]
        cron_job = deep_copy(cached)
        cleaned = await self._cleanup_finished_jobs(cron_job, jobs)
        outcome = await self._sync_cron_job(cron_job, jobs)
        if cleaned or outcome.changed:
            written = outcome.cron_job
            await self.cron_jobs_client.namespace(namespace).update_status(written)
        if outcome.requeue_after is not None:
            self.queue.add_after(key, outcome.requeue_after)
            return
        if outcome.error is not None:
            raise outcome.error

    async def _sync_cron_job(self, cron_job: Obj, jobs: list[Obj]) -> _Outcome:
        now = self.clock.time()
        outcome = _Outcome(cron_job)
        children: set[str] = set()
        for job in jobs:
            uid = job["metadata"]["uid"]
            children.add(uid)
            found = in_active_list(outcome.cron_job, uid)
            finished = finished_type(job)
            if not found and not finished:
                try:
                    fresh = await self._get_cron_job(outcome.cron_job)
                except StatusError as err:
                    outcome.error = err
                    return outcome
                if in_active_list(fresh, uid):
                    outcome.cron_job = fresh
                    continue
                self._event(
                    outcome.cron_job,
                    WARNING,
                    "UnexpectedJob",
                    f"Saw a job that the controller did not create or forgot: {job['metadata']['name']}",
                )
            elif found and finished:
                delete_from_active_list(outcome.cron_job, uid)
                self._event(
                    outcome.cron_job,
                    NORMAL,
                    "SawCompletedJob",
                    f"Saw completed job: {job['metadata']['name']}, status: {finished}",
                )
                outcome.changed = True
            elif finished == COMPLETE:
                outcome.changed |= _record_success(outcome.cron_job, job)

        for ref in _active(outcome.cron_job):
            if ref.get("uid") in children:
                continue
            try:
                await self.jobs_client.namespace(ref.get("namespace") or "").get(ref.get("name", ""))
            except StatusError as err:
                if err.code != 404:
                    outcome.error = err
                    return outcome
                self._event(
                    outcome.cron_job, NORMAL, "MissingJob", f"Active job went missing: {ref.get('name', '')}"
                )
                delete_from_active_list(outcome.cron_job, ref.get("uid", ""))
                outcome.changed = True

        if is_deleting(outcome.cron_job):
            return outcome
        await self._maybe_start_job(outcome, now)
        return outcome

    async def _maybe_start_job(self, outcome: _Outcome, now: float) -> None:
        cron_job = outcome.cron_job
        spec = cron_job.get("spec") or {}
        zone = spec.get("timeZone")
        if zone is not None:
            zone_error = load_location_error(zone)
            if zone_error is not None:
                self._event(
                    cron_job, WARNING, "UnknownTimeZone", f"invalid timeZone: {go_quote(zone)}: {zone_error}"
                )
                return
        if spec.get("suspend"):
            return
        schedule_text = spec.get("schedule") or ""
        if "TZ" in schedule_text:
            self._event(
                cron_job,
                WARNING,
                "UnsupportedSchedule",
                f"CRON_TZ or TZ used in schedule {go_quote(schedule_text)} is not officially supported, "
                "see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
            )
        try:
            schedule = parse_schedule(schedule_text, zone)
        except ScheduleError as err:
            self._event(
                cron_job,
                WARNING,
                "UnparseableSchedule",
                f"unparseable schedule: {go_quote(schedule_text)} : {err}",
            )
            return
        try:
            _earliest, scheduled, missed = most_recent_schedule_time(cron_job, now, schedule, True)
        except ScheduleError as err:
            self._event(cron_job, WARNING, "InvalidSchedule", f"invalid schedule: {schedule_text} : {err}")
            return
        if scheduled is None or scheduled > now:
            outcome.requeue_after = next_schedule_delay(cron_job, now, schedule)
            return
        if missed == LOTS_MISSED:
            self._event(
                cron_job,
                WARNING,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            )
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + deadline < now:
            self._event(
                cron_job,
                WARNING,
                "MissSchedule",
                f"Missed scheduled time to start a job: {rfc1123z(scheduled)}",
            )
            outcome.requeue_after = next_schedule_delay(cron_job, now, schedule)
            return
        name = job_name(cron_job, scheduled)
        last = (cron_job.get("status") or {}).get("lastScheduleTime")
        if any(ref.get("name") == name for ref in _active(cron_job)) or (
            last and parse_time(last) == scheduled
        ):
            outcome.requeue_after = next_schedule_delay(cron_job, now, schedule)
            return
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and _active(cron_job):
            self._event(
                cron_job,
                NORMAL,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
            outcome.requeue_after = next_schedule_delay(cron_job, now, schedule)
            return
        if policy == "Replace" and not await self._replace_active_jobs(outcome):
            return
        await self._start_job(outcome, schedule, scheduled, now)

    async def _replace_active_jobs(self, outcome: _Outcome) -> bool:
        """Delete every active Job before a Replace start; False (with the error set) on failure."""
        cron_job = outcome.cron_job
        for ref in _active(cron_job):
            try:
                job = await self.jobs_client.namespace(ref.get("namespace") or "").get(ref.get("name", ""))
            except StatusError as err:
                self._event(cron_job, WARNING, "FailedGet", f"Get job: {err.message}")
                outcome.error = err
                return False
            if not await self._delete_job(cron_job, job):
                meta = job["metadata"]
                outcome.error = RuntimeError(
                    f"could not replace job {meta.get('namespace', '')}/{meta['name']}"
                )
                return False
            outcome.changed = True
        return True

    async def _start_job(
        self, outcome: _Outcome, schedule: CronSchedule, scheduled: float, now: float
    ) -> None:
        cron_job = outcome.cron_job
        namespace = cron_job["metadata"].get("namespace") or ""
        request = job_from_template(cron_job, scheduled, new_controller_ref(cron_job, API_VERSION, KIND))
        resource = self.jobs_client.namespace(namespace)
        already_existed = False
        try:
            created = await resource.create(request)
        except StatusError as err:
            if namespace_terminating(err):
                outcome.error = err
                return
            if err.code != 409 or err.reason != "AlreadyExists":
                self._event(cron_job, WARNING, "FailedCreate", f"Error creating job: {err.message}")
                outcome.error = err
                return
            try:
                created = await resource.get(request["metadata"]["name"])
            except StatusError as get_error:
                outcome.error = get_error
                return
            ref = controller_ref(created)
            if ref is None or ref.get("uid") != cron_job["metadata"].get("uid"):
                return  # someone else's Job: assume its creator keeps the status
            if in_active_list(cron_job, created["metadata"]["uid"]):
                return
            already_existed = True
        if not already_existed:
            self._event(cron_job, NORMAL, "SuccessfulCreate", f"Created job {created['metadata']['name']}")
        status = cron_job.setdefault("status", {})
        status["active"] = _active(cron_job) + [job_reference(created)]
        status["lastScheduleTime"] = rfc3339(scheduled)
        outcome.changed = True
        outcome.requeue_after = next_schedule_delay(cron_job, now, schedule)

    # ------------------------------------------------------------------ history
    async def _cleanup_finished_jobs(self, cron_job: Obj, jobs: list[Obj]) -> bool:
        """Delete the oldest finished Jobs beyond the history limits; whether status changed."""
        spec = cron_job.get("spec") or {}
        changed = False
        for kind, limit_field in (
            (COMPLETE, "successfulJobsHistoryLimit"),
            (FAILED, "failedJobsHistoryLimit"),
        ):
            limit = spec.get(limit_field)
            if limit is None:
                continue
            finished = sorted((job for job in jobs if finished_type(job) == kind), key=_start_order)
            for job in finished[: max(len(finished) - int(limit), 0)]:
                if await self._delete_job(cron_job, job):
                    changed = True
        return changed

    async def _delete_job(self, cron_job: Obj, job: Obj) -> bool:
        meta = job["metadata"]
        try:
            await self.jobs_client.namespace(meta.get("namespace") or "").delete(
                meta["name"], propagation_policy=JOB_DELETE_PROPAGATION
            )
        except StatusError as err:
            self._event(cron_job, WARNING, "FailedDelete", f"Deleted job: {err.message}")
            return False
        delete_from_active_list(cron_job, meta.get("uid", ""))
        self._event(cron_job, NORMAL, "SuccessfulDelete", f"Deleted job {meta['name']}")
        return True

    async def _get_cron_job(self, cron_job: Obj) -> Obj:
        meta = cron_job["metadata"]
        return await self.cron_jobs_client.namespace(meta.get("namespace") or "").get(meta["name"])

    def _event(self, cron_job: Obj, event_type: str, reason: str, message: str) -> None:
        self.recorder.event(cron_job, event_type, reason, message, kind=KIND, api_version=API_VERSION)


def _record_success(cron_job: Obj, job: Obj) -> bool:
    """lastSuccessfulTime follows the latest completionTime of a successful Job."""
    completion = (job.get("status") or {}).get("completionTime")
    status = cron_job.setdefault("status", {})
    last = status.get("lastSuccessfulTime")
    if completion and (not last or parse_time(completion) > parse_time(last)):
        status["lastSuccessfulTime"] = completion
        return True
    return False
