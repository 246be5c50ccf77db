"""DaemonSets and StatefulSets as kubectl users meet them on `kubelite server --hollow-nodes 3`: a
daemon set runs one pod on every node and `rollout status` follows a `set image` to the end, with
the revisions in `rollout history`; a stateful set brings up web-0, web-1, web-2 in order with a
PVC each, and scaling it to 1 removes web-2, then web-1, keeping their claims."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Kubectl
from tests.e2e.kubectl_util import Background
from tests.e2e.server_harness import RunningServer, start_server
from tests.e2e.test_control_loops import KUBECTL, eventually, kubectl, pods

NODES = {"hollow-node-0", "hollow-node-1", "hollow-node-2"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("sets"), "--hollow-nodes", "3")
    try:
        yield running
    finally:
        running.stop()


def apply(server: RunningServer, manifest: dict[str, Any]) -> None:
    path = server.data_dir / f"{manifest['metadata']['name']}-{manifest['kind']}.json"
    path.write_text(json.dumps(manifest))
    kubectl(server, "apply", "-f", str(path))


def live(server: RunningServer, selector: str) -> list[dict[str, Any]]:
    return [p for p in pods(server, selector) if not p["metadata"].get("deletionTimestamp")]


def test_daemon_set_runs_on_every_node_and_rolls_out(cluster: RunningServer) -> None:
    eventually(
        lambda: kubectl(cluster, "get", "nodes", "--no-headers").count(" Ready ") == 3, what="3 Ready nodes"
    )
    apply(
        cluster,
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "agent", "image": "busybox:1"}]},
                },
            },
        },
    )
    out = kubectl(cluster, "rollout", "status", "daemonset/agent", "--timeout=60s", timeout=90)
    assert 'daemon set "agent" successfully rolled out' in out
    placed = live(cluster, "app=agent")
    assert sorted(p["spec"]["nodeName"] for p in placed) == sorted(NODES), "one pod per node"
    row = kubectl(cluster, "get", "daemonset", "agent", "--no-headers").split()
    assert row[:6] == ["agent", "3", "3", "3", "3", "3"], row  # desired current ready up-to-date available

    kubectl(cluster, "set", "image", "daemonset/agent", "agent=busybox:2")
    out = kubectl(cluster, "rollout", "status", "daemonset/agent", "--timeout=60s", timeout=90)
    assert 'daemon set "agent" successfully rolled out' in out
    eventually(
        lambda: (
            sorted(p["spec"]["containers"][0]["image"] for p in live(cluster, "app=agent"))
            == ["busybox:2"] * 3
        ),
        what="every daemon pod on the new image",
    )
    assert {p["spec"]["nodeName"] for p in live(cluster, "app=agent")} == NODES
    history = kubectl(cluster, "rollout", "history", "daemonset/agent")
    assert [line.split()[0] for line in history.splitlines() if line[:1].isdigit()] == ["1", "2"], history
    assert "busybox:1" in kubectl(cluster, "rollout", "history", "daemonset/agent", "--revision=1")


def test_stateful_set_orders_pods_with_claims_and_scales_down_in_reverse(cluster: RunningServer) -> None:
    watcher = Background(
        Kubectl(Path(KUBECTL), cluster.kubeconfig, cluster.data_dir),
        "get", "pods", "-l", "app=web", "-w", "--output-watch-events", "--no-headers",
    )  # fmt: skip
    try:
        apply(
            cluster,
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "web"},
                "spec": {
                    "replicas": 3,
                    "serviceName": "web",
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "busybox:1"}]},
                    },
                    "volumeClaimTemplates": [
                        {
                            "metadata": {"name": "www"},
                            "spec": {
                                "accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": "1Gi"}},
                            },
                        }
                    ],
                },
            },
        )
        out = kubectl(cluster, "rollout", "status", "statefulset/web", "--timeout=60s", timeout=90)
        assert "partitioned roll out complete: 3 new pods have been updated" in out
        watcher.wait_for_line(lambda line: line.split()[:2] == ["ADDED", "web-2"])
        added = [line.split()[1] for line in watcher.stdout if line.split()[:1] == ["ADDED"]]
        assert added == ["web-0", "web-1", "web-2"], watcher.stdout
        claims = kubectl(cluster, "get", "pvc", "-o", "name").split()
        assert claims == [f"persistentvolumeclaim/www-web-{i}" for i in range(3)]
        web0 = json.loads(kubectl(cluster, "get", "pod", "web-0", "-o", "json"))
        assert web0["spec"]["hostname"] == "web-0" and web0["spec"]["subdomain"] == "web"
        assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}} in web0["spec"]["volumes"]
        assert kubectl(cluster, "get", "statefulset", "web", "--no-headers").split()[:2] == ["web", "3/3"]

        kubectl(cluster, "scale", "statefulset", "web", "--replicas=1")
        eventually(
            lambda: [p["metadata"]["name"] for p in pods(cluster, "app=web")] == ["web-0"], what="only web-0"
        )
        watcher.wait_for_line(lambda line: line.split()[:2] == ["DELETED", "web-1"])
        deleted = [line.split()[1] for line in watcher.stdout if line.split()[:1] == ["DELETED"]]
        assert deleted == ["web-2", "web-1"], watcher.stdout
        assert kubectl(cluster, "get", "pvc", "-o", "name").split() == claims, "claims are kept (Retain)"
        out = kubectl(cluster, "rollout", "status", "statefulset/web", "--timeout=60s", timeout=90)
        assert "partitioned roll out complete: 1 new pods have been updated" in out
    finally:
        watcher.kill()
