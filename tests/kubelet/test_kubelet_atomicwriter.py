"""The atomic writer: payloads land in a hidden timestamped directory behind the `..data` symlink,
top-level names are symlinks through it, an unchanged payload writes nothing, an update swaps the
whole set at once (removed names disappear, the old directory goes), and a reader that opens
`..data` never sees a mix of two payloads or a half-written one."""

from __future__ import annotations

import os
import re
import stat
import threading
from pathlib import Path

import pytest

from kubelite.kubelet.atomicwriter import DATA_DIR, DATA_DIR_TMP, current_payload, write_payload

TIMESTAMPED = re.compile(r"^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$")


def hidden_dirs(target: Path) -> list[str]:
    return sorted(e for e in os.listdir(target) if e.startswith("..") and e != DATA_DIR)


def visible(target: Path) -> list[str]:
    return sorted(e for e in os.listdir(target) if not e.startswith(".."))


def test_first_write_builds_the_data_link_and_top_level_links(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert current_payload(target) is None
    assert write_payload(target, {"color": (b"blue", 0o644), "conf/app.ini": (b"[a]\n", 0o600), "conf/more/deep": (b"x", 0o400)})
    data = os.readlink(target / DATA_DIR)
    assert TIMESTAMPED.match(data), data
    assert hidden_dirs(target) == [data]
    assert visible(target) == ["color", "conf"]
    assert os.readlink(target / "color") == f"{DATA_DIR}/color"
    assert os.readlink(target / "conf") == f"{DATA_DIR}/conf"
    assert (target / "color").read_bytes() == b"blue"
    assert (target / "conf" / "more" / "deep").read_bytes() == b"x"
    assert stat.S_IMODE((target / "color").stat().st_mode) == 0o644
    assert stat.S_IMODE((target / "conf" / "app.ini").stat().st_mode) == 0o600
    assert stat.S_IMODE((target / "conf" / "more" / "deep").stat().st_mode) == 0o400
    assert current_payload(target) == {"color": (b"blue", 0o644), "conf/app.ini": (b"[a]\n", 0o600), "conf/more/deep": (b"x", 0o400)}


def test_an_unchanged_payload_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    payload = {"a": (b"1", 0o644), "b": (b"2", 0o644)}
    assert write_payload(target, payload)
    before = os.readlink(target / DATA_DIR)
    assert not write_payload(target, dict(payload))
    assert os.readlink(target / DATA_DIR) == before
    assert hidden_dirs(target) == [before]


def test_a_changed_mode_alone_is_a_change(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    write_payload(target, {"a": (b"1", 0o644)})
    assert write_payload(target, {"a": (b"1", 0o400)})
    assert stat.S_IMODE((target / "a").stat().st_mode) == 0o400


def test_an_update_swaps_the_set_and_drops_removed_names_and_the_old_directory(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    write_payload(target, {"keep": (b"old", 0o644), "gone": (b"bye", 0o644), "dir/x": (b"1", 0o644)})
    first = os.readlink(target / DATA_DIR)
    assert write_payload(target, {"keep": (b"new", 0o644), "added": (b"hi", 0o644)})
    second = os.readlink(target / DATA_DIR)
    assert second != first
    assert hidden_dirs(target) == [second]  # the old payload's directory is removed
    assert visible(target) == ["added", "keep"]  # "gone" and "dir" links are removed
    assert (target / "keep").read_bytes() == b"new"
    assert (target / "added").read_bytes() == b"hi"
    assert not (target / DATA_DIR_TMP).exists()
    assert current_payload(target) == {"keep": (b"new", 0o644), "added": (b"hi", 0o644)}


def test_an_empty_payload_leaves_an_empty_volume(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    write_payload(target, {"a": (b"1", 0o644)})
    assert write_payload(target, {})
    assert visible(target) == []
    assert current_payload(target) == {}


def test_a_user_file_that_is_not_a_link_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    write_payload(target, {"a": (b"1", 0o644)})
    (target / "mine").write_text("kept")
    write_payload(target, {"b": (b"2", 0o644)})
    assert visible(target) == ["b", "mine"]


@pytest.mark.parametrize("bad", ["../escape", "/abs", "a/../../b", "..hidden"])
def test_paths_leaving_the_volume_are_refused(tmp_path: Path, bad: str) -> None:
    target = tmp_path / "vol"
    with pytest.raises(ValueError, match="must be relative"):
        write_payload(target, {bad: (b"x", 0o644)})
    assert not (tmp_path / "escape").exists() and not (tmp_path / "b").exists()


def _read_through_data(target: Path) -> dict[str, bytes] | None:
    """A careful reader: the directory `..data` names, every file in it, then `..data` again; None
    when the link moved meanwhile (the old directory may be going away: a retry sees the new set)."""
    try:
        name = os.readlink(target / DATA_DIR)
        found = {entry: (target / name / entry).read_bytes() for entry in os.listdir(target / name)}
        if os.readlink(target / DATA_DIR) != name:
            return None
    except FileNotFoundError:
        return None
    return found


def test_concurrent_readers_never_see_a_partial_set(tmp_path: Path) -> None:
    target = tmp_path / "vol"

    def version(n: int) -> dict[str, tuple[bytes, int]]:
        # every version has a different set of names, all holding the version number
        names = [f"f{i}" for i in range(n % 5 + 3)]
        return {name: (f"v{n}".encode() * 200, 0o644) for name in names}

    write_payload(target, version(0))
    stop = threading.Event()
    problems: list[str] = []
    seen: set[str] = set()

    def reader() -> None:
        while not stop.is_set():
            found = _read_through_data(target)
            if found is None:
                continue
            values = set(found.values())
            if len(values) != 1:
                problems.append(f"mixed contents: {sorted(v[:4] for v in values)}")
                continue
            value = values.pop()
            n = int(value.split(b"v")[1])
            if sorted(found) != sorted(version(n)):
                problems.append(f"version {n} with names {sorted(found)}")
            seen.add(f"v{n}")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for n in range(1, 150):
            assert write_payload(target, version(n))
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert not problems, problems[:5]
    assert len(seen) > 5, seen  # the readers really ran during the swaps
    assert _read_through_data(target) == {name: content for name, (content, _) in version(149).items()}
    assert len(hidden_dirs(target)) == 1
