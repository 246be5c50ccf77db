"""Real pods on `kubelite server`'s own node (runc, CNI, cgroups; root), driven by the real kubectl
1.33 and 1.27: two containers over localhost and a shared emptyDir, ConfigMap/Secret env and
volumes, the downward API and the service account token (accepted by the API server), exec exit
codes, logs, cp both ways, port-forward, the pod IP from the host; probes, CrashLoopBackOff,
OOMKilled, graceful deletion, ErrImagePull -> ImagePullBackOff. One agent-running server for the
module, on a bridge, CIDR, netns prefix and cgroup parent of its own, reset at the end (and
checked to have left nothing)."""

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
from tests.runtime.oci_harness import NETNS_DIR, RunNames, http_get, image_archives, unique_net

Obj = dict[str, Any]


def _net_flags(net: RunNames) -> list[str]:
    return ["--pod-cidr", net.cidr, "--bridge", net.bridge, "--cgroup-parent", net.cgroup_parent, "--netns-prefix", net.netns_prefix]


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, RunNames]]:
    if os.geteuid() != 0:
        pytest.fail("node e2e tests need root (runc, CNI, cgroups)", pytrace=False)
    data_dir = tmp_path_factory.mktemp("node") / "data"
    archives = image_archives()
    for name in ("busybox-1.tar", "web-1.tar"):
        subprocess.run([sys.executable, "-m", "kubelite.cli.main", "image", "import", "--data-dir", str(data_dir), str(archives / name)], check=True, capture_output=True)
    net = unique_net()
    flags = _net_flags(net)
    running = start_server(data_dir, "--kubelet-port", str(free_port()), *flags, agent=True)
    try:
        yield running, net
    finally:
        running.stop()
        reset = subprocess.run(
            [sys.executable, "-m", "kubelite.cli.main", "server", "--data-dir", str(data_dir), "--reset", *flags], capture_output=True, text=True
        )
        assert reset.returncode == 0, reset.stderr
        left = [f"netns {n}" for n in (os.listdir(NETNS_DIR) if NETNS_DIR.exists() else []) if n.startswith(net.netns_prefix)]
        left += [f"bridge {net.bridge}"] if Path("/sys/class/net", net.bridge).exists() else []
        left += [f"cgroup {net.cgroup_parent}"] if Path("/sys/fs/cgroup/memory", net.cgroup_parent.strip("/")).exists() else []
        nat = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True).stdout
        left += [f"nat rule {line}" for line in nat.splitlines() if f'name: \\"{net.bridge}\\"' in line]
        mounts = Path("/proc/self/mounts").read_text()
        left += [f"mount {line.split()[1]}" for line in mounts.splitlines() if str(data_dir) in line]
        assert not left, f"left behind: {left}"


@pytest.fixture(params=sorted(KUBECTL_VERSIONS), scope="module")
def kubectl(request: pytest.FixtureRequest, node_server: tuple[RunningServer, RunNames], tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(KUBECTL_VERSIONS[request.param], node_server[0].kubeconfig, tmp_path_factory.mktemp(f"home-{request.param}"))


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def pod_json(kubectl: Kubectl, name: str, namespace: str) -> Obj:
    return dict(json.loads(kubectl("get", "pod", name, "-n", namespace, "-o", "json")))


def status_of(pod: Obj, container: str) -> Obj:
    return next((s for s in pod.get("status", {}).get("containerStatuses") or [] if s["name"] == container), {})


def namespace_for(kubectl: Kubectl, base: str) -> str:
    name = f"{base}-{kubectl.binary.name.split('.')[-1]}"
    kubectl("create", "namespace", name)
    wait_for(lambda: kubectl.run("get", "configmap", "kube-root-ca.crt", "-n", name, check=False).returncode == 0, what="kube-root-ca.crt")
    return name


BUSYBOX = "kubelite.test/busybox:1"
WEB = "kubelite.test/web:1"


def test_two_containers_env_volumes_token_and_streams(kubectl: Kubectl, node_server: tuple[RunningServer, RunNames], tmp_path: Path) -> None:
    ns = namespace_for(kubectl, "pods")
    manifest = f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: cfg, namespace: {ns}}}
