"""Running the node's tools (runc/crun, ip, CNI plugins) as child processes from the event loop.

Must not use a shell or inherit the kubelet's stdin: arguments go as a list, input through a pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kubelite.runtime.oci.errors import OciCommandError

DEFAULT_TIMEOUT = 30.0
BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


@dataclass(frozen=True, slots=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    def error_text(self) -> str:
        text = (self.stderr or self.stdout).decode(errors="replace").strip()
        return text or f"{os.path.basename(self.argv[0])} exited with {self.returncode}"


async def run(
    argv: Sequence[str], *, stdin: bytes | None = None, env: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT
) -> Completed:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else BASE_ENV,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(stdin), timeout)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    return Completed(tuple(argv), process.returncode or 0, stdout, stderr)


async def check(
    argv: Sequence[str], *, stdin: bytes | None = None, env: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT
) -> Completed:
    """run(), raising OciCommandError with the tool's message when it fails."""
    done = await run(argv, stdin=stdin, env=env, timeout=timeout)
    if done.returncode != 0:
        raise OciCommandError(done.error_text())
    return done
