"""The work queue in fake time: dedup, one worker per key, deferred re-adds, delays, per-item
exponential backoff (5ms doubling to 1000s), the overall token bucket, forget and shutdown."""

from __future__ import annotations

import asyncio

import pytest

from kubelite.client.clock import FakeClock
from kubelite.client.ratelimit import (
    ItemExponentialLimiter,
    MaxOfLimiter,
    TokenBucketLimiter,
    default_controller_limiter,
)
from kubelite.client.workqueue import ShutDown, WorkQueue


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def try_get(queue: WorkQueue[str], wait: float = 0.05) -> str | None:
    try:
        return await asyncio.wait_for(queue.get(), wait)
    except TimeoutError:
        return None


def new_queue(clock: FakeClock | None = None) -> tuple[WorkQueue[str], FakeClock]:
    clock = clock or FakeClock()
    return WorkQueue(clock, ItemExponentialLimiter()), clock


async def test_a_key_queued_twice_is_handed_out_once() -> None:
    queue, _ = new_queue()
    queue.add("a")
    queue.add("b")
    queue.add("a")
    assert len(queue) == 2
    assert await queue.get() == "a"
    assert await queue.get() == "b"
    assert await try_get(queue) is None


async def test_a_key_being_processed_is_not_handed_out_again_until_done() -> None:
    queue, _ = new_queue()
    queue.add("a")
    assert await queue.get() == "a"
    queue.add("a")  # changed again while a worker has it
    queue.add("a")
    assert len(queue) == 0
    assert await try_get(queue) is None
    queue.done("a")
    assert await queue.get() == "a"
    queue.done("a")
    assert await try_get(queue) is None


async def test_waiting_getters_are_woken_one_per_item() -> None:
    queue, _ = new_queue()
    getters = [asyncio.create_task(queue.get()) for _ in range(3)]
    await settle()
    queue.add("x")
    queue.add("y")
    await settle()
    done = [g for g in getters if g.done()]
    assert sorted(g.result() for g in done) == ["x", "y"]
    assert len(done) == 2, "each item wakes exactly one getter"
    for getter in getters:
        getter.cancel()
    await asyncio.gather(*getters, return_exceptions=True)


async def test_a_cancelled_getter_passes_its_wake_up_on() -> None:
    queue, _ = new_queue()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await settle()
    queue.add("x")  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    await settle()
    assert second.done() and second.result() == "x"


async def test_add_after_waits_and_keeps_the_earliest_deadline() -> None:
    queue, clock = new_queue()
    queue.add_after("a", 10)
    queue.add_after("a", 3)
    queue.add_after("a", 20)
    clock.advance(2.9)
    assert len(queue) == 0
    clock.advance(0.1)
    assert len(queue) == 1
    clock.advance(30)
    assert len(queue) == 1
    assert await queue.get() == "a"


async def test_rate_limited_adds_back_off_exponentially_until_forgotten() -> None:
    queue, clock = new_queue()
    expected = [0.005, 0.01, 0.02, 0.04]
    for delay in expected:
        queue.add_rate_limited("a")
        clock.advance(delay * 0.99)
        assert len(queue) == 0, f"ready before {delay}s"
        clock.advance(delay * 0.01)
        assert len(queue) == 1, f"not ready after {delay}s"
        assert await queue.get() == "a"
        queue.done("a")
    assert queue.num_requeues("a") == 4
    queue.forget("a")
    assert queue.num_requeues("a") == 0
    queue.add_rate_limited("a")
    clock.advance(0.005)
    assert len(queue) == 1


def test_item_backoff_is_capped_at_1000_seconds() -> None:
    limiter = ItemExponentialLimiter()
    delays = [limiter.when("k") for _ in range(200)]
    assert delays[:3] == [0.005, 0.01, 0.02]
    assert max(delays) == 1000.0
    assert delays[-1] == 1000.0
    assert limiter.when("other") == 0.005


def test_token_bucket_allows_a_burst_then_ten_per_second() -> None:
    clock = FakeClock()
    bucket = TokenBucketLimiter(clock)
    assert [bucket.when(i) for i in range(100)] == [0.0] * 100
    assert bucket.when(100) == pytest.approx(0.1)
    assert bucket.when(101) == pytest.approx(0.2)
    clock.advance(1.0)  # ten tokens come back; two were already promised
    assert bucket.when(102) == pytest.approx(0.0)


def test_default_limiter_is_the_maximum_of_both() -> None:
    clock = FakeClock()
    limiter = default_controller_limiter(clock)
    assert isinstance(limiter, MaxOfLimiter)
    assert limiter.when("a") == 0.005
    for i in range(99):
        limiter.when(f"k{i}")
    assert limiter.when("fresh") == pytest.approx(0.1)  # the bucket is empty: it decides


async def test_shutdown_drains_then_raises() -> None:
    queue, clock = new_queue()
    queue.add("a")
    queue.add_after("later", 1)
    waiter_queue, _ = new_queue()
    waiter = asyncio.create_task(waiter_queue.get())
    await settle()
    queue.shutdown()
    waiter_queue.shutdown()
    queue.add("b")
    clock.advance(5)
    assert await queue.get() == "a"
    with pytest.raises(ShutDown):
        await queue.get()
    with pytest.raises(ShutDown):
        await waiter
    assert queue.shutting_down


async def test_fake_clock_sleep_resumes_only_when_advanced() -> None:
    clock = FakeClock()
    start = clock.monotonic()
    sleeper = asyncio.create_task(clock.sleep(5))
    await settle()
    assert clock.pending == 1
    clock.advance(4.9)
    await settle()
    assert not sleeper.done()
    clock.advance(0.1)
    await settle()
    assert sleeper.done()
    assert clock.monotonic() == start + 5
    assert clock.time() - clock.monotonic() == FakeClock().time() - FakeClock().monotonic()
