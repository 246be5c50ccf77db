"""The scheduler component against a real in-process registry, in fake time: binding, failure
reporting (condition and event), cordons and taints, requeue on node updates, preemption."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client
from kubelite.client.clock import FakeClock
from kubelite.scheduler.scheduler import SchedulerComponent
from tests.registry.registry_harness import start_registry

Obj = dict[str, Any]


def node(name: str, cpu: str = "4", memory: str = "8Gi", pods: str = "110", **spec: Any) -> Obj:
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": spec,
        "status": {"allocatable": allocatable, "capacity": allocatable},
    }


def pod(name: str, cpu: str = "100m", priority: int | None = None, **spec: Any) -> Obj:
    body: Obj = {
        "containers": [{"name": "c", "image": "pause", "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}],
        "terminationGracePeriodSeconds": 0,
        **spec,
    }
    if priority is not None:
        body["priority"] = priority
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": body}


class Env:
    def __init__(self, client: Client, clock: FakeClock, scheduler: SchedulerComponent):
        self.client = client
        self.clock = clock
        self.scheduler = scheduler
        self.pods = client.resource("", "v1", "pods").namespace("default")
        self.nodes = client.resource("", "v1", "nodes")
        self.events = client.resource("", "v1", "events").namespace("default")

    async def add_node(self, obj: Obj) -> None:
        created = await self.nodes.create(obj)
        if not (created.get("status") or {}).get("allocatable"):
            created["status"] = obj["status"]
            await self.nodes.update_status(created)

    async def until(self, check: Any, what: str, timeout: float = 10.0) -> Any:
        """Poll `check` (async), moving fake time a second per round so backoffs run out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = await check()
            if found:
                return found
            if loop.time() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            self.clock.advance(1.0)
            await asyncio.sleep(0.01)

    async def bound_to(self, name: str) -> str:
        async def check() -> str:
            return str((await self.pods.get(name))["spec"].get("nodeName") or "")

        return str(await self.until(check, f"{name} bound"))

    async def failed_event(self, name: str) -> Obj:
        async def check() -> Obj | None:
            items = (await self.events.list())["items"]
            found = [e for e in items if e["involvedObject"]["name"] == name and e["reason"] == "FailedScheduling"]
            return found[-1] if found else None

        found: Obj = await self.until(check, f"FailedScheduling for {name}")
        return found

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0.01)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    registry = await start_registry()
    clock = FakeClock()
    client = Client(InProcessTransport(registry))
    scheduler = SchedulerComponent(client, clock=clock, rng=random.Random(0))
    await scheduler.start()
    try:
        yield Env(client, clock, scheduler)
    finally:
        await scheduler.stop()
        await scheduler.stop()  # idempotent
        await asyncio.wait_for(registry.stop(), 5)


async def test_pods_are_bound_to_fitting_nodes(env: Env) -> None:
    await env.add_node(node("small", cpu="1"))
    await env.add_node(node("big", cpu="8"))
    await env.pods.create(pod("a", cpu="2"))
    await env.pods.create(pod("b", cpu="500m"))
    assert await env.bound_to("a") == "big"
    assert await env.bound_to("b") in ("small", "big")
    scheduled = (await env.pods.get("a"))["status"]["conditions"]
    assert any(c["type"] == "PodScheduled" and c["status"] == "True" for c in scheduled)

    async def scheduled_event() -> bool:
        items = (await env.events.list())["items"]
        return any(
            e["reason"] == "Scheduled"
            and e["type"] == "Normal"
            and e["message"] == "Successfully assigned default/a to big"
            and e["source"]["component"] == "default-scheduler"
            for e in items
        )

    await env.until(scheduled_event, "Scheduled event")


async def test_pods_for_another_scheduler_are_left_alone(env: Env) -> None:
    await env.add_node(node("n1"))
    await env.pods.create(pod("mine"))
    await env.pods.create(pod("theirs", schedulerName="other-scheduler"))
    assert await env.bound_to("mine") == "n1"
    await env.settle()
    assert not (await env.pods.get("theirs"))["spec"].get("nodeName")


async def test_unplaceable_pod_stays_pending_with_reason(env: Env) -> None:
    await env.add_node(node("n1", cpu="1"))
    await env.add_node(node("n2", cpu="1"))
    await env.pods.create(pod("huge", cpu="4"))
    event = await env.failed_event("huge")
    expected = (
        "0/2 nodes are available: 2 Insufficient cpu. "
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."
    )  # the request exceeds what either node can ever offer; upstream doubles the final period
    assert event["type"] == "Warning"
    assert event["message"] == expected
    assert event["source"]["component"] == "default-scheduler"

    async def condition() -> Obj | None:
        got = await env.pods.get("huge")
        found = [c for c in got["status"].get("conditions") or [] if c["type"] == "PodScheduled"]
        return found[0] if found else None

    cond = await env.until(condition, "PodScheduled condition")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", expected)
    assert not (await env.pods.get("huge"))["spec"].get("nodeName")


async def test_cordon_and_taints_are_respected_and_uncordon_requeues(env: Env) -> None:
    await env.add_node(node("cordoned", unschedulable=True))
    await env.add_node(
        node("tainted", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    )
    await env.pods.create(pod("waiting"))
    event = await env.failed_event("waiting")
    assert event["message"].startswith(
        "0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, "
        "1 node(s) were unschedulable."
    )
    await env.pods.create(
        pod("tolerant", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}])
    )
    assert await env.bound_to("tolerant") == "tainted"
    assert env.scheduler.queue.pending()["unschedulable"] == ["default/waiting"]

    cordoned = await env.nodes.get("cordoned")
    cordoned["spec"]["unschedulable"] = False
    await env.nodes.update(cordoned)
    assert await env.bound_to("waiting") == "cordoned"


async def test_new_node_lets_pending_pod_schedule(env: Env) -> None:
    await env.add_node(node("tiny", cpu="100m"))
    await env.pods.create(pod("p", cpu="1"))
    await env.failed_event("p")
    await env.add_node(node("roomy", cpu="2"))
    assert await env.bound_to("p") == "roomy"


async def test_higher_priority_pod_preempts_lower(env: Env) -> None:
    await env.add_node(node("only", cpu="1"))
    await env.pods.create(pod("low", cpu="800m", priority=10))
    assert await env.bound_to("low") == "only"
    await env.pods.create(pod("high", cpu="800m", priority=1000))

    async def victim_gone() -> bool:
        names = [p["metadata"]["name"] for p in (await env.pods.list())["items"]]
        return "low" not in names

    async def nominated() -> str:
        return str((await env.pods.get("high")).get("status", {}).get("nominatedNodeName") or "")

    await env.until(victim_gone, "victim deleted")
    assert await env.bound_to("high") == "only"
    assert await nominated() == "only"
    event = await env.failed_event("high")
    assert event["message"].startswith("0/1 nodes are available: 1 Insufficient cpu.")


async def test_lower_priority_pod_does_not_preempt(env: Env) -> None:
    await env.add_node(node("only", cpu="1"))
    await env.pods.create(pod("high", cpu="800m", priority=1000))
    assert await env.bound_to("high") == "only"
    await env.pods.create(pod("low", cpu="800m", priority=10))
    event = await env.failed_event("low")
    assert "No preemption victims found for incoming pod" in event["message"]
    assert (await env.pods.get("high"))["spec"]["nodeName"] == "only"
