"""Garbage-collector settings for a long-running kubelite process. A server holds millions of
small objects (every cached object is a tree of dicts); CPython's default thresholds run a full
collection over all of them every few hundred thousand allocations, which cost the scheduler
about a fifth of its throughput (bench/scheduler.py: 698 → 884 pods/s). Most garbage is freed by
reference counting anyway; the collector only needs to find cycles, which are rare here.

Must not change anything but the gc module's settings.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 50_000  # allocations between young collections (CPython default: 700)
MIDDLE_GENERATION_THRESHOLD = 20  # young collections per middle one (default: 10)
OLD_GENERATION_THRESHOLD = 100  # middle collections per full one (default: 10)


def tune_for_server() -> None:
    """Fewer collections, for a process whose live heap is large and mostly acyclic."""
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, MIDDLE_GENERATION_THRESHOLD, OLD_GENERATION_THRESHOLD)


def freeze_startup_objects() -> None:
    """Move everything alive now (modules, schemas, the loaded store) out of the collector's sight:
    it is kept for the life of the process anyway."""
    gc.collect()
    gc.freeze()
