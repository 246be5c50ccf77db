"""A second node joins (root; real runc, CNI, nft): a `kubelite server` with its own node, and a
second "host" — a network namespace of the test's own, joined to this one by a veth pair with a
private /30 — running `kubelite agent` with a join token from `kubelite token create`. The agent
runs under `nsenter --net` (its own network, this machine's mounts and cgroups: `ip netns exec`
would hide /sys/fs/cgroup). Checked with the real kubectl 1.33: the node registers and becomes
Ready with a pod CIDR from node IPAM; a pod pinned to each node runs; each reaches the other by
pod IP and through a ClusterIP Service, the agent's pod by name through cluster DNS; `kubectl
logs` and `exec` reach the agent's kubelet. Everything created is removed at the end (and
checked: processes, netns, veth, routes, bridges, nft tables, cgroups, mounts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kubelite.apiserver.bootstrap import host_address
from kubelite.network.noderoutes import ROUTE_PROTO
from tests.e2e.conftest import KUBECTL_VERSIONS, Kubectl
from tests.e2e.server_harness import RunningServer, free_port, start_server
from tests.runtime.oci_harness import NETNS_DIR, RunNames, image_archives, unique_net

Obj = dict[str, Any]
WEB = "kubelite.test/web:1"
KUBELITE = [sys.executable, "-m", "kubelite.cli.main"]


@dataclass
class Names:
    """Everything of this run, derived from one unique number."""

    net: RunNames

    @property
    def n(self) -> int:
        return self.net.number

    @property
    def cluster_cidr(self) -> str:
        return f"10.244.{self.n}.0/24"

    @property
    def server_cidr(self) -> str:
        return f"10.244.{self.n}.0/26"

    @property
    def host_netns(self) -> str:
        return f"klhost{self.n}"

    @property
    def veth(self) -> str:
        return f"klv{self.n}"

    @property
    def root_ip(self) -> str:
        return f"10.213.{self.n}.1"

    @property
    def agent_ip(self) -> str:
        return f"10.213.{self.n}.2"

    @property
    def agent_bridge(self) -> str:
        return f"kubelite-a{self.n}"

    @property
    def agent_cgroup(self) -> str:
        return f"/kubelite-a{self.n}"

    @property
    def agent_netns_prefix(self) -> str:
        return f"kla{self.n}-"

    @property
    def server_table(self) -> str:
        return f"kubelite_t{self.n}"

    @property
    def agent_table(self) -> str:
        return f"kubelite_a{self.n}"

    @property
    def server_node(self) -> str:
        return f"srv-{self.n}"

    @property
    def agent_node(self) -> str:
        return f"agent-{self.n}"


@dataclass
class Cluster:
    names: Names
    server: RunningServer
    agent: subprocess.Popen[str]
    agent_output: list[str]
    kubectl: Kubectl
    pods: dict[str, Obj] = field(default_factory=dict)


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check)


def _import_images(data_dir: Path) -> None:
    for name in ("busybox-1.tar", "web-1.tar"):
        _sh(*KUBELITE, "image", "import", "--data-dir", str(data_dir), str(image_archives() / name))


def _server_flags(names: Names) -> list[str]:
    net = names.net
    return [
        "--pod-cidr", names.server_cidr, "--cluster-cidr", names.cluster_cidr, "--node-cidr-mask-size", "26",
        "--bridge", net.bridge, "--cgroup-parent", net.cgroup_parent, "--netns-prefix", net.netns_prefix,
        "--proxy-table", names.server_table, "--ingress-http-port", "0", "--node-name", names.server_node,
    ]  # fmt: skip


def _agent_flags(names: Names) -> list[str]:
    return [
        "--bridge", names.agent_bridge, "--cgroup-parent", names.agent_cgroup, "--netns-prefix", names.agent_netns_prefix,
        "--proxy-table", names.agent_table,
    ]  # fmt: skip


def _in_host(names: Names, *argv: str) -> list[str]:
    return ["nsenter", f"--net={NETNS_DIR / names.host_netns}", "--", *argv]


def _make_host(names: Names, host_ip: str) -> None:
    """The second host: a netns with one veth to this namespace, a /30, and a route to the server."""
    _sh("ip", "netns", "add", names.host_netns)
    _sh("ip", "link", "add", names.veth, "type", "veth", "peer", "name", "eth0", "netns", names.host_netns)
    _sh("ip", "addr", "add", f"{names.root_ip}/30", "dev", names.veth)
    _sh("ip", "link", "set", names.veth, "up")
    host = ("ip", "-n", names.host_netns)
    _sh(*host, "addr", "add", f"{names.agent_ip}/30", "dev", "eth0")
    _sh(*host, "link", "set", "eth0", "up")
    _sh(*host, "link", "set", "lo", "up")
    _sh(*host, "route", "add", f"{host_ip}/32", "via", names.root_ip)  # the server's address only


def _start_agent(names: Names, server: RunningServer, host_ip: str, token: str, data_dir: Path) -> tuple[subprocess.Popen[str], list[str]]:
    argv = _in_host(
        names, *KUBELITE, "agent", "--server", f"https://{host_ip}:{server.port}", "--token", token,
        "--data-dir", str(data_dir), "--node-name", names.agent_node, "--node-ip", names.agent_ip,
        "--kubelet-port", str(free_port()), *_agent_flags(names),
    )  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        if line.startswith("kubelite agent ready"):
            threading.Thread(target=output.extend, args=(process.stdout,), daemon=True).start()
            return process, output
    _stop(process)
    raise AssertionError("kubelite agent did not become ready:\n" + "".join(output))


def _stop(process: subprocess.Popen[str]) -> int:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return process.returncode


def _processes_mentioning(*needles: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(needle in command for needle in needles):
                found.append(f"{entry.name}: {command[:160]}")
    return found


def _leftovers(names: Names, data_dirs: list[Path]) -> list[str]:
    net = names.net
    left = [f"netns {n}" for n in (os.listdir(NETNS_DIR) if NETNS_DIR.exists() else []) if n.startswith((net.netns_prefix, names.agent_netns_prefix)) or n == names.host_netns]
    left += [f"link {link}" for link in (net.bridge, names.veth) if Path("/sys/class/net", link).exists()]
    left += [f"cgroup {c}" for c in (net.cgroup_parent, names.agent_cgroup) if Path("/sys/fs/cgroup/memory", c.strip("/")).exists()]
    routes = _sh("ip", "-4", "route", "show", "proto", str(ROUTE_PROTO)).stdout
    left += [f"route {line}" for line in routes.splitlines() if f"10.244.{names.n}." in line]
    for table in (names.server_table, f"{names.server_table}_routes"):
        if _sh("nft", "list", "table", "ip", table, check=False).returncode == 0:
            left.append(f"nft table {table}")
    mounts = Path("/proc/self/mounts").read_text()
    left += [f"mount {line.split()[1]}" for line in mounts.splitlines() if any(str(d) in line for d in data_dirs)]
    left += [f"process {p}" for p in _processes_mentioning(*(str(d) for d in data_dirs))]
    return left


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if os.geteuid() != 0:
        pytest.fail("the node join test needs root (netns, runc, CNI, nft)", pytrace=False)
    host_ip = host_address()
    if host_ip.startswith("127."):
        pytest.fail("the node join test needs a host address other than loopback (a default route)", pytrace=False)
    root = tmp_path_factory.mktemp("join")
    server_dir, agent_dir = root / "server", root / "agent"
    _import_images(server_dir)
    _import_images(agent_dir)
    net = unique_net()
    while f"10.213.{net.number}." in _sh("ip", "-4", "addr").stdout:
        net = unique_net()
    names = Names(net)
    server_flags = _server_flags(names)
    server = start_server(server_dir, "--bind-address", "0.0.0.0", "--kubelet-port", str(free_port()), *server_flags, agent=True, timeout=40.0)
    agent: subprocess.Popen[str] | None = None
    try:
        _make_host(names, host_ip)
        token = _sh(*KUBELITE, "token", "create", "--data-dir", str(server_dir)).stdout.strip()
        assert token.startswith("K10") and "::" in token, token
        agent, agent_output = _start_agent(names, server, host_ip, token, agent_dir)
        kubectl = Kubectl(KUBECTL_VERSIONS["1.33"], server.kubeconfig, tmp_path_factory.mktemp("home"))
        yield Cluster(names, server, agent, agent_output, kubectl)
    finally:
        if agent is not None:
            subprocess.run([str(KUBECTL_VERSIONS["1.33"]), "delete", "namespace", "join", "--ignore-not-found", "--timeout=60s"],
                           env=dict(os.environ, KUBECONFIG=str(server.kubeconfig)), capture_output=True)  # fmt: skip
            code = _stop(agent)
            assert code == 0, f"agent exited {code}"
            for table in (names.agent_table, f"{names.agent_table}_routes"):
                listed = subprocess.run(_in_host(names, "nft", "list", "table", "ip", table), capture_output=True)
                assert listed.returncode != 0, f"the agent left its nft table {table}"
            reset = subprocess.run(_in_host(names, *KUBELITE, "agent", "--reset", "--data-dir", str(agent_dir), *_agent_flags(names)), capture_output=True, text=True)
            assert reset.returncode == 0, reset.stderr
        server.stop()
        reset = subprocess.run([*KUBELITE, "server", "--data-dir", str(server_dir), "--reset", *server_flags], capture_output=True, text=True)
        subprocess.run(["ip", "link", "delete", names.veth], capture_output=True)
        subprocess.run(["ip", "netns", "delete", names.host_netns], capture_output=True)
        assert reset.returncode == 0, reset.stderr
        left = _leftovers(names, [server_dir, agent_dir])
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


def _node(cluster: Cluster, name: str) -> Obj:
    return dict(json.loads(cluster.kubectl("get", "node", name, "-o", "json")))


def _ready(node: Obj) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions") or [])


def test_the_agent_registers_ready_with_its_own_pod_cidr(cluster: Cluster) -> None:
    names = cluster.names
    agent = wait_for(lambda: (lambda n: n if _ready(n) else None)(_node(cluster, names.agent_node)), what="the agent's node Ready")
    assert agent["spec"]["podCIDR"] == f"10.244.{names.n}.64/26" and agent["spec"]["podCIDRs"] == [agent["spec"]["podCIDR"]]
    assert {"type": "InternalIP", "address": names.agent_ip} in agent["status"]["addresses"]
    server = _node(cluster, names.server_node)
    assert server["spec"]["podCIDR"] == names.server_cidr and _ready(server)
    routes = _sh("ip", "-4", "route", "show", "proto", str(ROUTE_PROTO)).stdout
    assert f"10.244.{names.n}.64/26 via {names.agent_ip} dev {names.veth}" in routes, routes
    inside = _sh("ip", "-n", names.host_netns, "-4", "route", "show", "proto", str(ROUTE_PROTO)).stdout
    assert f"{names.server_cidr} via {names.root_ip} dev eth0" in inside, inside
    assert any(line.startswith("kubelite agent ready: node agent-") for line in cluster.agent_output)


def _web_pods(cluster: Cluster) -> dict[str, Obj]:
    if cluster.pods:
        return cluster.pods
    names = cluster.names
    kubectl = cluster.kubectl
    kubectl("create", "namespace", "join")
    wait_for(lambda: kubectl.run("get", "serviceaccount", "default", "-n", "join", check=False).returncode == 0, what="default SA")
    docs = []
    for role, placement in (
        ("on-server", f"nodeSelector: {{kubernetes.io/hostname: {names.server_node}}}"),
        ("on-agent", f"nodeName: {names.agent_node}"),
    ):
        docs.append(f"""
