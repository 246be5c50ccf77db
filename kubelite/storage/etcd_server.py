"""LocalEtcd: start and stop one single-member etcd (the Debian etcd-server binary) on free loopback
ports, for the conformance tests and the storage benchmark.

Must not be used to run a production cluster (no TLS, no peers) and must not stop any process it
did not start: it stops its own child, by PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ETCD_BINARY = "/usr/bin/etcd"
INSTALL_HINT = "`make install` installs the Debian package etcd-server, which provides /usr/bin/etcd"


class EtcdNotInstalled(RuntimeError):
    def __init__(self, binary: str):
        super().__init__(f"etcd binary {binary} not found: {INSTALL_HINT}")


def free_loopback_ports(count: int) -> list[int]:
    """`count` distinct ports that were free on 127.0.0.1 a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class LocalEtcd:
    """One etcd process with its data in `data_dir`; `endpoint` is its client URL once started."""

    def __init__(self, data_dir: Path, binary: str = ETCD_BINARY) -> None:
        self.data_dir = data_dir
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint = ""

    def start(self, timeout: float = 30.0) -> str:
        """Launch etcd and wait until it reports healthy; returns the client endpoint."""
        if not os.access(self.binary, os.X_OK):
            raise EtcdNotInstalled(self.binary)
        client, peer, metrics = free_loopback_ports(3)
        self.endpoint = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            self.binary,
            "--name", "default",
            "--data-dir", str(self.data_dir / "member-data"),
            "--listen-client-urls", self.endpoint,
            "--advertise-client-urls", self.endpoint,
            "--listen-peer-urls", peer_url,
            "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", f"default={peer_url}",
            "--listen-metrics-urls", f"http://127.0.0.1:{metrics}",
            "--log-level", "warn",
            "--logger", "zap",
        ]  # fmt: skip
        with open(self.data_dir / "etcd.log", "ab") as log_file:
            self.process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"etcd exited with {self.process.returncode}; see {self.data_dir / 'etcd.log'}"
                )
            if self._healthy():
                return self.endpoint
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"etcd did not become healthy in {timeout}s; see {self.data_dir / 'etcd.log'}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint + "/health", timeout=1) as response:
                return b'"true"' in response.read()
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        """Terminate our etcd by PID (SIGTERM, then SIGKILL after 10 s) and reap it."""
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
                process.wait()

    def __enter__(self) -> LocalEtcd:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
