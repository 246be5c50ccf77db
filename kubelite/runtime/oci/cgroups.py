"""Cgroups as the node mounts them: cgroup v1, v2 (unified) or hybrid (v1 controllers plus a
cgroup2 mount, as on this project's machines), detected from /proc/self/mountinfo at start-up.

The runtime keeps pods under one parent (`/kubelite` by default, the same path in every
hierarchy, like the kubelet's `/kubepods`): `PARENT[/burstable|/besteffort]/pod<uid>` with the
pod's limits written here, and `…/pod<uid>/<container id>` created by runc from the container's
spec. Removing a pod removes its directory in every hierarchy, children first.

Must not create or limit container cgroups (runc does that from linux.resources), nor move or
signal processes other than those inside the directories it is asked to remove.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

LIMIT_CONTROLLERS = ("memory", "cpu", "pids")
V1_CONTROLLERS = frozenset(
    ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "net_prio", "blkio", "perf_event", "hugetlb", "pids", "rdma", "misc"]
)
DEFAULT_CPU_PERIOD = 100_000  # microseconds, the kubelet's CFS period
MIN_CPU_SHARES = 2
MAX_CPU_SHARES = 262_144


@dataclass(frozen=True, slots=True)
class CgroupLimits:
    """Numbers to write into a cgroup; None leaves the controller's default (unlimited)."""

    memory_bytes: int | None = None
    cpu_shares: int | None = None
    cpu_quota_us: int | None = None
    cpu_period_us: int = DEFAULT_CPU_PERIOD
    pids: int | None = None


@dataclass(frozen=True, slots=True)
class CgroupLayout:
    mode: str  # "v1", "v2" or "hybrid"
    v1: tuple[tuple[frozenset[str], Path], ...]  # (controllers or {"name=…"}, mount point)
    unified: Path | None
    v2_controllers: frozenset[str]  # controllers the unified root offers

    def controller_mount(self, controller: str) -> tuple[Path, bool] | None:
        """(mount point, is_v2) of the hierarchy that holds `controller`, v1 first."""
        for controllers, mount in self.v1:
            if controller in controllers:
                return mount, False
        if self.unified is not None and controller in self.v2_controllers:
            return self.unified, True
        return None

    def hierarchies(self) -> list[Path]:
        """Every mounted hierarchy (runc creates a container's cgroup in each of them)."""
        mounts = [mount for _, mount in self.v1]
        if self.unified is not None:
            mounts.append(self.unified)
        return mounts

    def describe(self) -> str:
        limits = ", ".join(c for c in LIMIT_CONTROLLERS if self.controller_mount(c) is not None)
        return f"cgroup {self.mode} (limits: {limits or 'none'})"


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def read_v2_controllers(unified: Path) -> frozenset[str]:
    try:
        return frozenset((unified / "cgroup.controllers").read_text().split())
    except OSError:
        return frozenset()


def parse_mountinfo(text: str, v2_controllers: Callable[[Path], frozenset[str]] = read_v2_controllers) -> CgroupLayout:
    """The cgroup layout described by a /proc/self/mountinfo text (`v2_controllers` reads what
    the unified root offers)."""
    v1: list[tuple[frozenset[str], Path]] = []
    seen: set[frozenset[str]] = set()
    unified: Path | None = None
    for line in text.splitlines():
        head, sep, tail = line.partition(" - ")
        if not sep:
            continue
        fields = head.split()
        rest = tail.split()
        if len(fields) < 5 or len(rest) < 3:
            continue
        fstype, options = rest[0], rest[2]
        mount_point = Path(_unescape(fields[4]))
        if fstype == "cgroup2" and unified is None:
            unified = mount_point
        elif fstype == "cgroup":
            controllers = frozenset(o for o in options.split(",") if o in V1_CONTROLLERS or o.startswith("name="))
            if controllers and controllers not in seen:
                seen.add(controllers)
                v1.append((controllers, mount_point))
    offered = v2_controllers(unified) if unified is not None else frozenset()
    has_v1_controllers = any(not any(c.startswith("name=") for c in controllers) for controllers, _ in v1)
    if has_v1_controllers:
        mode = "hybrid" if unified is not None else "v1"
    else:
        mode = "v2"
    return CgroupLayout(mode, tuple(v1), unified, offered)


def detect(mountinfo: Path = Path("/proc/self/mountinfo")) -> CgroupLayout:
    return parse_mountinfo(mountinfo.read_text())


def _dir(mount: Path, path: str) -> Path:
    return mount / path.strip("/")


