"""The Job controller (and the TTL-after-finished controller) against a real in-process registry in
fake time; the test moves pods to Succeeded/Failed as a kubelet would. Also the pure helpers of
kubelite/controllers/jobutil.py (index intervals, pod-failure backoff)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.client.clock import FakeClock
from kubelite.controllers.events import EventRecorder, rfc3339
from kubelite.controllers.job import JobController
from kubelite.controllers.jobutil import (
    BackoffRecord,
    first_pending_indexes,
    format_indexes,
    next_backoff_record,
    parse_indexes,
    remaining_backoff,
    with_indexes,
)
from kubelite.controllers.ttlafterfinished import TTLAfterFinishedController
from tests.controllers.controllers_harness import ControllerCluster

Obj = dict[str, Any]

FINALIZER = "batch.kubernetes.io/job-tracking"


# ---------------------------------------------------------------------------- harness
class JobWorld:
    """A cluster, a fake clock starting at the real time, and a running Job controller."""

    def __init__(self, cluster: ControllerCluster, clock: FakeClock, recorder: EventRecorder):
        self.cluster = cluster
        self.clock = clock
        self.recorder = recorder

    @property
    def jobs(self) -> Any:
        return self.cluster.rc("batch", "v1", "jobs")

    async def start_controller(self) -> JobController:
        controller = JobController(
            self.cluster.client, clock=self.clock, recorder=self.recorder, sync_batch_period=0.0, workers=2
        )
        await self.cluster.run(controller)
        return controller

    async def until(
        self, condition: Callable[[], Awaitable[bool]], what: str, step: float = 0.01, timeout: float = 10.0
    ) -> None:
        """Poll, moving fake time on by `step` between polls (retries and delays run in it)."""
        deadline = time.monotonic() + timeout
        while not await condition():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            self.clock.advance(step)
            await asyncio.sleep(0.005)

    async def idle(self, seconds: float, step: float = 0.05) -> None:
        """Let `seconds` of fake time pass in small steps, the controller running meanwhile."""
        for _ in range(int(seconds / step)):
            self.clock.advance(step)
            await asyncio.sleep(0.002)

    async def pods(self, job: str) -> list[Obj]:
        items = (await self.cluster.pods.list(label_selector=f"batch.kubernetes.io/job-name={job}"))["items"]
        return sorted(items, key=lambda pod: pod["metadata"]["creationTimestamp"] + pod["metadata"]["name"])

    async def active_pods(self, job: str) -> list[Obj]:
        return [
            pod
            for pod in await self.pods(job)
            if not pod["metadata"].get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]

    async def status(self, job: str) -> Obj:
        return (await self.jobs.get(job)).get("status") or {}

    async def finish(self, pod: Obj, phase: str) -> None:
        """What a kubelet reports when the pod's only container exits."""
        fresh = await self.cluster.pods.get(pod["metadata"]["name"])
        stamp = rfc3339(self.clock.time())
        code = 0 if phase == "Succeeded" else 1
        fresh["status"] = {
            **(fresh.get("status") or {}),
            "phase": phase,
            "conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": stamp, "reason": "PodCompleted"}
            ],
            "containerStatuses": [
                {
                    "name": "c",
                    "ready": False,
                    "restartCount": 0,
                    "image": "busybox",
                    "imageID": "",
                    "state": {
                        "terminated": {
                            "exitCode": code,
                            "reason": "Completed" if code == 0 else "Error",
                            "startedAt": stamp,
                            "finishedAt": stamp,
                        }
                    },
                }
            ],
        }
        await self.cluster.pods.update_status(fresh)

    async def events(self, reason: str = "") -> list[Obj]:
        await self.recorder.flush()
        items = (await self.cluster.events.list())["items"]
        return [e for e in items if not reason or e["reason"] == reason]


def job(name: str, **spec: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}},
            **spec,
        },
    }


def conditions(status: Obj) -> dict[str, Obj]:
    return {c["type"]: c for c in status.get("conditions") or []}


