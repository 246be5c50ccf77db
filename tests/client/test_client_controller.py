"""The generic controller loop: keys from informer handlers reach `sync`, a failed sync is retried
with backoff (in fake time) and forgotten once it succeeds, `before_workers` sees the synced
caches and can sync what they queued before any worker runs, a filtered informer stays private
on a client with SharedInformers, and stop lets everything go (twice is fine)."""

from __future__ import annotations

import asyncio

from kubelite.client.client import Client
from kubelite.client.clock import Clock, FakeClock
from kubelite.client.controller import Controller
from kubelite.client.sharedinformers import SharedInformers
from kubelite.controllers.base import Controller as ControllerFromControllers
from tests.client.client_harness import Cluster, configmap, eventually


class ConfigMapWatcher(Controller):
    """Syncs config maps; `failures[key]` syncs of a key fail before one succeeds."""

    def __init__(self, client: Client, clock: Clock | None = None, *, field_selector: str = "", drain_first: bool = False):
        super().__init__(client, name="watcher", workers=2, clock=clock)
        self.configmaps = self.informer("", "v1", "configmaps", field_selector=field_selector)
        self.configmaps.add_handler(self.enqueue, lambda _old, new: self.enqueue(new), self.enqueue)
        self.drain_first = drain_first
        self.failures: dict[str, int] = {}
        self.synced: list[str] = []
        self.attempts: list[str] = []
        self.before: list[tuple[list[str], int, list[str]]] = []  # (cached names, queued keys, synced so far)

    async def sync(self, key: str) -> None:
        self.attempts.append(key)
        if self.failures.get(key, 0) > 0:
            self.failures[key] -= 1
            raise RuntimeError(f"{key} not yet")
        self.synced.append(key)

    async def before_workers(self) -> None:
        names = sorted(obj["metadata"]["name"] for obj in self.configmaps.cache.list())
        self.before.append((names, len(self.queue), list(self.synced)))
        if self.drain_first:
            await self.sync_queued()


async def test_failed_syncs_are_retried_with_backoff_then_forgotten(inprocess_cluster: Cluster) -> None:
    cluster = inprocess_cluster
    clock = FakeClock()
    watcher = ConfigMapWatcher(cluster.client, clock)
    key = f"{cluster.namespace}/flaky"
    watcher.failures[key] = 3
    await watcher.start()
    try:
        await cluster.client.resource("", "v1", "configmaps").namespace(cluster.namespace).create(configmap("flaky"))
        await eventually(lambda: watcher.attempts.count(key) == 1, what="first attempt")
        await asyncio.sleep(0.05)
        assert watcher.attempts.count(key) == 1, "no retry before its backoff is due"
        assert watcher.queue.num_requeues(key) == 1
        for attempt in (2, 3, 4):
            clock.advance(1.0)  # past each per-item delay (5 ms, 10 ms, 20 ms)
            await eventually(lambda n=attempt: watcher.attempts.count(key) == n, what=f"attempt {attempt}")
        await eventually(lambda: key in watcher.synced, what="success")
        assert watcher.queue.num_requeues(key) == 0, "a success forgets the failures"
    finally:
        await watcher.stop()


async def test_before_workers_sees_the_synced_caches_and_can_sync_what_they_queued(inprocess_cluster: Cluster) -> None:
    cluster = inprocess_cluster
    configmaps = cluster.client.resource("", "v1", "configmaps").namespace(cluster.namespace)
    for name in ("a", "b"):
        await configmaps.create(configmap(name))
    keys = sorted(f"{cluster.namespace}/{name}" for name in ("a", "b"))

    waiting = ConfigMapWatcher(cluster.client, field_selector=f"metadata.namespace={cluster.namespace}")
    await waiting.start()
    try:
        assert waiting.before == [(["a", "b"], 2, [])], "hook after the caches synced, before any worker"
        await eventually(lambda: sorted(waiting.synced) == keys, what="workers sync the listed keys")
    finally:
        await waiting.stop()

    draining = ConfigMapWatcher(cluster.client, field_selector=f"metadata.namespace={cluster.namespace}", drain_first=True)
    draining.failures[keys[0]] = 1
    await draining.start()
    try:
        assert draining.synced == [keys[1]] and draining.attempts == keys, "both synced in the hook, one failed"
        assert len(draining.queue) == 0 and draining.queue.num_requeues(keys[0]) == 1, "the failure waits for its retry"
        await eventually(lambda: sorted(draining.synced) == keys, what="the failed key retried by a worker")
    finally:
        await draining.stop()


async def test_a_filtered_informer_is_private_and_stop_lets_every_informer_go(inprocess_cluster: Cluster) -> None:
    cluster = inprocess_cluster
    configmaps = cluster.client.resource("", "v1", "configmaps").namespace(cluster.namespace)
    await configmaps.create(configmap("mine"))
    cluster.client.informers = shared = SharedInformers(cluster.client)
    try:
        unfiltered = ConfigMapWatcher(cluster.client)
        filtered = ConfigMapWatcher(cluster.client, field_selector=f"metadata.name=mine,metadata.namespace={cluster.namespace}")
        assert len(shared) == 1 and filtered.configmaps is not unfiltered.configmaps
        await unfiltered.start()
        await filtered.start()
        assert [o["metadata"]["name"] for o in filtered.configmaps.cache.list()] == ["mine"]
        assert running("informer ") == ["informer shared/configmaps", "informer watcher/configmaps"]
        assert running("watcher worker") == ["watcher worker 0"] * 2 + ["watcher worker 1"] * 2
        await filtered.stop()
        assert running("informer ") == ["informer shared/configmaps"], "the private one stopped, the shared one goes on"
        assert len(shared) == 1 and running("watcher worker") == ["watcher worker 0", "watcher worker 1"]
        await unfiltered.stop()
        await unfiltered.stop()  # idempotent
        assert len(shared) == 0 and running("informer ") == running("watcher worker") == []
    finally:
        cluster.client.informers = None


def running(prefix: str) -> list[str]:
    """The names of this loop's unfinished tasks that start with `prefix`, sorted."""
    return sorted(name for task in asyncio.all_tasks() if not task.done() and (name := task.get_name()).startswith(prefix))


def test_controllers_import_the_same_loop() -> None:
    assert ControllerFromControllers is Controller
