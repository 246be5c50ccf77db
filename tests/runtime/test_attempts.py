"""kubelite.runtime.attempts: records shared by the pod runtimes, and how they read as statuses."""

from __future__ import annotations

from pathlib import Path

from kubelite.runtime.attempts import (
    CREATED,
    EXITED,
    RUNNING,
    Attempt,
    attempt_record,
    container_status,
    safe_name,
)
from kubelite.runtime.images.store import ImageRecord

IMAGE = ImageRecord("sha256:cfg", ("docker.io/library/busybox:latest",), ("docker.io/library/busybox@sha256:abc",), "sha256:m", (), 1, 0.0, 0.0)


def test_attempt_record_normalizes_the_image_and_takes_the_stop_signal() -> None:
    record = attempt_record(
        "id1", "uid1", {"name": "c", "image": "busybox", "terminationMessagePolicy": "FallbackToLogsOnError"}, 2, IMAGE,
        {"config": {"StopSignal": "SIGQUIT"}}, cgroup="/kubelite/pod1/id1", log="/l/2.log", created_at=5.0,
    )
    assert record == {
        "id": "id1", "pod_uid": "uid1", "name": "c", "attempt": 2, "image": "docker.io/library/busybox:latest",
        "image_id": "docker.io/library/busybox@sha256:abc", "cgroup": "/kubelite/pod1/id1", "created_at": 5.0,
        "state": CREATED, "stop_signal": "SIGQUIT", "termination_message_policy": "FallbackToLogsOnError", "log": "/l/2.log",
    }
    odd = attempt_record("i", "u", {"name": "c", "image": "UPPER:bad"}, 0, IMAGE, {}, cgroup="", log="", created_at=0.0)
    assert odd["image"] == "UPPER:bad" and odd["stop_signal"] == "SIGTERM" and odd["termination_message_policy"] == "File"


def test_container_status_follows_the_record_state(tmp_path: Path) -> None:
    record = attempt_record("id1", "u", {"name": "c", "image": "busybox"}, 1, IMAGE, {}, cgroup="", log="", created_at=1.0)
    attempt = Attempt(record, tmp_path)
    waiting = container_status(attempt, "process://id1")
    assert (waiting.state, waiting.reason, waiting.restart_count, waiting.container_id) == ("waiting", "ContainerCreating", 1, "process://id1")
    record.update(state=RUNNING, started_at=2.0)
    assert container_status(attempt, "x").state == "running" and container_status(attempt, "x").started_at == 2.0
    record.update(state=EXITED, exit_code=3, finished_at=4.0, reason="Error", message="boom")
    ended = container_status(attempt, "x")
    assert (ended.state, ended.exit_code, ended.reason, ended.message, ended.finished_at) == ("terminated", 3, "Error", "boom", 4.0)
    attempt.save()
    assert (tmp_path / "container.json").exists()


def test_safe_names() -> None:
    assert safe_name("0b8d-uid") and safe_name("app")
    assert not any(safe_name(name) for name in ("", ".", "..", ".hidden", "a/b", "a\0b"))
