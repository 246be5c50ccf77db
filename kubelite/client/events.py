"""An EventRecorder writing core/v1 Events as upstream's legacy recorder (client-go's
tools/record) does, for controllers and the kubelet alike: involvedObject (with a fieldPath for a
container), reason, message, type, source (component and host), reportingComponent and
reportingInstance, first/lastTimestamp and count. Each event goes through the correlator
(eventcorrelator.py: aggregation, counting, spam filtering) when it is recorded; what survives
goes to a bounded queue that one task drains (when full, events are dropped, as upstream does),
creating the Event or merge-patching count, lastTimestamp and message of the existing one.

Must not raise into the caller nor retry forever: an event that cannot be written is logged and
dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.client import Client
from kubelite.client.clock import Clock, RealClock
from kubelite.client.eventcorrelator import Correlated, EventCorrelator

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NORMAL = "Normal"
WARNING = "Warning"
QUEUE_SIZE = 1000


def rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def object_reference(obj: Obj, kind: str = "", api_version: str = "", field_path: str = "") -> Obj:
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
    if field_path:
        ref["fieldPath"] = field_path
    return ref


_Write = tuple[Obj, str, str, Correlated, float]  # (involvedObject, type, reason, correlated, wall time)


class EventRecorder:
    def __init__(
        self,
        client: Client,
        component: str,
        *,
        host: str = "",
        clock: Clock | None = None,
        queue_size: int = QUEUE_SIZE,
        correlator: EventCorrelator | None = None,
    ):
        self.events = client.resource("", "v1", "events")
        self.component = component
        self.host = host
        self.clock: Clock = clock or RealClock()
        self.correlator = correlator or EventCorrelator()
        self._source = (component, host)
        self._queue: asyncio.Queue[_Write] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ callers
    def event(
        self,
        obj: Obj,
        event_type: str,
        reason: str,
        message: str,
        *,
        kind: str = "",
        api_version: str = "",
        field_path: str = "",
    ) -> None:
        """Record an event about obj (a container of it when `field_path` is given, e.g.
        `spec.containers{app}`); never blocks, never raises."""
        ref = object_reference(obj, kind, api_version, field_path)
        wall = self.clock.time()
        correlated = self.correlator.correlate(self._source, ref, event_type, reason, message, self.clock.monotonic(), wall)
        if correlated is None:
            log.debug("event %s %s on %s dropped by the spam filter", event_type, reason, ref.get("name"))
            return
        try:
            self._queue.put_nowait((ref, event_type, reason, correlated, wall))
        except asyncio.QueueFull:
            log.warning("event queue full: dropping %s %s on %s", event_type, reason, ref.get("name"))

    async def flush(self) -> None:
        """Wait until every event recorded so far has been written (for tests and shutdown)."""
        await self._queue.join()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name=f"events {self.component} {self.host}".rstrip())

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
    async def _write(self, ref: Obj, event_type: str, reason: str, correlated: Correlated, when: float) -> None:
        namespace = ref.get("namespace") or "default"
        stamp = rfc3339(when)
        events = self.events.namespace(namespace)
        if correlated.count > 1:
            patch = {"count": correlated.count, "lastTimestamp": stamp, "message": correlated.message}
            try:
                await events.patch(correlated.name, patch, "merge")
                return
            except StatusError as err:
                if err.code != 404:
                    raise
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": correlated.name, "namespace": namespace},
            "involvedObject": ref,
            "reason": reason,
            "message": correlated.message,
            "type": event_type,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": rfc3339(correlated.first_seen),
            "lastTimestamp": stamp,
            "count": correlated.count,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        await events.create(event)
