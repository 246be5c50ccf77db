"""CRI-format container logs: parsing, tail offsets, and reading under PodLogOptions
(tail, since, timestamps, limitBytes, follow until the writer stops, rotation)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from kubelite.kubelet import crilogs
from kubelite.kubelet.crilogs import LogOptions

LINES = (
    b"2025-01-01T00:00:01.000000000Z stdout F one\n"
    b"2025-01-01T00:00:02.500000000Z stderr F two\n"
    b"2025-01-01T00:00:03Z stdout P thr\n"
    b"2025-01-01T00:00:03.100000000+01:00 stdout F ee\n"
)


async def read_all(path: Path, options: LogOptions) -> bytes:
    return b"".join([chunk async for chunk in crilogs.read_log(path, options)])


def test_records_parse_and_render() -> None:
    record = crilogs.parse_record(b"2025-01-01T00:00:02.500000000Z stderr F two words")
    assert record is not None
    assert (record.stream, record.partial, record.content, record.timestamp) == ("stderr", False, b"two words", "2025-01-01T00:00:02.5Z")
    assert record.time_ns == 1735689602_500000000
    assert record.render(timestamps=False) == b"two words\n"
    assert record.render(timestamps=True) == b"2025-01-01T00:00:02.5Z two words\n"
    partial = crilogs.parse_record(b"2025-01-01T00:00:03Z stdout P thr")
    assert partial is not None and partial.render(False) == b"thr"
    empty = crilogs.parse_record(b"2025-01-01T00:00:03Z stdout F")
    assert empty is not None and empty.render(False) == b"\n"
    assert crilogs.parse_record(b"not a log line") is None
    assert crilogs.parse_record(b"2025-01-01T00:00:03Z console F x") is None


def test_timestamps_keep_their_zone_and_lose_trailing_zeros() -> None:
    assert crilogs.parse_timestamp("2025-01-01T01:00:00.120+01:00") == (1735689600_120000000, "2025-01-01T01:00:00.12+01:00")
    assert crilogs.parse_timestamp("2025-01-01T00:00:00.000000000Z") == (1735689600_000000000, "2025-01-01T00:00:00Z")
    assert crilogs.parse_timestamp("yesterday") is None


def test_format_record_round_trips() -> None:
    line = crilogs.format_record(1735689602_500000000, "stdout", b"hello")
    assert line == b"2025-01-01T00:00:02.500000000Z stdout F hello\n"
    record = crilogs.parse_record(line.rstrip(b"\n"))
    assert record is not None and record.time_ns == 1735689602_500000000


def test_tail_offset_counts_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"a\nbb\nccc\n")
    assert path.read_bytes()[crilogs.tail_offset(path, 2) :] == b"bb\nccc\n"
    assert crilogs.tail_offset(path, 10) == 0
    assert crilogs.tail_offset(path, 0) == len(b"a\nbb\nccc\n")
    path.write_bytes(b"a\nbb\nccc\nhalf")  # the last line is still being written
    assert path.read_bytes()[crilogs.tail_offset(path, 1) :] == b"ccc\nhalf"
    big = tmp_path / "1.log"
    big.write_bytes(b"".join(b"%06d\n" % i for i in range(40000)))  # spans several read chunks
    assert big.read_bytes()[crilogs.tail_offset(big, 3) :] == b"039997\n039998\n039999\n"


async def test_read_log_options(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(LINES)
    assert await read_all(path, LogOptions()) == b"one\ntwo\nthree\n"
    assert await read_all(path, LogOptions(tail_lines=2, timestamps=True)) == b"2025-01-01T00:00:03Z thr2025-01-01T00:00:03.1+01:00 ee\n"
    assert await read_all(path, LogOptions(since_ns=1735689602_000000000)) == b"two\nthr"  # 03.1+01:00 is an hour earlier
    assert await read_all(path, LogOptions(limit_bytes=6)) == b"one\ntw"
    assert await read_all(path, LogOptions(tail_lines=0)) == b""


async def test_follow_reads_new_lines_until_the_writer_stops(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"2025-01-01T00:00:01Z stdout F first\n")
    running = True

    async def still_running() -> bool:
        return running

    seen: list[bytes] = []

    async def follow() -> None:
        async for chunk in crilogs.read_log(path, LogOptions(follow=True), still_running=still_running, poll=0.01):
            seen.append(chunk)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.05)
    with open(path, "ab") as handle:
        handle.write(b"2025-01-01T00:00:02Z stdout F sec")
        handle.flush()
        await asyncio.sleep(0.05)
        assert seen == [b"first\n"], "half a line is not shown"
        handle.write(b"ond\n")
    await asyncio.sleep(0.05)
    assert seen == [b"first\n", b"second\n"]
    with open(path, "ab") as handle:
        handle.write(b"2025-01-01T00:00:03Z stdout F last\n")
    running = False
    await asyncio.wait_for(task, 2)
    assert seen[-1] == b"last\n"


async def test_follow_moves_to_a_rotated_file(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"2025-01-01T00:00:01Z stdout F before\n")
    running = True

    async def still_running() -> bool:
        return running

    seen: list[bytes] = []

    async def follow() -> None:
        async for chunk in crilogs.read_log(path, LogOptions(follow=True), still_running=still_running, poll=0.01):
            seen.append(chunk)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.05)
    os.rename(path, tmp_path / "0.log.20250101")
    path.write_bytes(b"2025-01-01T00:00:02Z stdout F after\n")
    await asyncio.sleep(0.1)
    running = False
    await asyncio.wait_for(task, 2)
    assert seen == [b"before\n", b"after\n"]


def test_log_files_are_ordered_by_restart(tmp_path: Path) -> None:
    directory = crilogs.container_log_dir(tmp_path, "uid-1", "app")
    directory.mkdir(parents=True)
    for name in ("10.log", "2.log", "notes.txt", "0.log"):
        (directory / name).write_bytes(b"")
    assert [n for n, _ in crilogs.log_files(tmp_path, "uid-1", "app")] == [0, 2, 10]
    assert crilogs.log_files(tmp_path, "uid-2", "app") == []
