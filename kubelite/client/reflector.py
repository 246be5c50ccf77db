"""The reflector, as client-go's: list a resource, then watch it from the list's resourceVersion
(with bookmarks, so a quiet resource's position stays fresh), resuming each ended stream from
the last resourceVersion seen. A 410 (the position fell out of the server's window) makes it
list again, consistently, and hand the whole new state to its sink, which works out what was
added, changed and deleted meanwhile. Failures back off exponentially (0.8s doubling to 30s).

Must not keep objects itself: the sink (an informer) does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any, Protocol

from kubelite.api.errors import StatusError
from kubelite.client.client import ResourceClient
from kubelite.client.clock import Clock, RealClock
from kubelite.client.transport import Gone, TransportError

log = logging.getLogger(__name__)

Obj = dict[str, Any]

PAGE_SIZE = 500
WATCH_TIMEOUT_MIN = 300.0  # each watch asks the server to end it after 5-10 minutes
BACKOFF_INITIAL = 0.8
BACKOFF_MAX = 30.0
SHORT_WATCH = 1.0  # a stream that ends this fast without events counts as a failure


class ReflectorSink(Protocol):
    def replace(self, items: list[Obj], resource_version: str) -> None:
        """The complete state at resource_version (after the first list, and after every relist)."""
        ...

    def added(self, obj: Obj) -> None: ...

    def modified(self, obj: Obj) -> None: ...

    def deleted(self, obj: Obj) -> None: ...


class Backoff:
    def __init__(self, clock: Clock, initial: float = BACKOFF_INITIAL, maximum: float = BACKOFF_MAX):
        self.clock = clock
        self.initial = initial
        self.maximum = maximum
        self._next = initial

    def reset(self) -> None:
        self._next = self.initial

    async def wait(self) -> None:
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        await self.clock.sleep(delay * (1 + random.random() * 0.1))


class Reflector:
    def __init__(
        self,
        resource: ResourceClient,
        sink: ReflectorSink,
        *,
        label_selector: str = "",
        field_selector: str = "",
        page_size: int = PAGE_SIZE,
        clock: Clock | None = None,
        name: str = "",
    ):
        self.resource = resource
        self.sink = sink
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.clock = clock or RealClock()
        self.name = name or str(resource.ref)
        self.last_resource_version = ""
        self.relists = 0  # lists after the first (410s and failed resumptions)
        self._backoff = Backoff(self.clock)

    async def run(self) -> None:
        """List and watch until cancelled."""
        must_list = True
        consistent = False  # the first list may come from the server's cache, as client-go's
        while True:
            try:
                if must_list:
                    await self._list(consistent)
                    must_list = False
                if not await self._watch():
                    await self._backoff.wait()
                else:
                    self._backoff.reset()
            except asyncio.CancelledError:
                raise
            except Gone as exc:
                log.info("%s: %s; listing again", self.name, exc.message)
                must_list = consistent = True
                self.relists += 1
            except (StatusError, TransportError) as exc:
                log.warning("%s: %s", self.name, exc)
                await self._backoff.wait()
            except Exception:
                log.exception("%s: list/watch failed", self.name)
                await self._backoff.wait()

    async def _list(self, consistent: bool) -> None:
        resource_version = "" if consistent else "0"
        try:
            items, list_version = await self._list_pages(resource_version, self.page_size if consistent else 0)
        except Gone:  # a continue token expired between pages: one unpaged list instead
            items, list_version = await self._list_pages("", 0)
        self.sink.replace(items, list_version)
        self.last_resource_version = list_version

    async def _list_pages(self, resource_version: str, limit: int) -> tuple[list[Obj], str]:
        items: list[Obj] = []
        continue_token = ""
        list_version = ""
        while True:
            page = await self.resource.list(
                label_selector=self.label_selector,
                field_selector=self.field_selector,
                limit=limit,
                continue_token=continue_token,
                resource_version="" if continue_token else resource_version,
            )
            meta = page.get("metadata") or {}
            list_version = list_version or str(meta.get("resourceVersion") or "")
            items.extend(page.get("items") or [])
            continue_token = str(meta.get("continue") or "")
            if not continue_token:
                return items, list_version

    async def _watch(self) -> bool:
        """One watch stream from the last resourceVersion; False when it ended at once, empty."""
        started = self.clock.monotonic()
        seen = 0
        events = self.resource.watch(
            resource_version=self.last_resource_version,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            allow_bookmarks=True,
            timeout_seconds=WATCH_TIMEOUT_MIN * (1 + random.random()),
        )
        async with contextlib.aclosing(events):
            async for event_type, obj in events:
                seen += 1
                if event_type == "ADDED":
                    self.sink.added(obj)
                elif event_type == "MODIFIED":
                    self.sink.modified(obj)
                elif event_type == "DELETED":
                    self.sink.deleted(obj)
                elif event_type != "BOOKMARK":
                    log.warning("%s: unexpected watch event type %r", self.name, event_type)
                    continue
                resource_version = (obj.get("metadata") or {}).get("resourceVersion")
                if resource_version:
                    self.last_resource_version = str(resource_version)
        return seen > 0 or self.clock.monotonic() - started >= SHORT_WATCH
