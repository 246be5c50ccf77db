"""The CronJob controller against a real in-process registry in fake time (Jobs are finished by
the test, as the Job controller would), and the schedule arithmetic of
kubelite/controllers/cronutil.py."""

from __future__ import annotations

import asyncio
import calendar
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.client.clock import FakeClock
from kubelite.controllers.cronjob import CronJobController
from kubelite.controllers.cronutil import (
    FEW_MISSED,
    LOTS_MISSED,
    NONE_MISSED,
    ScheduleError,
    job_name,
    most_recent_schedule_time,
    next_schedule_delay,
    parse_schedule,
    scheduled_timestamp,
)
from kubelite.controllers.events import EventRecorder, rfc3339
from tests.controllers.controllers_harness import ControllerCluster
from tests.controllers.test_controllers_job import JobWorld

Obj = dict[str, Any]

FIVE_MINUTES = 300


def at(text: str) -> float:
    return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S")))


def stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


# ---------------------------------------------------------------------------- schedules
@pytest.mark.parametrize(
    ("schedule", "zone", "after", "expected"),
    [
        ("* * * * *", None, "2025-06-15T10:05:30", "2025-06-15T10:06:00"),
        ("*/15 * * * *", None, "2025-06-15T10:15:00", "2025-06-15T10:30:00"),
        ("0 3 * * mon", None, "2025-06-15T10:05:30", "2025-06-16T03:00:00"),
        ("@hourly", None, "2025-06-15T10:00:00", "2025-06-15T11:00:00"),
        ("@monthly", None, "2025-06-15T10:00:00", "2025-07-01T00:00:00"),
        ("@weekly", None, "2025-06-15T10:00:00", "2025-06-22T00:00:00"),
        ("0 0 29 feb *", None, "2025-03-01T00:00:00", "2028-02-29T00:00:00"),
        ("0 0 1,15 * 5", None, "2025-06-15T10:05:30", "2025-06-20T00:00:00"),  # day-of-month OR weekday
        ("0 0 */2 * 5", None, "2025-06-15T10:05:30", "2025-06-17T00:00:00"),
        ("0 0 * * 5", None, "2025-06-15T10:05:30", "2025-06-20T00:00:00"),  # a star: both must match
        ("0 9 * * *", "Europe/Berlin", "2025-06-15T10:05:30", "2025-06-16T07:00:00"),
        ("0 9 * * *", "Asia/Tokyo", "2025-01-15T00:00:00", "2025-01-15T00:00:00"),
        ("30 2 * * *", "America/New_York", "2025-03-08T12:00:00", "2025-03-10T06:30:00"),  # DST gap skipped
        ("@every 90s", None, "2025-06-15T10:05:30", "2025-06-15T10:07:00"),
    ],
)
def test_next_activation_as_robfig_cron(schedule: str, zone: str | None, after: str, expected: str) -> None:
    found = parse_schedule(schedule, zone).next(at(after) - (1 if after == expected else 0))
    assert found is not None and stamp(found) == expected


def test_impossible_and_invalid_schedules() -> None:
    assert parse_schedule("0 0 30 2 *").next(at("2025-01-01T00:00:00")) is None
    with pytest.raises(ScheduleError, match="expected exactly 5 fields, found 2"):
        parse_schedule("0 0")
    with pytest.raises(ScheduleError, match="end of range \\(60\\) above maximum \\(59\\): 60"):
        parse_schedule("60 * * * *")
    # a schedule with its own TZ= prefix keeps it; an unknown timeZone falls back to the schedule
    assert str(parse_schedule("TZ=Asia/Tokyo 0 9 * * *").zone) == "Asia/Tokyo"


