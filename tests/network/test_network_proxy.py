"""The service proxy on the real kernel: a test bridge with network-namespace "pods" running HTTP
servers, Services and EndpointSlices in an in-process registry, the proxy applying a test table
(`kubelite_test_<N>`) with a test slice of the service CIDR routed to the test bridge — and real
connections from the host and from the pods. Plus the sync loop's pacing with a fake `nft`.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client
from kubelite.client.http import from_kubeconfig
from kubelite.network.proxy import ProxyOptions, ServiceProxy
from kubelite.network.servicelb import ServiceLBController
from kubelite.network.sysctl import route_localnet
from tests.e2e.server_harness import start_server
from tests.network.network_harness import (
    SERVER_PORT,
    PodNetwork,
    endpoint_slice,
    get_from_pod,
    http_get,
    require_root_networking,
    service,
)
from tests.registry.registry_harness import start_registry

Obj = dict[str, Any]
NODE = "kltest-node"


async def eventually(condition: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture(scope="module")
def net() -> Iterator[PodNetwork]:
    require_root_networking()
    made = PodNetwork.create(pods=3)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    registry = await start_registry()
    made = Client(InProcessTransport(registry, manager="proxy-tests"))
    try:
        yield made
    finally:
        await made.close()
        await asyncio.wait_for(registry.stop(), 5.0)


@pytest.fixture
async def proxy(net: PodNetwork, client: Client) -> AsyncIterator[ServiceProxy]:
    made = ServiceProxy(client, proxy_options(net))
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


def proxy_options(net: PodNetwork) -> ProxyOptions:
    return ProxyOptions(
        node_name=NODE,
        table=net.table,
        service_cidr=net.service_cidr,
        cluster_cidr=net.pod_cidr,
        bridge=net.bridge,
    )


def pods_slice(net: PodNetwork, service_name: str, *, not_ready: Sequence[int] = (), only: Sequence[int] | None = None) -> Obj:
    chosen = range(len(net.pods)) if only is None else only
    endpoints = [{"ip": net.pods[i].ip, "node": NODE, "ready": i not in not_ready} for i in chosen]
    return endpoint_slice(service_name, endpoints, [("http", SERVER_PORT)])


async def create(client: Client, obj: Obj) -> Obj:
    group_version = obj["apiVersion"]
    group = group_version.split("/")[0] if "/" in group_version else ""
    resource = {"Service": "services", "EndpointSlice": "endpointslices", "Node": "nodes"}[obj["kind"]]
    return await client.resource(group, "v1", resource).create(obj)


async def applied(proxy: ServiceProxy, fragment: str, present: bool = True) -> None:
    def check() -> bool:
        return proxy.ruleset is not None and (fragment in proxy.ruleset.text) == present

    await eventually(check, what=f"{fragment!r} {'in' if present else 'out of'} the applied ruleset")


async def answers(ip: str, port: int, count: int) -> list[str]:
    return [await http_get(ip, port) for _ in range(count)]


# ---------------------------------------------------------------------- real traffic
async def test_cluster_ip_spreads_over_all_endpoints_and_node_port_answers_on_localhost(
    net: PodNetwork, client: Client, proxy: ServiceProxy
) -> None:
    vip, node_port = net.service_ip(10), 31000 + net.index
    await create(client, service("web", vip, [{"name": "http", "port": 80, "targetPort": SERVER_PORT, "nodePort": node_port}], type="NodePort"))
    await create(client, pods_slice(net, "web"))
    await applied(proxy, f"{vip} . tcp . 80")

    replies = await answers(vip, 80, 45)
    assert {reply.split()[0] for reply in replies} == {"pod0", "pod1", "pod2"}
    assert {reply.split()[1] for reply in replies} == {net.gateway}  # the host speaks from the bridge

    reply = await http_get("127.0.0.1", node_port)
    assert reply.split()[0] in {"pod0", "pod1", "pod2"}
    assert reply.split()[1] == net.gateway  # 127.0.0.1 was masqueraded


async def test_an_endpoint_going_not_ready_is_removed_within_one_sync(
    net: PodNetwork, client: Client, proxy: ServiceProxy
) -> None:
    vip = net.service_ip(11)
    await create(client, service("web", vip, [{"name": "http", "port": 80, "targetPort": SERVER_PORT}]))
    created = await create(client, pods_slice(net, "web"))
    await applied(proxy, f"dnat to {net.pods[2].ip}:")
    before = proxy.syncs

    changed = pods_slice(net, "web", not_ready=[2])
    changed["metadata"] = created["metadata"]
    await client.resource("discovery.k8s.io", "v1", "endpointslices").update(changed)
    await applied(proxy, f"dnat to {net.pods[2].ip}:", present=False)
    assert proxy.syncs == before + 1

    replies = await answers(vip, 80, 30)
    assert {reply.split()[0] for reply in replies} == {"pod0", "pod1"}


async def test_client_ip_session_affinity_sticks_across_syncs(net: PodNetwork, client: Client, proxy: ServiceProxy) -> None:
    vip = net.service_ip(12)
    await create(client, service("sticky", vip, [{"name": "http", "port": 80, "targetPort": SERVER_PORT}], sessionAffinity="ClientIP"))
    await create(client, pods_slice(net, "sticky"))
    await applied(proxy, f"{vip} . tcp . 80")
    first = {reply.split()[0] for reply in await answers(vip, 80, 12)}
    assert len(first) == 1

    syncs = proxy.syncs  # an unrelated change swaps the ruleset; the affinity entries survive it
    await create(client, service("other", net.service_ip(13), [{"port": 80}]))
    await applied(proxy, net.service_ip(13))
    assert proxy.syncs > syncs
    again = {reply.split()[0] for reply in await answers(vip, 80, 12)}
    assert again == first


async def test_a_service_without_endpoints_refuses_connections_at_once(net: PodNetwork, client: Client, proxy: ServiceProxy) -> None:
    vip = net.service_ip(14)
    await create(client, service("idle", vip, [{"port": 80}]))
    await applied(proxy, f"{vip} . tcp . 80 : goto reject-chain")
    loop = asyncio.get_running_loop()
    for port in (80, 81):  # no endpoints; a port the Service does not have
        started = loop.time()
        with pytest.raises(ConnectionRefusedError):
            await http_get(vip, port)
        assert loop.time() - started < 1.0


async def test_pods_reach_a_cluster_ip_and_a_pod_reaching_itself_is_masqueraded(
    net: PodNetwork, client: Client, proxy: ServiceProxy
) -> None:
    vip = net.service_ip(15)
    await create(client, service("solo", vip, [{"name": "http", "port": 80, "targetPort": SERVER_PORT}]))
    await create(client, pods_slice(net, "solo", only=[0]))
    await applied(proxy, f"{vip} . tcp . 80")
    assert await get_from_pod(net.pods[0], vip, 80) == f"pod0 {net.gateway}"  # hairpin
    assert await get_from_pod(net.pods[1], vip, 80) == f"pod0 {net.pods[1].ip}"  # client address kept


async def test_load_balancer_gets_node_addresses_and_answers_on_them(net: PodNetwork, client: Client, proxy: ServiceProxy) -> None:
    node = await create(client, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
    node["status"] = {
        "addresses": [{"type": "InternalIP", "address": net.gateway}, {"type": "Hostname", "address": NODE}],
        "conditions": [{"type": "Ready", "status": "True"}],
    }
    await client.resource("", "v1", "nodes").update_status(node)
    controller = ServiceLBController(client)
    await controller.start()
    try:
        vip, port = net.service_ip(16), 8000 + net.index
        await create(client, service("lb", vip, [{"name": "http", "port": port, "targetPort": SERVER_PORT}], type="LoadBalancer"))
        await create(client, pods_slice(net, "lb"))

        async def published() -> bool:
            got = await client.resource("", "v1", "services").namespace("default").get("lb")
            return got["status"].get("loadBalancer", {}).get("ingress") == [{"ip": net.gateway, "ipMode": "VIP"}]

        await eventually(published, what="the LoadBalancer ingress")
        await applied(proxy, f"{net.gateway} . tcp . {port}")
        assert (await http_get(net.gateway, port)).split()[0] in {"pod0", "pod1", "pod2"}
    finally:
        await controller.stop()


def _table_exists(table: str) -> bool:
    return subprocess.run(["nft", "list", "table", "ip", table], capture_output=True).returncode == 0


def _route_devices(cidr: str) -> str:
    return subprocess.run(["ip", "route", "show", "exact", cidr], capture_output=True, text=True).stdout


async def test_stop_removes_the_table_the_route_and_the_sysctls_it_changed(net: PodNetwork, client: Client) -> None:
    localnet = Path("/proc/sys") / route_localnet(net.bridge)
    assert localnet.read_text().strip() == "0"
    assert not _route_devices(net.service_cidr)
    made = ServiceProxy(client, proxy_options(net))
    await made.start()
    try:
        assert _table_exists(net.table)
        assert f"dev {net.bridge}" in _route_devices(net.service_cidr)
        assert localnet.read_text().strip() == "1"
        changed = made.sysctls.changed
    finally:
        await made.stop()
    await made.stop()  # idempotent
    assert not _table_exists(net.table)
    assert not _route_devices(net.service_cidr)
    assert localnet.read_text().strip() == "0"
    for key, original in changed.items():
        value = (Path("/proc/sys") / key).read_text().strip()
        assert value == original or key.endswith("ip_forward"), key  # ip_forward may have been set by others since


async def test_over_http_against_a_real_server(net: PodNetwork, tmp_path: Path) -> None:
    server = await asyncio.to_thread(start_server, tmp_path, "--disable-controller-manager", "--disable-scheduler")
    http_client = Client(from_kubeconfig(server.kubeconfig, user_agent="proxy-tests/1.0"))
    made = ServiceProxy(http_client, proxy_options(net))
    try:
        await made.start()
        vip = net.service_ip(20)
        await create(http_client, service("web", vip, [{"name": "http", "port": 80, "targetPort": SERVER_PORT}]))
        await create(http_client, pods_slice(net, "web"))
        await applied(made, f"{vip} . tcp . 80")
        replies = await answers(vip, 80, 30)
        assert {reply.split()[0] for reply in replies} == {"pod0", "pod1", "pod2"}
    finally:
        await made.stop()
        await http_client.close()
        await asyncio.to_thread(server.stop)


# ---------------------------------------------------------------------- pacing, with a fake nft
class FakeHost:
    """Records nft scripts instead of running them (and answers `ip` like a host with the route)."""

    def __init__(self, apply_seconds: float = 0.0):
        self.scripts: list[str] = []
        self.apply_seconds = apply_seconds

    async def __call__(self, argv: Sequence[str], stdin: bytes | None) -> str:
        if argv[0] == "nft":
            await asyncio.sleep(self.apply_seconds)
            self.scripts.append((stdin or b"").decode())
        return ""


async def test_a_burst_of_changes_coalesces_into_few_syncs(client: Client) -> None:
    host = FakeHost(apply_seconds=0.02)
    options = ProxyOptions(table="kl_fake", manage_host=False, min_sync_interval=0.2)
    made = ServiceProxy(client, options, runner=host)
    await made.start()
    try:
        assert len(host.scripts) == 1 and host.scripts[0].startswith("add table ip kl_fake\ndelete table")
        slices = client.resource("discovery.k8s.io", "v1", "endpointslices")
        await create(client, service("web", "10.43.7.7", [{"port": 80}]))
        for i in range(20):
            await slices.create(endpoint_slice("web", [{"ip": f"10.42.0.{i + 2}"}], [("", 80)], name=f"web-{i}"))
        await applied(made, "dnat to 10.42.0.21:80")
        assert 2 <= len(host.scripts) <= 4, len(host.scripts)  # 21 changes, a sync at most every 0.2 s
        assert host.scripts[-1].startswith("add table ip kl_fake\nflush table ip kl_fake")
        count = len(host.scripts)
        await made.sync_now()  # nothing changed: nothing applied
        assert len(host.scripts) == count
    finally:
        await made.stop()
    assert host.scripts[-1] == "add table ip kl_fake\ndelete table ip kl_fake\n"


async def test_a_failed_apply_is_retried_from_an_empty_table(client: Client) -> None:
    calls: list[str] = []

    async def flaky(argv: Sequence[str], stdin: bytes | None) -> str:
        from kubelite.network.commands import CommandError

        script = (stdin or b"").decode()
        calls.append(script)
        if len(calls) == 1:
            raise CommandError(argv, 1, "Error: Could not process rule: No such file or directory")
        return ""

    made = ServiceProxy(client, ProxyOptions(table="kl_fake", manage_host=False, retry_delay=0.05), runner=flaky)
    await made.start()
    try:
        assert made.ruleset is None
        await eventually(lambda: made.ruleset is not None, what="the retried sync")
        assert calls[1].startswith("add table ip kl_fake\ndelete table ip kl_fake")
    finally:
        with contextlib.suppress(Exception):
            await made.stop()
