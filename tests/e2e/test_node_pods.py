"""Real pods on `kubelite server`'s own node (runc, CNI, cgroups; root), driven by the real kubectl
1.33 and 1.27: two containers over localhost and a shared emptyDir, ConfigMap/Secret env and
volumes, the downward API and the service account token (accepted by the API server), exec exit
codes, logs, cp both ways, port-forward, the pod IP from the host; probes, CrashLoopBackOff,
OOMKilled, graceful deletion, ErrImagePull -> ImagePullBackOff. One agent-running server for the
module, on a bridge, CIDR, netns prefix and cgroup parent of its own, reset at the end (and
checked to have left nothing)."""

from __future__ import annotations

import calendar
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import KUBECTL_VERSIONS, Kubectl
from tests.e2e.kubectl_util import Background
from tests.e2e.server_harness import RunningServer, free_port, start_server
from tests.runtime.oci_harness import NETNS_DIR, RunNames, http_get, image_archives, unique_net

Obj = dict[str, Any]


def _net_flags(net: RunNames) -> list[str]:
    """This run's own bridge, /24, cgroup parent, netns prefix and nftables table; no ingress."""
    return [
        "--pod-cidr", net.cidr, "--bridge", net.bridge, "--cgroup-parent", net.cgroup_parent,
        "--netns-prefix", net.netns_prefix, "--proxy-table", _proxy_table(net), "--ingress-http-port", "0",
    ]  # fmt: skip


def _proxy_table(net: RunNames) -> str:
    return f"kubelite_t{net.number}"


def _table_exists(table: str) -> bool:
    return subprocess.run(["nft", "list", "table", "ip", table], capture_output=True).returncode == 0


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
        left += [f"nft table {_proxy_table(net)}"] if _table_exists(_proxy_table(net)) else []
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


def test_graceful_deletion_delivers_sigterm_and_the_grace_period_holds(kubectl: Kubectl, tmp_path: Path) -> None:
    """`polite` exits on SIGTERM (well before its grace ends); `stubborn` traps TERM and keeps
    running: it stays Terminating, still running, until its 4 s grace is over, then is killed."""
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
---
apiVersion: v1
kind: Pod
metadata: {{name: stubborn, namespace: {ns}}}
spec:
  terminationGracePeriodSeconds: 4
  volumes: [{{name: out, hostPath: {{path: {marker}, type: Directory}}}}]
  containers:
  - name: app
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: [sh, -c, 'trap "date +%s > /out/stubborn-term" TERM; while true; do date +%s >> /out/stubborn-beat; sleep 0.5; done']
    volumeMounts: [{{name: out, mountPath: /out}}]
"""
    kubectl("apply", "-f", "-", input=manifest)
    kubectl("wait", "--for=condition=Ready", "pod/polite", "pod/stubborn", "-n", ns, "--timeout=60s")
    started = time.monotonic()
    kubectl("delete", "pod", "stubborn", "-n", ns, "--wait=false")
    kubectl("delete", "pod", "polite", "-n", ns, "--wait=true", "--timeout=30s")
    assert (marker / "seen").read_text() == "term\n"
    assert time.monotonic() - started < 9  # it exited on SIGTERM, well before the grace period ended
    # the stubborn one is still there, Terminating, and its container still runs
    still = pod_json(kubectl, "stubborn", ns)
    assert still["metadata"].get("deletionTimestamp") and still["metadata"].get("deletionGracePeriodSeconds") == 4
    kubectl("wait", "--for=delete", "pod/stubborn", "-n", ns, "--timeout=30s")
    took = time.monotonic() - started
    assert 3.5 <= took < 15, took
    term = int((marker / "stubborn-term").read_text())
    beats = [int(line) for line in (marker / "stubborn-beat").read_text().split()]
    assert beats[-1] - term >= 3, (term, beats[-5:])  # it kept running after SIGTERM until the grace ended
    kubectl("delete", "namespace", ns, "--timeout=60s")


class Terminal:
    """A program run on a pseudo-terminal (as a person at a shell would run it)."""

    def __init__(self, argv: list[str], env: dict[str, str], rows: int = 24, cols: int = 80):
        self.master, slave = os.openpty()
        self.resize(rows, cols)
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.output = b""

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def notify_resize(self, rows: int, cols: int) -> None:
        """A new window size, announced as a terminal emulator does (SIGWINCH)."""
        self.resize(rows, cols)
        os.kill(self.process.pid, signal.SIGWINCH)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def expect(self, pattern: str, timeout: float = 15.0) -> re.Match[bytes]:
        """Read until `pattern` matches the output since the last match."""
        compiled = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        while True:
            found = compiled.search(self.output)
            if found:
                self.output = self.output[found.end() :]
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} in the terminal within {timeout} s; got {self.output[-500:]!r}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the program closed the terminal
                    chunk = b""
                if not chunk and self.process.poll() is not None:
                    raise AssertionError(f"the program ended ({self.process.returncode}) before {pattern!r}; got {self.output[-500:]!r}")
                self.output += chunk

    def close(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        os.close(self.master)


def test_exec_it_gives_a_working_shell_on_a_terminal(kubectl: Kubectl) -> None:
    ns = namespace_for(kubectl, "tty")
    manifest = f"""
