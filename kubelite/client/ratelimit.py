"""Rate limiters for work queues, as client-go's: per-item exponential backoff, an overall token
bucket, and the maximum of several. `when(item)` says how long to wait before the item's next
try (and counts the try); `forget(item)` resets the item's history.

Must not sleep or schedule anything: the queue does that with the clock.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from kubelite.client.clock import Clock

ITEM_BASE_DELAY = 0.005
ITEM_MAX_DELAY = 1000.0
BUCKET_QPS = 10.0
BUCKET_BURST = 100


class RateLimiter(Protocol):
    def when(self, item: Hashable) -> float: ...

    def forget(self, item: Hashable) -> None: ...

    def num_requeues(self, item: Hashable) -> int: ...


class ItemExponentialLimiter:
    """base * 2^failures per item, capped at max_delay."""

    def __init__(self, base_delay: float = ITEM_BASE_DELAY, max_delay: float = ITEM_MAX_DELAY):
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        failures = self._failures.get(item, 0)
        self._failures[item] = failures + 1
        if failures >= 64:  # 2^64 times any base is past any sane cap
            return self.max_delay
        return min(self.base_delay * (2**failures), self.max_delay)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class TokenBucketLimiter:
    """Tokens refill at `qps` up to `burst`; each `when` takes one, waiting for it if none is left
    (reservations queue up, as golang.org/x/time/rate's Reserve)."""

    def __init__(self, clock: Clock, qps: float = BUCKET_QPS, burst: int = BUCKET_BURST):
        self.clock = clock
        self.qps = qps
        self.burst = burst
        self._tokens = float(burst)
        self._last = clock.monotonic()

    def when(self, item: Hashable) -> float:
        now = self.clock.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, item: Hashable) -> None:
        pass

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfLimiter:
    """The longest wait any of the limiters asks for (every limiter counts the try)."""

    def __init__(self, *limiters: RateLimiter):
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_limiter(clock: Clock) -> RateLimiter:
    """client-go's DefaultControllerRateLimiter: 5ms..1000s per item, 10 qps / burst 100 overall."""
    return MaxOfLimiter(ItemExponentialLimiter(), TokenBucketLimiter(clock))
