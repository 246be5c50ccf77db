"""The nginx master the ingress controller runs as its own child: `nginx -p PREFIX -c CONF -g
'daemon off;'` under a prefix in the data dir, checked with `nginx -t` before any reload,
reloaded with SIGHUP (what `nginx -s reload` sends), stopped by PID (SIGQUIT for a graceful
stop, SIGKILL when that takes too long). The master leads its own process group, so workers a
killed master leaves behind (they keep serving, and keep the ports) are killed by that group id.
The master dies with the process that started it (PR_SET_PDEATHSIG), and a master left behind
under the same prefix by an earlier run (its PID in the pid file and its command line naming the
prefix) is stopped before starting a new one.

Must not render configuration, nor signal any process but its own master (or that earlier
master of the same prefix).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import time
from pathlib import Path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class NginxError(Exception):
    """nginx refused to start or a command failed; the message carries its output."""


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _read_pid(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _alive(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie awaiting its parent has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _kill_group(leader: int) -> None:
    """SIGKILL whatever is left in the process group a master of ours led (its workers)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)


class NginxProcess:
    def __init__(self, prefix: Path, conf: Path, pid_file: Path, binary: str = "nginx"):
        self.prefix = prefix
        self.conf = conf
        self.pid_file = pid_file
        self.binary = binary
        self.output_file = prefix / "logs" / "nginx.out"
        self._process: asyncio.subprocess.Process | None = None

    def _args(self, conf: Path, *extra: str) -> list[str]:
        return [self.binary, "-p", f"{self.prefix}/", "-c", str(conf), "-g", "daemon off;", *extra]

    @property
    def pid(self) -> int:
        return self._process.pid if self._process is not None else 0

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    # ------------------------------------------------------------------ commands
    async def test(self, conf: Path) -> tuple[bool, str]:
        """`nginx -t` of a configuration file: (accepted, what nginx said)."""
        process = await asyncio.create_subprocess_exec(
            *self._args(conf, "-t", "-q"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        return process.returncode == 0, output.decode(errors="replace").strip()

    async def start(self) -> None:
        """Start the master on the current configuration; returns once it has bound its listeners
        (it writes its pid file only then), or raises NginxError with what it said."""
        if self.running:
            return
        await self._stop_leftover()
        self.output_file.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.pid_file.unlink()
        with open(self.output_file, "ab") as output:
            self._process = await asyncio.create_subprocess_exec(
                *self._args(self.conf),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                preexec_fn=_die_with_parent,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while _read_pid(self.pid_file) != self._process.pid:
            if self._process.returncode is not None or time.monotonic() > deadline:
                await self.stop()
                raise NginxError(f"nginx did not start: {self._tail()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._process.wait(), 0.01)

    def reload(self) -> None:
        """Make the master load its configuration file again (as `nginx -s reload`)."""
        if not self.running:
            raise NginxError("nginx is not running")
        os.kill(self.pid, signal.SIGHUP)

    async def wait(self) -> int:
        """Wait for the master to exit (then kill what is left of its process group); its exit
        status."""
        process = self._process
        if process is None:
            return 0
        status = await process.wait()
        _kill_group(process.pid)
        return status

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Graceful stop (SIGQUIT), then SIGKILL after `timeout`; idempotent."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGQUIT)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        _kill_group(process.pid)

    # ------------------------------------------------------------------ helpers
    async def _stop_leftover(self) -> None:
        pid = _read_pid(self.pid_file)
        if not pid or not _alive(pid) or str(self.prefix) not in _command_line(pid):
            return
        log.warning("stopping nginx master %d left behind under %s", pid, self.prefix)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _alive(pid) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _kill_group(pid)

    def _tail(self, limit: int = 2000) -> str:
        try:
            return self.output_file.read_bytes()[-limit:].decode(errors="replace").strip()
        except OSError:
            return ""
