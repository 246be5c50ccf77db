"""Probes: httpGet, tcpSocket and exec results with upstream's messages (against real sockets on
127.0.0.1 and a scripted exec runtime), and the probe workers in fake time — initialDelaySeconds,
periodSeconds, success/failure thresholds, timeouts, liveness kills, and the startup probe gating
liveness and readiness."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import pytest

from kubelite.client.clock import FakeClock
from kubelite.kubelet.handlers import USER_AGENT, run_action
from kubelite.kubelet.probes import ProbeManager
from kubelite.runtime.base import ContainerStatus, PodStatus, SandboxStatus

Obj = dict


# ---------------------------------------------------------------- real sockets
@dataclass
class HttpTarget:
    port: int
    status: int = 200
    silent: bool = False  # accept, read, never answer
    requests: list[bytes] = field(default_factory=list)


@contextlib.asynccontextmanager
async def http_target(**settings: object) -> AsyncIterator[HttpTarget]:
    target = HttpTarget(0, **settings)  # type: ignore[arg-type]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        target.requests.append(head)
        if target.silent:
            await asyncio.sleep(30)
        writer.write(f"HTTP/1.1 {target.status} X\r\nContent-Length: 2\r\n\r\nok".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    target.port = server.sockets[0].getsockname()[1]
    try:
        yield target
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CONTAINER: Obj = {"name": "app", "ports": [{"name": "web", "containerPort": 0}]}


async def test_http_get_success_and_the_request_it_sends() -> None:
    async with http_target() as target:
        action = {"httpGet": {"path": "healthz", "port": target.port, "httpHeaders": [{"name": "X-Probe", "value": "yes"}]}}
        assert await run_action(None, "uid", "127.0.0.1", CONTAINER, action, 1.0) == (True, "")
    head = target.requests[0].decode()
    assert head.startswith("GET /healthz HTTP/1.1\r\n")
    assert f"User-Agent: {USER_AGENT}\r\n" in head and USER_AGENT.startswith("kube-probe/1.")
    assert "X-Probe: yes\r\n" in head and f"Host: 127.0.0.1:{target.port}\r\n" in head


@pytest.mark.parametrize(("status", "ok"), [(200, True), (302, True), (399, True), (400, False), (500, False)])
async def test_http_get_status_codes(status: int, ok: bool) -> None:
    async with http_target(status=status) as target:
        result = await run_action(None, "uid", "127.0.0.1", CONTAINER, {"httpGet": {"path": "/", "port": target.port}}, 1.0)
    assert result == ((True, "") if ok else (False, f"HTTP probe failed with statuscode: {status}"))


async def test_http_get_to_a_named_port() -> None:
    async with http_target() as target:
        container = {"name": "app", "ports": [{"name": "web", "containerPort": target.port}]}
        assert await run_action(None, "uid", "127.0.0.1", container, {"httpGet": {"port": "web"}}, 1.0) == (True, "")
    assert await run_action(None, "uid", "127.0.0.1", container, {"httpGet": {"port": "nope"}}, 1.0) == (
        False,
        "couldn't find port: nope in app",
    )


async def test_http_get_refused_and_timed_out() -> None:
    port = closed_port()
    ok, message = await run_action(None, "uid", "127.0.0.1", CONTAINER, {"httpGet": {"path": "/x", "port": port}}, 1.0)
    assert not ok and message == f'Get "http://127.0.0.1:{port}/x": dial tcp 127.0.0.1:{port}: connect: connection refused'
    async with http_target(silent=True) as target:
        loop = asyncio.get_running_loop()
        started = loop.time()
        ok, message = await run_action(None, "uid", "127.0.0.1", CONTAINER, {"httpGet": {"path": "/", "port": target.port}}, 0.3)
        assert loop.time() - started < 2  # the timeout holds
    assert not ok
    assert message == f'Get "http://127.0.0.1:{target.port}/": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'


async def test_tcp_socket_open_and_refused() -> None:
    async with http_target() as target:
        assert await run_action(None, "uid", "127.0.0.1", CONTAINER, {"tcpSocket": {"port": target.port}}, 1.0) == (True, "")
    port = closed_port()
    assert await run_action(None, "uid", "127.0.0.1", CONTAINER, {"tcpSocket": {"port": port}}, 1.0) == (
        False,
        f"dial tcp 127.0.0.1:{port}: connect: connection refused",
    )


# ---------------------------------------------------------------- exec
class ScriptedExec:
    """An ExecRuntime whose commands succeed while `healthy[command[0]]` holds; records calls."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.healthy: dict[str, bool] = {}
        self.calls: list[tuple[float, str, tuple[str, ...], float]] = []  # (time, container, argv, timeout)
        self.clock = clock
        self.hang = False

    async def exec_sync(self, pod_uid: str, name: str, argv: Sequence[str], timeout: float = 10.0) -> tuple[int, bytes, bytes]:
        self.calls.append((self.clock.monotonic() if self.clock else 0.0, name, tuple(argv), timeout))
        if self.hang:
            raise TimeoutError
        if self.healthy.get(argv[0], True):
            return 0, b"fine\n", b""
        return 1, b"", f"{argv[0]} is sick\n".encode()

    def count(self, command: str) -> int:
        return sum(1 for call in self.calls if call[2][0] == command)


