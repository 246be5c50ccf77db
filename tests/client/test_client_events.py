"""The shared EventRecorder against a real in-process registry: container events carry their
fieldPath and the source host, repeats patch count and lastTimestamp, an Event removed meanwhile
is created again with its count, and what the spam filter drops is never written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client
from kubelite.client.clock import FakeClock
from kubelite.client.events import NORMAL, WARNING, EventRecorder
from tests.registry.registry_harness import start_registry

POD = {"metadata": {"name": "web", "namespace": "default", "uid": "u-1", "resourceVersion": "5"}}


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    registry = await start_registry()
    made = Client(InProcessTransport(registry, manager="events-tests"))
    try:
        yield made
    finally:
        await made.close()
        await asyncio.wait_for(registry.stop(), 5.0)


async def events_of(client: Client) -> list[dict]:
    return list((await client.resource("", "v1", "events").namespace("default").list())["items"])


async def test_container_event_with_field_path_and_host(client: Client) -> None:
    clock = FakeClock()
    recorder = EventRecorder(client, "kubelet", host="node-a", clock=clock)
    await recorder.start()
    try:
        recorder.event(POD, NORMAL, "Started", "Started container app", kind="Pod", api_version="v1", field_path="spec.containers{app}")
        await recorder.flush()
        clock.advance(12)
        recorder.event(POD, NORMAL, "Started", "Started container app", kind="Pod", api_version="v1", field_path="spec.containers{app}")
        await recorder.flush()
    finally:
        await recorder.stop()
    [event] = await events_of(client)
    assert event["involvedObject"] == {
        "kind": "Pod",
        "apiVersion": "v1",
        "namespace": "default",
        "name": "web",
        "uid": "u-1",
        "resourceVersion": "5",
        "fieldPath": "spec.containers{app}",
    }
    assert event["source"] == {"component": "kubelet", "host": "node-a"}
    assert (event["reportingComponent"], event["reportingInstance"]) == ("kubelet", "node-a")
    assert event["count"] == 2
    assert (event["firstTimestamp"], event["lastTimestamp"]) == ("2025-06-15T15:06:40Z", "2025-06-15T15:06:52Z")


async def test_a_removed_event_is_created_again_with_its_count(client: Client) -> None:
    recorder = EventRecorder(client, "kubelet", host="node-a", clock=FakeClock())
    await recorder.start()
    try:
        recorder.event(POD, WARNING, "BackOff", "Back-off", kind="Pod")
        await recorder.flush()
        [first] = await events_of(client)
        await client.resource("", "v1", "events").namespace("default").delete(first["metadata"]["name"])
        recorder.event(POD, WARNING, "BackOff", "Back-off", kind="Pod")
        await recorder.flush()
    finally:
        await recorder.stop()
    [again] = await events_of(client)
    assert again["metadata"]["name"] == first["metadata"]["name"] and again["count"] == 2


async def test_spam_beyond_the_burst_is_not_written(client: Client) -> None:
    recorder = EventRecorder(client, "kubelet", host="node-a", clock=FakeClock())
    await recorder.start()
    try:
        for index in range(40):
            recorder.event(POD, NORMAL, f"Reason{index}", f"message {index}", kind="Pod")
        await recorder.flush()
    finally:
        await recorder.stop()
    assert len(await events_of(client)) == 25
