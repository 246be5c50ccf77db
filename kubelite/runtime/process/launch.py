"""What the monitor needs to start one container attempt (`LaunchSpec`), written by the runtime as
launch.json in the attempt directory and read back by the monitor, plus the isolation modes.

Must not import anything beyond the standard library (the monitor loads it at every start) nor
decide anything: the runtime fills it in, the monitor and isolate.py carry it out.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

NAMESPACES = "namespaces"  # own mount/pid/ipc/uts namespaces (+ user when not root), pivot_root
HOST = "host"  # no namespaces: a host process whose working tree is the rootfs copy
ISOLATION_MODES = (NAMESPACES, HOST)


@dataclass(frozen=True, slots=True)
class Mount:
    destination: str  # path inside the container
    source: str  # host path
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class Overlay:
    lower: tuple[str, ...]  # top layer first
    upper: str
    work: str


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    container_id: str
    argv: tuple[str, ...]
    env: tuple[str, ...]  # "NAME=value"
    cwd: str  # inside the container (namespaces) or on the host (host mode)
    isolation: str
    rootfs: str  # the mount point (overlay) or the merged copy
    log_path: str
    exit_file: str
    executable: str = ""  # host mode: argv[0] resolved inside the rootfs ("" = look up in PATH)
    overlay: Overlay | None = None
    user_namespace: bool = False
    hostname: str = ""  # "" keeps the node's UTS namespace
    uid: int | None = None  # switch to this user (namespaces as root only)
    gid: int | None = None
    groups: tuple[int, ...] = ()
    mounts: tuple[Mount, ...] = ()
    read_only_root: bool = False
    no_new_privileges: bool = False
    cgroup_procs: tuple[str, ...] = ()  # cgroup.procs files the container joins
    stdin_fifo: str = ""
    log_max_size: int = 10 * 1024 * 1024
    log_max_files: int = 5

    def write(self, path: Path) -> None:
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(asdict(self)))
        temporary.rename(path)

    @classmethod
    def read(cls, path: Path) -> LaunchSpec:
        data = json.loads(path.read_text())
        overlay = data.pop("overlay", None)
        mounts = data.pop("mounts", ())
        fields: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
        fields["overlay"] = Overlay(tuple(overlay["lower"]), overlay["upper"], overlay["work"]) if overlay else None
        fields["mounts"] = tuple(Mount(**mount) for mount in mounts)
        return cls(**fields)
