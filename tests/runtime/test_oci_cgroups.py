"""Cgroup layout detection (from mountinfo text) and pod cgroups on the real hierarchies."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kubelite.runtime.oci import cgroups
from tests.runtime.oci_harness import require_host, unique_net

HYBRID = """\
24 30 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
33 31 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
36 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpu,cpuacct
37 31 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,memory
38 31 0:33 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,pids
39 31 0:34 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,cpuset,clone_children
"""
V2 = "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"


def test_hybrid_layout() -> None:
    layout = cgroups.parse_mountinfo(HYBRID, lambda _: frozenset({"hugetlb"}))
    assert layout.mode == "hybrid" and layout.v2_controllers == {"hugetlb"}
    assert layout.unified == Path("/sys/fs/cgroup/unified")
    assert layout.controller_mount("cpu") == (Path("/sys/fs/cgroup/cpu,cpuacct"), False)
    assert layout.controller_mount("memory") == (Path("/sys/fs/cgroup/memory"), False)
    assert layout.controller_mount("cpuset") == (Path("/sys/fs/cgroup/cpuset"), False)
    assert layout.controller_mount("hugetlb") == (Path("/sys/fs/cgroup/unified"), True)
    assert layout.controller_mount("blkio") is None
    assert Path("/sys/fs/cgroup/systemd") in layout.hierarchies() and Path("/sys/fs/cgroup/unified") in layout.hierarchies()
    assert len(layout.hierarchies()) == 6


def test_v1_and_v2_layouts() -> None:
    v1 = cgroups.parse_mountinfo("\n".join(line for line in HYBRID.splitlines() if "cgroup2" not in line), lambda _: frozenset())
    assert v1.mode == "v1" and v1.unified is None
    v2 = cgroups.parse_mountinfo(V2, lambda _: frozenset({"cpu", "memory", "pids"}))
    assert v2.mode == "v2" and v2.unified == Path("/sys/fs/cgroup") and v2.v1 == ()
    assert v2.controller_mount("memory") == (Path("/sys/fs/cgroup"), True)


def test_pod_cgroup_limits_processes_and_removal(tmp_path: Path) -> None:
    host = require_host(tmp_path / "data")
    layout = host.layout
    parent = unique_net().cgroup_parent + "-unit"
    path = f"{parent}/burstable/podtest"
    sleeper = None
    try:
        cgroups.ensure(layout, path, cgroups.CgroupLimits(memory_bytes=64 * 1024 * 1024, cpu_shares=512, cpu_quota_us=50000, pids=20))
        memory_mount, memory_v2 = layout.controller_mount("memory") or (None, False)
        assert memory_mount is not None
        memory_dir = memory_mount / path.strip("/")
        assert (memory_dir / ("memory.max" if memory_v2 else "memory.limit_in_bytes")).read_text().strip() == str(64 * 1024 * 1024)
        cpu_mount, cpu_v2 = layout.controller_mount("cpu") or (None, False)
        assert cpu_mount is not None
        if not cpu_v2:
            assert (cpu_mount / path.strip("/") / "cpu.shares").read_text().strip() == "512"
            assert (cpu_mount / path.strip("/") / "cpu.cfs_quota_us").read_text().strip() == "50000"
        pids_mount, _ = layout.controller_mount("pids") or (None, False)
        assert pids_mount is not None and (pids_mount / path.strip("/") / "pids.max").read_text().strip() == "20"
        assert cgroups.oom_kills(layout, path) == 0

        sleeper = subprocess.Popen(["sleep", "60"])
        (memory_dir / "cgroup.procs").write_text(str(sleeper.pid))
        assert cgroups.processes(layout, parent) == {sleeper.pid}
        assert cgroups.remove(layout, parent) == []  # kills what is left inside, then removes
        assert sleeper.wait(timeout=5) == -9
        assert cgroups.existing(layout, parent) == []
    finally:
        if sleeper is not None and sleeper.poll() is None:
            sleeper.kill()
        cgroups.remove(layout, parent)


def test_v2_limits_are_written_in_v2_formats(tmp_path: Path) -> None:
    """On a unified hierarchy (simulated by plain files): subtree_control, memory.max, cpu.weight,
    cpu.max and pids.max."""
    (tmp_path / "cgroup.subtree_control").write_text("")
    layout = cgroups.CgroupLayout("v2", (), tmp_path, frozenset({"cpu", "memory", "pids", "io"}))
    limits = cgroups.CgroupLimits(memory_bytes=1 << 20, cpu_shares=1024, cpu_quota_us=25000, pids=7)
    cgroups.ensure(layout, "/kubelite/podx", limits)
    directory = tmp_path / "kubelite" / "podx"
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+memory +cpu +pids"
    assert (directory / "memory.max").read_text() == str(1 << 20)
    assert (directory / "cpu.weight").read_text() == "39"
    assert (directory / "cpu.max").read_text() == "25000 100000"
    assert (directory / "pids.max").read_text() == "7"
    (directory / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert cgroups.oom_kills(layout, "/kubelite/podx") == 1