@pytest.fixture
async def world(cluster: ControllerCluster) -> AsyncIterator[JobWorld]:
    clock = FakeClock(wall_start=time.time())
    recorder = EventRecorder(cluster.client, "job-controller", clock=clock)
    await recorder.start()
    try:
        yield JobWorld(cluster, clock, recorder)
    finally:
        await cluster.stop()
        await recorder.stop()


async def count_is(world: JobWorld, name: str, n: int) -> bool:
    return len(await world.active_pods(name)) == n


# ---------------------------------------------------------------------------- NonIndexed
async def test_job_runs_to_completion_with_upstream_status_and_events(world: JobWorld) -> None:
    await world.start_controller()
    created = await world.jobs.create(job("pi", completions=2, parallelism=2))
    uid = created["metadata"]["uid"]
    await world.until(lambda: count_is(world, "pi", 2), "2 pods")
    for pod in await world.pods("pi"):
        meta = pod["metadata"]
        assert meta["generateName"] == "pi-"
        assert meta["finalizers"] == [FINALIZER]
        assert meta["labels"] == {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": "pi",
            "controller-uid": uid,
            "job-name": "pi",
        }
        assert meta["ownerReferences"] == [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": "pi",
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]

    async def running() -> bool:
        status = await world.status("pi")
        return status.get("active") == 2 and "startTime" in status

    await world.until(running, "active 2")
    status = await world.status("pi")
    assert status["ready"] == 0 and status["terminating"] == 0
    assert status["uncountedTerminatedPods"] == {}
    assert "succeeded" not in status and "conditions" not in status

    first, second = await world.pods("pi")
    await world.finish(first, "Succeeded")

    async def one_done() -> bool:
        status = await world.status("pi")
        return status.get("succeeded") == 1 and status.get("active") == 1

    await world.until(one_done, "one succeeded")
    assert FINALIZER not in ((await world.cluster.pods.get(first["metadata"]["name"]))["metadata"].get("finalizers") or [])
    await world.finish(second, "Succeeded")

    async def complete() -> bool:
        return conditions(await world.status("pi")).get("Complete", {}).get("status") == "True"

    await world.until(complete, "Complete")
    status = await world.status("pi")
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    for cond in status["conditions"]:
        assert cond["status"] == "True"
        assert cond["reason"] == "CompletionsReached"
        assert cond["message"] == "Reached expected number of succeeded pods"
        assert cond["lastProbeTime"] and cond["lastTransitionTime"]
    assert status["succeeded"] == 2
    assert "active" not in status and "failed" not in status
    assert status["completionTime"] == conditions(status)["Complete"]["lastTransitionTime"]
    assert status["uncountedTerminatedPods"] == {} and status["ready"] == 0 and status["terminating"] == 0
    for pod in await world.pods("pi"):
        assert FINALIZER not in (pod["metadata"].get("finalizers") or [])

    created_events = await world.events("SuccessfulCreate")
    assert sorted(e["message"] for e in created_events) == sorted(
        f"Created pod: {pod['metadata']['name']}" for pod in await world.pods("pi")
    )
    (completed,) = await world.events("Completed")
    assert completed["message"] == "Job completed" and completed["type"] == "Normal"
    assert completed["involvedObject"]["kind"] == "Job" and completed["involvedObject"]["uid"] == uid
    assert completed["source"] == {"component": "job-controller"}


async def test_finished_pods_are_counted_once_across_controller_restarts(world: JobWorld) -> None:
    await world.start_controller()
    await world.jobs.create(job("once", completions=3, parallelism=3))
    await world.until(lambda: count_is(world, "once", 3), "3 pods")
    await world.cluster.stop()
    pods = await world.pods("once")
    await world.finish(pods[0], "Succeeded")
    await world.finish(pods[1], "Failed")
    await world.start_controller()

    async def counted() -> bool:
        status = await world.status("once")
        return status.get("succeeded") == 1 and status.get("failed") == 1 and not status["uncountedTerminatedPods"]

    await world.until(counted, "counts after restart")
    await world.cluster.stop()
    await world.start_controller()
    await world.jobs.patch("once", {"metadata": {"annotations": {"poke": "1"}}})
    await world.idle(2.0)
    status = await world.status("once")
    assert status["succeeded"] == 1 and status["failed"] == 1


