"""Pods bound to a NodeAgent run through the hollow runtime: Running/Ready with an IP from the
node's /24 and upstream's conditions and container statuses; graceful deletion stops and
deletes them; scripted containers complete (Succeeded / Failed) or restart with backoff."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest

from kubelite.api.errors import StatusError
from kubelite.client.client import Client
from kubelite.client.clock import FakeClock
from kubelite.kubelet.agent import NodeAgent
from kubelite.kubelet.options import KubeletOptions
from kubelite.runtime.hollow import HollowRuntime
from tests.kubelet.kubelet_harness import condition, eventually, pod

Obj = dict


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def agent(client: Client, clock: FakeClock) -> AsyncIterator[NodeAgent]:
    made = NodeAgent(client, "node-a", HollowRuntime(time_source=clock), KubeletOptions(node_index=9), clock)
    await made.start()
    yield made
    await made.stop()


async def wait_phase(client: Client, name: str, phase: str, clock: FakeClock | None = None, step: float = 0.0) -> Obj:
    pods = client.resource("", "v1", "pods").namespace("default")

    async def reached() -> bool:
        return (await pods.get(name)).get("status", {}).get("phase") == phase

    await eventually(reached, what=f"{name} {phase}", clock=clock, step=step)
    return await pods.get(name)


async def test_bound_pod_becomes_running_and_ready(client: Client, agent: NodeAgent) -> None:
    pods = client.resource("", "v1", "pods").namespace("default")
    await pods.create(pod("web", node="node-a"))
    running = await wait_phase(client, "web", "Running")

    async def ready() -> bool:
        return (condition(await pods.get("web"), "Ready") or {}).get("status") == "True"

    await eventually(ready, what="Ready")
    status = (await pods.get("web"))["status"]
    assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network("10.42.9.0/24")
    assert status["podIPs"] == [{"ip": status["podIP"]}]
    assert status["hostIP"] == agent.node.node_ip and status["hostIPs"] == [{"ip": status["hostIP"]}]
    assert status["startTime"] and status["qosClass"] == "BestEffort"
    types = [c["type"] for c in status["conditions"]]
    assert types == ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    assert all(c["status"] == "True" and c["lastTransitionTime"] for c in status["conditions"])
    [app] = status["containerStatuses"]
    assert app["name"] == "app" and app["image"] == "nginx:1.27"
    assert app["ready"] is True and app["started"] is True and app["restartCount"] == 0
    assert app["containerID"].startswith("hollow://") and app["imageID"]
    assert "startedAt" in app["state"]["running"]
    assert running["metadata"]["uid"] == (await pods.get("web"))["metadata"]["uid"]


async def test_pod_bound_through_the_binding_subresource(client: Client, agent: NodeAgent) -> None:
    pods = client.resource("", "v1", "pods").namespace("default")
    await pods.create(pod("bound"))
    await pods.create_subresource(
        "bound", "binding", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bound"}, "target": {"kind": "Node", "name": "node-a"}}
    )
    await wait_phase(client, "bound", "Running")
    other = await pods.create(pod("elsewhere", node="node-b"))
    assert other["status"]["phase"] == "Pending"
    assert (await pods.get("elsewhere"))["status"].get("podIP") is None


async def test_graceful_deletion_stops_and_deletes(client: Client, agent: NodeAgent) -> None:
    pods = client.resource("", "v1", "pods").namespace("default")
    await pods.create(pod("gone", node="node-a"))
    await wait_phase(client, "gone", "Running")
    assert agent.runtime.allocated_ips == 1  # type: ignore[attr-defined]
    await pods.delete("gone")  # graceful: 30s, the kubelet finishes it at once

    async def deleted() -> bool:
        try:
            await pods.get("gone")
        except StatusError as exc:
            return exc.code == 404
        return False

    await eventually(deleted, what="pod deleted")

    async def freed() -> bool:
        return agent.runtime.allocated_ips == 0  # type: ignore[attr-defined]

    await eventually(freed, what="IP freed")


async def test_completing_pods_succeed_or_fail(client: Client, agent: NodeAgent, clock: FakeClock) -> None:
    pods = client.resource("", "v1", "pods").namespace("default")
    job = {"name": "job", "image": "busybox", "command": ["sh", "-c", "sleep 5"]}
    bad = {"name": "job", "image": "busybox", "command": ["sh", "-c", "exit 3"]}
    await pods.create(pod("ok", node="node-a", containers=[job], restartPolicy="Never"))
    await pods.create(pod("bad", node="node-a", containers=[bad], restartPolicy="Never"))
    await wait_phase(client, "ok", "Running")
    failed = await wait_phase(client, "bad", "Failed")
    terminated = failed["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 3 and terminated["reason"] == "Error"
    assert condition(failed, "Ready")["reason"] == "PodCompleted"  # type: ignore[index]
    done = await wait_phase(client, "ok", "Succeeded", clock=clock, step=1.0)
    assert done["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0


async def test_init_containers_run_first(client: Client, agent: NodeAgent) -> None:
    pods = client.resource("", "v1", "pods").namespace("default")
    init = {"name": "setup", "image": "busybox", "command": ["prepare"]}
    await pods.create(pod("init", node="node-a", initContainers=[init]))
    running = await wait_phase(client, "init", "Running")
    [setup] = running["status"]["initContainerStatuses"]
    assert setup["state"]["terminated"]["reason"] == "Completed"
    assert condition(running, "Initialized")["status"] == "True"  # type: ignore[index]


async def test_crashing_container_restarts_with_backoff(client: Client, agent: NodeAgent, clock: FakeClock) -> None:
    pods = client.resource("", "v1", "pods").namespace("default")
    crash = {"name": "crash", "image": "busybox", "command": ["sh", "-c", "exit 1"]}
    await pods.create(pod("crash", node="node-a", containers=[crash]))

    async def backing_off() -> bool:
        statuses = (await pods.get("crash")).get("status", {}).get("containerStatuses") or []
        return bool(statuses) and statuses[0]["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff"

    await eventually(backing_off, what="CrashLoopBackOff")
    status = (await pods.get("crash"))["status"]
    entry = status["containerStatuses"][0]
    assert entry["restartCount"] == 1  # the first restart is immediate
    assert "back-off 10s restarting failed container=crash pod=crash_default(" in entry["state"]["waiting"]["message"]
    assert entry["lastState"]["terminated"]["exitCode"] == 1
    assert status["phase"] == "Running"
    clock.advance(10)

    async def restarted_again() -> bool:
        statuses = (await pods.get("crash"))["status"]["containerStatuses"]
        return int(statuses[0]["restartCount"]) >= 2

    await eventually(restarted_again, what="second restart")
