"""Routes between nodes: which nodes get one (pure), then the real kernel inside a scratch network
namespace of the test's own (root; `ip -n`), driven by a real in-process registry: on-link and
next-hop gateways, another owner's and the host's routes left alone, a gone node's route removed,
a route someone deleted put back, and everything this node added removed on stop."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client
from kubelite.network.commands import run_command
from kubelite.network.noderoutes import (
    ROUTE_PROTO,
    NodeRoutes,
    NodeRoutesOptions,
    read_owned,
    remove_node_routes,
    routing_facts,
    wanted_peers,
)
from tests.registry.registry_harness import eventually, start_registry

Obj = dict[str, Any]


def node(name: str, cidr: str = "", address: str = "", port: int | None = 10250) -> Obj:
    status: Obj = {}
    if address:
        status["addresses"] = [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}]
    if port is not None:
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": port}}
    spec = {"podCIDR": cidr, "podCIDRs": [cidr]} if cidr else {}
    return {"metadata": {"name": name}, "spec": spec, "status": status}


def test_routing_facts_and_the_wanted_peers() -> None:
    assert routing_facts(node("a", "10.42.1.0/24", "192.168.5.2")) == (("10.42.1.0/24",), "192.168.5.2", True)
    assert routing_facts({"metadata": {"name": "b"}, "spec": {"podCIDR": "10.42.2.0/24"}}) == (("10.42.2.0/24",), "", False)
    nodes = [
        node("me", "10.42.0.0/24", "192.168.5.1"),
        node("peer", "10.42.1.0/24", "192.168.5.2"),
        node("hollow", "10.42.2.0/24", "172.16.0.4", port=0),  # serves no pods: no route
        node("no-cidr", "", "192.168.5.3"),
        node("no-address", "10.42.4.0/24"),
        node("by-hand", "10.42.5.0/24", "192.168.5.5", port=None),  # no kubelet reports its endpoint
    ]
    assert wanted_peers(nodes, "me") == {"10.42.1.0/24": "192.168.5.2"}


# ---------------------------------------------------------------------------- the real kernel
def _ip(netns: str, *args: str) -> str:
    return subprocess.run(["ip", "-n", netns, *args], check=True, capture_output=True, text=True).stdout


def _routes(netns: str) -> dict[str, Obj]:
    found = json.loads(_ip(netns, "-j", "-4", "route", "show") or "[]")
    return {str(r["dst"]): r for r in found}


def _nft_rules(netns: str) -> str:
    done = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "table", "ip", "klroutes_keep"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else ""


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.fail("the node routes test needs root (a network namespace of its own)", pytrace=False)
    name = f"klroutes-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        _ip(name, "link", "add", "rt0", "type", "veth", "peer", "name", "rt1")
        _ip(name, "addr", "add", "10.213.250.1/24", "dev", "rt0")
        for link in ("rt0", "rt1", "lo"):
            _ip(name, "link", "set", link, "up")
        _ip(name, "route", "add", "10.99.0.0/16", "via", "10.213.250.254")  # a far network behind a router
        _ip(name, "route", "add", "10.244.200.0/24", "dev", "rt0")  # the host's own: never ours
        _ip(name, "route", "add", "10.244.203.0/24", "via", "10.213.250.9", "proto", str(ROUTE_PROTO))  # another node's
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)
    assert not Path("/var/run/netns", name).exists()


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    registry = await start_registry()
    made = Client(InProcessTransport(registry, manager="noderoutes-tests"))
    try:
        yield made
    finally:
        await made.close()
        await asyncio.wait_for(registry.stop(), 5.0)


async def add_node(client: Client, obj: Obj) -> None:
    nodes = client.resource("", "v1", "nodes")
    created = await nodes.create({"metadata": obj["metadata"], "spec": obj["spec"]})
    created["status"] = obj["status"]
    await nodes.update_status(created)


async def test_routes_follow_the_nodes_in_a_real_namespace(netns: str, client: Client, tmp_path: Path) -> None:
    async def in_netns(argv: Sequence[str], stdin: bytes | None) -> str:
        if argv[0] == "nft":
            return await run_command(["ip", "netns", "exec", netns, *argv], stdin)
        assert argv[0] == "ip", argv
        return await run_command(["ip", "-n", netns, *argv[1:]], stdin)

    for obj in (
        node("me", "10.244.199.0/24", "10.213.250.1"),
        node("near", "10.244.201.0/24", "10.213.250.2"),
        node("far", "10.244.206.0/24", "10.99.0.5"),
        node("clash", "10.244.200.0/24", "10.213.250.3"),
        node("shared", "10.244.203.0/24", "10.213.250.4"),
        node("hollow", "10.244.204.0/24", "10.213.250.5", port=0),
    ):
        await add_node(client, obj)
    state = tmp_path / "routes"
    options = NodeRoutesOptions("me", state, resync_seconds=0.3, pod_cidr="10.244.199.0/24", nft_table="klroutes_keep")
    routes = NodeRoutes(client, options, runner=in_netns)
    await routes.start()
    try:

        async def routed(cidr: str, gateway: str | None) -> bool:
            found = _routes(netns).get(cidr)
            if gateway is None:
                return found is None
            return found is not None and found.get("gateway") == gateway and found.get("protocol") == str(ROUTE_PROTO)

        await eventually(lambda: routed("10.244.201.0/24", "10.213.250.2"), what="the on-link node's route")
        await eventually(lambda: routed("10.244.206.0/24", "10.213.250.254"), what="the far node's route via its next hop")
        table = _routes(netns)
        assert table["10.244.200.0/24"].get("dev") == "rt0" and "gateway" not in table["10.244.200.0/24"]
        assert table["10.244.203.0/24"]["gateway"] == "10.213.250.9"  # another owner's route, untouched
        assert "10.244.199.0/24" not in table and "10.244.204.0/24" not in table  # itself, a hollow node
        assert read_owned(state) == {"10.244.201.0/24", "10.244.206.0/24"}

        async def kept() -> bool:  # only towards the CIDRs it routes
            return "ip saddr 10.244.199.0/24 ip daddr { 10.244.201.0/24, 10.244.206.0/24 }" in _nft_rules(netns)

        await eventually(kept, what="the keep-source rule")
        rule = _nft_rules(netns)
        assert "snat to ip saddr" in rule and "meta mark & 0x00004000 == 0x00000000" in rule

        _ip(netns, "route", "del", "10.244.206.0/24")  # someone removes it: the resync puts it back
        await eventually(lambda: routed("10.244.206.0/24", "10.213.250.254"), what="the route put back")

        await client.resource("", "v1", "nodes").delete("near")
        await eventually(lambda: routed("10.244.201.0/24", None), what="the gone node's route removed")

        async def forgotten() -> bool:
            return read_owned(state) == {"10.244.206.0/24"}

        await eventually(forgotten, what="the gone node's route forgotten")

        async def narrowed() -> bool:
            return "10.244.201.0/24" not in _nft_rules(netns) and "10.244.206.0/24" in _nft_rules(netns)

        await eventually(narrowed, what="the keep-source rule without the gone node")
    finally:
        await routes.stop()
    assert _nft_rules(netns) == ""  # the table is gone
    table = _routes(netns)
    assert "10.244.206.0/24" not in table and not state.exists()
    assert table["10.244.203.0/24"]["gateway"] == "10.213.250.9" and table["10.244.200.0/24"]["dev"] == "rt0"


async def test_remove_node_routes_deletes_only_listed_routes_of_ours(netns: str, tmp_path: Path) -> None:
    async def in_netns(argv: Sequence[str], stdin: bytes | None) -> str:
        return await run_command(["ip", "-n", netns, *argv[1:]], stdin)

    _ip(netns, "route", "add", "10.244.205.0/24", "via", "10.213.250.7", "proto", str(ROUTE_PROTO))
    state = tmp_path / "routes"
    state.write_text("10.244.205.0/24\n10.244.200.0/24\n")  # the second is the host's (not our proto)
    await remove_node_routes(state, runner=in_netns)
    table = _routes(netns)
    assert "10.244.205.0/24" not in table and "10.244.200.0/24" in table and "10.244.203.0/24" in table
    assert not state.exists()
