"""The scheduler as a user meets it: `kubelite server --hollow-nodes 3` and the real kubectl —
node selectors and affinity, taints and tolerations, cordon/uncordon, pod anti-affinity, topology
spread, resource fit, FailedScheduling messages, and a higher-priority pod preempting a lower one.
Each test undoes its labels, taints and cordons so the others start from three plain nodes."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.server_harness import RunningServer, start_server
from tests.e2e.test_control_loops import KUBECTL, eventually, kubectl, pods

NODES = ("hollow-node-0", "hollow-node-1", "hollow-node-2")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("scheduling"), "--hollow-nodes", "3")
    try:
        eventually(
            lambda: kubectl(running, "get", "nodes", "--no-headers").count(" Ready ") == 3, what="3 Ready nodes"
        )
        yield running
    finally:
        running.stop()


def apply(server: RunningServer, *objects: dict[str, Any]) -> None:
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
    kubectl_stdin(server, manifest, "apply", "-f", "-")


def kubectl_stdin(server: RunningServer, text: str, *args: str) -> str:
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig), HOME=str(server.data_dir))
    result = subprocess.run([KUBECTL, *args], input=text, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stdout}\n{result.stderr}"
    return result.stdout


def pod(name: str, labels: dict[str, str] | None = None, cpu: str = "", **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "busybox"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"test": name}},
        "spec": {"containers": [container], **spec},
    }


def deployment(name: str, replicas: int, **pod_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}], **pod_spec},
            },
        },
    }


def node_of(server: RunningServer, name: str) -> str:
    found = json.loads(kubectl(server, "get", "pod", name, "-o", "json"))
    return str(found["spec"].get("nodeName") or "")


def runs_on(server: RunningServer, name: str) -> Callable[[], bool]:
    def check() -> bool:
        found = json.loads(kubectl(server, "get", "pod", name, "-o", "json"))
        return found["status"].get("phase") == "Running" and bool(found["spec"].get("nodeName"))

    return check


def unschedulable_message(server: RunningServer, name: str) -> str:
    found = json.loads(kubectl(server, "get", "pod", name, "-o", "json"))
    for condition in found["status"].get("conditions") or []:
        if condition["type"] == "PodScheduled" and condition["status"] == "False":
            return str(condition.get("message") or "")
    return ""


def placed(server: RunningServer, selector: str) -> Counter[str]:
    return Counter(p["spec"].get("nodeName", "") for p in pods(server, selector) if p["spec"].get("nodeName"))


def test_node_selector_and_node_affinity(cluster: RunningServer) -> None:
    kubectl(cluster, "label", "node", "hollow-node-1", "disk=ssd")
    kubectl(cluster, "label", "node", "hollow-node-2", "zone=b")
    try:
        prefer_b = {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 100, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}}
                ]
            }
        }
        require_not_b = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}]
                }
            }
        }
        apply(
            cluster,
            pod("selected", nodeSelector={"disk": "ssd"}),
            pod("preferring", affinity=prefer_b),
            pod("avoiding", affinity=require_not_b, nodeSelector={"kubernetes.io/hostname": "hollow-node-2"}),
        )
        eventually(runs_on(cluster, "selected"), what="the nodeSelector pod running")
        eventually(runs_on(cluster, "preferring"), what="the preferring pod running")
        assert node_of(cluster, "selected") == "hollow-node-1"
        assert node_of(cluster, "preferring") == "hollow-node-2"
        eventually(lambda: bool(unschedulable_message(cluster, "avoiding")), what="avoiding pod unschedulable")
        assert unschedulable_message(cluster, "avoiding").startswith(
            "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
        )
    finally:
        kubectl(cluster, "delete", "pod", "selected", "preferring", "avoiding", "--wait=true")
        kubectl(cluster, "label", "node", "hollow-node-1", "disk-")
        kubectl(cluster, "label", "node", "hollow-node-2", "zone-")


def test_taints_tolerations_cordon_and_uncordon(cluster: RunningServer) -> None:
    kubectl(cluster, "taint", "nodes", "hollow-node-0", "dedicated=infra:NoSchedule")
    kubectl(cluster, "cordon", "hollow-node-1")
    try:
        listing = kubectl(cluster, "get", "nodes", "hollow-node-1", "--no-headers")
        assert "Ready,SchedulingDisabled" in listing
        apply(cluster, deployment("spread-out", 3))
        eventually(lambda: sum(placed(cluster, "app=spread-out").values()) == 3, what="3 placed pods")
        assert set(placed(cluster, "app=spread-out")) == {"hollow-node-2"}

        tolerating = pod(
            "tolerating",
            nodeSelector={"kubernetes.io/hostname": "hollow-node-0"},
            tolerations=[{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}],
        )
        blocked = pod("blocked", nodeSelector={"kubernetes.io/hostname": "hollow-node-0"})
        apply(cluster, tolerating, blocked)
        eventually(runs_on(cluster, "tolerating"), what="the tolerating pod running on the tainted node")
        eventually(lambda: bool(unschedulable_message(cluster, "blocked")), what="blocked pod unschedulable")
        message = unschedulable_message(cluster, "blocked")
        assert message.startswith("0/3 nodes are available: ")
        assert "1 node(s) had untolerated taint {dedicated: infra}" in message
        assert "1 node(s) were unschedulable" in message
        assert "1 node(s) didn't match Pod's node affinity/selector" in message
        events = kubectl(cluster, "get", "events", "--field-selector", "involvedObject.name=blocked")
        assert "FailedScheduling" in events

        kubectl(cluster, "taint", "nodes", "hollow-node-0", "dedicated=infra:NoSchedule-")
        eventually(runs_on(cluster, "blocked"), what="the blocked pod scheduled once the taint is gone")
        kubectl(cluster, "uncordon", "hollow-node-1")
        assert "SchedulingDisabled" not in kubectl(cluster, "get", "nodes", "hollow-node-1", "--no-headers")
        kubectl(cluster, "scale", "deployment", "spread-out", "--replicas=6")
        eventually(lambda: sum(placed(cluster, "app=spread-out").values()) == 6, what="6 placed pods")
        assert "hollow-node-1" in placed(cluster, "app=spread-out"), "the uncordoned node takes new pods"
    finally:
        kubectl(cluster, "taint", "nodes", "hollow-node-0", "dedicated-", check=False)
        kubectl(cluster, "uncordon", "hollow-node-1", check=False)
        kubectl(cluster, "delete", "deployment", "spread-out", check=False)
        kubectl(cluster, "delete", "pod", "tolerating", "blocked", "--wait=true", check=False)
        eventually(lambda: not pods(cluster, "app=spread-out"), what="spread-out pods gone")


def test_pod_anti_affinity_and_topology_spread(cluster: RunningServer) -> None:
    one_per_node = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "lonely"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "even"}},
        }
    ]
    apply(cluster, deployment("lonely", 4, affinity=one_per_node), deployment("even", 6, topologySpreadConstraints=spread))
    try:
        eventually(lambda: sum(placed(cluster, "app=lonely").values()) == 3, what="3 lonely pods placed")
        eventually(lambda: sum(placed(cluster, "app=even").values()) == 6, what="6 even pods placed")
        assert sorted(placed(cluster, "app=lonely").values()) == [1, 1, 1]
        assert sorted(placed(cluster, "app=even").values()) == [2, 2, 2]
        pending = [p for p in pods(cluster, "app=lonely") if not p["spec"].get("nodeName")]
        assert len(pending) == 1
        name = pending[0]["metadata"]["name"]
        eventually(lambda: bool(unschedulable_message(cluster, name)), what="the 4th lonely pod unschedulable")
        assert "3 node(s) didn't match pod anti-affinity rules" in unschedulable_message(cluster, name)
    finally:
        kubectl(cluster, "delete", "deployment", "lonely", "even")
        eventually(lambda: not pods(cluster, "app in (lonely,even)"), what="the pods gone")


def test_a_higher_priority_pod_preempts_a_lower_one(cluster: RunningServer) -> None:
    classes = [
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value}
        for name, value in (("low", 10), ("high", 1000))
    ]
    apply(cluster, *classes)
    # hollow nodes have 4 cpu: one 3-cpu pod fills each node
    filler = deployment("filler", 3, priorityClassName="low")
    filler["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "3"}}
    apply(cluster, filler)
    try:
        eventually(lambda: sum(placed(cluster, "app=filler").values()) == 3, what="3 filler pods placed")
        eventually(
            lambda: all(p["status"].get("phase") == "Running" for p in pods(cluster, "app=filler")), what="fillers running"
        )
        before = {p["metadata"]["name"] for p in pods(cluster, "app=filler")}
        apply(cluster, pod("important", cpu="3", priorityClassName="high"))
        eventually(runs_on(cluster, "important"), timeout=60, what="the high-priority pod running")
        important = json.loads(kubectl(cluster, "get", "pod", "important", "-o", "json"))
        assert important["spec"]["priority"] == 1000
        survivors = {p["metadata"]["name"] for p in pods(cluster, "app=filler") if p["spec"].get("nodeName")}
        gone = before - survivors
        assert len(gone) == 1, f"one filler preempted, got {gone}"
        events = kubectl(cluster, "get", "events", "--field-selector", "reason=Preempted", "-o", "json")
        messages = [e["message"] for e in json.loads(events)["items"]]
        assert any(m.startswith(f"Preempted by pod {important['metadata']['uid']} on node ") for m in messages)
    finally:
        kubectl(cluster, "delete", "deployment", "filler", check=False)
        kubectl(cluster, "delete", "pod", "important", "--wait=true", check=False)
        kubectl(cluster, "delete", "priorityclass", "low", "high", check=False)
