"""Desired state made so, as a user sees it: `kubelite server --hollow-nodes 3` with the real
kubectl — a deployment's pods run on the nodes, are replaced, scale, roll out, roll back, and go
away with their deployment (the controllers, the scheduler and hollow nodes end to end)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.server_harness import RunningServer, start_server

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("loops"), "--hollow-nodes", "3")
    yield running
    running.stop()


def kubectl(server: RunningServer, *args: str, check: bool = True, timeout: float = 60) -> str:
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig), HOME=str(server.data_dir))
    result = subprocess.run([KUBECTL, *args], capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def eventually(condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def pods(server: RunningServer, selector: str) -> list[dict]:
    items: list[dict] = json.loads(kubectl(server, "get", "pods", "-l", selector, "-o", "json"))["items"]
    return items


def running(server: RunningServer, selector: str, count: int) -> Callable[[], bool]:
    def check() -> bool:
        current = [p for p in pods(server, selector) if not p["metadata"].get("deletionTimestamp")]
        return len(current) == count and all(
            p["status"].get("phase") == "Running" and p["spec"].get("nodeName") for p in current
        )

    return check


def test_nodes_register_ready(cluster: RunningServer) -> None:
    eventually(lambda: kubectl(cluster, "get", "nodes", "--no-headers").count(" Ready ") == 3, what="3 Ready nodes")
    nodes = json.loads(kubectl(cluster, "get", "nodes", "-o", "json"))["items"]
    # hollow nodes serve no kubelet API: they say so, and streaming requests fail at once
    assert {n["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] for n in nodes} == {0}


def test_a_deployment_runs_heals_scales_rolls_and_goes(cluster: RunningServer) -> None:
    kubectl(cluster, "create", "deployment", "hello", "--image=busybox", "--replicas=3")
    eventually(running(cluster, "app=hello", 3), what="3 running pods")
    nodes = {p["spec"]["nodeName"] for p in pods(cluster, "app=hello")}
    assert nodes <= {"hollow-node-0", "hollow-node-1", "hollow-node-2"}
    out = kubectl(cluster, "rollout", "status", "deployment/hello", "--timeout=30s")
    assert 'deployment "hello" successfully rolled out' in out

    victim = pods(cluster, "app=hello")[0]["metadata"]["name"]
    kubectl(cluster, "delete", "pod", victim, "--wait=true")
    eventually(
        lambda: running(cluster, "app=hello", 3)() and victim not in {p["metadata"]["name"] for p in pods(cluster, "app=hello")},
        what="the deleted pod replaced",
    )

    kubectl(cluster, "scale", "deployment", "hello", "--replicas=6")
    eventually(running(cluster, "app=hello", 6), what="6 running pods")

    kubectl(cluster, "set", "image", "deployment/hello", "busybox=busybox:1.36")
    kubectl(cluster, "rollout", "status", "deployment/hello", "--timeout=60s", timeout=90)
    images = {p["spec"]["containers"][0]["image"] for p in pods(cluster, "app=hello") if not p["metadata"].get("deletionTimestamp")}
    assert images == {"busybox:1.36"}
    history = kubectl(cluster, "rollout", "history", "deployment/hello")
    assert "REVISION" in history and "1" in history and "2" in history

    kubectl(cluster, "rollout", "undo", "deployment/hello")
    kubectl(cluster, "rollout", "status", "deployment/hello", "--timeout=60s", timeout=90)
    template = json.loads(kubectl(cluster, "get", "deployment", "hello", "-o", "json"))["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "busybox"

    events = kubectl(cluster, "describe", "deployment", "hello")
    assert "ScalingReplicaSet" in events

    kubectl(cluster, "delete", "deployment", "hello")
    eventually(lambda: not kubectl(cluster, "get", "rs", "-l", "app=hello", "-o", "name").strip(), what="replica sets gone")
    eventually(lambda: not pods(cluster, "app=hello"), what="pods gone")


def test_an_unplaceable_pod_stays_pending_with_a_failed_scheduling_event(cluster: RunningServer, tmp_path: Path) -> None:
    kubectl(
        cluster,
        "run",
        "huge",
        "--image=busybox",
        "--overrides",
        json.dumps({"spec": {"containers": [{"name": "huge", "image": "busybox", "resources": {"requests": {"cpu": "64"}}}]}}),
    )

    def failed_event() -> bool:
        return "FailedScheduling" in kubectl(cluster, "get", "events", "--field-selector", "involvedObject.name=huge")

    eventually(failed_event, what="a FailedScheduling event")
    pod = json.loads(kubectl(cluster, "get", "pod", "huge", "-o", "json"))
    assert pod["status"]["phase"] == "Pending"
    condition = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert condition["status"] == "False" and condition["reason"] == "Unschedulable"
    assert condition["message"].startswith("0/3 nodes are available: 3 Insufficient cpu.")
    kubectl(cluster, "delete", "pod", "huge", "--wait=true")


def test_deleting_a_namespace_empties_and_removes_it(cluster: RunningServer) -> None:
    kubectl(cluster, "create", "namespace", "doomed")
    kubectl(cluster, "create", "configmap", "c", "-n", "doomed", "--from-literal=a=b")
    kubectl(cluster, "create", "deployment", "d", "--image=busybox", "-n", "doomed")
    kubectl(cluster, "delete", "namespace", "doomed", "--timeout=60s", timeout=90)
    assert kubectl(cluster, "get", "namespace", "doomed", check=False) == ""
