"""The one generic controller loop: informers for the watched resources, a rate-limited work
queue of `namespace/name` keys, and N worker tasks calling `sync(key)`. A failed sync is retried
with the queue's backoff; a successful one resets it.

Must not know any kind: subclasses choose what to watch, what to enqueue and what `sync` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from kubelite.client.cache import IndexFunc, object_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock, RealClock
from kubelite.client.informer import Informer
from kubelite.client.workqueue import ShutDown, WorkQueue
from kubelite.controllers.events import EventRecorder

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class Controller:
    """Subclasses call `self.informer(...)` in their constructor, register handlers that call
    `self.enqueue(...)`, and implement `sync`."""

    def __init__(self, client: Client, *, name: str, workers: int = 2, clock: Clock | None = None):
        self.client = client
        self.name = name
        self.workers = max(1, workers)
        self.clock: Clock = clock or RealClock()
        self.queue: WorkQueue[str] = WorkQueue(self.clock, name=name)
        self.informers: list[Informer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self._own_recorders: list[EventRecorder] = []

    def event_recorder(self, recorder: EventRecorder | None, component: str) -> EventRecorder:
        """`recorder` when given (its owner starts and stops it), else one of this controller's own,
        started and stopped with it."""
        if recorder is not None:
            return recorder
        own = EventRecorder(self.client, component, clock=self.clock)
        self._own_recorders.append(own)
        return own

    def informer(
        self,
        group: str,
        version: str,
        resource: str,
        *,
        indexers: Mapping[str, IndexFunc] | None = None,
        namespaced: bool | None = None,
    ) -> Informer:
        """An informer over every namespace: the client's shared one when it has SharedInformers,
        else one owned by this controller. Either way the controller starts it and lets it go."""
        if self.client.informers is not None:
            shared = self.client.informers.acquire(group, version, resource, indexers=indexers, namespaced=namespaced)
            self.informers.append(shared)
            return shared
        found = Informer(
            self.client.resource(group, version, resource, namespaced=namespaced),
            indexers=indexers,
            clock=self.clock,
            name=f"{self.name}/{resource}",
        )
        self.informers.append(found)
        return found

    # ------------------------------------------------------------------ queueing
    def enqueue(self, obj: Obj) -> None:
        self.queue.add(object_key(obj))

    def enqueue_after(self, obj: Obj, delay: float) -> None:
        self.queue.add_after(object_key(obj), delay)

    def enqueue_rate_limited(self, obj: Obj) -> None:
        self.queue.add_rate_limited(object_key(obj))

    # ------------------------------------------------------------------ lifecycle
    async def sync(self, key: str) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        """Start the informers, wait until their caches are synced, then start the workers."""
        if self._running:
            return
        self._running = True
        for recorder in self._own_recorders:
            await recorder.start()
        for informer in self.informers:
            informer.start()
        for informer in self.informers:
            await informer.wait_for_sync()
        self._tasks = [
            asyncio.create_task(self._work(), name=f"{self.name} worker {index}")
            for index in range(self.workers)
        ]

    async def stop(self) -> None:
        """Cancel workers and informers; idempotent."""
        self._running = False
        self.queue.shutdown()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        informers, self.informers = self.informers, []
        for informer in informers:
            if self.client.informers is not None:
                await self.client.informers.release(informer)
            else:
                await informer.stop()
        for recorder in self._own_recorders:
            await recorder.stop()

    async def _work(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self.sync(key)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.info("%s: sync %s failed (retrying): %r", self.name, key, err)
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)
