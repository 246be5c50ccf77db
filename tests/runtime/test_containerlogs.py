"""CRI log lines, reading, the termination-message tail and size-based rotation."""

from __future__ import annotations

import gzip
from pathlib import Path

from kubelite.runtime import containerlogs as logs


def test_format_and_parse_round_trip() -> None:
    line = logs.format_line(1700000000.5, "stderr", b"hello world")
    assert line == b"2023-11-14T22:13:20.500000000Z stderr F hello world\n"
    assert logs.parse_line(line) == logs.LogLine("2023-11-14T22:13:20.500000000Z", "stderr", False, b"hello world")
    assert logs.parse_line(b"2023-11-14T22:13:20.5Z stdout P part") == logs.LogLine("2023-11-14T22:13:20.5Z", "stdout", True, b"part")
    assert logs.parse_line(b"2023-11-14T22:13:20Z stdout F") == logs.LogLine("2023-11-14T22:13:20Z", "stdout", False, b"")
    assert logs.parse_line(b"garbage") is None
    assert logs.parse_line(b"ts nowhere F x") is None


def test_timestamps() -> None:
    assert logs.parse_timestamp("2023-11-14T22:13:20.500000000Z") == 1700000000.5
    assert logs.parse_timestamp("2023-11-14T23:13:20.25+01:00") == 1700000000.25
    assert logs.parse_timestamp("2023-11-14T22:13:20Z") == 1700000000.0
    assert logs.rfc3339_nano(1700000000.9999999999) == "2023-11-14T22:13:21.000000000Z"


def test_tail_message_joins_partials_and_keeps_the_end(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    lines = [logs.format_line(1.0, "stdout", f"line {i}".encode()) for i in range(100)]
    lines.append(logs.format_line(2.0, "stderr", b"par", partial=True))
    lines.append(logs.format_line(2.0, "stderr", b"tial"))
    path.write_bytes(b"".join(lines))
    message = logs.tail_message(path)
    assert message.endswith("line 99\npartial\n")
    assert message.splitlines()[0] == "line 21"  # the last 80 lines
    assert len(logs.tail_message(path, limit=10)) == 10
    assert logs.tail_message(tmp_path / "missing.log") == ""


def test_rotation_renames_compresses_and_prunes(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    reopened = []

    def reopen() -> bool:
        path.write_bytes(b"")  # what conmon does: a fresh file at the path
        reopened.append(True)
        return True

    for second in range(4):
        path.write_bytes(logs.format_line(float(second), "stdout", f"generation {second}".encode()))
        assert logs.rotate(path, reopen, max_files=3, now=1700000000.0 + second)
    files = logs.log_files(path)
    assert [p.name for p in files] == ["0.log.20231114-221322.gz", "0.log.20231114-221323", "0.log"]
    assert len(reopened) == 4
    with gzip.open(files[0]) as handle:
        assert b"generation 2" in handle.read()
    assert [e.content for e in logs.read_lines(files[0])] == [b"generation 2"]
    assert logs.needs_rotation(files[1], 10) and not logs.needs_rotation(path, 10)


def test_rotation_is_undone_when_the_writer_cannot_reopen(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"x")
    assert not logs.rotate(path, lambda: False, now=1.0)
    assert [p.name for p in logs.log_files(path)] == ["0.log"]
