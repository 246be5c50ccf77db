"""The newcomer's walk-through of the Kubernetes tutorials (../shared/scenarios/seed-walkthrough.sh
and more), with the real kubectl 1.33 and 1.27, each in a namespace of its own on one agent server:
look at the node and namespaces; `create deployment`, then inspect its pod (get, describe, logs,
exec, its IP from the host) and the Deployment (describe, events); delete the pod and watch it be
replaced; expose it as a NodePort (127.0.0.1, the node address, the ClusterIP, port-forward);
apply a Deployment with probes and a rolling update, its Service and an Ingress with two hosts and
two paths to two Services through nginx; update the image under a request loop that must see no
failure; read the rollout history, scale, roll back; clean everything up.

One agent-running server for the module (its own bridge, CIDR, table, ports; see
node_services_harness.py), checked to leave nothing behind. The test pods' web server ignores
SIGTERM (busybox httpd as PID 1), so the Deployments' pods have short grace periods.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import KUBECTL_VERSIONS, Kubectl
from tests.e2e.kubectl_util import Background, lines, row_named, table, version_tag
from tests.e2e.node_services_harness import (
    NodeServer,
    RequestLoop,
    body,
    node_services_server,
    quietly,
    wait_for,
)
from tests.runtime.oci_harness import http_get

Obj = dict[str, Any]
WEB_1 = "kubelite.test/web:1"
WEB_2 = "kubelite.test/web:2"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeServer]:
    with node_services_server(tmp_path_factory, "walkthrough") as running:
        yield running


@pytest.fixture(params=sorted(KUBECTL_VERSIONS), scope="module")
def kubectl(request: pytest.FixtureRequest, node: NodeServer, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """The kubectl version with a kubeconfig of its own (its context's namespace gets set)."""
    home = tmp_path_factory.mktemp(f"home-{request.param}")
    kubeconfig = home / "kubeconfig.yaml"
    kubeconfig.write_text(node.server.kubeconfig.read_text())
    return Kubectl(KUBECTL_VERSIONS[request.param], kubeconfig, home)


@pytest.fixture(scope="module")
def ns(kubectl: Kubectl) -> str:
    """The kubectl version's own namespace, made its context's default (`kubectl config
    set-context --current --namespace`), so the walk-through's commands need no -n."""
    name = f"walk-{version_tag(kubectl)}"
    assert kubectl("create", "namespace", name) == f"namespace/{name} created\n"
    kubectl("config", "set-context", "--current", f"--namespace={name}")
    return name


def _host(kubectl: Kubectl, name: str) -> str:
    return f"{name}-{version_tag(kubectl)}.test"


def _node_address(kubectl: Kubectl) -> str:
    addresses = json.loads(kubectl("get", "nodes", "-o", "json"))["items"][0]["status"]["addresses"]
    return str({a["type"]: a["address"] for a in addresses}["InternalIP"])


def _pods(kubectl: Kubectl, selector: str) -> list[Obj]:
    return list(json.loads(kubectl("get", "pods", "-l", selector, "-o", "json"))["items"])


def _running(kubectl: Kubectl, selector: str) -> list[str]:
    return [
        p["metadata"]["name"]
        for p in _pods(kubectl, selector)
        if not p["metadata"].get("deletionTimestamp")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])
    ]


def _ingress_get(port: int, host: str, path: str = "/") -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=3.0) as connection:
        connection.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def _describe_pod_with_events(kubectl: Kubectl, pod: str, reasons: tuple[str, ...], timeout: float = 15) -> str:
    """`describe pod` once it lists a Normal event of each reason (events are written
    asynchronously, as upstream's recorder does)."""

    def described() -> str:
        text = kubectl("describe", "pod", pod)
        return text if all(re.search(rf"^\s+Normal\s+{reason}\s", text, re.M) for reason in reasons) else ""

    return str(wait_for(described, timeout=timeout, what=f"the events {reasons} in describe pod {pod}"))


