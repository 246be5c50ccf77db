"""Fixtures that start a real `kubelite server` and run the real kubectl against it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
KUBECTL_VERSIONS = {"1.33": KUBECTL_DIR / "kubectl.1.33", "1.27": KUBECTL_DIR / "kubectl.1.27"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    data_dir: Path
    port: int
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig.yaml"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start_server(data_dir: Path, *extra: str, port: int | None = None, timeout: float = 20.0) -> RunningServer:
    port = port or free_port()
    cmd = [sys.executable, "-m", "kubelite.cli.main", "server", "--data-dir", str(data_dir), "--https-port", str(port), *extra]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = RunningServer(data_dir, port, process)
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        server.output.append(line)
        if line.startswith("kubelite ready"):
            return server
    server.stop()
    raise AssertionError("kubelite server did not become ready:\n" + "".join(server.output))


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
