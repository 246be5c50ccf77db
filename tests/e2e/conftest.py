"""Fixtures that start a real `kubelite server` and run the real kubectl against it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.server_harness import RunningServer, start_server

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
KUBECTL_VERSIONS = {"1.33": KUBECTL_DIR / "kubectl.1.33", "1.27": KUBECTL_DIR / "kubectl.1.27"}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("kubelite"))
    yield running
    running.stop()


@dataclass
class Kubectl:
    binary: Path
    kubeconfig: Path
    home: Path

    def run(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = dict(os.environ, KUBECONFIG=str(self.kubeconfig), HOME=str(self.home))
        full_env.update(env or {})
        result = subprocess.run(
            [str(self.binary), *args], input=input, capture_output=True, text=True, timeout=timeout, env=full_env
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def __call__(self, *args: str, **kwargs: object) -> str:
        return self.run(*args, **kwargs).stdout  # type: ignore[arg-type]


@pytest.fixture(params=sorted(KUBECTL_VERSIONS), scope="session")
def kubectl(request: pytest.FixtureRequest, server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    binary = KUBECTL_VERSIONS[request.param]
    assert binary.exists(), f"{binary} is missing"
    return Kubectl(binary, server.kubeconfig, tmp_path_factory.mktemp(f"home-{request.param}"))
