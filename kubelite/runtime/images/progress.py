"""Pull progress as records and as the one-line text a CLI or log prints, and sizes in the
decimal units crictl and docker use.

Must not do I/O: callers decide where a progress line goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PullProgress:
    reference: str
    layers_total: int  # layers to fetch (those already in the store are not counted)
    layers_done: int
    bytes_total: int
    bytes_done: int


def human_size(size: float) -> str:
    """Decimal units with three significant digits, as crictl and docker print sizes."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    index = 0
    while size >= 1000 and index < len(units) - 1:
        size /= 1000
        index += 1
    return f"{size:.3g}{units[index]}"


def format_progress(progress: PullProgress) -> str:
    """One progress line, e.g. `Pulling docker.io/library/busybox:latest: 1/2 layers, 1.2MB/2.2MB`."""
    return (
        f"Pulling {progress.reference}: {progress.layers_done}/{progress.layers_total} layers, "
        f"{human_size(progress.bytes_done)}/{human_size(progress.bytes_total)}"
    )


ProgressCallback = Callable[[PullProgress], None]
