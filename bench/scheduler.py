"""Scheduling throughput of the whole scheduler component. Prints pods/s; never asserts.

(a) in-process: SchedulerComponent over an in-process registry; 10,000 pods onto 5,000 nodes,
    timed from the first pod create to the last binding.
(b) over HTTP: a real `kubelite server`, the scheduler in a separate process on the HTTP transport,
    1,000 nodes and 3,000 pods created and watched from this process (upstream kube-scheduler on
    this machine, kind, rate limits lifted: 82 pods/s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubelite.cli.gctuning import tune_for_server
from kubelite.client.client import Client, ResourceClient
from kubelite.client.http import from_kubeconfig
from kubelite.client.informer import Informer
from kubelite.scheduler.scheduler import SchedulerComponent

Obj = dict[str, Any]


def make_node(index: int) -> Obj:
    allocatable = {"cpu": "32", "memory": "128Gi", "pods": "110"}
    name = f"node-{index}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": f"zone-{index % 3}"}},
        "spec": {},
        "status": {"allocatable": allocatable, "capacity": allocatable},
    }


def make_pod(index: int) -> Obj:
    requests = {"cpu": "100m", "memory": "128Mi"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{index}", "namespace": "default", "labels": {"app": f"app-{index % 50}"}},
        "spec": {"containers": [{"name": "c", "image": "pause", "resources": {"requests": requests}}]},
    }


async def create_all(resource: ResourceClient, objects: list[Obj], concurrency: int) -> None:
    pending = iter(objects)

    async def worker() -> None:
        for obj in pending:
            created = await resource.create(obj)
            if obj.get("kind") == "Node" and not (created.get("status") or {}).get("allocatable"):
                created["status"] = obj["status"]
                await resource.update_status(created)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def bench_inprocess(nodes: int, pods: int) -> None:
    from kubelite.apiserver.inprocess import InProcessTransport
    from kubelite.registry.registry import Registry
    from kubelite.schema.builtins import default_catalogue
    from kubelite.schema.definitions import Definitions
    from kubelite.storage.memory import MemoryBackend

    registry = Registry(MemoryBackend(), default_catalogue(), Definitions.load())
    await registry.start()
    client = Client(InProcessTransport(registry, without_managed_fields=True))  # as inside kubelite server
    await client.resource("", "v1", "namespaces").create({"metadata": {"name": "default"}})
    await create_all(client.resource("", "v1", "nodes"), [make_node(i) for i in range(nodes)], 8)
    scheduler = SchedulerComponent(client)
    await scheduler.start()
    started = time.perf_counter()
    await create_all(client.resource("", "v1", "pods"), [make_pod(i) for i in range(pods)], 16)
    while scheduler.scheduled < pods:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    print(f"(a) in-process component: {pods} pods onto {nodes} nodes in {elapsed:.2f}s = {pods / elapsed:.0f} pods/s")
    await scheduler.stop()
    await registry.stop()


async def run_scheduler(kubeconfig: str) -> None:
    """The separate scheduler process of (b)."""
    client = Client(from_kubeconfig(kubeconfig))
    scheduler = SchedulerComponent(client)
    await scheduler.start()
    print("scheduler ready", flush=True)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()


async def bench_http(nodes: int, pods: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.e2e.server_harness import start_server

    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(Path(data_dir))
        scheduler: subprocess.Popen[str] | None = None
        client = Client(from_kubeconfig(server.kubeconfig))
        try:
            await create_all(client.resource("", "v1", "nodes"), [make_node(i) for i in range(nodes)], 16)
            scheduler = subprocess.Popen(
                [sys.executable, "-m", "bench.scheduler", "--run-scheduler", str(server.kubeconfig)],
                stdout=subprocess.PIPE,
                text=True,
                cwd=Path(__file__).resolve().parent.parent,
            )
            assert scheduler.stdout is not None
            await asyncio.to_thread(scheduler.stdout.readline)
            bound: set[str] = set()
            done = asyncio.Event()

            def seen(obj: Obj) -> None:
                if (obj.get("spec") or {}).get("nodeName"):
                    bound.add(obj["metadata"]["name"])
                    if len(bound) >= pods:
                        done.set()

            informer = Informer(client.resource("", "v1", "pods").namespace("default"), name="bench pods")
            informer.add_handler(seen, lambda _old, new: seen(new))
            informer.start()
            await informer.wait_for_sync()
            started = time.perf_counter()
            await create_all(client.resource("", "v1", "pods"), [make_pod(i) for i in range(pods)], 32)
            await done.wait()
            elapsed = time.perf_counter() - started
            print(
                f"(b) over HTTP, scheduler in its own process: {pods} pods onto {nodes} nodes in {elapsed:.2f}s"
                f" = {pods / elapsed:.0f} pods/s (upstream on kind: 82)"
            )
            await informer.stop()
        finally:
            await client.close()
            if scheduler is not None:
                scheduler.terminate()
                scheduler.wait(10)
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--http-nodes", type=int, default=1000)
    parser.add_argument("--http-pods", type=int, default=3000)
    parser.add_argument("--only", choices=("inprocess", "http"), default=None)
    parser.add_argument("--run-scheduler", metavar="KUBECONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    tune_for_server()  # as `kubelite server` does (and a scheduler process would)
    if args.run_scheduler:
        asyncio.run(run_scheduler(args.run_scheduler))
        return
    if args.only in (None, "inprocess"):
        asyncio.run(bench_inprocess(args.nodes, args.pods))
    if args.only in (None, "http"):
        asyncio.run(bench_http(args.http_nodes, args.http_pods))


if __name__ == "__main__":
    main()
