"""Streaming end to end with the real kubectl 1.33 (WebSocket exec, SPDY tunnelled in WebSocket
for port-forward) and 1.27 (SPDY only), and the official Python client: logs (tail, timestamps,
previous, limit, follow), exec (exit codes, stdin, a terminal driven through a pty), attach,
cp both ways and port-forward, through the API server to a kubelet running host processes."""

from __future__ import annotations

import fcntl
import http.server
import os
import pty
import select
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubelite.kubelet.crilogs import format_record
from tests.apiserver.streaming_harness import NODE_NAME, start_streaming_cluster
from tests.e2e.conftest import KUBECTL_VERSIONS, Kubectl
from tests.e2e.kubectl_util import Background, eventually, unique
from tests.e2e.server_harness import RunningServer, free_port

pytestmark = pytest.mark.e2e

RUNNING = '{"status":{"phase":"Running","containerStatuses":[{"name":"app","image":"busybox","imageID":"","ready":true,"restartCount":0,"state":{"running":{"startedAt":"2025-01-01T00:00:00Z"}}}]}}'
TERMINATED = '{"status":{"containerStatuses":[{"name":"app","image":"busybox","imageID":"","ready":false,"restartCount":1,"state":{"terminated":{"exitCode":0,"reason":"Completed","startedAt":"2025-01-01T00:00:00Z","finishedAt":"2025-01-01T00:00:09Z"}}}]}}'


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running, _ = start_streaming_cluster(tmp_path_factory.mktemp("streaming"))
    yield running
    running.stop()


