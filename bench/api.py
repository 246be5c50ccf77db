"""API benchmark: a real `kubelite server` process (SQLite by default, `--datastore etcd` for a real
etcd started on loopback ports) driven over HTTPS with the admin bearer token.

Measures, printing plain lines as it goes and a summary table at the end:
- start -> ready: wall time from spawning the process to its `kubelite ready` line, for cold starts
  (fresh data dirs) and warm restarts (same data dir), median of 5 each;
- idle RSS of the server process 5 s after it became ready (/proc/PID/status VmRSS);
- p50/p99 latency of ConfigMap create / get / merge-patch / delete / list (100 objects) while 100
  watches on ConfigMaps are open and read, at a steady open-loop offered load of writes (latency is
  measured from each request's scheduled time, so queueing in the server or the client is counted);
  and the watch events/s delivered in total to the watchers;
- watch fan-out: events/s delivered to N watchers for a burst of creates;
- storage puts/s of SQLite against a real etcd (bench/storage.py's measure_backends).

The load generator is one aiohttp session (keep-alive, the cluster CA, the token) in this process;
the watchers run in a second process. Both share the machine's cores with the server, so the CPU
each process used is printed for every phase, with a note when a client process saturates a core.

Must not assert on timing, must not look inside kubelite (it measures the process, /proc and the
HTTP API only), and must not leave anything running: servers and etcd are stopped by PID, temp
dirs are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib
import multiprocessing
import multiprocessing.connection
import os
import random
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
STARTS = 5
IDLE_SECONDS = 5.0
WATCHERS = 100
RATES = (200, 600)  # offered writes/s, one phase each
PHASE_SECONDS = 15.0
GETS_PER_S = 100
LISTS_PER_S = 10
LIST_OBJECTS = 100
OBJECT_LIFETIME = 0.5  # seconds from an object's create to its patch, and from its patch to its delete
PAYLOAD = "x" * 256  # the ConfigMap data value (the objects are ~0.5 KB on the wire)
FANOUT_WATCHERS = (100, 500)
FANOUT_WRITES = 1000
FANOUT_CONCURRENCY = 32
CLIENT_SATURATED = 0.85  # fraction of one core above which a client process is called saturated

WRITE_NS = "bench"  # churned by the writers, watched by the watchers
LIST_NS = "bench-list"  # LIST_OBJECTS static objects for gets and lists
MERGE_PATCH = "application/merge-patch+json"
SCHEDULED_ANNOTATION = "bench.kubelite.io/scheduled"

# upstream kube-apiserver + etcd on this machine (kind), for the summary
UPSTREAM_P99_MS = {200: 38.0, 600: 129.0}
UPSTREAM_EVENTS_PER_S = {200: 20000.0, 600: 50000.0}


# ---------------------------------------------------------------------------- processes and /proc
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    data_dir: Path
    port: int
    ready_seconds: float
    output: deque[str] = field(default_factory=lambda: deque(maxlen=200))

    @property
    def pid(self) -> int:
        return self.process.pid


def spawn_server(data_dir: Path, datastore: str, timeout: float = 60.0) -> ServerProcess:
    """Start `kubelite server` and return once it printed `kubelite ready` (timed from the spawn)."""
    port = free_port()
    command = [
        sys.executable, "-m", "kubelite.cli.main", "server",
        "--data-dir", str(data_dir), "--https-port", str(port), "--datastore", datastore,
    ]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    server = ServerProcess(process, data_dir, port, 0.0)
    assert process.stdout is not None
    deadline = started + timeout
    while time.perf_counter() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        server.output.append(line)
        if line.startswith("kubelite ready"):
            server.ready_seconds = time.perf_counter() - started
            threading.Thread(target=_drain, args=(process, server.output), daemon=True).start()
            return server
    stop_server(server)
    raise RuntimeError("kubelite server did not become ready:\n" + "".join(server.output))


def _drain(process: subprocess.Popen[str], output: deque[str]) -> None:
    """Keep reading the server's output so a full pipe never blocks it."""
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)


def stop_server(server: ServerProcess) -> None:
    """SIGTERM by PID, SIGKILL after 15 s."""
    process = server.process
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            process.wait(5)


