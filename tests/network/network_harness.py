"""Helpers for the network tests: Service and EndpointSlice builders, and a throwaway pod network
on the real host — a bridge `kltest<N>` at 10.244.<N>.1/24, network namespaces `kltest<N>-pod<i>`
("pods" at 10.244.<N>.<10+i>, each a veth on the bridge) each running a tiny HTTP server that
answers `<pod name> <client address>` — plus HTTP clients from the host and from inside a pod.

Traffic goes only to loopback and to addresses made here. Everything made is named with the
`kltest<N>` prefix and removed by name (servers by PID) in `close()`.
Must not touch any interface, namespace or table it did not create.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

Obj = dict[str, Any]

SERVER_PORT = 8080
_SERVER = r"""
import asyncio, sys
name = sys.argv[1]
async def answer(reader, writer):
    body = f"{name} {writer.get_extra_info('peername')[0]}".encode()
    try:
        while True:
            request = await reader.readuntil(b"\r\n\r\n")
            keep = request.startswith(b"GET / HTTP/1.1")  # HTTP/1.0: one request per connection
            writer.write(b"HTTP/1.%d 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (keep, len(body), body))
            await writer.drain()
            if not keep:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(answer, "0.0.0.0", int(sys.argv[2]), backlog=1024, reuse_address=True)
    await server.serve_forever()
asyncio.run(main())
"""
_CLIENT = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
data = b""
while chunk := s.recv(4096):
    data += chunk
print(data.split(b"\r\n\r\n", 1)[1].decode())
"""


# ---------------------------------------------------------------------- API objects
def service(name: str, cluster_ip: str, ports: list[Obj], namespace: str = "default", **spec: Any) -> Obj:
    full_ports = []
    for port in ports:
        entry = {"protocol": "TCP", **port}
        full_ports.append(entry)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "ports": full_ports, **spec},
    }


def endpoint_slice(
    service_name: str,
    endpoints: list[Obj],
    ports: list[tuple[Any, ...]],
    *,
    name: str = "",
    namespace: str = "default",
) -> Obj:
    """endpoints: {"ip", "node"?, "ready"?, "serving"?, "terminating"?}; ports: (name, port[, protocol])."""
    made = []
    for entry in endpoints:
        ready = entry.get("ready", True)
        endpoint: Obj = {
            "addresses": [entry["ip"]],
            "conditions": {
                "ready": ready,
                "serving": entry.get("serving", ready),
                "terminating": entry.get("terminating", False),
            },
        }
        if entry.get("node"):
            endpoint["nodeName"] = entry["node"]
        made.append(endpoint)
    slice_ports = []
    for port in ports:
        port_entry: Obj = {"port": port[1], "protocol": port[2] if len(port) > 2 else "TCP"}
        if port[0]:
            port_entry["name"] = port[0]
        slice_ports.append(port_entry)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name or f"{service_name}-slice",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": made,
        "ports": slice_ports,
    }


# ---------------------------------------------------------------------- the host network
def require_root_networking() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, nftables)")
    missing = [tool for tool in ("nft", "ip") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (make system-packages)")


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=20)


def _links() -> set[str]:
    out = _run("ip", "-o", "link", "show").stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


def _netns() -> set[str]:
    return {line.split()[0] for line in _run("ip", "netns", "list").stdout.splitlines() if line.strip()}


@dataclass
class Pod:
    name: str
    netns: str
    ip: str
    host_veth: str
    pid: int = 0


@dataclass
class PodNetwork:
    index: int
    pods: list[Pod] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"kltest{self.index}"

    @property
    def gateway(self) -> str:
        return f"10.244.{self.index}.1"

    @property
    def pod_cidr(self) -> str:
        return f"10.244.{self.index}.0/24"

    @property
    def service_cidr(self) -> str:
        """A test-only slice of kubelite's service CIDR (10.43.0.0/16)."""
        return f"10.43.{200 + self.index}.0/24"

    def service_ip(self, host: int) -> str:
        return f"10.43.{200 + self.index}.{host}"

    @property
    def table(self) -> str:
        return f"kubelite_test_{self.index}"

    @classmethod
    def create(cls, pods: int = 3) -> PodNetwork:
        taken_links, taken_ns = _links(), _netns()
        for index in range(1, 50):
            if f"kltest{index}" not in taken_links and not any(ns.startswith(f"kltest{index}-") for ns in taken_ns):
                break
        else:
            raise RuntimeError("no free kltest<N> index")
        net = cls(index)
        try:
            net._build(pods)
        except BaseException:
            net.close()
            raise
        return net

    def _build(self, pods: int) -> None:
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        for i in range(pods):
            pod = Pod(f"pod{i}", f"{self.bridge}-pod{i}", f"10.244.{self.index}.{10 + i}", f"klt{self.index}p{i}")
            _run("ip", "netns", "add", pod.netns)
            self.pods.append(pod)
            _run("ip", "link", "add", pod.host_veth, "type", "veth", "peer", "name", "eth0", "netns", pod.netns)
            _run("ip", "link", "set", pod.host_veth, "master", self.bridge, "up")
            _run("ip", "link", "set", pod.host_veth, "type", "bridge_slave", "hairpin", "on")  # as CNI's hairpinMode
            inside = ("ip", "netns", "exec", pod.netns)
            _run(*inside, "ip", "addr", "add", f"{pod.ip}/24", "dev", "eth0")
            _run(*inside, "ip", "link", "set", "eth0", "up")
            _run(*inside, "ip", "link", "set", "lo", "up")
            _run(*inside, "ip", "route", "add", "default", "via", self.gateway)
            process = subprocess.Popen(
                [*inside, sys.executable, "-S", "-c", _SERVER, pod.name, str(SERVER_PORT)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            pod.pid = process.pid
            self.processes.append(process)
        deadline = time.monotonic() + 10
        for pod in self.pods:
            while True:
                try:
                    socket.create_connection((pod.ip, SERVER_PORT), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the server in {pod.netns} did not start") from None
                    time.sleep(0.05)

    def close(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        self.processes.clear()
        for pod in self.pods:
            _run("ip", "netns", "del", pod.netns, check=False)
            _run("ip", "link", "del", pod.host_veth, check=False)
        self.pods.clear()
        _run("ip", "link", "del", self.bridge, check=False)
        _run("nft", "delete", "table", "ip", self.table, check=False)


# ---------------------------------------------------------------------- clients
async def http_get(ip: str, port: int, timeout: float = 3.0) -> str:
    """The body of GET / (the answering pod's `name client-address`)."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(ip, port)
        try:
            writer.write(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    return data.split(b"\r\n\r\n", 1)[1].decode()


async def keep_alive_requests(ip: str, port: int, until: float) -> int:
    """HTTP/1.1 requests over one connection until the loop time `until`; how many were answered."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(ip, port)
    count = 0
    try:
        while loop.time() < until:
            writer.write(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0])
            await reader.readexactly(length)
            count += 1
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return count


async def get_from_pod(pod: Pod, ip: str, port: int) -> str:
    process = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", pod.netns, sys.executable, "-S", "-c", _CLIENT, ip, str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 10)
    if process.returncode != 0:
        raise ConnectionError(err.decode().strip().splitlines()[-1] if err else "client failed")
    return out.decode().strip()
