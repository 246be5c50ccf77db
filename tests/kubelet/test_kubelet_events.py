"""The kubelet's events (upstream's reasons, types and texts) for a NodeAgent on the hollow runtime
in fake time — the node's Starting and condition events, Pulled/Created/Started, pulls that
happen or fail and back off, Killing, Unhealthy, CrashLoop BackOff aggregated into one counted
Event — and a graceful stop cut short when a later delete shortens the grace period."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.client.client import Client
from kubelite.client.clock import FakeClock
from kubelite.kubelet.agent import NodeAgent
from kubelite.kubelet.events import go_duration
from kubelite.kubelet.objects import KubeletObjects
from kubelite.kubelet.options import KubeletOptions
from kubelite.runtime.base import ContainerStatus
from kubelite.runtime.hollow import HollowRuntime
from kubelite.runtime.oci.errors import ContainerStartError
from tests.kubelet.kubelet_harness import eventually, pod

Obj = dict[str, Any]
NODE = "node-e"


@dataclass(frozen=True)
class _Image:
    size: int


class _Images:
    """An image store holding what `pulled` names."""

    def __init__(self) -> None:
        self.held: dict[str, _Image] = {"present:1": _Image(1000)}

    def get(self, ref: str) -> _Image | None:
        return self.held.get(ref)


class EventfulRuntime(HollowRuntime):
    """The hollow runtime with an image store (pulls "pullable:*", fails "missing:*"), an exec
    that fails for probes, and a stop of running containers that takes its whole grace period in
    fake time (recorded in `stops`)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(time_source=clock)
        self.clock = clock
        self.images = _Images()
        self.stops: list[int] = []

    async def start_container(self, pod: Obj, container: Obj) -> ContainerStatus:
        image = str(container.get("image"))
        if image.startswith("missing:"):
            raise ContainerStartError("ErrImagePull", f'failed to resolve reference "{image}": not found')
        self.images.held.setdefault(image, _Image(4242))
        return await super().start_container(pod, container)

    async def stop_pod(self, pod: Obj, grace_seconds: int) -> None:
        running = any(c.state == "running" for c in (await self.pod_status(str(pod["metadata"]["uid"])) or _NoPod()).containers)
        if running:
            self.stops.append(grace_seconds)
            await self.clock.sleep(grace_seconds)  # the app ignores SIGTERM: it lasts the whole grace period
        await super().stop_pod(pod, grace_seconds)

    async def exec_sync(self, pod_uid: str, name: str, argv: Sequence[str], timeout: float = 10.0) -> tuple[int, bytes, bytes]:
        return 1, b"", b"not healthy\n"


class _NoPod:
    containers: tuple[ContainerStatus, ...] = ()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime(clock: FakeClock) -> EventfulRuntime:
    return EventfulRuntime(clock)


@pytest.fixture
async def agent(client: Client, clock: FakeClock, runtime: EventfulRuntime) -> AsyncIterator[NodeAgent]:
    made = NodeAgent(client, NODE, runtime, KubeletOptions(node_index=7), clock)
    await made.start()
    yield made
    await made.stop()


async def events_about(client: Client, agent: NodeAgent, name: str, namespace: str = "default") -> list[Obj]:
    await agent.recorder.flush()
    items = (await client.resource("", "v1", "events").namespace(namespace).list())["items"]
    return sorted((e for e in items if e["involvedObject"].get("name") == name), key=lambda e: e["metadata"]["name"])


def summary(events: list[Obj]) -> list[tuple[str, str, str]]:
    return [(e["type"], e["reason"], e["message"]) for e in events]


async def wait_for_events(client: Client, agent: NodeAgent, name: str, wanted: list[tuple[str, str, str]], **kwargs: Any) -> list[Obj]:
    async def present() -> bool:
        got = summary(await events_about(client, agent, name))
        return all(item in got for item in wanted)

    await eventually(present, what=f"events {wanted} about {name}", **kwargs)
    return await events_about(client, agent, name)


def test_go_durations() -> None:
    assert [go_duration(s) for s in (0, 0.0004, 0.523, 1.2, 10, 80, 300, 3600.5)] == [
        "0s", "0s", "523ms", "1.2s", "10s", "1m20s", "5m0s", "1h0m0.5s"
    ]


