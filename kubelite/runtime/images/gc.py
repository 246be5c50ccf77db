"""Image garbage collection by disk usage, as the kubelet's image GC manager does it: when the
filesystem holding the store is at least `high_threshold_percent` full, remove unused images,
least recently used first, until usage is back to `low_threshold_percent`. Images used (or
pulled) within `min_age_seconds` are kept, and so is every image in the in-use set the caller
passes (images of containers that exist on the node).

Must not find out by itself which images are in use (the kubelet knows its containers), nor
run on a timer (the caller decides when to collect).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from kubelite.runtime.images.store import ImageNotFound, ImageStore

DEFAULT_HIGH_THRESHOLD_PERCENT = 85
DEFAULT_LOW_THRESHOLD_PERCENT = 80
DEFAULT_MIN_AGE_SECONDS = 120.0

FsUsage = Callable[[], tuple[int, int]]  # (capacity bytes, available bytes)


@dataclass(frozen=True, slots=True)
class GCPolicy:
    high_threshold_percent: int = DEFAULT_HIGH_THRESHOLD_PERCENT
    low_threshold_percent: int = DEFAULT_LOW_THRESHOLD_PERCENT
    min_age_seconds: float = DEFAULT_MIN_AGE_SECONDS

    def __post_init__(self) -> None:
        if not 0 <= self.low_threshold_percent <= self.high_threshold_percent <= 100:
            raise ValueError("image GC thresholds need 0 <= low <= high <= 100")


@dataclass(frozen=True, slots=True)
class GCResult:
    usage_percent: int
    wanted_bytes: int  # what had to be freed (0: below the high threshold)
    freed_bytes: int
    removed: tuple[str, ...] = field(default=())  # image ids

    @property
    def shortfall(self) -> int:
        """Bytes still to free after removing every eligible image (upstream logs this)."""
        return max(self.wanted_bytes - self.freed_bytes, 0)


def filesystem_usage(path: str) -> FsUsage:
    def usage() -> tuple[int, int]:
        stats = os.statvfs(path)
        return stats.f_blocks * stats.f_frsize, stats.f_bavail * stats.f_frsize

    return usage


class ImageGC:
    def __init__(self, store: ImageStore, policy: GCPolicy | None = None, fs_usage: FsUsage | None = None) -> None:
        self.store = store
        self.policy = policy or GCPolicy()
        self.fs_usage = fs_usage or filesystem_usage(str(store.root))

    def collect(self, in_use: Collection[str], now: float | None = None) -> GCResult:
        """Free space if usage is over the high threshold. `in_use` holds image references or
        ids of images that must stay."""
        stamp = time.time() if now is None else now
        self.store.prune(now=stamp)
        capacity, available = self.fs_usage()
        if capacity <= 0:
            return GCResult(0, 0, 0)
        usage_percent = 100 - available * 100 // capacity
        if usage_percent < self.policy.high_threshold_percent:
            return GCResult(usage_percent, 0, 0)
        wanted = capacity * (100 - self.policy.low_threshold_percent) // 100 - available
        if wanted <= 0:
            return GCResult(usage_percent, 0, 0)
        return self.free_space(wanted, in_use, stamp, usage_percent)

    def free_space(self, wanted: int, in_use: Collection[str], now: float, usage_percent: int = 0) -> GCResult:
        """Remove unused images, least recently used first, until `wanted` bytes are freed."""
        keep = set()
        for ref in in_use:
            record = self.store.get(ref)
            if record is not None:
                keep.add(record.id)
        candidates = [
            record
            for record in self.store.list()
            if record.id not in keep and now - max(record.last_used, record.created_at) >= self.policy.min_age_seconds
        ]
        candidates.sort(key=lambda r: (r.last_used, r.created_at))
        freed, removed = 0, []
        for record in candidates:
            if freed >= wanted:
                break
            try:
                result = self.store.remove(record.id)
            except ImageNotFound:
                continue  # removed meanwhile
            freed += result.freed_bytes
            removed.append(record.id)
        return GCResult(usage_percent, wanted, freed, tuple(removed))
