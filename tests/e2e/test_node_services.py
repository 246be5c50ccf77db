"""Service networking on `kubelite server`'s own node, driven by the real kubectl 1.33: a
Deployment of kubelite.test/web:1 exposed as a NodePort answers from the host on
127.0.0.1:<nodePort> and on its ClusterIP, spread over all three pods; inside a busybox pod the
resolv.conf points at kube-dns, `nslookup` resolves the Service to its ClusterIP and `nc web 80`
answers; an Ingress for host a.test routes to it through nginx. One agent server for the module on
a bridge, CIDR, nftables table, ingress ports, netns prefix and cgroup parent of its own, reset at
the end and checked to have left nothing (table, route, bridge, netns, nginx); a restarted server
adopts the bridge it left and serves again."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import KUBECTL_VERSIONS, Kubectl
from tests.e2e.server_harness import RunningServer, free_port, start_server
from tests.runtime.oci_harness import NETNS_DIR, RunNames, http_get, image_archives, unique_net

Obj = dict[str, Any]
WEB = "kubelite.test/web:1"
BUSYBOX = "kubelite.test/busybox:1"
SERVICE_CIDR = "10.43.0.0/16"


@dataclass
class NodeServer:
    server: RunningServer
    net: RunNames
    table: str
    ingress_port: int
    kubectl: Kubectl
    flags: list[str]


def _flags(net: RunNames, table: str, http_port: int, https_port: int) -> list[str]:
    return [
        "--pod-cidr", net.cidr, "--bridge", net.bridge, "--cgroup-parent", net.cgroup_parent,
        "--netns-prefix", net.netns_prefix, "--proxy-table", table,
        "--ingress-http-port", str(http_port), "--ingress-https-port", str(https_port),
    ]  # fmt: skip


def _table_exists(table: str) -> bool:
    return subprocess.run(["nft", "list", "table", "ip", table], capture_output=True).returncode == 0


def _service_route_devices() -> str:
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


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeServer]:
    if os.geteuid() != 0:
        pytest.fail("node e2e tests need root (runc, CNI, nft, nginx)", pytrace=False)
    if _service_route_devices().strip():
        pytest.fail(f"{SERVICE_CIDR} is already routed on this host (another kubelite node?)", pytrace=False)
    data_dir = tmp_path_factory.mktemp("svcnode") / "data"
    archives = image_archives()
    for name in ("busybox-1.tar", "web-1.tar"):
        subprocess.run([sys.executable, "-m", "kubelite.cli.main", "image", "import", "--data-dir", str(data_dir), str(archives / name)], check=True, capture_output=True)
    net = unique_net()
    table = f"kubelite_e2e_{net.number}"
    http_port = free_port()
    flags = _flags(net, table, http_port, free_port())
    running = start_server(data_dir, "--kubelet-port", str(free_port()), *flags, agent=True, timeout=40.0)
    kubectl = Kubectl(KUBECTL_VERSIONS["1.33"], running.kubeconfig, tmp_path_factory.mktemp("home-1.33"))
    node = NodeServer(running, net, table, http_port, kubectl, flags)
    try:
        assert "without service networking" not in "".join(running.output), "".join(running.output)
        yield node
    finally:
        node.server.stop()
        assert not _nginx_under(data_dir / "ingress-nginx"), "nginx still running after the server stopped"
        assert not _table_exists(table), f"table {table} left after the server stopped"
        reset = subprocess.run(
            [sys.executable, "-m", "kubelite.cli.main", "server", "--data-dir", str(data_dir), "--reset", *flags], capture_output=True, text=True
        )
        assert reset.returncode == 0, reset.stderr
        left = [f"netns {n}" for n in (os.listdir(NETNS_DIR) if NETNS_DIR.exists() else []) if n.startswith(net.netns_prefix)]
        left += [f"bridge {net.bridge}"] if Path("/sys/class/net", net.bridge).exists() else []
        left += [f"table {table}"] if _table_exists(table) else []
        left += [f"route {line}" for line in _service_route_devices().splitlines() if net.bridge in line]
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


def _quietly(get: Callable[[], str]) -> str:
    try:
        return get()
    except OSError:
        return ""


def _hostnames(get: Callable[[], str], count: int) -> list[str]:
    names = []
    for _ in range(count):
        body = get()
        assert " 200 " in body.splitlines()[0], body
        line = body.rsplit("\r\n\r\n", 1)[-1].strip()
        assert line.startswith("web 1 "), body
        names.append(line.split()[2])
    return names


@pytest.fixture(scope="module")
def web(node: NodeServer) -> Obj:
    """Deployment web (3 replicas, never pulling) exposed as a NodePort; returns the Service."""
    kubectl = node.kubectl
    deployment = json.loads(kubectl("create", "deployment", "web", f"--image={WEB}", "--replicas=3", "--dry-run=client", "-o", "json"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    kubectl("apply", "-f", "-", input=json.dumps(deployment))
    kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    kubectl("expose", "deployment", "web", "--type=NodePort", "--port=80")
    return dict(json.loads(kubectl("get", "service", "web", "-o", "json")))


def _pod_names(kubectl: Kubectl) -> set[str]:
    return set(kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}").split())


def test_nodeport_and_cluster_ip_reach_all_pods_from_the_host(node: NodeServer, web: Obj) -> None:
    pods = _pod_names(node.kubectl)
    assert len(pods) == 3
    node_port = web["spec"]["ports"][0]["nodePort"]
    cluster_ip = web["spec"]["clusterIP"]
    assert cluster_ip.startswith("10.43.")
    wait_for(lambda: "web 1" in _quietly(lambda: http_get("127.0.0.1", node_port)), what="the NodePort to answer")
    assert set(_hostnames(lambda: http_get("127.0.0.1", node_port), 30)) == pods
    assert set(_hostnames(lambda: http_get(cluster_ip, 80), 30)) == pods


def test_pods_resolve_and_reach_the_service_by_name(node: NodeServer, web: Obj) -> None:
    kubectl = node.kubectl
    kubectl("run", "bb", f"--image={BUSYBOX}", "--image-pull-policy=Never", "--restart=Never", "--", "sleep", "3600")
    kubectl("wait", "--for=condition=Ready", "pod/bb", "--timeout=60s")
    resolv = kubectl("exec", "bb", "--", "cat", "/etc/resolv.conf")
    assert "nameserver 10.43.0.10" in resolv.splitlines()
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in resolv
    assert "options ndots:5" in resolv
    looked_up = kubectl("exec", "bb", "--", "nslookup", "web.default.svc.cluster.local")
    assert f"Address: {web['spec']['clusterIP']}" in looked_up, looked_up
    answer = kubectl("exec", "bb", "--", "sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 web 80")
    assert "web 1 web-" in answer, answer
    assert "CoreDNS is running at" in kubectl("cluster-info")


def _host_request(port: int, host: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=3.0) as connection:
        connection.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_an_ingress_routes_its_host_to_the_service(node: NodeServer, web: Obj) -> None:
    kubectl = node.kubectl
    assert "true" in kubectl("get", "ingressclass", "nginx", "-o", "jsonpath={.metadata.annotations}")
    manifest = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: a.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
"""
    kubectl("apply", "-f", "-", input=manifest)
    wait_for(lambda: "web 1 web-" in _quietly(lambda: _host_request(node.ingress_port, "a.test")), what="the Ingress to route a.test")
    assert " 404 " in _host_request(node.ingress_port, "b.test").splitlines()[0]
    wait_for(lambda: kubectl("get", "ingress", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"), what="Ingress status")


def test_a_restarted_server_adopts_the_bridge_and_serves_again(node: NodeServer, web: Obj) -> None:
    node.server.stop()
    node.server = start_server(
        node.server.data_dir, "--kubelet-port", str(free_port()), *node.flags, port=node.server.port, agent=True, timeout=40.0
    )
    assert "without service networking" not in "".join(node.server.output), "".join(node.server.output)
    node_port = web["spec"]["ports"][0]["nodePort"]
    wait_for(lambda: "web 1" in _quietly(lambda: http_get("127.0.0.1", node_port)), what="the NodePort after a restart")
