"""HollowNodePool: many simulated nodes in one process (KWOK-style) — N NodeAgents, each with its
own HollowRuntime, sharing one pod informer and one set of pod workers (dispatching by
spec.nodeName), so a node costs a heartbeat task and its pods' state, not a watch; and one hollow
local-path provisioner for all of them (PVs without directories, so claims of the default class bind).

Must not contain kubelet logic: it only builds and starts the agents.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from kubelite.client.client import Client
from kubelite.client.clock import Clock, RealClock
from kubelite.client.eventcorrelator import EventCorrelator
from kubelite.kubelet.agent import NodeAgent
from kubelite.kubelet.localpath import LocalPathProvisioner
from kubelite.kubelet.options import KubeletOptions, node_pod_cidr
from kubelite.kubelet.workers import PodWorkers
from kubelite.runtime.hollow import HollowRuntime

START_CONCURRENCY = 32  # nodes registering at once


class HollowNodePool:
    def __init__(
        self,
        client: Client,
        count: int,
        name_prefix: str = "hollow-node-",
        options: KubeletOptions | None = None,
        clock: Clock | None = None,
        *,
        capacity: dict[str, str] | None = None,
        first_index: int = 0,
    ):
        """Nodes are named <name_prefix><i> for i in [first_index, first_index+count); node i
        gets node_index i (its pod CIDR and IP). Pools beyond 256 nodes need a wider
        options.cluster_cidr (or a narrower node_cidr_mask)."""
        self.client = client
        self.options = options or KubeletOptions(kubelet_port=0)  # hollow nodes serve no kubelet API
        self.clock = clock or RealClock()
        if count > 0 and not self.options.pod_cidr:
            node_pod_cidr(self.options.cluster_cidr, self.options.node_cidr_mask, first_index + count - 1)
        self.workers = PodWorkers(client, self.clock, workers=self.options.pod_workers, name="hollow pool")
        self.agents: list[NodeAgent] = []
        events = EventCorrelator()  # one for all: the kubelets' event caches stay bounded however many nodes
        for index in range(first_index, first_index + count):
            node_options = dataclasses.replace(self.options, node_index=index)
            runtime = HollowRuntime(capacity=capacity, time_source=self.clock)
            self.agents.append(
                NodeAgent(client, f"{name_prefix}{index}", runtime, node_options, self.clock, pod_workers=self.workers, event_correlator=events)
            )
        self.provisioner = LocalPathProvisioner(
            client, frozenset(self.node_names), Path("/var/lib/kubelite/storage"), self.clock, hollow=True
        )
        self._started = False

    @property
    def node_names(self) -> list[str]:
        return [agent.node_name for agent in self.agents]

    async def start(self) -> None:
        """Start the shared pod watch, then register every node (a bounded number at once)."""
        if self._started:
            return
        self._started = True
        await self.workers.start()
        gate = asyncio.Semaphore(START_CONCURRENCY)

        async def start_one(agent: NodeAgent) -> None:
            async with gate:
                await agent.start()

        await asyncio.gather(*(start_one(agent) for agent in self.agents))
        await self.provisioner.start()

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.provisioner.stop()
        await asyncio.gather(*(agent.stop() for agent in self.agents))
        await self.workers.stop()
