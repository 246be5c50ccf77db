"""NetworkPolicy on `kubelite server`'s own node, driven by the real kubectl 1.33: two web pods
(busybox httpd on ports 80 and 81) behind a ClusterIP Service and a client pod in namespace
np-a, another client in np-b. Then, step by step: no policy lets everything through; a
default-deny ingress policy on web blocks both clients (by pod IP and ClusterIP: the connection
times out, it is dropped); allowing role=client pods of np-a on port 80 lets a's client in (not
on port 81) and keeps b's out; adding a namespaceSelector for np-b lets b's in; an egress
default-deny on a's client blocks its DNS lookups and web, an egress rule allowing port 53 and
web on 80 lets both through again; deleting the policies restores everything. The proxy's
table (policy chains included) is gone once the server stops.

One agent server for the module with unique net flags, table, kubelet port and no ingress."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import KUBECTL_VERSIONS, Kubectl
from tests.e2e.server_harness import RunningServer, free_port, start_server
from tests.runtime.oci_harness import NETNS_DIR, RunNames, image_archives, unique_net

BUSYBOX = "kubelite.test/busybox:1"
SERVICE_CIDR = "10.43.0.0/16"
WEB_SCRIPT = "mkdir -p /w && hostname > /w/index.html && httpd -p 81 -h /w && exec httpd -f -p 80 -h /w"


@dataclass
class Cluster:
    server: RunningServer
    net: RunNames
    table: str
    kubectl: Kubectl
    web_ips: list[str]
    cluster_ip: str


def _table_exists(table: str) -> bool:
    return subprocess.run(["nft", "list", "table", "ip", table], capture_output=True).returncode == 0


def _service_route() -> str:
    return subprocess.run(["ip", "-4", "route", "show", "exact", SERVICE_CIDR], capture_output=True, text=True).stdout


def _manifest(namespace: str, name: str, labels: str, command: str) -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {namespace}, labels: {{{labels}}}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: [sh, -c, "{command}"]
---"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if os.geteuid() != 0:
        pytest.fail("node e2e tests need root (runc, CNI, nft)", pytrace=False)
    deadline = time.monotonic() + 30
    while _service_route().strip():  # another kubelite node test holds the service CIDR route
        if time.monotonic() > deadline:
            pytest.fail(f"{SERVICE_CIDR} is already routed on this host (another kubelite node?)", pytrace=False)
        time.sleep(1)
    data_dir = tmp_path_factory.mktemp("netpol") / "data"
    archive = image_archives() / "busybox-1.tar"
    subprocess.run([sys.executable, "-m", "kubelite.cli.main", "image", "import", "--data-dir", str(data_dir), str(archive)], check=True, capture_output=True)
    net = unique_net()
    table = f"kubelite_np_{net.number}"
    flags = [
        "--pod-cidr", net.cidr, "--bridge", net.bridge, "--cgroup-parent", net.cgroup_parent,
        "--netns-prefix", net.netns_prefix, "--proxy-table", table, "--ingress-http-port", "0",
    ]  # fmt: skip
    running: RunningServer | None = None
    try:
        running = start_server(data_dir, "--kubelet-port", str(free_port()), *flags, agent=True, timeout=40.0)
        kubectl = Kubectl(KUBECTL_VERSIONS["1.33"], running.kubeconfig, tmp_path_factory.mktemp("home-np"))
        kubectl("create", "namespace", "np-a")
        kubectl("create", "namespace", "np-b")
        manifests = [
            _manifest("np-a", "web-1", "app: web", WEB_SCRIPT),
            _manifest("np-a", "web-2", "app: web", WEB_SCRIPT),
            _manifest("np-a", "client", "role: client", "exec sleep 3600"),
            _manifest("np-b", "client", "role: client", "exec sleep 3600"),
        ]
        kubectl("apply", "-f", "-", input="\n".join(manifests))
        kubectl("expose", "pod", "web-1", "-n", "np-a", "--name=web", "--port=80", "--selector=app=web")
        for namespace in ("np-a", "np-b"):
            kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod", "--all", "--timeout=60s")
        web_ips = [kubectl("get", "pod", "-n", "np-a", name, "-o", "jsonpath={.status.podIP}") for name in ("web-1", "web-2")]
        cluster_ip = kubectl("get", "service", "-n", "np-a", "web", "-o", "jsonpath={.spec.clusterIP}")
        yield Cluster(running, net, table, kubectl, web_ips, cluster_ip)
    finally:
        if running is not None:
            running.stop()
        table_left = _table_exists(table)
        reset = subprocess.run(
            [sys.executable, "-m", "kubelite.cli.main", "server", "--data-dir", str(data_dir), "--reset", *flags], capture_output=True, text=True
        )
        assert not table_left, f"table {table} left after the server stopped"
        assert reset.returncode == 0, reset.stderr
        left = [f"netns {n}" for n in (os.listdir(NETNS_DIR) if NETNS_DIR.exists() else []) if n.startswith(net.netns_prefix)]
        left += [f"bridge {net.bridge}"] if Path("/sys/class/net", net.bridge).exists() else []
        left += [f"route {line}" for line in _service_route().splitlines() if net.bridge in line]
        assert not left, f"left behind: {left}"


# ---------------------------------------------------------------------- probes
def _probe_script(targets: list[str]) -> str:
    """One line per target, in parallel: `<target> ok` when it answered, else `<target> blocked`.
    A target is `IP:PORT`, `NAME:PORT` (HTTP via nc) or `dns:NAME` (a lookup)."""
    lines = []
    for target in targets:
        if target.startswith("dns:"):
            check = f"timeout 4 nslookup {target[4:]} >/dev/null 2>&1"
        else:
            host, port = target.rsplit(":", 1)
            check = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 4 nc -w 2 {host} {port} 2>/dev/null | grep -q '^web-'"
        lines.append(f"( if {check}; then echo '{target} ok'; else echo '{target} blocked'; fi ) &")
    return "\n".join([*lines, "wait"])


def reachable(cluster: Cluster, probes: dict[str, list[str]]) -> dict[str, dict[str, bool]]:
    """{namespace of the client pod: {target: answered}}, every client probing at once."""

    def run(namespace: str) -> dict[str, bool]:
        out = cluster.kubectl("exec", "-n", namespace, "client", "--", "sh", "-c", _probe_script(probes[namespace]), timeout=30)
        found = dict(line.rsplit(" ", 1) for line in out.splitlines() if line.strip())
        return {target: found.get(target) == "ok" for target in probes[namespace]}

    with ThreadPoolExecutor(len(probes)) as pool:
        return dict(zip(probes, pool.map(run, probes), strict=True))


def expect(cluster: Cluster, wanted: dict[str, dict[str, bool]], timeout: float = 15.0) -> None:
    """Probe until what answers is as wanted (policies land within a sync; a few rounds at most)."""
    probes = {namespace: list(targets) for namespace, targets in wanted.items()}
    deadline = time.monotonic() + timeout
    while True:
        got = reachable(cluster, probes)
        if got == wanted:
            return
        if time.monotonic() > deadline:
            wrong = {ns: {t: ok for t, ok in got[ns].items() if ok != wanted[ns][t]} for ns in got}
            raise AssertionError(f"reachability differs from what the policies say (target: answered): {wrong}")
        time.sleep(0.3)


def apply(cluster: Cluster, manifest: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=manifest)


def web_targets(cluster: Cluster, port: int = 80) -> list[str]:
    return [f"{cluster.web_ips[0]}:{port}", f"{cluster.cluster_ip}:80"]


# ---------------------------------------------------------------------- the walk
DENY_WEB = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-deny, namespace: np-a}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
"""
ALLOW_CLIENTS = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-allow-clients, namespace: np-a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - podSelector: {matchLabels: {role: client}}
%s    ports:
    - {port: 80, protocol: TCP}
