"""Pod start-up on a real node: `kubelite server` with its own node agent (runc, conmon, CNI,
cgroups; needs root), the busybox test image imported beforehand (`kubelite image import`), pods
with imagePullPolicy Never so no pull is timed.

(a) 100 pods created at 20 pods/s through the HTTP API; create -> Running and create -> Ready
    p50/p99/max, from a watch whose events are timestamped on receipt (as bench/density.py).
(b) Those pods deleted, then 110 pods (the node's max pods) created at once: the wall time until
    every one is Ready (target <= 60 s).
(c) Pods starting while others terminate: 8 pods that ignore SIGTERM, with a 20 s grace period,
    are deleted, then 20 new pods are created at once: the wall time until all 20 are Running
    (a terminating pod must not hold up another pod's start), then until the 8 are gone.
RSS of the server process idle (node Ready, no pods) and with the pods running. The kubelet, the
API server, the controllers and the scheduler run in that one process, so its RSS is an upper
bound of the kubelet's; each running container also has a small conmon monitor, summed apart.

The node gets a bridge, pod /24, cgroup parent, netns prefix, nftables table and kubelet port of
its own and no ingress controller (as the e2e fixtures); at the end every pod is deleted, the
server stopped, `kubelite server --reset` run, and what could be left (netns, bridge, cgroups,
mounts, table, conmon processes) is checked to be gone. Prints a summary; asserts only the
clean-up. Targets: create -> Running p99 <= 1 s (upstream SLO 5 s); 110 pods Ready <= 60 s.

Usage: sudo python bench/podstart.py [--pods 100] [--rate 20] [--full 110] [--stubborn 8] [--grace 20] [--after 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.server_harness import RunningServer, free_port, start_server  # noqa: E402
from tests.runtime.oci_harness import BUSYBOX, NETNS_DIR, RunNames, image_archives, unique_net  # noqa: E402

Obj = dict[str, Any]
NAMESPACE = "default"
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _process_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds (user + system) a process has used; with `children`, plus those of the children
    it has reaped (runc, CNI plugins, ip — not conmon, which daemonizes)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_cpu() -> float:
    """CPU seconds the whole machine has been busy (every process, every core)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def _conmons_under(data_dir: Path) -> list[int]:
    """PIDs of conmon processes monitoring containers of this data dir."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"conmon") and any(str(data_dir).encode() in arg for arg in argv):
            found.append(int(entry.name))
    return found


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _summary(values: list[float]) -> str:
    if not values:
        return "-"
    return f"p50 {statistics.median(values):.0f} ms, p99 {_percentile(values, 0.99):.0f} ms, max {max(values):.0f} ms"


def _net_flags(net: RunNames, table: str) -> list[str]:
    return [
        "--pod-cidr", net.cidr, "--bridge", net.bridge, "--cgroup-parent", net.cgroup_parent,
        "--netns-prefix", net.netns_prefix, "--proxy-table", table, "--ingress-http-port", "0",
    ]  # fmt: skip


SLEEP = ["sleep", "3600"]
IGNORE_SIGTERM = ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]  # lasts its whole grace period


def _pod(name: str, *, grace: int = 1, command: list[str] = SLEEP, role: str = "plain") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "podstart", "role": role}},
        "spec": {
            "terminationGracePeriodSeconds": grace,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "containers": [{"name": "sleep", "image": BUSYBOX, "imagePullPolicy": "Never", "command": command}],
        },
    }


def _is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or [])


class PodWatch:
    """One watch on the namespace's pods: receipt times of each pod's first Running and Ready."""

    def __init__(self, http: aiohttp.ClientSession):
        self.http = http
        self.bound: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.ready: dict[str, float] = {}
        self.names: set[str] = set()
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async with self.http.get(f"/api/v1/namespaces/{NAMESPACE}/pods") as response:
            listed = await response.json()
        version = listed["metadata"]["resourceVersion"]
        self.task = asyncio.create_task(self._watch(version))

    async def _watch(self, version: str) -> None:
        url = f"/api/v1/namespaces/{NAMESPACE}/pods?watch=true&allowWatchBookmarks=true&resourceVersion={version}"
        async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=None)) as response:
            async for line in response.content:
                received = time.monotonic()
                event = json.loads(line)
                pod = event["object"]
                if event["type"] == "BOOKMARK":
                    continue
                name = pod["metadata"]["name"]
                if event["type"] == "DELETED":
                    self.names.discard(name)
                else:
                    self.names.add(name)
                    if (pod.get("spec") or {}).get("nodeName"):
                        self.bound.setdefault(name, received)
                    if (pod.get("status") or {}).get("phase") == "Running":
                        self.running.setdefault(name, received)
                    if _is_ready(pod):
                        self.ready.setdefault(name, received)
                self.changed.set()

    async def until(self, check: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not check():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 1.0))
            except TimeoutError:
                pass
        return True

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):
                pass


async def _create(http: aiohttp.ClientSession, name: str, created: dict[str, float], body: Obj | None = None) -> None:
    created[name] = time.monotonic()
    async with http.post(f"/api/v1/namespaces/{NAMESPACE}/pods", json=body or _pod(name)) as response:
        if response.status != 201:
            print(f"create {name}: {response.status} {await response.text()}", flush=True)


async def _delete(http: aiohttp.ClientSession, selector: str) -> None:
    async with http.delete(f"/api/v1/namespaces/{NAMESPACE}/pods?labelSelector={selector}") as response:
        if response.status != 200:
            print(f"delete pods: {response.status} {await response.text()}", flush=True)


async def _delete_all(http: aiohttp.ClientSession, watch: PodWatch, data_dir: Path, timeout: float = 120.0) -> float:
    """Delete the bench's pods gracefully (the kubelet stops them, then removes the objects);
    seconds until the objects and their containers' conmon monitors are gone."""
    started = time.monotonic()
    await _delete(http, "bench%3Dpodstart")
    if not await watch.until(lambda: not watch.names, timeout):
        print(f"{len(watch.names)} pods still there {timeout:.0f} s after their deletion", flush=True)
    while _conmons_under(data_dir) and time.monotonic() - started < timeout:
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def _node_ready(http: aiohttp.ClientSession, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with http.get("/api/v1/nodes") as response:
            if response.status != 200:
                raise SystemExit(f"listing nodes: {response.status} {await response.text()}")
            for node in (await response.json())["items"]:
                if any(c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", [])):
                    return str(node["metadata"]["name"])
        await asyncio.sleep(0.2)
    raise SystemExit("the node did not become Ready")


def _session(server: RunningServer) -> aiohttp.ClientSession:
    config = yaml.safe_load(server.kubeconfig.read_text())
    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    token = config["users"][0]["user"]["token"]
    context = ssl.create_default_context(cadata=ca)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return aiohttp.ClientSession(server.url, headers=headers, connector=aiohttp.TCPConnector(ssl=context, limit=64))


async def measure(server: RunningServer, data_dir: Path, pods: int, rate: float, full: int, busy: Busy, rows: list[tuple[str, str]]) -> None:
    """Fills `rows` as it goes (what was measured is kept when a later step fails)."""
    async with _session(server) as http:
        node = await _node_ready(http)
        await asyncio.sleep(2.0)  # let start-up work (informers, node services) settle
        rows.append(("node", node))
        rows.append(("server RSS, idle (API + controllers + scheduler + kubelet: one process)", f"{_rss_mb(server.process.pid):.0f} MB"))
        watch = PodWatch(http)
        await watch.start()

        # (a) a steady stream of pods
        created: dict[str, float] = {}
        idle_from = _machine_cpu()
        await asyncio.sleep(2.0)
        rows.append(("machine load before the pods (busy cores of all; other users included)", f"{(_machine_cpu() - idle_from) / 2.0:.2f}"))
        server_cpu, tree_cpu, machine_cpu = _process_cpu(server.process.pid), _process_cpu(server.process.pid, True), _machine_cpu()
        start = time.monotonic()
        tasks = []
        for index in range(pods):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_create(http, f"start-{index:03d}", created)))
        await asyncio.gather(*tasks)
        all_ready = await watch.until(lambda: all(n in watch.ready for n in created), 120.0)
        to_bound = [(watch.bound[n] - created[n]) * 1000 for n in created if n in watch.bound]
        to_running = [(watch.running[n] - created[n]) * 1000 for n in created if n in watch.running]
        to_ready = [(watch.ready[n] - created[n]) * 1000 for n in created if n in watch.ready]
        rows.append((f"{pods} pods at {rate:g}/s: create -> bound by the scheduler", _summary(to_bound)))
        rows.append((f"{pods} pods at {rate:g}/s: create -> Running ({len(to_running)} seen)", _summary(to_running)))
        rows.append((f"{pods} pods at {rate:g}/s: create -> Ready ({len(to_ready)} seen)", _summary(to_ready)))
        if not all_ready:
            rows.append(("  (not all Ready within 120 s)", ""))
        server_cpu = (_process_cpu(server.process.pid) - server_cpu) / pods * 1000
        tree_cpu = (_process_cpu(server.process.pid, True) - tree_cpu) / pods * 1000
        machine_cpu = (_machine_cpu() - machine_cpu) / pods * 1000
        rows.append(("CPU per pod started: server / server + reaped children", f"{server_cpu:.0f} ms / {tree_cpu:.0f} ms"))
        rows.append(("CPU per pod started: whole machine (other users included)", f"{machine_cpu:.0f} ms ({os.cpu_count()} cores)"))
        rows.append((f"server RSS with {len(watch.ready)} pods", f"{_rss_mb(server.process.pid):.0f} MB"))
        rows.append((f"delete {pods} pods (grace 1 s) until gone", f"{await _delete_all(http, watch, data_dir):.1f} s"))

        # (b) a full node at once
        created_full: dict[str, float] = {}
        start = time.monotonic()
        await asyncio.gather(*(_create(http, f"full-{index:03d}", created_full) for index in range(full)))
        all_ready = await watch.until(lambda: all(n in watch.ready for n in created_full), 180.0)
        wall = max((watch.ready[n] for n in created_full if n in watch.ready), default=start) - start
        ready_count = sum(1 for n in created_full if n in watch.ready)
        rows.append((f"{full} pods created at once: all Ready", f"{wall:.1f} s ({ready_count}/{full} Ready)" + ("" if all_ready else " TIMED OUT")))
        to_ready = [(watch.ready[n] - created_full[n]) * 1000 for n in created_full if n in watch.ready]
        rows.append((f"{full} pods at once: create -> Ready", _summary(to_ready)))
        conmons = _conmons_under(data_dir)
        rows.append((f"server RSS with {ready_count} pods Running", f"{_rss_mb(server.process.pid):.0f} MB"))
        rows.append((f"conmon monitors: {len(conmons)}, summed RSS", f"{sum(_rss_mb(p) for p in conmons):.0f} MB"))
        rows.append((f"delete {full} pods (grace 1 s) until gone", f"{await _delete_all(http, watch, data_dir):.1f} s"))

        # (c) pods starting while others take their whole grace period to stop
        if busy.stubborn:
            rows.extend(await _starts_while_terminating(http, watch, data_dir, busy))
        await watch.stop()


