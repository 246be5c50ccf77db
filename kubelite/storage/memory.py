"""MemoryBackend: the whole revisioned keyspace in process memory, with full history until compaction.

Meant for tests and throwaway clusters: nothing survives the process. Every operation runs
synchronously on the event-loop thread, so each call is atomic.

Must not persist anything, and must not interpret values.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import AsyncIterator

from kubelite.storage.backend import (
    CompactedError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RangeResult,
    RevisionMismatchError,
    StorageError,
)
from kubelite.storage.keys import range_start
from kubelite.storage.watchhub import WatchHub, replay_then_follow

EMPTY_STORE_REVISION = 1  # as etcd: a fresh store is at revision 1, the first write gets 2


def _revision_of(event: Event) -> int:
    return event.kv.mod_revision


class MemoryBackend:
    """An in-memory etcd: one log of events, the same events indexed per key, and sorted key names."""

    def __init__(self) -> None:
        self._revision = EMPTY_STORE_REVISION
        self._compacted = 0
        self._log: list[Event] = []  # every kept event, oldest first
        self._history: dict[str, list[Event]] = {}  # key -> its kept events, oldest first
        self._names: list[str] = []  # sorted keys of _history
        self._hub = WatchHub()
        self._closed = False

    # lifecycle

    async def start(self) -> None:
        if self._closed:
            self._closed = False
            self._hub = WatchHub()

    async def close(self) -> None:
        self._closed = True
        self._hub.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("storage backend is closed")

    # EventLog, for the watch machinery

    def revision_now(self) -> int:
        return self._revision

    def compacted_now(self) -> int:
        return self._compacted

    def events_between(self, prefix: str, after: int, upto: int, limit: int) -> list[Event]:
        found: list[Event] = []
        log = self._log
        for index in range(bisect_right(log, after, key=_revision_of), len(log)):
            event = log[index]
            if event.kv.mod_revision > upto:
                break
            if event.kv.key.startswith(prefix):
                found.append(event)
                if len(found) == limit:
                    break
        return found

    # reads

    async def current_revision(self) -> int:
        self._check_open()
        return self._revision

    async def compacted_revision(self) -> int:
        self._check_open()
        return self._compacted

    def _latest(self, key: str) -> KeyValue | None:
        events = self._history.get(key)
        if not events:
            return None
        last = events[-1]
        return None if last.type == "DELETE" else last.kv

    async def get(self, key: str) -> KeyValue | None:
        self._check_open()
        return self._latest(key)

    def _read_revision(self, revision: int) -> int:
        if revision == 0:
            return self._revision
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted)
        return revision

    async def range(
        self, prefix: str, *, start_after: str = "", limit: int = 0, revision: int = 0
    ) -> RangeResult:
        self._check_open()
        at = self._read_revision(revision)
        latest = at == self._revision
        start, inclusive = range_start(prefix, start_after)
        names = self._names
        index = bisect_left(names, start) if inclusive else bisect_right(names, start)
        items: list[KeyValue] = []
        for position in range(index, len(names)):
            name = names[position]
            if not name.startswith(prefix):
                break
            events = self._history[name]
            if latest:
                event = events[-1]
            else:
                found = bisect_right(events, at, key=_revision_of)
                if found == 0:
                    continue
                event = events[found - 1]
            if event.type == "DELETE":
                continue
            if limit and len(items) == limit:
                return RangeResult(items, at, True)
            items.append(event.kv)
        return RangeResult(items, at, False)

    def watch(self, prefix: str, after_revision: int) -> AsyncIterator[list[Event]]:
        return replay_then_follow(self._hub, self, prefix, after_revision)

    # writes

    def _append(self, event: Event) -> None:
        key = event.kv.key
        self._revision = event.kv.mod_revision
        self._log.append(event)
        events = self._history.get(key)
        if events is None:
            self._history[key] = [event]
            insort(self._names, key)
        else:
            events.append(event)
        self._hub.publish(event)

    async def create(self, key: str, value: bytes) -> int:
        self._check_open()
        if self._latest(key) is not None:
            raise KeyExistsError(key)
        revision = self._revision + 1
        self._append(Event("PUT", KeyValue(key, value, revision, revision), None))
        return revision

    def _current_for_write(self, key: str, expected_mod_revision: int) -> KeyValue:
        current = self._latest(key)
        if current is None:
            raise KeyNotFoundError(key)
        if expected_mod_revision and current.mod_revision != expected_mod_revision:
            raise RevisionMismatchError(key, current)
        return current

    async def update(self, key: str, value: bytes, expected_mod_revision: int) -> int:
        self._check_open()
        current = self._current_for_write(key, expected_mod_revision)
        revision = self._revision + 1
        self._append(Event("PUT", KeyValue(key, value, current.create_revision, revision), current))
        return revision

    async def delete(self, key: str, expected_mod_revision: int = 0) -> KeyValue:
        self._check_open()
        current = self._current_for_write(key, expected_mod_revision)
        revision = self._revision + 1
        deleted = KeyValue(key, current.value, current.create_revision, revision)
        self._append(Event("DELETE", deleted, current))
        return deleted

    async def compact(self, revision: int) -> None:
        """Keep, per key, every event at or after `revision` and the last value before it (unless that
        was a delete). Compacting at or below the compacted revision does nothing."""
        self._check_open()
        if revision <= self._compacted:
            return
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        self._compacted = revision
        emptied = False
        for name, events in list(self._history.items()):
            cut = bisect_left(events, revision, key=_revision_of)
            if cut and events[cut - 1].type == "PUT":
                cut -= 1  # the value a range at `revision` still sees
            if cut == len(events):
                del self._history[name]
                emptied = True
            elif cut:
                self._history[name] = events[cut:]
        # watches never replay below the compacted revision, so the log keeps only what follows it
        del self._log[: bisect_left(self._log, revision, key=_revision_of)]
        if emptied:
            self._names = [name for name in self._names if name in self._history]
