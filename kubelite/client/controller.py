"""The one generic controller loop, for every component that reconciles from informer caches (the
controllers, and the kubelet's and the network's components): informers for the watched
resources, a rate-limited work queue of string keys (usually `namespace/name`), and N worker
tasks calling `sync(key)`. A failed sync is retried with the queue's backoff; a successful one
resets it. `before_workers` lets a component act on the first full picture (caches synced, the
keys they queued still waiting) before any worker runs.

Must not know any kind nor what a key means: subclasses choose what to watch, what to enqueue and
what `sync` does.
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
from kubelite.client.events import EventRecorder
from kubelite.client.informer import Informer
from kubelite.client.workqueue import ShutDown, WorkQueue

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class Controller:
    """Subclasses call `self.informer(...)` in their constructor, register handlers that call
    `self.enqueue(...)` (or `self.queue.add(key)`), and implement `sync`."""

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
        field_selector: str = "",
    ) -> Informer:
        """An informer over every namespace: the client's shared one when it has SharedInformers
        and no `field_selector` is asked for (shared informers do not filter), else one owned by
        this controller. Either way the controller starts it and lets it go."""
        if self.client.informers is not None and not field_selector:
            shared = self.client.informers.acquire(group, version, resource, indexers=indexers, namespaced=namespaced)
            self.informers.append(shared)
            return shared
        found = Informer(
            self.client.resource(group, version, resource, namespaced=namespaced),
            field_selector=field_selector,
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

    # ------------------------------------------------------------------ subclass hooks
    async def sync(self, key: str) -> None:
        raise NotImplementedError

    async def before_workers(self) -> None:
        """Called by `start` once the caches are synced, before the workers run (nothing by
        default). A component that must not serve before it has seen everything (a first full
        table, a first configuration) does that here, e.g. with `sync_queued`."""

    async def sync_queued(self) -> None:
        """Sync every key queued right now, one after another in this task, as a worker would
        (a failure is queued again with backoff, not raised)."""
        while len(self.queue):
            await self._process(await self.queue.get())

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the informers, wait until their caches are synced, run `before_workers`, then
        start the workers."""
        if self._running:
            return
        self._running = True
        for recorder in self._own_recorders:
            await recorder.start()
        for informer in self.informers:
            informer.start()
        for informer in self.informers:
            await informer.wait_for_sync()
        await self.before_workers()
        self._tasks += [
            asyncio.create_task(self._work(), name=f"{self.name} worker {index}") for index in range(self.workers)
        ]

    async def stop(self) -> None:
        """Cancel the workers (and any task a subclass added to `_tasks`) and let the informers
        go; idempotent."""
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
                await self.client.informers.release(informer)  # stops a private one
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
            await self._process(key)

    async def _process(self, key: str) -> None:
        try:
            await self.sync(key)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.info("%s: sync %r failed (retrying): %r", self.name, key, err)
            self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
        finally:
            self.queue.done(key)