apiVersion: v1
kind: Pod
metadata: {{name: shell, namespace: {ns}}}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{{name: app, image: {BUSYBOX}, imagePullPolicy: Never, command: [sleep, "3600"]}}]
"""
    kubectl("apply", "-f", "-", input=manifest)
    kubectl("wait", "--for=condition=Ready", "pod/shell", "-n", ns, "--timeout=60s")
    env = dict(os.environ, KUBECONFIG=str(kubectl.kubeconfig), HOME=str(kubectl.home), TERM="xterm")
    terminal = Terminal([str(kubectl.binary), "exec", "-it", "shell", "-n", ns, "--", "sh"], env)
    try:
        terminal.type("echo $((6*7))\r")
        terminal.expect(r"\n42\r*\n")
        terminal.type("tty; stty size\r")
        terminal.expect(r"\n/dev/pts/\d+\r*\n24 80\r*\n")
        terminal.notify_resize(40, 132)
        time.sleep(0.5)  # kubectl sends the new size on its resize stream
        terminal.type("stty size\r")
        terminal.expect(r"\n40 132\r*\n")
        terminal.type("echo still $((40+2))\r")  # the shell works after the resize
        terminal.expect(r"\nstill 42\r*\n")
        terminal.type("exit 3\r")
        assert terminal.process.wait(15) == 3
    finally:
        terminal.close()
    kubectl("delete", "namespace", ns, "--timeout=60s", "--wait=false")


def test_logs_follow_streams_new_lines_and_ends_with_the_container(kubectl: Kubectl) -> None:
    ns = namespace_for(kubectl, "follow")
    manifest = f"""
apiVersion: v1
kind: Pod
metadata: {{name: talker, namespace: {ns}}}
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: [sh, -c, 'for i in 1 2 3 4 5 6 7 8; do echo line $i; sleep 0.6; done']
"""
    kubectl("apply", "-f", "-", input=manifest)
    kubectl("wait", "--for=condition=Ready", "pod/talker", "-n", ns, "--timeout=60s")
    follow = Background(kubectl, "logs", "-f", "talker", "-n", ns)
    try:
        follow.wait_for_line(lambda line: line == "line 2")
        assert "line 8" not in follow.stdout  # lines arrive as they are written, not at the end
        assert follow.process.poll() is None
        assert follow.wait(30) == 0  # kubectl ends once the container has exited
    finally:
        follow.kill()
    assert follow.stdout == [f"line {i}" for i in range(1, 9)], follow.stdout
    terminated = status_of(pod_json(kubectl, "talker", ns), "app").get("state", {}).get("terminated") or {}
    assert terminated.get("reason") == "Completed" or wait_for(
        lambda: status_of(pod_json(kubectl, "talker", ns), "app").get("state", {}).get("terminated"), what="talker terminated"
    )
    kubectl("delete", "namespace", ns, "--timeout=60s", "--wait=false")


@pytest.fixture(scope="module")
def kubectl_133(node_server: tuple[RunningServer, RunNames], tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """kubectl 1.33 alone, for the slow tests that need no second kubectl version."""
    return Kubectl(KUBECTL_VERSIONS["1.33"], node_server[0].kubeconfig, tmp_path_factory.mktemp("home-crash"))


def test_crash_loop_back_off_grows_and_logs_previous(kubectl_133: Kubectl) -> None:
    """A container that always fails is restarted at once, then after 10 s, then after 20 s; while
    held back it waits with reason CrashLoopBackOff and upstream's message; `logs --previous`
    shows the attempt before the last."""
    kubectl = kubectl_133
    ns = namespace_for(kubectl, "backoff")
    manifest = f"""
apiVersion: v1
kind: Pod
metadata: {{name: crash, namespace: {ns}}}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{{name: count, emptyDir: {{}}}}]
  containers:
  - name: app
    image: {BUSYBOX}
    imagePullPolicy: Never
    command: [sh, -c, 'n=$(($(cat /count/n 2>/dev/null || echo 0) + 1)); echo $n > /count/n; echo run $n; exit 2']
    volumeMounts: [{{name: count, mountPath: /count}}]
"""
    template = (
        "{.status.containerStatuses[0].restartCount}|{.status.containerStatuses[0].state.waiting.reason}|"
        "{.status.containerStatuses[0].state.waiting.message}|{.status.containerStatuses[0].lastState.terminated.startedAt}{\"\\n\"}"
    )
    kubectl("apply", "-f", "-", input=manifest)
    watch = Background(kubectl, "get", "pod", "crash", "-n", ns, "-w", "-o", f"jsonpath={template}")
    try:
        uid = pod_json(kubectl, "crash", ns)["metadata"]["uid"]
        watch.wait_for_line(lambda line: line.startswith("3|CrashLoopBackOff|"), timeout=45)
    finally:
        watch.kill()
    states = [line.split("|") for line in watch.stdout if line.count("|") == 3]
    counts = [int(count) for count, *_ in states if count]
    assert counts == sorted(counts), counts
    suffix = f"restarting failed container=app pod=crash_{ns}({uid})"
    messages: list[str] = []
    started: dict[int, float] = {}  # restartCount -> when the attempt that is held back started
    for count, reason, message, stamp in states:
        if reason != "CrashLoopBackOff":
            continue
        assert message == f"back-off {10 * 2 ** (int(count) - 1)}s {suffix}", (count, message)
        if message not in messages:
            messages.append(message)
        started.setdefault(int(count), calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))
    assert messages == [f"back-off 10s {suffix}", f"back-off 20s {suffix}", f"back-off 40s {suffix}"], messages
    first_gap, second_gap = started[2] - started[1], started[3] - started[2]
    assert 9 <= first_gap <= 13 and 19 <= second_gap <= 24, started  # the gaps grow: 10 s, then 20 s
    previous = kubectl("logs", "crash", "-n", ns, "--previous")
    current = kubectl("logs", "crash", "-n", ns)
    assert (previous, current) == ("run 3\n", "run 4\n")
    kubectl("delete", "namespace", ns, "--timeout=60s", "--wait=false")
