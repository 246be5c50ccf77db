"""The watch cache: one in-memory copy of each resource's objects plus a window of recent events,
fed by a single backend watch over the whole keyspace.

Lists and watches are served from here. Each event's wire bytes are encoded at most once per
(event type, format) and the same bytes go to every watcher. A watcher that falls behind is closed
(its client relists), so a slow reader never grows memory without bound.

Must not validate or write objects, and must not know about HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from kubelite.storage.backend import Backend, CompactedError, Event

log = logging.getLogger(__name__)

Obj = dict[str, Any]

WATCHER_QUEUE_LIMIT = 2000  # events a watcher may lag behind before it is closed
EVENT_WINDOW = 20000  # events kept per resource for watches resuming from a resourceVersion
HOT_EVENTS = 1000  # the newest events of a resource keep their objects as dicts; older ones as bytes


def decode_value(value: bytes, revision: int) -> Obj:
    obj: Obj = orjson.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj


def split_key(key: str) -> tuple[str, str, str]:
    """'/registry/g/r/ns/name' -> (prefix '/registry/g/r/', namespace, name); cluster-scoped ns ''."""
    parts = key.split("/")
    prefix = "/".join(parts[:4]) + "/"
    if len(parts) == 6:
        return prefix, parts[4], parts[5]
    return prefix, "", parts[4] if len(parts) > 4 else ""


class CachedEvent:
    """One change to one object: type is ADDED, MODIFIED or DELETED (from the storage event).

    A recent event holds its object (and the previous version) as dicts, shared with the cache and
    with the event before it. Once HOT_EVENTS newer events exist it is frozen: the dicts are let go
    and only JSON bytes are kept (those of the stored value, shared with the next event's previous
    version), decoded again on the rare read (a watch resuming from an old resourceVersion). A
    pod's dict weighs about five times its JSON.
    """

    __slots__ = ("revision", "type", "namespace", "name", "_obj", "_prev", "raw", "prev_event", "prev_raw", "prev_revision", "_encoded")

    def __init__(
        self,
        revision: int,
        type: str,
        namespace: str,
        name: str,
        obj: Obj,
        prev: Obj | None,
        raw: bytes | None = None,
        prev_event: CachedEvent | None = None,
    ):
        self.revision = revision
        self.type = type
        self.namespace = namespace
        self.name = name
        self._obj: Obj | None = obj
        self._prev: Obj | None = prev
        self.raw = raw  # the stored JSON of obj (None for deletions until frozen)
        self.prev_event = prev_event  # the event that produced `prev`, while both are hot
        self.prev_raw: bytes | None = None
        self.prev_revision = int((prev or {}).get("metadata", {}).get("resourceVersion") or 0)
        self._encoded: dict[tuple[str, str], bytes] = {}

    @property
    def obj(self) -> Obj:
        if self._obj is not None:
            return self._obj
        assert self.raw is not None
        return decode_value(self.raw, self.revision)

    @property
    def prev(self) -> Obj | None:
        if self._obj is not None:
            return self._prev
        if self.prev_raw is None:
            return None
        return decode_value(self.prev_raw, self.prev_revision)

    def freeze(self) -> None:
        """Keep bytes only (see the class docstring)."""
        if self._obj is None:
            return
        if self.raw is None:
            self.raw = orjson.dumps(self._obj)
        if self._prev is not None:
            before = self.prev_event
            if before is not None and before.revision == self.prev_revision and before.raw is not None:
                self.prev_raw = before.raw
            else:
                self.prev_raw = orjson.dumps(self._prev)
        self._obj = self._prev = self.prev_event = None
        self._encoded = {}

    def encoded(self, event_type: str, fmt: str, encode: Callable[[str, Obj], bytes]) -> bytes:
        """Wire bytes for this event as `event_type` in format `fmt`, encoded once and shared."""
        cache_key = (event_type, fmt)
        data = self._encoded.get(cache_key)
        if data is None:
            data = encode(event_type, self.obj)
            if self._obj is not None:
                self._encoded[cache_key] = data
        return data


class WatcherClosed(Exception):
    """The watcher fell behind, or the cache stopped."""


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Watcher:
    """A subscription to one resource's events, filtered by namespace and a predicate on objects."""

    def __init__(self, cache: ResourceCache, namespace: str, predicate: Callable[[Obj], bool] | None):
        self.cache = cache
        self.namespace = namespace
        self.predicate = predicate
        self.queue: deque[tuple[str, CachedEvent] | None] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.overflowed = False

    def offer(self, event: CachedEvent) -> None:
        if self.closed:
            return
        if self.namespace and event.namespace != self.namespace:
            return
        event_type = event.type
        if self.predicate is not None:
            now_matches = event.type != "DELETED" and self.predicate(event.obj)
            before_matches = event.prev is not None and self.predicate(event.prev)
            if event.type == "DELETED":
                if not before_matches:
                    return
            elif now_matches and not before_matches:
                event_type = "ADDED"
            elif before_matches and not now_matches:
                event_type = "DELETED"
            elif not now_matches:
                return
        if len(self.queue) >= WATCHER_QUEUE_LIMIT:
            self.overflowed = True
            self.close()
            return
        self.queue.append((event_type, event))
        self._wake()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.append(None)
            self._wake()
            self.cache.watchers.discard(self)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_batch(self, timeout: float | None) -> list[tuple[str, CachedEvent]] | None:
        """Queued events (at least one), [] on timeout, None when closed."""
        if not self.queue:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(timeout, _resolve, waiter) if timeout is not None else None
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
            if not self.queue:
                return []
        batch: list[tuple[str, CachedEvent]] = []
        while self.queue:
            item = self.queue.popleft()
            if item is None:
                if batch:
                    self.queue.appendleft(None)
                    return batch
                return None
            batch.append(item)
        return batch


