"""The on-disk layout both pod runtimes (oci, process) share, and how their records are written:

    DATA/<runtime>/pods/<uid>/sandbox.json          the pod's record
    DATA/<runtime>/pods/<uid>/etc/{hosts,hostname,resolv.conf}
    DATA/<runtime>/pods/<uid>/shm/                  the pod's /dev/shm
    DATA/<runtime>/pods/<uid>/volumes/…             LocalVolumePaths' emptyDirs
    DATA/<runtime>/pods/<uid>/containers/<name>/<attempt>/container.json   one start of a container
    DATA/<runtime>/exits/<container id>             exit codes written by the container monitors
    DATA/pods/<uid>/<container>/<attempt>.log       CRI logs (the kubelet's log server reads them)

Each runtime's state.py subclasses PodStateLayout with its own root name and extra paths.
Every record is JSON written to a temporary file and renamed, so a crash never leaves half a
record; a pod's sandbox.json is written before anything else of it exists.

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


class PodStateLayout:
    """Paths under DATA/<root_name>/ (pods, exits) and DATA/pods/ (logs)."""

    root_name = ""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / self.root_name
        self.pods = self.root / "pods"
        self.exits = self.root / "exits"
        self.logs = self.data_dir / "pods"

    def directories(self) -> tuple[Path, ...]:
        """What create() makes."""
        return (self.pods, self.exits, self.logs)

    def create(self) -> None:
        for directory in self.directories():
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


def attempt_number(file_name: str) -> int | None:
    """The attempt a log file belongs to ("3.log", "3.log.20240101-000000.gz" -> 3), else None."""
    number_text = file_name.split(".", 1)[0]
    return int(number_text) if number_text.isdigit() else None