@dataclass(frozen=True)
class Busy:
    """Scenario (c): `stubborn` pods ignoring SIGTERM with `grace` seconds are deleted, then
    `after` pods are created."""

    stubborn: int = 8
    grace: int = 20
    after: int = 20


async def _starts_while_terminating(http: aiohttp.ClientSession, watch: PodWatch, data_dir: Path, busy: Busy) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    stubborn: dict[str, float] = {}
    bodies = {f"stubborn-{i:02d}": _pod(f"stubborn-{i:02d}", grace=busy.grace, command=IGNORE_SIGTERM, role="stubborn") for i in range(busy.stubborn)}
    await asyncio.gather(*(_create(http, name, stubborn, body) for name, body in bodies.items()))
    if not await watch.until(lambda: all(n in watch.running for n in stubborn), 60.0):
        rows.append((f"(c) {busy.stubborn} SIGTERM-ignoring pods did not all run within 60 s", ""))
        return rows
    deleted = time.monotonic()
    await _delete(http, "bench%3Dpodstart%2Crole%3Dstubborn")
    await asyncio.sleep(1.0)  # the kubelet has begun stopping them
    created: dict[str, float] = {}
    start = time.monotonic()
    await asyncio.gather(*(_create(http, f"during-{index:03d}", created) for index in range(busy.after)))
    all_running = await watch.until(lambda: all(n in watch.running for n in created), busy.grace + 60.0)
    wall = max((watch.running[n] for n in created if n in watch.running), default=start) - start
    count = sum(1 for n in created if n in watch.running)
    label = f"(c) {busy.after} pods created while {busy.stubborn} pods stop (grace {busy.grace} s, SIGTERM ignored): all Running"
    rows.append((label, f"{wall:.1f} s ({count}/{busy.after})" + ("" if all_running else " TIMED OUT")))
    to_running = [(watch.running[n] - created[n]) * 1000 for n in created if n in watch.running]
    rows.append((f"(c) {busy.after} pods while others stop: create -> Running", _summary(to_running)))
    gone = await watch.until(lambda: not any(n in watch.names for n in stubborn), busy.grace + 60.0)
    rows.append((f"(c) {busy.stubborn} stopping pods gone after their delete", f"{time.monotonic() - deleted:.1f} s" + ("" if gone else " TIMED OUT")))
    rows.append((f"(c) delete {busy.after} pods (grace 1 s) until gone", f"{await _delete_all(http, watch, data_dir):.1f} s"))
    return rows


