"""Start and stop a real `kubelite server` for tests (shared by tests/e2e and tests/client)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


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
    drainer: threading.Thread | None = None

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
        if self.drainer is not None:
            self.drainer.join(5)
        return self.process.returncode

    @property
    def text(self) -> str:
        """Everything the server printed so far (complete once stop() returned)."""
        return "".join(self.output)


def start_server(
    data_dir: Path, *extra: str, port: int | None = None, timeout: float = 20.0, agent: bool = False
) -> RunningServer:
    """Without `agent` the server runs no node agent (`--disable-agent`): hermetic and fast."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "kubelite.cli.main", "server", "--data-dir", str(data_dir), "--https-port", str(port), *extra]
    if not agent:
        cmd.append("--disable-agent")
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
            # keep draining its output, so a chatty server never blocks on a full pipe
            server.drainer = threading.Thread(target=server.output.extend, args=(process.stdout,), daemon=True)
            server.drainer.start()
            return server
    server.stop()
    raise AssertionError("kubelite server did not become ready:\n" + "".join(server.output))
