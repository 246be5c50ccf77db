"""The exit-file watcher: inotify on the exit dir (and the polling fallback)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from kubelite.runtime.oci import exits


async def test_inotify_reports_renamed_exit_files(tmp_path: Path) -> None:
    seen: list[str] = []
    arrived = asyncio.Event()

    def on_exit(name: str) -> None:
        seen.append(name)
        arrived.set()

    watcher = exits.ExitWatcher(tmp_path / "exits", on_exit)
    watcher.start()
    try:
        assert watcher.uses_inotify
        temporary = tmp_path / "exits" / ".abc.tmp"
        temporary.write_text("137")
        os.rename(temporary, tmp_path / "exits" / "abc")  # as conmon writes it
        await asyncio.wait_for(arrived.wait(), 5)
        assert seen == ["abc"]
        assert exits.read_exit_code(tmp_path / "exits" / "abc") == 137
        assert exits.read_exit_code(tmp_path / "exits" / "missing") is None
    finally:
        watcher.close()


async def test_polling_fallback(tmp_path: Path) -> None:
    seen: list[str] = []
    watcher = exits.ExitWatcher(tmp_path, seen.append)
    watcher._loop = asyncio.get_running_loop()
    (tmp_path / "one").write_text("0")
    watcher._poll()
    (tmp_path / "two").write_text("1")
    watcher._poll()
    watcher.close()
    assert seen == ["one", "two"]