"""
FROM_B = """    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: np-b}}
      podSelector: {matchLabels: {role: client}}
"""
CLIENT_EGRESS_DENY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-egress, namespace: np-a}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
"""
CLIENT_EGRESS_ALLOW = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-egress-allow, namespace: np-a}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
  - to: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 80}]
"""


def test_network_policies_block_and_allow_traffic_as_written(cluster: Cluster) -> None:
    ip_80, vip = web_targets(cluster)
    ip_81 = f"{cluster.web_ips[0]}:81"
    other_web = f"{cluster.web_ips[1]}:80"
    by_name = "web.np-a.svc.cluster.local:80"
    dns = "dns:web.np-a.svc.cluster.local"
    everything = {
        "np-a": {ip_80: True, vip: True, ip_81: True, other_web: True, by_name: True, dns: True},
        "np-b": {ip_80: True, vip: True},
    }
    # (1) no policy: both clients reach web by pod IP, ClusterIP and name
    expect(cluster, everything, timeout=30.0)

    # (2) default-deny ingress on web: both blocked, by pod IP and ClusterIP; DNS untouched
    apply(cluster, DENY_WEB)
    started = time.monotonic()
    expect(cluster, {"np-a": {ip_80: False, vip: False, ip_81: False, dns: True}, "np-b": {ip_80: False, vip: False}})
    assert time.monotonic() - started >= 2.0, "blocked connections must time out (dropped), not be refused"

    # (3) allow role=client of np-a on port 80: a passes (not on 81), b stays out
    apply(cluster, ALLOW_CLIENTS % "")
    expect(cluster, {"np-a": {ip_80: True, vip: True, other_web: True, ip_81: False}, "np-b": {ip_80: False, vip: False}})

    # (4) and role=client of np-b: b passes too
    apply(cluster, ALLOW_CLIENTS % FROM_B)
    expect(cluster, {"np-a": {ip_80: True, ip_81: False}, "np-b": {ip_80: True, vip: True}})

    # (5) egress default-deny on a's client: no DNS, no web; allowing port 53 and web:80 lets both through
    apply(cluster, CLIENT_EGRESS_DENY)
    expect(cluster, {"np-a": {dns: False, ip_80: False, vip: False}, "np-b": {ip_80: True}})
    apply(cluster, CLIENT_EGRESS_ALLOW)
    expect(cluster, {"np-a": {dns: True, by_name: True, ip_80: True, vip: True, ip_81: False}, "np-b": {ip_80: True}})

    # (6) every policy deleted: everything passes again, and the policy chains leave the table
    cluster.kubectl("delete", "networkpolicy", "--all", "-n", "np-a")
    expect(cluster, everything)
    listed = subprocess.run(["nft", "list", "table", "ip", cluster.table], capture_output=True, text=True, check=True).stdout
    assert "policy-forward" not in listed
