"""Image garbage collection by disk thresholds, with a fake filesystem usage."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.runtime.images.gc import GCPolicy, ImageGC
from kubelite.runtime.images.store import ImageStore
from tests.runtime.images_harness import add_artifact as add
from tests.runtime.images_harness import small_image

CAPACITY = 1_000_000


class FakeDisk:
    def __init__(self, store: ImageStore, base_used: int) -> None:
        self.store = store
        self.base_used = base_used

    def __call__(self) -> tuple[int, int]:
        return CAPACITY, CAPACITY - self.base_used - self.store.disk_usage()


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    store = ImageStore.for_data_dir(tmp_path)
    add(store, small_image("a" * 20000), "example.com/a:1", now=1000.0)  # oldest use
    add(store, small_image("b" * 20000), "example.com/b:1", now=2000.0)
    add(store, small_image("c" * 20000), "example.com/c:1", now=3000.0)
    return store


def test_below_the_high_threshold_nothing_happens(store: ImageStore) -> None:
    disk = FakeDisk(store, base_used=100_000)
    result = ImageGC(store, GCPolicy(85, 80), disk).collect(in_use=(), now=10_000.0)
    assert result.wanted_bytes == 0 and result.removed == ()
    assert len(store.list()) == 3


def test_least_recently_used_unused_images_go_first(store: ImageStore) -> None:
    disk = FakeDisk(store, base_used=CAPACITY * 85 // 100 - store.disk_usage())  # exactly at 85%
    gc = ImageGC(store, GCPolicy(high_threshold_percent=85, low_threshold_percent=84, min_age_seconds=0), disk)
    in_use_id = store.resolve("example.com/a:1").id
    result = gc.collect(in_use={in_use_id}, now=10_000.0)
    assert result.usage_percent == 85
    assert result.wanted_bytes == CAPACITY // 100  # back down to 84%
    # a is the least recently used but in use; b is next, and removing it is enough.
    assert {t for r in store.list() for t in r.tags} == {"example.com/a:1", "example.com/c:1"}
    assert len(result.removed) == 1 and result.freed_bytes >= result.wanted_bytes and result.shortfall == 0
    assert 100 - disk()[1] * 100 // CAPACITY < 85


def test_recently_used_images_are_kept(store: ImageStore) -> None:
    disk = FakeDisk(store, base_used=CAPACITY * 99 // 100 - store.disk_usage())
    gc = ImageGC(store, GCPolicy(85, 80, min_age_seconds=1500.0), disk)
    result = gc.collect(in_use=(), now=3400.0)  # only a (used at 1000) is older than 1500 s
    assert len(result.removed) == 1
    assert {t for r in store.list() for t in r.tags} == {"example.com/b:1", "example.com/c:1"}
    assert result.shortfall > 0  # 99% full and nothing else may go: upstream reports this


def test_policy_is_checked() -> None:
    with pytest.raises(ValueError):
        GCPolicy(high_threshold_percent=70, low_threshold_percent=80)
