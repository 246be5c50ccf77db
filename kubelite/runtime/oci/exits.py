"""Noticing container exits: conmon writes `<exit dir>/<container id>` (the exit code as text,
by rename) once it has reaped the container. One inotify watch on that directory (through libc)
wakes the event loop; where inotify is unavailable the directory is polled.

Must not interpret exit codes or touch container state: it only reports container ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import os
import struct
from collections.abc import Callable
from pathlib import Path

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")
POLL_INTERVAL = 1.0


@functools.cache
def _inotify() -> ctypes.CDLL:
    library = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    library.inotify_init1.argtypes = [ctypes.c_int]
    library.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    return library


def read_exit_code(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


class ExitWatcher:
    """Calls `on_exit(container_id)` on the loop for every exit file that appears."""

    def __init__(self, directory: Path, on_exit: Callable[[str], None]) -> None:
        self.directory = directory
        self.on_exit = on_exit
        self._fd = -1
        self._poller: asyncio.TimerHandle | None = None
        self._seen: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            library = _inotify()
            fd = library.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
            if fd < 0:
                raise OSError(ctypes.get_errno(), "inotify_init1")
            if library.inotify_add_watch(fd, os.fsencode(self.directory), IN_CLOSE_WRITE | IN_MOVED_TO) < 0:
                os.close(fd)
                raise OSError(ctypes.get_errno(), "inotify_add_watch")
            self._fd = fd
            self._loop.add_reader(fd, self._readable)
        except (OSError, AttributeError):
            self._schedule_poll()

    @property
    def uses_inotify(self) -> bool:
        return self._fd >= 0

    def close(self) -> None:
        if self._fd >= 0:
            if self._loop is not None:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 64 * 1024)
        except BlockingIOError:
            return
        except OSError:
            return
        offset = 0
        names = []
        while offset + _EVENT.size <= len(data):
            _, _, _, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size
            name = data[offset : offset + length].split(b"\0", 1)[0].decode(errors="replace")
            offset += length
            if name and not name.startswith("."):
                names.append(name)
        for name in dict.fromkeys(names):
            self.on_exit(name)

    def _schedule_poll(self) -> None:
        assert self._loop is not None
        self._poller = self._loop.call_later(POLL_INTERVAL, self._poll)

    def _poll(self) -> None:
        try:
            present = {entry.name for entry in os.scandir(self.directory) if not entry.name.startswith(".")}
        except OSError:
            present = set()
        for name in sorted(present - self._seen):
            self.on_exit(name)
        self._seen = present
        self._schedule_poll()