def proc_status_mb(pid: int, key: str) -> float:
    """A memory figure (VmRSS, VmHWM) of a process, in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process (this one when pid is None)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class CpuMeter:
    """CPU used by a set of processes over an interval, as a fraction of one core."""

    pids: dict[str, int | None]
    started: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self.started = time.monotonic()
        self.marks = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def read(self) -> dict[str, float]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {name: (cpu_seconds(pid) - self.marks[name]) / elapsed for name, pid in self.pids.items()}


class Datastores:
    """The --datastore spec for each kubelite data dir. For etcd, every data dir gets its own
    LocalEtcd (started before the clock runs), so a cold start is cold in etcd too and a warm
    restart finds its own etcd again; all of them are stopped by stop()."""

    def __init__(self, kind: str, scratch: Path):
        self.kind = kind
        self.scratch = scratch
        self.etcds: dict[Path, Any] = {}

    def spec(self, data_dir: Path) -> str:
        if self.kind == "sqlite":
            return "sqlite"
        etcd = self.etcds.get(data_dir)
        if etcd is None:
            from kubelite.storage.etcd_server import LocalEtcd

            etcd = self.etcds[data_dir] = LocalEtcd(self.scratch / f"etcd-{data_dir.name}")
            etcd.start()
        return "etcd://" + str(etcd.endpoint).removeprefix("http://")

    def pid(self, data_dir: Path) -> int | None:
        etcd = self.etcds.get(data_dir)
        return None if etcd is None or etcd.process is None else int(etcd.process.pid)

    def stop(self) -> None:
        for etcd in self.etcds.values():
            etcd.stop()
        self.etcds.clear()


# ---------------------------------------------------------------------------- credentials, client
@dataclass(frozen=True)
class Credentials:
    url: str
    token: str
    ca_pem: str


def read_credentials(data_dir: Path) -> Credentials:
    config = yaml.safe_load((data_dir / "kubeconfig.yaml").read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    ca_pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
    return Credentials(cluster["server"], user["token"], ca_pem)


def open_session(creds: Credentials, limit: int) -> aiohttp.ClientSession:
    """One keep-alive session trusting the cluster CA and sending the bearer token."""
    context = ssl.create_default_context(cadata=creds.ca_pem)
    connector = aiohttp.TCPConnector(ssl=context, limit=limit, keepalive_timeout=60)
    return aiohttp.ClientSession(
        base_url=creds.url,
        connector=connector,
        headers={"Authorization": f"Bearer {creds.token}", "Accept": "application/json"},
        timeout=aiohttp.ClientTimeout(total=60),
        skip_auto_headers=("User-Agent",),
    )


def configmap(namespace: str, name: str, index: int, scheduled: float | None = None) -> bytes:
    """A ConfigMap body; `scheduled` (time.monotonic(), the same clock in every process) is carried
    in an annotation so a watcher can tell how long after its scheduled time the ADDED event came."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {"app": "bench"}}
    if scheduled is not None:
        metadata["annotations"] = {SCHEDULED_ANNOTATION: f"{scheduled:.6f}"}
    return orjson.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"index": str(index), "payload": PAYLOAD}}
    )


async def ensure_namespace(session: aiohttp.ClientSession, name: str) -> None:
    body = orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    async with session.post("/api/v1/namespaces", data=body, headers={"Content-Type": "application/json"}) as resp:
        text = await resp.text()
        if resp.status not in (201, 409):
            raise RuntimeError(f"creating namespace {name}: {resp.status} {text}")


async def list_revision(session: aiohttp.ClientSession, namespace: str) -> str:
    async with session.get(f"/api/v1/namespaces/{namespace}/configmaps") as resp:
        body = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"list {namespace}: {resp.status} {body[:300]!r}")
        return str(orjson.loads(body)["metadata"]["resourceVersion"])


async def create_many(session: aiohttp.ClientSession, namespace: str, names: list[str], concurrency: int = 32) -> int:
    """Create ConfigMaps with bounded concurrency; returns how many got a 201."""
    queue = iter(enumerate(names))
    ok = 0

    async def worker() -> None:
        nonlocal ok
        for index, name in queue:
            async with session.post(
                f"/api/v1/namespaces/{namespace}/configmaps",
                data=configmap(namespace, name, index),
                headers={"Content-Type": "application/json"},
            ) as resp:
                await resp.read()
                ok += resp.status == 201

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok


