"""The per-container monitor, conmon's counterpart for the process runtime, run as
`python -m kubelite.runtime.process.monitor LAUNCH_JSON SYNC_FD`.

It forks away from the runtime at once (the runtime's child exits; the monitor is adopted by init
and so outlives a kubelet restart), starts the container through isolate.py with stdout/stderr on
pipes and stdin on /dev/null (or the attach FIFO), and reports on SYNC_FD one JSON line:
{"pid": container pid, "pgid": process group, "monitor": its own pid} or {"error": message}.
Then it writes the container's output to the CRI log (one `F` entry per line, a trailing piece
without newline as `P`, as conmon does), rotating it by size, until the container exits; in host
mode it then SIGKILLs what is left of the container's process group (as the end of a PID
namespace would). Last, after the output drained (2 s at most), the exit code is written to the
exit file by rename, its mtime being the moment of the exit.

`--probe SCRATCH USERNS` checks, in a throw-away child, whether namespaces and an overlay mount
work here and prints what it found as JSON (host.py asks it once at start-up).

Must not import anything heavier than the standard library, launch.py, isolate.py and
containerlogs.py (it starts for every container), nor decide restarts or read the API.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import sys
import time
from pathlib import Path

from kubelite.runtime import containerlogs
from kubelite.runtime.process import isolate
from kubelite.runtime.process import syscalls as sc
from kubelite.runtime.process.launch import HOST, LaunchSpec

READ_CHUNK = 64 * 1024
DRAIN_SECONDS = 2.0
POLL_SECONDS = 0.25


class LogWriter:
    """CRI-format entries appended to one log file, rotated once it reaches max_size."""

    def __init__(self, path: Path, max_size: int, max_files: int) -> None:
        self.path = path
        self.max_size = max_size
        self.max_files = max_files
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size

    def write(self, stream: str, data: bytes, now: float | None = None) -> None:
        moment = time.time() if now is None else now
        lines = data.split(b"\n")
        rest = lines.pop()
        out = b"".join(containerlogs.format_line(moment, stream, line) for line in lines)
        if rest:
            out += containerlogs.format_line(moment, stream, rest, partial=True)
        view = memoryview(out)
        while view:
            view = view[os.write(self.fd, view) :]
        self.size += len(out)
        if self.max_size > 0 and self.size >= self.max_size:
            with contextlib.suppress(OSError):
                containerlogs.rotate(self.path, self._reopen, max_files=self.max_files, now=moment)

    def _reopen(self) -> bool:
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = 0
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _stdin(spec: LaunchSpec) -> int:
    if spec.stdin_fifo:
        with contextlib.suppress(OSError):
            return os.open(spec.stdin_fifo, os.O_RDWR)  # read-write: never sees end-of-file
    return os.open(os.devnull, os.O_RDONLY)


def _read_status(fd: int) -> tuple[int | None, str]:
    """The child's `pid N` / `error MESSAGE` lines, until every writer closed the pipe."""
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    pid: int | None = None
    error = ""
    for line in data.decode(errors="replace").splitlines():
        word, _, rest = line.partition(" ")
        if word == "pid" and rest.strip().isdigit():
            pid = int(rest)
        elif word == "error" and not error:
            error = rest.strip()
    return pid, error


def _send(fd: int, message: dict[str, object]) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, json.dumps(message).encode() + b"\n")
    with contextlib.suppress(OSError):
        os.close(fd)


def _write_exit(path: Path, code: int, finished: float) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(str(code))
    os.utime(temporary, (finished, finished))
    temporary.rename(path)


def run(spec: LaunchSpec, sync_fd: int) -> int:
    stdin = _stdin(spec)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    status_r, status_w = os.pipe2(os.O_CLOEXEC)
    child = os.fork()
    if child == 0:
        for fd in (out_r, err_r, status_r, sync_fd):
            os.close(fd)
        isolate.start(spec, (stdin, out_w, err_w), status_w)
    for fd in (out_w, err_w, status_w, stdin):
        os.close(fd)
    pid, error = _read_status(status_r)
    os.close(status_r)
    if error or pid is None:
        _send(sync_fd, {"error": error or "the container process ended before it started"})
        os.waitpid(child, 0)
        return 0
    _send(sync_fd, {"pid": pid, "pgid": child, "monitor": os.getpid()})
    writer = LogWriter(Path(spec.log_path), spec.log_max_size, spec.log_max_files)
    status = _pump(child, {out_r: containerlogs.STDOUT, err_r: containerlogs.STDERR}, writer, spec.isolation == HOST)
    writer.close()
    _write_exit(Path(spec.exit_file), status[0], status[1])
    return 0