# ---------------------------------------------------------------------- the cluster
def test_one_ready_node_and_the_system_namespaces(kubectl: Kubectl, ns: str) -> None:
    nodes = table(kubectl("get", "nodes"))
    assert len(nodes) == 1 and nodes[0]["STATUS"] == "Ready", nodes
    assert kubectl.run("get", "pods").stderr == f"No resources found in {ns} namespace.\n"
    names = [row["NAME"] for row in table(kubectl("get", "namespace", "kube-system", "kube-public", "kube-node-lease", "default"))]
    assert names == ["kube-system", "kube-public", "kube-node-lease", "default"]


# ---------------------------------------------------------------------- deploy and inspect
def test_create_a_deployment_and_inspect_its_pod(kubectl: Kubectl, ns: str) -> None:
    # as `kubectl create deployment hello-world --image=…`, with a 2 s grace period: the web image
    # ignores SIGTERM, so every pod a rollout replaces or the garbage collector removes would
    # otherwise hold its default 30 s
    deployment = json.loads(kubectl("create", "deployment", "hello-world", f"--image={WEB_1}", "--dry-run=client", "-o", "json"))
    deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 2
    assert kubectl("create", "-f", "-", input=json.dumps(deployment)) == "deployment.apps/hello-world created\n"
    kubectl("rollout", "status", "deployment/hello-world", "--timeout=60s")
    (pod,) = _running(kubectl, "app=hello-world")
    assert re.fullmatch(r"hello-world-[a-z0-9]+-[a-z0-9]{5}", pod), pod
    row = row_named(kubectl("get", "pods"), pod)
    assert (row["READY"], row["STATUS"]) == ("1/1", "Running"), row
    described = _describe_pod_with_events(kubectl, pod, ("Scheduled",))
    assert re.search(r"^Status:\s+Running$", described, re.M), described
    assert re.search(r"^Controlled By:\s+ReplicaSet/hello-world-[a-z0-9]+$", described, re.M), described
    assert re.search(r"^Labels:\s+app=hello-world$", described, re.M), described
    assert f"web 1 serving on :80 as {pod}" in kubectl("logs", pod)
    assert kubectl("exec", pod, "--", "hostname").strip() == pod
    pod_ip = kubectl("get", "pod", pod, "-o", "jsonpath={.status.podIP}")
    assert body(http_get(pod_ip, 80)).strip() == f"web 1 {pod}"


def test_describe_pod_shows_the_kubelet_s_events(kubectl: Kubectl, ns: str) -> None:
    (pod,) = _running(kubectl, "app=hello-world")
    _describe_pod_with_events(kubectl, pod, ("Pulled", "Created", "Started"), timeout=2)


def test_describe_the_deployment_and_read_the_events(kubectl: Kubectl, ns: str) -> None:
    described = kubectl("describe", "deployment", "hello-world")
    assert re.search(r"^Replicas:\s+1 desired \| 1 updated \| 1 total \| 1 available \| 0 unavailable$", described, re.M), described
    assert re.search(r"^StrategyType:\s+RollingUpdate$", described, re.M), described
    assert re.search(r"^NewReplicaSet:\s+hello-world-[a-z0-9]+ \(1/1 replicas created\)$", described, re.M), described
    assert re.search(r"Normal\s+ScalingReplicaSet\s.*Scaled up replica set hello-world-[a-z0-9]+ .*to 1", described), described
    events = table(kubectl("get", "events", "--sort-by=.metadata.creationTimestamp"))
    reasons = {(row["REASON"], row["OBJECT"].split("/")[0]) for row in events}
    assert {("ScalingReplicaSet", "deployment"), ("SuccessfulCreate", "replicaset"), ("Scheduled", "pod")} <= reasons, events


