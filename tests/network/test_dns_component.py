"""ClusterDNS against a real in-process registry: Services, EndpointSlices, Pods and Namespaces
written through the client show up in real UDP answers; the kube-dns Service is ensured through
the client; and against a real `kubelite server`, `kubectl cluster-info` lists it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client
from kubelite.client.http import from_kubeconfig
from kubelite.client.sharedinformers import SharedInformers
from kubelite.network.dns.component import ClusterDNS, DNSOptions
from kubelite.network.dns.resolvconf import ResolvConf, pod_dns
from kubelite.network.dns.service import LABELS, MANAGED_BY, ensure_kube_dns
from tests.e2e.server_harness import start_server
from tests.network.dns_harness import FakeUpstream
from tests.network.network_harness import PodNetwork, endpoint_slice, require_root_networking, service
from tests.registry.registry_harness import start_registry

Obj = dict[str, Any]
KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")


async def eventually(condition: Callable[[], Awaitable[bool]], timeout: float = 5.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def query(port: int, name: str, qtype: str = "A") -> DNSRecord:
    raw = await asyncio.to_thread(DNSRecord.question(name, qtype).send, "127.0.0.1", port, timeout=3)
    return DNSRecord.parse(raw)


def answers(reply: DNSRecord) -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr)


def pod(name: str, namespace: str = "default") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    registry = await start_registry(namespaces=("default", "kube-system"))
    made = Client(InProcessTransport(registry, manager="dns-tests"))
    try:
        yield made
    finally:
        await made.close()
        await asyncio.wait_for(registry.stop(), 5.0)


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    made = FakeUpstream({"www.example.test": "192.0.2.53"})
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


@pytest.fixture
async def dns(client: Client, upstream: FakeUpstream) -> AsyncIterator[ClusterDNS]:
    made = ClusterDNS(client, DNSOptions(host="127.0.0.1", port=0, upstreams=(upstream.address,), forward_timeout=0.5))
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


async def test_answers_follow_the_api(client: Client, dns: ClusterDNS) -> None:
    services = client.resource("", "v1", "services").namespace("default")
    slices = client.resource("discovery.k8s.io", "v1", "endpointslices").namespace("default")
    port = dns.port
    name = "web.default.svc.cluster.local"
    assert (await query(port, name)).header.rcode == RCODE.NXDOMAIN

    await services.create(service("web", "10.43.0.50", [{"name": "http", "port": 80}]))

    async def web_answers() -> bool:
        return answers(await query(port, name)) == ["10.43.0.50"]

    await eventually(web_answers, what="the service's A record")
    srv = await query(port, "_http._tcp." + name, "SRV")
    assert [(rr.rdata.port, str(rr.rdata.target)) for rr in srv.rr] == [(80, name + ".")]

    # a headless service answers with its ready endpoints
    await services.create(service("db", "None", [{"name": "pg", "port": 5432}], clusterIPs=["None"]))
    await slices.create(endpoint_slice("db", [{"ip": "10.42.0.7"}, {"ip": "10.42.0.8", "ready": False}], [("pg", 5432)]))

    async def db_answers() -> bool:
        return answers(await query(port, "db.default.svc.cluster.local")) == ["10.42.0.7"]

    await eventually(db_answers, what="the headless service's endpoints")
    current = await slices.get("db-slice")
    current["endpoints"][1]["conditions"]["ready"] = True
    await slices.update(current)

    async def both_ready() -> bool:
        return answers(await query(port, "db.default.svc.cluster.local")) == ["10.42.0.7", "10.42.0.8"]

    await eventually(both_ready, what="the second endpoint")
    ptr = await query(port, "8.0.42.10.in-addr.arpa", "PTR")
    assert answers(ptr) == ["10-42-0-8.db.default.svc.cluster.local."]

    await services.delete("web")

    async def web_gone() -> bool:
        return (await query(port, name)).header.rcode == RCODE.NXDOMAIN

    await eventually(web_gone, what="NXDOMAIN after the delete")


async def test_external_name_namespaces_and_pods(client: Client, dns: ClusterDNS) -> None:
    port = dns.port
    await client.resource("", "v1", "services").namespace("default").create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "ext"},
            "spec": {"type": "ExternalName", "externalName": "www.example.test"},
        }
    )

    async def chased() -> bool:
        return answers(await query(port, "ext.default.svc.cluster.local")) == ["192.0.2.53", "www.example.test."]

    await eventually(chased, what="the ExternalName CNAME and its upstream address")

    assert (await query(port, "fresh.svc.cluster.local")).header.rcode == RCODE.NXDOMAIN
    await client.resource("", "v1", "namespaces").create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}})

    async def namespace_exists() -> bool:
        reply = await query(port, "fresh.svc.cluster.local")
        return reply.header.rcode == RCODE.NOERROR and not reply.rr

    await eventually(namespace_exists, what="NODATA for the new namespace")

    pods = client.resource("", "v1", "pods").namespace("default")
    created = await pods.create(pod("p1"))
    assert (await query(port, "10-42-0-33.default.pod.cluster.local")).header.rcode == RCODE.NXDOMAIN
    created["status"] = {"phase": "Running", "podIP": "10.42.0.33", "podIPs": [{"ip": "10.42.0.33"}]}
    await pods.update_status(created)

    async def pod_answers() -> bool:
        return answers(await query(port, "10-42-0-33.default.pod.cluster.local")) == ["10.42.0.33"]

    await eventually(pod_answers, what="the pod's A record")


async def test_start_fills_the_table_before_answering(client: Client, upstream: FakeUpstream) -> None:
    await client.resource("", "v1", "services").namespace("default").create(service("early", "10.43.0.60", [{"port": 80}]))
    made = ClusterDNS(client, DNSOptions(host="127.0.0.1", port=0, upstreams=(upstream.address,)))
    await made.start()
    try:
        assert answers(await query(made.port, "early.default.svc.cluster.local")) == ["10.43.0.60"]
        assert answers(await query(made.port, "www.example.test")) == ["192.0.2.53"]
    finally:
        await made.stop()
        await made.stop()


async def test_shared_informers_are_released(client: Client) -> None:
    client.informers = SharedInformers(client)
    made = ClusterDNS(client, DNSOptions(serve=False))
    assert len(client.informers) == 4
    await made.start()
    assert made.server is None
    await made.stop()
    assert len(client.informers) == 0


def test_upstreams_come_from_resolv_conf_without_this_server(tmp_path: Path, client: Client) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 10.43.0.10\nnameserver 127.0.0.1\nnameserver 192.0.2.1\nsearch x\n")
    made = ClusterDNS(client, DNSOptions(host="127.0.0.1", port=53, resolv_conf=str(conf), serve=False))
    assert made.upstreams() == ["192.0.2.1"]
    missing = ClusterDNS(client, DNSOptions(resolv_conf=str(tmp_path / "none"), serve=False))
    assert missing.upstreams() == []


async def test_ensure_kube_dns(client: Client, dns: ClusterDNS) -> None:
    made = await ensure_kube_dns(client, addresses=["10.42.0.1"], port=5353, node_name="node-a")
    assert made["metadata"]["labels"] == LABELS
    assert made["spec"]["clusterIP"] == "10.43.0.10"
    assert [(p["name"], p["port"], p["protocol"]) for p in made["spec"]["ports"]] == [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")]
    assert "selector" not in made["spec"]
    slices = client.resource("discovery.k8s.io", "v1", "endpointslices").namespace("kube-system")
    slice_ = await slices.get("kube-dns-kubelite")
    assert slice_["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == MANAGED_BY
    assert [e["addresses"] for e in slice_["endpoints"]] == [["10.42.0.1"]]
    assert {p["port"] for p in slice_["ports"]} == {5353}

    # idempotent, and it puts back what was changed
    services = client.resource("", "v1", "services").namespace("kube-system")
    await services.patch("kube-dns", {"metadata": {"labels": {"kubernetes.io/name": "other"}}})
    again = await ensure_kube_dns(client, addresses=["10.42.0.2"], port=53)
    assert again["metadata"]["labels"]["kubernetes.io/name"] == "CoreDNS"
    assert again["metadata"]["uid"] == made["metadata"]["uid"]
    assert [e["addresses"] for e in (await slices.get("kube-dns-kubelite"))["endpoints"]] == [["10.42.0.2"]]

    async def resolvable() -> bool:
        reply = await query(dns.port, "kube-dns.kube-system.svc.cluster.local")
        return answers(reply) == ["10.43.0.10"]

    await eventually(resolvable, what="kube-dns in DNS")
    srv = await query(dns.port, "_dns._udp.kube-dns.kube-system.svc.cluster.local", "SRV")
    assert [rr.rdata.port for rr in srv.rr if rr.rtype == QTYPE.SRV] == [53]


@pytest.mark.e2e
async def test_kubectl_cluster_info_lists_kube_dns(tmp_path: Path) -> None:
    if not KUBECTL.exists():
        pytest.skip("kubectl 1.33 is not installed")
    running = await asyncio.to_thread(start_server, tmp_path / "data", "--disable-controller-manager", "--disable-scheduler")
    try:
        client = Client(from_kubeconfig(running.kubeconfig))
        try:
            await ensure_kube_dns(client)
        finally:
            await client.close()
        result = await asyncio.to_thread(
            subprocess.run,
            [str(KUBECTL), "cluster-info"],
            capture_output=True,
            text=True,
            timeout=30,
            env=dict(os.environ, KUBECONFIG=str(running.kubeconfig), HOME=str(tmp_path)),
        )
        assert result.returncode == 0, result.stderr
        text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # kubectl colours its output
        assert f"CoreDNS is running at {running.url}/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy" in text, text
    finally:
        await asyncio.to_thread(running.stop)


async def test_a_pod_resolves_services_through_its_resolv_conf(client: Client, upstream: FakeUpstream) -> None:
    """glibc in a network-namespace "pod" with the resolv.conf kubelite forms for it (via `ip netns
    exec`'s /etc/netns/<name>/resolv.conf), against ClusterDNS on the test bridge's address."""
    require_root_networking()
    if shutil.which("getent") is None:
        pytest.skip("needs getent")
    net = await asyncio.to_thread(PodNetwork.create, 1)
    etc = Path("/etc/netns") / net.pods[0].netns
    dns = ClusterDNS(client, DNSOptions(host=net.gateway, port=53, upstreams=(upstream.address,), forward_timeout=0.5))
    try:
        formed = pod_dns({"metadata": {"namespace": "default"}, "spec": {}}, host=ResolvConf(), cluster_dns=(net.gateway,))
        etc.mkdir(parents=True)
        (etc / "resolv.conf").write_text(formed.render())
        await client.resource("", "v1", "services").namespace("default").create(service("web", "10.43.0.70", [{"port": 80}]))
        await dns.start()

        async def resolve(name: str) -> str:
            result = await asyncio.to_thread(
                subprocess.run,
                ["ip", "netns", "exec", net.pods[0].netns, "getent", "ahostsv4", name],
                capture_output=True,
                text=True,
                timeout=20,
            )
            return result.stdout.split()[0] if result.returncode == 0 and result.stdout else ""

        assert await resolve("web") == "10.43.0.70"  # through the search path
        assert await resolve("web.default") == "10.43.0.70"
        assert await resolve("web.default.svc.cluster.local") == "10.43.0.70"
        assert await resolve("www.example.test") == "192.0.2.53"  # forwarded upstream
        assert await resolve("missing") == ""
        assert dns.server is not None and dns.server.queries >= 10  # the search list was walked here
        assert [name for _t, _id, name in upstream.seen] == ["www.example.test", "missing"]
    finally:
        await dns.stop()
        shutil.rmtree(etc, ignore_errors=True)
        with contextlib.suppress(OSError):
            etc.parent.rmdir()  # /etc/netns, when nothing else uses it
        await asyncio.to_thread(net.close)
