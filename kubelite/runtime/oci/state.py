"""Where the OCI runtime keeps its state under the data dir, and how records are written:

    DATA/oci/pods/<uid>/sandbox.json           the pod: identity, netns, IP, CNI state, cgroup
    DATA/oci/pods/<uid>/etc/{hosts,hostname,resolv.conf}
    DATA/oci/pods/<uid>/shm/                   the pod's /dev/shm (tmpfs)
    DATA/oci/pods/<uid>/volumes/…              default emptyDir volumes
    DATA/oci/pods/<uid>/containers/<name>/<attempt>/   bundle: config.json, container.json,
                                               rootfs/ (overlay), upper/, work/, conmon's files
    DATA/oci/exits/<container id>              exit codes written by conmon
    DATA/oci/runc/                             the OCI binary's --root
    DATA/oci/sockets/                          conmon's attach socket links
    DATA/oci/cni/networks/                     host-local IPAM allocations
    DATA/pods/<uid>/<container>/<attempt>.log  CRI-format logs

Every record is JSON written to a temporary file and renamed, so a crash never leaves half a record.
A pod's sandbox.json is written before anything else of it exists, so a restarted runtime finds
every pod it may have to clean up.

Must not hold runtime logic: it only names paths and reads/writes records.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

Obj = dict[str, Any]
SANDBOX_FILE = "sandbox.json"
CONTAINER_FILE = "container.json"


class Layout:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "oci"
        self.pods = self.root / "pods"
        self.exits = self.root / "exits"
        self.runc_root = self.root / "runc"
        self.sockets = self.root / "sockets"
        self.cni = self.root / "cni"
        self.logs = self.data_dir / "pods"

    def create(self) -> None:
        for directory in (self.pods, self.exits, self.runc_root, self.sockets, self.cni, self.logs):
            directory.mkdir(parents=True, exist_ok=True)

    def pod_dir(self, uid: str) -> Path:
        return self.pods / uid

    def sandbox_file(self, uid: str) -> Path:
        return self.pods / uid / SANDBOX_FILE

    def etc_dir(self, uid: str) -> Path:
        return self.pods / uid / "etc"

    def shm_dir(self, uid: str) -> Path:
        return self.pods / uid / "shm"

    def volumes_dir(self, uid: str) -> Path:
        return self.pods / uid / "volumes"

    def containers_dir(self, uid: str) -> Path:
        return self.pods / uid / "containers"

    def attempt_dir(self, uid: str, name: str, attempt: int) -> Path:
        return self.pods / uid / "containers" / name / str(attempt)

    def log_dir(self, uid: str) -> Path:
        return self.logs / uid

    def log_path(self, uid: str, name: str, attempt: int) -> Path:
        return self.logs / uid / name / f"{attempt}.log"


def write_json(path: Path, record: Obj) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(orjson.dumps(record))
    os.rename(temporary, path)


def read_json(path: Path) -> Obj | None:
    try:
        record = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def attempts(containers_dir: Path) -> dict[str, list[int]]:
    """Container name -> its attempt numbers on disk, ascending."""
    found: dict[str, list[int]] = {}
    try:
        names = list(os.scandir(containers_dir))
    except OSError:
        return found
    for entry in names:
        if not entry.is_dir():
            continue
        numbers = sorted(int(sub.name) for sub in os.scandir(entry.path) if sub.name.isdigit())
        found[entry.name] = numbers
    return found
