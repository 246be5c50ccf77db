"""Resource metrics end to end with the real kubectl 1.33 and 1.27: `kubectl top node|pod` (-A, -l,
--containers) on hollow nodes (synthetic usage), an HPA on the default metrics source, `kubectl get
--raw /metrics`; and on a real node (root) a busybox pod burning CPU shows in `kubectl top pod`.
Servers scrape every second (the hidden --metric-resolution flag)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubelite.api.quantity import parse_quantity
from kubelite.runtime.hollow import synthetic_usage
from tests.e2e.conftest import KUBECTL_VERSIONS, Kubectl
from tests.e2e.kubectl_util import table
from tests.e2e.server_harness import RunningServer, free_port, start_server
from tests.runtime.oci_harness import NETNS_DIR, image_archives, unique_net

RESOLUTION = "1"


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def millicores(text: str) -> float:
    return float(parse_quantity(text).amount) * 1000


def mebibytes(text: str) -> float:
    return float(parse_quantity(text).amount) / 2**20


def top_rows(kubectl: Kubectl, *args: str) -> list[dict[str, str]]:
    result = kubectl.run("top", *args, check=False)
    return table(result.stdout) if result.returncode == 0 and result.stdout.strip() else []


# ------------------------------------------------------------------------------------------ hollow
@pytest.fixture(scope="module")
def hollow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("metrics"), "--hollow-nodes", "2", "--metric-resolution", RESOLUTION, "--datastore", "memory")
    yield running
    running.stop()


@pytest.fixture(params=sorted(KUBECTL_VERSIONS), scope="module")
def kubectl(request: pytest.FixtureRequest, hollow_server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(KUBECTL_VERSIONS[request.param], hollow_server.kubeconfig, tmp_path_factory.mktemp(f"home-{request.param}"))


def test_top_node_and_pod_on_hollow_nodes(kubectl: Kubectl) -> None:
    ns = "top-" + kubectl.binary.name.split(".")[-1]
    kubectl("create", "namespace", ns)
    kubectl("create", "deployment", "web", "--image=web", "--replicas=3", "-n", ns)
    kubectl("create", "deployment", "other", "--image=web", "-n", ns)
    rows = wait_for(lambda: len(top_rows(kubectl, "pod", "-n", ns)) == 4 and top_rows(kubectl, "pod", "-n", ns), what="pod metrics")
    assert list(rows[0]) == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    pods = json.loads(kubectl("get", "pods", "-n", ns, "-o", "json"))["items"]
    expected = {p["metadata"]["name"]: synthetic_usage(ns, p["metadata"]["name"], p["spec"]["containers"][0]["name"]) for p in pods}
    for row in rows:
        cpu, memory = expected[row["NAME"]]
        assert abs(millicores(row["CPU(cores)"]) - cpu) <= 2, row  # a steady synthetic rate
        assert mebibytes(row["MEMORY(bytes)"]) == memory / 2**20, row

    labelled = top_rows(kubectl, "pod", "-n", ns, "-l", "app=web")
    assert sorted(r["NAME"] for r in labelled) == sorted(n for n in expected if n.startswith("web-"))
    everywhere = top_rows(kubectl, "pod", "-A", "--containers")
    mine = [r for r in everywhere if r["NAMESPACE"] == ns]
    assert list(everywhere[0]) == ["NAMESPACE", "POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert sorted(r["POD"] for r in mine) == sorted(expected) and {r["NAME"] for r in mine} == {"web"}  # the image names the container

    nodes = top_rows(kubectl, "node")
    assert sorted(r["NAME"] for r in nodes) == ["hollow-node-0", "hollow-node-1"]
    cpu_column = "CPU(%)" if "CPU(%)" in nodes[0] else "CPU%"
    for row in nodes:
        assert 100 <= millicores(row["CPU(cores)"]) < 4000 and mebibytes(row["MEMORY(bytes)"]) >= 256
        assert row[cpu_column].endswith("%")
    missing = kubectl.run("top", "pod", "nope", "-n", ns, check=False)
    assert missing.returncode != 0 and 'pod "nope" not found' in missing.stderr
    groups = kubectl("api-resources", "--api-group=metrics.k8s.io", "-o", "name")
    assert groups.split() == ["nodes.metrics.k8s.io", "pods.metrics.k8s.io"]


def test_an_hpa_on_the_default_metrics_source(kubectl: Kubectl) -> None:
    ns = "hpa-" + kubectl.binary.name.split(".")[-1]
    kubectl("create", "namespace", ns)
    kubectl("create", "deployment", "app", "--image=web", "--replicas=2", "-n", ns)
    kubectl("set", "resources", "deployment", "app", "--requests=cpu=100m", "-n", ns)
    kubectl("autoscale", "deployment", "app", "--cpu-percent=50", "--min=1", "--max=4", "-n", ns)

    def active() -> Any:
        status = json.loads(kubectl("get", "hpa", "app", "-n", ns, "-o", "json")).get("status") or {}
        conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
        return status if conditions.get("ScalingActive") == "True" and status.get("currentMetrics") else None

    status = wait_for(active, timeout=40, what="the HPA to read metrics")
    current = status["currentMetrics"][0]["resource"]
    assert current["name"] == "cpu" and 10 <= current["current"]["averageUtilization"] <= 100


def test_apiserver_metrics_through_get_raw(kubectl: Kubectl) -> None:
    text = kubectl("get", "--raw", "/metrics")
    assert "# TYPE apiserver_request_total counter" in text
    assert 'apiserver_request_total{code="200",component="apiserver"' in text
    assert "apiserver_request_duration_seconds_bucket{" in text and "process_resident_memory_bytes " in text


# ------------------------------------------------------------------------------------------ real node
def _real_flags(number: int, cidr: str, bridge: str, cgroup_parent: str, netns_prefix: str) -> list[str]:
    return [
        "--pod-cidr", cidr, "--bridge", bridge, "--cgroup-parent", cgroup_parent, "--netns-prefix", netns_prefix,
        "--proxy-table", f"kubelite_t{number}", "--ingress-http-port", "0",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    if os.geteuid() != 0:
        pytest.fail("node e2e tests need root (runc, CNI, cgroups)", pytrace=False)
    data_dir = tmp_path_factory.mktemp("metrics-node") / "data"
    subprocess.run(
        [sys.executable, "-m", "kubelite.cli.main", "image", "import", "--data-dir", str(data_dir), str(image_archives() / "busybox-1.tar")],
        check=True, capture_output=True,
    )  # fmt: skip
    net = unique_net()
    flags = _real_flags(net.number, net.cidr, net.bridge, net.cgroup_parent, net.netns_prefix)
    running = start_server(data_dir, "--kubelet-port", str(free_port()), "--metric-resolution", RESOLUTION, *flags, agent=True)
    try:
        yield running
    finally:
        running.stop()
        reset = subprocess.run(
            [sys.executable, "-m", "kubelite.cli.main", "server", "--data-dir", str(data_dir), "--reset", *flags], capture_output=True, text=True
        )
        assert reset.returncode == 0, reset.stderr
        left = [f"netns {n}" for n in (os.listdir(NETNS_DIR) if NETNS_DIR.exists() else []) if n.startswith(net.netns_prefix)]
        left += [f"bridge {net.bridge}"] if Path("/sys/class/net", net.bridge).exists() else []
        left += [f"cgroup {net.cgroup_parent}"] if Path("/sys/fs/cgroup/memory", net.cgroup_parent.strip("/")).exists() else []
        table_left = subprocess.run(["nft", "list", "table", "ip", f"kubelite_t{net.number}"], capture_output=True).returncode == 0
        left += [f"nft table kubelite_t{net.number}"] if table_left else []
        mounts = Path("/proc/self/mounts").read_text()
        left += [f"mount {line.split()[1]}" for line in mounts.splitlines() if str(data_dir) in line]
        assert not left, f"left behind: {left}"


def test_a_pod_burning_cpu_shows_in_top(node_server: RunningServer, tmp_path: Path) -> None:
    kubectl = Kubectl(KUBECTL_VERSIONS["1.33"], node_server.kubeconfig, tmp_path)
    manifest = """
apiVersion: v1
kind: Pod
metadata: {name: burn, labels: {app: burn}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: spin
    image: kubelite.test/busybox:1
    imagePullPolicy: Never
    command: [sh, -c, 'while :; do :; done']
"""
    kubectl("apply", "-f", "-", input=manifest)
    kubectl("wait", "--for=condition=Ready", "pod/burn", "--timeout=60s")

    def burning() -> Any:
        rows = top_rows(kubectl, "pod", "burn", "--containers")
        return rows if rows and millicores(rows[0]["CPU(cores)"]) > 100 else None

    rows = wait_for(burning, timeout=30, what="the burning pod's CPU in kubectl top")
    assert rows[0]["NAME"] == "spin"
    raw = json.loads(kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/burn"))
    assert parse_quantity(raw["containers"][0]["usage"]["memory"]).amount > 0  # a shell's working set: under 1Mi, so top shows 0Mi
    node = top_rows(kubectl, "node")
    assert len(node) == 1 and millicores(node[0]["CPU(cores)"]) > 100
    kubectl("delete", "pod", "burn", "--wait=true", "--timeout=60s")
