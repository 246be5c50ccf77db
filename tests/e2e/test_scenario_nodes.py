"""Nodes failing and being drained, as a user sees it with the real kubectl against `kubelite server
--hollow-nodes 2`: a Node "ghost" registered by hand (Ready, with a Lease nobody renews) goes
NotReady after the node monitor grace period (shortened through KUBELITE_NODE_MONITOR_GRACE_PERIOD
to a little more than the hollow nodes' 10 s lease renewal), and the pods a Deployment had there
(tolerating unreachable for 2 s) are replaced on the hollow nodes; `kubectl drain` is held back by
a PodDisruptionBudget and goes through once the Deployment is scaled up."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Kubectl
from tests.e2e.kubectl_util import Background
from tests.e2e.server_harness import RunningServer, start_server

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"
GRACE_PERIOD = "14s"  # hollow nodes renew their Lease every 10 s
HOLLOW = ("hollow-node-0", "hollow-node-1")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUBELITE_NODE_MONITOR_GRACE_PERIOD", GRACE_PERIOD)
        running = start_server(tmp_path_factory.mktemp("nodes"), "--hollow-nodes", "2")
    yield running
    running.stop()


def kubectl(server: RunningServer, *args: str, check: bool = True, input: str | None = None) -> str:
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig), HOME=str(server.data_dir))
    result = subprocess.run([KUBECTL, *args], capture_output=True, text=True, timeout=60, env=env, input=input)
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


def pods(server: RunningServer, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(kubectl(server, "get", "pods", "-n", namespace, "-o", "json"))["items"]
    return items


def live(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ready_nodes(server: RunningServer) -> set[str]:
    nodes = json.loads(kubectl(server, "get", "nodes", "-o", "json"))["items"]
    return {
        n["metadata"]["name"]
        for n in nodes
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", []))
    }


def rfc3339(micro: bool = False) -> str:
    now = time.time()
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    return f"{base}.{int(now % 1 * 1e6):06d}Z" if micro else f"{base}Z"


def ghost_manifests() -> str:
    now = rfc3339()
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "ghost", "labels": {"kubernetes.io/hostname": "ghost"}},
        "status": {
            "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
            "allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ],
        },
    }
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "ghost", "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": "ghost", "leaseDurationSeconds": 40, "renewTime": rfc3339(micro=True)},
    }
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [node, lease]})


def spooky_deployment() -> str:
    labels = {"app": "spooky"}
    toleration = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "spooky", "namespace": "ghosts"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}], "tolerations": [toleration]},
                },
            },
        }
    )


def test_pods_on_a_node_that_stops_heartbeating_are_replaced(cluster: RunningServer) -> None:
    eventually(lambda: ready_nodes(cluster) >= set(HOLLOW), what="hollow nodes Ready")
    kubectl(cluster, "cordon", *HOLLOW)  # the deployment's pods can only land on ghost
    kubectl(cluster, "create", "namespace", "ghosts")
    kubectl(cluster, "create", "-f", "-", input=spooky_deployment())
    kubectl(cluster, "create", "-f", "-", input=ghost_manifests())
    eventually(
        lambda: [p["spec"].get("nodeName") for p in pods(cluster, "ghosts")] == ["ghost", "ghost"],
        what="both pods bound to ghost",
    )
    stranded = {p["metadata"]["name"] for p in pods(cluster, "ghosts")}
    kubectl(cluster, "uncordon", *HOLLOW)

    eventually(lambda: "ghost" not in ready_nodes(cluster), what="ghost NotReady")
    node = json.loads(kubectl(cluster, "get", "node", "ghost", "-o", "json"))
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "Unknown",
        "NodeStatusUnknown",
        "Kubelet stopped posting node status.",
    )

    def replaced() -> bool:
        current = live(pods(cluster, "ghosts"))
        return (
            len(current) == 2
            and not stranded & {p["metadata"]["name"] for p in current}
            and all(p["spec"].get("nodeName") in HOLLOW and p["status"].get("phase") == "Running" for p in current)
        )

    eventually(replaced, what="the pods replaced on the hollow nodes")
    gone = [p for p in pods(cluster, "ghosts") if p["metadata"]["name"] in stranded]
    for pod in gone:  # no kubelet on ghost finishes them: they stay Terminating, marked by the taint manager
        target = next(c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert target["reason"] == "DeletionByTaintManager"
    taints = {(t["key"], t["effect"]) for t in json.loads(kubectl(cluster, "get", "node", "ghost", "-o", "json"))["spec"]["taints"]}
    assert taints == {("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")}
    events = kubectl(cluster, "get", "events", "-n", "ghosts", "--field-selector", "reason=TaintManagerEviction")
    assert "Marking for deletion Pod ghosts/" in events


def test_drain_waits_for_the_disruption_budget(cluster: RunningServer) -> None:
    eventually(lambda: ready_nodes(cluster) >= set(HOLLOW), what="hollow nodes Ready")
    kubectl(cluster, "create", "namespace", "drain")
    kubectl(cluster, "create", "deployment", "web", "--image=busybox", "--replicas=2", "-n", "drain")
    eventually(
        lambda: len([p for p in live(pods(cluster, "drain")) if p["status"].get("phase") == "Running"]) == 2,
        what="2 running pods",
    )
    kubectl(cluster, "create", "pdb", "web", "--selector=app=web", "--min-available=2", "-n", "drain")

    def budget_row() -> list[str]:
        return kubectl(cluster, "get", "pdb", "web", "-n", "drain", "--no-headers").split()

    eventually(lambda: budget_row()[1:4] == ["2", "N/A", "0"], what="the budget computed")
    status = json.loads(kubectl(cluster, "get", "pdb", "web", "-n", "drain", "-o", "json"))["status"]
    assert (status["expectedPods"], status["currentHealthy"], status["desiredHealthy"]) == (2, 2, 2)
    victim_node = live(pods(cluster, "drain"))[0]["spec"]["nodeName"]

    kube = Kubectl(binary=Path(KUBECTL), kubeconfig=cluster.kubeconfig, home=cluster.data_dir)
    drain = Background(kube, "drain", victim_node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s")
    try:
        deadline = time.monotonic() + 30
        refused = "(will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget."
        while not any(refused in line and 'error when evicting pods/"web-' in line for line in drain.stderr):
            assert time.monotonic() < deadline, "no refused eviction:\n" + "\n".join(drain.stdout + drain.stderr)
            assert drain.process.poll() is None, "drain ended early:\n" + "\n".join(drain.stdout + drain.stderr)
            time.sleep(0.2)
        kubectl(cluster, "scale", "deployment", "web", "--replicas=3", "-n", "drain")
        assert drain.wait(45) == 0, "\n".join(drain.stdout + drain.stderr)
    finally:
        drain.kill()
    assert f"node/{victim_node} drained" in "\n".join(drain.stdout)
    current = live(pods(cluster, "drain"))
    assert len(current) == 3 and all(p["spec"]["nodeName"] != victim_node for p in current)
    kubectl(cluster, "uncordon", victim_node)
