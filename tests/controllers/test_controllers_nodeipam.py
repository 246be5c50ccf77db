"""Node IPAM against a real in-process registry: nodes without a podCIDR get distinct subnets of
the cluster CIDR, set ones are kept and marked used (overlaps and out-of-range ones too), a
deleted node's subnet goes back to the pool (round-robin, not at once), and a full pool records
CIDRNotAvailable until a subnet is freed."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.client.client import ResourceClient
from kubelite.controllers.nodeipam import NodeIPAMController, SubnetSpace, node_pod_cidrs
from tests.controllers.controllers_harness import ControllerCluster
from tests.registry.registry_harness import eventually

Obj = dict[str, Any]


def nodes(cluster: ControllerCluster) -> ResourceClient:
    return cluster.client.resource("", "v1", "nodes")


async def add_node(cluster: ControllerCluster, name: str, cidr: str = "") -> None:
    spec = {"podCIDR": cidr, "podCIDRs": [cidr]} if cidr else {}
    await nodes(cluster).create({"metadata": {"name": name}, "spec": spec})


async def cidr_of(cluster: ControllerCluster, name: str) -> str:
    node = await nodes(cluster).get(name)
    return str((node.get("spec") or {}).get("podCIDR") or "")


async def cidrs_when_set(cluster: ControllerCluster, *names: str) -> dict[str, str]:
    async def all_set() -> bool:
        return all([await cidr_of(cluster, name) for name in names])

    await eventually(all_set, what=f"podCIDRs of {names}")
    found = {name: await cidr_of(cluster, name) for name in names}
    for name in names:
        node = await nodes(cluster).get(name)
        assert node["spec"]["podCIDRs"] == [found[name]]
    return found


def test_subnet_space_numbers_and_overlaps() -> None:
    space = SubnetSpace("10.42.0.0/16", 24)
    assert space.count == 256 and space.subnet(0) == "10.42.0.0/24" and space.subnet(255) == "10.42.255.0/24"
    assert list(space.covered("10.42.7.0/24")) == [7]
    assert list(space.covered("10.42.7.128/26")) == [7]  # a smaller CIDR blocks the subnet holding it
    assert list(space.covered("10.42.4.0/22")) == [4, 5, 6, 7]
    assert list(space.covered("10.0.0.0/8")) == list(range(256))
    assert list(space.covered("10.244.3.0/24")) == [] and list(space.covered("not-a-cidr")) == []
    with pytest.raises(ValueError):
        SubnetSpace("10.42.0.0/16", 8)


async def test_nodes_get_distinct_subnets_and_set_ones_are_kept(cluster: ControllerCluster) -> None:
    await add_node(cluster, "kept", "10.42.0.0/24")
    await add_node(cluster, "outside", "10.244.9.0/24")
    await add_node(cluster, "wide", "10.42.2.0/23")
    await cluster.run(NodeIPAMController(cluster.client))
    for name in ("a", "b", "c"):
        await add_node(cluster, name)
    found = await cidrs_when_set(cluster, "a", "b", "c")
    assert sorted(found.values()) == ["10.42.1.0/24", "10.42.4.0/24", "10.42.5.0/24"]
    assert await cidr_of(cluster, "kept") == "10.42.0.0/24"
    assert await cidr_of(cluster, "outside") == "10.244.9.0/24"
    assert await cidr_of(cluster, "wide") == "10.42.2.0/23"


async def test_the_service_cidr_is_never_handed_out(cluster: ControllerCluster) -> None:
    await cluster.run(NodeIPAMController(cluster.client, cluster_cidr="10.40.0.0/14", node_mask=16, service_cidr="10.40.0.0/16"))
    await add_node(cluster, "first")
    assert (await cidrs_when_set(cluster, "first"))["first"] == "10.41.0.0/16"


async def test_a_deleted_nodes_subnet_returns_round_robin(cluster: ControllerCluster) -> None:
    await cluster.run(NodeIPAMController(cluster.client, cluster_cidr="10.250.0.0/22", node_mask=24))
    for name in ("n0", "n1"):
        await add_node(cluster, name)
    first = await cidrs_when_set(cluster, "n0", "n1")
    assert sorted(first.values()) == ["10.250.0.0/24", "10.250.1.0/24"]
    freed = first["n0"]
    await nodes(cluster).delete("n0")
    await add_node(cluster, "n2")
    again = await cidrs_when_set(cluster, "n2")
    assert again["n2"] == "10.250.2.0/24"  # the next candidate, not the one just freed
    await add_node(cluster, "n3")
    assert (await cidrs_when_set(cluster, "n3"))["n3"] == "10.250.3.0/24"
    await add_node(cluster, "n4")
    assert (await cidrs_when_set(cluster, "n4"))["n4"] == freed  # wrapped round to the freed one


async def test_a_full_pool_records_cidr_not_available_until_a_subnet_is_freed(cluster: ControllerCluster) -> None:
    await cluster.run(NodeIPAMController(cluster.client, cluster_cidr="10.251.0.0/23", node_mask=24))
    for name in ("full0", "full1"):
        await add_node(cluster, name)
    await cidrs_when_set(cluster, "full0", "full1")
    await add_node(cluster, "late")
    events = cluster.client.resource("", "v1", "events").namespace("default")

    async def event_recorded() -> bool:
        items = (await events.list())["items"]
        return any(e.get("reason") == "CIDRNotAvailable" and e["involvedObject"]["name"] == "late" for e in items)

    await eventually(event_recorded, what="a CIDRNotAvailable event")
    event = next(e for e in (await events.list())["items"] if e.get("reason") == "CIDRNotAvailable")
    assert event["type"] == "Warning" and event["message"] == "Node late status is now: CIDRNotAvailable"
    assert event["involvedObject"]["kind"] == "Node" and event["source"]["component"] == "cidrAllocator"
    assert await cidr_of(cluster, "late") == ""
    freed = await cidr_of(cluster, "full1")
    await nodes(cluster).delete("full1")
    assert (await cidrs_when_set(cluster, "late"))["late"] == freed


async def test_a_restarted_controller_never_reuses_a_set_subnet(cluster: ControllerCluster) -> None:
    controller = await cluster.run(NodeIPAMController(cluster.client, cluster_cidr="10.252.0.0/22", node_mask=24))
    await add_node(cluster, "r0")
    first = (await cidrs_when_set(cluster, "r0"))["r0"]
    await controller.stop()
    cluster.controllers.clear()
    await cluster.run(NodeIPAMController(cluster.client, cluster_cidr="10.252.0.0/22", node_mask=24))
    await add_node(cluster, "r1")
    second = (await cidrs_when_set(cluster, "r1"))["r1"]
    assert second != first
    assert node_pod_cidrs({"spec": {"podCIDR": first}}) == [first]