def test_a_deleted_pod_is_replaced(kubectl: Kubectl, ns: str) -> None:
    (pod,) = _running(kubectl, "app=hello-world")
    assert kubectl("delete", "pod", pod, "--grace-period=1") == f'pod "{pod}" deleted\n'
    (replacement,) = wait_for(lambda: _running(kubectl, "app=hello-world"), what="a replacement pod")
    assert replacement != pod
    assert pod not in {p["metadata"]["name"] for p in _pods(kubectl, "app=hello-world")}


# ---------------------------------------------------------------------- expose
def test_expose_as_a_node_port_and_port_forward(kubectl: Kubectl, ns: str) -> None:
    assert kubectl("expose", "deployment", "hello-world", "--type=NodePort", "--port=80") == "service/hello-world exposed\n"
    service = json.loads(kubectl("get", "service", "hello-world", "-o", "json"))
    node_port = service["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    row = row_named(kubectl("get", "service", "hello-world"), "hello-world")
    assert (row["TYPE"], row["CLUSTER-IP"], row["PORT(S)"]) == ("NodePort", service["spec"]["clusterIP"], f"80:{node_port}/TCP")
    for address, port in (("127.0.0.1", node_port), (_node_address(kubectl), node_port), (service["spec"]["clusterIP"], 80)):
        wait_for(lambda a=address, p=port: "web 1 hello-world-" in quietly(lambda: http_get(a, p)), what=f"{address}:{port}")
    forward = Background(kubectl, "port-forward", "svc/hello-world", ":80")
    try:
        line = forward.stdout[forward.wait_for_line(lambda text: text.startswith("Forwarding from 127.0.0.1:"))]
        local = int(re.findall(r"127\.0\.0\.1:(\d+)", line)[0])
        assert body(http_get("127.0.0.1", local)).startswith("web 1 hello-world-")
    finally:
        forward.kill()


MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-dep
spec:
  replicas: 3
  selector:
    matchLabels: {app: server}
  minReadySeconds: 1
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 0, maxSurge: 1}
  template:
    metadata:
      labels: {app: server}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: nginx
        image: kubelite.test/web:1
        ports:
        - containerPort: 80
        readinessProbe:
          httpGet: {path: /healthz, port: 80}
          periodSeconds: 1
        livenessProbe:
          httpGet: {path: /healthz, port: 80}
          initialDelaySeconds: 1
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: nginx-service
spec:
  ports:
  - port: 8080
    targetPort: 80
  selector:
    app: server
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: two-hosts
spec:
  rules:
  - host: HOST_A
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: nginx-service, port: {number: 8080}}}}
      - {path: /index.html, pathType: Exact, backend: {service: {name: hello-world, port: {number: 80}}}}
  - host: HOST_B
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: hello-world, port: {number: 80}}}}
"""


def _manifest(kubectl: Kubectl) -> str:
    return MANIFEST.replace("HOST_A", _host(kubectl, "a")).replace("HOST_B", _host(kubectl, "b"))


def test_apply_a_deployment_a_service_and_an_ingress_with_two_hosts_and_two_paths(node: NodeServer, kubectl: Kubectl, ns: str) -> None:
    applied = lines(kubectl("apply", "-f", "-", input=_manifest(kubectl)))
    assert applied == ["deployment.apps/nginx-dep created", "service/nginx-service created", "ingress.networking.k8s.io/two-hosts created"]
    kubectl("rollout", "status", "deployment/nginx-dep", "--timeout=60s")
    assert len(_running(kubectl, "app=server")) == 3
    a, b = _host(kubectl, "a"), _host(kubectl, "b")
    port = node.ingress_port
    wait_for(lambda: "web 1 nginx-dep-" in quietly(lambda: _ingress_get(port, a)), what=f"{a}/ through nginx")
    assert body(_ingress_get(port, a, "/index.html")).startswith("web 1 hello-world-")
    assert body(_ingress_get(port, a, "/healthz")) == "ok\n"  # Prefix / -> nginx-service
    assert body(_ingress_get(port, b, "/")).startswith("web 1 hello-world-")
    assert " 404 " in _ingress_get(port, _host(kubectl, "c")).splitlines()[0]
    address = _node_address(kubectl)
    wait_for(lambda: kubectl("get", "ingress", "two-hosts", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}") == address, what="Ingress status")
    row = row_named(kubectl("get", "ingress"), "two-hosts")
    assert (row["HOSTS"], row["ADDRESS"], row["PORTS"]) == (f"{a},{b}", address, "80"), row


# ---------------------------------------------------------------------- update, scale, roll back
def test_update_the_image_with_no_failed_request(node: NodeServer, kubectl: Kubectl, ns: str) -> None:
    cluster_ip = kubectl("get", "service", "nginx-service", "-o", "jsonpath={.spec.clusterIP}")
    with RequestLoop([(cluster_ip, 8080)]) as loop:
        loop.wait_for_more(10)
        assert kubectl("set", "image", "deployment/nginx-dep", f"nginx={WEB_2}") == "deployment.apps/nginx-dep image updated\n"
        kubectl("rollout", "status", "deployment/nginx-dep", "--timeout=90s")
        wait_for(lambda: set(loop.versions()[-10:]) == {"2"}, what="only web 2 answering")
    assert not loop.failures, loop.failures
    assert loop.versions()[0] == "1"
    wait_for(lambda: "web 2 nginx-dep-" in quietly(lambda: _ingress_get(node.ingress_port, _host(kubectl, "a"))), what="web 2 through nginx")
    history = kubectl("rollout", "history", "deployment/nginx-dep")
    assert [line.split()[0] for line in lines(history)[1:]] == ["REVISION", "1", "2"], history


def test_scale_then_roll_back(node: NodeServer, kubectl: Kubectl, ns: str) -> None:
    assert kubectl("scale", "deployments/nginx-dep", "--replicas=5") == "deployment.apps/nginx-dep scaled\n"
    wait_for(
        lambda: kubectl("get", "deployment", "nginx-dep", "-o", "jsonpath={.status.availableReplicas}") == "5", what="5 available replicas"
    )
    row = row_named(kubectl("get", "deployment", "nginx-dep"), "nginx-dep")
    assert (row["READY"], row["UP-TO-DATE"], row["AVAILABLE"]) == ("5/5", "5", "5"), row
    assert kubectl("rollout", "undo", "deployment/nginx-dep") == "deployment.apps/nginx-dep rolled back\n"
    kubectl("rollout", "status", "deployment/nginx-dep", "--timeout=90s")
    images = {p["spec"]["containers"][0]["image"] for p in _pods(kubectl, "app=server") if not p["metadata"].get("deletionTimestamp")}
    assert images == {WEB_1}
    wait_for(lambda: "web 1 nginx-dep-" in quietly(lambda: _ingress_get(node.ingress_port, _host(kubectl, "a"))), what="web 1 again")
    history = kubectl("rollout", "history", "deployment/nginx-dep")
    assert [line.split()[0] for line in lines(history)[1:]] == ["REVISION", "2", "3"], history


# ---------------------------------------------------------------------- clean up
def test_clean_up(kubectl: Kubectl, ns: str) -> None:
    assert lines(kubectl("delete", "deployment", "--all")) == ['deployment.apps "hello-world" deleted', 'deployment.apps "nginx-dep" deleted']
    assert lines(kubectl("delete", "service", "--all")) == ['service "hello-world" deleted', 'service "nginx-service" deleted']
    assert lines(kubectl("delete", "ingress", "--all")) == ['ingress.networking.k8s.io "two-hosts" deleted']
    kubectl("delete", "pods", "--all", "--grace-period=1", "--wait=false")
    wait_for(lambda: kubectl.run("get", "pods").stderr == f"No resources found in {ns} namespace.\n", what="no pods left")
    kubectl("delete", "namespace", ns, "--timeout=60s")
    assert kubectl.run("get", "namespace", ns, check=False).returncode != 0