def test_most_recent_missed_activation_and_requeue_delay() -> None:
    schedule = parse_schedule("*/5 * * * *")
    cron_job: Obj = {"metadata": {"creationTimestamp": "2025-06-15T10:01:00Z"}, "spec": {}, "status": {}}
    assert most_recent_schedule_time(cron_job, at("2025-06-15T10:04:00"), schedule, True) == (
        at("2025-06-15T10:01:00"),
        None,
        NONE_MISSED,
    )
    assert most_recent_schedule_time(cron_job, at("2025-06-15T10:07:00"), schedule, True)[1:] == (
        at("2025-06-15T10:05:00"),
        NONE_MISSED,
    )
    assert most_recent_schedule_time(cron_job, at("2025-06-15T10:31:00"), schedule, True)[1:] == (
        at("2025-06-15T10:30:00"),
        FEW_MISSED,
    )
    assert most_recent_schedule_time(cron_job, at("2025-06-17T10:31:00"), schedule, True)[2] == LOTS_MISSED
    late: Obj = {**cron_job, "spec": {"startingDeadlineSeconds": 60}}
    assert most_recent_schedule_time(late, at("2025-06-15T10:30:45"), schedule, True)[1] == at("2025-06-15T10:30:00")
    assert most_recent_schedule_time(late, at("2025-06-15T10:31:30"), schedule, True)[1] is None
    cron_job["status"]["lastScheduleTime"] = "2025-06-15T10:05:00Z"
    delay = next_schedule_delay(cron_job, at("2025-06-15T10:07:00"), schedule)
    assert delay == pytest.approx(180.1)


def test_job_names_and_scheduled_timestamps() -> None:
    assert job_name({"metadata": {"name": "hello"}}, at("2025-06-15T10:05:00")) == "hello-29166365"
    assert scheduled_timestamp(at("2025-06-15T10:05:00"), None) == "2025-06-15T10:05:00Z"
    assert scheduled_timestamp(at("2025-06-15T10:05:00"), "Asia/Tokyo") == "2025-06-15T19:05:00+09:00"
    assert scheduled_timestamp(at("2025-01-15T10:05:00"), "Europe/London") == "2025-01-15T10:05:00Z"


# ---------------------------------------------------------------------------- controller
class CronWorld(JobWorld):
    @property
    def cron_jobs(self) -> Any:
        return self.cluster.rc("batch", "v1", "cronjobs")

    async def start_cron_controller(self) -> CronJobController:
        controller = CronJobController(self.cluster.client, clock=self.clock, recorder=self.recorder, workers=2)
        await self.cluster.run(controller)
        return controller

    async def owned_jobs(self, cron_job: str) -> list[Obj]:
        items = (await self.jobs.list())["items"]
        owned = [
            job
            for job in items
            if any(ref.get("name") == cron_job for ref in job["metadata"].get("ownerReferences") or [])
            and not job["metadata"].get("deletionTimestamp")
        ]
        return sorted(owned, key=lambda job: job["metadata"]["name"])

    async def pods_of_cron(self, name: str) -> list[Obj]:
        pods = []
        for job in await self.owned_jobs(name):
            pods += await self.active_pods(job["metadata"]["name"])
        return pods

    async def advance_to_next(self, period: int = FIVE_MINUTES) -> float:
        """Move fake time just past the next multiple of `period` (after the real time too, which
        stamps creationTimestamps); returns that activation."""
        now = self.clock.time()
        activation = (int(max(now, time.time())) // period + 1) * period
        self.clock.advance(activation - now + 0.5)
        await asyncio.sleep(0.01)
        return float(activation)

    async def complete(self, job: Obj, succeeded: bool = True) -> None:
        fresh = await self.jobs.get(job["metadata"]["name"])
        now = rfc3339(self.clock.time())
        kind = "Complete" if succeeded else "Failed"
        fresh["status"] = {
            "startTime": now,
            "conditions": [
                {"type": "SuccessCriteriaMet" if succeeded else "FailureTarget", "status": "True"},
                {"type": kind, "status": "True", "lastProbeTime": now, "lastTransitionTime": now},
            ],
            **({"completionTime": now, "succeeded": 1} if succeeded else {"failed": 1}),
        }
        await self.jobs.update_status(fresh)


def cron_job(name: str, schedule: str = "*/5 * * * *", **spec: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {
                "metadata": {"labels": {"app": name}, "annotations": {"note": "x"}},
                "spec": {
                    "template": {
                        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
                    }
                },
            },
            **spec,
        },
    }


@pytest.fixture
async def cron_world(cluster: ControllerCluster) -> AsyncIterator[CronWorld]:
    clock = FakeClock(wall_start=time.time())
    recorder = EventRecorder(cluster.client, "cronjob-controller", clock=clock)
    await recorder.start()
    try:
        yield CronWorld(cluster, clock, recorder)
    finally:
        await cluster.stop()
        await recorder.stop()


