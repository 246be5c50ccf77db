"""Driving the OCI runtime binary (runc, or crun where it starts) with conmon as each container's
monitor. `create` starts conmon, which runs `<runtime> create` with the container's stdout and
stderr on pipes it reads into the CRI-format log, reports the container's pid on a sync pipe
(`_OCI_SYNCPIPE`), and, when the container exits, reaps it and writes its exit code to
`<exit dir>/<container id>`. conmon outlives the kubelet, so logs keep flowing and exit codes are
kept across a kubelet restart. `start`, `kill`, `delete`, `state` and `exec` call the binary
directly, with a private `--root` under the data dir.

Must not decide when to start or stop containers, nor build their configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from kubelite.runtime.oci import commands
from kubelite.runtime.oci.cgroups import CgroupLayout
from kubelite.runtime.oci.errors import OciCommandError
from kubelite.runtime.syncpipe import read_line

CONMON_SYNC_TIMEOUT = 30.0
RECONNECT_CTL = b"2 0 0\n"  # conmon's ctl message: reopen the log file


@dataclass(frozen=True, slots=True)
class OciBinary:
    name: str  # "runc" or "crun"
    path: str
    version: str


def crun_starts(layout: CgroupLayout) -> bool:
    """crun refuses hybrid cgroups when the cgroup2 root offers controllers (PLATFORM.md)."""
    return not (layout.mode == "hybrid" and layout.v2_controllers)


def _version(path: str) -> str:
    try:
        output = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 3 and words[1] == "version":
            return words[2]
    return "unknown"


def choose_binary(layout: CgroupLayout, preference: str = "auto") -> OciBinary | None:
    """crun where it starts, else runc (`preference` "runc" or "crun" forces one); None when
    neither is installed."""
    crun = shutil.which("crun")
    runc = shutil.which("runc")
    order: list[tuple[str, str | None]]
    if preference == "runc":
        order = [("runc", runc)]
    elif preference == "crun":
        order = [("crun", crun)]
    elif preference == "auto":
        order = [("crun", crun if crun_starts(layout) else None), ("runc", runc)]
    else:
        return None
    for name, path in order:
        if path:
            return OciBinary(name, path, _version(path))
    return None


class Runner:
    def __init__(self, binary: OciBinary, conmon: str, root: Path, exit_dir: Path, socket_dir: Path) -> None:
        self.binary = binary
        self.conmon = conmon
        self.root = root
        self.exit_dir = exit_dir
        self.socket_dir = socket_dir
        for directory in (root, exit_dir, socket_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def _argv(self, *args: str) -> list[str]:
        return [self.binary.path, "--root", str(self.root), *args]

    async def create(self, container_id: str, bundle: Path, log_path: Path, name: str) -> int:
        """Create the container under a new conmon; the container's pid (its process waits for
        `start`). conmon's pid is left in bundle/conmon.pid."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        read_end, write_end = os.pipe()
        argv = [
            self.conmon,
            "--api-version", "1",
            "-c", container_id,
            "-u", container_id,
            "-n", name,
            "-r", self.binary.path,
            "-b", str(bundle),
            "-p", str(bundle / "pidfile"),
            "-P", str(bundle / "conmon.pid"),
            "-l", f"k8s-file:{log_path}",
            "--exit-dir", str(self.exit_dir),
            "--socket-dir-path", str(self.socket_dir),
            "--runtime-arg", "--root",
            "--runtime-arg", str(self.root),
            "--log-level", "error",
        ]  # fmt: skip
        env = dict(commands.BASE_ENV, _OCI_SYNCPIPE=str(write_end))
        # conmon's stderr goes to a file, not a pipe: its daemonized child keeps the descriptor,
        # so waiting for a pipe's end (uvloop's communicate() does) would last until a timeout
        errors_path = bundle / "conmon.err"
        try:
            with open(errors_path, "wb") as errors_file:
                process = subprocess.Popen(  # vfork: cheap (commands.py)
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=errors_file,
                    env=env,
                    pass_fds=(write_end,),
                    start_new_session=True,
                    cwd=str(bundle),  # conmon drops files (e.g. "oom") in its working directory
                )
        finally:
            os.close(write_end)
        try:
            message = await asyncio.wait_for(_read_sync(read_end), CONMON_SYNC_TIMEOUT)
        finally:
            os.close(read_end)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(commands.wait_exit(process), 5)
        stderr = b""
        with contextlib.suppress(OSError):
            stderr = errors_path.read_bytes()[:4096]
        pid = message.get("data")
        if not isinstance(pid, int) or pid <= 0:
            text = str(message.get("message") or stderr.decode(errors="replace").strip() or "conmon failed")
            raise OciCommandError(text)
        return pid

    async def start(self, container_id: str) -> None:
        await commands.check(self._argv("start", container_id))

    async def kill(self, container_id: str, signal_name: str, *, all_processes: bool = False) -> bool:
        """Send a signal; False when the container is no longer running."""
        args = ["kill"] + (["--all"] if all_processes else []) + [container_id, signal_name]
        done = await commands.run(self._argv(*args))
        return done.returncode == 0

    async def delete(self, container_id: str) -> None:
        """Delete (force: kill first) a container; an unknown id is fine."""
        done = await commands.run(self._argv("delete", "--force", container_id))
        if done.returncode != 0 and (self.root / container_id).exists():
            raise OciCommandError(done.error_text())

    async def state(self, container_id: str) -> dict[str, Any] | None:
        done = await commands.run(self._argv("state", container_id))
        if done.returncode != 0:
            return None
        state = orjson.loads(done.stdout)
        return state if isinstance(state, dict) else None

    def exec_argv(self, container_id: str, argv: Sequence[str], *, tty: bool = False, env: Sequence[str] = ()) -> list[str]:
        """The command line that runs `argv` in the container (for streaming exec)."""
        args = ["exec"] + (["--tty"] if tty else [])
        for entry in env:
            args += ["--env", entry]
        return self._argv(*args, container_id, *argv)

    async def exec_sync(self, container_id: str, argv: Sequence[str], timeout: float) -> commands.Completed:
        return await commands.run(self.exec_argv(container_id, argv), timeout=timeout)

    def known(self, container_id: str) -> bool:
        return (self.root / container_id).exists()


def reopen_log(bundle: Path) -> bool:
    """Ask the container's conmon to reopen its log file (after a rotation)."""
    try:
        fd = os.open(bundle / "ctl", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        os.write(fd, RECONNECT_CTL)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


async def _read_sync(fd: int) -> dict[str, Any]:
    """conmon's first sync-pipe message: {"data": pid} or {"data": -1, "message": "..."}."""
    line = (await read_line(fd)).strip()
    if not line:
        return {}
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {"data": -1, "message": line.decode(errors="replace")}
    return message if isinstance(message, dict) else {}
