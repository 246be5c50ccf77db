"""Service networking on `kubelite server`'s own node, driven by the real kubectl 1.33: a
Deployment of kubelite.test/web:1 (readiness probe, maxUnavailable 0 / maxSurge 1) exposed as a
NodePort answers from the host on 127.0.0.1:<nodePort> and on its ClusterIP, spread over all
three pods; inside a busybox pod the resolv.conf points at kube-dns, `nslookup` resolves the
Service to its ClusterIP and `nc web 80` answers; an Ingress for host a.test routes to it through
nginx. Under a steady loop of new-connection requests to the NodePort and the ClusterIP, deleting
a pod and rolling the Deployment to web:2 fail no request (terminating endpoints are drained). A
LoadBalancer Service answers on the node address and shows it as EXTERNAL-IP; an ExternalName
Service resolves as a CNAME from a pod; `kubectl proxy` reaches the API and services/pods proxy;
`kubectl port-forward` to svc/ and deploy/ answers from the host.

One agent server for the module on a bridge, CIDR, nftables table, ingress ports, netns prefix and
cgroup parent of its own, reset at the end and checked to have left nothing (table, route,
bridge, netns, nginx); a restarted server adopts the bridge it left and serves again. The pods'
web server (busybox httpd as PID 1) ignores SIGTERM, so a deleted pod keeps serving until its
grace period (3 s here) ends: the proxy must have stopped sending it traffic by then."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Kubectl
from tests.e2e.kubectl_util import Background, row_named
from tests.e2e.node_services_harness import (
    NodeServer,
    RequestLoop,
    body,
    node_services_server,
    quietly,
    wait_for,
)
from tests.e2e.server_harness import free_port
from tests.runtime.oci_harness import http_get

Obj = dict[str, Any]
WEB = "kubelite.test/web:1"
WEB_2 = "kubelite.test/web:2"
BUSYBOX = "kubelite.test/busybox:1"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeServer]:
    with node_services_server(tmp_path_factory, "svcnode") as running:
        yield running


@pytest.fixture(scope="module")
def kubectl(node: NodeServer, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return node.kubectl("1.33", tmp_path_factory.mktemp("home-1.33"))


def _hostnames(get: Callable[[], str], count: int) -> list[str]:
    names = []
    for _ in range(count):
        answer = get()
        assert " 200 " in answer.splitlines()[0], answer
        line = body(answer).strip()
        assert line.startswith("web 1 "), answer
        names.append(line.split()[2])
    return names


GRACE_SECONDS = 3


@pytest.fixture(scope="module")
def web(kubectl: Kubectl) -> Obj:
    """Deployment web (3 replicas, never pulling, readiness probe on /healthz, maxUnavailable 0 /
    maxSurge 1, a 3 s grace period) exposed as a NodePort; returns the Service."""
    deployment = json.loads(kubectl("create", "deployment", "web", f"--image={WEB}", "--replicas=3", "--dry-run=client", "-o", "json"))
    spec = deployment["spec"]
    spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    pod_spec = spec["template"]["spec"]
    pod_spec["terminationGracePeriodSeconds"] = GRACE_SECONDS
    container = pod_spec["containers"][0]
    container["imagePullPolicy"] = "Never"
    container["ports"] = [{"containerPort": 80}]
    container["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 1}
    kubectl("apply", "-f", "-", input=json.dumps(deployment))
    kubectl("rollout", "status", "deployment/web", "--timeout=60s")
    kubectl("expose", "deployment", "web", "--type=NodePort", "--port=80")
    return dict(json.loads(kubectl("get", "service", "web", "-o", "json")))


def _pod_names(kubectl: Kubectl) -> set[str]:
    return set(kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}").split())


def test_nodeport_and_cluster_ip_reach_all_pods_from_the_host(node: NodeServer, kubectl: Kubectl, web: Obj) -> None:
    pods = _pod_names(kubectl)
    assert len(pods) == 3
    node_port = web["spec"]["ports"][0]["nodePort"]
    cluster_ip = web["spec"]["clusterIP"]
    assert cluster_ip.startswith("10.43.")
    wait_for(lambda: "web 1" in quietly(lambda: http_get("127.0.0.1", node_port)), what="the NodePort to answer")
    assert set(_hostnames(lambda: http_get("127.0.0.1", node_port), 30)) == pods
    assert set(_hostnames(lambda: http_get(cluster_ip, 80), 30)) == pods


def test_pods_resolve_and_reach_the_service_by_name(node: NodeServer, kubectl: Kubectl, web: Obj) -> None:
    kubectl("run", "bb", f"--image={BUSYBOX}", "--image-pull-policy=Never", "--restart=Never", "--", "sleep", "3600")
    kubectl("wait", "--for=condition=Ready", "pod/bb", "--timeout=60s")
    resolv = kubectl("exec", "bb", "--", "cat", "/etc/resolv.conf")
    assert "nameserver 10.43.0.10" in resolv.splitlines()
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in resolv
    assert "options ndots:5" in resolv
    looked_up = kubectl("exec", "bb", "--", "nslookup", "web.default.svc.cluster.local")
    assert f"Address: {web['spec']['clusterIP']}" in looked_up, looked_up
    answer = kubectl("exec", "bb", "--", "sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 web 80")
    assert "web 1 web-" in answer, answer
    assert "CoreDNS is running at" in kubectl("cluster-info")


def _host_request(port: int, host: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=3.0) as connection:
        connection.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_an_ingress_routes_its_host_to_the_service(node: NodeServer, kubectl: Kubectl, web: Obj) -> None:
    assert "true" in kubectl("get", "ingressclass", "nginx", "-o", "jsonpath={.metadata.annotations}")
    manifest = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: a.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
"""
    kubectl("apply", "-f", "-", input=manifest)
    wait_for(lambda: "web 1 web-" in quietly(lambda: _host_request(node.ingress_port, "a.test")), what="the Ingress to route a.test")
    assert " 404 " in _host_request(node.ingress_port, "b.test").splitlines()[0]
    wait_for(lambda: kubectl("get", "ingress", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"), what="Ingress status")


def _loop_targets(web: Obj) -> list[tuple[str, int]]:
    return [("127.0.0.1", web["spec"]["ports"][0]["nodePort"]), (web["spec"]["clusterIP"], 80)]


def _ready_pods(kubectl: Kubectl) -> set[str]:
    pods = json.loads(kubectl("get", "pods", "-l", "app=web", "-o", "json"))["items"]
    return {
        p["metadata"]["name"]
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])
    }


