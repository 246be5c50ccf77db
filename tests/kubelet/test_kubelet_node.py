"""A NodeAgent registers its Node (labels, pod CIDR, capacity, nodeInfo, Ready), and keeps its
Lease renewed in fake time."""

from __future__ import annotations

import asyncio

from kubelite.client.client import Client
from kubelite.client.clock import FakeClock
from kubelite.kubelet.agent import NodeAgent
from kubelite.kubelet.options import KubeletOptions, node_pod_cidr
from kubelite.runtime.hollow import HollowRuntime
from tests.kubelet.kubelet_harness import condition, eventually


def test_node_pod_cidrs_by_index() -> None:
    assert node_pod_cidr("10.42.0.0/16", 24, 0) == "10.42.0.0/24"
    assert node_pod_cidr("10.42.0.0/16", 24, 7) == "10.42.7.0/24"
    assert node_pod_cidr("10.0.0.0/8", 24, 300) == "10.1.44.0/24"
    try:
        node_pod_cidr("10.42.0.0/16", 24, 256)
    except ValueError as exc:
        assert "does not fit" in str(exc)
    else:
        raise AssertionError("index 256 fits no /24 of a /16")


async def test_node_registers_ready_with_labels_cidr_and_capacity(client: Client) -> None:
    clock = FakeClock()
    agent = NodeAgent(client, "n1", HollowRuntime(time_source=clock), KubeletOptions(node_index=5), clock)
    await agent.start()
    try:
        node = await client.resource("", "v1", "nodes").get("n1")
        labels = node["metadata"]["labels"]
        assert labels["kubernetes.io/hostname"] == "n1"
        assert labels["kubernetes.io/os"] == "linux" and labels["kubernetes.io/arch"] == "amd64"
        assert node["spec"]["podCIDR"] == "10.42.5.0/24" and node["spec"]["podCIDRs"] == ["10.42.5.0/24"]
        status = node["status"]
        assert status["capacity"]["cpu"] == "4" and status["capacity"]["memory"] == "16Gi"
        assert status["capacity"]["pods"] == "110" and status["allocatable"]["pods"] == "110"
        ready = condition(node, "Ready")
        assert ready is not None
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        )
        assert [c["type"] for c in status["conditions"]] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
        assert condition(node, "MemoryPressure")["reason"] == "KubeletHasSufficientMemory"  # type: ignore[index]
        assert status["nodeInfo"]["containerRuntimeVersion"].startswith("hollow://")
        assert status["nodeInfo"]["kubeletVersion"].startswith("v1.")
        assert {"type": "Hostname", "address": "n1"} in status["addresses"]
        assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    finally:
        await agent.stop()
        await agent.stop()  # idempotent


async def test_existing_pod_cidr_is_kept(client: Client) -> None:
    nodes = client.resource("", "v1", "nodes")
    await nodes.create({"metadata": {"name": "n2"}, "spec": {"podCIDR": "10.42.77.0/24", "podCIDRs": ["10.42.77.0/24"]}})
    clock = FakeClock()
    agent = NodeAgent(client, "n2", HollowRuntime(time_source=clock), KubeletOptions(node_index=1), clock)
    await agent.start()
    try:
        node = await nodes.get("n2")
        assert node["spec"]["podCIDR"] == "10.42.77.0/24"
        assert condition(node, "Ready")["status"] == "True"  # type: ignore[index]
    finally:
        await agent.stop()


async def test_lease_is_created_owned_by_the_node_and_renewed(client: Client) -> None:
    clock = FakeClock()
    agent = NodeAgent(client, "n3", HollowRuntime(time_source=clock), KubeletOptions(node_index=3), clock)
    await agent.start()
    leases = client.resource("coordination.k8s.io", "v1", "leases").namespace("kube-node-lease")
    try:
        lease = await leases.get("n3")
        node = await client.resource("", "v1", "nodes").get("n3")
        assert lease["spec"]["holderIdentity"] == "n3"
        assert lease["spec"]["leaseDurationSeconds"] == 40
        owner = lease["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"]) == ("Node", "n3", node["metadata"]["uid"])
        first = lease["spec"]["renewTime"]
        clock.advance(9)
        await asyncio.sleep(0.05)
        assert (await leases.get("n3"))["spec"]["renewTime"] == first
        clock.advance(1)

        async def renewed() -> bool:
            return (await leases.get("n3"))["spec"]["renewTime"] != first

        await eventually(renewed, what="lease renewal")
        renewed_at = (await leases.get("n3"))["spec"]["renewTime"]
        assert renewed_at > first
    finally:
        await agent.stop()


async def test_node_status_is_rewritten_when_someone_changes_it(client: Client) -> None:
    clock = FakeClock()
    agent = NodeAgent(client, "n4", HollowRuntime(time_source=clock), KubeletOptions(node_index=4), clock)
    await agent.start()
    nodes = client.resource("", "v1", "nodes")
    try:
        node = await nodes.get("n4")
        before = condition(node, "Ready")
        conditions = [dict(c, status="Unknown", reason="NodeStatusUnknown") if c["type"] == "Ready" else c for c in node["status"]["conditions"]]
        await nodes.patch("n4", {"status": {"conditions": conditions}}, subresource="status")
        clock.advance(10)

        async def ready_again() -> bool:
            return condition(await nodes.get("n4"), "Ready")["status"] == "True"  # type: ignore[index]

        await eventually(ready_again, what="Ready again")
        after = condition(await nodes.get("n4"), "Ready")
        assert after is not None and before is not None
        assert after["reason"] == "KubeletReady"
        assert after["lastHeartbeatTime"] > before["lastHeartbeatTime"]
    finally:
        await agent.stop()
