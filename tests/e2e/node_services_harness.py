"""An agent-running `kubelite server` with its node's Service networking (proxy, DNS, ServiceLB,
nginx ingress) for the e2e tests, on names of its own: bridge, pod CIDR, netns prefix, cgroup
parent, nftables table, kubelet and ingress ports. `node_services_server()` starts it with the
test images imported, and on exit stops it, resets the node and asserts nothing is left (nginx,
table, service route, netns, bridge, cgroup, mounts). Also: waiting, and a request loop that
counts failed requests while things change.

Must not be used for more than one server per test module (each is a whole node), and does not
make the service CIDR (10.43.0.0/16, kube-dns 10.43.0.10) unique: only one such node may run on
the machine at a time, which `node_services_server()` checks before starting.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import KUBECTL_VERSIONS, Kubectl
from tests.e2e.server_harness import RunningServer, free_port, start_server
from tests.runtime.oci_harness import NETNS_DIR, RunNames, http_get, image_archives, unique_net

SERVICE_CIDR = "10.43.0.0/16"
IMAGES = ("busybox-1.tar", "web-1.tar", "web-2.tar")


@dataclass
class NodeServer:
    server: RunningServer
    net: RunNames
    table: str
    ingress_port: int
    flags: list[str]

    def kubectl(self, version: str, home: Path) -> Kubectl:
        return Kubectl(KUBECTL_VERSIONS[version], self.server.kubeconfig, home)

    def restart(self) -> None:
        """Stop the server and start it again on the same data dir, port and names."""
        self.server.stop()
        self.server = start_server(
            self.server.data_dir, "--kubelet-port", str(free_port()), *self.flags, port=self.server.port, agent=True, timeout=40.0
        )
        assert "without service networking" not in self.server.text, self.server.text


def _flags(net: RunNames, table: str, http_port: int, https_port: int) -> list[str]:
    return [
        "--pod-cidr", net.cidr, "--bridge", net.bridge, "--cgroup-parent", net.cgroup_parent,
        "--netns-prefix", net.netns_prefix, "--proxy-table", table,
        "--ingress-http-port", str(http_port), "--ingress-https-port", str(https_port),
    ]  # fmt: skip


def table_exists(table: str) -> bool:
    return subprocess.run(["nft", "list", "table", "ip", table], capture_output=True).returncode == 0


def service_route_devices() -> str:
    return subprocess.run(["ip", "-4", "route", "show", "exact", SERVICE_CIDR], capture_output=True, text=True).stdout


def _nginx_under(prefix: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "nginx" in command and str(prefix) in command:
                found.append(int(entry.name))
    return found


def _kubelite(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubelite.cli.main", *args], capture_output=True, text=True)


@contextmanager
def node_services_server(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[NodeServer]:
    if os.geteuid() != 0:
        pytest.fail("node e2e tests need root (runc, CNI, nft, nginx)", pytrace=False)
    if service_route_devices().strip():
        pytest.fail(f"{SERVICE_CIDR} is already routed on this host (another kubelite node?)", pytrace=False)
    data_dir = tmp_path_factory.mktemp(name) / "data"
    archives = image_archives()
    for image in IMAGES:
        imported = _kubelite("image", "import", "--data-dir", str(data_dir), str(archives / image))
        assert imported.returncode == 0, imported.stderr
    net = unique_net()
    table = f"kubelite_e2e_{net.number}"
    http_port = free_port()
    flags = _flags(net, table, http_port, free_port())
    running = start_server(data_dir, "--kubelet-port", str(free_port()), *flags, agent=True, timeout=40.0)
    node = NodeServer(running, net, table, http_port, flags)
    try:
        assert "without service networking" not in running.text, running.text
        yield node
    finally:
        node.server.stop()
        assert not _nginx_under(data_dir / "ingress-nginx"), "nginx still running after the server stopped"
        assert not table_exists(table), f"table {table} left after the server stopped"
        reset = _kubelite("server", "--data-dir", str(data_dir), "--reset", *flags)
        assert reset.returncode == 0, reset.stderr
        left = [f"netns {n}" for n in (os.listdir(NETNS_DIR) if NETNS_DIR.exists() else []) if n.startswith(net.netns_prefix)]
        left += [f"bridge {net.bridge}"] if Path("/sys/class/net", net.bridge).exists() else []
        left += [f"table {table}"] if table_exists(table) else []
        left += [f"route {line}" for line in service_route_devices().splitlines() if net.bridge in line]
        left += [f"cgroup {net.cgroup_parent}"] if Path("/sys/fs/cgroup/memory", net.cgroup_parent.strip("/")).exists() else []
        mounts = Path("/proc/self/mounts").read_text()
        left += [f"mount {line.split()[1]}" for line in mounts.splitlines() if str(data_dir) in line]
        assert not left, f"left behind: {left}"


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def quietly(get: Callable[[], str]) -> str:
    try:
        return get()
    except OSError:
        return ""


def body(answer: str) -> str:
    """The body of a raw HTTP answer."""
    return answer.rsplit("\r\n\r\n", 1)[-1]


class RequestLoop:
    """A thread sending sequential GET / requests, each on a new connection with a short timeout,
    to every target in turn; it records each answer's web version ("1", "2") or the failure."""

    def __init__(self, targets: list[tuple[str, int]], timeout: float = 2.0):
        self.targets = targets
        self.timeout = timeout
        self.answers: list[tuple[str, str]] = []  # (host:port, version)
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RequestLoop:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            for host, port in self.targets:
                target = f"{host}:{port}"
                try:
                    answer = http_get(host, port, timeout=self.timeout)
                except OSError as err:
                    self.failures.append(f"{time.strftime('%X')} {target}: {err!r}")
                    continue
                line = body(answer).strip()
                status = answer.splitlines()[0] if answer else ""
                if " 200 " not in status or not line.startswith("web "):
                    self.failures.append(f"{time.strftime('%X')} {target}: unexpected answer {answer!r}")
                else:
                    self.answers.append((target, line.split()[1]))
            time.sleep(0.01)

    def count(self) -> int:
        return len(self.answers)

    def versions(self) -> list[str]:
        return [version for _, version in self.answers]

    def wait_for_more(self, count: int, timeout: float = 30.0) -> None:
        mark = self.count()
        wait_for(lambda: self.count() >= mark + count, timeout, f"{count} more answers")
