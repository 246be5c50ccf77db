"""NetworkPolicy enforcement by the service proxy on the real kernel: network-namespace "pods" on
a test bridge (tests/network/network_harness.py: each runs an HTTP server on 8080), the matching
Pod and Namespace objects in an in-process registry, the proxy applying its test table — and real
connections between the pods, by pod IP (bridged: br_netfilter) and by ClusterIP (DNAT first),
plus from the host. Blocked connections are new connections that time out (dropped, not
rejected)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client
from kubelite.network import proxy as proxy_module
from kubelite.network.proxy import ProxyOptions, ServiceProxy
from tests.network.network_harness import (
    SERVER_PORT,
    Pod,
    PodNetwork,
    endpoint_slice,
    http_get,
    require_root_networking,
    service,
)
from tests.network.test_network_proxy import applied
from tests.registry.registry_harness import start_registry

Obj = dict[str, Any]
NODE = "kltest-node"
_PROBE = r"""
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    print(data.split(b"\r\n\r\n", 1)[1].decode())
except OSError as err:
    print(f"failed: {type(err).__name__}")
"""


@pytest.fixture(scope="module")
def net() -> Iterator[PodNetwork]:
    require_root_networking()
    made = PodNetwork.create(pods=3)  # pod0: web (ns a), pod1: client (ns a), pod2: client (ns b)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    registry = await start_registry()
    made = Client(InProcessTransport(registry, manager="policy-tests"))
    try:
        yield made
    finally:
        await made.close()
        await asyncio.wait_for(registry.stop(), 5.0)


@pytest.fixture
async def proxy(net: PodNetwork, client: Client) -> AsyncIterator[ServiceProxy]:
    options = ProxyOptions(node_name=NODE, table=net.table, service_cidr=net.service_cidr, cluster_cidr=net.pod_cidr, bridge=net.bridge)
    made = ServiceProxy(client, options)
    for name in ("a", "b"):
        await client.resource("", "v1", "namespaces").create({"metadata": {"name": name}})
    for pod, namespace, labels in zip(net.pods, ("a", "a", "b"), ({"app": "web"}, {"role": "client"}, {"role": "client"}), strict=True):
        await make_pod(client, pod, namespace, labels)
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


async def make_pod(client: Client, pod: Pod, namespace: str, labels: dict[str, str]) -> None:
    pods = client.resource("", "v1", "pods").namespace(namespace)
    container = {"name": "c", "image": "kubelite.test/web:1", "ports": [{"name": "http", "containerPort": SERVER_PORT}]}
    created = await pods.create({"metadata": {"name": pod.name, "labels": labels}, "spec": {"nodeName": NODE, "containers": [container]}})
    created["status"] = {"phase": "Running", "podIP": pod.ip, "podIPs": [{"ip": pod.ip}]}
    await pods.update_status(created)


async def probe(source: Pod, ip: str, port: int = SERVER_PORT, timeout: float = 1.0) -> str:
    """`<answering pod> <client address>`, or `failed: <error>`."""
    process = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", source.netns, sys.executable, "-S", "-c", _PROBE, ip, str(port), str(timeout),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout + 5)
    return out.decode().strip()


async def reach(net: PodNetwork, targets: list[tuple[int, str, int]]) -> list[bool]:
    """For (source pod index, address, port): whether the connection was answered (in parallel)."""
    answers = await asyncio.gather(*(probe(net.pods[index], ip, port) for index, ip, port in targets))
    return [not answer.startswith("failed") for answer in answers]


async def apply_policy(client: Client, proxy: ServiceProxy, name: str, spec: Obj, namespace: str = "a") -> None:
    policies = client.resource("networking.k8s.io", "v1", "networkpolicies").namespace(namespace)
    await policies.create({"metadata": {"name": name}, "spec": spec})
    await applied(proxy, "chain policy-forward")
    before = proxy.syncs
    await asyncio.sleep(0.2)  # let a burst land
    assert proxy.syncs <= before + 1


async def test_policies_block_and_allow_pod_and_cluster_ip_traffic_as_written(net: PodNetwork, client: Client, proxy: ServiceProxy) -> None:
    web, client_a, client_b = net.pods
    vip = net.service_ip(40)
    await client.resource("", "v1", "services").namespace("a").create(service("web", vip, [{"name": "http", "port": 80, "targetPort": SERVER_PORT}], namespace="a"))
    await client.resource("discovery.k8s.io", "v1", "endpointslices").namespace("a").create(
        endpoint_slice("web", [{"ip": web.ip, "node": NODE}], [("http", SERVER_PORT)], namespace="a")
    )
    await applied(proxy, f"{vip} . tcp . 80")
    everything = [(1, web.ip, SERVER_PORT), (2, web.ip, SERVER_PORT), (1, vip, 80), (2, vip, 80)]
    assert await reach(net, everything) == [True] * 4

    # default-deny ingress on web: both clients blocked, by pod IP and by ClusterIP; the node and web itself still pass
    await apply_policy(client, proxy, "deny", {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]})
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await reach(net, everything) == [False] * 4
    assert loop.time() - started >= 0.9  # timed out: dropped, not refused
    assert (await http_get(web.ip, SERVER_PORT)).startswith("pod0 ")  # from the host (kubelet probes)
    assert (await probe(web, vip, 80)).startswith("pod0 ")  # a pod cannot block itself (hairpin)

    # allow role=client from namespace a on the named port: a's client passes, b's does not
    await apply_policy(client, proxy, "allow-a", {
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}], "ports": [{"port": "http"}]}],
    })  # fmt: skip
    assert await reach(net, everything) == [True, False, True, False]

    # egress default-deny on a's client (it is also denied ingress): web unreachable from it
    await apply_policy(client, proxy, "client-egress", {"podSelector": {"matchLabels": {"role": "client"}}, "policyTypes": ["Egress"]})
    assert await reach(net, [(1, web.ip, SERVER_PORT), (1, vip, 80)]) == [False, False]
    # ... and web keeps reaching the client (its replies are not the client's egress)
    assert await reach(net, [(0, client_a.ip, SERVER_PORT)]) == [True]
    assert client_b.ip  # b's client is not in namespace a: its egress is free (but web refuses it)

    await client.resource("networking.k8s.io", "v1", "networkpolicies").namespace("a").create(
        {"metadata": {"name": "client-to-web"}, "spec": {
            "podSelector": {"matchLabels": {"role": "client"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": SERVER_PORT}]}],
        }}  # fmt: skip
    )
    await asyncio.sleep(0.3)
    assert await reach(net, [(1, web.ip, SERVER_PORT), (1, vip, 80)]) == [True, True]

    # every policy gone: everything passes again and the section leaves the table
    await client.resource("networking.k8s.io", "v1", "networkpolicies").namespace("a").delete_collection()
    await applied(proxy, "chain policy-forward", present=False)
    assert await reach(net, everything) == [True] * 4


async def test_pod_relabels_and_address_changes_resync_the_policy(
    net: PodNetwork, client: Client, proxy: ServiceProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = net.pods[0]
    await apply_policy(client, proxy, "from-clients", {
        "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}, "namespaceSelector": {}}]}],
    })  # fmt: skip
    assert await reach(net, [(1, web.ip, SERVER_PORT), (2, web.ip, SERVER_PORT)]) == [True, True]
    pods = client.resource("", "v1", "pods").namespace("b")
    relabelled = await pods.get("pod2")
    relabelled["metadata"]["labels"] = {"role": "intruder"}
    syncs = proxy.syncs
    await pods.update(relabelled)
    await applied(proxy, f"{net.pods[2].ip}", present=False)
    assert proxy.syncs == syncs + 1
    assert await reach(net, [(1, web.ip, SERVER_PORT), (2, web.ip, SERVER_PORT)]) == [True, False]

    computed: list[int] = []
    original = proxy_module.compute_policies

    def counting(*args: Any) -> Any:
        computed.append(1)
        return original(*args)

    monkeypatch.setattr(proxy_module, "compute_policies", counting)
    status_only = await pods.get("pod2")
    status_only["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    await pods.update_status(status_only)
    await client.resource("", "v1", "services").namespace("a").create(service("other", net.service_ip(41), [{"port": 80}], namespace="a"))
    await applied(proxy, net.service_ip(41))
    assert not computed  # a sync happened, but nothing a policy sees had changed
    a_pods = client.resource("", "v1", "pods").namespace("a")
    moved = await a_pods.get("pod1")
    moved["status"]["podIP"], moved["status"]["podIPs"] = "10.244.250.250", [{"ip": "10.244.250.250"}]
    await a_pods.update_status(moved)
    await applied(proxy, "10.244.250.250")  # a's client's new address is a peer now
    await applied(proxy, net.pods[1].ip, present=False)
    assert computed
