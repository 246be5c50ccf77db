"""kubelite.runtime.podstate: the shared on-disk layout and record helpers."""

from __future__ import annotations

from pathlib import Path

from kubelite.runtime.oci.state import Layout as OciLayout
from kubelite.runtime.podstate import attempt_number, attempts, read_json, write_json
from kubelite.runtime.process.state import Layout as ProcessLayout


def test_each_runtime_has_its_own_root_and_shares_the_log_tree(tmp_path: Path) -> None:
    oci, process = OciLayout(tmp_path), ProcessLayout(tmp_path)
    assert oci.attempt_dir("u", "c", 2) == tmp_path / "oci/pods/u/containers/c/2"
    assert process.attempt_dir("u", "c", 2) == tmp_path / "process/pods/u/containers/c/2"
    assert oci.sandbox_file("u") == tmp_path / "oci/pods/u/sandbox.json"
    assert process.exits == tmp_path / "process/exits"
    assert oci.log_path("u", "c", 3) == process.log_path("u", "c", 3) == tmp_path / "pods/u/c/3.log"
    assert process.stdin_fifo("u", "c") == tmp_path / "pods/u/c/stdin"
    oci.create()
    assert all(path.is_dir() for path in (oci.pods, oci.exits, oci.runc_root, oci.sockets, oci.cni, oci.logs))
    assert not (tmp_path / "process").exists()


def test_records_round_trip_and_unreadable_ones_are_none(tmp_path: Path) -> None:
    write_json(tmp_path / "r.json", {"id": "x", "n": 1})
    assert read_json(tmp_path / "r.json") == {"id": "x", "n": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left
    (tmp_path / "half.json").write_text('{"id": ')
    (tmp_path / "list.json").write_text("[1]")
    assert read_json(tmp_path / "half.json") is None
    assert read_json(tmp_path / "list.json") is None
    assert read_json(tmp_path / "missing.json") is None


def test_attempt_numbers_on_disk_and_of_log_files(tmp_path: Path) -> None:
    for name in ("app/0", "app/10", "app/2", "app/.tmp", "side/1"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "stray-file").touch()
    assert attempts(tmp_path) == {"app": [0, 2, 10], "side": [1]}
    assert attempts(tmp_path / "nothing") == {}
    assert attempt_number("3.log") == 3
    assert attempt_number("12.log.20240101-000000.gz") == 12
    assert attempt_number("stdin") is None
