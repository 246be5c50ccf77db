"""The pod status comparison that decides whether the kubelet writes: the API server drops null
fields (a condition's `lastProbeTime: null`), so a status equal but for them is not a change, and a
pod in a steady state is synced again without another status write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.client.client import Client
from kubelite.client.clock import FakeClock
from kubelite.kubelet.agent import NodeAgent
from kubelite.kubelet.options import KubeletOptions
from kubelite.kubelet.podstatus import same_status
from kubelite.runtime.hollow import HollowRuntime
from tests.kubelet.kubelet_harness import eventually, pod

Obj = dict[str, Any]


def test_null_fields_are_not_a_difference() -> None:
    computed = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": None}], "containerStatuses": [{"lastState": {}}]}
    stored = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"lastState": {}}]}
    assert same_status(computed, stored)
    assert same_status(stored, stored)


def test_real_differences_still_count() -> None:
    computed = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": None}]}
    assert not same_status(computed, {"phase": "Pending", "conditions": [{"type": "Ready", "status": "True"}]})
    assert not same_status(computed, {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]})
    assert not same_status(computed, {"phase": "Running", "conditions": []})
    assert not same_status({"phase": "Running", "containerStatuses": [{"lastState": {}}]}, {"phase": "Running", "containerStatuses": [{}]})
    assert not same_status(computed, None)


@pytest.fixture
async def agent(client: Client) -> AsyncIterator[NodeAgent]:
    clock = FakeClock()
    made = NodeAgent(client, "node-a", HollowRuntime(time_source=clock), KubeletOptions(node_index=3), clock)
    await made.start()
    yield made
    await made.stop()


async def test_a_steady_pod_is_synced_again_without_a_write(client: Client, agent: NodeAgent) -> None:
    pods = client.resource("", "v1", "pods").namespace("default")
    await pods.create(pod("steady", node="node-a"))

    async def ready() -> bool:
        status = (await pods.get("steady")).get("status") or {}
        return any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])

    await eventually(ready, what="Ready")
    syncer = agent.pods
    writes: list[Obj] = []
    original = syncer.pods.update_status

    async def counting(obj: Obj, **kwargs: Any) -> Obj:
        writes.append(obj)
        return await original(obj, **kwargs)

    syncer.pods.update_status = counting  # type: ignore[method-assign]
    stored = await pods.get("steady")
    assert all("lastProbeTime" not in c for c in stored["status"]["conditions"])  # the server dropped the nulls

    async def caught_up() -> bool:
        return (agent.pod_workers.lookup("default/steady") or {}).get("metadata", {}).get("resourceVersion") == stored["metadata"]["resourceVersion"]

    await eventually(caught_up, what="the informer has the pod as stored")
    for _ in range(3):
        assert await syncer.sync("default/steady") is None
    assert writes == []
    assert (await pods.get("steady"))["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
