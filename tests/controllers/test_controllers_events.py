"""The EventRecorder and controller expectations against a real in-process registry."""

from __future__ import annotations

import asyncio

from kubelite.client.clock import FakeClock
from kubelite.controllers.events import NORMAL, WARNING, EventRecorder
from kubelite.controllers.expectations import ControllerExpectations
from tests.controllers.controllers_harness import ControllerCluster

RS = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "metadata": {"name": "web", "namespace": "ctl", "uid": "u-1", "resourceVersion": "7"},
}


async def test_repeated_event_is_aggregated(cluster: ControllerCluster) -> None:
    clock = FakeClock()
    recorder = EventRecorder(cluster.client, "replicaset-controller", clock=clock)
    await recorder.start()
    try:
        recorder.event(RS, NORMAL, "SuccessfulCreate", "Created pod: web-a")
        await recorder.flush()
        clock.advance(30)
        recorder.event(RS, NORMAL, "SuccessfulCreate", "Created pod: web-a")
        recorder.event(RS, WARNING, "FailedCreate", "Error creating: quota")
        await recorder.flush()
    finally:
        await recorder.stop()
    events = sorted((await cluster.events.list())["items"], key=lambda e: e["reason"])
    assert [e["reason"] for e in events] == ["FailedCreate", "SuccessfulCreate"]
    failed, created = events
    assert created["count"] == 2
    assert created["firstTimestamp"] == "2025-06-15T15:06:40Z"
    assert created["lastTimestamp"] == "2025-06-15T15:07:10Z"
    assert created["involvedObject"] == {
        "kind": "ReplicaSet",
        "apiVersion": "apps/v1",
        "namespace": "ctl",
        "name": "web",
        "uid": "u-1",
        "resourceVersion": "7",
    }
    assert created["source"] == {"component": "replicaset-controller"}
    assert created["type"] == "Normal"
    assert created["metadata"]["name"] == f"web.{int(1_750_000_000 * 1e9):x}"
    assert failed["count"] == 1 and failed["type"] == "Warning"
    assert failed["metadata"]["name"] != created["metadata"]["name"]


async def test_recording_never_blocks_and_drops_when_full(cluster: ControllerCluster) -> None:
    recorder = EventRecorder(cluster.client, "c", queue_size=2)  # not started: nothing drains
    for index in range(5):
        recorder.event(RS, NORMAL, "R", f"m{index}")
    await recorder.start()
    await recorder.flush()
    await recorder.stop()
    assert sorted(e["message"] for e in (await cluster.events.list())["items"]) == ["m0", "m1"]


async def test_expectations_track_creates_deletes_and_expire() -> None:
    clock = FakeClock()
    expectations = ControllerExpectations(clock)
    assert expectations.satisfied("ns/rs")
    expectations.expect_creations("ns/rs", 2)
    assert not expectations.satisfied("ns/rs")
    expectations.creation_observed("ns/rs")
    assert not expectations.satisfied("ns/rs")
    expectations.creation_observed("ns/rs")
    assert expectations.satisfied("ns/rs")
    expectations.expect_deletions("ns/rs", ["ns/p1", "ns/p2"])
    expectations.deletion_observed("ns/rs", "ns/p1")
    assert expectations.pending("ns/rs") == (0, 1)
    clock.advance(301)
    assert expectations.satisfied("ns/rs")  # expired
    await asyncio.sleep(0)
