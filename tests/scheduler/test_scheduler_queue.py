"""The scheduling queue in fake time: order, backoff, parking and moving back, nominations."""

from __future__ import annotations

import asyncio
from typing import Any

from kubelite.client.clock import FakeClock
from kubelite.scheduler import queue as q
from kubelite.scheduler.queue import SchedulingQueue

Obj = dict[str, Any]


def pod(name: str, priority: int = 0, **spec: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": {"priority": priority, **spec}}


async def pop_now(queue: SchedulingQueue) -> str | None:
    try:
        return (await asyncio.wait_for(queue.pop(), 0.05)).key
    except TimeoutError:
        return None


async def test_active_queue_orders_by_priority_then_age() -> None:
    clock = FakeClock()
    queue = SchedulingQueue(clock)
    queue.add(pod("old-low", 1))
    clock.advance(1)
    queue.add(pod("high", 100))
    clock.advance(1)
    queue.add(pod("new-low", 1))
    queue.add(pod("high", 100))  # already queued: not twice
    assert [await pop_now(queue) for _ in range(4)] == ["ns/high", "ns/old-low", "ns/new-low", None]


async def test_backoff_doubles_up_to_ten_seconds() -> None:
    clock = FakeClock()
    queue = SchedulingQueue(clock)
    queue.add(pod("p"))
    info = await queue.pop()
    waits = []
    for _ in range(6):
        queue.add_backoff(info)
        assert queue.pending()["backoff"] == ["ns/p"]
        waited = 0.0
        while True:
            try:
                info = await asyncio.wait_for(queue.pop(), 0.05)
                break
            except TimeoutError:
                clock.advance(0.5)
                waited += 0.5
        waits.append(waited)
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


async def test_unschedulable_pod_waits_for_a_relevant_event() -> None:
    clock = FakeClock()
    queue = SchedulingQueue(clock)
    queue.add(pod("p"))
    info = await queue.pop()
    queue.add_unschedulable(info, ["NodeUnschedulable"], cycle=queue.scheduling_cycle)
    assert queue.pending()["unschedulable"] == ["ns/p"]
    queue.move_all_to_active_or_backoff(q.NODE_ALLOCATABLE_CHANGE)  # NodeResourcesFit's business
    assert queue.pending()["unschedulable"] == ["ns/p"]
    queue.move_all_to_active_or_backoff(q.NODE_SPEC_UNSCHEDULABLE_CHANGE)
    assert queue.pending()["backoff"] == ["ns/p"]  # its 1 s backoff has not run out
    clock.advance(1)
    assert await pop_now(queue) == "ns/p"


async def test_unschedulable_pod_retried_after_five_minutes() -> None:
    clock = FakeClock()
    queue = SchedulingQueue(clock)
    queue.add(pod("p"))
    info = await queue.pop()
    queue.add_unschedulable(info, ["NodeAffinity"], cycle=queue.scheduling_cycle)
    clock.advance(299)
    assert await pop_now(queue) is None
    clock.advance(1)
    assert await pop_now(queue) == "ns/p"


async def test_event_during_attempt_sends_failed_pod_to_backoff() -> None:
    clock = FakeClock()
    queue = SchedulingQueue(clock)
    queue.add(pod("p"))
    info = await queue.pop()
    cycle = queue.scheduling_cycle
    queue.move_all_to_active_or_backoff(q.NODE_ADD)  # while p was being scheduled
    queue.add_unschedulable(info, ["NodeResourcesFit"], cycle=cycle)
    assert queue.pending()["backoff"] == ["ns/p"]


async def test_updates_and_deletes() -> None:
    clock = FakeClock()
    queue = SchedulingQueue(clock)
    queue.add(pod("p"))
    info = await queue.pop()
    queue.add_unschedulable(info, ["NodeAffinity"], cycle=queue.scheduling_cycle)
    status_only = pod("p")
    status_only["status"] = {"conditions": [{"type": "PodScheduled", "status": "False"}]}
    queue.update(pod("p"), status_only)
    assert queue.pending()["unschedulable"] == ["ns/p"]
    queue.update(pod("p"), pod("p", nodeSelector={"a": "b"}))
    assert queue.pending()["backoff"] == ["ns/p"]
    queue.delete(pod("p"))
    assert len(queue) == 0
    clock.advance(5)
    assert await pop_now(queue) is None


async def test_nominated_pods_are_tracked() -> None:
    queue = SchedulingQueue(FakeClock())
    queue.add_nominated(pod("a"), "n1")
    from_status = pod("b")
    from_status["status"] = {"nominatedNodeName": "n1"}
    queue.add(from_status)
    assert sorted(p["metadata"]["name"] for p in queue.nominated_pods()["n1"]) == ["a", "b"]
    assert queue.nominated_node(pod("a")) == "n1"
    queue.delete(pod("a"))
    queue.remove_nominated(pod("b"))
    assert not queue.has_nominated()


async def test_close_ends_pop() -> None:
    queue = SchedulingQueue(FakeClock())
    waiting = asyncio.ensure_future(queue.pop())
    await asyncio.sleep(0)
    queue.close()
    try:
        await asyncio.wait_for(waiting, 1)
    except q.QueueClosed:
        pass
    else:
        raise AssertionError("pop should raise QueueClosed")
