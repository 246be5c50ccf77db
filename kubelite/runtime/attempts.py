"""The records both pod runtimes (oci, process) keep in memory: a pod (its sandbox.json record and
the latest attempt of each container) and an attempt (one start of a container: its
container.json record, directory and an event set once it exited), plus the record fields they
share and how a record reads as a ContainerStatus.

Must not start, signal or inspect processes, or decide anything: it holds and reads records.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from kubelite.runtime.base import ContainerStatus
from kubelite.runtime.images.reference import InvalidReference, normalize_reference
from kubelite.runtime.images.store import ImageRecord
from kubelite.runtime.podstate import CONTAINER_FILE, write_json

Obj = dict[str, Any]

CREATED = "created"
RUNNING = "running"
EXITED = "exited"
START_ERROR_EXIT_CODE = 128
LOST_EXIT_CODE = 255
MAX_TERMINATION_MESSAGE = 4096
RESTARTED_BEFORE_START = "the runtime restarted before the container was started"


@dataclass
class Attempt:
    """One start of a container: its record (container.json) and an event set once it exited."""

    record: Obj
    directory: Path
    exited: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def state(self) -> str:
        return str(self.record.get("state") or CREATED)

    @property
    def number(self) -> int:
        return int(self.record["attempt"])

    def save(self) -> None:
        write_json(self.directory / CONTAINER_FILE, self.record)


A = TypeVar("A", bound=Attempt)


@dataclass
class Pod(Generic[A]):
    sandbox: Obj
    containers: dict[str, A] = field(default_factory=dict)  # latest attempt per name
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def uid(self) -> str:
        return str(self.sandbox["uid"])


def safe_name(name: str) -> bool:
    """Pod uids and container names become path components."""
    return bool(name) and "/" not in name and "\0" not in name and name not in (".", "..") and not name.startswith(".")


def attempt_record(
    container_id: str, pod_uid: str, container: Obj, number: int, image: ImageRecord, image_config: Obj, *, cgroup: str, log: str, created_at: float
) -> Obj:
    """The container.json fields every runtime writes for a new attempt (state CREATED)."""
    try:
        image_name = normalize_reference(str(container.get("image") or ""))
    except InvalidReference:
        image_name = str(container.get("image") or "")
    return {
        "id": container_id,
        "pod_uid": pod_uid,
        "name": str(container["name"]),
        "attempt": number,
        "image": image_name,
        "image_id": image.repo_digests[0] if image.repo_digests else image.id,
        "cgroup": cgroup,
        "created_at": created_at,
        "state": CREATED,
        "stop_signal": str((image_config.get("config") or {}).get("StopSignal") or "SIGTERM"),
        "termination_message_policy": str(container.get("terminationMessagePolicy") or "File"),
        "log": log,
    }


def container_status(attempt: Attempt, container_id: str) -> ContainerStatus:
    """The attempt as the kubelet sees it; `container_id` is "<runtime>://<id>"."""
    record = attempt.record
    common: Obj = {
        "name": record["name"],
        "container_id": container_id,
        "image": record["image"],
        "image_id": record["image_id"],
        "restart_count": int(record["attempt"]),
    }
    if attempt.state == EXITED:
        return ContainerStatus(
            state="terminated",
            started_at=record.get("started_at"),
            finished_at=record.get("finished_at"),
            exit_code=record.get("exit_code"),
            reason=str(record.get("reason") or ""),
            message=str(record.get("message") or ""),
            **common,
        )
    if attempt.state == RUNNING:
        return ContainerStatus(state="running", started_at=record.get("started_at"), **common)
    return ContainerStatus(state="waiting", reason="ContainerCreating", **common)