async def test_node_events_when_the_kubelet_starts(client: Client, agent: NodeAgent) -> None:
    events = await wait_for_events(client, agent, NODE, [("Normal", "NodeReady", f"Node {NODE} status is now: NodeReady")])
    assert summary(events) == [
        ("Normal", "Starting", "Starting kubelet."),
        ("Normal", "NodeHasSufficientMemory", f"Node {NODE} status is now: NodeHasSufficientMemory"),
        ("Normal", "NodeHasNoDiskPressure", f"Node {NODE} status is now: NodeHasNoDiskPressure"),
        ("Normal", "NodeHasSufficientPID", f"Node {NODE} status is now: NodeHasSufficientPID"),
        ("Normal", "NodeReady", f"Node {NODE} status is now: NodeReady"),
    ]
    assert events[0]["involvedObject"] == {"kind": "Node", "apiVersion": "", "name": NODE, "uid": NODE}
    assert events[0]["source"] == {"component": "kubelet", "host": NODE}


async def test_a_started_pod_s_events(client: Client, agent: NodeAgent) -> None:
    pods = client.resource("", "v1", "pods").namespace("default")
    containers = [{"name": "app", "image": "present:1"}, {"name": "side", "image": "pullable:2"}]
    await pods.create(pod("web", node=NODE, containers=containers))
    events = await wait_for_events(client, agent, "web", [("Normal", "Started", "Started container side")])
    uid = (await pods.get("web"))["metadata"]["uid"]
    assert summary(events) == [
        ("Normal", "Pulled", 'Container image "present:1" already present on machine'),
        ("Normal", "Created", "Created container: app"),
        ("Normal", "Started", "Started container app"),
        ("Normal", "Pulling", 'Pulling image "pullable:2"'),
        ("Normal", "Pulled", 'Successfully pulled image "pullable:2" in 0s (0s including waiting). Image size: 4242 bytes.'),
        ("Normal", "Created", "Created container: side"),
        ("Normal", "Started", "Started container side"),
    ]
    assert [e["involvedObject"]["fieldPath"] for e in events] == ["spec.containers{app}"] * 3 + ["spec.containers{side}"] * 4
    assert all(e["involvedObject"]["uid"] == uid and e["involvedObject"]["kind"] == "Pod" for e in events)
    assert all(e["source"] == {"component": "kubelet", "host": NODE} for e in events)

    await pods.delete("web")
    events = await wait_for_events(client, agent, "web", [("Normal", "Killing", "Stopping container app"), ("Normal", "Killing", "Stopping container side")])


async def test_a_failing_pull_backs_off(client: Client, agent: NodeAgent, clock: FakeClock) -> None:
    pods = client.resource("", "v1", "pods").namespace("default")
    await pods.create(pod("lost", node=NODE, containers=[{"name": "app", "image": "missing:1"}]))
    failure = 'failed to resolve reference "missing:1": not found'
    await wait_for_events(client, agent, "lost", [
        ("Normal", "Pulling", 'Pulling image "missing:1"'),
        ("Warning", "Failed", f'Failed to pull image "missing:1": {failure}'),
        ("Warning", "Failed", "Error: ErrImagePull"),
    ])

    async def backing_off() -> bool:
        statuses = (await pods.get("lost")).get("status", {}).get("containerStatuses") or []
        return bool(statuses) and statuses[0]["state"].get("waiting", {}).get("reason") == "ImagePullBackOff"

    await eventually(backing_off, what="ImagePullBackOff", clock=clock, step=1.0)
    await wait_for_events(client, agent, "lost", [
        ("Normal", "BackOff", 'Back-off pulling image "missing:1"'),
        ("Warning", "Failed", "Error: ImagePullBackOff"),
    ])