async def test_failed_pods_are_replaced_after_exponential_backoff_until_the_limit(world: JobWorld) -> None:
    await world.start_controller()
    await world.jobs.create(job("flaky", backoffLimit=2))
    await world.until(lambda: count_is(world, "flaky", 1), "first pod")

    (first,) = await world.active_pods("flaky")
    await world.finish(first, "Failed")
    await world.until(lambda: count_is(world, "flaky", 0), "failure seen", step=0.0)
    await world.idle(9.0)
    assert await world.active_pods("flaky") == [], "no replacement within the first 10 s"
    await world.until(lambda: count_is(world, "flaky", 1), "replacement after 10 s")
    assert (await world.status("flaky")).get("failed") == 1

    (second,) = await world.active_pods("flaky")
    await world.finish(second, "Failed")
    await world.until(lambda: count_is(world, "flaky", 0), "second failure seen", step=0.0)
    await world.idle(15.0)
    assert await world.active_pods("flaky") == [], "the second backoff is 20 s"
    await world.until(lambda: count_is(world, "flaky", 1), "replacement after 20 s", timeout=15)

    (third,) = await world.active_pods("flaky")
    await world.finish(third, "Failed")

    async def failed() -> bool:
        return conditions(await world.status("flaky")).get("Failed", {}).get("status") == "True"

    await world.until(failed, "Failed")
    status = await world.status("flaky")
    assert [c["type"] for c in status["conditions"]] == ["FailureTarget", "Failed"]
    for cond in status["conditions"]:
        assert cond["reason"] == "BackoffLimitExceeded"
        assert cond["message"] == "Job has reached the specified backoff limit"
    assert status["failed"] == 3 and "completionTime" not in status
    (warning,) = await world.events("BackoffLimitExceeded")
    assert warning["type"] == "Warning" and warning["message"] == "Job has reached the specified backoff limit"
    assert len(await world.pods("flaky")) == 3


async def test_active_deadline_kills_the_pods_and_fails_the_job(world: JobWorld) -> None:
    await world.start_controller()
    await world.jobs.create(job("slow", activeDeadlineSeconds=30))
    await world.until(lambda: count_is(world, "slow", 1), "pod")
    await world.idle(25.0, step=0.5)
    assert "conditions" not in await world.status("slow")

    async def failed() -> bool:
        return conditions(await world.status("slow")).get("Failed", {}).get("status") == "True"

    await world.until(failed, "DeadlineExceeded", step=0.1)
    status = await world.status("slow")
    assert [(c["type"], c["reason"]) for c in status["conditions"]] == [
        ("FailureTarget", "DeadlineExceeded"),
        ("Failed", "DeadlineExceeded"),
    ]
    assert conditions(status)["Failed"]["message"] == "Job was active longer than specified deadline"
    assert status["failed"] == 1 and "active" not in status
    assert await world.pods("slow") == [], "the killed pod is gone once its finalizer is dropped"
    (warning,) = await world.events("DeadlineExceeded")
    assert warning["type"] == "Warning"
    assert [e["message"] for e in await world.events("SuccessfulDelete")][0].startswith("Deleted pod: slow-")


async def test_suspend_deletes_active_pods_and_resume_restarts(world: JobWorld) -> None:
    await world.start_controller()
    await world.jobs.create(job("paused", parallelism=2, completions=4, suspend=True))

    async def suspended() -> bool:
        return conditions(await world.status("paused")).get("Suspended", {}).get("status") == "True"

    await world.until(suspended, "Suspended")
    status = await world.status("paused")
    assert conditions(status)["Suspended"]["reason"] == "JobSuspended"
    assert conditions(status)["Suspended"]["message"] == "Job suspended"
    assert "startTime" not in status and await world.pods("paused") == []

    await world.jobs.patch("paused", {"spec": {"suspend": False}})
    await world.until(lambda: count_is(world, "paused", 2), "pods after resume")
    resumed = conditions(await world.status("paused"))["Suspended"]
    assert (resumed["status"], resumed["reason"], resumed["message"]) == ("False", "JobResumed", "Job resumed")
    assert "startTime" in await world.status("paused")

    await world.jobs.patch("paused", {"spec": {"suspend": True}})
    await world.until(lambda: count_is(world, "paused", 0), "pods deleted on suspend")
    await world.until(suspended, "Suspended again")

    async def gone() -> bool:
        return await world.pods("paused") == []

    await world.until(gone, "deleted pods gone")
    status = await world.status("paused")
    assert "failed" not in status, "pods deleted for suspension do not count as failed"
    assert {e["reason"] for e in await world.events()} >= {"Suspended", "Resumed", "SuccessfulDelete"}


