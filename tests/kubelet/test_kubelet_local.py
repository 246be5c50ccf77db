"""LocalNode's runtime choice: OCI where check_host passes, else the process runtime with one
warning naming the reason; `runtime` "oci" and "process" force one."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import pytest

from kubelite.kubelet import local
from kubelite.kubelet.local import LocalNodeOptions, choose_runtime
from kubelite.runtime.oci.errors import RuntimeUnavailable
from kubelite.runtime.process.runtime import ProcessRuntime


class _NoOci:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeUnavailable("no OCI runtime binary (runc or crun) in PATH")


class _FakeOci:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args


def options(tmp_path: Path, runtime: str) -> LocalNodeOptions:
    parent = f"/kubelite-local{random.randrange(10**6)}"
    return LocalNodeOptions(tmp_path / "data", "n1", "127.0.0.1", tmp_path / "c", tmp_path / "k", tmp_path / "ca", cgroup_parent=parent, runtime=runtime)


async def test_auto_falls_back_to_the_process_runtime_with_one_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(local, "OciRuntime", _NoOci)
    with caplog.at_level(logging.WARNING, logger="kubelite.kubelet.local"):
        runtime = choose_runtime(options(tmp_path, "auto"))
    try:
        assert isinstance(runtime, ProcessRuntime)
        warnings = [r.getMessage() for r in caplog.records if r.name == "kubelite.kubelet.local"]
        assert len(warnings) == 1
        assert "no OCI runtime binary (runc or crun) in PATH" in warnings[0] and "host processes" in warnings[0]
    finally:
        await runtime.reset_node()
        await runtime.close()


async def test_oci_is_used_when_available_and_forced_choices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "OciRuntime", _FakeOci)
    assert isinstance(choose_runtime(options(tmp_path, "auto")), _FakeOci)
    forced = choose_runtime(options(tmp_path, "process"))
    try:
        assert isinstance(forced, ProcessRuntime)
    finally:
        await forced.reset_node()
        await forced.close()
    monkeypatch.setattr(local, "OciRuntime", _NoOci)
    with pytest.raises(RuntimeUnavailable, match="no OCI runtime binary"):
        choose_runtime(options(tmp_path, "oci"))
    with pytest.raises(RuntimeUnavailable, match="unknown runtime"):
        choose_runtime(options(tmp_path, "docker"))