@pytest.fixture(scope="module", params=sorted(KUBECTL_VERSIONS))
def kubectl(request: pytest.FixtureRequest, cluster: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    binary = KUBECTL_VERSIONS[request.param]
    assert binary.exists(), f"{binary} is missing"
    return Kubectl(binary, cluster.kubeconfig, tmp_path_factory.mktemp(f"home-{request.param}"))


@dataclass
class Pod:
    name: str
    uid: str
    log_dir: Path

    def log(self, restart: int, *lines: bytes, start: float = 1735689600.0) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{restart}.log", "ab") as handle:
            for index, line in enumerate(lines):
                handle.write(format_record(int((start + index) * 1e9), "stdout", line))


def running_pod(kubectl: Kubectl, cluster: RunningServer, base: str) -> Pod:
    name = unique(kubectl, base)
    manifest = f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {NODE_NAME}
  containers: [{{name: app, image: busybox}}]
"""
    kubectl("create", "-f", "-", input=manifest)
    kubectl("patch", "pod", name, "--subresource=status", "--type=merge", "-p", RUNNING)
    uid = kubectl("get", "pod", name, "-o", "jsonpath={.metadata.uid}")
    return Pod(name, uid, cluster.data_dir / "pods" / uid / "app")


def test_logs(kubectl: Kubectl, cluster: RunningServer) -> None:
    pod = running_pod(kubectl, cluster, "logs")
    pod.log(0, b"from the first run")
    pod.log(1, b"one", b"two", b"three")
    assert kubectl("logs", pod.name) == "one\ntwo\nthree\n"
    assert kubectl("logs", pod.name, "--tail=1", "--timestamps") == "2025-01-01T00:00:02Z three\n"
    assert kubectl("logs", pod.name, "--previous") == "from the first run\n"
    assert kubectl("logs", pod.name, "--limit-bytes=6") == "one\ntw"
    assert kubectl("logs", pod.name, "-c", "app", "--since=1h") == ""  # the lines are from 2025-01-01
    wrong = kubectl.run("logs", pod.name, "-c", "db", check=False)
    assert wrong.returncode == 1 and f"container db is not valid for pod {pod.name}" in wrong.stderr


def test_logs_follow_until_the_container_stops(kubectl: Kubectl, cluster: RunningServer) -> None:
    pod = running_pod(kubectl, cluster, "follow")
    pod.log(0, b"first")
    follow = Background(kubectl, "logs", "-f", pod.name)
    try:
        follow.wait_for_line(lambda line: line == "first")
        pod.log(0, b"second", start=1735689700.0)
        follow.wait_for_line(lambda line: line == "second")
        kubectl("patch", "pod", pod.name, "--subresource=status", "--type=merge", "-p", TERMINATED)
        assert follow.wait(15) == 0
        assert follow.stdout == ["first", "second"]
    finally:
        follow.kill()


def test_exec_exit_code_and_stdin(kubectl: Kubectl, cluster: RunningServer) -> None:
    pod = running_pod(kubectl, cluster, "exec")
    result = kubectl.run("exec", pod.name, "--", "sh", "-c", "echo hi; echo oops >&2; exit 3", check=False)
    assert (result.returncode, result.stdout) == (3, "hi\n")
    assert "oops\n" in result.stderr and "command terminated with exit code 3" in result.stderr
    fed = kubectl.run("exec", "-i", pod.name, "--", "sh", "-c", "tr a-z A-Z; echo done >&2", input="shout\n", check=False)
    assert (fed.returncode, fed.stdout, fed.stderr) == (0, "SHOUT\n", "done\n")
    missing = kubectl.run("exec", pod.name, "--", "no-such-command-x", check=False)
    assert missing.returncode != 0 and 'exec: "no-such-command-x": executable file not found in $PATH' in missing.stderr


def test_exec_with_a_terminal(kubectl: Kubectl, cluster: RunningServer) -> None:
    pod = running_pod(kubectl, cluster, "tty")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = dict(os.environ, KUBECONFIG=str(kubectl.kubeconfig), HOME=str(kubectl.home))

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [str(kubectl.binary), "exec", "-it", pod.name, "--", "sh"], stdin=slave, stdout=slave, stderr=slave, env=env, preexec_fn=controlling_terminal
    )
    os.close(slave)
    seen = b""

    def read_until(marker: bytes, timeout: float = 15.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            assert time.monotonic() < deadline, f"no {marker!r} in {seen!r}"
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break

    try:
        read_until(b"#" if os.geteuid() == 0 else b"$")  # the shell's prompt: the terminal is live
        os.write(master, b"stty size; echo mark-$((6*7))\n")
        read_until(b"mark-42\r\n")
        assert b"30 100\r\n" in seen, "kubectl sent our terminal's size"
        os.write(master, b"exit 5\n")
        read_until(b"command terminated with exit code 5")
        assert process.wait(10) == 5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)


def test_attach_shows_what_the_container_writes(kubectl: Kubectl, cluster: RunningServer) -> None:
    pod = running_pod(kubectl, cluster, "attach")
    pod.log(0, b"before")
    attach = Background(kubectl, "attach", pod.name)
    try:
        time.sleep(1.0)
        pod.log(0, b"while attached", start=1735689700.0)
        attach.wait_for_line(lambda line: line == "while attached")
        kubectl("patch", "pod", pod.name, "--subresource=status", "--type=merge", "-p", TERMINATED)
        assert attach.wait(15) == 0
        assert "before" not in attach.stdout
    finally:
        attach.kill()


def test_cp_both_ways(kubectl: Kubectl, cluster: RunningServer, tmp_path: Path) -> None:
    pod = running_pod(kubectl, cluster, "cp")
    payload = os.urandom(200_000)
    local = tmp_path / "local.bin"
    local.write_bytes(payload)
    inside = tmp_path / "in-the-pod"
    inside.mkdir()
    kubectl("cp", str(local), f"{pod.name}:{inside}/copied.bin")
    assert (inside / "copied.bin").read_bytes() == payload
    (inside / "made-there.txt").write_text("from the pod\n")
    kubectl("cp", f"{pod.name}:{inside}/made-there.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "from the pod\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = f"served {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def web_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_port_forward(kubectl: Kubectl, cluster: RunningServer, web_server: int) -> None:
    import urllib.request

    pod = running_pod(kubectl, cluster, "pf")
    local = free_port()
    forward = Background(kubectl, "port-forward", pod.name, f"{local}:{web_server}")
    try:
        forward.wait_for_line(lambda line: line.startswith(f"Forwarding from 127.0.0.1:{local}"))
        for attempt in ("/first", "/second"):
            with urllib.request.urlopen(f"http://127.0.0.1:{local}{attempt}", timeout=10) as response:
                assert response.read() == f"served {attempt}".encode()
    finally:
        forward.kill()


def test_the_python_client_execs_and_forwards(cluster: RunningServer, web_server: int) -> None:
    from kubernetes import client, config
    from kubernetes.stream import portforward, stream

    api = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
    name = "python-client"
    api.create_namespaced_pod(
        "default", {"metadata": {"name": name}, "spec": {"nodeName": NODE_NAME, "containers": [{"name": "app", "image": "busybox"}]}}
    )
    eventually(lambda: api.read_namespaced_pod(name, "default") is not None)
    api.patch_namespaced_pod_status(name, "default", {"status": {"phase": "Running"}})
    out = stream(
        api.connect_get_namespaced_pod_exec, name, "default",
        command=["sh", "-c", "echo out; echo err >&2; exit 4"], stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False,
    )  # fmt: skip
    out.run_forever(timeout=10)
    assert (out.read_stdout(), out.read_stderr(), out.returncode) == ("out\n", "err\n", 4)
    forwarded = portforward(api.connect_get_namespaced_pod_portforward, name, "default", ports=str(web_server))
    sock = forwarded.socket(web_server)
    sock.setblocking(True)
    sock.sendall(b"GET /via-python HTTP/1.0\r\nHost: pod\r\n\r\n")
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    forwarded.close()
    assert received.startswith(b"HTTP/1.0 200") and received.endswith(b"served /via-python")