class ResourceCache:
    """All objects of one storage prefix, by namespace and name, with a window of recent events."""

    def __init__(self, prefix: str, start_revision: int):
        self.prefix = prefix
        self.by_namespace: dict[str, dict[str, Obj]] = {}
        self.events: deque[CachedEvent] = deque(maxlen=EVENT_WINDOW)
        self.hot: deque[CachedEvent] = deque()
        self.last_event: dict[tuple[str, str], CachedEvent] = {}  # per object, while it exists
        # every event with revision > window_start is in `events` (or there was none)
        self.window_start = start_revision
        self.watchers: set[Watcher] = set()
        self.count = 0

    def load(self, namespace: str, name: str, obj: Obj) -> None:
        ns = self.by_namespace.setdefault(namespace, {})
        if name not in ns:
            self.count += 1
        ns[name] = obj

    def apply(self, event: Event) -> CachedEvent | None:
        _, namespace, name = split_key(event.kv.key)
        ns = self.by_namespace.setdefault(namespace, {})
        prev = ns.get(name)
        if event.type == "DELETE":
            if prev is None and event.kv.value:
                prev = decode_value(event.kv.value, event.kv.mod_revision)
            if name in ns:
                del ns[name]
                self.count -= 1
            if not ns:
                self.by_namespace.pop(namespace, None)
            before = self.last_event.pop((namespace, name), None)
            if prev is None:
                return None
            obj = dict(prev)
            obj["metadata"] = dict(prev.get("metadata", {}))
            obj["metadata"]["resourceVersion"] = str(event.revision)
            cached = CachedEvent(event.revision, "DELETED", namespace, name, obj, prev, None, before)
        else:
            obj = decode_value(event.kv.value, event.revision)
            if prev is None:
                self.count += 1
            ns[name] = obj
            before = self.last_event.get((namespace, name))
            cached = CachedEvent(
                event.revision, "MODIFIED" if prev is not None else "ADDED", namespace, name, obj, prev, event.kv.value, before
            )
            self.last_event[(namespace, name)] = cached
        if len(self.events) == self.events.maxlen:
            self.window_start = self.events[0].revision
        self.events.append(cached)
        self.hot.append(cached)
        if len(self.hot) > HOT_EVENTS:
            self.hot.popleft().freeze()
        for watcher in list(self.watchers):
            watcher.offer(cached)
        return cached

    def get(self, namespace: str, name: str) -> Obj | None:
        ns = self.by_namespace.get(namespace)
        return ns.get(name) if ns else None

    def iter_sorted(self, namespace: str | None) -> Iterator[tuple[str, str, Obj]]:
        """(namespace, name, obj) in storage-key order; namespace None = all namespaces."""
        if namespace is not None:
            ns = self.by_namespace.get(namespace, {})
            for name in sorted(ns):
                yield namespace, name, ns[name]
            return
        for ns_name in sorted(self.by_namespace, key=lambda n: n + "/"):  # storage key order
            ns = self.by_namespace[ns_name]
            for name in sorted(ns):
                yield ns_name, name, ns[name]

    def events_since(self, revision: int) -> list[CachedEvent]:
        """Buffered events after `revision`; raises CompactedError when the window no longer covers it."""
        if revision < self.window_start:
            raise CompactedError(revision, self.window_start)
        if not self.events or self.events[-1].revision <= revision:
            return []
        # binary search on revision
        lo, hi = 0, len(self.events)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.events[mid].revision <= revision:
                lo = mid + 1
            else:
                hi = mid
        return [self.events[i] for i in range(lo, len(self.events))]