async def test_cronjob_starts_a_job_per_activation_and_tracks_it(cron_world: CronWorld) -> None:
    world = cron_world
    await world.start_cron_controller()
    cj = await world.cron_jobs.create(cron_job("hello"))
    await world.idle(1.0)
    assert await world.owned_jobs("hello") == [], "nothing runs before the first activation"

    activation = await world.advance_to_next()

    async def one_job() -> bool:
        return len(await world.owned_jobs("hello")) == 1

    await world.until(one_job, "first job", step=0.0)
    (job,) = await world.owned_jobs("hello")
    meta = job["metadata"]
    assert meta["name"] == f"hello-{int(activation) // 60}"
    assert meta["labels"] == {"app": "hello"}
    assert meta["annotations"] == {
        "note": "x",
        "batch.kubernetes.io/cronjob-scheduled-timestamp": rfc3339(activation),
    }
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": "hello",
            "uid": cj["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]

    async def tracked() -> bool:
        status = (await world.cron_jobs.get("hello")).get("status") or {}
        return len(status.get("active") or []) == 1

    await world.until(tracked, "active job in status", step=0.0)
    status = (await world.cron_jobs.get("hello"))["status"]
    (ref,) = status["active"]
    assert {k: ref[k] for k in ("kind", "name", "namespace", "uid", "apiVersion")} == {
        "kind": "Job",
        "name": meta["name"],
        "namespace": world.cluster.namespace,
        "uid": meta["uid"],
        "apiVersion": "batch/v1",
    }
    assert status["lastScheduleTime"] == rfc3339(activation)
    (created,) = await world.events("SuccessfulCreate")
    assert created["message"] == f"Created job {meta['name']}"
    assert created["source"] == {"component": "cronjob-controller"}

    await world.complete(job)

    async def succeeded() -> bool:
        status = (await world.cron_jobs.get("hello")).get("status") or {}
        return "active" not in status and "lastSuccessfulTime" in status

    await world.until(succeeded, "job seen completed", step=0.0)
    (seen,) = await world.events("SawCompletedJob")
    assert seen["message"] == f"Saw completed job: {meta['name']}, status: Complete"

    second = await world.advance_to_next()

    async def two_jobs() -> bool:
        return len(await world.owned_jobs("hello")) == 2

    await world.until(two_jobs, "second job", step=0.0)
    assert (await world.owned_jobs("hello"))[1]["metadata"]["name"] == f"hello-{int(second) // 60}"


async def test_forbid_skips_while_a_job_runs(cron_world: CronWorld) -> None:
    world = cron_world
    await world.start_cron_controller()
    await world.cron_jobs.create(cron_job("solo", concurrencyPolicy="Forbid"))
    await world.advance_to_next()

    async def one_job() -> bool:
        return len(await world.owned_jobs("solo")) == 1

    await world.until(one_job, "first job", step=0.0)
    await world.advance_to_next()

    async def skipped() -> bool:
        return bool(await world.events("JobAlreadyActive"))

    await world.until(skipped, "JobAlreadyActive", step=0.0)
    (event,) = await world.events("JobAlreadyActive")
    assert event["message"] == "Not starting job because prior execution is running and concurrency policy is Forbid"
    assert len(await world.owned_jobs("solo")) == 1


async def test_replace_deletes_the_running_job_first(cron_world: CronWorld) -> None:
    world = cron_world
    await world.start_cron_controller()
    await world.cron_jobs.create(cron_job("swap", concurrencyPolicy="Replace"))
    await world.advance_to_next()

    async def one_job() -> bool:
        return len(await world.owned_jobs("swap")) == 1

    await world.until(one_job, "first job", step=0.0)
    (first,) = await world.owned_jobs("swap")
    second = await world.advance_to_next()

    async def replaced() -> bool:
        names = [job["metadata"]["name"] for job in await world.owned_jobs("swap")]
        return names == [f"swap-{int(second) // 60}"]

    await world.until(replaced, "replacement", step=0.0)
    (deleted,) = await world.events("SuccessfulDelete")
    assert deleted["message"] == f"Deleted job {first['metadata']['name']}"


async def test_history_limits_delete_the_oldest_finished_jobs(cron_world: CronWorld) -> None:
    world = cron_world
    await world.start_cron_controller()
    await world.cron_jobs.create(cron_job("hist", successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0))
    names = []
    for round_ in range(3):
        await world.advance_to_next()

        async def started(count: int = round_ + 1) -> bool:
            return len(await world.owned_jobs("hist")) >= min(count, 2)

        await world.until(started, f"job {round_}", step=0.0)
        newest = (await world.owned_jobs("hist"))[-1]
        names.append(newest["metadata"]["name"])
        await world.complete(newest, succeeded=round_ != 1)
        await world.idle(0.5, step=0.1)

    async def pruned() -> bool:
        return [job["metadata"]["name"] for job in await world.owned_jobs("hist")] == [names[2]]

    await world.until(pruned, "only the newest successful job kept")
    deleted = {e["message"] for e in await world.events("SuccessfulDelete")}
    assert deleted == {f"Deleted job {names[0]}", f"Deleted job {names[1]}"}


async def test_suspended_cronjob_starts_nothing(cron_world: CronWorld) -> None:
    world = cron_world
    await world.start_cron_controller()
    await world.cron_jobs.create(cron_job("held", suspend=True))
    await world.advance_to_next()
    await world.idle(2.0)
    assert await world.owned_jobs("held") == []
    await world.cron_jobs.patch("held", {"spec": {"suspend": False}})

    async def started() -> bool:
        return len(await world.owned_jobs("held")) == 1

    await world.until(started, "job after unsuspending (the missed activation runs)", step=0.0)


async def test_starting_deadline_skips_a_stale_activation(cron_world: CronWorld) -> None:
    world = cron_world
    await world.cron_jobs.create(cron_job("late", startingDeadlineSeconds=10))
    await world.advance_to_next()
    world.clock.advance(60.0)  # the controller comes up a minute after the activation
    await world.start_cron_controller()
    await world.idle(2.0)
    assert await world.owned_jobs("late") == []
    await world.advance_to_next()

    async def started() -> bool:
        return len(await world.owned_jobs("late")) == 1

    await world.until(started, "job at the next activation", step=0.0)


async def test_job_created_from_a_cronjob_by_hand_is_run_by_the_job_controller(cron_world: CronWorld) -> None:
    """`kubectl create job --from=cronjob/x`: a Job owned by the CronJob, outside its schedule."""
    world = cron_world
    await world.start_controller()
    await world.start_cron_controller()
    cj = await world.cron_jobs.create(cron_job("manual"))
    template = cj["spec"]["jobTemplate"]
    await world.jobs.create(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": "manual-run",
                "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
                "labels": template["metadata"]["labels"],
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "CronJob",
                        "name": "manual",
                        "uid": cj["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": template["spec"],
        }
    )

    async def pod_started() -> bool:
        return len(await world.active_pods("manual-run")) == 1

    await world.until(pod_started, "the Job's pod")
    (unexpected,) = await world.events("UnexpectedJob")
    assert unexpected["message"] == "Saw a job that the controller did not create or forgot: manual-run"
    assert "active" not in ((await world.cron_jobs.get("manual")).get("status") or {})


async def test_jobs_run_by_both_controllers_complete(cron_world: CronWorld) -> None:
    world = cron_world
    await world.start_controller()
    await world.start_cron_controller()
    await world.cron_jobs.create(cron_job("chain"))
    await world.advance_to_next()

    async def job_pod() -> bool:
        return len(await world.owned_jobs("chain")) == 1 and bool(await world.pods_of_cron("chain"))

    await world.until(job_pod, "job and pod", step=0.0)
    (job,) = await world.owned_jobs("chain")
    for pod in await world.active_pods(job["metadata"]["name"]):
        await world.finish(pod, "Succeeded")

    async def succeeded() -> bool:
        status = (await world.cron_jobs.get("chain")).get("status") or {}
        return "active" not in status and "lastSuccessfulTime" in status

    await world.until(succeeded, "cronjob saw the job succeed")
    (job,) = await world.owned_jobs("chain")
    assert job["status"]["succeeded"] == 1

