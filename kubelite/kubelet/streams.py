"""What the kubelet's streaming API (kubelet/server.py) asks of a runtime — the `ContainerStreams`
protocol: a container's logs, exec and attach with stdio and terminal resizes, and a TCP
connection to a port in the pod's network namespace — and `HostProcessStreams`, which answers it
for containers that are host processes: commands run as host processes (in a pty for tty), logs
are the CRI-format files under DATA/pods/<uid>/<container>/<restart>.log, port-forward dials
127.0.0.1 inside the pod's network namespace when there is one, else on the host.

Must not speak HTTP or any wire protocol (server.py does), nor read or write the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import fcntl
import os
import pty
import signal
import socket
import stat
import struct
import termios
import threading
import tty
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from kubelite.api.remotecommand import TerminalSize
from kubelite.kubelet.crilogs import LogOptions, container_log_dir, iter_records, log_files, read_log

Obj = dict[str, Any]
Writer = Callable[[bytes], Awaitable[None]]
PodLookup = Callable[[str], Obj | None]  # "namespace/name" -> the pod as the kubelet last saw it

OUTPUT_DRAIN_SECONDS = 2.0  # after the process exits, how long its output may still take to end
CLONE_NEWNET = 0x40000000
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class StreamError(Exception):
    """A request the runtime cannot serve; `code` is the HTTP status the kubelet answers with."""

    def __init__(self, message: str, code: int = 400):
        super().__init__(message)
        self.message = message
        self.code = code


class ContainerStreams(Protocol):
    def logs(self, pod: Obj, container: str, options: LogOptions) -> AsyncIterator[bytes]:
        """The container's log as `kubectl logs` shows it. Raises StreamError before the first
        chunk when there is nothing to read (not started, no previous instance)."""
        ...

    async def exec(
        self,
        pod: Obj,
        container: str,
        command: Sequence[str],
        *,
        stdin: AsyncIterator[bytes] | None,
        stdout: Writer | None,
        stderr: Writer | None,
        tty: bool,
        resize: AsyncIterator[TerminalSize] | None,
    ) -> int:
        """Run `command` in the container until it exits and its output ends; its exit code.
        With tty, stderr is merged into stdout. Raises StreamError when it cannot start."""
        ...

    async def attach(
        self,
        pod: Obj,
        container: str,
        *,
        stdin: AsyncIterator[bytes] | None,
        stdout: Writer | None,
        stderr: Writer | None,
        tty: bool,
        resize: AsyncIterator[TerminalSize] | None,
    ) -> None:
        """Connect to the running container's stdio until it stops (or the caller cancels)."""
        ...

    async def port_forward(self, pod: Obj, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to `port` on the pod's loopback. Raises StreamError when refused."""
        ...


def pod_key(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def find_container(pod: Obj, name: str) -> Obj | None:
    spec = pod.get("spec") or {}
    for field in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(field) or []:
            if container.get("name") == name:
                return dict(container)
    return None


def container_status(pod: Obj, name: str) -> Obj | None:
    status = pod.get("status") or {}
    for field in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for entry in status.get(field) or []:
            if entry.get("name") == name:
                return dict(entry)
    return None


def exit_code_of(returncode: int) -> int:
    """A shell's view of a process's end: killed by signal N is 128+N."""
    return 128 - returncode if returncode < 0 else returncode


class HostProcessStreams:
    def __init__(
        self,
        log_root: Path,
        *,
        pod_lookup: PodLookup | None = None,
        netns_path: Callable[[Obj], str | None] | None = None,
        poll: float = 0.1,
    ):
        """`log_root`: DATA/pods. `pod_lookup` refreshes a pod while following its logs (without
        it the pod given to the call is used). `netns_path(pod)`: the pod's network namespace
        (a /proc/<pid>/ns/net or /run/netns path), or None for the host's."""
        self.log_root = log_root
        self.pod_lookup = pod_lookup
        self.netns_path = netns_path
        self.poll = poll

    # ------------------------------------------------------------------ helpers
    def _require_container(self, pod: Obj, container: str) -> Obj:
        found = find_container(pod, container)
        if found is None:
            raise StreamError(f'container not found ("{container}")', 404)
        return found

    def _current_pod(self, pod: Obj) -> Obj:
        if self.pod_lookup is None:
            return pod
        return self.pod_lookup(pod_key(pod)) or pod

    def _still_running(self, pod: Obj, container: str, restart: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            newest = log_files(self.log_root, _uid(pod), container)
            if newest and newest[-1][0] > restart:
                return False
            status = container_status(self._current_pod(pod), container)
            return status is None or "running" in (status.get("state") or {})

        return check

    def _environment(self, pod: Obj, container: Obj, tty: bool) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH") or DEFAULT_PATH,
            "HOSTNAME": str((pod.get("metadata") or {}).get("name", "")),
            "HOME": os.environ.get("HOME", "/root"),
        }
        if tty:
            env["TERM"] = "xterm"
        for item in container.get("env") or []:
            if "name" in item and isinstance(item.get("value"), str):
                env[str(item["name"])] = item["value"]
        return env

    def _argv(self, pod: Obj, command: Sequence[str]) -> list[str]:
        netns = self.netns_path(pod) if self.netns_path is not None else None
        if netns:
            return ["nsenter", f"--net={netns}", "--", *command]
        return list(command)

    # ------------------------------------------------------------------ logs
    async def logs(self, pod: Obj, container: str, options: LogOptions) -> AsyncIterator[bytes]:
        self._require_container(pod, container)
        name = (pod.get("metadata") or {}).get("name", "")
        files = log_files(self.log_root, _uid(pod), container)
        if options.previous:
            if len(files) < 2:
                raise StreamError(f'previous terminated container "{container}" in pod "{name}" not found')
            path = files[-2][1]

            async def done() -> bool:
                return False

            still_running: Callable[[], Awaitable[bool]] = done
        else:
            if not files:
                raise StreamError(f'container "{container}" in pod "{name}" is waiting to start: {_waiting_reason(pod, container)}')
            restart, path = files[-1]
            still_running = self._still_running(pod, container, restart)
        chunks = read_log(path, options, still_running=still_running, poll=self.poll)
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()

    # ------------------------------------------------------------------ exec
    async def exec(
        self,
        pod: Obj,
        container: str,
        command: Sequence[str],
        *,
        stdin: AsyncIterator[bytes] | None,
        stdout: Writer | None,
        stderr: Writer | None,
        tty: bool,
        resize: AsyncIterator[TerminalSize] | None,
    ) -> int:
        spec = self._require_container(pod, container)
        if not command:
            raise StreamError("you must specify at least 1 command")
        argv = self._argv(pod, command)
        env = self._environment(pod, spec, tty)
        cwd = spec.get("workingDir") or None
        if cwd and not os.path.isdir(cwd):
            cwd = None
        if tty:
            return await run_in_pty(argv, env, cwd, stdin, stdout, resize)
        return await run_with_pipes(argv, env, cwd, stdin, stdout, stderr)

    # ------------------------------------------------------------------ attach
    async def attach(
        self,
        pod: Obj,
        container: str,
        *,
        stdin: AsyncIterator[bytes] | None,
        stdout: Writer | None,
        stderr: Writer | None,
        tty: bool,
        resize: AsyncIterator[TerminalSize] | None,
    ) -> None:
        """Output is what the container logs from now on; stdin goes to the FIFO
        <log dir>/stdin when the runtime made one (else it is discarded)."""
        self._require_container(pod, container)
        files = log_files(self.log_root, _uid(pod), container)
        if not files:
            name = (pod.get("metadata") or {}).get("name", "")
            raise StreamError(f'container "{container}" in pod "{name}" is waiting to start: {_waiting_reason(pod, container)}')
        restart, path = files[-1]
        start = os.path.getsize(path)
        still_running = self._still_running(pod, container, restart)

        async def pump_output() -> None:
            records = iter_records(path, start=start, follow=True, still_running=still_running, poll=self.poll)
            try:
                async for record in records:
                    writer = stdout if (record.stream == "stdout" or tty) else stderr
                    if writer is not None:
                        await writer(record.render(False))
            finally:
                await records.aclose()

        feeder = None
        if stdin is not None:
            fifo = container_log_dir(self.log_root, _uid(pod), container) / "stdin"
            feeder = asyncio.create_task(_feed_fifo(fifo, stdin))
        resizer = asyncio.create_task(_drain(resize)) if resize is not None else None
        try:
            await pump_output()
        finally:
            for task in (feeder, resizer):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    # ------------------------------------------------------------------ port-forward
    async def port_forward(self, pod: Obj, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        netns = self.netns_path(pod) if self.netns_path is not None else None
        try:
            if netns:
                sock = await _connect_in_netns(netns, port)
                return await asyncio.open_connection(sock=sock)
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            where = f' inside namespace "{netns}"' if netns else ""
            raise StreamError(
                f"failed to connect to localhost:{port}{where}, IPv4: dial tcp4 127.0.0.1:{port}: connect: {reason}", 500
            ) from None


# ---------------------------------------------------------------------- processes
def _uid(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid") or "")


def _waiting_reason(pod: Obj, container: str) -> str:
    status = container_status(pod, container) or {}
    waiting = (status.get("state") or {}).get("waiting") or {}
    return str(waiting.get("reason") or "ContainerCreating")


def _start_failure(argv: Sequence[str], exc: OSError) -> StreamError:
    if isinstance(exc, FileNotFoundError):
        why = f'exec: "{argv[0]}": executable file not found in $PATH'
    elif isinstance(exc, PermissionError):
        why = f'exec: "{argv[0]}": permission denied'
    else:
        why = str(exc)
    return StreamError(f"error executing command in container: failed to exec in container: {why}", 500)


async def _drain(source: AsyncIterator[Any] | None) -> None:
    if source is not None:
        async for _ in source:
            pass


async def _copy_out(reader: asyncio.StreamReader | None, writer: Writer | None) -> None:
    if reader is None:
        return
    while True:
        data = await reader.read(32 * 1024)
        if not data:
            return
        if writer is not None:
            await writer(data)


async def _feed_stdin(source: AsyncIterator[bytes], sink: asyncio.StreamWriter) -> None:
    try:
        async for data in source:
            sink.write(data)
            await sink.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.close()


def _kill_group(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


async def run_with_pipes(
    argv: list[str],
    env: dict[str, str],
    cwd: str | None,
    stdin: AsyncIterator[bytes] | None,
    stdout: Writer | None,
    stderr: Writer | None,
) -> int:
    pipe, devnull = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=pipe if stdin is not None else devnull,
            stdout=pipe if stdout is not None else devnull,
            stderr=pipe if stderr is not None else devnull,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        raise _start_failure(argv, exc) from None
    outputs = asyncio.gather(_copy_out(process.stdout, stdout), _copy_out(process.stderr, stderr))
    feeder = asyncio.create_task(_feed_stdin(stdin, process.stdin)) if stdin is not None and process.stdin else None
    try:
        returncode = await process.wait()
        try:
            await asyncio.wait_for(asyncio.shield(outputs), OUTPUT_DRAIN_SECONDS)
        except TimeoutError:
            pass  # a background child still holds the pipes: the command itself is done
        return exit_code_of(returncode)
    finally:
        _kill_group(process)
        outputs.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await outputs
        if feeder is not None:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await feeder


def _session_with_terminal(terminal_fd: int) -> Callable[[], None]:
    """The child's first step: a new session whose controlling terminal is the pty. It names the
    slave by its own descriptor: event loops differ in whether stdio is in place yet."""

    def setup() -> None:
        os.setsid()
        fcntl.ioctl(terminal_fd, termios.TIOCSCTTY, 0)

    return setup


def _set_window(fd: int, size: TerminalSize) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size.height, size.width, 0, 0))


async def run_in_pty(
    argv: list[str],
    env: dict[str, str],
    cwd: str | None,
    stdin: AsyncIterator[bytes] | None,
    stdout: Writer | None,
    resize: AsyncIterator[TerminalSize] | None,
    *,
    raw: bool = False,
) -> int:
    """Run argv on a new pseudo-terminal. `raw`: the program makes its own terminal (`runc exec
    --tty` does), so this one must pass bytes through unchanged — no echo, no line editing, no
    newline translation — even for input that arrives before the program set it up."""
    master, slave = pty.openpty()
    if raw:
        tty.setraw(slave)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            preexec_fn=_session_with_terminal(slave),
        )
    except OSError as exc:
        os.close(master)
        raise _start_failure(argv, exc) from None
    finally:
        os.close(slave)
    os.set_blocking(master, False)
    terminal = _PtyMaster(master)
    tasks = [asyncio.create_task(terminal.copy_out(stdout))]
    if stdin is not None:
        tasks.append(asyncio.create_task(terminal.feed(stdin)))
    if resize is not None:
        tasks.append(asyncio.create_task(terminal.resize(resize)))
    try:
        returncode = await process.wait()
        try:
            await asyncio.wait_for(asyncio.shield(tasks[0]), OUTPUT_DRAIN_SECONDS)
        except TimeoutError:
            pass
        return exit_code_of(returncode)
    finally:
        _kill_group(process)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        terminal.close()


class _PtyMaster:
    """The parent's side of a pseudo-terminal, read and written without blocking the loop."""

    def __init__(self, fd: int):
        self.fd = fd
        self._loop = asyncio.get_running_loop()
        self._closed = False

    async def _wait(self, add: Callable[..., None], remove: Callable[[int], Any]) -> None:
        ready = self._loop.create_future()
        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        add(self.fd, wake)
        try:
            await ready
        finally:
            remove(self.fd)

    async def copy_out(self, writer: Writer | None) -> None:
        while True:
            try:
                data = os.read(self.fd, 32 * 1024)
            except BlockingIOError:
                await self._wait(self._loop.add_reader, self._loop.remove_reader)
                continue
            except OSError as exc:
                if exc.errno == errno.EIO:  # every slave end closed: the terminal's output ended
                    return
                raise
            if not data:
                return
            if writer is not None:
                await writer(data)

    async def feed(self, source: AsyncIterator[bytes]) -> None:
        async for data in source:
            await self._write(data)
        await self._write(b"\x04")  # stdin ended: the terminal's end-of-file character

    async def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                await self._wait(self._loop.add_writer, self._loop.remove_writer)
                continue
            except OSError:
                return
            view = view[written:]

    async def resize(self, sizes: AsyncIterator[TerminalSize]) -> None:
        async for size in sizes:
            _set_window(self.fd, size)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                os.close(self.fd)


# ---------------------------------------------------------------------- attach stdin, netns dialing
async def _feed_fifo(fifo: Path, source: AsyncIterator[bytes]) -> None:
    fd = -1
    try:
        if fifo.exists() and stat.S_ISFIFO(fifo.stat().st_mode):
            with contextlib.suppress(OSError):
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        async for data in source:
            view = memoryview(data)
            while fd >= 0 and view:
                try:
                    view = view[os.write(fd, view) :]
                except BlockingIOError:
                    await asyncio.sleep(0.01)
                except OSError:
                    os.close(fd)
                    fd = -1
    finally:
        if fd >= 0:
            os.close(fd)


async def _connect_in_netns(netns: str, port: int) -> socket.socket:
    """A socket connected to 127.0.0.1:port from inside `netns`. The switch happens on a thread
    of its own, which ends right after (a namespace change is per thread and must not leak into
    the loop's or a pool's threads)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[socket.socket] = loop.create_future()

    def deliver(result: socket.socket | BaseException) -> None:
        if done.cancelled():
            if isinstance(result, socket.socket):
                result.close()
        elif isinstance(result, BaseException):
            done.set_exception(result)
        else:
            done.set_result(result)

    def dial() -> None:
        result: socket.socket | BaseException
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(netns, os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    code = ctypes.get_errno()
                    raise OSError(code, f"setns {netns}: {os.strerror(code)}")
            finally:
                os.close(fd)
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.setblocking(False)
            result = sock
        except BaseException as exc:  # handed to the awaiting coroutine
            result = exc
        loop.call_soon_threadsafe(deliver, result)

    threading.Thread(target=dial, name=f"netns dial {port}", daemon=True).start()
    return await done
