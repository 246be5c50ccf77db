"""Fixtures for the storage tests: every backend behind one `store` fixture, and real etcd servers.

etcd runs as real processes (the Debian etcd-server binary), one shared by the ordinary tests and
one for tests that compact (a compaction is global and would break "watch from revision 0"
elsewhere). Each test gets its own key prefix, so tests sharing an etcd never see each other's keys.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from storage_harness import Store

from kubelite.storage.backend import Backend
from kubelite.storage.etcd import EtcdBackend
from kubelite.storage.etcd_server import ETCD_BINARY, INSTALL_HINT, LocalEtcd
from kubelite.storage.memory import MemoryBackend
from kubelite.storage.sqlite import SqliteBackend

BACKENDS = ["memory", "sqlite", "etcd"]


def _run_etcd(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[str]:
    if not os.access(ETCD_BINARY, os.X_OK):
        pytest.fail(f"etcd tests need {ETCD_BINARY}: {INSTALL_HINT}", pytrace=False)
    server = LocalEtcd(tmp_path_factory.mktemp(name))
    server.start()
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture(scope="session")
def etcd_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _run_etcd(tmp_path_factory, "etcd-shared")


@pytest.fixture(scope="session")
def compacting_etcd_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _run_etcd(tmp_path_factory, "etcd-compacting")


async def _open(kind: str, request: pytest.FixtureRequest, tmp_path: Path, etcd_fixture: str) -> Backend:
    backend: Backend
    if kind == "memory":
        backend = MemoryBackend()
    elif kind == "sqlite":
        backend = SqliteBackend(str(tmp_path / "state.db"))
    else:
        backend = EtcdBackend([request.getfixturevalue(etcd_fixture)])
    await backend.start()
    return backend


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend = await _open(request.param, request, tmp_path, "etcd_endpoint")
    try:
        yield Store(backend, f"/t-{uuid.uuid4().hex[:12]}")
    finally:
        await backend.close()


@pytest.fixture(params=BACKENDS)
async def compacting_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend = await _open(request.param, request, tmp_path, "compacting_etcd_endpoint")
    try:
        yield Store(backend, f"/t-{uuid.uuid4().hex[:12]}")
    finally:
        await backend.close()
