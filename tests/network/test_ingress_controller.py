"""The ingress controller driving a real nginx, against a real in-process registry: two hosts and
paths routing to two Services whose endpoints are HTTP servers run by the test, TLS from a Secret,
reloads on change, a rejected Ingress leaving the old configuration serving, Ingress status, and
nginx's lifecycle (restarted when it dies, stopped by PID). One test drives a real
`kubelite server` over HTTP with the real kubectl.

The backends listen on an address of a bridge the test makes (`klting<N>`, 10.253.<N>.1/32):
EndpointSlices may not hold loopback addresses. nginx listens on 127.0.0.1 only. Everything the
test starts is stopped by PID, and the bridge is deleted by name.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.x509.oid import NameOID

from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client, ResourceClient
from kubelite.client.http import from_kubeconfig
from kubelite.network.ingress.classes import ensure_default_ingress_class
from kubelite.network.ingress.controller import IngressController, IngressOptions
from kubelite.network.ingress.tls import FAKE_COMMON_NAME
from tests.e2e.conftest import KUBECTL_VERSIONS, Kubectl
from tests.e2e.kubectl_util import row_named
from tests.e2e.server_harness import start_server
from tests.network.ingress_harness import (
    Backend,
    backends,
    endpoint_slice,
    http_path,
    ingress,
    request,
    require_nginx,
    rule,
    self_signed,
    service,
    tls_secret,
)
from tests.registry.registry_harness import eventually, start_registry

Obj = dict[str, Any]
NODE_ADDRESS = "192.0.2.10"  # only written into status; nothing is sent there


@pytest.fixture
def local_address() -> Iterator[str]:
    """An address of this host outside loopback, on a bridge made for the test."""
    if os.geteuid() != 0:
        pytest.skip("needs root (a bridge for the backends' address)")
    require_nginx()
    index = os.getpid() % 250 + 1
    link, address = f"klting{index}", f"10.253.{index}.1"
    subprocess.run(["ip", "link", "del", link], capture_output=True)
    subprocess.run(["ip", "link", "add", link, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", link], check=True)
        subprocess.run(["ip", "link", "set", link, "up"], check=True)
        yield address
    finally:
        subprocess.run(["ip", "link", "del", link], capture_output=True)


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    registry = await start_registry()
    made = Client(InProcessTransport(registry, manager="ingress-tests"))
    try:
        await ensure_default_ingress_class(made)
        nodes = made.resource("", "v1", "nodes")
        node = await nodes.create({"metadata": {"name": "node-1"}})
        node["status"] = {
            "addresses": [{"type": "InternalIP", "address": NODE_ADDRESS}, {"type": "Hostname", "address": "node-1"}],
            "conditions": [{"type": "Ready", "status": "True"}],
        }
        await nodes.update_status(node)
        yield made
    finally:
        await made.close()
        await asyncio.wait_for(registry.stop(), 5.0)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture
async def start_controller(tmp_path: Path, client: Client) -> AsyncIterator[Callable[[], Awaitable[IngressController]]]:
    started: list[IngressController] = []

    async def start() -> IngressController:
        http_port, https_port = free_ports(2)
        options = IngressOptions(
            prefix=tmp_path / "ingress-nginx",
            http_port=http_port,
            https_port=https_port,
            listen_addresses=("127.0.0.1",),
            node_name="node-1",
            debounce=0.05,
            worker_processes="1",
        )
        controller = IngressController(client, options)
        started.append(controller)
        await controller.start()
        return controller

    try:
        yield start
    finally:
        for controller in started:
            await controller.stop()


def resource(client: Client, group: str, plural: str) -> ResourceClient:
    return client.resource(group, "v1", plural).namespace("default")


async def add_service(client: Client, name: str, address: str, backend: Backend, ready: bool = True) -> None:
    await resource(client, "", "services").create(service(name))
    await resource(client, "discovery.k8s.io", "endpointslices").create(
        endpoint_slice(name, [(address, ready)], backend.port)
    )


async def served(port: int, host: str, path: str, expected: str, *, https: bool = False, what: str = "") -> None:
    """Wait until the request is answered with `expected` (a body, or a status code as text)."""

    last: list[str] = ["nothing yet"]

    async def check() -> bool:
        try:
            reply, _cert = await request(port, host, path, https=https)
        except (OSError, TimeoutError) as err:
            last[0] = repr(err)
            return False
        last[0] = f"{reply.status} {reply.body[:200]!r}"
        return reply.body == expected if reply.status == 200 else str(reply.status) == expected

    try:
        await eventually(check, timeout=10.0, what=what or f"{host}{path} -> {expected}")
    except pytest.fail.Exception as err:
        raise AssertionError(f"{err} (last answer: {last[0]})") from None


def as_ingress(obj: Obj) -> Obj:
    meta = obj["metadata"]
    return {**obj, "metadata": {k: v for k, v in meta.items() if k not in ("uid", "creationTimestamp", "generation")}}


async def events_about(client: Client, name: str, reason: str) -> list[Obj]:
    listed = await resource(client, "", "events").list()
    return [e for e in listed["items"] if e["involvedObject"]["name"] == name and e["reason"] == reason]


# ---------------------------------------------------------------------------- routing
async def test_two_hosts_and_paths_route_to_two_services(
    client: Client, local_address: str, start_controller: Callable[[], Awaitable[IngressController]]
) -> None:
    async with backends(local_address, "alpha", "beta") as running:
        await add_service(client, "alpha", local_address, running["alpha"])
        await add_service(client, "beta", local_address, running["beta"])
        await resource(client, "", "services").create(service("idle"))
        web = ingress(
            "web",  # no class: the default class `nginx` is ours
            rule("a.test", http_path("/alpha", "alpha"), http_path("/beta", "beta"), http_path("/idle", "idle")),
            rule("b.test", http_path("/", "beta"), http_path("/exact", "alpha", path_type="Exact")),
        )
        await resource(client, "networking.k8s.io", "ingresses").create(as_ingress(web))
        await client.resource("networking.k8s.io", "v1", "ingressclasses").create(
            {"metadata": {"name": "other"}, "spec": {"controller": "example.com/other"}}
        )
        foreign = ingress("foreign", rule("c.test", http_path("/", "alpha")), class_name="other")
        await resource(client, "networking.k8s.io", "ingresses").create(as_ingress(foreign))

        controller = await start_controller()
        port = controller.options.http_port
        await served(port, "a.test", "/alpha/x", "alpha /alpha/x")
        await served(port, "a.test", "/beta", "beta /beta")
        await served(port, "a.test", "/alphabet", "404")  # Prefix is element-wise
        await served(port, "a.test", "/idle", "503")  # a Service without endpoints
        await served(port, "b.test", "/anything", "beta /anything")
        await served(port, "b.test", "/exact", "alpha /exact")
        await served(port, "b.test", "/exact/", "beta /exact/")
        await served(port, "unknown.test", "/alpha", "404")
        await served(port, "c.test", "/", "404")  # another controller's class
        reply, _ = await request(port, "a.test", "/alpha")
        assert reply.headers["x-seen-host"] == "a.test"

        ingresses = resource(client, "networking.k8s.io", "ingresses")

        async def status_set() -> bool:
            found = await ingresses.get("web")
            return ((found.get("status") or {}).get("loadBalancer") or {}).get("ingress") == [{"ip": NODE_ADDRESS}]

        await eventually(status_set, timeout=5.0, what="status of web")
        assert not ((await ingresses.get("foreign")).get("status") or {}).get("loadBalancer", {}).get("ingress")


async def test_tls_from_a_secret(
    tmp_path: Path, client: Client, local_address: str, start_controller: Callable[[], Awaitable[IngressController]]
) -> None:
    async with backends(local_address, "alpha") as running:
        await add_service(client, "alpha", local_address, running["alpha"])
        cert, key = self_signed("a.test")
        await resource(client, "", "secrets").create(tls_secret("a-tls", cert, key))
        web = ingress("web", rule("a.test", http_path("/", "alpha")), tls=[{"hosts": ["a.test"], "secretName": "a-tls"}])
        await resource(client, "networking.k8s.io", "ingresses").create(as_ingress(web))
        controller = await start_controller()
        https, http = controller.options.https_port, controller.options.http_port
        await served(https, "a.test", "/s", "alpha /s", https=True)
        _reply, presented = await request(https, "a.test", "/", https=True)
        assert presented is not None
        assert presented.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "a.test"
        _reply, fallback = await request(https, "elsewhere.test", "/", https=True)
        assert fallback is not None
        assert fallback.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == FAKE_COMMON_NAME
        redirect, _ = await request(http, "a.test", "/s?q=1")
        assert redirect.status == 308 and redirect.headers["location"] == f"https://a.test:{https}/s?q=1"
        certs = [p for p in (tmp_path / "ingress-nginx" / "certs").iterdir()]
        assert {p.stat().st_mode & 0o777 for p in certs} == {0o600} and len(certs) == 2
        assert any(p.read_bytes() == cert + key for p in certs)


async def test_reloads_on_change(
    client: Client, local_address: str, start_controller: Callable[[], Awaitable[IngressController]]
) -> None:
    async with backends(local_address, "alpha", "beta") as running:
        await add_service(client, "alpha", local_address, running["alpha"])
        await add_service(client, "beta", local_address, running["beta"])
        ingresses = resource(client, "networking.k8s.io", "ingresses")
        await ingresses.create(as_ingress(ingress("web", rule("a.test", http_path("/", "alpha")))))
        controller = await start_controller()
        port, pid = controller.options.http_port, controller.nginx.pid
        await served(port, "a.test", "/", "alpha /")
        loaded = controller.configs_served

        current = await ingresses.get("web")
        current["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "beta"
        await ingresses.update(current)
        await served(port, "a.test", "/", "beta /", what="the updated backend")
        assert controller.nginx.pid == pid and controller.configs_served > loaded  # reloaded, not restarted

        slices = resource(client, "discovery.k8s.io", "endpointslices")
        beta_slice = await slices.get("beta-abc")
        beta_slice["endpoints"][0]["conditions"]["ready"] = False
        await slices.update(beta_slice)
        await served(port, "a.test", "/", "503", what="no ready endpoint left")

        settled = controller.configs_served
        await resource(client, "", "secrets").create(tls_secret("unrelated", *self_signed("x.test")))
        await controller.sync_config()
        assert controller.configs_served == settled  # the same rendering is not loaded again


async def test_a_rejected_ingress_leaves_the_old_configuration_serving(
    client: Client, local_address: str, start_controller: Callable[[], Awaitable[IngressController]]
) -> None:
    async with backends(local_address, "alpha", "beta") as running:
        await add_service(client, "alpha", local_address, running["alpha"])
        await add_service(client, "beta", local_address, running["beta"])
        ingresses = resource(client, "networking.k8s.io", "ingresses")
        secrets = resource(client, "", "secrets")
        await ingresses.create(as_ingress(ingress("web", rule("a.test", http_path("/", "alpha")))))
        controller = await start_controller()
        port = controller.options.http_port
        await served(port, "a.test", "/", "alpha /")

        garbage = base64.b64encode(b"this is not PEM").decode()
        broken = tls_secret("broken", b"", b"")
        broken["data"] = {"tls.crt": garbage, "tls.key": garbage}
        await secrets.create(broken)
        current = await ingresses.get("web")
        current["spec"]["rules"].append(rule("b.test", http_path("/", "beta")))
        current["spec"]["tls"] = [{"hosts": ["a.test", "b.test"], "secretName": "broken"}]
        await ingresses.update(current)
        await ingresses.create(as_ingress(ingress("other", rule("c.test", http_path("/", "beta")))))
        await ingresses.create(
            as_ingress(
                ingress("fresh", rule("d.test", http_path("/", "beta")), tls=[{"hosts": ["d.test"], "secretName": "broken"}])
            )
        )

        await served(port, "c.test", "/", "beta /", what="a good Ingress beside the bad ones")

        async def rejected(name: str) -> bool:
            return bool(await events_about(client, name, "Rejected"))

        await eventually(lambda: rejected("web"), what="a Rejected event on web")
        await eventually(lambda: rejected("fresh"), what="a Rejected event on fresh")
        (event,) = await events_about(client, "web", "Rejected")
        assert event["type"] == "Warning" and "serving its last accepted version" in event["message"]
        assert event["message"].split("): ", 1)[1].startswith('cannot load certificate "')
        assert event["involvedObject"]["kind"] == "Ingress"
        (fresh_event,) = await events_about(client, "fresh", "Rejected")
        assert "not serving it" in fresh_event["message"]
        await served(port, "a.test", "/", "alpha /")  # the old version of web
        await served(port, "b.test", "/", "404")  # its new rule is not served
        await served(port, "d.test", "/", "404")
        assert controller.nginx.running

        cert, key = self_signed("a.test")
        fixed = await secrets.get("broken")
        fixed["data"] = tls_secret("broken", cert, key)["data"]
        await secrets.update(fixed)
        await served(port, "b.test", "/x", "308", what="the fixed Ingress (TLS host redirects)")
        await served(controller.options.https_port, "b.test", "/x", "beta /x", https=True)
        await served(controller.options.https_port, "d.test", "/", "beta /", https=True)


async def test_nginx_is_restarted_when_it_dies_and_stopped_by_pid(
    client: Client, local_address: str, start_controller: Callable[[], Awaitable[IngressController]]
) -> None:
    async with backends(local_address, "alpha") as running:
        await add_service(client, "alpha", local_address, running["alpha"])
        await resource(client, "networking.k8s.io", "ingresses").create(
            as_ingress(ingress("web", rule("a.test", http_path("/", "alpha"))))
        )
        controller = await start_controller()
        port, first = controller.options.http_port, controller.nginx.pid
        await served(port, "a.test", "/", "alpha /")
        os.kill(first, signal.SIGKILL)  # our own child; its worker lingers until the controller sees it

        async def restarted() -> bool:
            return controller.nginx.running and controller.nginx.pid != first

        await eventually(restarted, timeout=10.0, what="a new nginx master")
        second = controller.nginx.pid
        await served(port, "a.test", "/", "alpha /", what="nginx serving again")

        async def group_gone() -> bool:
            try:
                os.killpg(first, 0)
            except ProcessLookupError:
                return True
            return False

        await eventually(group_gone, timeout=5.0, what="the killed master's worker gone")
        await controller.stop()
        await controller.stop()
        assert not controller.nginx.running
        with pytest.raises(ProcessLookupError):
            os.kill(second, 0)
        assert shutil.which("nginx")


async def test_the_default_class_is_made_once_and_never_overwritten(client: Client) -> None:
    classes = client.resource("networking.k8s.io", "v1", "ingressclasses")
    made = await classes.get("nginx")  # made by the fixture
    assert made["metadata"]["annotations"] == {"ingressclass.kubernetes.io/is-default-class": "true"}
    assert made["spec"]["controller"] == "kubelite.io/ingress-nginx"
    made["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] = "false"
    changed = await classes.update(made)
    again = await ensure_default_ingress_class(client)
    assert again["metadata"]["resourceVersion"] == changed["metadata"]["resourceVersion"]
    assert again["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "false"


async def test_over_http_with_kubectl(tmp_path: Path, local_address: str) -> None:
    server = start_server(tmp_path / "data", "--disable-controller-manager", "--disable-scheduler")
    client = Client(from_kubeconfig(server.kubeconfig))
    kubectl = Kubectl(KUBECTL_VERSIONS["1.33"], server.kubeconfig, tmp_path)
    controller: IngressController | None = None
    try:
        await ensure_default_ingress_class(client)
        http_port, https_port = free_ports(2)
        options = IngressOptions(
            prefix=tmp_path / "ingress-nginx",
            http_port=http_port,
            https_port=https_port,
            listen_addresses=("127.0.0.1",),
            status_addresses=(NODE_ADDRESS,),
            debounce=0.05,
            worker_processes="1",
        )
        async with backends(local_address, "alpha") as running:
            controller = IngressController(client, options)
            await controller.start()
            manifest = f"""