data: {{COLOR: blue, greeting.txt: hello}}
---
apiVersion: v1
kind: Secret
metadata: {{name: sec, namespace: {ns}}}
stringData: {{password: s3cret}}
---
apiVersion: v1
kind: Pod
metadata: {{name: two, namespace: {ns}, labels: {{app: two}}}}
spec:
  terminationGracePeriodSeconds: 2
  volumes:
  - {{name: shared, emptyDir: {{}}}}
  - {{name: cfg, configMap: {{name: cfg}}}}
  - {{name: sec, secret: {{secretName: sec}}}}
  - {{name: info, downwardAPI: {{items: [{{path: labels, fieldRef: {{fieldPath: metadata.labels}}}}]}}}}
  containers:
  - name: web
    image: {WEB}
    imagePullPolicy: Never
    readinessProbe: {{httpGet: {{path: /healthz, port: 80}}, periodSeconds: 1}}
    volumeMounts: [{{name: shared, mountPath: /shared}}]
  - name: side
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: [sh, -c, 'echo $(COLOR)-$(PASSWORD) > /shared/from-side; echo side started; exec sleep 3600']
    env:
    - {{name: COLOR, valueFrom: {{configMapKeyRef: {{name: cfg, key: COLOR}}}}}}
    - {{name: PASSWORD, valueFrom: {{secretKeyRef: {{name: sec, key: password}}}}}}
    - {{name: MY_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}
    volumeMounts: [{{name: shared, mountPath: /shared}}, {{name: cfg, mountPath: /cfg}}, {{name: sec, mountPath: /sec}}, {{name: info, mountPath: /info}}]
"""
    kubectl("apply", "-f", "-", input=manifest)
    kubectl("wait", "--for=condition=Ready", "pod/two", "-n", ns, "--timeout=60s")
    pod = pod_json(kubectl, "two", ns)
    ip = pod["status"]["podIP"]

    def sh(script: str, container: str = "side") -> subprocess.CompletedProcess[str]:
        return kubectl.run("exec", "two", "-n", ns, "-c", container, "--", "sh", "-c", script, check=False)

    assert http_get(ip, 80, "/").endswith("web 1 two\n") or "web 1 two" in http_get(ip, 80, "/")
    assert "web 1 two" in sh("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w2 127.0.0.1 80").stdout  # localhost between containers
    assert sh("cat /shared/from-side").stdout.strip() == "blue-s3cret"
    assert sh("cat /cfg/greeting.txt; echo; cat /sec/password; echo; cat /info/labels; echo; echo $MY_IP").stdout.split("\n")[:4] == [
        "hello", "s3cret", 'app="two"', ip
    ]
    assert sh("exit 7").returncode == 7
    account = "/var/run/secrets/kubernetes.io/serviceaccount"
    assert sh(f"cat {account}/namespace").stdout == ns
    assert "BEGIN CERTIFICATE" in sh(f"cat {account}/ca.crt").stdout
    token = sh(f"cat {account}/token").stdout
    review = kubectl("create", "-o", "json", "-f", "-", input=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}))
    assert json.loads(review)["status"]["user"]["username"] == f"system:serviceaccount:{ns}:default"
    assert "side started" in kubectl("logs", "two", "-n", ns, "-c", "side")
    # cp both ways
    local = tmp_path / "up.txt"
    local.write_text("uploaded\n")
    kubectl("cp", str(local), f"{ns}/two:/shared/up.txt", "-c", "side")
    assert sh("cat /shared/up.txt").stdout == "uploaded\n"
    kubectl("cp", f"{ns}/two:/shared/from-side", str(tmp_path / "down.txt"), "-c", "side")
    assert (tmp_path / "down.txt").read_text() == "blue-s3cret\n"
    # port-forward, then a request from the host
    port = free_port()
    forward = subprocess.Popen(
        [str(kubectl.binary), "port-forward", "-n", ns, "pod/two", f"{port}:80"],
        env=dict(os.environ, KUBECONFIG=str(kubectl.kubeconfig), HOME=str(kubectl.home)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert forward.stdout is not None and "Forwarding from" in forward.stdout.readline()
        assert "web 1 two" in http_get("127.0.0.1", port, "/")
    finally:
        forward.terminate()
        forward.wait(10)
    kubectl("delete", "namespace", ns, "--timeout=60s")


def test_probes_restart_and_readiness(kubectl: Kubectl) -> None:
    ns = namespace_for(kubectl, "probes")
    manifest = f"""
apiVersion: v1
kind: Pod
metadata: {{name: probed, namespace: {ns}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: [sh, -c, 'exec sleep 3600']
    livenessProbe: {{exec: {{command: [sh, -c, 'test ! -e /tmp/sick']}}, periodSeconds: 1, failureThreshold: 1}}
    readinessProbe: {{exec: {{command: [cat, /tmp/ready]}}, periodSeconds: 1}}
"""
    kubectl("apply", "-f", "-", input=manifest)
    wait_for(lambda: status_of(pod_json(kubectl, "probed", ns), "app").get("started"), what="started")
    assert not status_of(pod_json(kubectl, "probed", ns), "app")["ready"]
    kubectl("exec", "probed", "-n", ns, "--", "touch", "/tmp/ready")
    kubectl("wait", "--for=condition=Ready", "pod/probed", "-n", ns, "--timeout=30s")
    kubectl("exec", "probed", "-n", ns, "--", "touch", "/tmp/sick")
    restarted = wait_for(lambda: (s := status_of(pod_json(kubectl, "probed", ns), "app")).get("restartCount", 0) >= 1 and s, what="restart")
    assert "terminated" in restarted["lastState"]
    kubectl("delete", "namespace", ns, "--timeout=60s")


def test_crash_loop_oom_and_image_pull_backoff(kubectl: Kubectl) -> None:
    ns = namespace_for(kubectl, "failing")
    manifest = f"""
apiVersion: v1
kind: Pod
metadata: {{name: crash, namespace: {ns}}}
spec:
  containers: [{{name: app, image: {BUSYBOX}, imagePullPolicy: Never, command: [sh, -c, 'exit 2']}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: hog, namespace: {ns}}}
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: [sh, -c, 'dd if=/dev/zero of=/dev/null bs=200M count=1']
    resources: {{limits: {{memory: 32Mi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: nosuch, namespace: {ns}}}
spec:
  containers: [{{name: app, image: "127.0.0.1:1/nosuch:1"}}]
"""
    kubectl("apply", "-f", "-", input=manifest)
    looping = wait_for(
        lambda: (s := status_of(pod_json(kubectl, "crash", ns), "app")).get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff" and s,
        what="CrashLoopBackOff",
    )
    assert looping["lastState"]["terminated"]["exitCode"] == 2 and "back-off 10s" in looping["state"]["waiting"]["message"]
    oom = wait_for(lambda: status_of(pod_json(kubectl, "hog", ns), "app").get("state", {}).get("terminated"), what="hog terminated")
    assert oom["reason"] == "OOMKilled"
    assert pod_json(kubectl, "hog", ns)["status"]["phase"] == "Failed"
    reasons: set[str] = set()

    def backing_off() -> bool:
        waiting = status_of(pod_json(kubectl, "nosuch", ns), "app").get("state", {}).get("waiting", {})
        reasons.add(waiting.get("reason", ""))
        return waiting.get("reason") == "ImagePullBackOff" and 'Back-off pulling image "127.0.0.1:1/nosuch:1"' in waiting.get("message", "")

    wait_for(backing_off, what="ImagePullBackOff")
    kubectl("delete", "namespace", ns, "--timeout=60s")


def test_graceful_deletion_delivers_sigterm(kubectl: Kubectl, tmp_path: Path) -> None:
    ns = namespace_for(kubectl, "graceful")
    marker = tmp_path / "term"
    marker.mkdir()
    os.chmod(marker, 0o777)
    manifest = f"""
apiVersion: v1
kind: Pod
metadata: {{name: polite, namespace: {ns}}}
spec:
  terminationGracePeriodSeconds: 10
  volumes: [{{name: out, hostPath: {{path: {marker}, type: Directory}}}}]
  containers:
  - name: app
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: [sh, -c, 'trap "echo term > /out/seen; sleep 1; exit 0" TERM; while true; do sleep 0.2; done']
    volumeMounts: [{{name: out, mountPath: /out}}]
"""
    kubectl("apply", "-f", "-", input=manifest)
    kubectl("wait", "--for=condition=Ready", "pod/polite", "-n", ns, "--timeout=60s")
    started = time.monotonic()
    kubectl("delete", "pod", "polite", "-n", ns, "--wait=true", "--timeout=30s")
    assert (marker / "seen").read_text() == "term\n"
    assert time.monotonic() - started < 9  # it exited on SIGTERM, well before the grace period ended
    kubectl("delete", "namespace", ns, "--timeout=60s")

