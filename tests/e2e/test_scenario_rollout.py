"""A Deployment's rollout as `kubectl rollout` users see it, on `kubelite server --hollow-nodes 3`:
`set image` rolls out without ever breaking maxSurge (ReplicaSet replicas) or maxUnavailable (Ready
pods; official-client watches check every step), change causes in `rollout history`, pause/resume, restart, undo to a revision,
and the upstream-style ScalingReplicaSet events in `describe`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch

from tests.e2e.server_harness import RunningServer, start_server
from tests.e2e.test_control_loops import eventually, kubectl, pods

REPLICAS = 6
MAX_SURGE = 1
MAX_UNAVAILABLE = 1


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("rollout"), "--hollow-nodes", "3")
    try:
        yield running
    finally:
        running.stop()


class ObjectWatch:
    """Follows objects with the official client and records `measure(objects)` after every event."""

    def __init__(self, lister: Any, selector: str, measure: Any):
        self.lister = lister
        self.selector = selector
        self.measure = measure
        self.objects: dict[str, Any] = {}
        self.steps: list[Any] = []
        self.stopped = False
        self.error: Exception | None = None
        self.watch = watch.Watch()
        listed = lister("default", label_selector=selector)
        for item in listed.items:
            self.objects[item.metadata.name] = item
        self.resource_version = listed.metadata.resource_version
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        stream = self.watch.stream(self.lister, "default", label_selector=self.selector, resource_version=self.resource_version)
        try:
            for event in stream:
                item = event["object"]
                if event["type"] == "DELETED":
                    self.objects.pop(item.metadata.name, None)
                else:
                    self.objects[item.metadata.name] = item
                self.steps.append(self.measure(self.objects.values()))
        except Exception as exc:  # the stream ends when the server stops; before that it is a failure
            if not self.stopped:
                self.error = exc

    def now(self) -> Any:
        return self.measure(self.objects.values())

    def stop(self) -> None:
        assert self.error is None, f"the watch failed: {self.error!r}"
        self.stopped = True
        self.watch.stop()


def api_client(server: RunningServer) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


def pod_counts(items: Any) -> tuple[int, int]:
    """(active, ready) pods: active = not being deleted."""
    active = [p for p in items if p.metadata.deletion_timestamp is None]
    ready = [p for p in active if any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))]
    return len(active), len(ready)


def wanted_replicas(items: Any) -> int:
    """What the ReplicaSets ask for together (the count upstream's maxSurge bounds)."""
    return sum(rs.spec.replicas or 0 for rs in items)


def template_images(server: RunningServer, name: str) -> str:
    found = json.loads(kubectl(server, "get", "deployment", name, "-o", "json"))
    return str(found["spec"]["template"]["spec"]["containers"][0]["image"])


def replica_sets(server: RunningServer, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(kubectl(server, "get", "rs", "-l", selector, "-o", "json"))["items"]
    return items


def test_rolling_update_respects_surge_and_unavailable_at_every_step(cluster: RunningServer) -> None:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {"kubernetes.io/change-cause": "first release"}},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": MAX_SURGE, "maxUnavailable": MAX_UNAVAILABLE}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "busybox:1"}]}},
        },
    }
    path = cluster.data_dir / "web.json"
    path.write_text(json.dumps(manifest))
    kubectl(cluster, "apply", "-f", str(path))
    kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=60s", timeout=90)

    api = api_client(cluster)
    watcher = ObjectWatch(client.CoreV1Api(api).list_namespaced_pod, "app=web", pod_counts)
    sets = ObjectWatch(client.AppsV1Api(api).list_namespaced_replica_set, "app=web", wanted_replicas)
    try:
        kubectl(cluster, "set", "image", "deployment/web", "web=busybox:2")
        kubectl(cluster, "annotate", "deployment/web", "kubernetes.io/change-cause=image 2", "--overwrite")
        out = kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
        assert 'deployment "web" successfully rolled out' in out
        eventually(lambda: watcher.now() == (REPLICAS, REPLICAS), what="the rollout settled")
    finally:
        watcher.stop()
        sets.stop()
    assert len(watcher.steps) > REPLICAS, "the watch saw the rollout"
    assert len(sets.steps) > 2, "the ReplicaSet watch saw the rollout"
    # maxSurge bounds the ReplicaSets' replicas (as upstream counts them); a pod its ReplicaSet
    # was just told to drop may still be active for a moment, so pods are not held to it
    assert max(sets.steps) == REPLICAS + MAX_SURGE, f"the surge was used: {sets.steps}"
    for wanted in sets.steps:
        assert wanted <= REPLICAS + MAX_SURGE, f"ReplicaSets asked for more than {REPLICAS + MAX_SURGE}: {sets.steps}"
    for _active, ready in watcher.steps:
        assert ready >= REPLICAS - MAX_UNAVAILABLE, f"fewer than {REPLICAS - MAX_UNAVAILABLE} ready: {watcher.steps}"
    images = {p["spec"]["containers"][0]["image"] for p in pods(cluster, "app=web") if not p["metadata"].get("deletionTimestamp")}
    assert images == {"busybox:2"}

    history = kubectl(cluster, "rollout", "history", "deployment/web")
    lines = [line.split(None, 1) for line in history.splitlines() if line[:1].isdigit()]
    assert lines == [["1", "first release"], ["2", "image 2"]], history

    described = kubectl(cluster, "describe", "deployment", "web")
    assert "ScalingReplicaSet" in described
    assert "Scaled up replica set web-" in described and "Scaled down replica set web-" in described


