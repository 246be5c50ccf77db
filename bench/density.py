"""Pod density on hollow nodes: `kubelite server --hollow-nodes N`, pods created at a steady
rate through the HTTP API, and the time from each create to the watch seeing it Running.

Prints p50/p99 create-to-Running and the server's RSS; asserts nothing about timing.
Usage: python bench/density.py [--nodes 100] [--pods-per-node 30] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.server_harness import start_server  # noqa: E402


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(nodes: int, pods: int, rate: float) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="kubelite-density-"))
    server = start_server(data_dir, "--hollow-nodes", str(nodes), timeout=120)
    try:
        config = yaml.safe_load(server.kubeconfig.read_text())
        ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
        token = config["users"][0]["user"]["token"]
        context = ssl.create_default_context(cadata=ca)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        connector = aiohttp.TCPConnector(ssl=context, limit=64)
        async with aiohttp.ClientSession(server.url, headers=headers, connector=connector) as http:
            while True:  # wait until every hollow node reports Ready
                async with http.get("/api/v1/nodes") as response:
                    listed = await response.json()
                ready = sum(
                    1
                    for node in listed["items"]
                    for c in node.get("status", {}).get("conditions", [])
                    if c["type"] == "Ready" and c["status"] == "True"
                )
                if ready >= nodes:
                    break
                await asyncio.sleep(0.2)
            print(f"{nodes} hollow nodes Ready; server RSS {_rss_mb(server.process.pid):.1f} MB", flush=True)
            created: dict[str, float] = {}
            running: dict[str, float] = {}
            done = asyncio.Event()

            async def watch() -> None:
                async with http.get("/api/v1/namespaces/default/pods?watch=true&resourceVersion=0", timeout=None) as response:
                    async for line in response.content:
                        event = json.loads(line)
                        pod = event["object"]
                        name = pod["metadata"]["name"]
                        if pod.get("status", {}).get("phase") == "Running" and name not in running:
                            running[name] = time.monotonic()
                            if len(running) >= pods:
                                done.set()
                                return

            watcher = asyncio.create_task(watch())
            await asyncio.sleep(0.2)
            start = time.monotonic()

            async def create(index: int) -> None:
                name = f"density-{index:05d}"
                body = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": name},
                    "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "10m"}}}]},
                }
                created[name] = time.monotonic()
                async with http.post("/api/v1/namespaces/default/pods", json=body) as response:
                    if response.status != 201:
                        print(f"create {name}: {response.status} {await response.text()}", flush=True)

            tasks = []
            for index in range(pods):
                due = start + index / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(create(index)))
            await asyncio.gather(*tasks)
            try:
                await asyncio.wait_for(done.wait(), timeout=120)
            except TimeoutError:
                print(f"only {len(running)}/{pods} pods Running after 120 s", flush=True)
            watcher.cancel()
            latencies = [(running[n] - created[n]) * 1000 for n in running if n in created]
            elapsed = time.monotonic() - start
            print(f"pods created at {rate:g}/s: {len(created)}, Running: {len(running)} in {elapsed:.1f} s")
            if latencies:
                print(
                    f"create -> Running: p50 {statistics.median(latencies):.0f} ms, "
                    f"p99 {_percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms (target p99 <= 1000 ms)"
                )
            print(f"server RSS after: {_rss_mb(server.process.pid):.1f} MB")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--pods-per-node", type=int, default=30)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(run(args.nodes, args.nodes * args.pods_per_node, args.rate))


if __name__ == "__main__":
    main()
