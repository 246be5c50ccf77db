"""SqliteBackend beyond the conformance suite: persistence across reopen, the single-owner lock,
physical compaction, and durability of acknowledged writes across kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kubelite.storage.backend import KeyValue, StorageError
from kubelite.storage.sqlite import SqliteBackend

REPO = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("durability_writer.py")


async def test_reopen_keeps_keys_revision_and_compaction(tmp_path: Path) -> None:
    path = str(tmp_path / "deep" / "state.db")
    first = SqliteBackend(path)
    await first.start()
    a = await first.create("/k/a", b"1")
    b = await first.create("/k/b", b"1")
    a2 = await first.update("/k/a", b"2", a)
    gone = (await first.delete("/k/b")).mod_revision
    await first.compact(a2)
    await first.close()

    second = SqliteBackend(path)
    await second.start()
    try:
        assert await second.current_revision() == gone
        assert await second.compacted_revision() == a2
        assert await second.get("/k/a") == KeyValue("/k/a", b"2", a, a2)
        assert await second.get("/k/b") is None
        assert await second.create("/k/c", b"1") == gone + 1
        assert b < gone
    finally:
        await second.close()


async def test_empty_store_starts_at_revision_one(tmp_path: Path) -> None:
    backend = SqliteBackend(str(tmp_path / "state.db"))
    await backend.start()
    try:
        assert await backend.current_revision() == 1
        assert await backend.create("/x", b"") == 2
    finally:
        await backend.close()


async def test_a_second_owner_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    owner = SqliteBackend(path)
    await owner.start()
    intruder = SqliteBackend(path)
    with pytest.raises(StorageError, match="in use"):
        await intruder.start()
    await owner.close()
    await intruder.start()
    await intruder.close()


async def test_operations_before_start_fail_clearly(tmp_path: Path) -> None:
    backend = SqliteBackend(str(tmp_path / "state.db"))
    with pytest.raises(StorageError, match="not open"):
        await backend.get("/x")


async def test_compaction_deletes_superseded_rows_and_tombstones(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    backend = SqliteBackend(path)
    await backend.start()
    try:
        live = await backend.create("/k/live", b"0")
        for i in range(1, 6):
            live = await backend.update("/k/live", str(i).encode(), live)
        await backend.create("/k/dead", b"x")
        dead = (await backend.delete("/k/dead")).mod_revision
        late = await backend.update("/k/live", b"late", live)
        await backend.compact(late)
    finally:
        await backend.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id, name, deleted FROM log ORDER BY id").fetchall()
    # kept: the last value of /k/live before the compaction revision (its prev) and the row at it
    assert rows == [(live, "/k/live", 0), (late, "/k/live", 0)]
    assert dead < late


async def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    acknowledged: list[str] = []
    assert writer.stdout is not None
    try:
        while len(acknowledged) < 3000:
            line = writer.stdout.readline()
            if not line:
                break
            acknowledged.append(line.decode())
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        rest, errors = writer.communicate(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    assert len(acknowledged) == 3000, errors.decode()[-2000:]
    acknowledged += rest.decode().splitlines(keepends=True)
    complete = [line.split() for line in acknowledged if line.endswith("\n")]

    backend = SqliteBackend(path)
    await backend.start()
    try:
        counter = 0
        for key, value in complete:
            if key == "/durable/counter":
                counter = max(counter, int(value))
                continue
            kv = await backend.get(key)
            assert kv is not None and kv.value == value.encode(), f"acknowledged {key} lost"
        stored = await backend.get("/durable/counter")
        assert stored is not None and int(stored.value) >= counter > 0
        assert await backend.current_revision() >= len(complete)
    finally:
        await backend.close()
