"""An EventRecorder writing core/v1 Events as upstream's legacy recorder: involvedObject, reason,
message, type, source.component, first/lastTimestamp and count; an identical repeat (same object,
type, reason, message and source) is aggregated by patching count and lastTimestamp. Names are
`<object name>.<hex of the Unix time in ns>`. Recording never blocks: events go to a bounded
queue that a task drains (when full, events are dropped, as upstream does).

Must not raise into the caller nor retry forever: an event that cannot be written is logged and
dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.client import Client
from kubelite.client.clock import Clock, RealClock

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NORMAL = "Normal"
WARNING = "Warning"
QUEUE_SIZE = 1000
CACHE_SIZE = 4096


def rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def object_reference(obj: Obj, kind: str = "", api_version: str = "") -> Obj:
    meta = obj.get("metadata") or {}
    ref: Obj = {"kind": obj.get("kind") or kind, "apiVersion": obj.get("apiVersion") or api_version}
    for field, key in (
        ("namespace", "namespace"),
        ("name", "name"),
        ("uid", "uid"),
        ("resourceVersion", "resourceVersion"),
    ):
        if meta.get(key):
            ref[field] = meta[key]
    return ref


class EventRecorder:
    def __init__(
        self,
        client: Client,
        component: str,
        *,
        host: str = "",
        clock: Clock | None = None,
        queue_size: int = QUEUE_SIZE,
    ):
        self.events = client.resource("", "v1", "events")
        self.component = component
        self.host = host
        self.clock: Clock = clock or RealClock()
        self._queue: asyncio.Queue[tuple[Obj, str, str, str, float]] = asyncio.Queue(maxsize=queue_size)
        self._seen: OrderedDict[tuple[str, ...], tuple[str, str, int]] = OrderedDict()  # -> (ns, name, count)
        self._last_nanos = 0
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ callers
    def event(
        self, obj: Obj, event_type: str, reason: str, message: str, *, kind: str = "", api_version: str = ""
    ) -> None:
        """Record an event about obj (never blocks, never raises)."""
        ref = object_reference(obj, kind, api_version)
        try:
            self._queue.put_nowait((ref, event_type, reason, message, self.clock.time()))
        except asyncio.QueueFull:
            log.warning("event queue full: dropping %s %s on %s", event_type, reason, ref.get("name"))

    async def flush(self) -> None:
        """Wait until every event recorded so far has been written (for tests and shutdown)."""
        await self._queue.join()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name=f"events {self.component}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _drain(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._write(*item)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("could not write event %s on %s: %r", item[2], item[0].get("name"), err)
            finally:
                self._queue.task_done()

    # ------------------------------------------------------------------ writing
    def _name(self, ref: Obj, when: float) -> str:
        nanos = max(int(when * 1e9), self._last_nanos + 1)
        self._last_nanos = nanos
        return f"{ref.get('name', '')}.{nanos:x}"

    async def _write(self, ref: Obj, event_type: str, reason: str, message: str, when: float) -> None:
        key = (
            self.component,
            self.host,
            ref.get("kind", ""),
            ref.get("namespace", ""),
            ref.get("name", ""),
            ref.get("uid", ""),
            ref.get("apiVersion", ""),
            event_type,
            reason,
            message,
        )
        stamp = rfc3339(when)
        namespace = ref.get("namespace") or "default"
        seen = self._seen.get(key)
        if seen is not None:
            _ns, name, count = seen
            patch = {"count": count + 1, "lastTimestamp": stamp, "message": message}
            try:
                await self.events.namespace(namespace).patch(name, patch, "merge")
                self._remember(key, namespace, name, count + 1)
                return
            except StatusError as err:
                if err.code != 404:
                    raise
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": self._name(ref, when), "namespace": namespace},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        created = await self.events.namespace(namespace).create(event)
        self._remember(key, namespace, created["metadata"]["name"], 1)

    def _remember(self, key: tuple[str, ...], namespace: str, name: str, count: int) -> None:
        self._seen[key] = (namespace, name, count)
        self._seen.move_to_end(key)
        while len(self._seen) > CACHE_SIZE:
            self._seen.popitem(last=False)