def test_a_deleted_pod_fails_no_request(node: NodeServer, kubectl: Kubectl, web: Obj) -> None:
    before = _ready_pods(kubectl)
    assert len(before) == 3
    victim = sorted(before)[0]
    with RequestLoop(_loop_targets(web)) as loop:
        wait_for(lambda: loop.count() >= 20, what="the request loop to get going")
        started = time.monotonic()
        kubectl("delete", "pod", victim, "--wait=true")
        # httpd ignores SIGTERM: the pod went away only when its grace period ended
        assert time.monotonic() - started >= GRACE_SECONDS - 0.5
        wait_for(lambda: len(_ready_pods(kubectl) - before) == 1 and len(_ready_pods(kubectl)) == 3, what="a Ready replacement")
        loop.wait_for_more(20)
    assert not loop.failures, loop.failures
    assert victim not in _ready_pods(kubectl)


def test_a_rolling_update_fails_no_request(node: NodeServer, kubectl: Kubectl, web: Obj) -> None:
    with RequestLoop(_loop_targets(web)) as loop:
        wait_for(lambda: loop.count() >= 20, what="the request loop to get going")
        kubectl("set", "image", "deployment/web", f"web={WEB_2}")
        kubectl("rollout", "status", "deployment/web", "--timeout=60s")
        mark = loop.count()
        # the last old pods keep serving through their grace period; then only web 2 answers
        wait_for(lambda: loop.count() >= mark + 20 and set(loop.versions()[-10:]) == {"2"}, what="only web 2 answering")
    assert not loop.failures, loop.failures
    versions = loop.versions()
    assert versions[0] == "1" and versions[-1] == "2"
    for target in ("127.0.0.1", web["spec"]["clusterIP"]):
        assert {v for t, v in loop.answers if t.startswith(target + ":")} == {"1", "2"}


def _node_address(kubectl: Kubectl) -> str:
    addresses = json.loads(kubectl("get", "nodes", "-o", "json"))["items"][0]["status"]["addresses"]
    by_type = {a["type"]: a["address"] for a in addresses}
    return str(by_type.get("ExternalIP") or by_type["InternalIP"])


def test_a_load_balancer_answers_on_the_node_address(node: NodeServer, kubectl: Kubectl, web: Obj) -> None:
    port = free_port()  # unused by anyone on this host: the node address's port is the Service port
    kubectl("expose", "deployment", "web", "--name=web-lb", "--type=LoadBalancer", f"--port={port}", "--target-port=80")
    address = _node_address(kubectl)
    status = wait_for(
        lambda: kubectl("get", "service", "web-lb", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}"), what="LoadBalancer status"
    )
    assert status.split() == [address]
    row = row_named(kubectl("get", "service", "web-lb"), "web-lb")
    assert (row["TYPE"], row["EXTERNAL-IP"]) == ("LoadBalancer", address)
    assert re.fullmatch(rf"{port}:3\d{{4}}/TCP", row["PORT(S)"]), row
    wait_for(lambda: "web " in quietly(lambda: http_get(address, port)), what="the LoadBalancer port on the node address")
    assert body(http_get(address, port)).startswith("web ")