apiVersion: v1
kind: Pod
metadata: {{name: {role}, namespace: join, labels: {{app: {role}}}}}
spec:
  {placement}
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: web, image: {WEB}, imagePullPolicy: Never, readinessProbe: {{httpGet: {{path: /healthz, port: 80}}, periodSeconds: 1}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: {role}, namespace: join}}
spec:
  selector: {{app: {role}}}
  ports: [{{port: 8080, targetPort: 80}}]
""")
    kubectl("apply", "-f", "-", input="---".join(docs))
    kubectl("wait", "--for=condition=Ready", "pod/on-server", "pod/on-agent", "-n", "join", "--timeout=60s")
    for role in ("on-server", "on-agent"):
        cluster.pods[role] = dict(json.loads(kubectl("get", "pod", role, "-n", "join", "-o", "json")))
        cluster.pods[f"svc/{role}"] = dict(json.loads(kubectl("get", "service", role, "-n", "join", "-o", "json")))
    return cluster.pods


def _request(cluster: Cluster, from_pod: str, address: str, port: int) -> str:
    script = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w3 {address} {port}"
    result = cluster.kubectl.run("exec", from_pod, "-n", "join", "--", "sh", "-c", script, check=False)
    return result.stdout + result.stderr


def test_pods_on_both_nodes_reach_each_other_by_pod_ip_and_by_service(cluster: Cluster) -> None:
    pods = _web_pods(cluster)
    names = cluster.names
    assert pods["on-server"]["spec"]["nodeName"] == names.server_node and pods["on-agent"]["spec"]["nodeName"] == names.agent_node
    agent_ip, server_ip = pods["on-agent"]["status"]["podIP"], pods["on-server"]["status"]["podIP"]
    assert agent_ip.startswith(f"10.244.{names.n}.") and 64 <= int(agent_ip.split(".")[3]) < 128, agent_ip
    assert server_ip.startswith(f"10.244.{names.n}.") and int(server_ip.split(".")[3]) < 64, server_ip
    assert "web 1 on-agent" in _request(cluster, "on-server", agent_ip, 80)
    assert "web 1 on-server" in _request(cluster, "on-agent", server_ip, 80)
    agent_vip, server_vip = pods["svc/on-agent"]["spec"]["clusterIP"], pods["svc/on-server"]["spec"]["clusterIP"]
    assert "web 1 on-agent" in _request(cluster, "on-server", agent_vip, 8080)
    assert "web 1 on-server" in _request(cluster, "on-agent", server_vip, 8080)
    # the agent's pods resolve names through kube-dns on the server's node
    assert "web 1 on-server" in _request(cluster, "on-agent", "on-server.join.svc.cluster.local", 8080)


def test_logs_of_the_agents_pod_come_through_the_api_server_and_show_the_callers_pod_ip(cluster: Cluster) -> None:
    pods = _web_pods(cluster)
    assert "web 1 on-agent" in _request(cluster, "on-server", pods["on-agent"]["status"]["podIP"], 80)
    logs = wait_for(lambda: cluster.kubectl("logs", "on-agent", "-n", "join"), what="the agent pod's logs")
    # httpd -v logs each client: the server's pod by its own address (not masqueraded between nodes)
    assert f"{pods['on-server']['status']['podIP']}]" in logs and "response:200" in logs, logs
    assert f"{cluster.names.root_ip}]" not in logs, logs