async def test_config_errors_and_failed_hooks(client: Client, clock: FakeClock, runtime: EventfulRuntime) -> None:
    agent = NodeAgent(client, NODE, runtime, KubeletOptions(node_index=7), clock, objects=KubeletObjects(client))
    await agent.start()
    try:
        pods = client.resource("", "v1", "pods").namespace("default")
        env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "x"}}}]
        await pods.create(pod("unconfigured", node=NODE, containers=[{"name": "app", "image": "present:1", "env": env}]))
        hook = {"postStart": {"exec": {"command": ["setup"]}}}
        await pods.create(pod("hooked", node=NODE, containers=[{"name": "app", "image": "present:1", "lifecycle": hook}]))
        await wait_for_events(client, agent, "unconfigured", [
            ("Normal", "Pulled", 'Container image "present:1" already present on machine'),
            ("Warning", "Failed", 'Error: configmap "absent" not found'),
        ])
        await wait_for_events(client, agent, "hooked", [
            ("Warning", "FailedPostStartHook", "PostStartHook failed"),
            ("Normal", "Killing", "FailedPostStartHook"),
        ])
    finally:
        await agent.stop()


async def test_failing_probes_are_unhealthy_and_liveness_kills(client: Client, agent: NodeAgent, clock: FakeClock) -> None:
    pods = client.resource("", "v1", "pods").namespace("default")
    probe = {"exec": {"command": ["check"]}, "periodSeconds": 5, "failureThreshold": 2}
    app = {"name": "app", "image": "present:1", "livenessProbe": probe, "readinessProbe": probe}
    await pods.create(pod("sick", node=NODE, containers=[app]))
    events = await wait_for_events(client, agent, "sick", [
        ("Warning", "Unhealthy", "Liveness probe failed: not healthy\n"),
        ("Warning", "Unhealthy", "Readiness probe failed: not healthy\n"),
        ("Normal", "Killing", "Container app failed liveness probe, will be restarted"),
    ], clock=clock, step=1.0)
    liveness = next(e for e in events if e["message"].startswith("Liveness"))
    assert liveness["count"] >= 2 and liveness["involvedObject"]["fieldPath"] == "spec.containers{app}"


async def test_a_crash_loop_is_one_counted_back_off_event(client: Client, agent: NodeAgent, clock: FakeClock) -> None:
    pods = client.resource("", "v1", "pods").namespace("default")
    await pods.create(pod("crash", node=NODE, containers=[{"name": "crash", "image": "present:1", "command": ["sh", "-c", "exit 1"]}]))

    async def restarts() -> int:
        statuses = (await pods.get("crash")).get("status", {}).get("containerStatuses") or []
        return int(statuses[0]["restartCount"]) if statuses else 0

    async def restarted_four_times() -> bool:
        return await restarts() >= 4

    await eventually(restarted_four_times, what="four restarts", clock=clock, step=5.0, timeout=20)
    uid = (await pods.get("crash"))["metadata"]["uid"]
    events = await events_about(client, agent, "crash")
    back_offs = [e for e in events if e["reason"] == "BackOff"]
    assert len(back_offs) == 1, summary(events)
    [back_off] = back_offs
    assert back_off["type"] == "Warning" and back_off["count"] >= 3
    assert back_off["message"] == f"Back-off restarting failed container crash in pod crash_default({uid})"
    started = next(e for e in events if e["reason"] == "Started")
    assert started["count"] >= 4  # one Event per reason and message, however often it happens
    assert len(events) == 4, summary(events)  # Pulled, Created, Started, BackOff


async def test_a_shorter_grace_period_cuts_the_stop_short(client: Client, agent: NodeAgent, clock: FakeClock, runtime: EventfulRuntime) -> None:
    pods = client.resource("", "v1", "pods").namespace("default")
    await pods.create(pod("slow", node=NODE, terminationGracePeriodSeconds=30))

    async def running() -> bool:
        return (await pods.get("slow")).get("status", {}).get("phase") == "Running"

    await eventually(running, what="Running")
    await pods.delete("slow")

    async def stopping() -> bool:
        return runtime.stops == [30]

    await eventually(stopping, what="the 30 s stop")
    await pods.delete("slow", grace_period_seconds=1)

    async def shortened() -> bool:
        return runtime.stops == [30, 1]

    await eventually(shortened, what="the stop restarted with 1 s")
    clock.advance(1)

    async def gone() -> bool:
        try:
            await pods.get("slow")
        except StatusError as exc:
            return exc.code == 404
        return False

    await eventually(gone, what="the pod deleted after 1 s rather than 30 s")
    assert runtime.stops == [30, 1]
