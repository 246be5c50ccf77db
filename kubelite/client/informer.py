"""The informer, as client-go's: a reflector keeps an indexed cache equal to the server's objects
of one resource (in a namespace, matching selectors), and every change is told to the handlers
as on_add(obj), on_update(old, new) or on_delete(obj), after the cache already shows it.

Handlers run synchronously on the informer's task: they must only enqueue keys (a work queue's
`add`), never await or do I/O. Objects handed out and kept in the cache are shared: never
mutate them. After a relist, on_delete gets the last state the cache knew (the final state is
unknown), and objects whose resourceVersion did not change produce no on_update.

Must not write to the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubelite.client.cache import Indexer, IndexFunc, object_key
from kubelite.client.client import ResourceClient
from kubelite.client.clock import Clock
from kubelite.client.reflector import PAGE_SIZE, Reflector

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class EventHandler:
    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


def _version(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Informer:
    def __init__(
        self,
        resource: ResourceClient,
        *,
        label_selector: str = "",
        field_selector: str = "",
        indexers: Mapping[str, IndexFunc] | None = None,
        clock: Clock | None = None,
        page_size: int = PAGE_SIZE,
        name: str = "",
    ):
        self.cache = Indexer(indexers)
        self.handlers: list[EventHandler] = []
        self.reflector = Reflector(
            resource,
            self,
            label_selector=label_selector,
            field_selector=field_selector,
            page_size=page_size,
            clock=clock,
            name=name,
        )
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ use
    def add_handler(
        self,
        on_add: Callable[[Obj], None] | None = None,
        on_update: Callable[[Obj, Obj], None] | None = None,
        on_delete: Callable[[Obj], None] | None = None,
    ) -> EventHandler:
        """Register handlers; objects already in the cache are replayed to on_add at once."""
        handler = EventHandler(on_add, on_update, on_delete)
        self.handlers.append(handler)
        if on_add is not None:
            for obj in self.cache.list():
                self._call(on_add, obj)
        return handler

    def remove_handler(self, handler: EventHandler) -> None:
        with contextlib.suppress(ValueError):
            self.handlers.remove(handler)

    def start(self) -> None:
        """Start listing and watching on the running loop (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self.reflector.run(), name=f"informer {self.reflector.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def has_synced(self) -> bool:
        """Whether the cache holds a complete list (it then stays so across relists)."""
        return self._synced.is_set()

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._synced.wait()
        except TimeoutError:
            return False
        return True

    # ------------------------------------------------------------------ ReflectorSink
    def replace(self, items: list[Obj], resource_version: str) -> None:
        listed: set[str] = set()
        for obj in items:
            listed.add(object_key(obj))
            self._upsert(obj, quiet_if_unchanged=True)
        for key in [key for key in self.cache.list_keys() if key not in listed]:
            old = self.cache.remove(key)
            if old is not None:
                self._notify_delete(old)
        self._synced.set()

    def added(self, obj: Obj) -> None:
        self._upsert(obj)

    def modified(self, obj: Obj) -> None:
        self._upsert(obj)

    def deleted(self, obj: Obj) -> None:
        if self.cache.remove(object_key(obj)) is not None:
            self._notify_delete(obj)

    # ------------------------------------------------------------------ notification
    def _upsert(self, obj: Obj, quiet_if_unchanged: bool = False) -> None:
        old = self.cache.upsert(obj)
        if old is None:
            for handler in self.handlers:
                if handler.on_add is not None:
                    self._call(handler.on_add, obj)
            return
        if quiet_if_unchanged and _version(old) == _version(obj):
            return
        for handler in self.handlers:
            if handler.on_update is not None:
                self._call(handler.on_update, old, obj)

    def _notify_delete(self, obj: Obj) -> None:
        for handler in self.handlers:
            if handler.on_delete is not None:
                self._call(handler.on_delete, obj)

    def _call(self, callback: Callable[..., None], *args: Obj) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("%s: event handler failed", self.reflector.name)
