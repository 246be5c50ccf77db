"""Where a kubelet's pod CIDR comes from, against a real in-process registry: a real node given
none waits (not Ready, no pod CIDR for the runtime) until node IPAM sets spec.podCIDR; nodes that
choose their own (hollow nodes) carry it in the create, so node IPAM running next to them never
hands out theirs nor fights them for it."""

from __future__ import annotations

import asyncio

from kubelite.client.client import Client
from kubelite.client.clock import FakeClock
from kubelite.controllers.nodeipam import NodeIPAMController
from kubelite.kubelet.agent import NodeAgent
from kubelite.kubelet.options import KubeletOptions
from kubelite.kubelet.pool import HollowNodePool
from kubelite.runtime.hollow import HollowRuntime
from tests.kubelet.kubelet_harness import condition


class RecordingRuntime(HollowRuntime):
    def __init__(self, clock: FakeClock):
        super().__init__(time_source=clock)
        self.cidrs: list[str] = []

    async def update_pod_cidr(self, cidr: str) -> None:
        self.cidrs.append(cidr)
        await super().update_pod_cidr(cidr)


async def test_a_node_without_a_pod_cidr_waits_for_node_ipam(client: Client) -> None:
    clock = FakeClock()
    runtime = RecordingRuntime(clock)
    agent = NodeAgent(client, "waiting", runtime, KubeletOptions(node_index=9), clock)
    agent.node.pod_cidr_from_ipam = True
    nodes = client.resource("", "v1", "nodes")
    starting = asyncio.create_task(agent.start())
    try:
        for _ in range(200):
            await asyncio.sleep(0.01)
            clock.advance(0.5)
            if (await nodes.list())["items"]:
                break
        for _ in range(5):  # it keeps polling without choosing a CIDR itself
            clock.advance(0.5)
            await asyncio.sleep(0.02)
        node = await nodes.get("waiting")
        assert not starting.done() and runtime.cidrs == []
        assert not (node.get("spec") or {}).get("podCIDR") and condition(node, "Ready") is None
        await nodes.patch("waiting", {"spec": {"podCIDR": "10.42.200.0/24", "podCIDRs": ["10.42.200.0/24"]}})
        for _ in range(200):
            if starting.done():
                break
            clock.advance(0.5)
            await asyncio.sleep(0.01)
        await starting
        assert runtime.cidrs == ["10.42.200.0/24"] and agent.node.pod_cidr == "10.42.200.0/24"
        assert condition(await nodes.get("waiting"), "Ready")["status"] == "True"  # type: ignore[index]
    finally:
        starting.cancel()
        await agent.stop()


async def test_hollow_nodes_keep_their_own_cidrs_next_to_node_ipam(client: Client) -> None:
    ipam = NodeIPAMController(client)
    await ipam.start()
    pool = HollowNodePool(client, 6)
    try:
        await pool.start()
        nodes = client.resource("", "v1", "nodes")
        await nodes.create({"metadata": {"name": "by-hand"}})
        for _ in range(250):
            cidr = ((await nodes.get("by-hand")).get("spec") or {}).get("podCIDR")
            if cidr:
                break
            await asyncio.sleep(0.02)
        items = {n["metadata"]["name"]: n["spec"]["podCIDR"] for n in (await nodes.list())["items"]}
        assert {items[f"hollow-node-{i}"] for i in range(6)} == {f"10.42.{i}.0/24" for i in range(6)}
        assert items["by-hand"] == "10.42.6.0/24"
    finally:
        await pool.stop()
        await ipam.stop()