def _leftovers(data_dir: Path, net: RunNames, table: str) -> list[str]:
    left = [f"netns {n}" for n in (os.listdir(NETNS_DIR) if NETNS_DIR.exists() else []) if n.startswith(net.netns_prefix)]
    left += [f"bridge {net.bridge}"] if Path("/sys/class/net", net.bridge).exists() else []
    for hierarchy in CGROUP_ROOT.iterdir() if CGROUP_ROOT.exists() else []:
        if (hierarchy / net.cgroup_parent.strip("/")).exists():
            left.append(f"cgroup {hierarchy / net.cgroup_parent.strip('/')}")
    mounts = Path("/proc/self/mounts").read_text()
    left += [f"mount {line.split()[1]}" for line in mounts.splitlines() if str(data_dir) in line]
    if shutil.which("nft") and subprocess.run(["nft", "list", "table", "ip", table], capture_output=True).returncode == 0:
        left.append(f"nft table {table}")
    left += [f"conmon pid {pid}" for pid in _conmons_under(data_dir)]
    return left


def _print(rows: list[tuple[str, str]]) -> None:
    width = max((len(label) for label, _ in rows), default=10)
    print(f"\n{'podstart (real node, runc)':<{width}}  figure")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print("targets: create -> Running p99 <= 1000 ms (upstream SLO 5 s); all 110 Ready <= 60 s; (c) all Running well before the grace period ends")


