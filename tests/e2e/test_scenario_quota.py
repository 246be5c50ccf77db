"""Quota and limit ranges as a kubectl user meets them on `kubelite server --hollow-nodes 1`: a
LimitRange's defaults show up in the pods a Deployment creates, `kubectl create quota` caps them
(the ReplicaSet's FailedCreate event carries the quota's refusal), and `kubectl describe quota`
shows Used / Hard as the quota controller and admission keep them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.server_harness import RunningServer, start_server
from tests.e2e.test_control_loops import eventually, kubectl

NS = "quota-e2e"
LIMIT_RANGE = {
    "apiVersion": "v1",
    "kind": "LimitRange",
    "metadata": {"name": "defaults", "namespace": NS},
    "spec": {
        "limits": [{"type": "Container", "default": {"cpu": "200m"}, "defaultRequest": {"cpu": "100m"}}]
    },
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("quota"), "--hollow-nodes", "1")
    try:
        yield running
    finally:
        running.stop()


def quota_status(server: RunningServer) -> dict[str, dict[str, str]]:
    status: dict[str, dict[str, str]] = (
        json.loads(kubectl(server, "get", "quota", "q", "-n", NS, "-o", "json")).get("status") or {}
    )
    return status


def app_pods(server: RunningServer) -> list[dict]:
    items: list[dict] = json.loads(kubectl(server, "get", "pods", "-n", NS, "-l", "app=web", "-o", "json"))[
        "items"
    ]
    return items


def test_a_quota_caps_a_deployment_whose_pods_get_limit_range_defaults(cluster: RunningServer) -> None:
    kubectl(cluster, "create", "namespace", NS)
    path = cluster.data_dir / "limitrange.json"
    path.write_text(json.dumps(LIMIT_RANGE))
    kubectl(cluster, "create", "-f", str(path))
    assert kubectl(cluster, "create", "quota", "q", "--hard=pods=2,requests.cpu=1", "-n", NS) == (
        "resourcequota/q created\n"
    )
    # the quota controller fills in status before admission can charge it
    eventually(
        lambda: quota_status(cluster).get("used") == {"pods": "0", "requests.cpu": "0"}, what="quota status"
    )

    kubectl(cluster, "create", "deployment", "web", "--image=busybox", "--replicas=3", "-n", NS)
    eventually(lambda: len(app_pods(cluster)) == 2, what="2 pods")
    rs_name = json.loads(kubectl(cluster, "get", "rs", "-n", NS, "-o", "json"))["items"][0]["metadata"][
        "name"
    ]
    eventually(
        lambda: "exceeded quota: q" in kubectl(cluster, "describe", "rs", rs_name, "-n", NS),
        what="FailedCreate event",
    )
    described = kubectl(cluster, "describe", "rs", rs_name, "-n", NS)
    line = next(line for line in described.splitlines() if "exceeded quota" in line)
    assert "FailedCreate" in line
    assert f'Error creating: pods "{rs_name}-' in line
    assert line.rstrip().endswith(
        "is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"
    )
    assert len(app_pods(cluster)) == 2

    for pod in app_pods(cluster):
        assert pod["spec"]["containers"][0]["resources"] == {
            "limits": {"cpu": "200m"},
            "requests": {"cpu": "100m"},
        }
        assert pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
            "LimitRanger plugin set: cpu request for container busybox; cpu limit for container busybox"
        )

    assert quota_status(cluster) == {
        "hard": {"pods": "2", "requests.cpu": "1"},
        "used": {"pods": "2", "requests.cpu": "200m"},
    }
    rows = [line.split() for line in kubectl(cluster, "describe", "quota", "q", "-n", NS).splitlines()]
    assert ["pods", "2", "2"] in rows
    assert ["requests.cpu", "200m", "1"] in rows

    # a deleted pod gives its quota back and the ReplicaSet fills the gap again
    victim = app_pods(cluster)[0]["metadata"]["name"]
    kubectl(cluster, "delete", "pod", victim, "-n", NS, "--wait=true")
    eventually(
        lambda: (
            len(app_pods(cluster)) == 2 and victim not in {p["metadata"]["name"] for p in app_pods(cluster)}
        ),
        what="a replacement pod",
    )
