"""The hollow runtime: pods without containers, for simulated (KWOK-style) nodes. Sandboxes get
IPs from the node's pod CIDR; containers "start" at once and stay running, except that a
command the runtime can read as a short script of `sleep N`, `exit N`, `true` and `false`
(optionally under `sh -c`) ends after the slept seconds with that exit code, and a plain init
container (no restartPolicy Always) with any other command completes at once. Resource usage
(`resource_usage`, for `kubectl top` and the HPA) is synthetic: a steady rate per container.

Must not sleep for real or do any I/O: completions are timers on the injected time source.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import re
import time
from collections.abc import Callable
from typing import Any

from kubelite.runtime.base import (
    ContainerStatus,
    ContainerUsage,
    NodeInfo,
    Obj,
    PodStatus,
    ResourceUsage,
    SandboxStatus,
    TimeSource,
)
from kubelite.runtime.ipam import PodIPAM

RUNTIME_NAME = "hollow"
RUNTIME_VERSION = "0.1.0"
DEFAULT_CAPACITY = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
NODE_BASE_MILLICORES = 100  # what a hollow node itself uses, besides its containers
NODE_BASE_MEMORY = 256 * 1024 * 1024

_SHELLS = ("sh", "/bin/sh", "bash", "/bin/bash", "ash", "/bin/ash")
_STEP = re.compile(r"^(?:(sleep)\s+(\d+(?:\.\d+)?)|(exit)(?:\s+(\d+))?|(true)|(false))$")


class _LoopTime:
    def time(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)


def script_outcome(container: Obj) -> tuple[float, int] | None:
    """(seconds, exit code) when the container's command+args is a script the hollow runtime can
    play out; None when it would run until stopped."""
    argv = [str(part) for part in (container.get("command") or []) + (container.get("args") or [])]
    if len(argv) >= 3 and argv[0] in _SHELLS and argv[1] == "-c":
        steps = re.split(r";|&&|\n", argv[2])
    elif argv and argv[0] in ("sleep", "/bin/sleep") and len(argv) == 2:
        steps = [" ".join(argv)]
    else:
        return None
    seconds = 0.0
    for raw in steps:
        step = raw.strip()
        if not step:
            continue
        match = _STEP.match(step)
        if match is None:
            return None
        if match.group(1):
            seconds += float(match.group(2))
        elif match.group(3):
            return seconds, int(match.group(4) or 0)
        elif match.group(6):
            return seconds, 1
    return seconds, 0


def synthetic_usage(namespace: str, pod: str, container: str) -> tuple[int, int]:
    """(millicores, working-set bytes) a hollow container reports: 10-100m and 8-64Mi, fixed per
    namespace/pod/container so tests can predict them."""
    number = int(_digest(f"{namespace}/{pod}/{container}")[:12], 16)
    return 10 + number % 91, (8 + (number >> 8) % 57) * 1024 * 1024


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class _HollowPod:
    __slots__ = ("status", "timers")

    def __init__(self, status: PodStatus):
        self.status = status
        self.timers: dict[str, Any] = {}

    def cancel_timers(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()


class HollowRuntime:
    def __init__(
        self,
        *,
        capacity: dict[str, str] | None = None,
        time_source: TimeSource | None = None,
        os_image: str = "Hollow Linux",
        kernel_version: str = "6.1.0-hollow",
    ):
        self.capacity = {**DEFAULT_CAPACITY, **(capacity or {})}
        self.time_source: TimeSource = time_source or _LoopTime()
        self.info = NodeInfo(os_image, kernel_version, f"{RUNTIME_NAME}://{RUNTIME_VERSION}")
        self._ipam: PodIPAM | None = None
        self._pods: dict[str, _HollowPod] = {}
        self._listeners: list[Callable[[str], None]] = []
        self._node_cpu = 0.0  # the synthetic node's cumulative CPU seconds, integrated per reading
        self._node_cpu_at: float | None = None
        self._node_rate = NODE_BASE_MILLICORES / 1000

    # ------------------------------------------------------------------ Runtime
    async def update_pod_cidr(self, cidr: str) -> None:
        if self._ipam is not None and str(self._ipam.network) == cidr:
            return
        ipam = PodIPAM(cidr)
        for pod in self._pods.values():
            if pod.status.sandbox.ip:
                ipam.reserve(pod.status.pod_uid, pod.status.sandbox.ip)
        self._ipam = ipam

    async def run_pod_sandbox(self, pod: Obj) -> SandboxStatus:
        meta = pod["metadata"]
        uid = str(meta["uid"])
        existing = self._pods.get(uid)
        if existing is not None:
            return existing.status.sandbox
        ip = ""
        if not (pod.get("spec") or {}).get("hostNetwork"):
            if self._ipam is None:
                raise RuntimeError("the node has no pod CIDR yet")
            ip = self._ipam.allocate(uid)
        sandbox = SandboxStatus(uid, ip, self.time_source.time())
        self._pods[uid] = _HollowPod(PodStatus(uid, str(meta.get("namespace") or ""), str(meta["name"]), sandbox))
        return sandbox

    async def start_container(self, pod: Obj, container: Obj) -> ContainerStatus:
        uid = str(pod["metadata"]["uid"])
        held = self._pods.get(uid)
        if held is None:
            raise RuntimeError(f"pod {uid} has no sandbox")
        name = str(container["name"])
        previous = held.status.container(name)
        if previous is not None and previous.state == "running":
            return previous
        restarts = 0 if previous is None else previous.restart_count + 1
        image = str(container.get("image") or "")
        now = self.time_source.time()
        started = ContainerStatus(
            name=name,
            container_id=f"{RUNTIME_NAME}://{_digest(f'{uid}/{name}/{restarts}')}",
            image=image,
            image_id=f"sha256:{_digest(image)}",
            state="running",
            started_at=now,
            restart_count=restarts,
        )
        self._put(held, started)
        outcome = script_outcome(container)
        if outcome is None and self._is_plain_init(pod, name):
            outcome = (0.0, 0)
        if outcome is not None:
            seconds, code = outcome
            if seconds <= 0:  # ends at once (subscribers still hear of it)
                self._exit(uid, name, started.container_id, code)
                return held.status.container(name) or started
            held.timers[name] = self.time_source.call_later(seconds, lambda: self._exit(uid, name, started.container_id, code))
        return started

    async def stop_pod(self, pod: Obj, grace_seconds: int) -> None:
        held = self._pods.get(str(pod["metadata"]["uid"]))
        if held is None:
            return
        held.cancel_timers()
        now = self.time_source.time()
        for status in held.status.containers:
            if status.state != "terminated":
                self._put(held, self._terminated(status, now, 0))

    async def remove_pod(self, pod_uid: str) -> None:
        held = self._pods.pop(pod_uid, None)
        if held is not None:
            held.cancel_timers()
        if self._ipam is not None:
            self._ipam.release(pod_uid)

    async def pod_status(self, pod_uid: str) -> PodStatus | None:
        held = self._pods.get(pod_uid)
        return None if held is None else held.status

    async def list_pods(self) -> list[PodStatus]:
        return [held.status for held in self._pods.values()]

    def node_capacity(self) -> dict[str, str]:
        return dict(self.capacity)

    def node_info(self) -> NodeInfo:
        return self.info

    def subscribe(self, on_change: Callable[[str], None]) -> None:
        self._listeners.append(on_change)

    async def resource_usage(self) -> ResourceUsage:
        """UsageSource with synthetic, deterministic numbers: each running container uses a steady
        10-100m of CPU and 8-64Mi of memory picked from a hash of namespace/pod/container; the node
        adds a base of 100m and 256Mi to its containers' sum."""
        now = self.time_source.time()
        containers = []
        for held in self._pods.values():
            status = held.status
            for container in status.containers:
                if container.state != "running":
                    continue
                millicores, memory = synthetic_usage(status.namespace, status.name, container.name)
                started = container.started_at if container.started_at is not None else now
                containers.append(ContainerUsage(
                    status.pod_uid, status.namespace, status.name, container.name,
                    millicores / 1000 * max(now - started, 0.0), memory, started,
                ))
        if self._node_cpu_at is not None:  # integrate the node's rate since the last reading
            self._node_cpu += (now - self._node_cpu_at) * self._node_rate
        self._node_cpu_at = now
        self._node_rate = (NODE_BASE_MILLICORES + sum(synthetic_usage(c.namespace, c.pod, c.name)[0] for c in containers)) / 1000
        node_memory = NODE_BASE_MEMORY + sum(c.memory_working_set for c in containers)
        return ResourceUsage(now, self._node_cpu, node_memory, tuple(containers))

    # ------------------------------------------------------------------ internals
    @property
    def allocated_ips(self) -> int:
        return 0 if self._ipam is None else len(self._ipam)

    @staticmethod
    def _is_plain_init(pod: Obj, name: str) -> bool:
        for init in (pod.get("spec") or {}).get("initContainers") or []:
            if init.get("name") == name:
                return init.get("restartPolicy") != "Always"
        return False

    @staticmethod
    def _terminated(status: ContainerStatus, now: float, code: int) -> ContainerStatus:
        return dataclasses.replace(
            status, state="terminated", finished_at=now, exit_code=code, reason="Completed" if code == 0 else "Error"
        )

    @staticmethod
    def _put(held: _HollowPod, status: ContainerStatus) -> None:
        others = tuple(c for c in held.status.containers if c.name != status.name)
        held.status = dataclasses.replace(held.status, containers=(*others, status))

    def _exit(self, uid: str, name: str, container_id: str, code: int) -> None:
        held = self._pods.get(uid)
        if held is None:
            return
        held.timers.pop(name, None)
        status = held.status.container(name)
        if status is None or status.container_id != container_id or status.state != "running":
            return
        self._put(held, self._terminated(status, self.time_source.time(), code))
        for listener in self._listeners:
            listener(uid)