async def test_pods_of_a_deleted_job_lose_the_tracking_finalizer(world: JobWorld) -> None:
    await world.start_controller()
    await world.jobs.create(job("gone", parallelism=2, completions=2))
    await world.until(lambda: count_is(world, "gone", 2), "pods")
    await world.jobs.delete("gone", propagation_policy="Orphan")

    async def released() -> bool:
        pods = await world.pods("gone")
        return len(pods) == 2 and all(FINALIZER not in (p["metadata"].get("finalizers") or []) for p in pods)

    await world.until(released, "finalizers removed")


async def test_lower_parallelism_deletes_pods_and_a_deleted_pod_counts_as_failed(world: JobWorld) -> None:
    await world.start_controller()
    await world.jobs.create(job("wide", parallelism=3, completions=6, backoffLimit=10))
    await world.until(lambda: count_is(world, "wide", 3), "3 pods")
    await world.jobs.patch("wide", {"spec": {"parallelism": 1}})
    await world.until(lambda: count_is(world, "wide", 1), "scaled to 1")

    async def settled() -> bool:
        status = await world.status("wide")
        return status.get("active") == 1 and len(await world.pods("wide")) == 1

    await world.until(settled, "surplus pods gone")
    assert "failed" not in await world.status("wide"), "pods deleted by the controller are not failures"

    (pod,) = await world.active_pods("wide")
    await world.cluster.pods.delete(pod["metadata"]["name"])

    async def counted() -> bool:
        return (await world.status("wide")).get("failed") == 1

    await world.until(counted, "the deleted pod counted as failed")
    await world.until(lambda: count_is(world, "wide", 1), "replacement after the backoff", step=0.1)


