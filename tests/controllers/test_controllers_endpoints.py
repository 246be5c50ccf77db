"""The Endpoints and EndpointSlice controllers against a real in-process registry; pods' IPs and
readiness are written to their status by the test (there is no kubelet)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.controllers.endpoints import EndpointsController, desired_subsets, find_port
from kubelite.controllers.endpointslice import EndpointSliceController
from tests.controllers.core_controllers_harness import Env, environment, eventually

Obj = dict[str, Any]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with environment() as made:
        endpoints = EndpointsController(made.client)
        slices = EndpointSliceController(made.client, max_endpoints_per_slice=3)
        await endpoints.start()
        await slices.start()
        try:
            yield made
        finally:
            await slices.stop()
            await endpoints.stop()


def service(name: str, selector: dict[str, str] | None, ports: list[Obj] | None = None, **spec: Any) -> Obj:
    body: Obj = {"ports": ports if ports is not None else [{"name": "http", "port": 80, "targetPort": "web"}], **spec}
    if selector is not None:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"team": "a"}}, "spec": body}


def pod(name: str, labels: dict[str, str], node: str = "node-1", port: int = 8080, **spec: Any) -> Obj:
    container = {"name": "c", "image": "nginx", "ports": [{"name": "web", "containerPort": port}]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [container], "nodeName": node, **spec},
    }


async def run_pod(env: Env, name: str, ip: str, ready: bool, labels: dict[str, str] | None = None, **kw: Any) -> Obj:
    pods = env.rc("", "v1", "pods")
    created = await pods.create(pod(name, labels or {"app": "web"}, **kw))
    status = {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    await pods.patch(name, {"status": status}, subresource="status")
    return created


async def get_or_none(env: Env, resource: str, name: str) -> Obj | None:
    try:
        return await env.rc("", "v1", resource).get(name)
    except StatusError as err:
        if err.code == 404:
            return None
        raise


async def slices_of(env: Env, service_name: str) -> list[Obj]:
    listed = await env.rc("discovery.k8s.io", "v1", "endpointslices").list(
        label_selector=f"kubernetes.io/service-name={service_name}"
    )
    return list(listed["items"])


def endpoint_ips(slices: list[Obj]) -> dict[str, Obj]:
    return {e["addresses"][0]: e for s in slices for e in s.get("endpoints") or []}


async def test_endpoints_list_ready_and_not_ready_pods_with_resolved_ports(env: Env) -> None:
    svc = await env.rc("", "v1", "services").create(service("web", {"app": "web"}))
    ready = await run_pod(env, "web-1", "10.0.0.1", True)
    await run_pod(env, "web-2", "10.0.0.2", False, node="node-2")
    await run_pod(env, "other", "10.0.0.9", True, labels={"app": "other"})

    async def settled() -> bool:
        ep = await get_or_none(env, "endpoints", "web")
        subsets = (ep or {}).get("subsets") or []
        return bool(subsets) and len(subsets[0].get("addresses") or []) == 1 and len(subsets[0].get("notReadyAddresses") or []) == 1

    await eventually(settled, what="endpoints with one ready and one unready address")
    ep = await get_or_none(env, "endpoints", "web")
    assert ep is not None
    assert ep["metadata"]["labels"] == {"team": "a", "endpoints.kubernetes.io/managed-by": "endpoint-controller"}
    assert ep["subsets"] == [
        {
            "addresses": [
                {
                    "ip": "10.0.0.1",
                    "nodeName": "node-1",
                    "targetRef": {"kind": "Pod", "namespace": env.namespace, "name": "web-1", "uid": ready["metadata"]["uid"]},
                }
            ],
            "notReadyAddresses": [
                {"ip": "10.0.0.2", "nodeName": "node-2", "targetRef": ep["subsets"][0]["notReadyAddresses"][0]["targetRef"]}
            ],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        }
    ]

    slices = await slices_of(env, "web")
    assert len(slices) == 1
    only = slices[0]
    assert only["addressType"] == "IPv4"
    assert only["metadata"]["labels"] == {
        "team": "a",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert only["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Service", "name": "web", "uid": svc["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    ]
    assert only["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    by_ip = endpoint_ips(slices)
    assert by_ip["10.0.0.1"]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert by_ip["10.0.0.2"]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    assert by_ip["10.0.0.2"]["nodeName"] == "node-2"
    assert by_ip["10.0.0.1"]["targetRef"]["name"] == "web-1"


async def test_readiness_changes_and_terminating_pods_follow(env: Env) -> None:
    await env.rc("", "v1", "services").create(service("flip", {"app": "flip"}))
    await run_pod(env, "flip-1", "10.0.1.1", False, labels={"app": "flip"})

    async def ready_in_endpoints() -> bool:
        ep = await get_or_none(env, "endpoints", "flip")
        return any(a["ip"] == "10.0.1.1" for s in (ep or {}).get("subsets") or [] for a in s.get("addresses") or [])

    await env.rc("", "v1", "pods").patch(
        "flip-1", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, subresource="status"
    )
    await eventually(ready_in_endpoints, what="pod ready in endpoints")
    await env.rc("", "v1", "pods").delete("flip-1")  # bound to a node: stays terminating

    async def terminating_in_slice() -> bool:
        found = endpoint_ips(await slices_of(env, "flip")).get("10.0.1.1")
        return found is not None and found["conditions"] == {"ready": False, "serving": True, "terminating": True}

    await eventually(terminating_in_slice, what="terminating endpoint in the slice")

    async def gone_from_endpoints() -> bool:
        ep = await get_or_none(env, "endpoints", "flip")
        return ep is not None and not ep.get("subsets")

    await eventually(gone_from_endpoints, what="terminating pod out of Endpoints")


async def test_publish_not_ready_and_headless_without_ports(env: Env) -> None:
    await env.rc("", "v1", "services").create(
        service("hl", {"app": "hl"}, ports=[], clusterIP="None", publishNotReadyAddresses=True)
    )
    await run_pod(env, "hl-0", "10.0.2.1", False, labels={"app": "hl"}, hostname="hl-0", subdomain="hl")

    async def published() -> bool:
        ep = await get_or_none(env, "endpoints", "hl")
        return bool((ep or {}).get("subsets"))

    await eventually(published, what="headless endpoints")
    ep = await get_or_none(env, "endpoints", "hl")
    assert ep is not None
    assert ep["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    assert [(a["ip"], a.get("hostname")) for a in ep["subsets"][0]["addresses"]] == [("10.0.2.1", "hl-0")]
    assert "ports" not in ep["subsets"][0]

    async def slice_ready() -> bool:
        found = endpoint_ips(await slices_of(env, "hl")).get("10.0.2.1")
        return found is not None and found["conditions"]["ready"] is True

    await eventually(slice_ready, what="not-ready pod published as ready in the slice")
    slices = await slices_of(env, "hl")
    assert slices[0]["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    assert endpoint_ips(slices)["10.0.2.1"]["hostname"] == "hl-0"


async def test_selectorless_and_kubernetes_services_are_left_alone(env: Env) -> None:
    await env.rc("", "v1", "services").create(service("manual", None, ports=[{"port": 80}]))
    manual = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "manual"}, "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 80}]}]}
    await env.rc("", "v1", "endpoints").create(manual)
    await env.rc("", "v1", "services").create(service("probe", {"app": "probe"}))
    await eventually(lambda: _has(env, "probe"), what="probe endpoints written")
    kept = await get_or_none(env, "endpoints", "manual")
    assert kept is not None and kept["subsets"][0]["addresses"] == [{"ip": "192.0.2.1"}]
    assert "endpoints.kubernetes.io/managed-by" not in (kept["metadata"].get("labels") or {})
    assert await slices_of(env, "manual") == []
    assert await slices_of(env, "kubernetes") == []


async def _has(env: Env, name: str) -> bool:
    return await get_or_none(env, "endpoints", name) is not None and bool(await slices_of(env, name))


async def test_slices_hold_at_most_max_endpoints_and_go_with_the_service(env: Env) -> None:
    await env.rc("", "v1", "services").create(service("many", {"app": "many"}))
    for index in range(7):
        await run_pod(env, f"many-{index}", f"10.0.3.{index + 1}", True, labels={"app": "many"})

    async def all_listed() -> bool:
        return len(endpoint_ips(await slices_of(env, "many"))) == 7

    await eventually(all_listed, what="seven endpoints in slices")
    slices = await slices_of(env, "many")
    assert sorted(len(s["endpoints"]) for s in slices) == [1, 3, 3]
    assert all(s["metadata"]["name"].startswith("many-") for s in slices)

    await env.rc("", "v1", "services").delete("many")

    async def cleaned() -> bool:
        return await slices_of(env, "many") == [] and await get_or_none(env, "endpoints", "many") is None

    await eventually(cleaned, what="slices and endpoints gone with the service")


async def test_empty_service_gets_a_placeholder_slice(env: Env) -> None:
    await env.rc("", "v1", "services").create(service("empty", {"app": "nobody"}))

    async def placeholder() -> bool:
        slices = await slices_of(env, "empty")
        return len(slices) == 1 and not slices[0].get("endpoints")

    await eventually(placeholder, what="placeholder slice")
    ep = await get_or_none(env, "endpoints", "empty")
    assert ep is not None and not ep.get("subsets")


def test_find_port_by_number_name_and_protocol() -> None:
    target = pod("p", {}, port=9000)
    assert find_port(target, {"port": 80, "targetPort": 8080}) == 8080
    assert find_port(target, {"port": 80}) == 80
    assert find_port(target, {"port": 80, "targetPort": "web"}) == 9000
    assert find_port(target, {"port": 80, "targetPort": "web", "protocol": "UDP"}) is None
    assert find_port(target, {"port": 80, "targetPort": "nope"}) is None


def test_pods_resolving_ports_differently_get_separate_subsets() -> None:
    svc = service("s", {"app": "x"})
    svc["metadata"]["namespace"] = "ns"
    pods = []
    for index, port in enumerate((8080, 8080, 9090)):
        body = pod(f"p{index}", {"app": "x"}, port=port)
        body["metadata"].update(namespace="ns", uid=f"u{index}")
        body["status"] = {"podIP": f"10.1.0.{index}", "conditions": [{"type": "Ready", "status": "True"}]}
        pods.append(body)
    body = pod("done", {"app": "x"}, restartPolicy="Never")
    body["metadata"].update(namespace="ns", uid="u9")
    body["status"] = {"podIP": "10.1.0.9", "phase": "Succeeded"}
    subsets, truncated = desired_subsets(svc, [*pods, body])
    assert not truncated
    assert [[a["ip"] for a in s["addresses"]] for s in subsets] == [["10.1.0.0", "10.1.0.1"], ["10.1.0.2"]]
    assert [s["ports"][0]["port"] for s in subsets] == [8080, 9090]
