"""Cluster DNS throughput: the DNS server (uvloop when installed) with a table of N Services (default
1,000: ClusterIP ones with a named port, every tenth headless with 3 endpoints) on 127.0.0.1 and a
free port, queried over UDP from a separate client process that keeps `--window` queries in flight
for `--seconds` (a mix of service A, headless A, SRV and the NXDOMAIN a pod's search path
produces). Prints queries/s, lost queries and the latency median / p99; never asserts. Traffic
stays on loopback; the run is bounded in time and stops by itself."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from typing import Any

from dnslib import DNSRecord

from kubelite.network.dns.records import service_records
from kubelite.network.dns.server import DNSServer, free_port
from kubelite.network.dns.table import AnswerTable

ZONE = "cluster.local"

# The client: stdlib only, one UDP socket, a window of queries in flight, IDs matched to send times.
CLIENT = r"""
import json, socket, sys, time
port, seconds, window = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
queries = [bytes.fromhex(q) for q in json.loads(sys.stdin.read())]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.connect(("127.0.0.1", port))
sock.settimeout(1.0)
sent, latencies, lost, next_id = {}, [], 0, 0
def send():
    global next_id
    next_id = (next_id + 1) & 0xFFFF
    query = queries[next_id % len(queries)]
    sent[next_id] = time.perf_counter()
    sock.send(next_id.to_bytes(2, "big") + query[2:])
start = time.perf_counter()
for _ in range(window):
    send()
while time.perf_counter() - start < seconds:
    try:
        reply = sock.recv(65535)
    except socket.timeout:
        lost += len(sent)
        sent.clear()
        for _ in range(window):
            send()
        continue
    began = sent.pop(int.from_bytes(reply[:2], "big"), None)
    if began is not None:
        latencies.append(time.perf_counter() - began)
        send()
elapsed = time.perf_counter() - start
latencies.sort()
print(json.dumps({
    "answered": len(latencies), "lost": lost, "elapsed": elapsed,
    "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
    "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else None,
}))
"""


def build_table(services: int) -> AnswerTable:
    table = AnswerTable(ZONE)
    table.set_namespace("default", True)
    for index in range(services):
        name = f"svc-{index}"
        if index % 10 == 9:
            service: dict[str, Any] = {"metadata": {"name": name, "namespace": "default"}, "spec": {"clusterIP": "None", "ports": []}}
            slices = [
                {
                    "addressType": "IPv4",
                    "endpoints": [{"addresses": [f"10.42.{index // 250}.{index % 250 + k}"], "conditions": {"ready": True}} for k in range(3)],
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                }
            ]
        else:
            ip = f"10.43.{index // 250 + 1}.{index % 250 + 1}"
            service = {
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"clusterIP": ip, "clusterIPs": [ip], "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
            }
            slices = []
        table.set_service(f"default/{name}", service_records(service, slices, ZONE))
    return table


def query_mix(services: int) -> list[str]:
    names: list[tuple[str, str]] = []
    for index in range(0, services, max(1, services // 50)):
        names.append((f"svc-{index}.default.svc.{ZONE}", "A"))
        names.append((f"svc-{index}.default.svc.{ZONE}.default.svc.{ZONE}", "A"))  # a search-path miss
    names.append((f"svc-9.default.svc.{ZONE}", "A"))  # headless
    names.append((f"_http._tcp.svc-1.default.svc.{ZONE}", "SRV"))
    return [bytes(DNSRecord.question(name, qtype).pack()).hex() for name, qtype in names]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    table = build_table(args.services)
    server = DNSServer(table, host="127.0.0.1", port=free_port())
    await server.start()
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLIENT,
            str(server.port),
            str(args.seconds),
            str(args.window),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(process.communicate(json.dumps(query_mix(args.services)).encode()), args.seconds + 30)
    finally:
        await server.stop()
    result: dict[str, Any] = json.loads(out)
    result["qps"] = result["answered"] / result["elapsed"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--window", type=int, default=64, help="queries in flight")
    args = parser.parse_args()
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(run(args))
    print(
        f"cluster DNS: {result['qps']:.0f} queries/s over UDP ({args.services} services, {args.window} in flight, "
        f"{result['answered']} answered, {result['lost']} lost), latency p50 {result['p50_ms']:.2f} ms, "
        f"p99 {result['p99_ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
