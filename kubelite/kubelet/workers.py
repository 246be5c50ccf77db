"""Pod workers shared by any number of nodes in one process: one pod informer (all pods bound to
a node, or one node's pods), one work queue of (node, pod key) and a few worker tasks, each
running the owning node's PodSyncer. Informer events and runtime events only enqueue (and let
the syncer see a pod's shortened grace period while it stops it, as upstream's UpdatePod); a failed
sync is retried with rate-limited backoff; a sync that asks for it is requeued after a delay.
A sync never waits out a grace period: a deleting pod's termination runs as its own task (the
syncer's Terminations), so pods that take long to stop do not hold up other pods' starts.

Must not decide anything about a pod itself (PodSyncer does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kubelite.client.cache import NODE_NAME_INDEX, index_by_node_name, object_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.client.informer import Informer
from kubelite.client.workqueue import ShutDown, WorkQueue
from kubelite.kubelet.pods import PodSyncer

log = logging.getLogger(__name__)

Obj = dict[str, Any]
WorkItem = tuple[str, str]  # (node name, "namespace/name")

ALL_BOUND_PODS = "spec.nodeName!="


def node_field_selector(node_name: str) -> str:
    return f"spec.nodeName={node_name}"


class PodWorkers:
    def __init__(self, client: Client, clock: Clock, *, field_selector: str = ALL_BOUND_PODS, workers: int = 8, name: str = "kubelet"):
        self.clock = clock
        self.informer = Informer(
            client.resource("", "v1", "pods"),
            field_selector=field_selector,
            indexers={NODE_NAME_INDEX: index_by_node_name},
            clock=clock,
            name=f"{name} pods",
        )
        self.queue: WorkQueue[WorkItem] = WorkQueue(clock, name=f"{name} pods")
        self.worker_count = workers
        self.syncers: dict[str, PodSyncer] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self.informer.add_handler(self._on_pod, self._on_pod_update, self._on_pod)

    def lookup(self, key: str) -> Obj | None:
        return self.informer.cache.get(key)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.informer.start()
        await self.informer.wait_for_sync()
        self._tasks = [asyncio.create_task(self._work(), name=f"pod worker {i}") for i in range(self.worker_count)]

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self.queue.shutdown()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.informer.stop()

    # ------------------------------------------------------------------ nodes
    async def register(self, syncer: PodSyncer) -> None:
        """Route the node's pods to `syncer`; queues what the runtime holds and what is bound to it."""
        node = syncer.node_name
        self.syncers[node] = syncer
        syncer.runtime.subscribe(lambda uid: self._on_runtime_event(node, uid))
        syncer.notify = lambda uid: self._on_runtime_event(node, uid)  # probe results
        for key in await syncer.recover():
            self.queue.add((node, key))
        for key in self.informer.cache.index_keys(NODE_NAME_INDEX, node):
            self.queue.add((node, key))

    def unregister(self, node_name: str) -> None:
        self.syncers.pop(node_name, None)

    # ------------------------------------------------------------------ events (enqueue only)
    def _on_pod(self, pod: Obj) -> None:
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        syncer = self.syncers.get(node)
        if syncer is not None:
            syncer.observe(pod)  # a shortened grace period cuts a running stop short at once
            self.queue.add((node, object_key(pod)))

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        """As upstream's checkAndUpdatePod: a write that changed only the pod's status (mostly this
        kubelet's own) is no reason to sync again — runtime events, probes and the syncer's own
        requeues drive those; so ErrImagePull stays shown until the back-off ends."""
        if _beyond_status(old) != _beyond_status(new):
            self._on_pod(new)

    def _on_runtime_event(self, node: str, uid: str) -> None:
        syncer = self.syncers.get(node)
        key = syncer.key_of_uid(uid) if syncer is not None else None
        if key is not None:
            self.queue.add((node, key))

    # ------------------------------------------------------------------ workers
    async def _work(self) -> None:
        while True:
            try:
                item = await self.queue.get()
            except ShutDown:
                return
            node, key = item
            try:
                syncer = self.syncers.get(node)
                if syncer is not None:
                    again = await syncer.sync(key)
                    self.queue.forget(item)
                    if again is not None:
                        self.queue.add_after(item, again)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s: syncing pod %s failed: %s", node, key, exc)
                self.queue.add_rate_limited(item)
            finally:
                self.queue.done(item)


def _beyond_status(pod: Obj) -> tuple[Any, Any]:
    """What of a pod a sync acts on: its spec and its metadata without the bookkeeping every write
    changes."""
    meta = {k: v for k, v in (pod.get("metadata") or {}).items() if k not in ("resourceVersion", "managedFields", "generation")}
    return meta, pod.get("spec")
