"""A rate-limited work queue, as client-go's workqueue: a key queued twice is handed out once; a
key being processed is not handed out again until `done`, and a re-add meanwhile defers it until
then; `add_after` delays a key (keeping the earliest deadline); `add_rate_limited` delays it by
the rate limiter's backoff until `forget`.

Workers loop: `key = await queue.get()`, sync it, then `queue.forget(key)` on success or
`queue.add_rate_limited(key)` on failure, and always `queue.done(key)`.

Must not run workers or know what a key means.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from kubelite.client.clock import Clock, RealClock, Timer
from kubelite.client.ratelimit import RateLimiter, default_controller_limiter

T = TypeVar("T", bound=Hashable)


class ShutDown(Exception):
    """The queue is shut down and empty: the worker should return."""


class WorkQueue(Generic[T]):
    def __init__(self, clock: Clock | None = None, rate_limiter: RateLimiter | None = None, name: str = ""):
        self.name = name
        self.clock = clock or RealClock()
        self.rate_limiter = rate_limiter or default_controller_limiter(self.clock)
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()  # queued, or re-added while processing
        self._processing: set[T] = set()
        self._waiting: dict[T, tuple[float, Timer]] = {}  # delayed: ready time and its timer
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, item: T) -> None:
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return  # `done` queues it again
        self._queue.append(item)
        self._wake_one()

    def add_after(self, item: T, delay: float) -> None:
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        ready = self.clock.monotonic() + delay
        waiting = self._waiting.get(item)
        if waiting is not None:
            if waiting[0] <= ready:
                return
            waiting[1].cancel()
        self._waiting[item] = (ready, self.clock.call_later(delay, lambda: self._ready(item)))

    def _ready(self, item: T) -> None:
        self._waiting.pop(item, None)
        self.add(item)

    def add_rate_limited(self, item: T) -> None:
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """Stop tracking the item's failures (its next rate-limited add starts from the base delay)."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)

    async def get(self) -> T:
        """The next item (marked as processing until `done`); raises ShutDown once shut down and empty."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._getters:
                    self._getters.remove(waiter)
                elif self._queue:
                    self._wake_one()  # our wake-up was meant for an item: pass it on
                raise
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: T) -> None:
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one()

    def shutdown(self) -> None:
        """Refuse new items; getters drain what is queued, then get ShutDown."""
        self._shutting_down = True
        for _ready, timer in self._waiting.values():
            timer.cancel()
        self._waiting.clear()
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def _wake_one(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
