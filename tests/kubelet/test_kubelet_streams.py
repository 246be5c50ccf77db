"""HostProcessStreams: commands as host processes (pipes, stdin, exit codes, a pty with resizes),
logs over CRI files (current, previous, waiting), attach, and port-forward to loopback."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubelite.api.remotecommand import TerminalSize
from kubelite.kubelet.crilogs import LogOptions, format_record
from kubelite.kubelet.streams import HostProcessStreams, StreamError

Obj = dict[str, Any]


def make_pod(state: str = "running") -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": "uid-1"},
        "spec": {"containers": [{"name": "app", "image": "busybox", "env": [{"name": "GREETING", "value": "hello"}]}]},
        "status": {"containerStatuses": [{"name": "app", "state": {state: {}}}]},
    }


class Collector:
    def __init__(self) -> None:
        self.data = b""

    async def __call__(self, data: bytes) -> None:
        self.data += data


async def feed(*pieces: bytes, delay: float = 0.0) -> AsyncIterator[bytes]:
    for piece in pieces:
        if delay:
            await asyncio.sleep(delay)
        yield piece


def write_log(root: Path, restart: int, *lines: tuple[str, bytes]) -> Path:
    directory = root / "uid-1" / "app"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{restart}.log"
    with open(path, "ab") as handle:
        for index, (stream, text) in enumerate(lines):
            handle.write(format_record(1735689600_000000000 + index, stream, text))
    return path


async def test_exec_with_pipes_reports_output_and_exit_code(tmp_path: Path) -> None:
    streams = HostProcessStreams(tmp_path)
    out, err = Collector(), Collector()
    code = await streams.exec(
        make_pod(), "app", ["sh", "-c", "echo $GREETING; echo oops >&2; exit 3"], stdin=None, stdout=out, stderr=err, tty=False, resize=None
    )
    assert (code, out.data, err.data) == (3, b"hello\n", b"oops\n")


async def test_exec_feeds_stdin_until_it_ends(tmp_path: Path) -> None:
    streams = HostProcessStreams(tmp_path)
    out = Collector()
    code = await streams.exec(
        make_pod(), "app", ["sh", "-c", "cat; echo end"], stdin=feed(b"a", b"b\n", delay=0.01), stdout=out, stderr=None, tty=False, resize=None
    )
    assert (code, out.data) == (0, b"ab\nend\n")


async def test_exec_in_a_terminal_follows_resizes(tmp_path: Path) -> None:
    streams = HostProcessStreams(tmp_path)
    out = Collector()

    async def sizes() -> AsyncIterator[TerminalSize]:
        yield TerminalSize(100, 30)

    stdin = feed(b"stty size; tty >/dev/null && echo is-a-tty; echo $TERM\n", b"exit 4\n", delay=0.3)
    code = await streams.exec(make_pod(), "app", ["sh"], stdin=stdin, stdout=out, stderr=None, tty=True, resize=sizes())
    assert code == 4
    assert b"30 100\r\n" in out.data and b"is-a-tty" in out.data and b"xterm" in out.data


async def test_exec_failures(tmp_path: Path) -> None:
    streams = HostProcessStreams(tmp_path)
    with pytest.raises(StreamError, match='executable file not found') as missing:
        await streams.exec(make_pod(), "app", ["no-such-command-x"], stdin=None, stdout=Collector(), stderr=None, tty=False, resize=None)
    assert missing.value.code == 500
    with pytest.raises(StreamError, match=r'container not found \("db"\)'):
        await streams.exec(make_pod(), "db", ["true"], stdin=None, stdout=None, stderr=None, tty=False, resize=None)
    killed = await streams.exec(make_pod(), "app", ["sh", "-c", "kill -9 $$"], stdin=None, stdout=None, stderr=None, tty=False, resize=None)
    assert killed == 137


async def test_exec_cancelled_kills_the_command(tmp_path: Path) -> None:
    streams = HostProcessStreams(tmp_path)
    marker = tmp_path / "pid"
    task = asyncio.create_task(
        streams.exec(make_pod(), "app", ["sh", "-c", f"echo $$ > {marker}; exec sleep 30"], stdin=None, stdout=None, stderr=None, tty=False, resize=None)
    )
    for _ in range(100):
        if marker.exists() and marker.read_text().strip():
            break
        await asyncio.sleep(0.02)
    pid = int(marker.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.1)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_logs_current_and_previous(tmp_path: Path) -> None:
    streams = HostProcessStreams(tmp_path)
    pod = make_pod("terminated")
    with pytest.raises(StreamError, match='container "app" in pod "web" is waiting to start: ContainerCreating'):
        await anext(streams.logs(pod, "app", LogOptions()))
    write_log(tmp_path, 0, ("stdout", b"first run"))
    with pytest.raises(StreamError, match='previous terminated container "app" in pod "web" not found'):
        await anext(streams.logs(pod, "app", LogOptions(previous=True)))
    write_log(tmp_path, 1, ("stdout", b"second run"), ("stderr", b"warning"))
    current = b"".join([c async for c in streams.logs(pod, "app", LogOptions(follow=True))])  # terminated: ends
    previous = b"".join([c async for c in streams.logs(pod, "app", LogOptions(previous=True))])
    assert (current, previous) == (b"second run\nwarning\n", b"first run\n")


async def test_follow_ends_when_the_container_stops(tmp_path: Path) -> None:
    pods = {"default/web": make_pod("running")}
    streams = HostProcessStreams(tmp_path, pod_lookup=pods.get, poll=0.01)
    path = write_log(tmp_path, 0, ("stdout", b"one"))
    seen: list[bytes] = []

    async def follow() -> None:
        async for chunk in streams.logs(pods["default/web"], "app", LogOptions(follow=True)):
            seen.append(chunk)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.05)
    with open(path, "ab") as handle:
        handle.write(format_record(1735689601_000000000, "stdout", b"two"))
    await asyncio.sleep(0.05)
    assert not task.done()
    pods["default/web"] = make_pod("terminated")
    await asyncio.wait_for(task, 2)
    assert seen == [b"one\n", b"two\n"]


async def test_attach_streams_new_output_and_feeds_the_stdin_fifo(tmp_path: Path) -> None:
    pods = {"default/web": make_pod("running")}
    streams = HostProcessStreams(tmp_path, pod_lookup=pods.get, poll=0.01)
    path = write_log(tmp_path, 0, ("stdout", b"before attach"))
    fifo = path.parent / "stdin"
    os.mkfifo(fifo)
    reader_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    out, err = Collector(), Collector()
    task = asyncio.create_task(
        streams.attach(pods["default/web"], "app", stdin=feed(b"typed\n"), stdout=out, stderr=err, tty=False, resize=None)
    )
    await asyncio.sleep(0.05)
    with open(path, "ab") as handle:
        handle.write(format_record(1735689601_000000000, "stdout", b"after"))
        handle.write(format_record(1735689601_000000001, "stderr", b"problem"))
    await asyncio.sleep(0.05)
    pods["default/web"] = make_pod("terminated")
    await asyncio.wait_for(task, 2)
    assert (out.data, err.data) == (b"after\n", b"problem\n")
    assert os.read(reader_fd, 100) == b"typed\n"
    os.close(reader_fd)


async def test_port_forward_dials_loopback(tmp_path: Path) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"echo:" + await reader.read(100))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    streams = HostProcessStreams(tmp_path)
    try:
        reader, writer = await streams.port_forward(make_pod(), port)
        writer.write(b"ping")
        await writer.drain()
        assert await reader.read() == b"echo:ping"
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    with pytest.raises(StreamError, match=f"failed to connect to localhost:{port}, IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused"):
        await streams.port_forward(make_pod(), port)


NETNS_SERVER = """
import socket, sys
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
connection, _ = listener.accept()
connection.sendall(b"inside the pod netns")
connection.close()
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="entering a network namespace needs root")
async def test_port_forward_and_exec_enter_the_pods_network_namespace(tmp_path: Path) -> None:
    pod_side = await asyncio.create_subprocess_exec(
        "unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$0" -c "$1"', sys.executable, NETNS_SERVER, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert pod_side.stdout is not None
        port = int(await asyncio.wait_for(pod_side.stdout.readline(), 10))
        streams = HostProcessStreams(tmp_path, netns_path=lambda pod: f"/proc/{pod_side.pid}/ns/net")
        reader, writer = await streams.port_forward(make_pod(), port)
        assert await reader.read() == b"inside the pod netns"
        writer.close()
        out = Collector()
        code = await streams.exec(make_pod(), "app", ["ip", "-brief", "link"], stdin=None, stdout=out, stderr=None, tty=False, resize=None)
        assert code == 0 and out.data.split()[0] == b"lo" and len(out.data.splitlines()) == 1
    finally:
        if pod_side.returncode is None:
            pod_side.kill()
        await pod_side.wait()
