"""Container log files in the CRI format (`<RFC3339Nano time> <stdout|stderr> <P|F> <text>` per
line, P marking a partial line) and reading them as `kubectl logs` expects: tail, since,
timestamps, limitBytes and follow, over the files DATA/pods/<uid>/<container>/<restart>.log.

Must not know how containers run or who writes the files (a runtime does), nor speak HTTP.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

READ_CHUNK = 64 * 1024
FOLLOW_POLL_SECONDS = 0.1

_LOG_NAME = re.compile(r"^(\d+)\.log$")
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True, slots=True)
class LogOptions:
    """PodLogOptions as the kubelet applies them (sinceSeconds already turned into since_ns)."""

    follow: bool = False
    previous: bool = False
    tail_lines: int | None = None  # None: all lines
    since_ns: int | None = None  # records older than this (unix nanoseconds) are skipped
    timestamps: bool = False
    limit_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class LogRecord:
    timestamp: str  # as written, fraction's trailing zeros trimmed (Go's RFC3339Nano output)
    time_ns: int
    stream: str  # stdout | stderr
    partial: bool
    content: bytes  # without the line's newline

    def render(self, timestamps: bool) -> bytes:
        text = self.content if self.partial else self.content + b"\n"
        return (self.timestamp.encode() + b" " + text) if timestamps else text


def parse_timestamp(text: str) -> tuple[int, str] | None:
    """(unix nanoseconds, normalized text) of an RFC 3339 timestamp with up to nanoseconds."""
    match = _TIMESTAMP.match(text)
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    nanos = int((fraction or "").ljust(9, "0"))
    trimmed = (fraction or "").rstrip("0")
    normalized = whole + (f".{trimmed}" if trimmed else "") + zone
    return int(moment.timestamp()) * 1_000_000_000 + nanos, normalized


def parse_record(line: bytes) -> LogRecord | None:
    """One CRI log line (without its newline), or None when it is not one."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    parsed = parse_timestamp(parts[0].decode(errors="replace"))
    stream = parts[1].decode(errors="replace")
    if parsed is None or stream not in ("stdout", "stderr"):
        return None
    tags = parts[2].split(b":")
    return LogRecord(parsed[1], parsed[0], stream, b"P" in tags, parts[3] if len(parts) > 3 else b"")


def format_record(time_ns: int, stream: str, content: bytes, partial: bool = False) -> bytes:
    """A CRI log line (with newline) for `content` (which must not contain a newline)."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"
    return stamp.encode() + b" " + stream.encode() + (b" P " if partial else b" F ") + content + b"\n"


# ---------------------------------------------------------------------- files
def container_log_dir(root: Path, pod_uid: str, container: str) -> Path:
    return root / pod_uid / container


def log_files(root: Path, pod_uid: str, container: str) -> list[tuple[int, Path]]:
    """(restart number, path) of the container's log files, oldest first."""
    directory = container_log_dir(root, pod_uid, container)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = []
    for name in names:
        match = _LOG_NAME.match(name)
        if match:
            found.append((int(match.group(1)), directory / name))
    found.sort()
    return found


def tail_offset(path: Path, lines: int) -> int:
    """The offset where the last `lines` complete lines of the file start (0 when it has fewer)."""
    if lines <= 0:
        return os.path.getsize(path)
    with open(path, "rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        # the newline before the wanted lines; a final line without its newline is still being
        # written and is not counted (the first newline found ends the last complete line)
        wanted = lines + 1
        seen = 0
        while position > 0:
            step = min(READ_CHUNK, position)
            position -= step
            handle.seek(position)
            block = handle.read(step)
            index = len(block)
            while True:
                index = block.rfind(b"\n", 0, index)
                if index < 0:
                    break
                seen += 1
                if seen == wanted:
                    return position + index + 1
        return 0


async def iter_records(
    path: Path,
    *,
    start: int = 0,
    follow: bool = False,
    still_running: Callable[[], Awaitable[bool]] | None = None,
    poll: float = FOLLOW_POLL_SECONDS,
) -> AsyncGenerator[LogRecord, None]:
    """Records of the file from offset `start`. Following, it waits for more lines until
    still_running() says the writer is gone (then drains what is left); a file replaced under
    the same name (rotation) is read from its beginning."""
    handle = open(path, "rb")  # noqa: SIM115 - closed in finally; reopened on rotation
    try:
        handle.seek(start)
        pending = b""
        while True:
            block = handle.read(READ_CHUNK)
            if block:
                pending += block
                lines = pending.split(b"\n")
                pending = lines.pop()
                for line in lines:
                    record = parse_record(line)
                    if record is not None:
                        yield record
                continue
            if not follow:
                return
            if _rotated(path, handle):
                handle.close()
                handle = open(path, "rb")  # noqa: SIM115
                pending = b""
                continue
            if still_running is not None and not await still_running():
                # one last read: what was written before the writer stopped
                rest = pending + handle.read()
                for line in rest.split(b"\n"):
                    record = parse_record(line) if line else None
                    if record is not None:
                        yield record
                return
            await asyncio.sleep(poll)
    finally:
        handle.close()


def _rotated(path: Path, handle: object) -> bool:
    try:
        current = os.stat(path)
    except OSError:
        return False
    opened = os.fstat(handle.fileno())  # type: ignore[attr-defined]
    return (current.st_ino, current.st_dev) != (opened.st_ino, opened.st_dev)


async def read_log(
    path: Path,
    options: LogOptions,
    *,
    still_running: Callable[[], Awaitable[bool]] | None = None,
    poll: float = FOLLOW_POLL_SECONDS,
) -> AsyncGenerator[bytes, None]:
    """The bytes `kubectl logs` shows for one log file under `options`."""
    start = 0 if options.tail_lines is None else tail_offset(path, options.tail_lines)
    remaining = options.limit_bytes
    records = iter_records(path, start=start, follow=options.follow, still_running=still_running, poll=poll)
    try:
        async for record in records:
            if options.since_ns is not None and record.time_ns < options.since_ns:
                continue
            text = record.render(options.timestamps)
            if remaining is not None:
                if len(text) >= remaining:
                    yield text[:remaining]
                    return
                remaining -= len(text)
            yield text
    finally:
        await records.aclose()
