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


async def test_the_private_registry_file_configures_the_node_s_pulls(tmp_path: Path) -> None:
    """--private-registry (k3s's registries.yaml) reaches the runtime's puller; a missing file is
    no configuration, a broken one an error naming what is wrong."""
    from dataclasses import replace

    from kubelite.runtime.images.registries import RegistryConfigError

    config = tmp_path / "registries.yaml"
    config.write_text('mirrors:\n  docker.io:\n    endpoint: ["http://127.0.0.1:5999"]\n')
    runtime = choose_runtime(replace(options(tmp_path, "process"), private_registry=config))
    try:
        assert [e.base for e in runtime.puller.config.endpoints("docker.io")][0] == "http://127.0.0.1:5999"
    finally:
        await runtime.reset_node()
        await runtime.close()
    missing = choose_runtime(replace(options(tmp_path, "process"), private_registry=tmp_path / "absent.yaml"))
    try:
        assert [e.base for e in missing.puller.config.endpoints("docker.io")] == ["https://registry-1.docker.io"]
    finally:
        await missing.reset_node()
        await missing.close()
    config.write_text("mirrors: [not, a, mapping]\n")
    with pytest.raises(RegistryConfigError, match="mirrors"):
        choose_runtime(replace(options(tmp_path, "process"), private_registry=config))
