"""What the process runtime can use on this machine, found once at start-up: namespaces (a
throw-away child run by `monitor --probe` unshares mount/PID/IPC/UTS — plus a user namespace when
not root — and mounts a tmpfs), overlayfs inside them (else every container gets a merged copy of
its image), and cgroups (the parent can be created and written: root, or a delegated subtree).
What is missing is said once, in `ProcessSupport.reasons`.

Must not change the machine beyond the probe's scratch directory and the cgroup parent.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import kubelite
from kubelite.runtime.base import NodeInfo
from kubelite.runtime.oci import cgroups
from kubelite.runtime.oci.errors import RuntimeUnavailable
from kubelite.runtime.oci.host import os_image
from kubelite.runtime.process.launch import HOST, NAMESPACES
from kubelite.runtime.process.rootfs import remove_tree

RUNTIME_NAME = "process"
PROBE_TIMEOUT = 20.0
ISOLATION_CHOICES = ("auto", NAMESPACES, HOST)


@dataclass(frozen=True, slots=True)
class ProcessSupport:
    isolation: str  # NAMESPACES or HOST
    user_namespace: bool  # containers map the kubelet's user to root in a user namespace
    overlay: bool  # overlayfs works inside the container's mount namespace
    cgroups: cgroups.CgroupLayout | None  # None: resources are not enforced
    reasons: tuple[str, ...] = ()  # what is not available, and why


def monitor_env() -> dict[str, str]:
    """The environment monitors start with: a plain PATH and this kubelite on PYTHONPATH."""
    source_root = str(Path(kubelite.__file__).resolve().parent.parent)
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": source_root}


def probe_namespaces(scratch: Path, user_namespace: bool, python: str = sys.executable) -> dict[str, object]:
    """The monitor's --probe answer ({"namespaces", "overlay", "error", "overlay_error"})."""
    remove_tree(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [python, "-m", "kubelite.runtime.process.monitor", "--probe", str(scratch), "1" if user_namespace else "0"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            env=monitor_env(),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return {"namespaces": False, "overlay": False, "error": str(exc), "overlay_error": ""}
    finally:
        remove_tree(scratch)
    try:
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"namespaces": False, "overlay": False, "error": done.stderr.strip()[-500:] or "the probe failed", "overlay_error": ""}
    return found if isinstance(found, dict) else {}


def _cgroup_support(cgroup_parent: str) -> tuple[cgroups.CgroupLayout | None, str]:
    try:
        layout = cgroups.detect()
    except OSError as exc:
        return None, f"cannot read the cgroup mounts: {exc}"
    if layout.controller_mount("memory") is None:
        return None, f"no cgroup memory controller ({layout.describe()})"
    try:
        cgroups.ensure(layout, cgroup_parent, cgroups.CgroupLimits())
    except OSError as exc:
        return None, f"cannot create the cgroup {cgroup_parent}: {exc.strerror or exc}"
    return layout, ""


def check_process_host(data_dir: Path, *, isolation: str = "auto", cgroup_parent: str = "/kubelite") -> ProcessSupport:
    """What the process runtime will use here; RuntimeUnavailable when it cannot run at all (not
    Linux, or namespaces were demanded and are not permitted)."""
    if not sys.platform.startswith("linux"):
        raise RuntimeUnavailable(f"the process runtime needs Linux (this is {sys.platform})")
    if isolation not in ISOLATION_CHOICES:
        raise RuntimeUnavailable(f"unknown isolation {isolation!r} (one of {', '.join(ISOLATION_CHOICES)})")
    user_namespace = os.geteuid() != 0
    reasons: list[str] = []
    mode, overlay = HOST, False
    if isolation != HOST:
        found = probe_namespaces(data_dir / "process" / "probe", user_namespace)
        if found.get("namespaces"):
            mode = NAMESPACES
            overlay = bool(found.get("overlay"))
            if not overlay:
                reasons.append(f"overlayfs does not work in a container's namespace ({found.get('overlay_error')}): each container gets a copy of its image")
        elif isolation == NAMESPACES:
            raise RuntimeUnavailable(f"namespaces are not permitted here: {found.get('error')}")
        else:
            reasons.append(
                f"namespaces are not permitted here ({found.get('error')}): containers run as plain host processes "
                "in a copy of their image, with the host's filesystem at /"
            )
    layout, why = _cgroup_support(cgroup_parent)
    if layout is None:
        reasons.append(f"no cgroups ({why}): container resources are not enforced")
    return ProcessSupport(mode, user_namespace and mode == NAMESPACES, overlay, layout, tuple(reasons))


def node_info() -> NodeInfo:
    machine = platform.machine()
    architecture = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return NodeInfo(os_image(), os.uname().release, f"{RUNTIME_NAME}://{kubelite.__version__}", "linux", architecture)


