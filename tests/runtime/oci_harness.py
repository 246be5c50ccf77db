"""Helpers for the OCI runtime tests (real runc, conmon, CNI plugins, cgroups; root): a network,
bridge, netns prefix and cgroup parent unique to the test run (so parallel runs never collide),
the test images imported into a fresh data dir, pod/container builders, HTTP from the host to a
pod IP, a check that a removed pod left nothing behind, and a clean-up that removes what the test
created — by PID and by the run's own names — even when a test failed half-way."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from kubelite.runtime.base import PodStatus
from kubelite.runtime.images.importer import import_archive
from kubelite.runtime.images.store import ImageStore
from kubelite.runtime.oci import cgroups, rootfs
from kubelite.runtime.oci.errors import RuntimeUnavailable
from kubelite.runtime.oci.host import HostSupport, check_host
from kubelite.runtime.oci.netns import NETNS_DIR
from kubelite.runtime.oci.runtime import OciOptions, OciRuntime

ROOT = Path(__file__).resolve().parent.parent.parent
TEST_IMAGES = ROOT / "build" / "test-images"
BUSYBOX = "kubelite.test/busybox:1"
WEB = "kubelite.test/web:1"
INSTALL_HINT = "run as root with runc, conmon and containernetworking-plugins installed (make system-packages)"

Obj = dict[str, Any]


@dataclass(frozen=True)
class RunNames:
    """Names and addresses that belong to one test run only."""

    number: int

    @property
    def bridge(self) -> str:
        return f"kubelite-t{self.number}"

    @property
    def cidr(self) -> str:
        return f"10.244.{self.number}.0/24"

    @property
    def gateway(self) -> str:
        return f"10.244.{self.number}.1"

    @property
    def netns_prefix(self) -> str:
        return f"klt{self.number}-"

    @property
    def cgroup_parent(self) -> str:
        return f"/kubelite-t{self.number}"


def _routes() -> str:
    return subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout


def unique_net() -> RunNames:
    """A number whose bridge, /24 and cgroup parent nobody on this machine uses."""
    routes = _routes()
    for _ in range(200):
        number = random.randint(20, 250)
        net = RunNames(number)
        if Path("/sys/class/net", net.bridge).exists() or f"10.244.{number}." in routes:
            continue
        if Path("/sys/fs/cgroup/memory", net.cgroup_parent.strip("/")).exists():
            continue
        return net
    raise AssertionError("no free test network number")


def require_host(data_dir: Path) -> HostSupport:
    try:
        return check_host(data_dir)
    except RuntimeUnavailable as exc:
        pytest.fail(f"OCI runtime tests need a host that can run containers: {exc} ({INSTALL_HINT})", pytrace=False)


def image_archives() -> Path:
    """build/test-images, built by `make test-images` (built here when missing)."""
    wanted = [TEST_IMAGES / name for name in ("busybox-1.tar", "web-1.tar")]
    if not all(path.exists() for path in wanted):
        subprocess.run([sys.executable, str(ROOT / "tools" / "build_test_images.py"), "--out", str(TEST_IMAGES)], check=True)
    return TEST_IMAGES


def store_with_test_images(data_dir: Path) -> ImageStore:
    store = ImageStore.for_data_dir(data_dir)
    directory = image_archives()
    for name in ("busybox-1.tar", "web-1.tar"):
        import_archive(store, directory / name)
    return store


def options(data_dir: Path, net: RunNames, **overrides: Any) -> OciOptions:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "cgroup_parent": net.cgroup_parent,
        "bridge": net.bridge,
        "network_name": net.bridge,
        "netns_prefix": net.netns_prefix,
        "kill_wait": 5.0,
    }
    values.update(overrides)
    return OciOptions(**values)


def make_runtime(data_dir: Path, net: RunNames, host: HostSupport, **overrides: Any) -> OciRuntime:
    return OciRuntime(options(data_dir, net, **overrides), host=host, image_store=ImageStore.for_data_dir(data_dir))


def container(name: str, image: str = BUSYBOX, script: str | None = None, **fields: Any) -> Obj:
    spec: Obj = {"name": name, "image": image, "imagePullPolicy": "Never"}
    if script is not None:
        spec["command"] = ["sh", "-c", script]
    spec.update(fields)
    return spec


def pod(name: str, *containers: Obj, namespace: str = "default", **spec: Any) -> Obj:
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4())},
        "spec": {"containers": list(containers), **spec},
    }


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


def http_get(ip: str, port: int = 80, path: str = "/", timeout: float = 3.0) -> str:
    """A plain HTTP/1.0 GET from the host (only to pod IPs the test created)."""
    with socket.create_connection((ip, port), timeout=timeout) as connection:
        connection.sendall(f"GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n".encode())
        chunks = []
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def log_text(runtime: OciRuntime, uid: str, name: str, attempt: int | None = None) -> str:
    path = runtime.container_log_path(uid, name, attempt)
    return path.read_text() if path.exists() else ""


def log_contents(runtime: OciRuntime, uid: str, name: str, attempt: int | None = None) -> list[str]:
    """The content of each CRI log line (timestamp, stream and tag removed)."""
    return [line.split(" ", 3)[3] if line.count(" ") >= 3 else "" for line in log_text(runtime, uid, name, attempt).splitlines()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def monitor_pids(data_dir: Path, uid: str = "*") -> set[int]:
    """conmon pids recorded in the data dir's bundles (of one pod, or of all)."""
    pids = set()
    for path in (data_dir / "oci" / "pods").glob(f"{uid}/containers/*/*/conmon.pid"):
        with contextlib.suppress(OSError, ValueError):
            pids.add(int(path.read_text().strip()))
    return pids


