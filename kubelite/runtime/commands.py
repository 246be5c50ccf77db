"""Running host tools (runc/crun, ip, iptables, nft, CNI plugins, conmon) as child processes from
the event loop.

A pod start runs half a dozen of them and every proxy sync runs nft, so spawning must be cheap:
children are started with `subprocess.Popen`, which uses vfork (the parent's page tables are not
copied; uvloop's own spawn forks the whole, large, server process on the loop thread), and their
pipes and exit are then awaited on the loop (non-blocking reads, a pidfd for the exit) — no thread
per child.

Must not use a shell or inherit the caller's stdin: arguments go as a list, input through a pipe;
must not interpret a tool's failure (callers raise their own errors from `Completed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_TIMEOUT = 30.0
BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
READ_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    def error_text(self) -> str:
        text = (self.stderr or self.stdout).decode(errors="replace").strip()
        return text or f"{os.path.basename(self.argv[0])} exited with {self.returncode}"


async def _ready(fd: int, add: Callable[..., Any], remove: Callable[[int], Any]) -> None:
    """Until `fd` is readable (add = loop.add_reader) or writable (loop.add_writer)."""
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not waiter.done():
            waiter.set_result(None)

    add(fd, wake)
    try:
        await waiter
    finally:
        remove(fd)


async def _read_all(fd: int) -> bytes:
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(fd, READ_SIZE)
        except BlockingIOError:
            await _ready(fd, loop.add_reader, loop.remove_reader)
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


async def _write_all(fd: int, data: bytes) -> None:
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    view = memoryview(data)
    try:
        while view:
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                await _ready(fd, loop.add_writer, loop.remove_writer)
    except BrokenPipeError:
        pass  # the child does not read its input: its exit status says how it went


async def wait_exit(process: subprocess.Popen[bytes]) -> int:
    """The child's exit status, awaited on the loop (its pidfd becomes readable when it ends)."""
    if process.poll() is not None:
        return process.returncode
    try:
        pidfd = os.pidfd_open(process.pid)
    except ProcessLookupError:
        return process.wait()
    try:
        loop = asyncio.get_running_loop()
        while process.poll() is None:
            await _ready(pidfd, loop.add_reader, loop.remove_reader)
    finally:
        os.close(pidfd)
    return process.returncode


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()


async def run(
    argv: Sequence[str], *, stdin: bytes | None = None, env: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT
) -> Completed:
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else BASE_ENV,
    )
    assert process.stdout is not None and process.stderr is not None
    async def feed() -> None:
        if process.stdin is not None:
            await _write_all(process.stdin.fileno(), stdin or b"")
            process.stdin.close()

    try:
        async with asyncio.timeout(timeout):
            _, stdout, stderr = await asyncio.gather(feed(), _read_all(process.stdout.fileno()), _read_all(process.stderr.fileno()))
            returncode = await wait_exit(process)
    except BaseException:  # a timeout, a cancellation: the child must not outlive its caller
        _kill(process)
        raise
    finally:
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
    return Completed(tuple(argv), returncode or 0, stdout, stderr)
