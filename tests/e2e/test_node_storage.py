"""Storage end to end with the real kubectl: on `kubelite server`'s own node (root; a bridge, CIDR,
netns prefix, cgroup parent, proxy table and kubelet port of its own) the default StorageClass is
`local-path (default)`; a claim stays Pending (WaitForFirstConsumer) until a pod uses it, then is
Bound to a PV under DATA/storage; what the pod writes survives the pod's deletion and is read by a
new pod of the same claim; a claim in use shows Terminating until its pod is gone; deleting it
removes the PV and the directory. On a hollow-node server (hollow provisioner: PVs without
directories) a StatefulSet's volumeClaimTemplates bind and its pods run."""

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

from tests.e2e.conftest import KUBECTL_VERSIONS, Kubectl
from tests.e2e.server_harness import RunningServer, free_port, start_server
from tests.runtime.oci_harness import NETNS_DIR, RunNames, image_archives, unique_net

Obj = dict[str, Any]
BUSYBOX = "kubelite.test/busybox:1"


def _proxy_table(net: RunNames) -> str:
    return f"kubelite_t{net.number}"


def _net_flags(net: RunNames) -> list[str]:
    return [
        "--pod-cidr", net.cidr, "--bridge", net.bridge, "--cgroup-parent", net.cgroup_parent,
        "--netns-prefix", net.netns_prefix, "--proxy-table", _proxy_table(net), "--ingress-http-port", "0",
    ]  # fmt: skip


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    if os.geteuid() != 0:
        pytest.fail("node e2e tests need root (runc, CNI, cgroups)", pytrace=False)
    data_dir = tmp_path_factory.mktemp("storage") / "data"
    archive = image_archives() / "busybox-1.tar"
    subprocess.run([sys.executable, "-m", "kubelite.cli.main", "image", "import", "--data-dir", str(data_dir), str(archive)], check=True, capture_output=True)
    net = unique_net()
    flags = _net_flags(net)
    running = start_server(data_dir, "--kubelet-port", str(free_port()), *flags, agent=True)
    try:
        yield running, data_dir
    finally:
        running.stop()
        reset = subprocess.run(
            [sys.executable, "-m", "kubelite.cli.main", "server", "--data-dir", str(data_dir), "--reset", *flags], capture_output=True, text=True
        )
        assert reset.returncode == 0, reset.stderr
        left = [f"netns {n}" for n in (os.listdir(NETNS_DIR) if NETNS_DIR.exists() else []) if n.startswith(net.netns_prefix)]
        left += [f"bridge {net.bridge}"] if Path("/sys/class/net", net.bridge).exists() else []
        left += [f"cgroup {net.cgroup_parent}"] if Path("/sys/fs/cgroup/memory", net.cgroup_parent.strip("/")).exists() else []
        nft = subprocess.run(["nft", "list", "table", "ip", _proxy_table(net)], capture_output=True)
        left += [f"nft table {_proxy_table(net)}"] if nft.returncode == 0 else []
        mounts = Path("/proc/self/mounts").read_text()
        left += [f"mount {line.split()[1]}" for line in mounts.splitlines() if str(data_dir) in line]
        left += [f"volume dir {p.name}" for p in (data_dir / "storage").glob("pvc-*")] if (data_dir / "storage").exists() else []
        assert not left, f"left behind: {left}"


def kubectl_for(server: RunningServer, version: str, home: Path) -> Kubectl:
    return Kubectl(KUBECTL_VERSIONS[version], server.kubeconfig, home)


def claim_pod(name: str, claim: str, command: str) -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 0
  restartPolicy: Never
  volumes: [{{name: data, persistentVolumeClaim: {{claimName: {claim}}}}}]
  containers:
  - name: c
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: [sh, -c, {json.dumps(command)}]
    volumeMounts: [{{name: data, mountPath: /data}}]
"""


def test_local_path_claim_keeps_its_data_across_pods(node_server: tuple[RunningServer, Path], tmp_path: Path) -> None:
    server, data_dir = node_server
    for version in sorted(KUBECTL_VERSIONS):
        out = kubectl_for(server, version, tmp_path / version)("get", "sc")
        row = next(line.split() for line in out.splitlines() if line.startswith("local-path"))
        assert row[:5] == ["local-path", "(default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer"], out
    kubectl = kubectl_for(server, "1.33", tmp_path / "1.33")

    kubectl("apply", "-f", "-", input="""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: notes}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 64Mi}}}