def run(pods: int, rate: float, full: int, busy: Busy) -> None:
    if os.geteuid() != 0:
        sys.exit("bench/podstart.py needs root (runc, CNI, cgroups)")
    root = Path(tempfile.mkdtemp(prefix="kubelite-podstart-"))
    data_dir = root / "data"
    archive = image_archives() / "busybox-1.tar"
    subprocess.run([sys.executable, "-m", "kubelite.cli.main", "image", "import", "--data-dir", str(data_dir), str(archive)], check=True, capture_output=True)
    net = unique_net()
    table = f"kubelite_bench{net.number}"
    flags = _net_flags(net, table)
    server = start_server(data_dir, "--kubelet-port", str(free_port()), *flags, agent=True, timeout=60.0)
    rows: list[tuple[str, str]] = []
    try:
        asyncio.run(measure(server, data_dir, pods, rate, full, busy, rows))
    finally:
        _print(rows)
        server.stop()
        reset = subprocess.run(
            [sys.executable, "-m", "kubelite.cli.main", "server", "--data-dir", str(data_dir), "--reset", *flags], capture_output=True, text=True
        )
        left = _leftovers(data_dir, net, table)
        if reset.returncode == 0 and not left:
            shutil.rmtree(root, ignore_errors=True)
    assert reset.returncode == 0, reset.stderr
    assert not left, f"left behind: {left}"
    print("clean-up: reset done, nothing left behind")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=100, help="pods created at --rate")
    parser.add_argument("--rate", type=float, default=20.0, help="pods per second")
    parser.add_argument("--full", type=int, default=110, help="pods created at once after those are gone (the node's max pods)")
    parser.add_argument("--stubborn", type=int, default=8, help="(c): pods that ignore SIGTERM, deleted (0: skip (c))")
    parser.add_argument("--grace", type=int, default=20, help="(c): their grace period in seconds")
    parser.add_argument("--after", type=int, default=20, help="(c): pods created while they stop")
    args = parser.parse_args()
    run(args.pods, args.rate, args.full, Busy(args.stubborn, args.grace, args.after))


if __name__ == "__main__":
    main()
