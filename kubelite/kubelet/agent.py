"""NodeAgent: one node's kubelet — registers the Node (and its pod CIDR with the runtime), keeps
the Lease renewed and the node status current on one heartbeat task, and runs the node's pods
through PodWorkers (its own, watching only this node's pods, or a pool's shared ones). It owns
the node's event recorder (component "kubelet", host the node's name): "Starting kubelet." when
it starts, an event per node condition that changes, and its pods' events (pods.py).

Must not implement node, lease or pod logic itself: it only ties them together and times them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable

from kubelite.client.client import Client
from kubelite.client.clock import Clock, RealClock
from kubelite.client.eventcorrelator import EventCorrelator
from kubelite.client.events import EventRecorder
from kubelite.kubelet.events import COMPONENT, KubeletEvents
from kubelite.kubelet.lease import NodeLease
from kubelite.kubelet.node import NodeStatusManager
from kubelite.kubelet.objects import KubeletObjects
from kubelite.kubelet.options import KubeletOptions
from kubelite.kubelet.pods import PodSyncer
from kubelite.kubelet.volumes import VolumeManager
from kubelite.kubelet.workers import PodWorkers, node_field_selector
from kubelite.runtime.base import Runtime

log = logging.getLogger(__name__)


class NodeAgent:
    def __init__(
        self,
        client: Client,
        node_name: str,
        runtime: Runtime,
        options: KubeletOptions | None = None,
        clock: Clock | None = None,
        *,
        pod_workers: PodWorkers | None = None,
        objects: KubeletObjects | None = None,
        volumes: VolumeManager | None = None,
        event_correlator: EventCorrelator | None = None,
    ):
        """`pod_workers`: shared workers (already started) to run this node's pods on; without
        them the agent runs its own, watching pods with spec.nodeName=<node_name>. `objects` and
        `volumes`: a real node's env resolution and volume manager (hollow nodes have neither).
        `event_correlator`: one shared by many agents (a pool's), bounding their caches together."""
        self.client = client
        self.node_name = node_name
        self.runtime = runtime
        self.options = options or KubeletOptions()
        self.clock = clock or RealClock()
        self.recorder = EventRecorder(client, COMPONENT, host=node_name, clock=self.clock, correlator=event_correlator)
        self.events = KubeletEvents(self.recorder, node_name)
        self.node = NodeStatusManager(client, node_name, runtime, self.options, self.clock)
        self.lease = NodeLease(
            client,
            node_name,
            self.clock,
            duration_seconds=self.options.lease_duration_seconds,
            field_manager=self.options.field_manager,
        )
        self._owns_workers = pod_workers is None
        self.pod_workers = pod_workers or PodWorkers(
            client,
            self.clock,
            field_selector=node_field_selector(node_name),
            workers=self.options.pod_workers,
            name=f"kubelet {node_name}",
        )
        self.pods = PodSyncer(
            client,
            node_name,
            runtime,
            self.clock,
            lookup=self.pod_workers.lookup,
            host_ip=self.node.host_ip,
            field_manager=self.options.field_manager,
            objects=objects,
            volumes=volumes,
            allocatable=self.runtime.node_capacity,
            events=self.events,
        )
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Register the node, report it Ready, take the Lease, then start running its pods."""
        if self._heartbeat is not None:
            return
        await self.recorder.start()
        self.events.kubelet_starting()
        await self.node.register()
        await self._sync_node_status()
        await self.lease.renew(self.node.uid)
        if self._owns_workers:
            await self.pod_workers.start()
        await self.pod_workers.register(self.pods)
        self._heartbeat = asyncio.create_task(self._beat(self.clock.monotonic()), name=f"kubelet {self.node_name} heartbeat")

    async def stop(self) -> None:
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.pod_workers.unregister(self.node_name)
        if self._owns_workers:
            await self.pod_workers.stop()
        await self.pods.stop()  # its terminations in flight and its probes
        await self.recorder.stop()

    async def _sync_node_status(self) -> None:
        """Write the node's status; an event for each condition that changed since the Node as
        last read or written."""
        before = ((self.node.node or {}).get("status") or {}).get("conditions") or []
        if await self.node.sync_status():
            self.events.node_conditions_changed(before, ((self.node.node or {}).get("status") or {}).get("conditions") or [])

    async def _beat(self, started: float) -> None:
        """Renew the Lease and refresh node status, each on its own period from `started`."""
        now = started
        next_lease = now + self.options.lease_renew_interval
        next_status = now + self.options.status_update_frequency
        while True:
            await self.clock.sleep(min(next_lease, next_status) - self.clock.monotonic())
            now = self.clock.monotonic()
            if now >= next_lease:
                next_lease = now + self.options.lease_renew_interval
                await self._guarded("renewing the lease", self.lease.renew(self.node.uid))
            if now >= next_status:
                next_status = now + self.options.status_update_frequency
                await self._guarded("updating node status", self._sync_node_status())

    async def _guarded(self, what: str, step: Awaitable[object]) -> None:
        try:
            await step
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s: %s failed: %s", self.node_name, what, exc)
