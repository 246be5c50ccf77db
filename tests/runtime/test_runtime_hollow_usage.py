"""The hollow runtime's synthetic resource usage: steady per-container rates, a node that adds its
own base, only running containers counted."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.runtime.hollow import NODE_BASE_MEMORY, NODE_BASE_MILLICORES, HollowRuntime, synthetic_usage


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Any) -> Any:
        return None


def pod(name: str, uid: str, *containers: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid}, "spec": {"containers": list(containers)}}


async def test_usage_grows_at_each_containers_steady_rate() -> None:
    clock = FakeTime()
    runtime = HollowRuntime(time_source=clock)
    await runtime.update_pod_cidr("10.42.0.0/24")
    web = pod("web", "u1", {"name": "app"}, {"name": "side"})
    await runtime.run_pod_sandbox(web)
    for container in web["spec"]["containers"]:
        await runtime.start_container(web, container)
    done = pod("done", "u2", {"name": "once", "command": ["sh", "-c", "true"]})
    await runtime.run_pod_sandbox(done)
    await runtime.start_container(done, done["spec"]["containers"][0])

    first = await runtime.resource_usage()
    clock.now += 10
    second = await runtime.resource_usage()
    assert sorted((c.pod, c.name) for c in second.containers) == [("web", "app"), ("web", "side")]  # "once" exited
    for container in second.containers:
        millicores, memory = synthetic_usage("ns", "web", container.name)
        assert 10 <= millicores <= 100 and 8 * 2**20 <= memory <= 64 * 2**20
        assert container.cpu_seconds == pytest.approx(millicores / 1000 * 10)
        assert container.memory_working_set == memory
    rate = NODE_BASE_MILLICORES + sum(synthetic_usage("ns", "web", c)[0] for c in ("app", "side"))
    assert second.node_cpu_seconds - first.node_cpu_seconds == pytest.approx(rate / 1000 * 10)
    assert second.node_memory_working_set == NODE_BASE_MEMORY + sum(c.memory_working_set for c in second.containers)
    assert second.timestamp == clock.now


def test_synthetic_usage_is_fixed_per_container() -> None:
    assert synthetic_usage("a", "b", "c") == synthetic_usage("a", "b", "c")
    assert len({synthetic_usage("ns", f"p{i}", "c") for i in range(20)}) > 10