def test_pause_resume_restart_and_undo(cluster: RunningServer) -> None:
    kubectl(cluster, "create", "deployment", "paused", "--image=busybox:1", "--replicas=2")
    kubectl(cluster, "rollout", "status", "deployment/paused", "--timeout=60s", timeout=90)
    try:
        kubectl(cluster, "rollout", "pause", "deployment/paused")
        kubectl(cluster, "set", "image", "deployment/paused", "busybox=busybox:2")
        found = json.loads(kubectl(cluster, "get", "deployment", "paused", "-o", "json"))
        assert found["spec"]["paused"] is True
        eventually(
            lambda: any(
                c["type"] == "Progressing" and c["reason"] == "DeploymentPaused"
                for c in json.loads(kubectl(cluster, "get", "deployment", "paused", "-o", "json"))["status"]["conditions"]
            ),
            what="the Progressing condition saying DeploymentPaused",
        )
        assert len(replica_sets(cluster, "app=paused")) == 1, "a paused deployment does not roll out"

        kubectl(cluster, "rollout", "resume", "deployment/paused")
        kubectl(cluster, "rollout", "status", "deployment/paused", "--timeout=60s", timeout=90)
        assert len(replica_sets(cluster, "app=paused")) == 2

        kubectl(cluster, "rollout", "restart", "deployment/paused")
        kubectl(cluster, "rollout", "status", "deployment/paused", "--timeout=60s", timeout=90)
        found = json.loads(kubectl(cluster, "get", "deployment", "paused", "-o", "json"))
        assert "kubectl.kubernetes.io/restartedAt" in found["spec"]["template"]["metadata"]["annotations"]
        assert len(replica_sets(cluster, "app=paused")) == 3

        kubectl(cluster, "rollout", "undo", "deployment/paused", "--to-revision=1")
        kubectl(cluster, "rollout", "status", "deployment/paused", "--timeout=60s", timeout=90)
        assert template_images(cluster, "paused") == "busybox:1"
        revisions = sorted(int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) for rs in replica_sets(cluster, "app=paused"))
        assert revisions == [2, 3, 4], "undo reuses revision 1's ReplicaSet, renumbered"
    finally:
        kubectl(cluster, "delete", "deployment", "paused", check=False)
