"""`kubelite server --runtime process`: its node runs pods as host processes. With the real kubectl
1.33: a busybox pod runs (pod IP = node IP), `kubectl logs`, `kubectl exec` with its exit code and
the pod's hostname, a crashing container is restarted, the web image answers from the host on its
(host) port and through `kubectl port-forward`, deletion stops every process the runtime started (checked by PID), and `--reset`
leaves no pod state or cgroup behind. One server for the module, on a cgroup parent, pod CIDR,
proxy table and ports of its own."""

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

from kubelite.runtime.procstat import process_start_time
from tests.e2e.conftest import KUBECTL_VERSIONS, Kubectl
from tests.e2e.server_harness import RunningServer, free_port, start_server
from tests.runtime.oci_harness import RunNames, http_get, image_archives, unique_net

Obj = dict[str, Any]
BUSYBOX = "kubelite.test/busybox:1"
WEB = "kubelite.test/web:1"


def _flags(net: RunNames) -> list[str]:
    return [
        "--runtime", "process",
        "--pod-cidr", net.cidr,
        "--bridge", net.bridge,
        "--cgroup-parent", net.cgroup_parent,
        "--netns-prefix", net.netns_prefix,
        "--proxy-table", f"kubelite_t{net.number}",
        "--ingress-http-port", "0",
    ]  # fmt: skip


def recorded_pids(data_dir: Path) -> list[tuple[int, str]]:
    """(pid, start time) of every monitor and container process the runtime recorded."""
    found = []
    for record_path in (data_dir / "process" / "pods").glob("*/containers/*/*/container.json"):
        record = json.loads(record_path.read_text())
        for key in ("monitor", "pid", "pgid"):
            if record.get(key) and record.get(f"{key}_start"):
                found.append((int(record[key]), str(record[f"{key}_start"])))
    return found


def still_alive(processes: list[tuple[int, str]]) -> list[int]:
    return [pid for pid, start in processes if process_start_time(pid) == start]


@pytest.fixture(scope="module")
def process_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, RunNames]]:
    if os.geteuid() != 0:
        pytest.fail("this e2e test runs the server as root (nftables for its service proxy)", pytrace=False)
    data_dir = tmp_path_factory.mktemp("process-node") / "data"
    for name in ("busybox-1.tar", "web-1.tar"):
        subprocess.run([sys.executable, "-m", "kubelite.cli.main", "image", "import", "--data-dir", str(data_dir), str(image_archives() / name)], check=True, capture_output=True)
    net = unique_net()
    flags = _flags(net)
    running = start_server(data_dir, "--kubelet-port", str(free_port()), *flags, agent=True)
    processes: list[tuple[int, str]] = []
    try:
        yield running, net
    finally:
        processes = recorded_pids(data_dir)
        running.stop()
        reset = subprocess.run([sys.executable, "-m", "kubelite.cli.main", "server", "--data-dir", str(data_dir), "--reset", *flags], capture_output=True, text=True)
        assert reset.returncode == 0, reset.stderr
        left = [f"process {pid}" for pid in still_alive(processes)]
        left += [f"pod state {p.name}" for p in (data_dir / "process" / "pods").iterdir()]
        left += [f"cgroup {net.cgroup_parent}"] if Path("/sys/fs/cgroup/memory", net.cgroup_parent.strip("/")).exists() else []
        left += [f"bridge {net.bridge}"] if Path("/sys/class/net", net.bridge).exists() else []
        assert not left, f"left behind: {left}"


@pytest.fixture(scope="module")
def kubectl(process_node: tuple[RunningServer, RunNames], tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(KUBECTL_VERSIONS["1.33"], process_node[0].kubeconfig, tmp_path_factory.mktemp("home"))


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def pod_json(kubectl: Kubectl, name: str) -> Obj:
    return dict(json.loads(kubectl("get", "pod", name, "-o", "json")))


def container_status(pod: Obj) -> Obj:
    statuses = pod.get("status", {}).get("containerStatuses") or [{}]
    return dict(statuses[0])


def test_process_runtime_node(kubectl: Kubectl, process_node: tuple[RunningServer, RunNames]) -> None:
    server, _ = process_node
    node = json.loads(kubectl("get", "nodes", "-o", "json"))["items"][0]
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("process://")
    node_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    port = free_port()
    manifest = f"""
apiVersion: v1
kind: Pod
metadata: {{name: box}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: main, image: {BUSYBOX}, imagePullPolicy: Never, command: [sh, -c, "echo started; exec sleep 3600"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: crash}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: main, image: {BUSYBOX}, imagePullPolicy: Never, command: [sh, -c, "echo crashing; exit 2"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: {WEB}
    imagePullPolicy: Never
    # the image's own start script, on a free port instead of 80 (pods share the host's network)
    command: [sh, -c, "sed 's/-p 80 /-p {port} /' /web/start.sh > /tmp/start.sh && exec sh /tmp/start.sh"]
    ports: [{{containerPort: {port}}}]
"""
    kubectl("apply", "-f", "-", input=manifest)
    running = wait_for(lambda: pod_json(kubectl, "box") if container_status(pod_json(kubectl, "box")).get("ready") else None, what="box running")
    assert running["status"]["podIP"] == node_ip
    assert wait_for(lambda: "started" in kubectl("logs", "box"), what="box logs")
    done = kubectl.run("exec", "box", "--", "sh", "-c", "hostname; exit 3", check=False)
    assert (done.returncode, done.stdout) == (3, "box\n")
    crashed = wait_for(lambda: (s := container_status(pod_json(kubectl, "crash"))).get("restartCount", 0) >= 1 and s, what="crash restarted")
    assert crashed["lastState"]["terminated"]["exitCode"] == 2
    assert "crashing" in kubectl("logs", "crash", "--previous")
    wait_for(lambda: container_status(pod_json(kubectl, "web")).get("ready"), what="web running")
    assert wait_for(lambda: _try_get(port), what="web answering").endswith("\r\n\r\nweb 1 web\n")
    local = free_port()  # port-forward reaches the pod's port on the host's 127.0.0.1
    forward = subprocess.Popen(
        [str(kubectl.binary), "port-forward", "pod/web", f"{local}:{port}"],
        env=dict(os.environ, KUBECONFIG=str(kubectl.kubeconfig), HOME=str(kubectl.home)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert forward.stdout is not None and "Forwarding from" in forward.stdout.readline()
        assert http_get("127.0.0.1", local).endswith("web 1 web\n")
    finally:
        forward.terminate()
        forward.wait(10)
    processes = recorded_pids(server.data_dir)
    assert len(still_alive(processes)) >= 6  # a monitor and a container process per running pod
    kubectl("delete", "pod", "box", "crash", "web", "--wait=true", "--timeout=30s")
    wait_for(lambda: not still_alive(processes), timeout=10, what="every process gone")


def _try_get(port: int) -> str | None:
    try:
        return http_get("127.0.0.1", port)
    except OSError:
        return None