# ---------------------------------------------------------------------------- the watcher process
class WatchFleet:
    """Watches that read their streams to the end and count the events (lines) they receive."""

    def __init__(self, session: aiohttp.ClientSession):
        self.session = session
        self.events = 0
        self.ended = 0  # streams the server closed
        self.failed = 0  # streams that could not be opened
        self.tasks: list[asyncio.Task[None]] = []
        self.target = sys.maxsize
        self.reached: asyncio.Future[float] | None = None
        self.lags: list[float] = []  # one watcher parses its events: ADDED arrival - create's scheduled time

    async def open(self, namespace: str, count: int, resource_version: str) -> int:
        query = f"watch=true&timeoutSeconds=3600&resourceVersion={resource_version}"
        url = f"/api/v1/namespaces/{namespace}/configmaps?{query}"
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(50)  # bound concurrent TLS handshakes
        ready: list[asyncio.Future[bool]] = []
        for i in range(count):
            opened: asyncio.Future[bool] = loop.create_future()
            ready.append(opened)
            self.tasks.append(asyncio.create_task(self._watch(url, opened, gate, sample=i == 0)))
        return sum(await asyncio.gather(*ready))

    async def _watch(self, url: str, opened: asyncio.Future[bool], gate: asyncio.Semaphore, sample: bool) -> None:
        try:
            async with gate:
                response = await self.session.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_connect=30))
            async with response:
                if response.status != 200:
                    self.failed += 1
                    opened.set_result(False)
                    return
                opened.set_result(True)
                partial = b""
                async for chunk in response.content.iter_any():
                    self.events += chunk.count(b"\n")
                    if self.events >= self.target:
                        self._reach()
                    if sample:
                        partial = self._sample(partial + chunk)
            self.ended += 1
        except asyncio.CancelledError:
            raise
        except Exception:
            if opened.done():
                self.ended += 1
            else:
                self.failed += 1
                opened.set_result(False)

    def _sample(self, data: bytes) -> bytes:
        """Record the delivery lag of each complete ADDED event in `data`; returns the unfinished tail."""
        *lines, rest = data.split(b"\n")
        now = time.monotonic()
        for line in lines:
            event = orjson.loads(line)
            if event.get("type") == "ADDED":
                annotations = event["object"]["metadata"].get("annotations") or {}
                scheduled = annotations.get(SCHEDULED_ANNOTATION)
                if scheduled:
                    self.lags.append(now - float(scheduled))
        return rest

    def _reach(self) -> None:
        self.target = sys.maxsize
        if self.reached is not None and not self.reached.done():
            self.reached.set_result(time.monotonic())

    async def wait_for(self, target: int, timeout: float) -> float | None:
        """time.monotonic() when the total reached `target`, None on timeout."""
        if self.events >= target:
            return time.monotonic()
        self.reached = asyncio.get_running_loop().create_future()
        self.target = target
        try:
            return await asyncio.wait_for(self.reached, timeout)
        except TimeoutError:
            return None
        finally:
            self.target = sys.maxsize

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []


async def _watcher_loop(conn: multiprocessing.connection.Connection, creds: Credentials) -> None:
    commands: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    loop.add_reader(conn.fileno(), lambda: commands.put_nowait(conn.recv()))
    async with open_session(creds, limit=0) as session:
        fleet = WatchFleet(session)
        while True:
            command, *args = await commands.get()
            if command == "open":
                reply: Any = await fleet.open(*args)
            elif command == "count":
                reply = (fleet.events, fleet.ended, fleet.failed, len(fleet.tasks))
            elif command == "lags":
                reply, fleet.lags = fleet.lags, []
            elif command == "wait":
                reply = await fleet.wait_for(*args)
            elif command == "close":
                await fleet.close()
                reply = True
            else:
                break
            conn.send(reply)
        await fleet.close()
    loop.remove_reader(conn.fileno())


def watcher_process(conn: multiprocessing.connection.Connection, creds: Credentials) -> None:
    """Entry point of the watcher process: serve commands from `conn` until told to exit."""
    _run(_watcher_loop(conn, creds))