def test_an_external_name_service_resolves_as_a_cname(node: NodeServer, kubectl: Kubectl, web: Obj) -> None:
    target = "web.default.svc.cluster.local"
    assert kubectl("create", "service", "externalname", "ext", f"--external-name={target}") == "service/ext created\n"
    row = row_named(kubectl("get", "service", "ext"), "ext")
    assert (row["TYPE"], row["CLUSTER-IP"], row["EXTERNAL-IP"], row["PORT(S)"]) == ("ExternalName", "<none>", target, "<none>")
    if not _pod_exists(kubectl, "bb"):
        kubectl("run", "bb", f"--image={BUSYBOX}", "--image-pull-policy=Never", "--restart=Never", "--", "sleep", "3600")
        kubectl("wait", "--for=condition=Ready", "pod/bb", "--timeout=60s")
    # Asked of this node's DNS server itself (what 10.43.0.10 DNATs to): another kubelite node on
    # this machine claims the same kube-dns VIP in its own table. busybox's nslookup also tries the
    # other search domains (NXDOMAIN there), so only its output counts.
    def looked_up() -> str:
        out = kubectl.run("exec", "bb", "--", "nslookup", "ext.default.svc.cluster.local", node.net.gateway, check=False).stdout
        return out if "canonical name" in out else ""

    answer = wait_for(looked_up, timeout=10, what="the ExternalName CNAME")
    assert f"ext.default.svc.cluster.local\tcanonical name = {target}" in answer, answer
    assert f"Address: {web['spec']['clusterIP']}" in answer, answer


def _pod_exists(kubectl: Kubectl, name: str) -> bool:
    return kubectl.run("get", "pod", name, check=False).returncode == 0


def _local_get(port: int, path: str) -> tuple[int, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as connection:
        connection.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).decode(errors="replace").partition("\r\n\r\n")
    return int(head.split()[1]), body


def test_kubectl_proxy_reaches_the_api_and_services_and_pods_proxy(node: NodeServer, kubectl: Kubectl, web: Obj) -> None:
    proxy = Background(kubectl, "proxy", "--port=0")
    try:
        line = proxy.stdout[proxy.wait_for_line(lambda text: text.startswith("Starting to serve on"))]
        port = int(line.rsplit(":", 1)[1])
        status, body = _local_get(port, "/api/v1/namespaces/default/pods")
        assert status == 200 and json.loads(body)["kind"] == "PodList", body
        names = {p["metadata"]["name"] for p in json.loads(body)["items"]}
        assert _ready_pods(kubectl) <= names
        status, body = _local_get(port, "/api/v1/namespaces/default/services/web:80/proxy/")
        assert (status, body.split()[:1]) == (200, ["web"]), body
        status, body = _local_get(port, "/api/v1/namespaces/default/services/http:web:/proxy/healthz")
        assert (status, body) == (200, "ok\n"), body
        pod = sorted(_ready_pods(kubectl))[0]
        status, body = _local_get(port, f"/api/v1/namespaces/default/pods/{pod}/proxy/")
        assert (status, body.split()[2:3]) == (200, [pod]), body
        status, body = _local_get(port, "/api/v1/namespaces/default/services/web:81/proxy/")
        assert status == 503 and json.loads(body)["message"] == 'no service port 81 found for service "web"'
    finally:
        proxy.kill()


def _forward(kubectl: Kubectl, resource: str) -> tuple[Background, int]:
    forward = Background(kubectl, "port-forward", resource, ":80")
    line = forward.stdout[forward.wait_for_line(lambda text: text.startswith("Forwarding from 127.0.0.1:"))]
    return forward, int(re.findall(r"127\.0\.0\.1:(\d+)", line)[0])


def test_port_forward_to_a_service_and_a_deployment(node: NodeServer, kubectl: Kubectl, web: Obj) -> None:
    for resource in ("svc/web", "deploy/web"):
        forward, port = _forward(kubectl, resource)
        try:
            status, body = _local_get(port, "/")
            assert status == 200 and body.startswith("web 2 web-"), (resource, body)
        finally:
            forward.kill()


def test_a_restarted_server_adopts_the_bridge_and_serves_again(node: NodeServer, kubectl: Kubectl, web: Obj) -> None:
    node.restart()
    node_port = web["spec"]["ports"][0]["nodePort"]
    wait_for(lambda: "web 2" in quietly(lambda: http_get("127.0.0.1", node_port)), what="the NodePort after a restart")