""")
    wait_for(lambda: "WaitForFirstConsumer" in kubectl("get", "events", "--field-selector", "involvedObject.name=notes"), what="waiting event")
    assert kubectl("get", "pvc", "notes", "--no-headers").split()[1] == "Pending"

    kubectl("apply", "-f", "-", input=claim_pod("writer", "notes", "echo kept-across-pods > /data/note && sleep 3600"))
    wait_for(lambda: kubectl("get", "pvc", "notes", "--no-headers").split()[1] == "Bound", what="claim bound")
    row = kubectl("get", "pvc", "notes", "--no-headers").split()
    volume = row[2]
    assert row[3:6] == ["64Mi", "RWO", "local-path"], row
    pv = json.loads(kubectl("get", "pv", volume, "-o", "json"))
    directory = Path(pv["spec"]["hostPath"]["path"])
    assert directory.parent == data_dir / "storage" and directory.name.startswith(f"{volume}_default_notes"), directory
    wait_for(lambda: kubectl("get", "pod", "writer", "-o", "jsonpath={.status.phase}") == "Running", what="writer running")
    wait_for(lambda: (directory / "note").exists(), what="the file on the node")
    assert oct(directory.stat().st_mode & 0o777) == "0o777"

    kubectl("delete", "pvc", "notes", "--wait=false")
    row = kubectl("get", "pvc", "notes", "--no-headers").split()
    assert row[1] == "Terminating", "in use by writer"
    kubectl("delete", "pod", "writer", "--grace-period=0", "--force")
    wait_for(lambda: kubectl.run("get", "pvc", "notes", check=False).returncode != 0, what="claim gone with its pod")
    wait_for(lambda: kubectl.run("get", "pv", volume, check=False).returncode != 0, what="volume deleted")
    wait_for(lambda: not directory.exists(), what="directory removed")


def test_data_survives_pod_recreation(node_server: tuple[RunningServer, Path], tmp_path: Path) -> None:
    server, _ = node_server
    kubectl = kubectl_for(server, "1.33", tmp_path / "home")
    kubectl("apply", "-f", "-", input="""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: keep}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}
""")
    kubectl("apply", "-f", "-", input=claim_pod("first", "keep", "echo hello-from-first > /data/f"))
    wait_for(lambda: kubectl("get", "pod", "first", "-o", "jsonpath={.status.phase}") == "Succeeded", what="first done")
    kubectl("delete", "pod", "first", "--grace-period=0", "--force")
    kubectl("apply", "-f", "-", input=claim_pod("second", "keep", "cat /data/f"))
    wait_for(lambda: kubectl("get", "pod", "second", "-o", "jsonpath={.status.phase}") == "Succeeded", what="second done")
    assert kubectl("logs", "second").strip() == "hello-from-first"
    kubectl("delete", "pod", "second", "--grace-period=0", "--force")
    kubectl("delete", "pvc", "keep")


def test_statefulset_claims_bind_on_hollow_nodes(tmp_path: Path) -> None:
    server = start_server(tmp_path / "hollow", "--hollow-nodes", "2")
    try:
        kubectl = Kubectl(KUBECTL_VERSIONS["1.33"], server.kubeconfig, tmp_path / "home")
        kubectl("apply", "-f", "-", input="""
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: db:1}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
""")
        out = kubectl("rollout", "status", "statefulset/db", "--timeout=40s", timeout=60)
        assert "partitioned roll out complete: 2 new pods have been updated" in out
        rows = [line.split() for line in kubectl("get", "pvc", "--no-headers").splitlines()]
        assert [(r[0], r[1], r[5]) for r in rows] == [("data-db-0", "Bound", "local-path"), ("data-db-1", "Bound", "local-path")]
        for index in range(2):
            pod = json.loads(kubectl("get", "pod", f"db-{index}", "-o", "json"))
            pv = json.loads(kubectl("get", "pv", rows[index][2], "-o", "json"))
            hosts = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"]
            assert hosts == [pod["spec"]["nodeName"]], "the pod runs where its volume is"
    finally:
        server.stop()