class Watchers:
    """The main process's handle on the watcher process."""

    def __init__(self, creds: Credentials):
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=watcher_process, args=(child, creds), daemon=True, name="bench-watchers")
        self.process.start()
        child.close()

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    async def call(self, *command: Any) -> Any:
        self.conn.send(command)
        return await asyncio.to_thread(self.conn.recv)

    async def events(self) -> int:
        events, _, _, _ = await self.call("count")
        return int(events)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(("exit",))
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


# ---------------------------------------------------------------------------- open-loop load
def percentile(samples: list[float], fraction: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


@dataclass
class Recorder:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    first_error: dict[str, str] = field(default_factory=dict)
    max_in_flight: int = 0
    in_flight: int = 0

    def record(self, verb: str, latency: float, error: str | None) -> None:
        self.latencies.setdefault(verb, []).append(latency)
        if error is not None:
            self.errors[verb] = self.errors.get(verb, 0) + 1
            self.first_error.setdefault(verb, error)

    def writes(self) -> list[float]:
        return [x for verb in ("create", "patch", "delete") for x in self.latencies.get(verb, [])]


class LoadClient:
    """Issues one request and records its latency from the time it was scheduled for."""

    def __init__(self, session: aiohttp.ClientSession, recorder: Recorder):
        self.session = session
        self.recorder = recorder

    async def request(
        self, verb: str, scheduled: float, method: str, url: str, expect: int, data: bytes | None = None, content_type: str = ""
    ) -> bool:
        recorder = self.recorder
        recorder.in_flight += 1
        recorder.max_in_flight = max(recorder.max_in_flight, recorder.in_flight)
        error: str | None = None
        try:
            headers = {"Content-Type": content_type} if content_type else None
            async with self.session.request(method, url, data=data, headers=headers) as resp:
                body = await resp.read()
                if resp.status != expect:
                    error = f"{resp.status} {body[:200]!r}"
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        recorder.in_flight -= 1
        recorder.record(verb, time.monotonic() - scheduled, error)
        return error is None


async def open_loop(rate: float, duration: float, start: float, launch: Callable[[int, float], Coroutine[Any, Any, object]]) -> float:
    """Call launch(tick, scheduled_time) as a task at start + tick/rate for `duration` seconds,
    never waiting for earlier calls (open loop). Times are time.monotonic() (the event loop's clock
    may have only millisecond resolution). Returns the largest dispatch delay seen."""
    tasks: set[asyncio.Task[object]] = set()
    worst = 0.0
    for tick in range(int(rate * duration)):
        scheduled = start + tick / rate
        delay = scheduled - time.monotonic()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        worst = max(worst, time.monotonic() - scheduled)
        task = asyncio.create_task(launch(tick, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    return worst


class WriteSchedule:
    """Writes in a steady rotation create, patch, delete: tick 3k creates object k, tick 3k+1
    patches object k-lag and tick 3k+2 deletes object k-2*lag, so each object lives ~2 lifetimes
    and every write targets an object whose previous write was scheduled earlier. Objects with a
    negative index are seeds, created (unmeasured) before the phase."""

    def __init__(self, client: LoadClient, prefix: str, rate: float):
        self.client = client
        self.prefix = prefix
        self.lag = max(1, round(OBJECT_LIFETIME * rate / 3))
        self.created: dict[int, asyncio.Future[None]] = {}
        self.patched: dict[int, asyncio.Future[None]] = {}
        self.writes_ok = 0

    def name(self, index: int) -> str:
        return f"{self.prefix}-{index}" if index >= 0 else f"{self.prefix}-s{-index}"

    def seed_names(self) -> list[str]:
        return [self.name(-i) for i in range(1, 2 * self.lag + 1)]

    def _future(self, table: dict[int, asyncio.Future[None]], index: int, exists_before: bool) -> asyncio.Future[None]:
        future = table.get(index)
        if future is None:
            future = table[index] = asyncio.get_running_loop().create_future()
            if exists_before:
                future.set_result(None)
        return future

    async def launch(self, tick: int, scheduled: float) -> None:
        kind, k = tick % 3, tick // 3
        if kind == 0:
            await self._create(k, scheduled)
        elif kind == 1:
            await self._patch(k - self.lag, scheduled)
        else:
            await self._delete(k - 2 * self.lag, scheduled)

    async def _create(self, index: int, scheduled: float) -> None:
        name = self.name(index)
        ok = await self.client.request(
            "create", scheduled, "POST", f"/api/v1/namespaces/{WRITE_NS}/configmaps", 201,
            configmap(WRITE_NS, name, index, scheduled), "application/json",
        )  # fmt: skip
        self.writes_ok += ok
        self._future(self.created, index, False).set_result(None)

    async def _patch(self, index: int, scheduled: float) -> None:
        await self._future(self.created, index, index < 0)  # seeds were created before the phase
        self.created.pop(index, None)
        body = b'{"data":{"index":"patched-%d"}}' % index
        url = f"/api/v1/namespaces/{WRITE_NS}/configmaps/{self.name(index)}"
        ok = await self.client.request("patch", scheduled, "PATCH", url, 200, body, MERGE_PATCH)
        self.writes_ok += ok
        self._future(self.patched, index, False).set_result(None)

    async def _delete(self, index: int, scheduled: float) -> None:
        await self._future(self.patched, index, index < -self.lag)  # the oldest seeds get no patch
        self.patched.pop(index, None)
        url = f"/api/v1/namespaces/{WRITE_NS}/configmaps/{self.name(index)}"
        ok = await self.client.request("delete", scheduled, "DELETE", url, 200)
        self.writes_ok += ok


# ---------------------------------------------------------------------------- phases
@dataclass
class PhaseResult:
    rate: int
    recorder: Recorder
    seconds: float
    writes_ok: int
    events: int
    events_per_s: float
    delivery_tail_s: float | None  # after the last write: time until every expected event arrived
    missing_events: int
    cpu: dict[str, float]
    dispatch_lag_ms: float
    watch_ended: int
    watch_lags: list[float]  # create's scheduled time -> its ADDED event read by a watcher


async def load_phase(
    session: aiohttp.ClientSession, watchers: Watchers, rate: int, duration: float, cpu: CpuMeter, watcher_count: int
) -> PhaseResult:
    recorder = Recorder()
    client = LoadClient(session, recorder)
    writes = WriteSchedule(client, f"r{rate}", rate)
    before = await watchers.events()
    seeds = writes.seed_names()
    await create_many(session, WRITE_NS, seeds)
    await watchers.call("wait", before + len(seeds) * watcher_count, 10.0)
    _, ended_before, _, _ = await watchers.call("count")

    events_start = await watchers.events()
    await watchers.call("lags")  # forget the seeds'
    cpu.start()
    start = time.monotonic() + 0.05

    async def get(tick: int, scheduled: float) -> None:
        name = f"l-{random.randrange(LIST_OBJECTS)}"
        await client.request("get", scheduled, "GET", f"/api/v1/namespaces/{LIST_NS}/configmaps/{name}", 200)

    async def list_(tick: int, scheduled: float) -> None:
        await client.request("list", scheduled, "GET", f"/api/v1/namespaces/{LIST_NS}/configmaps", 200)

    lags = await asyncio.gather(
        open_loop(rate, duration, start, writes.launch),
        open_loop(GETS_PER_S, duration, start, get),
        open_loop(LISTS_PER_S, duration, start, list_),
    )
    finished = time.monotonic()
    events_end = await watchers.events()
    usage = cpu.read()
    seconds = finished - start
    expected = events_start + writes.writes_ok * watcher_count
    reached = await watchers.call("wait", expected, 10.0)  # time.monotonic() in the watcher process
    delivered_all = await watchers.events()
    tail = None if reached is None else max(0.0, reached - finished)
    _, ended_after, _, _ = await watchers.call("count")
    watch_lags = await watchers.call("lags")
    return PhaseResult(
        rate=rate,
        recorder=recorder,
        seconds=seconds,
        writes_ok=writes.writes_ok,
        events=events_end - events_start,
        events_per_s=(events_end - events_start) / seconds,
        delivery_tail_s=tail,
        missing_events=max(0, expected - delivered_all),
        cpu=usage,
        dispatch_lag_ms=max(lags) * 1e3,
        watch_ended=ended_after - ended_before,
        watch_lags=watch_lags,
    )


@dataclass
class FanoutResult:
    watchers: int
    opened: int
    writes: int
    write_seconds: float
    deliver_seconds: float | None
    events: int
    cpu: dict[str, float]


async def fanout_phase(session: aiohttp.ClientSession, watchers: Watchers, count: int, cpu: CpuMeter) -> FanoutResult:
    namespace = f"fanout-{count}"
    await ensure_namespace(session, namespace)
    await watchers.call("close")
    revision = await list_revision(session, namespace)
    opened = await watchers.call("open", namespace, count, revision)
    before = await watchers.events()
    cpu.start()
    started = time.monotonic()
    ok = await create_many(session, namespace, [f"f-{i}" for i in range(FANOUT_WRITES)], FANOUT_CONCURRENCY)
    written = time.monotonic()
    reached = await watchers.call("wait", before + ok * opened, 60.0)
    usage = cpu.read()
    events = await watchers.events() - before
    await watchers.call("close")
    return FanoutResult(count, opened, ok, written - started, None if reached is None else reached - started, events, usage)


# ---------------------------------------------------------------------------- orchestration
@dataclass
class Report:
    datastore: str
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    start_failures: list[str] = field(default_factory=list)
    idle_rss_mb: float = float("nan")
    peak_rss_mb: float = float("nan")
    phases: list[PhaseResult] = field(default_factory=list)
    fanouts: list[FanoutResult] = field(default_factory=list)
    storage: dict[str, dict[str, Any]] = field(default_factory=dict)


def measure_starts(report: Report, scratch: Path, datastores: Datastores) -> None:
    """Cold starts on fresh data dirs, then warm restarts of the last one; a start that fails is
    reported (its last output lines) and the rest of the bench goes on."""
    for label, data_dirs, samples in (
        ("cold start", [scratch / f"cold-{i}" for i in range(STARTS)], report.cold),
        ("warm restart", [scratch / f"cold-{STARTS - 1}"] * STARTS, report.warm),
    ):
        for i, data_dir in enumerate(data_dirs):
            try:
                server = spawn_server(data_dir, datastores.spec(data_dir))
            except RuntimeError as exc:
                lines = str(exc).strip().splitlines() or [str(exc)]
                reason = next((line for line in reversed(lines) if "Error" in line), lines[-1]).strip()
                report.start_failures.append(f"{label} {i + 1}: {reason}")
                print(f"{label} {i + 1}: FAILED to become ready: {reason}", flush=True)
                continue
            samples.append(server.ready_seconds)
            stop_server(server)
            print(f"{label} {i + 1}: ready in {server.ready_seconds:.3f} s", flush=True)


def _cpu_text(cpu: dict[str, float]) -> str:
    return ", ".join(f"{name} {value * 100:.0f}%" for name, value in cpu.items())


def _saturation_note(cpu: dict[str, float]) -> str:
    clients = ("loadgen", "watchers")
    notes = [f"{name} saturated its core" for name, value in cpu.items() if name in clients and value >= CLIENT_SATURATED]
    if sum(cpu.values()) >= 1.9:
        notes.append("the machine's 2 cores were saturated")
    return ("  NOTE: " + "; ".join(notes)) if notes else ""


def print_phase(result: PhaseResult) -> None:
    rec = result.recorder
    print(f"--- {result.rate} writes/s offered for {result.seconds:.1f} s, {WATCHERS} watchers ---")
    for verb in ("create", "get", "patch", "delete", "list"):
        samples = rec.latencies.get(verb, [])
        errors = rec.errors.get(verb, 0)
        line = f"{verb:7} n={len(samples):5}  p50 {percentile(samples, 0.5) * 1e3:8.2f} ms  p99 {percentile(samples, 0.99) * 1e3:8.2f} ms  errors {errors}"
        if errors:
            line += f"  (first: {rec.first_error[verb]})"
        print(line)
    writes = rec.writes()
    print(
        f"writes  n={len(writes):5}  p50 {percentile(writes, 0.5) * 1e3:8.2f} ms  p99 {percentile(writes, 0.99) * 1e3:8.2f} ms"
        f"  achieved {result.writes_ok / result.seconds:.0f} writes/s ok"
    )
    tail = "never (10 s)" if result.delivery_tail_s is None else f"{result.delivery_tail_s:.2f} s"
    print(
        f"watch   {result.events_per_s:,.0f} events/s delivered during the phase ({result.events:,} events);"
        f" all delivered {tail} after the last write; missing {result.missing_events:,}; streams closed by server {result.watch_ended}"
    )
    lags = result.watch_lags
    print(
        f"watch   create scheduled -> ADDED read by a watcher: n={len(lags)}  p50 {percentile(lags, 0.5) * 1e3:.2f} ms"
        f"  p99 {percentile(lags, 0.99) * 1e3:.2f} ms"
    )
    print(
        f"cpu     {_cpu_text(result.cpu)} of one core; client dispatch lag max {result.dispatch_lag_ms:.1f} ms;"
        f" max in flight {rec.max_in_flight}" + _saturation_note(result.cpu),
        flush=True,
    )


async def measure_api(
    report: Report, scratch: Path, datastores: Datastores, rates: tuple[int, ...], duration: float
) -> None:
    data_dir = scratch / "load"
    server = spawn_server(data_dir, datastores.spec(data_dir))
    etcd_pid = datastores.pid(data_dir)
    watchers: Watchers | None = None
    try:
        print(f"load server ready in {server.ready_seconds:.3f} s; idling {IDLE_SECONDS:.0f} s", flush=True)
        await asyncio.sleep(IDLE_SECONDS)
        report.idle_rss_mb = proc_status_mb(server.pid, "VmRSS")
        print(f"idle RSS {report.idle_rss_mb:.1f} MB", flush=True)

        creds = read_credentials(server.data_dir)
        watchers = Watchers(creds)
        pids: dict[str, int | None] = {"server": server.pid, "loadgen": None, "watchers": watchers.pid}
        if etcd_pid is not None:
            pids["etcd"] = etcd_pid
        cpu = CpuMeter(pids)
        async with open_session(creds, limit=256) as session:
            for namespace in (WRITE_NS, LIST_NS):
                await ensure_namespace(session, namespace)
            await create_many(session, LIST_NS, [f"l-{i}" for i in range(LIST_OBJECTS)])
            revision = await list_revision(session, WRITE_NS)
            opened = await watchers.call("open", WRITE_NS, WATCHERS, revision)
            print(f"{opened} watches open on {WRITE_NS}/configmaps", flush=True)
            for rate in rates:
                result = await load_phase(session, watchers, rate, duration, cpu, opened)
                report.phases.append(result)
                print_phase(result)
            for count in FANOUT_WATCHERS:
                fan = await fanout_phase(session, watchers, count, cpu)
                report.fanouts.append(fan)
                rate_text = "not all delivered in 60 s" if fan.deliver_seconds is None else f"{fan.events / fan.deliver_seconds:,.0f} events/s"
                print(
                    f"fan-out {fan.opened}/{fan.watchers} watchers, {fan.writes} creates in {fan.write_seconds:.2f} s"
                    f" ({fan.writes / fan.write_seconds:.0f}/s): {fan.events:,} events, {rate_text};"
                    f" cpu {_cpu_text(fan.cpu)}" + _saturation_note(fan.cpu),
                    flush=True,
                )
        report.peak_rss_mb = proc_status_mb(server.pid, "VmHWM")
    finally:
        if watchers is not None:
            watchers.stop()
        stop_server(server)


def measure_storage(report: Report) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    storage_bench = importlib.import_module("bench.storage")
    report.storage = storage_bench.measure_backends()
    for name, figures in report.storage.items():
        if "error" in figures:
            print(f"storage {name}: not measured: {figures['error']}")
            continue
        print(f"storage {name:13} " + ", ".join(f"{key} {value:.1f}" for key, value in figures.items()), flush=True)


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def summary_rows(report: Report) -> Iterator[tuple[str, str, str, str]]:
    for label, samples in (("cold", report.cold), ("warm", report.warm)):
        if samples:
            median = statistics.median(samples)
            spread = f"(min {min(samples):.2f}, max {max(samples):.2f})"
            yield f"start->ready {label} (median of {len(samples)})", f"{median:.3f} s", "<= 1.5 s", f"{_verdict(median <= 1.5)} {spread}"
    if report.start_failures:
        first = report.start_failures[0]
        yield "starts that FAILED", f"{len(report.start_failures)} of {2 * STARTS}", "0", first[:160]
    yield "idle RSS after 5 s", f"{report.idle_rss_mb:.1f} MB", "<= 100 MB", _verdict(report.idle_rss_mb <= 100)
    yield "peak RSS (VmHWM) after load", f"{report.peak_rss_mb:.1f} MB", "-", ""
    for phase in report.phases:
        rec = phase.recorder
        writes = rec.writes()
        p99 = percentile(writes, 0.99) * 1e3
        upstream = UPSTREAM_P99_MS.get(phase.rate)
        target = f"< {upstream:.0f} ms (kind)" if upstream else "-"
        yield f"{phase.rate} w/s: write p99", f"{p99:.1f} ms", target, _verdict(p99 < upstream) if upstream else ""
        for verb in ("create", "get", "patch", "delete", "list"):
            samples = rec.latencies.get(verb, [])
            yield (
                f"{phase.rate} w/s: {verb} p50 / p99",
                f"{percentile(samples, 0.5) * 1e3:.1f} / {percentile(samples, 0.99) * 1e3:.1f} ms",
                "-",
                f"{rec.errors.get(verb, 0)} errors" if rec.errors.get(verb) else "",
            )
        upstream_events = UPSTREAM_EVENTS_PER_S.get(phase.rate)
        # at 200 writes/s kind delivered everything (100 x 200); matching that within 1% is a pass
        verdict = _verdict(phase.events_per_s >= 0.99 * upstream_events) if upstream_events else ""
        yield (
            f"{phase.rate} w/s: watch events/s ({WATCHERS} w.)",
            f"{phase.events_per_s:,.0f}",
            f">= {upstream_events:,.0f} (kind)" if upstream_events else "-",
            f"{verdict} (missing {phase.missing_events})",
        )
        lags = phase.watch_lags
        yield (
            f"{phase.rate} w/s: watch delivery p50 / p99",
            f"{percentile(lags, 0.5) * 1e3:.1f} / {percentile(lags, 0.99) * 1e3:.1f} ms",
            "-",
            "create scheduled -> ADDED read",
        )
        yield f"{phase.rate} w/s: cpu (1 core = 100%)", _cpu_text(phase.cpu), "-", _saturation_note(phase.cpu).strip()
    for fan in report.fanouts:
        value = "incomplete" if fan.deliver_seconds is None else f"{fan.events / fan.deliver_seconds:,.0f} events/s"
        yield f"fan-out {fan.watchers} watchers x {fan.writes}", value, "-", _saturation_note(fan.cpu).strip()
    for name in ("sqlite", "sqlite+fsync", "etcd"):
        figures = report.storage.get(name)
        if not figures or "error" in figures:
            continue
        yield (
            f"storage {name} puts/s seq / 16 writers",
            f"{figures['puts_per_s_sequential']:,.0f} / {figures['puts_per_s_16_writers']:,.0f}",
            "-",
            "",
        )


def print_summary(report: Report) -> None:
    rows = list(summary_rows(report))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print()
    print(f"=== kubelite API bench summary (datastore {report.datastore}, {os.cpu_count()} CPUs) ===")
    header = ("figure", "kubelite", "target / upstream", "")
    for row in (header, *rows):
        print(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}".rstrip())


def _run(coro: Awaitable[Any]) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    return uvloop.run(coro)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--datastore", choices=("sqlite", "etcd"), default="sqlite")
    parser.add_argument("--duration", type=float, default=PHASE_SECONDS, help="seconds per load phase")
    parser.add_argument("--rates", default=",".join(map(str, RATES)), help="offered writes/s per phase")
    parser.add_argument("--skip-starts", action="store_true")
    parser.add_argument("--skip-storage", action="store_true")
    args = parser.parse_args(argv)
    rates = tuple(int(r) for r in args.rates.split(",") if r)
    report = Report(args.datastore)
    began = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="kubelite-apibench-"))
    datastores = Datastores(args.datastore, scratch)
    try:
        if not args.skip_starts:
            measure_starts(report, scratch, datastores)
        _run(measure_api(report, scratch, datastores, rates, args.duration))
    finally:
        datastores.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    if not args.skip_storage:
        measure_storage(report)
    print_summary(report)
    print(f"(bench took {time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
