"""Pod terminations run as tasks of their own: a pod taking its whole grace period to stop holds
no pod worker (the node runs with ONE worker here, so a blocking stop would stall every other
pod), syncs of a terminating pod do nothing, a shorter grace period still cuts the stop short, a
pod recreated under the same name starts while the old one still stops, failures are retried,
and stopping the kubelet cancels what is in flight. Plus the Terminations tracker itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.client.client import Client
from kubelite.client.clock import FakeClock
from kubelite.kubelet.agent import NodeAgent
from kubelite.kubelet.options import KubeletOptions
from kubelite.kubelet.terminations import Terminations
from kubelite.runtime.base import ContainerStatus
from kubelite.runtime.hollow import HollowRuntime
from tests.kubelet.kubelet_harness import eventually, pod

Obj = dict[str, Any]
NODE = "node-t"


class SlowStopRuntime(HollowRuntime):
    """The hollow runtime whose stop of a running pod lasts its whole grace period in fake time
    (the app ignores SIGTERM) — or, while `held` is clear, until it is set; stops are recorded
    as (pod name, grace) in `stops`, starts as (pod name, container) in `starts`; `fail_stops`
    stops raise before doing anything."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(time_source=clock)
        self.clock = clock
        self.stops: list[tuple[str, int]] = []
        self.starts: list[tuple[str, str]] = []
        self.held = asyncio.Event()
        self.held.set()
        self.fail_stops = 0

    async def start_container(self, pod: Obj, container: Obj) -> ContainerStatus:
        self.starts.append((pod["metadata"]["name"], container["name"]))
        return await super().start_container(pod, container)

    async def stop_pod(self, pod: Obj, grace_seconds: int) -> None:
        if self.fail_stops:
            self.fail_stops -= 1
            raise RuntimeError("runc kill: exit status 1")
        status = await self.pod_status(str(pod["metadata"]["uid"]))
        if status is not None and any(c.state == "running" for c in status.containers):
            self.stops.append((pod["metadata"]["name"], grace_seconds))
            await self.held.wait()
            await self.clock.sleep(grace_seconds)
        await super().stop_pod(pod, grace_seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime(clock: FakeClock) -> SlowStopRuntime:
    return SlowStopRuntime(clock)


@pytest.fixture
async def agent(client: Client, clock: FakeClock, runtime: SlowStopRuntime) -> AsyncIterator[NodeAgent]:
    made = NodeAgent(client, NODE, runtime, KubeletOptions(node_index=11, pod_workers=1), clock)
    await made.start()
    yield made
    await made.stop()


def pods_of(client: Client) -> Any:
    return client.resource("", "v1", "pods").namespace("default")


async def wait_running(client: Client, name: str) -> Obj:
    async def running() -> bool:
        return (await pods_of(client).get(name)).get("status", {}).get("phase") == "Running"

    await eventually(running, what=f"{name} Running")
    return dict(await pods_of(client).get(name))


async def wait_gone(client: Client, name: str, **kwargs: Any) -> None:
    async def gone() -> bool:
        try:
            await pods_of(client).get(name)
        except StatusError as exc:
            return exc.code == 404
        return False

    await eventually(gone, what=f"{name} deleted", **kwargs)


async def test_a_pod_starts_while_another_takes_its_grace_period(client: Client, agent: NodeAgent, clock: FakeClock, runtime: SlowStopRuntime) -> None:
    await pods_of(client).create(pod("slow", node=NODE, terminationGracePeriodSeconds=30))
    await wait_running(client, "slow")
    await pods_of(client).delete("slow")
    await eventually(lambda: _true(runtime.stops == [("slow", 30)]), what="the 30 s stop under way")

    await pods_of(client).create(pod("fresh", node=NODE))
    await wait_running(client, "fresh")  # no time passes: the stop still holds its grace period
    assert runtime.stops == [("slow", 30)] and len(agent.pods.terminations) == 1
    assert (await pods_of(client).get("slow"))["metadata"].get("deletionTimestamp")

    clock.advance(30)
    await wait_gone(client, "slow")
    await eventually(lambda: _true(len(agent.pods.terminations) == 0), what="the termination task ended")
    assert [uid for uid in agent.pods.keys] == [(await pods_of(client).get("fresh"))["metadata"]["uid"]]


async def test_syncs_of_a_terminating_pod_neither_stop_it_again_nor_restart_it(client: Client, agent: NodeAgent, clock: FakeClock, runtime: SlowStopRuntime) -> None:
    await pods_of(client).create(pod("busy", node=NODE, terminationGracePeriodSeconds=20))
    await wait_running(client, "busy")
    await pods_of(client).delete("busy")
    await eventually(lambda: _true(runtime.stops == [("busy", 20)]), what="the stop under way")
    uid = (await pods_of(client).get("busy"))["metadata"]["uid"]
    for round_ in range(3):  # as a container event or a probe result would: a sync of the pod
        agent.pods.notify(uid)
        await pods_of(client).create(pod(f"marker-{round_}", node=NODE))
        await wait_running(client, f"marker-{round_}")  # one worker: the sync queued before it is done
    assert runtime.stops == [("busy", 20)]
    assert runtime.starts == [("busy", "app"), ("marker-0", "app"), ("marker-1", "app"), ("marker-2", "app")]
    clock.advance(20)
    await wait_gone(client, "busy")
    assert runtime.starts[0] == ("busy", "app") and ("busy", "app") not in runtime.starts[1:]


async def test_a_shorter_grace_period_cuts_the_running_termination_short(client: Client, agent: NodeAgent, clock: FakeClock, runtime: SlowStopRuntime) -> None:
    await pods_of(client).create(pod("slow", node=NODE, terminationGracePeriodSeconds=60))
    await wait_running(client, "slow")
    await pods_of(client).delete("slow")
    await eventually(lambda: _true(runtime.stops == [("slow", 60)]), what="the 60 s stop")
    await pods_of(client).delete("slow", grace_period_seconds=2)
    await eventually(lambda: _true(runtime.stops == [("slow", 60), ("slow", 2)]), what="the stop restarted with 2 s")
    clock.advance(2)
    await wait_gone(client, "slow")
    assert runtime.stops == [("slow", 60), ("slow", 2)]


async def test_a_pod_recreated_under_the_same_name_is_independent(client: Client, agent: NodeAgent, clock: FakeClock, runtime: SlowStopRuntime) -> None:
    old = await pods_of(client).create(pod("same", node=NODE, terminationGracePeriodSeconds=30))
    await wait_running(client, "same")
    old_uid = old["metadata"]["uid"]
    runtime.held.clear()  # the old pod's stop hangs until released
    await pods_of(client).delete("same")
    await eventually(lambda: _true(runtime.stops == [("same", 30)]), what="the old pod's stop")
    await pods_of(client).delete("same", grace_period_seconds=0)  # forced: the API forgets it at once
    await wait_gone(client, "same")

    new = await pods_of(client).create(pod("same", node=NODE))
    running = await wait_running(client, "same")
    assert running["metadata"]["uid"] == new["metadata"]["uid"] != old_uid
    assert agent.pods.terminations.running(old_uid)  # the old one still stops, on its own

    runtime.held.set()  # its stop goes on, cut to 0 s since the pod left the API
    await eventually(lambda: _true(not agent.pods.terminations.running(old_uid)), what="the old termination ended")
    assert runtime.stops == [("same", 30), ("same", 0)]
    assert await runtime.pod_status(old_uid) is None
    new_status = await runtime.pod_status(new["metadata"]["uid"])
    assert new_status is not None and [c.state for c in new_status.containers] == ["running"]
    assert agent.pods.uids == {"default/same": new["metadata"]["uid"]}
    assert (await pods_of(client).get("same"))["metadata"]["uid"] == new["metadata"]["uid"]

    await pods_of(client).delete("same", grace_period_seconds=5)  # the new one terminates as usual
    await eventually(lambda: _true(runtime.stops[-1] == ("same", 5)), what="the new pod's stop")
    clock.advance(5)
    await wait_gone(client, "same")


async def test_a_failed_termination_is_tried_again(client: Client, agent: NodeAgent, clock: FakeClock, runtime: SlowStopRuntime) -> None:
    await pods_of(client).create(pod("flaky", node=NODE, terminationGracePeriodSeconds=3))
    await wait_running(client, "flaky")
    runtime.fail_stops = 2
    await pods_of(client).delete("flaky")
    await wait_gone(client, "flaky", clock=clock, step=0.5)
    assert runtime.fail_stops == 0 and runtime.stops == [("flaky", 3)]


async def test_stopping_the_kubelet_cancels_terminations_in_flight(client: Client, clock: FakeClock, runtime: SlowStopRuntime) -> None:
    agent = NodeAgent(client, NODE, runtime, KubeletOptions(node_index=11, pod_workers=1), clock)
    await agent.start()
    try:
        await pods_of(client).create(pod("long", node=NODE, terminationGracePeriodSeconds=600))
        await wait_running(client, "long")
        await pods_of(client).delete("long")
        await eventually(lambda: _true(runtime.stops == [("long", 600)]), what="the stop under way")
    finally:
        await agent.stop()
    assert len(agent.pods.terminations) == 0 and clock.pending == 0
    assert (await pods_of(client).get("long"))["metadata"].get("deletionTimestamp")  # a restarted kubelet finishes it


async def test_terminations_run_one_task_per_uid_until_stopped() -> None:
    terminations = Terminations()
    release = asyncio.Event()
    ran: list[str] = []

    async def work(name: str) -> None:
        ran.append(name)
        await release.wait()

    async def failing() -> None:
        raise RuntimeError("boom")

    assert terminations.start("u1", work("first"), "t1")
    assert not terminations.start("u1", work("second"), "t1 again")  # one per uid; the second is discarded
    assert terminations.start("u2", failing(), "t2")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert ran == ["first"] and terminations.running("u1") and not terminations.running("u2")
    release.set()
    await eventually(lambda: _true(len(terminations) == 0), what="the task ended")
    release.clear()
    assert terminations.start("u3", work("third"), "t3")
    await asyncio.sleep(0)
    await terminations.stop()
    assert len(terminations) == 0 and ran == ["first", "third"]
    assert not terminations.start("u4", work("late"), "t4")  # none after stop


async def _true(value: bool) -> bool:
    return value


async def test_nothing_is_left_of_terminated_pods(client: Client, agent: NodeAgent, clock: FakeClock, runtime: SlowStopRuntime) -> None:
    for index in range(5):
        await pods_of(client).create(pod(f"p{index}", node=NODE, terminationGracePeriodSeconds=1))
    for index in range(5):
        await wait_running(client, f"p{index}")
    for index in range(5):
        await pods_of(client).delete(f"p{index}")
    await eventually(lambda: _true(len(runtime.stops) == 5), what="all five stopping at once")  # one worker, yet all stop together
    clock.advance(1)
    for index in range(5):
        await wait_gone(client, f"p{index}")
    syncer = agent.pods
    state = lambda: (len(syncer.terminations), syncer.uids, syncer.keys, syncer._written, syncer._stopping, syncer._terminated)  # noqa: E731
    await eventually(lambda: _true(state() == (0, {}, {}, {}, {}, {})), what="every termination ended, no state left")
    assert await runtime.list_pods() == []
