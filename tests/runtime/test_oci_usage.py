"""Container and node usage as cadvisor measures it, from cgroup v1 and v2 fixture files."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.runtime.oci import usage
from kubelite.runtime.oci.cgroups import CgroupLayout

FIXTURES = Path(__file__).parent / "fixtures" / "usage"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_v1_cpu_and_working_set() -> None:
    assert usage.parse_v1_cpu("2503911000\n") == pytest.approx(2.503911)
    # total_inactive_file in the fixture is 105836544
    assert usage.working_set(205836544, fixture("v1_memory.stat"), v2=False) == 100_000_000
    assert usage.working_set(1000, fixture("v1_memory.stat"), v2=False) == 0  # never negative


def test_v2_cpu_and_working_set() -> None:
    assert usage.parse_v2_cpu(fixture("v2_cpu.stat")) == pytest.approx(2.503911)
    assert usage.working_set(21_352_448, fixture("v2_memory.stat"), v2=True) == 21_352_448 - 4_460_544


def test_node_usage_from_proc() -> None:
    # user 488392 + nice 0 + system 106404 + irq 0 + softirq 9358 + steal 117 ticks at 100 Hz
    assert usage.parse_proc_stat_cpu(fixture("proc_stat"), 100) == pytest.approx(6042.71)
    assert usage.parse_meminfo_working_set(fixture("meminfo")) == (24683656 - 22779844 - 103416) * 1024
    with pytest.raises(ValueError):
        usage.parse_proc_stat_cpu("intr 1\n")


def _write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True)
    for name, text in files.items():
        (directory / name).write_text(text)


def test_read_cgroup_usage_on_a_v1_layout(tmp_path: Path) -> None:
    layout = CgroupLayout(
        "v1", ((frozenset({"cpuacct"}), tmp_path / "cpuacct"), (frozenset({"memory"}), tmp_path / "memory")), None, frozenset()
    )
    _write(tmp_path / "cpuacct" / "kubelite" / "pod1" / "c1", {"cpuacct.usage": "1500000000\n"})
    _write(
        tmp_path / "memory" / "kubelite" / "pod1" / "c1",
        {"memory.usage_in_bytes": "205836544\n", "memory.stat": fixture("v1_memory.stat")},
    )
    assert usage.read_cgroup_usage(layout, "/kubelite/pod1/c1") == (1.5, 100_000_000)
    assert usage.read_cgroup_usage(layout, "/kubelite/pod1/gone") is None


def test_read_cgroup_usage_on_a_v2_layout(tmp_path: Path) -> None:
    layout = CgroupLayout("v2", (), tmp_path, frozenset({"cpu", "memory", "pids"}))
    _write(
        tmp_path / "kubelite" / "pod1" / "c1",
        {"cpu.stat": fixture("v2_cpu.stat"), "memory.current": "21352448\n", "memory.stat": fixture("v2_memory.stat")},
    )
    cpu, memory = usage.read_cgroup_usage(layout, "/kubelite/pod1/c1") or (0.0, 0)
    assert cpu == pytest.approx(2.503911) and memory == 21_352_448 - 4_460_544


def test_read_node_usage_from_a_proc_dir(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text(fixture("proc_stat"))
    (tmp_path / "meminfo").write_text(fixture("meminfo"))
    cpu, memory = usage.read_node_usage(tmp_path)
    assert cpu > 0 and memory == (24683656 - 22779844 - 103416) * 1024
