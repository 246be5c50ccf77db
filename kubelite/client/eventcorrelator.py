"""What upstream's legacy event recorder does to an event before writing it (client-go's
EventCorrelator), as pure bookkeeping:

- aggregation: events from one source about one object with the same type and reason but ten or
  more different messages within ten minutes become one event whose message is
  "(combined from similar events): <latest message>";
- counting: an identical repeat is not a new Event but a count (and lastTimestamp) bump on the
  first one, which keeps its name and firstTimestamp;
- spam filtering: one source may write 25 times about one object, then once per five minutes
  (a token bucket per source and object) — repeats past that are dropped, though the count keeps
  growing, so the next write that passes carries the true count.

Must not do I/O or read a clock: the caller passes the monotonic and wall times.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, ...]

CACHE_SIZE = 4096
SPAM_BURST = 25
SPAM_REFILL_PER_SECOND = 1.0 / 300.0
AGGREGATE_MAX_MESSAGES = 10
AGGREGATE_WINDOW_SECONDS = 600.0
COMBINED_PREFIX = "(combined from similar events): "


@dataclass(frozen=True, slots=True)
class Correlated:
    """What to write: `count` 1 creates Event `name`; a higher count bumps the existing one."""

    name: str
    count: int
    message: str
    first_seen: float  # wall-clock seconds of the first occurrence (firstTimestamp)


class _Aggregate:
    __slots__ = ("messages", "last")

    def __init__(self, last: float) -> None:
        self.messages: set[str] = set()
        self.last = last


def _put(cache: OrderedDict[Key, Any], key: Key, value: Any, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    if len(cache) > size:
        cache.popitem(last=False)


class EventCorrelator:
    """One per recorder, or one shared by many (the keys include the source), each of its three
    caches holding at most `cache_size` entries (least recently used first out)."""

    def __init__(
        self,
        *,
        cache_size: int = CACHE_SIZE,
        burst: int = SPAM_BURST,
        refill_per_second: float = SPAM_REFILL_PER_SECOND,
        max_messages: int = AGGREGATE_MAX_MESSAGES,
        window_seconds: float = AGGREGATE_WINDOW_SECONDS,
    ) -> None:
        self.cache_size = cache_size
        self.burst = burst
        self.refill_per_second = refill_per_second
        self.max_messages = max_messages
        self.window_seconds = window_seconds
        self._aggregates: OrderedDict[Key, _Aggregate] = OrderedDict()
        self._seen: OrderedDict[Key, tuple[str, int, float]] = OrderedDict()  # event key -> (name, count, first seen)
        self._buckets: OrderedDict[Key, tuple[float, float]] = OrderedDict()  # source+object -> (tokens, at)
        self._last_nanos = 0

    def correlate(
        self, source: tuple[str, str], ref: Obj, event_type: str, reason: str, message: str, now: float, wall: float
    ) -> Correlated | None:
        """The write an event amounts to, or None when the spam filter drops it. `source` is
        (component, host); `now` monotonic seconds, `wall` wall-clock seconds."""
        involved: Key = (
            *source,
            ref.get("kind", ""),
            ref.get("namespace", ""),
            ref.get("name", ""),
            ref.get("uid", ""),
            ref.get("apiVersion", ""),
        )
        key, message = self._aggregate(involved, ref.get("fieldPath", ""), event_type, reason, message, now)
        seen = self._seen.get(key)
        if seen is None:
            name, count, first = self._new_name(ref.get("name", ""), wall), 1, wall
        else:
            name, count, first = seen[0], seen[1] + 1, seen[2]
        _put(self._seen, key, (name, count, first), self.cache_size)
        if not self._take_token(involved, now):
            return None
        return Correlated(name, count, message, first)

    def _aggregate(self, involved: Key, field_path: str, event_type: str, reason: str, message: str, now: float) -> tuple[Key, str]:
        similar: Key = (*involved, event_type, reason)
        record = self._aggregates.get(similar)
        if record is None or now - record.last > self.window_seconds:
            record = _Aggregate(now)
        record.messages.add(message)
        record.last = now
        _put(self._aggregates, similar, record, self.cache_size)
        if len(record.messages) < self.max_messages:
            return (*involved, field_path, event_type, reason, message), message
        record.messages.pop()  # stay below the threshold: every further new message combines too
        return ("combined", *similar), COMBINED_PREFIX + message

    def _take_token(self, involved: Key, now: float) -> bool:
        held = self._buckets.get(involved)
        tokens = float(self.burst) if held is None else min(float(self.burst), held[0] + (now - held[1]) * self.refill_per_second)
        allowed = tokens >= 1.0
        _put(self._buckets, involved, (tokens - 1.0 if allowed else tokens, now), self.cache_size)
        return allowed

    def _new_name(self, object_name: str, wall: float) -> str:
        """`<object name>.<hex of the Unix time in ns>`, unique within this correlator."""
        nanos = max(int(wall * 1e9), self._last_nanos + 1)
        self._last_nanos = nanos
        return f"{object_name}.{nanos:x}"
