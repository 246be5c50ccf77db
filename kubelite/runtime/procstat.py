"""Facts about host processes read from /proc that both runtimes use to recognise a process they
started (a PID alone may have been reused): its start time.

Must not signal, wait for or otherwise act on processes.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


def process_start_time(pid: int) -> str | None:
    """The start-time field of /proc/<pid>/stat; None when the process is gone or a zombie."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        if fields and fields[0] not in ("Z", "X") and len(fields) > 19:
            return fields[19]
    return None