async def test_exec_results() -> None:
    runtime = ScriptedExec()
    action = {"exec": {"command": ["check", "--all"]}}
    assert await run_action(runtime, "uid", "", CONTAINER, action, 3.0) == (True, "")
    runtime.healthy["check"] = False
    assert await run_action(runtime, "uid", "", CONTAINER, action, 3.0) == (False, "check is sick\n")
    runtime.hang = True
    ok, message = await run_action(runtime, "uid", "", CONTAINER, action, 3.0)
    assert not ok and "timed out" in message
    assert [call[1:] for call in runtime.calls] == [("app", ("check", "--all"), 3.0)] * 3  # timeoutSeconds reaches the runtime
    assert await run_action(None, "uid", "", CONTAINER, action, 1.0) == (False, "exec is not supported by this runtime")


# ---------------------------------------------------------------- workers in fake time
STARTED = 1_750_000_000.0  # FakeClock's wall time at its start


def running_pod(container: Obj, *, container_id: str = "runc://1", started_at: float = STARTED) -> tuple[Obj, PodStatus]:
    pod = {"metadata": {"name": "p", "namespace": "default", "uid": "uid-1"}, "spec": {"containers": [container]}}
    status = PodStatus(
        "uid-1",
        "default",
        "p",
        SandboxStatus("uid-1", "10.0.0.2", STARTED),
        (ContainerStatus(str(container["name"]), container_id, "img", "img@sha", "running", started_at=started_at),),
    )
    return pod, status


@dataclass
class Prober:
    manager: ProbeManager
    runtime: ScriptedExec
    clock: FakeClock
    changes: list[str]
    kills: list[tuple[str, str]]

    async def settle(self) -> None:
        """Let every worker run until it waits on the fake clock again."""
        for _ in range(20):
            await asyncio.sleep(0)

    async def advance(self, seconds: float, step: float = 0.5) -> None:
        for _ in range(int(round(seconds / step))):
            self.clock.advance(step)
            await self.settle()

    def state(self, container: Obj, container_id: str = "runc://1") -> tuple[bool, bool]:
        return self.manager.container_state("uid-1", container, container_id)


@pytest.fixture
async def prober() -> AsyncIterator[Prober]:
    clock = FakeClock()
    runtime = ScriptedExec(clock)
    changes: list[str] = []
    kills: list[tuple[str, str]] = []

    async def on_kill(pod: Obj, name: str, message: str) -> None:
        kills.append((name, message))

    manager = ProbeManager(runtime, clock, on_change=changes.append, on_kill=on_kill)
    yield Prober(manager, runtime, clock, changes, kills)
    await manager.stop()


def exec_probe(command: str, **settings: int) -> Obj:
    return {"exec": {"command": [command]}, **settings}


async def test_readiness_needs_its_success_threshold_and_flips_after_its_failure_threshold(prober: Prober) -> None:
    container = {"name": "app", "readinessProbe": exec_probe("ready", periodSeconds=2, successThreshold=2, failureThreshold=3)}
    pod, status = running_pod(container)
    prober.manager.update(pod, status, "10.0.0.2")
    await prober.settle()
    assert prober.runtime.count("ready") == 1
    assert prober.state(container) == (False, True)  # one success of two: not ready yet
    await prober.advance(2)
    assert prober.state(container) == (True, True) and prober.changes == ["uid-1"]
    prober.runtime.healthy["ready"] = False
    await prober.advance(4)  # two failures: still ready
    assert prober.state(container) == (True, True)
    await prober.advance(2)  # the third
    assert prober.state(container) == (False, True) and prober.changes == ["uid-1", "uid-1"]
    prober.runtime.healthy["ready"] = True
    await prober.advance(2)
    assert prober.state(container)[0] is False  # one success again is not enough
    await prober.advance(2)
    assert prober.state(container)[0] is True
    assert prober.kills == []  # readiness never restarts anything


async def test_probes_wait_for_the_initial_delay_then_run_every_period(prober: Prober) -> None:
    container = {"name": "app", "readinessProbe": exec_probe("ready", initialDelaySeconds=5, periodSeconds=3)}
    pod, status = running_pod(container, started_at=STARTED + 1)  # started 1 s after the clock's zero
    prober.manager.update(pod, status, "10.0.0.2")
    await prober.settle()
    assert prober.runtime.calls == []
    await prober.advance(5.5)
    assert prober.runtime.calls == []
    await prober.advance(0.5)
    times = [call[0] - 1000.0 for call in prober.runtime.calls]  # FakeClock's monotonic starts at 1000
    assert times == [6.0]  # started + initialDelaySeconds
    await prober.advance(6)
    assert [call[0] - 1000.0 for call in prober.runtime.calls] == [6.0, 9.0, 12.0]
    assert {call[3] for call in prober.runtime.calls} == {1.0}  # timeoutSeconds defaults to 1


