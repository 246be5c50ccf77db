"""Service proxy figures on the real kernel (needs root and nftables). Prints; asserts nothing.

(a) Rules apply after one endpoint change with N Services (default 1,000, 3 endpoints each, in an
    in-process registry): the time from the EndpointSlice update call to the proxy having applied
    the new ruleset with `nft -f` (target <= 1 s), with the proxy's own render+apply time, and the
    first full apply. The table is a bench table (`kubelite_bench`) of ClusterIPs in a bench-only
    slice of the service CIDR; no traffic is sent to them.
(c) The same with NetworkPolicies (default 200 policies over 1,000 pods in 20 namespaces, next
    to the 1,000 Services): the first full apply, and the time from the API call to the applied
    ruleset for one endpoint change, one policy change and one pod relabel.
(b) Request throughput through a ClusterIP vs straight to the pod IP (target ratio >= 0.9). With
    no kubelet here, the "pods" are processes in test network namespaces on a test bridge (the
    tests' harness: tests/network/network_harness.py), each an asyncio HTTP server; the client is
    this process, one new TCP connection per request (so every request pays the DNAT's conntrack
    setup), alternating pod-IP and ClusterIP windows.

Usage: python bench/network.py [--services 1000] [--changes 5] [--seconds 2] [--concurrency 16] [--rounds 5]
                               [--policies 200] [--pods 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kubelite.apiserver.inprocess import InProcessTransport  # noqa: E402
from kubelite.client.client import Client  # noqa: E402
from kubelite.network.policy import compute as compute_policies  # noqa: E402
from kubelite.network.policyrules import render_policy  # noqa: E402
from kubelite.network.proxy import ProxyOptions, ServiceProxy  # noqa: E402
from tests.network.network_harness import (  # noqa: E402
    SERVER_PORT,
    PodNetwork,
    endpoint_slice,
    http_get,
    keep_alive_requests,
    service,
)
from tests.registry.registry_harness import start_registry  # noqa: E402

Obj = dict[str, Any]

BENCH_SERVICE_CIDR = "10.43.240.0/20"
BENCH_TABLE = "kubelite_bench"


def bench_ip(index: int) -> str:
    return str(ipaddress.ip_network(BENCH_SERVICE_CIDR).network_address + 10 + index)


def endpoints_of(index: int) -> list[Obj]:
    base = 3 * index
    return [{"ip": f"10.42.{(base + k) // 250}.{(base + k) % 250 + 2}", "node": "bench-node"} for k in range(3)]


async def wait_for(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.002)


async def create_services(client: Client, count: int) -> list[Obj]:
    services = client.resource("", "v1", "services").namespace("default")
    slices = client.resource("discovery.k8s.io", "v1", "endpointslices").namespace("default")
    created: list[Obj] = []
    for index in range(count):
        name = f"svc-{index}"
        await services.create(service(name, bench_ip(index), [{"name": "http", "port": 80, "targetPort": 8080}]))
        created.append(await slices.create(endpoint_slice(name, endpoints_of(index), [("http", 8080)])))
    return created


async def apply_time(count: int, changes: int) -> None:
    registry = await start_registry()
    client = Client(InProcessTransport(registry, manager="network-bench"))
    slices = client.resource("discovery.k8s.io", "v1", "endpointslices").namespace("default")
    started = time.perf_counter()
    created = await create_services(client, count)
    print(f"(a) {count} Services + EndpointSlices created in {time.perf_counter() - started:.1f}s")

    options = ProxyOptions(
        node_name="bench-node", table=BENCH_TABLE, service_cidr=BENCH_SERVICE_CIDR, manage_host=False, resync_period=3600
    )
    proxy = ServiceProxy(client, options)
    started = time.perf_counter()
    await proxy.start()
    assert proxy.ruleset is not None
    lines = proxy.ruleset.text.count("\n")
    print(f"    first full apply (informer sync + render + nft -f of {lines} lines): {time.perf_counter() - started:.3f}s")
    try:
        latencies: list[float] = []
        syncs: list[float] = []
        for change in range(changes):
            index = (change * 397) % count
            slice_ = created[index]
            conditions = slice_["endpoints"][0]["conditions"]
            conditions["ready"] = not conditions["ready"]  # flip one endpoint
            before = proxy.syncs
            begun = time.perf_counter()
            created[index] = await slices.update(slice_)
            await wait_for(lambda b=before: proxy.syncs > b)
            latencies.append(time.perf_counter() - begun)
            syncs.append(proxy.last_sync_seconds)
            await asyncio.sleep(0.1)
        render_started = time.perf_counter()
        proxy.render()
        warm = time.perf_counter() - render_started
        print(
            f"    one endpoint change -> applied: median {statistics.median(latencies) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms over {changes} changes (target <= 1000 ms)"
        )
        print(
            f"    of which the proxy's sync (render + nft -f): median {statistics.median(syncs) * 1000:.0f} ms; "
            f"re-render with nothing changed {warm * 1000:.1f} ms"
        )
    finally:
        await proxy.stop()
        await client.close()
        await registry.stop()


POLICY_NAMESPACES = 20


def bench_policy(index: int) -> Obj:
    """Ingress from frontends of some team's namespaces on 80 and the named port, plus from outside
    the cluster on 443; every fourth also limits egress to DNS and pods' 5432."""
    spec: Obj = {
        "podSelector": {"matchLabels": {"app": f"app-{(index // POLICY_NAMESPACES) % 10}"}},
        "ingress": [
            {
                "from": [{"podSelector": {"matchLabels": {"role": "frontend"}}, "namespaceSelector": {"matchLabels": {"team": f"t-{index % 4}"}}}],
                "ports": [{"port": 80, "protocol": "TCP"}, {"port": "http", "protocol": "TCP"}],
            },
            {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.42.0.0/16"]}}], "ports": [{"port": 443, "protocol": "TCP"}]},
        ],
    }
    if index % 4 == 0:
        spec["egress"] = [
            {"ports": [{"port": 53, "protocol": "UDP"}]},
            {"to": [{"podSelector": {}}], "ports": [{"port": 5432, "protocol": "TCP"}]},
        ]
    return {"metadata": {"name": f"policy-{index}", "namespace": f"ns-{index % POLICY_NAMESPACES}"}, "spec": spec}


def bench_pod(index: int) -> Obj:
    return {
        "metadata": {
            "name": f"pod-{index}",
            "namespace": f"ns-{index % POLICY_NAMESPACES}",
            "labels": {"app": f"app-{(index // POLICY_NAMESPACES) % 10}", "role": "frontend" if index % 3 == 0 else "backend"},
        },
        "spec": {
            "nodeName": "bench-node",
            "containers": [{"name": "c", "image": "x", "ports": [{"name": "http", "containerPort": 8000 + index % 7}]}],
        },
    }


async def policy_apply_time(count: int, policy_count: int, pod_count: int, changes: int) -> None:
    registry = await start_registry()
    client = Client(InProcessTransport(registry, manager="network-bench"))
    slices = client.resource("discovery.k8s.io", "v1", "endpointslices").namespace("default")
    started = time.perf_counter()
    created = await create_services(client, count)
    for index in range(POLICY_NAMESPACES):
        await client.resource("", "v1", "namespaces").create({"metadata": {"name": f"ns-{index}", "labels": {"team": f"t-{index % 4}"}}})
    pods: list[Obj] = []
    for index in range(pod_count):
        pod = await client.resource("", "v1", "pods").create(bench_pod(index))
        ip = f"10.42.{100 + index // 250}.{index % 250 + 2}"
        pod["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}
        pods.append(await client.resource("", "v1", "pods").update_status(pod))
    policies = client.resource("networking.k8s.io", "v1", "networkpolicies")
    made_policies = [await policies.create(bench_policy(index)) for index in range(policy_count)]
    print(
        f"(c) {count} Services, {pod_count} pods, {policy_count} NetworkPolicies created in {time.perf_counter() - started:.1f}s"
    )
    options = ProxyOptions(
        node_name="bench-node", table=BENCH_TABLE, service_cidr=BENCH_SERVICE_CIDR, manage_host=False, resync_period=3600
    )
    proxy = ServiceProxy(client, options)
    started = time.perf_counter()
    await proxy.start()
    assert proxy.ruleset is not None and "policy-forward" in proxy.ruleset.text
    text = proxy.ruleset.text
    print(
        f"    first full apply ({text.count(chr(10))} lines, {text.count('chain policy-')} policy chains,"
        f" {text.count('set policy-peers-')} peer sets): {time.perf_counter() - started:.3f}s"
    )
    try:
        async def measure(label: str, change: Callable[[int], Awaitable[None]]) -> None:
            latencies: list[float] = []
            syncs: list[float] = []
            for number in range(changes):
                before = proxy.syncs
                begun = time.perf_counter()
                await change(number)
                await wait_for(lambda b=before: proxy.syncs > b)
                latencies.append(time.perf_counter() - begun)
                syncs.append(proxy.last_sync_seconds)
                await asyncio.sleep(0.1)
            print(
                f"    {label} -> applied: median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
                f" (sync: median {statistics.median(syncs) * 1000:.0f} ms)"
            )

        async def flip_endpoint(number: int) -> None:
            index = (number * 397) % count
            conditions = created[index]["endpoints"][0]["conditions"]
            conditions["ready"] = not conditions["ready"]
            created[index] = await slices.update(created[index])

        async def change_policy(number: int) -> None:
            index = (number * 37) % policy_count
            made_policies[index]["spec"]["ingress"][1]["ports"][0]["port"] = 8443 + number
            made_policies[index] = await policies.namespace(made_policies[index]["metadata"]["namespace"]).update(made_policies[index])

        async def relabel_pod(number: int) -> None:
            index = (number * 131) % pod_count
            labels = pods[index]["metadata"]["labels"]
            labels["role"] = "backend" if labels["role"] == "frontend" else "frontend"
            pods[index] = await client.resource("", "v1", "pods").namespace(pods[index]["metadata"]["namespace"]).update(pods[index])

        await measure("one endpoint change", flip_endpoint)
        await measure("one NetworkPolicy change", change_policy)
        await measure("one pod relabel (a peer of many policies)", relabel_pod)
        assert proxy.policies is not None and proxy.pods is not None and proxy.namespaces is not None
        render_started = time.perf_counter()
        model = compute_policies(proxy.policies.cache.list(), proxy.pods.cache.list(), proxy.namespaces.cache.list(), "bench-node")
        render_policy(model)
        print(
            f"    policy model + nft section render: {(time.perf_counter() - render_started) * 1000:.0f} ms"
            f" ({len(model.ingress)} ingress-isolated, {len(model.egress)} egress-isolated pods)"
        )
    finally:
        await proxy.stop()
        await client.close()
        await registry.stop()


async def per_connection(url: tuple[str, int], seconds: float, concurrency: int) -> tuple[float, int]:
    """Requests answered within a window of `seconds` with one new connection each, per second (a
    request still open at the end is not counted and does not stretch the window); failures."""
    done = 0
    failures = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, failures
        while time.perf_counter() < deadline:
            try:
                await http_get(*url)
            except OSError:
                failures += 1
                continue
            if time.perf_counter() <= deadline:
                done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / seconds, failures


async def keep_alive(url: tuple[str, int], seconds: float, concurrency: int) -> tuple[float, int]:
    """Requests per second over `concurrency` persistent HTTP/1.1 connections."""
    until = asyncio.get_running_loop().time() + seconds
    counts = await asyncio.gather(*(keep_alive_requests(*url, until) for _ in range(concurrency)), return_exceptions=True)
    return sum(c for c in counts if isinstance(c, int)) / seconds, sum(1 for c in counts if not isinstance(c, int))


Measure = Callable[[tuple[str, int], float, int], Awaitable[tuple[float, int]]]


async def compare(label: str, measure: Measure, pod: tuple[str, int], vip: tuple[str, int], seconds: float, concurrency: int, rounds: int) -> None:
    await measure(pod, 0.5, concurrency)  # warm up
    rates: dict[str, list[float]] = {"pod": [], "vip": []}
    failed = {"pod": 0, "vip": 0}
    for _ in range(rounds):  # alternate, so load from elsewhere on the machine hits both alike
        for key, url in (("pod", pod), ("vip", vip)):
            rate, failures = await measure(url, seconds, concurrency)
            rates[key].append(rate)
            failed[key] += failures
    direct, through = statistics.median(rates["pod"]), statistics.median(rates["vip"])
    print(f"    {label} ({concurrency} clients, median of {rounds} windows of {seconds:g}s):")
    print(f"      pod IP {direct:8.0f} req/s ({failed['pod']} failed), ClusterIP {through:8.0f} req/s ({failed['vip']} failed),"
          f" ratio {through / direct:.3f}")


async def request_ratio(seconds: float, concurrency: int, rounds: int) -> None:
    net = PodNetwork.create(pods=1)
    registry = await start_registry()
    client = Client(InProcessTransport(registry, manager="network-bench"))
    options = ProxyOptions(
        node_name="bench-node", table=net.table, service_cidr=net.service_cidr, cluster_cidr=net.pod_cidr, bridge=net.bridge
    )
    proxy = ServiceProxy(client, options)
    try:
        vip, pod = net.service_ip(10), net.pods[0]
        await client.resource("", "v1", "services").namespace("default").create(
            service("web", vip, [{"name": "http", "port": 80, "targetPort": SERVER_PORT}])
        )
        await client.resource("discovery.k8s.io", "v1", "endpointslices").namespace("default").create(
            endpoint_slice("web", [{"ip": pod.ip, "node": "bench-node"}], [("http", SERVER_PORT)])
        )
        await proxy.start()
        await wait_for(lambda: proxy.ruleset is not None and f"{vip} . tcp . 80" in proxy.ruleset.text, 10)
        print("(b) request throughput, ClusterIP vs pod IP (target ratio >= 0.9); the \"pod\" is an asyncio HTTP server")
        print("    in a test network namespace on a test bridge (no kubelet yet), the client is this process")
        urls = ((pod.ip, SERVER_PORT), (vip, 80))
        await compare("keep-alive HTTP/1.1", keep_alive, *urls, seconds, concurrency, rounds)
        await compare("one new connection per request", per_connection, *urls, seconds, concurrency, rounds)
    finally:
        await proxy.stop()
        await client.close()
        await registry.stop()
        net.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--policies", type=int, default=200)
    parser.add_argument("--pods", type=int, default=1000)
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("nft") is None:
        sys.exit("bench/network.py needs root and nftables (make system-packages)")
    await apply_time(args.services, args.changes)
    if args.policies:
        await policy_apply_time(args.services, args.policies, args.pods, args.changes)
    await request_ratio(args.seconds, args.concurrency, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
