"""Can this machine run OCI containers? `check_host` answers with what the runtime will use (the
OCI binary, conmon, the cgroup layout, the CNI plugin directory) or raises RuntimeUnavailable
saying what is missing, so the kubelet can fall back to another runtime with a clear warning.
Also the node's facts a kubelet reports: capacity from /proc and statvfs, and nodeInfo.

Must not change the machine beyond one throw-away overlay mount that proves overlayfs works on
the data dir's filesystem.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kubelite.runtime.base import NodeInfo
from kubelite.runtime.oci import cgroups, cni, rootfs
from kubelite.runtime.oci.errors import RuntimeUnavailable
from kubelite.runtime.oci.runner import OciBinary, choose_binary

INSTALL_HINT = "apt-get install -y runc conmon containernetworking-plugins iptables iproute2"


@dataclass(frozen=True, slots=True)
class HostSupport:
    binary: OciBinary
    conmon: str
    layout: cgroups.CgroupLayout
    cni_plugin_dir: str


def _overlay_works(scratch: Path) -> str | None:
    """None when an overlay mount succeeds under `scratch`, else the error."""
    probe = scratch / f".overlay-probe-{os.getpid()}"
    try:
        lower = probe / "lower"
        lower.mkdir(parents=True, exist_ok=True)
        try:
            rootfs.mount_overlay([lower], probe / "upper", probe / "work", probe / "merged")
        except OSError as exc:
            return str(exc)
        rootfs.unmount(probe / "merged")
        return None
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def check_host(data_dir: Path, *, oci_runtime: str = "auto", cni_plugin_dirs: Sequence[str] = cni.DEFAULT_PLUGIN_DIRS) -> HostSupport:
    """What the OCI runtime will use here; RuntimeUnavailable with the reason when it cannot run."""
    if not sys.platform.startswith("linux"):
        raise RuntimeUnavailable(f"OCI containers need Linux (this is {sys.platform})")
    if os.geteuid() != 0:
        raise RuntimeUnavailable("OCI containers need root (namespaces, cgroups, overlay mounts, CNI)")
    try:
        layout = cgroups.detect()
    except OSError as exc:
        raise RuntimeUnavailable(f"cannot read the cgroup mounts: {exc}") from None
    if layout.controller_mount("memory") is None:
        raise RuntimeUnavailable(f"no cgroup memory controller ({layout.describe()})")
    binary = choose_binary(layout, oci_runtime)
    if binary is None:
        wanted = "runc or crun" if oci_runtime == "auto" else oci_runtime
        raise RuntimeUnavailable(f"no OCI runtime binary ({wanted}) in PATH: {INSTALL_HINT}")
    conmon = shutil.which("conmon")
    if conmon is None:
        raise RuntimeUnavailable(f"conmon is not installed: {INSTALL_HINT}")
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            raise RuntimeUnavailable(f"{tool} is not installed (pod networking needs it): {INSTALL_HINT}")
    plugin_dir = cni.find_plugin_dir(cni_plugin_dirs)
    if plugin_dir is None:
        raise RuntimeUnavailable(
            f"CNI plugins {', '.join(cni.REQUIRED_PLUGINS)} not found in {', '.join(cni_plugin_dirs)}: {INSTALL_HINT}"
        )
    with contextlib.suppress(OSError):
        if "overlay" not in Path("/proc/filesystems").read_text():
            raise RuntimeUnavailable("the kernel has no overlay filesystem")
    data_dir.mkdir(parents=True, exist_ok=True)
    failure = _overlay_works(data_dir)
    if failure is not None:
        raise RuntimeUnavailable(f"overlayfs does not work under {data_dir}: {failure}")
    return HostSupport(binary, conmon, layout, plugin_dir)


# ---- node facts ------------------------------------------------------------------------------


def _meminfo() -> dict[str, int]:
    values: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            words = rest.split()
            if words and words[0].isdigit():
                values[key] = int(words[0]) * (1024 if len(words) > 1 and words[1] == "kB" else 1)
    return values


def binary_quantity(value: int) -> str:
    """Bytes as the kubelet shows capacity: the largest binary suffix that divides exactly."""
    for suffix, power in (("Ei", 60), ("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)):
        if value and value % (1 << power) == 0:
            return f"{value >> power}{suffix}"
    return str(value)


def node_capacity(data_dir: Path, max_pods: int) -> dict[str, str]:
    """cpu, memory, pods, ephemeral-storage (the data dir's filesystem) and hugepages-*."""
    memory = _meminfo()
    cpus = os.cpu_count() or 1
    capacity = {"cpu": str(cpus), "memory": binary_quantity(memory.get("MemTotal", 0)), "pods": str(max_pods)}
    with contextlib.suppress(OSError):
        stats = os.statvfs(data_dir)
        capacity["ephemeral-storage"] = binary_quantity(stats.f_blocks * stats.f_frsize)
    page = memory.get("Hugepagesize", 0)
    if page:
        capacity[f"hugepages-{binary_quantity(page)}"] = binary_quantity(memory.get("HugePages_Total", 0) * page) or "0"
    return capacity


def os_image() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "PRETTY_NAME":
                return value.strip().strip('"')
    return "Linux"


def node_info(binary: OciBinary) -> NodeInfo:
    machine = platform.machine()
    architecture = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return NodeInfo(os_image(), os.uname().release, f"{binary.name}://{binary.version}", "linux", architecture)