@dataclass(frozen=True)
class Footprint:
    """What a pod has on the machine, noted before removing it."""

    status: PodStatus
    monitors: set[int]  # conmon pids
    container_pids: set[int]
    veths: tuple[str, ...]  # host ends, from the CNI result


def footprint(runtime: OciRuntime, status: PodStatus) -> Footprint:
    data_dir = runtime.options.data_dir
    uid = status.pod_uid
    sandbox = orjson.loads((data_dir / "oci" / "pods" / uid / "sandbox.json").read_bytes())
    result = (sandbox.get("cni") or {}).get("result") or {}
    veths = tuple(str(i["name"]) for i in result.get("interfaces") or [] if "sandbox" not in i and i["name"] != runtime.options.bridge)
    return Footprint(status, monitor_pids(data_dir, uid), cgroups.processes(runtime.host.layout, sandbox["cgroup"]), veths)


def leftovers(runtime: OciRuntime, net: RunNames, before: Footprint) -> list[str]:
    """What a removed pod still has on the machine (empty when nothing)."""
    found = []
    uid = before.status.pod_uid
    for entry in os.listdir(NETNS_DIR) if NETNS_DIR.exists() else []:
        if entry.startswith(net.netns_prefix + uid.replace("-", "")[:8]):
            found.append(f"netns {entry}")
    found += [f"veth {name}" for name in before.veths if Path("/sys/class/net", name).exists()]
    data_dir = runtime.options.data_dir
    for directory in (data_dir / "oci" / "pods" / uid, data_dir / "pods" / uid):
        found += [f"mount {point}" for point in rootfs.mounts_under(directory)]
        if directory.exists():
            found.append(f"directory {directory}")
    layout = runtime.host.layout
    for qos in ("", "besteffort/", "burstable/"):
        found += [f"cgroup {directory}" for directory in cgroups.existing(layout, f"{net.cgroup_parent}/{qos}pod{uid}")]
    found += [f"process {pid}" for pid in before.monitors | before.container_pids if _alive(pid)]
    if before.status.sandbox.ip:
        ipam = data_dir / "oci" / "cni" / "networks" / net.bridge / before.status.sandbox.ip
        if ipam.exists():
            found.append(f"IP {before.status.sandbox.ip} still allocated")
    return found


async def wait_gone(pids: set[int], timeout: float = 5.0) -> None:
    """conmon exits just after writing the exit code: give it a moment."""
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def clean_up(runtime: OciRuntime | None, net: RunNames, data_dir: Path, host: HostSupport) -> None:
    """Remove what this test created: through the runtime first, then by force — processes by
    PID (in the run's cgroup parent and conmon pids from its bundles), mounts under its data
    dir, netns with its prefix, its bridge and cgroup parent."""
    if runtime is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runtime.reset_node(), 30)
        with contextlib.suppress(Exception):
            await runtime.close()
    for pid in cgroups.processes(host.layout, net.cgroup_parent) | monitor_pids(data_dir):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    for point in sorted(rootfs.mounts_under(data_dir), key=lambda p: len(str(p)), reverse=True):
        with contextlib.suppress(OSError):
            rootfs.unmount(point)
    if NETNS_DIR.exists():
        for entry in os.listdir(NETNS_DIR):
            if entry.startswith(net.netns_prefix):
                subprocess.run(["ip", "netns", "delete", entry], capture_output=True)
    remove_masquerade_rules(net.bridge)
    if Path("/sys/class/net", net.bridge).exists():
        subprocess.run(["ip", "link", "delete", net.bridge], capture_output=True)
    cgroups.remove(host.layout, net.cgroup_parent)


def remove_masquerade_rules(network_name: str) -> None:
    """The bridge plugin's nat rules and chains for this run's network (a DEL that could not run
    leaves them): found by the plugin's comment `name: "<network>"`."""
    rules = subprocess.run(["iptables", "-t", "nat", "-S", "POSTROUTING"], capture_output=True, text=True).stdout
    marker = f'name: \\"{network_name}\\"'
    for line in rules.splitlines():
        if marker not in line or not line.startswith("-A POSTROUTING"):
            continue
        words = shlex.split(line)
        chain = words[words.index("-j") + 1]
        subprocess.run(["iptables", "-t", "nat", "-D", *words[1:]], capture_output=True)
        if chain.startswith("CNI-"):
            subprocess.run(["iptables", "-t", "nat", "-F", chain], capture_output=True)
            subprocess.run(["iptables", "-t", "nat", "-X", chain], capture_output=True)
