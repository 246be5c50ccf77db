"""open_backend: storage specs to backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.storage.etcd import EtcdBackend
from kubelite.storage.factory import open_backend
from kubelite.storage.memory import MemoryBackend
from kubelite.storage.sqlite import SqliteBackend


def test_sqlite_lives_in_the_data_dir(tmp_path: Path) -> None:
    backend = open_backend("sqlite", tmp_path)
    assert isinstance(backend, SqliteBackend)
    assert backend.path == str(tmp_path / "state.db")
    assert not (tmp_path / "state.db").exists()  # opening is start()'s job


def test_memory(tmp_path: Path) -> None:
    assert isinstance(open_backend("memory", tmp_path), MemoryBackend)


def test_etcd_endpoints(tmp_path: Path) -> None:
    backend = open_backend("etcd://h1:2379,h2:2379", tmp_path)
    assert isinstance(backend, EtcdBackend)
    assert backend.endpoints == ["http://h1:2379", "http://h2:2379"]
    single = open_backend("etcd://127.0.0.1:2379", tmp_path)
    assert isinstance(single, EtcdBackend) and single.endpoints == ["http://127.0.0.1:2379"]


@pytest.mark.parametrize("spec", ["postgres", "", "SQLITE", "etcd://", "etcd://h1:2379,", "etcd://h1/x"])
def test_unknown_or_malformed_specs_are_rejected(tmp_path: Path, spec: str) -> None:
    with pytest.raises(ValueError, match="storage spec") as caught:
        open_backend(spec, tmp_path)
    assert '"sqlite", "memory" or "etcd://' in str(caught.value)