async def test_a_failing_liveness_probe_kills_once_and_its_worker_ends(prober: Prober) -> None:
    container = {"name": "app", "livenessProbe": exec_probe("alive", periodSeconds=1, failureThreshold=2, timeoutSeconds=4)}
    pod, status = running_pod(container)
    prober.manager.update(pod, status, "10.0.0.2")
    await prober.settle()
    await prober.advance(3)
    assert prober.kills == [] and prober.state(container) == (True, True)
    prober.runtime.healthy["alive"] = False
    await prober.advance(1)
    assert prober.kills == []  # one failure of two
    await prober.advance(1)
    assert prober.kills == [("app", "Container app failed liveness probe, will be restarted")]
    calls = prober.runtime.count("alive")
    await prober.advance(5)
    assert prober.runtime.count("alive") == calls and len(prober.kills) == 1
    assert {call[3] for call in prober.runtime.calls} == {4.0}


async def test_a_hanging_liveness_probe_counts_as_a_failure(prober: Prober) -> None:
    container = {"name": "app", "livenessProbe": exec_probe("alive", periodSeconds=1, failureThreshold=1)}
    pod, status = running_pod(container)
    prober.runtime.hang = True
    prober.manager.update(pod, status, "10.0.0.2")
    await prober.settle()
    assert prober.kills == [("app", "Container app failed liveness probe, will be restarted")]


async def test_startup_gates_liveness_and_readiness_until_it_succeeds(prober: Prober) -> None:
    container = {
        "name": "app",
        "startupProbe": exec_probe("started", periodSeconds=1, failureThreshold=10),
        "livenessProbe": exec_probe("alive", periodSeconds=1, failureThreshold=1),
        "readinessProbe": exec_probe("ready", periodSeconds=1),
    }
    prober.runtime.healthy.update(started=False, alive=False)  # liveness would kill at once if it ran
    pod, status = running_pod(container)
    prober.manager.update(pod, status, "10.0.0.2")
    await prober.settle()
    await prober.advance(4)
    assert prober.runtime.count("started") == 5
    assert prober.runtime.count("alive") == 0 and prober.runtime.count("ready") == 0
    assert prober.state(container) == (False, False) and prober.kills == []
    prober.runtime.healthy.update(started=True, alive=True)
    await prober.advance(1)
    assert prober.state(container)[1] is True  # started
    calls = prober.runtime.count("started")
    await prober.advance(3)
    assert prober.runtime.count("started") == calls  # a startup probe stops once it succeeded
    assert prober.runtime.count("alive") >= 2 and prober.runtime.count("ready") >= 2
    assert prober.state(container) == (True, True) and prober.kills == []


async def test_a_failing_startup_probe_kills_after_its_threshold(prober: Prober) -> None:
    container = {
        "name": "app",
        "startupProbe": exec_probe("started", periodSeconds=2, failureThreshold=3),
        "livenessProbe": exec_probe("alive", periodSeconds=1),
    }
    prober.runtime.healthy["started"] = False
    pod, status = running_pod(container)
    prober.manager.update(pod, status, "10.0.0.2")
    await prober.settle()
    await prober.advance(3)
    assert prober.kills == []
    await prober.advance(2)
    assert prober.kills == [("app", "Container app failed startup probe, will be restarted")]
    assert prober.runtime.count("alive") == 0


async def test_workers_follow_the_container(prober: Prober) -> None:
    container = {"name": "app", "readinessProbe": exec_probe("ready", periodSeconds=1)}
    pod, status = running_pod(container, container_id="runc://1")
    prober.manager.update(pod, status, "10.0.0.2")
    await prober.settle()
    await prober.advance(1)
    assert prober.state(container, "runc://1") == (True, True)
    # the container was replaced: the old result is dropped, the new one starts unready
    pod, restarted = running_pod(container, container_id="runc://2", started_at=STARTED + 1)
    prober.manager.update(pod, restarted, "10.0.0.2")
    assert prober.state(container, "runc://1") == (False, True)
    await prober.settle()
    assert prober.state(container, "runc://2") == (True, True)
    # the pod is being deleted: every worker stops
    deleting = {**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "2025-01-01T00:00:00Z"}}
    prober.manager.update(deleting, restarted, "10.0.0.2")
    calls = len(prober.runtime.calls)
    await prober.advance(3)
    assert len(prober.runtime.calls) == calls


async def test_http_probe_through_a_worker(prober: Prober) -> None:
    async with http_target(status=500) as target:
        container = {"name": "app", "readinessProbe": {"httpGet": {"path": "/ready", "port": target.port}, "periodSeconds": 1}}
        pod, status = running_pod(container)
        prober.manager.update(pod, status, "127.0.0.1")
        await wait_for(lambda: len(target.requests) >= 1)
        await prober.settle()
        assert prober.state(container) == (False, True)
        target.status = 200
        prober.clock.advance(1)
        await wait_for(lambda: len(target.requests) >= 2)
        await wait_for_async(lambda: prober.state(container) == (True, True))


async def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    await wait_for_async(check, timeout)


async def wait_for_async(check: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if not isinstance(value, bool):
            value = await value
        if value:
            return
        if loop.time() > deadline:
            pytest.fail("timed out")
        await asyncio.sleep(0.01)
