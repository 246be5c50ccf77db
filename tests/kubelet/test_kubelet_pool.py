"""A HollowNodePool: many hollow nodes on one shared pod watch register, report Ready and run
the pods bound to them (timings printed, never asserted)."""

from __future__ import annotations

import asyncio
import ipaddress
import time

import pytest

from kubelite.client.client import Client
from kubelite.client.clock import FakeClock
from kubelite.kubelet.options import KubeletOptions
from kubelite.kubelet.pool import HollowNodePool
from tests.kubelet.kubelet_harness import condition, eventually, pod

NODES = 100
PODS = 1000


async def test_pools_beyond_the_cluster_cidr_are_refused(client: Client) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        HollowNodePool(client, 300)
    wide = KubeletOptions(cluster_cidr="10.0.0.0/8")
    assert len(HollowNodePool(client, 300, options=wide).agents) == 300


async def test_pool_of_100_nodes_runs_1000_pods(client: Client) -> None:
    clock = FakeClock()
    pool = HollowNodePool(client, NODES, options=KubeletOptions(pod_workers=16), clock=clock)
    started = time.perf_counter()
    await pool.start()
    registered = time.perf_counter()
    try:
        nodes = (await client.resource("", "v1", "nodes").list())["items"]
        assert sorted(n["metadata"]["name"] for n in nodes) == sorted(pool.node_names)
        assert all((condition(n, "Ready") or {}).get("status") == "True" for n in nodes)
        cidrs = {n["metadata"]["name"]: ipaddress.ip_network(n["spec"]["podCIDR"]) for n in nodes}
        assert len(set(cidrs.values())) == NODES

        pods = client.resource("", "v1", "pods").namespace("default")
        created = time.perf_counter()
        await asyncio.gather(*(pods.create(pod(f"p{i}", node=f"hollow-node-{i % NODES}")) for i in range(PODS)))

        async def all_running() -> bool:
            items = (await pods.list(field_selector="status.phase=Running"))["items"]
            return len(items) == PODS

        await eventually(all_running, timeout=120, what="all pods Running")
        finished = time.perf_counter()
        items = (await pods.list())["items"]
        for item in items:
            assert ipaddress.ip_address(item["status"]["podIP"]) in cidrs[item["spec"]["nodeName"]]
        assert len({item["status"]["podIP"] for item in items}) == PODS
        print(
            f"\n{NODES} hollow nodes registered in {registered - started:.2f}s; "
            f"{PODS} pods created and Running in {finished - created:.2f}s"
        )
    finally:
        await pool.stop()
