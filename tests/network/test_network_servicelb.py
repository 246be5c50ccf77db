"""The ServiceLB status writer against a real in-process registry: LoadBalancer Services get the
Ready nodes' addresses as ingress, follow node changes, and lose it when they stop being one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client, ResourceClient
from kubelite.network.servicelb import ServiceLBController, wanted_ingress
from tests.network.network_harness import service
from tests.registry.registry_harness import eventually, start_registry

Obj = dict[str, Any]


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    registry = await start_registry()
    made = Client(InProcessTransport(registry, manager="servicelb-tests"))
    try:
        yield made
    finally:
        await made.close()
        await asyncio.wait_for(registry.stop(), 5.0)


@pytest.fixture
async def controller(client: Client) -> AsyncIterator[ServiceLBController]:
    made = ServiceLBController(client)
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


def node_status(addresses: list[tuple[str, str]], ready: bool = True) -> Obj:
    return {
        "addresses": [{"type": kind, "address": address} for kind, address in addresses],
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }


async def make_node(client: Client, name: str, addresses: list[tuple[str, str]], ready: bool = True, **labels: str) -> None:
    nodes = client.resource("", "v1", "nodes")
    created = await nodes.create({"metadata": {"name": name, "labels": labels}})
    created["status"] = node_status(addresses, ready)
    await nodes.update_status(created)


def services(client: Client) -> ResourceClient:
    return client.resource("", "v1", "services").namespace("default")


async def ingress_becomes(client: Client, name: str, ips: list[str]) -> None:
    async def check() -> bool:
        got = await services(client).get(name)
        return [entry.get("ip") for entry in got["status"].get("loadBalancer", {}).get("ingress") or []] == ips

    await eventually(check, what=f"{name} ingress {ips}")


async def test_load_balancer_gets_ready_nodes_addresses(client: Client, controller: ServiceLBController) -> None:
    await make_node(client, "n1", [("InternalIP", "10.0.0.2"), ("Hostname", "n1")])
    await make_node(client, "n2", [("InternalIP", "10.0.0.3"), ("ExternalIP", "203.0.113.3")])
    await make_node(client, "n3", [("InternalIP", "10.0.0.4")], ready=False)
    await make_node(client, "n4", [("InternalIP", "10.0.0.5")], **{"node.kubernetes.io/exclude-from-external-load-balancers": ""})
    await services(client).create(service("lb", "10.43.1.1", [{"port": 80}], type="LoadBalancer"))
    await ingress_becomes(client, "lb", ["10.0.0.2", "203.0.113.3"])
    got = await services(client).get("lb")
    assert got["status"]["loadBalancer"]["ingress"][0] == {"ip": "10.0.0.2", "ipMode": "VIP"}


async def test_ingress_follows_nodes_and_is_cleared_when_no_longer_a_load_balancer(
    client: Client, controller: ServiceLBController
) -> None:
    await make_node(client, "n1", [("InternalIP", "10.0.0.2")])
    await services(client).create(service("lb", "10.43.1.1", [{"port": 80}], type="LoadBalancer"))
    await ingress_becomes(client, "lb", ["10.0.0.2"])

    await make_node(client, "n2", [("InternalIP", "10.0.0.9")])
    await ingress_becomes(client, "lb", ["10.0.0.2", "10.0.0.9"])
    await client.resource("", "v1", "nodes").delete("n1")
    await ingress_becomes(client, "lb", ["10.0.0.9"])

    current = await services(client).get("lb")
    current["spec"]["type"] = "ClusterIP"
    for port in current["spec"]["ports"]:
        port.pop("nodePort", None)
    for field in ("allocateLoadBalancerNodePorts", "externalTrafficPolicy"):
        current["spec"].pop(field, None)
    await services(client).update(current)
    await ingress_becomes(client, "lb", [])


async def test_other_load_balancer_classes_and_plain_services_are_left_alone(
    client: Client, controller: ServiceLBController
) -> None:
    await make_node(client, "n1", [("InternalIP", "10.0.0.2")])
    await services(client).create(service("theirs", "10.43.1.2", [{"port": 80}], type="LoadBalancer", loadBalancerClass="example.com/lb"))
    await services(client).create(service("plain", "10.43.1.3", [{"port": 80}]))
    await services(client).create(service("mine", "10.43.1.4", [{"port": 80}], type="LoadBalancer"))
    await ingress_becomes(client, "mine", ["10.0.0.2"])  # the controller has caught up by now
    for name in ("theirs", "plain"):
        assert (await services(client).get(name))["status"]["loadBalancer"] == {}


def test_wanted_ingress_matches_the_service_families() -> None:
    nodes = [
        {"metadata": {"name": "a"}, "status": node_status([("InternalIP", "10.0.0.2"), ("InternalIP", "fd00::2")])},
    ]
    v4 = service("x", "10.43.0.5", [{"port": 80}], type="LoadBalancer")
    v6 = service("x", "fd00:43::5", [{"port": 80}], type="LoadBalancer", ipFamilies=["IPv6"])
    assert wanted_ingress(v4, nodes) == [{"ip": "10.0.0.2", "ipMode": "VIP"}]
    assert wanted_ingress(v6, nodes) == [{"ip": "fd00::2", "ipMode": "VIP"}]
