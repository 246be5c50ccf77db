"""replay_then_follow: catching up through history in several chunks without gaps or repeats."""

from __future__ import annotations

from pathlib import Path

import pytest
from storage_harness import take

from kubelite.storage import watchhub
from kubelite.storage.backend import Backend, StorageError
from kubelite.storage.memory import MemoryBackend
from kubelite.storage.sqlite import SqliteBackend


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_replay_in_chunks_then_live(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchhub, "REPLAY_CHUNK", 3)
    backend: Backend = MemoryBackend() if kind == "memory" else SqliteBackend(str(tmp_path / "s.db"))
    await backend.start()
    try:
        revisions = []
        for i in range(10):
            revisions.append(await backend.create(f"/w/k{i}", b"v"))
            await backend.create(f"/x/k{i}", b"v")  # interleaved, outside the prefix
        watch = backend.watch("/w/", revisions[0])
        replayed = await take(watch, 9)
        assert [e.revision for e in replayed] == revisions[1:]
        live = await backend.create("/w/live", b"v")
        assert [e.revision for e in await take(watch, 1)] == [live]
        await watch.aclose()  # type: ignore[attr-defined]
    finally:
        await backend.close()


async def test_a_watch_on_a_closed_backend_fails() -> None:
    backend = MemoryBackend()
    await backend.start()
    await backend.close()
    with pytest.raises(StorageError, match="closed"):
        await take(backend.watch("/", 0), 1)