def _pump(child: int, streams: dict[int, str], writer: LogWriter, kill_group: bool) -> tuple[int, float]:
    """Copy output to the log until the child exited and its output ended (or drained for 2 s);
    (exit code, when it exited)."""
    selector = selectors.DefaultSelector()
    for fd in streams:
        selector.register(fd, selectors.EVENT_READ)
    pidfd = -1
    with contextlib.suppress(OSError, AttributeError):
        pidfd = os.pidfd_open(child)
        selector.register(pidfd, selectors.EVENT_READ)
    open_streams = set(streams)
    result: tuple[int, float] | None = None
    deadline = 0.0
    while True:
        timeout = POLL_SECONDS if pidfd < 0 else None
        if result is not None:
            timeout = max(0.0, deadline - time.monotonic())
        for key, _ in selector.select(timeout):
            fd = int(key.fd)
            if fd == pidfd:
                selector.unregister(pidfd)
                continue
            try:
                data = os.read(fd, READ_CHUNK)
            except OSError:
                data = b""
            if data:
                writer.write(streams[fd], data)
            else:
                selector.unregister(fd)
                os.close(fd)
                open_streams.discard(fd)
        if result is None:
            waited, wait_status = os.waitpid(child, os.WNOHANG)
            if waited == child:
                result = (isolate.exit_code(wait_status), time.time())
                deadline = time.monotonic() + DRAIN_SECONDS
                if kill_group:
                    with contextlib.suppress(OSError):
                        os.killpg(child, signal.SIGKILL)
        if result is not None and (not open_streams or time.monotonic() >= deadline):
            break
    for fd in open_streams:
        os.close(fd)
    if pidfd >= 0:
        os.close(pidfd)
    assert result is not None
    return result


# ---------------------------------------------------------------------- probe
def probe(scratch: Path, user_namespace: bool) -> dict[str, object]:
    """What a container start would manage here: {"namespaces": bool, "overlay": bool,
    "error": why namespaces failed, "overlay_error": why overlay failed}."""
    for name in ("lower", "upper", "work", "merged"):
        (scratch / name).mkdir(parents=True, exist_ok=True)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        try:
            _probe_child(scratch, user_namespace, write_end)
        except BaseException as exc:
            isolate.report(write_end, "error " + isolate.describe(exc))
        os._exit(0)
    os.close(write_end)
    lines = b""
    while chunk := os.read(read_end, 4096):
        lines += chunk
    os.close(read_end)
    os.waitpid(child, 0)
    found: dict[str, object] = {"namespaces": False, "overlay": False, "error": "", "overlay_error": ""}
    for line in lines.decode(errors="replace").splitlines():
        word, _, rest = line.partition(" ")
        if word == "namespaces":
            found["namespaces"] = True
        elif word == "overlay":
            found["overlay"] = True
        elif word == "overlay-error":
            found["overlay_error"] = rest
        elif word == "error":
            found["error"] = rest
    return found


def _probe_child(scratch: Path, user_namespace: bool, out: int) -> None:
    uid, gid = os.getuid(), os.getgid()
    flags = sc.CLONE_NEWNS | sc.CLONE_NEWPID | sc.CLONE_NEWIPC | sc.CLONE_NEWUTS
    sc.unshare(flags | (sc.CLONE_NEWUSER if user_namespace else 0))
    if user_namespace:
        for path, text in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", f"0 {uid} 1"), ("/proc/self/gid_map", f"0 {gid} 1")):
            with open(path, "w") as handle:
                handle.write(text)
    grandchild = os.fork()
    if grandchild == 0:
        try:
            sc.mount("none", "/", None, sc.MS_REC | sc.MS_PRIVATE)
            sc.mount("tmpfs", str(scratch / "merged"), "tmpfs", 0, "size=64k")
            sc.umount(str(scratch / "merged"))
            sc.sethostname("probe")
            isolate.report(out, "namespaces")
            try:
                options = f"lowerdir={scratch / 'lower'},upperdir={scratch / 'upper'},workdir={scratch / 'work'}"
                sc.mount("overlay", str(scratch / "merged"), "overlay", 0, options)
                isolate.report(out, "overlay")
            except OSError as exc:
                isolate.report(out, "overlay-error " + isolate.describe(exc))
        except BaseException as exc:
            isolate.report(out, "error " + isolate.describe(exc))
        os._exit(0)
    os.close(out)
    os.waitpid(grandchild, 0)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--probe"] and len(argv) == 3:
        print(json.dumps(probe(Path(argv[1]), argv[2] == "1")), flush=True)
        return 0
    if len(argv) != 2:
        print("usage: monitor LAUNCH_JSON SYNC_FD | --probe SCRATCH USERNS", file=sys.stderr)
        return 2
    spec = LaunchSpec.read(Path(argv[0]))
    sync_fd = int(argv[1])
    if os.fork() > 0:
        os._exit(0)  # the runtime's child ends now; the monitor goes on, adopted by init
    os.setsid()
    try:
        return run(spec, sync_fd)
    except BaseException as exc:
        _send(sync_fd, {"error": f"monitor: {isolate.describe(exc)}"})
        raise


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
