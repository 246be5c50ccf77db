"""The monitor's CRI log writer (full and partial entries, rotation) and its namespace probe."""

from __future__ import annotations

import os
from pathlib import Path

from kubelite.runtime import containerlogs
from kubelite.runtime.process.launch import HOST, LaunchSpec, Mount, Overlay
from kubelite.runtime.process.monitor import LogWriter, probe


def test_log_writer_writes_full_and_partial_entries(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "c" / "0.log", max_size=0, max_files=5)
    writer.write("stdout", b"one\ntwo\nhalf", now=1.5)
    writer.write("stderr", b"err\n", now=2.0)
    writer.close()
    lines = list(containerlogs.read_lines(tmp_path / "c" / "0.log"))
    assert [(line.stream, line.partial, line.content) for line in lines] == [
        ("stdout", False, b"one"),
        ("stdout", False, b"two"),
        ("stdout", True, b"half"),
        ("stderr", False, b"err"),
    ]
    assert lines[0].timestamp == "1970-01-01T00:00:01.500000000Z"


def test_log_writer_rotates_by_size(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    writer = LogWriter(path, max_size=200, max_files=2)
    for second in range(12):
        writer.write("stdout", b"x" * 40 + b"\n", now=1_000_000 + second * 2)
    writer.close()
    files = containerlogs.log_files(path)
    assert len(files) <= 2 and path in files
    assert os.path.getsize(path) < 200


def test_launch_spec_round_trips(tmp_path: Path) -> None:
    spec = LaunchSpec(
        container_id="abc", argv=("sh", "-c", "true"), env=("A=1",), cwd="/", isolation=HOST, rootfs="/r", log_path="/l", exit_file="/e",
        overlay=Overlay(("/a", "/b"), "/u", "/w"), mounts=(Mount("/etc/hosts", "/h", True),), groups=(1, 2), uid=5,
    )
    spec.write(tmp_path / "launch.json")
    assert LaunchSpec.read(tmp_path / "launch.json") == spec


def test_probe_reports_namespaces_here(tmp_path: Path) -> None:
    found = probe(tmp_path / "scratch", user_namespace=os.geteuid() != 0)
    assert found["namespaces"] is True, found
    assert found["overlay"] is True, found