async def test_container_restarts_count_against_the_backoff_limit_with_on_failure(world: JobWorld) -> None:
    await world.start_controller()
    manifest = job("restarts", backoffLimit=2)
    manifest["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    await world.jobs.create(manifest)
    await world.until(lambda: count_is(world, "restarts", 1), "pod")
    (pod,) = await world.active_pods("restarts")
    pod["status"] = {
        **pod["status"],
        "phase": "Running",
        "containerStatuses": [
            {"name": "c", "ready": False, "restartCount": 2, "image": "busybox", "imageID": "", "state": {}}
        ],
    }
    await world.cluster.pods.update_status(pod)

    async def failed() -> bool:
        return conditions(await world.status("restarts")).get("Failed", {}).get("reason") == "BackoffLimitExceeded"

    await world.until(failed, "BackoffLimitExceeded")
    assert await world.pods("restarts") == [], "the running pod was deleted"
    assert (await world.status("restarts"))["failed"] == 1


# ---------------------------------------------------------------------------- Indexed
async def test_indexed_job_creates_pods_per_index_and_tracks_completed_indexes(world: JobWorld) -> None:
    await world.start_controller()
    await world.jobs.create(job("idx", completions=3, parallelism=2, completionMode="Indexed"))
    await world.until(lambda: count_is(world, "idx", 2), "2 pods")
    by_index = {}
    for pod in await world.active_pods("idx"):
        meta = pod["metadata"]
        index = meta["annotations"]["batch.kubernetes.io/job-completion-index"]
        assert meta["labels"]["batch.kubernetes.io/job-completion-index"] == index
        assert meta["generateName"] == f"idx-{index}-"
        assert pod["spec"]["hostname"] == f"idx-{index}"
        assert pod["spec"]["containers"][0]["env"] == [
            {
                "name": "JOB_COMPLETION_INDEX",
                "valueFrom": {
                    "fieldRef": {
                        "apiVersion": "v1",
                        "fieldPath": "metadata.labels['batch.kubernetes.io/job-completion-index']",
                    }
                },
            }
        ]
        by_index[index] = pod
    assert sorted(by_index) == ["0", "1"]

    await world.finish(by_index["1"], "Succeeded")

    async def index_two_started() -> bool:
        indexes = {
            p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            for p in await world.active_pods("idx")
        }
        return indexes == {"0", "2"}

    await world.until(index_two_started, "index 2 created")
    status = await world.status("idx")
    assert status["completedIndexes"] == "1" and status["succeeded"] == 1
    for pod in await world.active_pods("idx"):
        await world.finish(pod, "Succeeded")

    async def complete() -> bool:
        return conditions(await world.status("idx")).get("Complete", {}).get("status") == "True"

    await world.until(complete, "Complete")
    status = await world.status("idx")
    assert status["completedIndexes"] == "0-2" and status["succeeded"] == 3


# ---------------------------------------------------------------------------- TTL after finished
async def test_finished_job_is_deleted_after_its_ttl(world: JobWorld) -> None:
    await world.start_controller()
    await world.cluster.run(TTLAfterFinishedController(world.cluster.client, clock=world.clock))
    await world.jobs.create(job("short", ttlSecondsAfterFinished=100))
    await world.until(lambda: count_is(world, "short", 1), "pod")
    (pod,) = await world.active_pods("short")
    await world.finish(pod, "Succeeded")

    async def complete() -> bool:
        return conditions(await world.status("short")).get("Complete", {}).get("status") == "True"

    await world.until(complete, "Complete")
    await world.idle(95.0, step=1.0)
    assert await world.jobs.get("short")

    async def deleted() -> bool:
        try:
            await world.jobs.get("short")
        except StatusError as err:
            return err.code == 404
        return False

    await world.until(deleted, "job deleted", step=0.5)


# ---------------------------------------------------------------------------- jobutil
def test_index_intervals_parse_format_and_merge() -> None:
    assert parse_indexes("0,2-4,7", 10) == [(0, 0), (2, 4), (7, 7)]
    assert parse_indexes("1,2,5-9", 7) == [(1, 2), (5, 6)], "adjacent parts join; beyond completions is cut"
    assert parse_indexes("x,3", 5) == [(3, 3)]
    assert format_indexes([(0, 0), (2, 3), (5, 9)]) == "0,2,3,5-9"
    assert with_indexes([(0, 1), (5, 5)], [2, 4, 7]) == [(0, 2), (4, 5), (7, 7)]
    assert first_pending_indexes([(0, 1), (3, 3)], 3, 10) == [2, 4, 5]
    assert first_pending_indexes([(0, 4)], 3, 5) == []


def test_pod_failure_backoff_doubles_from_ten_seconds_and_is_capped() -> None:
    assert remaining_backoff(BackoffRecord(), 100.0) == 0.0
    assert remaining_backoff(BackoffRecord(1, 100.0), 104.0) == 6.0
    assert remaining_backoff(BackoffRecord(2, 100.0), 100.0) == 20.0
    assert remaining_backoff(BackoffRecord(3, 100.0), 130.0) == 10.0
    assert remaining_backoff(BackoffRecord(30, 100.0), 100.0) == 600.0
    assert remaining_backoff(BackoffRecord(1, 100.0), 111.0) == 0.0


def _finished_at(seconds: float) -> Obj:
    stamp = rfc3339(seconds)
    return {
        "metadata": {},
        "status": {"containerStatuses": [{"state": {"terminated": {"finishedAt": stamp}}}]},
    }


def test_backoff_record_counts_failures_after_the_last_success() -> None:
    base = 1_700_000_000.0
    record = next_backoff_record(BackoffRecord(), [], [_finished_at(base), _finished_at(base + 5)])
    assert record == BackoffRecord(2, base + 5)
    record = next_backoff_record(record, [_finished_at(base + 10)], [_finished_at(base + 8), _finished_at(base + 12)])
    assert record == BackoffRecord(1, base + 12)
    assert next_backoff_record(record, [_finished_at(base + 20)], []) == BackoffRecord()