def _write(directory: Path, name: str, value: str) -> None:
    with open(directory / name, "w") as handle:
        handle.write(value)


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares to v2 cpu.weight, as runc and the kubelet convert them."""
    shares = min(max(shares, MIN_CPU_SHARES), MAX_CPU_SHARES)
    return 1 + ((shares - MIN_CPU_SHARES) * 9999) // (MAX_CPU_SHARES - MIN_CPU_SHARES)


def _enable_v2_controllers(layout: CgroupLayout, path: str, wanted: Iterable[str]) -> None:
    """cgroup v2 only hands a controller to children listed in the parent's subtree_control."""
    assert layout.unified is not None
    controllers = [c for c in wanted if c in layout.v2_controllers]
    if not controllers:
        return
    directory = layout.unified
    for part in [p for p in path.strip("/").split("/") if p][:-1] or []:
        _enable_here(directory, controllers)
        directory = directory / part
    _enable_here(directory, controllers)


def _enable_here(directory: Path, controllers: list[str]) -> None:
    try:
        enabled = set((directory / "cgroup.subtree_control").read_text().split())
    except OSError:
        return
    missing = [c for c in controllers if c not in enabled]
    if missing:
        with contextlib.suppress(OSError):
            _write(directory, "cgroup.subtree_control", " ".join(f"+{c}" for c in missing))


def ensure(layout: CgroupLayout, path: str, limits: CgroupLimits) -> None:
    """Create `path` in the hierarchies that limit memory, cpu and pids and write `limits`."""
    done: set[Path] = set()
    for controller in LIMIT_CONTROLLERS:
        found = layout.controller_mount(controller)
        if found is None:
            continue
        mount, is_v2 = found
        directory = _dir(mount, path)
        if directory not in done:
            if is_v2:
                _enable_v2_controllers(layout, path, [c for c in LIMIT_CONTROLLERS if c in layout.v2_controllers])
            directory.mkdir(parents=True, exist_ok=True)
            done.add(directory)
        _apply(directory, controller, is_v2, limits)


def _apply(directory: Path, controller: str, is_v2: bool, limits: CgroupLimits) -> None:
    if controller == "memory" and limits.memory_bytes is not None:
        _write(directory, "memory.max" if is_v2 else "memory.limit_in_bytes", str(limits.memory_bytes))
    elif controller == "cpu":
        if limits.cpu_shares is not None:
            if is_v2:
                _write(directory, "cpu.weight", str(shares_to_weight(limits.cpu_shares)))
            else:
                _write(directory, "cpu.shares", str(limits.cpu_shares))
        if limits.cpu_quota_us is not None:
            if is_v2:
                _write(directory, "cpu.max", f"{limits.cpu_quota_us} {limits.cpu_period_us}")
            else:
                _write(directory, "cpu.cfs_period_us", str(limits.cpu_period_us))
                _write(directory, "cpu.cfs_quota_us", str(limits.cpu_quota_us))
    elif controller == "pids" and limits.pids is not None and limits.pids > 0:
        _write(directory, "pids.max", str(limits.pids))


def processes(layout: CgroupLayout, path: str) -> set[int]:
    """Every process in `path` or below it, in any hierarchy."""
    found: set[int] = set()
    for mount in layout.hierarchies():
        top = _dir(mount, path)
        if not top.is_dir():
            continue
        for directory, _, _ in os.walk(top):
            with contextlib.suppress(OSError):
                found.update(int(pid) for pid in Path(directory, "cgroup.procs").read_text().split())
    return found


def existing(layout: CgroupLayout, path: str) -> list[Path]:
    """The directories `path` has in the hierarchies (empty once removed)."""
    return [directory for directory in (_dir(mount, path) for mount in layout.hierarchies()) if directory.is_dir()]


def remove(layout: CgroupLayout, path: str, *, timeout: float = 2.0) -> list[Path]:
    """Remove `path` and everything below it in every hierarchy, killing any process still in it
    (a container conmon lost). Returns the directories that could not be removed."""
    deadline = time.monotonic() + timeout
    left: list[Path] = []
    for _ in range(1000):
        left = []
        for top in existing(layout, path):
            for directory, _, _ in os.walk(top, topdown=False):
                try:
                    os.rmdir(directory)
                except FileNotFoundError:
                    pass
                except OSError:
                    left.append(Path(directory))
        if not left or time.monotonic() > deadline:
            return left
        for pid in processes(layout, path):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    return left


def oom_kills(layout: CgroupLayout, path: str) -> int:
    """How many processes the kernel OOM-killed in `path` (0 when unknown or gone)."""
    found = layout.controller_mount("memory")
    if found is None:
        return 0
    mount, is_v2 = found
    name = "memory.events" if is_v2 else "memory.oom_control"
    try:
        text = (_dir(mount, path) / name).read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return 0