apiVersion: v1
kind: Service
metadata: {{name: alpha}}
spec: {{ports: [{{name: http, port: 80, targetPort: 8080}}], selector: {{app: alpha}}}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: alpha-1, labels: {{kubernetes.io/service-name: alpha}}}}
addressType: IPv4
ports: [{{name: http, port: {running["alpha"].port}, protocol: TCP}}]
endpoints: [{{addresses: ["{local_address}"], conditions: {{ready: true}}}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web}}
spec:
  rules:
  - host: a.test
    http:
      paths:
      - {{path: /app, pathType: Prefix, backend: {{service: {{name: alpha, port: {{number: 80}}}}}}}}
"""
            await asyncio.to_thread(kubectl, "apply", "-f", "-", input=manifest)
            await served(http_port, "a.test", "/app/1", "alpha /app/1")

            async def address_shown() -> bool:
                listed = await asyncio.to_thread(kubectl, "get", "ingress", "web")
                return row_named(listed, "web").get("ADDRESS") == NODE_ADDRESS

            await eventually(address_shown, timeout=10.0, what="ADDRESS in kubectl get ingress")
            row = row_named(await asyncio.to_thread(kubectl, "get", "ingress", "web"), "web")
            assert row["HOSTS"] == "a.test" and row["PORTS"] == "80"
            described = await asyncio.to_thread(kubectl, "describe", "ingress", "web")
            assert "Scheduled for sync" in described
    finally:
        if controller is not None:
            await controller.stop()
        await client.close()
        server.stop()
