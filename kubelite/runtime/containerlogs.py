"""Container logs in the CRI format, shared by the runtimes (one file per container attempt:
DATA/pods/<pod uid>/<container>/<restart count>.log), written by conmon (OCI runtime) or the
process runtime's monitor as
`<RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>` lines (P: a partial line continued by
the next entry), and rotated by size as the kubelet's container log manager does: the file is
renamed to `<file>.<YYYYMMDD-HHMMSS>`, the writer told to reopen it, older rotated files are
gzipped and the oldest removed so at most `max_files` files remain.

Must not decide follow/tail/since semantics for `kubectl logs` (the kubelet's log server does,
with `parse_line` and `log_files`); it never writes container output itself.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

STDOUT = "stdout"
STDERR = "stderr"
FULL = b"F"
PARTIAL = b"P"
ROTATED_TIME_FORMAT = "%Y%m%d-%H%M%S"
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_FILES = 5
TERMINATION_LOG_LINES = 80
TERMINATION_LOG_BYTES = 2048


class LogLine(NamedTuple):
    timestamp: str
    stream: str
    partial: bool
    content: bytes  # without the trailing newline


def rfc3339_nano(seconds: float) -> str:
    """`2024-01-02T03:04:05.123456789Z` (Go's RFC3339Nano keeps trailing zeros off; CRI log
    writers keep nine digits, as here)."""
    whole = int(seconds)
    nanos = int(round((seconds - whole) * 1e9))
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    moment = datetime.datetime.fromtimestamp(whole, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def format_line(seconds: float, stream: str, content: bytes, partial: bool = False) -> bytes:
    return rfc3339_nano(seconds).encode() + b" " + stream.encode() + b" " + (PARTIAL if partial else FULL) + b" " + content + b"\n"


def parse_line(raw: bytes) -> LogLine | None:
    """One CRI log line (with or without its newline); None when it is not one."""
    line = raw[:-1] if raw.endswith(b"\n") else raw
    parts = line.split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr"):
        return None
    tag = parts[2]
    partial = tag.split(b":")[0] == PARTIAL
    return LogLine(parts[0].decode(), parts[1].decode(), partial, parts[3] if len(parts) > 3 else b"")


def parse_timestamp(text: str) -> float:
    """Seconds since the epoch of an RFC3339(Nano) timestamp with Z or an offset."""
    main, _, rest = text.partition(".")
    fraction = ""
    zone = "Z"
    if rest:
        digits = 0
        while digits < len(rest) and rest[digits].isdigit():
            digits += 1
        fraction, zone = rest[:digits], rest[digits:] or "Z"
    else:
        for marker in ("Z", "+", "-"):
            index = main.find(marker, 19)
            if index > 0:
                main, zone = main[:index], main[index:]
                break
    moment = datetime.datetime.strptime(main, "%Y-%m-%dT%H:%M:%S")
    offset = datetime.timedelta(0)
    if zone not in ("Z", "z") and len(zone) >= 6:
        sign = -1 if zone[0] == "-" else 1
        offset = sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    base = moment.replace(tzinfo=datetime.UTC) - offset
    return base.timestamp() + (float("0." + fraction) if fraction else 0.0)


def read_lines(path: Path) -> Iterator[LogLine]:
    """The entries of one log file, gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with contextlib.suppress(FileNotFoundError), opener(path, "rb") as handle:  # type: ignore[operator]
        for raw in handle:
            parsed = parse_line(raw)
            if parsed is not None:
                yield parsed


def log_files(path: Path) -> list[Path]:
    """The rotated files of a log (oldest first) followed by the log itself when present."""
    rotated = sorted(p for p in path.parent.glob(path.name + ".*") if not p.name.endswith(".tmp"))
    return rotated + ([path] if path.exists() else [])


def tail_message(path: Path, lines: int = TERMINATION_LOG_LINES, limit: int = TERMINATION_LOG_BYTES) -> str:
    """The last lines of a container's output joined into a termination message (the kubelet's
    FallbackToLogsOnError)."""
    entries: list[bytes] = []
    pending = b""
    for entry in read_lines(path):
        pending += entry.content
        if not entry.partial:
            entries.append(pending + b"\n")
            pending = b""
            if len(entries) > lines:
                entries.pop(0)
    if pending:
        entries.append(pending)
        entries = entries[-lines:]
    text = b"".join(entries)
    return text[-limit:].decode(errors="replace")


def rotate(path: Path, reopen: Callable[[], bool], *, max_files: int = DEFAULT_MAX_FILES, now: float | None = None) -> bool:
    """Rotate `path` now: rename it aside, ask the writer to reopen (`reopen()` False or raising:
    the rename is undone), gzip older rotated files and drop the oldest beyond max_files.
    Returns whether it rotated."""
    if not path.exists():
        return False
    stamp = datetime.datetime.fromtimestamp(now if now is not None else datetime.datetime.now().timestamp(), datetime.UTC)
    target = path.with_name(f"{path.name}.{stamp.strftime(ROTATED_TIME_FORMAT)}")
    if target.exists():
        return False  # rotated within this second already
    os.rename(path, target)
    try:
        reopened = reopen()
    except OSError:
        reopened = False
    if not reopened:
        os.rename(target, path)
        return False
    rotated = [p for p in log_files(path) if p != path]
    for older in rotated[:-1]:
        if older.suffix != ".gz":
            _gzip(older)
    rotated = [p for p in log_files(path) if p != path]
    for extra in rotated[: max(0, len(rotated) - (max_files - 1))]:
        with contextlib.suppress(OSError):
            extra.unlink()
    return True


def _gzip(path: Path) -> None:
    temporary = path.with_name(path.name + ".gz.tmp")
    with open(path, "rb") as source, gzip.open(temporary, "wb") as sink:
        shutil.copyfileobj(source, sink)
    os.rename(temporary, path.with_name(path.name + ".gz"))
    path.unlink()


def needs_rotation(path: Path, max_size: int) -> bool:
    try:
        return path.stat().st_size >= max_size > 0
    except OSError:
        return False
