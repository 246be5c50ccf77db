"""The Pulled event's figures come from the runtime (PullReporter): "in <the pull> (<the pull and
the wait before it> including waiting)", not the whole container start; a runtime that reports
nothing still gets the start's time for both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubelite.client.client import Client
from kubelite.client.clock import FakeClock
from kubelite.kubelet.agent import NodeAgent
from kubelite.kubelet.options import KubeletOptions
from kubelite.runtime.base import ContainerStatus, PullReporter
from kubelite.runtime.hollow import HollowRuntime
from tests.kubelet.kubelet_harness import eventually, pod

Obj = dict[str, Any]
NODE = "node-p"


@dataclass(frozen=True)
class _Image:
    size: int


class _Images:
    def __init__(self) -> None:
        self.held: dict[str, _Image] = {}

    def get(self, ref: str) -> _Image | None:
        return self.held.get(ref)


class PullingRuntime(HollowRuntime):
    """Each start of a missing image waits 0.5 s (fake time), pulls for 1.5 s, reports the pull
    when `reports`, then takes 0.5 s more to create the container."""

    def __init__(self, clock: FakeClock, reports: bool) -> None:
        super().__init__(time_source=clock)
        self.clock = clock
        self.images = _Images()
        self.reports = reports
        self.listeners: list[Callable[[str, str, float], None]] = []

    def on_image_pulled(self, listener: Callable[[str, str, float], None]) -> None:
        self.listeners.append(listener)

    async def start_container(self, pod: Obj, container: Obj) -> ContainerStatus:
        image = str(container["image"])
        if image not in self.images.held:
            self.clock.advance(2.0)  # 0.5 s waiting for the puller, 1.5 s pulling
            self.images.held[image] = _Image(777)
            if self.reports:
                for listener in self.listeners:
                    listener(str(pod["metadata"]["uid"]), str(container["name"]), 1.5)
            self.clock.advance(0.5)  # creating the container
        return await super().start_container(pod, container)


async def pulled_message(client: Client, reports: bool) -> str:
    clock = FakeClock()
    runtime = PullingRuntime(clock, reports)
    assert isinstance(runtime, PullReporter)
    agent = NodeAgent(client, NODE, runtime, KubeletOptions(node_index=12), clock)
    await agent.start()
    try:
        await client.resource("", "v1", "pods").namespace("default").create(pod("fetch", node=NODE, containers=[{"name": "app", "image": "remote:1"}]))
        found: list[str] = []

        async def pulled() -> bool:
            await agent.recorder.flush()
            events = (await client.resource("", "v1", "events").namespace("default").list())["items"]
            found[:] = [e["message"] for e in events if e["reason"] == "Pulled" and e["involvedObject"]["name"] == "fetch"]
            return bool(found)

        await eventually(pulled, what="the Pulled event")
        assert not agent.pods._pulls  # nothing left over once reported
        return found[0]
    finally:
        await agent.stop()


async def test_the_pulled_event_tells_the_runtime_s_pull_time(client: Client) -> None:
    message = await pulled_message(client, reports=True)
    assert message == 'Successfully pulled image "remote:1" in 1.5s (2s including waiting). Image size: 777 bytes.'


async def test_without_a_report_the_whole_start_is_the_figure(client: Client) -> None:
    message = await pulled_message(client, reports=False)
    assert message == 'Successfully pulled image "remote:1" in 2.5s (2.5s including waiting). Image size: 777 bytes.'