class WatchCache:
    """Feeds every ResourceCache from one backend watch and tracks the revision it has seen."""

    def __init__(self, backend: Backend, coalesce_probes: bool = False):
        self.backend = backend
        self.coalesce_probes = coalesce_probes
        self._next_probe: asyncio.Future[int] | None = None
        self._prober: asyncio.Task[None] | None = None
        self.caches: dict[str, ResourceCache] = {}
        self.revision = 0
        self._revision_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._start_revision = 0
        self.listeners: dict[str, list[Callable[[CachedEvent], None]]] = {}

    async def start(self) -> None:
        """Load every object under /registry/ and follow the backend from that revision."""
        result = await self.backend.range("/registry/")
        self._start_revision = result.revision
        self.revision = result.revision
        for kv in result.items:
            prefix, namespace, name = split_key(kv.key)
            self._cache(prefix).load(namespace, name, decode_value(kv.value, kv.mod_revision))
        self._task = asyncio.create_task(self._follow(), name="watch-cache")

    def _cache(self, prefix: str) -> ResourceCache:
        cache = self.caches.get(prefix)
        if cache is None:
            cache = self.caches[prefix] = ResourceCache(prefix, self._start_revision)
        return cache

    def cache(self, prefix: str) -> ResourceCache:
        return self._cache(prefix)

    def add_listener(self, prefix: str, listener: Callable[[CachedEvent], None]) -> None:
        """Call `listener` for every event under `prefix` once it is applied (after watchers got it)."""
        self.listeners.setdefault(prefix, []).append(listener)

    async def _follow(self) -> None:
        after = self._start_revision
        while True:
            try:
                async for batch in self.backend.watch("/registry/", after):
                    for event in batch:
                        prefix, _, _ = split_key(event.kv.key)
                        cached = self._cache(prefix).apply(event)
                        after = event.revision
                        if cached is not None and prefix in self.listeners:
                            for listener in self.listeners[prefix]:
                                try:
                                    listener(cached)
                                except Exception:
                                    log.exception("watch cache listener failed")
                    self._advance(after)
                return
            except asyncio.CancelledError:
                raise
            except CompactedError as exc:
                # We fell behind compaction: reload everything and make every watcher relist.
                log.warning("watch cache fell behind compaction (%s); reloading", exc)
                await self._reload()
                after = self.revision
            except Exception as exc:  # backend hiccup: retry after a short pause
                log.warning("watch cache backend watch failed: %s; retrying", exc)
                await asyncio.sleep(0.5)

    async def _reload(self) -> None:
        result = await self.backend.range("/registry/")
        for cache in self.caches.values():
            for watcher in list(cache.watchers):
                watcher.close()
        self._start_revision = result.revision
        self.caches = {}
        for kv in result.items:
            prefix, namespace, name = split_key(kv.key)
            self._cache(prefix).load(namespace, name, decode_value(kv.value, kv.mod_revision))
        self._advance(result.revision)

    def _advance(self, revision: int) -> None:
        if revision > self.revision:
            self.revision = revision
        if self._revision_waiters:
            still = []
            for wanted, fut in self._revision_waiters:
                if wanted <= self.revision:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    still.append((wanted, fut))
            self._revision_waiters = still

    async def wait_for(self, revision: int, timeout: float = 10.0) -> None:
        """Return once the cache has applied every event up to `revision`."""
        if revision <= self.revision:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._revision_waiters.append((revision, fut))
        try:
            async with asyncio.timeout(timeout):  # unlike wait_for on 3.11, never swallows a cancel
                await fut
        finally:
            if not fut.done():
                fut.cancel()
                self._revision_waiters = [(r, f) for r, f in self._revision_waiters if f is not fut]

    async def wait_fresh(self) -> None:
        """Catch up with the backend's current revision (a consistent read). With a remote
        backend, readers that arrive while a revision probe is in flight share the next probe
        (it starts after they arrived, so it still sees every write they could have seen)."""
        if not self.coalesce_probes:
            await self.wait_for(await self.backend.current_revision())
            return
        if self._next_probe is None:
            self._next_probe = asyncio.get_running_loop().create_future()
            if self._prober is None or self._prober.done():
                self._prober = asyncio.create_task(self._run_probes())
        revision = await asyncio.shield(self._next_probe)
        await self.wait_for(revision)

    async def _run_probes(self) -> None:
        while self._next_probe is not None:
            fut, self._next_probe = self._next_probe, None
            try:
                fut.set_result(await self.backend.current_revision())
            except Exception as exc:
                fut.set_exception(exc)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for cache in self.caches.values():
            for watcher in list(cache.watchers):
                watcher.close()
