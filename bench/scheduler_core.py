"""Scheduling throughput of the pure scheduler core: N pods onto M nodes in-process (default 10,000
onto 5,000), each chosen pod assumed into the snapshot before the next cycle. Prints pods/s; never
asserts (upstream's CI floor at 5,000 nodes is 680-810 pods/s)."""

from __future__ import annotations

import argparse
import random
import time

from kubelite.scheduler.algorithm import Scheduler
from kubelite.scheduler.framework import Snapshot


def make_node(index: int) -> dict:
    allocatable = {"cpu": "32", "memory": "128Gi", "pods": "110"}
    return {
        "metadata": {
            "name": f"node-{index}",
            "labels": {
                "kubernetes.io/hostname": f"node-{index}",
                "topology.kubernetes.io/zone": f"zone-{index % 3}",
            },
        },
        "spec": {},
        "status": {"allocatable": allocatable, "capacity": allocatable},
    }


def make_pod(index: int) -> dict:
    requests = {"cpu": "100m", "memory": "128Mi"}
    return {
        "metadata": {"name": f"pod-{index}", "namespace": "default", "labels": {"app": f"app-{index % 50}"}},
        "spec": {"containers": [{"name": "c", "image": "pause", "resources": {"requests": requests}}]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=10000)
    args = parser.parse_args()
    snapshot = Snapshot.from_objects((make_node(i) for i in range(args.nodes)), [])
    pods = [make_pod(i) for i in range(args.pods)]
    scheduler = Scheduler(rng=random.Random(0))
    started = time.perf_counter()
    for pod in pods:
        host = scheduler.schedule(pod, snapshot).suggested_host
        pod["spec"]["nodeName"] = host
        snapshot.assume(pod, host)
    elapsed = time.perf_counter() - started
    print(
        f"scheduler core: {args.pods} pods onto {args.nodes} nodes in {elapsed:.2f}s = {args.pods / elapsed:.0f} pods/s"
    )


if __name__ == "__main__":
    main()
