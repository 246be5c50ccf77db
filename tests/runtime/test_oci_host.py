"""What the node offers: host checks (RuntimeUnavailable reasons), capacity and nodeInfo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubelite.runtime.oci import host
from kubelite.runtime.oci.errors import RuntimeUnavailable
from kubelite.runtime.oci.runner import OciBinary, choose_binary, crun_starts
from tests.runtime.oci_harness import require_host


def test_binary_quantities() -> None:
    assert host.binary_quantity(16 * 1024**3) == "16Gi"
    assert host.binary_quantity(8148993 * 1024) == "8148993Ki"
    assert host.binary_quantity(8148992 * 1024) == "7958Mi"
    assert host.binary_quantity(1000) == "1000"
    assert host.binary_quantity(0) == "0"


def test_capacity_and_info(tmp_path: Path) -> None:
    capacity = host.node_capacity(tmp_path, 110)
    assert capacity["cpu"] == str(os.cpu_count())
    assert capacity["pods"] == "110"
    assert capacity["memory"].endswith("Ki") or capacity["memory"].endswith("Mi") or capacity["memory"].endswith("Gi")
    assert "ephemeral-storage" in capacity
    info = host.node_info(OciBinary("runc", "/usr/sbin/runc", "1.1.5"))
    assert info.container_runtime_version == "runc://1.1.5"
    assert info.kernel_version == os.uname().release and info.operating_system == "linux"


def test_binary_choice() -> None:
    from kubelite.runtime.oci.cgroups import CgroupLayout

    hybrid = CgroupLayout("hybrid", (), Path("/sys/fs/cgroup/unified"), frozenset({"hugetlb"}))
    clean_hybrid = CgroupLayout("hybrid", (), Path("/sys/fs/cgroup/unified"), frozenset())
    assert not crun_starts(hybrid) and crun_starts(clean_hybrid)
    chosen = choose_binary(hybrid)
    assert chosen is None or chosen.name == "runc"  # crun refuses this layout


def test_check_host_says_why(tmp_path: Path) -> None:
    support = require_host(tmp_path / "data")
    assert support.binary.name in ("runc", "crun") and support.conmon.endswith("conmon")
    with pytest.raises(RuntimeUnavailable, match="CNI plugins bridge, host-local, loopback, portmap not found in /nonexistent"):
        host.check_host(tmp_path / "data", cni_plugin_dirs=("/nonexistent",))
    with pytest.raises(RuntimeUnavailable, match="no OCI runtime binary"):
        host.check_host(tmp_path / "data", oci_runtime="nosuch")
