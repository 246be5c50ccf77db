"""The kubelet's events on a real node (runc, CNI; root), read with the real kubectl 1.33:
Pulled/Created/Started for a pod from an imported image, Unhealthy for a failing readiness probe,
Killing on delete, BackOff for a crash loop (one counted Event, not one per restart), and a
delete with the default 30 s grace period cut short by a second `kubectl delete --grace-period=1`.

One agent-running server for the module, on a bridge, CIDR, netns prefix, cgroup parent, nft
table and ports of its own, reset at the end and checked to have left nothing.
"""

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
from tests.runtime.oci_harness import NETNS_DIR, image_archives, unique_net

Obj = dict[str, Any]
BUSYBOX = "kubelite.test/busybox:1"
NAMESPACE = "events"


def _kubelite(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubelite.cli.main", *args], capture_output=True, text=True)


def _table_exists(table: str) -> bool:
    return subprocess.run(["nft", "list", "table", "ip", table], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    if os.geteuid() != 0:
        pytest.fail("node e2e tests need root (runc, CNI, cgroups)", pytrace=False)
    data_dir = tmp_path_factory.mktemp("events") / "data"
    imported = _kubelite("image", "import", "--data-dir", str(data_dir), str(image_archives() / "busybox-1.tar"))
    assert imported.returncode == 0, imported.stderr
    net = unique_net()
    table = f"kubelite_ev{net.number}"
    flags = [
        "--pod-cidr", net.cidr, "--bridge", net.bridge, "--cgroup-parent", net.cgroup_parent,
        "--netns-prefix", net.netns_prefix, "--proxy-table", table, "--ingress-http-port", "0",
    ]  # fmt: skip
    running: RunningServer = start_server(data_dir, "--kubelet-port", str(free_port()), *flags, agent=True)
    try:
        made = Kubectl(KUBECTL_VERSIONS["1.33"], running.kubeconfig, tmp_path_factory.mktemp("home"))
        made("create", "namespace", NAMESPACE)
        yield made
    finally:
        running.stop()
        reset = _kubelite("server", "--data-dir", str(data_dir), "--reset", *flags)
        assert reset.returncode == 0, reset.stderr
        left = [f"netns {n}" for n in (os.listdir(NETNS_DIR) if NETNS_DIR.exists() else []) if n.startswith(net.netns_prefix)]
        left += [f"bridge {net.bridge}"] if Path("/sys/class/net", net.bridge).exists() else []
        left += [f"cgroup {net.cgroup_parent}"] if Path("/sys/fs/cgroup/memory", net.cgroup_parent.strip("/")).exists() else []
        left += [f"nft table {table}"] if _table_exists(table) else []
        mounts = Path("/proc/self/mounts").read_text()
        left += [f"mount {line.split()[1]}" for line in mounts.splitlines() if str(data_dir) in line]
        assert not left, f"left behind: {left}"


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def events_of(kubectl: Kubectl, pod: str) -> list[Obj]:
    listed = json.loads(kubectl("get", "events", "-n", NAMESPACE, "--field-selector", f"involvedObject.name={pod}", "-o", "json"))
    return list(listed["items"])


def wait_for_event(kubectl: Kubectl, pod: str, reason: str, message: str, timeout: float = 30.0) -> Obj:
    def found() -> Obj | None:
        return next((e for e in events_of(kubectl, pod) if e["reason"] == reason and e["message"].startswith(message)), None)

    return dict(wait_for(found, timeout, f"{reason} {message!r} on {pod}"))


def apply(kubectl: Kubectl, manifest: Obj) -> None:
    kubectl("apply", "-f", "-", input=json.dumps(manifest))


def busybox_pod(name: str, script: str, **spec: Any) -> Obj:
    container = {"name": "app", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent", "command": ["sh", "-c", script], **spec.pop("container", {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NAMESPACE}, "spec": {"containers": [container], **spec}}


def test_started_unhealthy_and_killed(kubectl: Kubectl) -> None:
    probe = {"exec": {"command": ["sh", "-c", "echo not ready; exit 1"]}, "periodSeconds": 1}
    apply(kubectl, busybox_pod("probed", "sleep 3600", terminationGracePeriodSeconds=1, container={"readinessProbe": probe}))
    pulled = wait_for_event(kubectl, "probed", "Pulled", f'Container image "{BUSYBOX}" already present on machine')
    assert pulled["source"]["component"] == "kubelet" and pulled["involvedObject"]["fieldPath"] == "spec.containers{app}"
    wait_for_event(kubectl, "probed", "Created", "Created container: app")
    wait_for_event(kubectl, "probed", "Started", "Started container app")
    unhealthy = wait_for_event(kubectl, "probed", "Unhealthy", "Readiness probe failed: not ready")
    assert unhealthy["type"] == "Warning"
    described = kubectl("describe", "pod", "probed", "-n", NAMESPACE)
    assert "Started container app" in described and "Readiness probe failed: not ready" in described, described
    kubectl("delete", "pod", "probed", "-n", NAMESPACE, "--wait=false")
    wait_for_event(kubectl, "probed", "Killing", "Stopping container app")


def test_crash_loop_is_one_counted_back_off(kubectl: Kubectl) -> None:
    apply(kubectl, busybox_pod("crash", "exit 1", terminationGracePeriodSeconds=1))
    back_off = wait_for_event(kubectl, "crash", "BackOff", "Back-off restarting failed container app in pod crash_events(", timeout=40)
    assert back_off["type"] == "Warning"

    def counted() -> list[Obj]:
        found = [e for e in events_of(kubectl, "crash") if e["reason"] == "BackOff"]
        return found if found and found[0]["count"] >= 2 else []

    assert len(wait_for(counted, 40, "BackOff counted twice")) == 1
    kubectl("delete", "pod", "crash", "-n", NAMESPACE, "--wait=false")


def test_a_second_delete_shortens_the_grace_period(kubectl: Kubectl) -> None:
    # sleep as PID 1 ignores SIGTERM: the first delete would wait the full 30 s
    apply(kubectl, busybox_pod("slow", "sleep 3600"))
    wait_for_event(kubectl, "slow", "Started", "Started container app")
    kubectl("delete", "pod", "slow", "-n", NAMESPACE, "--wait=false")
    wait_for_event(kubectl, "slow", "Killing", "Stopping container app")
    started = time.monotonic()
    kubectl("delete", "pod", "slow", "-n", NAMESPACE, "--grace-period=1", "--timeout=25s")
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"the shortened delete took {elapsed:.1f}s"
    assert kubectl.run("get", "pod", "slow", "-n", NAMESPACE, check=False).returncode != 0
