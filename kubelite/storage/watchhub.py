"""In-process watch fan-out for backends whose writes all happen in this process (memory, sqlite).

The backend publishes each committed event to the hub synchronously, on the event-loop thread, right
after the write. A watch subscribes and notes the current revision in the same synchronous step, so
replaying history up to that revision and then following the subscription yields every event exactly
once, in order, with no gap.

A subscriber's buffer is unbounded: consumers are expected to keep up (the registry's watch cache
is the one long-lived consumer and drains whole batches).

Must not keep events a subscriber has already consumed, and must not read any store itself
(history comes from the backend through the EventLog protocol).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

from kubelite.storage.backend import CompactedError, Event, StorageError

REPLAY_CHUNK = 1000  # events read from history per step while catching up


class EventLog(Protocol):
    """What a local backend exposes to the watch machinery; all calls are synchronous."""

    def revision_now(self) -> int: ...

    def compacted_now(self) -> int: ...

    def events_between(self, prefix: str, after: int, upto: int, limit: int) -> list[Event]:
        """Events on keys under `prefix` with after < revision <= upto, oldest first, at most `limit`."""
        ...


class Subscription:
    """Live events for one watch, buffered until its consumer asks for the next batch."""

    __slots__ = ("prefix", "_pending", "_wakeup", "ended")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._pending: list[Event] = []
        self._wakeup = asyncio.Event()
        self.ended = False

    def offer(self, event: Event) -> None:
        self._pending.append(event)
        self._wakeup.set()

    def end(self) -> None:
        self.ended = True
        self._wakeup.set()

    async def next_batch(self) -> list[Event] | None:
        """Every event offered since the last call (waiting for at least one); None once ended."""
        while not self._pending:
            if self.ended:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        batch = self._pending
        self._pending = []
        return batch


class WatchHub:
    """The set of live subscriptions of one backend."""

    def __init__(self) -> None:
        self._subscriptions: dict[Subscription, None] = {}
        self.closed = False

    def subscribe(self, prefix: str) -> Subscription:
        if self.closed:
            raise StorageError("storage backend is closed")
        subscription = Subscription(prefix)
        self._subscriptions[subscription] = None
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.pop(subscription, None)

    def publish(self, event: Event) -> None:
        key = event.kv.key
        for subscription in self._subscriptions:
            if key.startswith(subscription.prefix):
                subscription.offer(event)

    def close(self) -> None:
        self.closed = True
        for subscription in self._subscriptions:
            subscription.end()
        self._subscriptions.clear()


async def replay_then_follow(
    hub: WatchHub, log: EventLog, prefix: str, after_revision: int
) -> AsyncIterator[list[Event]]:
    """The body of `Backend.watch` for local backends: history after `after_revision`, then live."""
    subscription = hub.subscribe(prefix)
    try:
        upto = log.revision_now()  # same synchronous step as subscribe: live events are > upto
        position = after_revision
        while True:
            compacted = log.compacted_now()
            if position + 1 < compacted:
                raise CompactedError(position, compacted)
            if position >= upto:
                break
            batch = log.events_between(prefix, position, upto, REPLAY_CHUNK)
            if batch:
                position = batch[-1].revision
                yield batch
            if len(batch) < REPLAY_CHUNK:
                break
        while True:
            live = await subscription.next_batch()
            if live is None:
                return
            if after_revision > upto:  # a watch from the future skips what it did not ask for
                live = [event for event in live if event.revision > after_revision]
                if not live:
                    continue
            yield live
    finally:
        hub.unsubscribe(subscription)
