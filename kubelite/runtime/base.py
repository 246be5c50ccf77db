"""The `Runtime` protocol a kubelet drives, shaped after the CRI (sandbox = the pod's network
namespace and IP, containers started into it), and the plain records it answers with.

The kubelet decides *what* should run (desired state from the pod spec, restart policy, backoff,
deletion); a runtime only does what it is told and reports what is. Every call is idempotent and
keyed by the pod's uid, so a kubelet that restarts can rebuild its view from `list_pods()`.

Must not read or write the API, decide restart policy, or compute pod phase/conditions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

Obj = dict[str, Any]
ContainerPhase = Literal["waiting", "running", "terminated"]


class TimeSource(Protocol):
    """The part of the kubelet's clock a runtime may use (kubelite.client's clocks satisfy it)."""

    def time(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any: ...


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    pod_uid: str
    ip: str  # the pod's IP ("" for hostNetwork pods: the kubelet then reports the node's IP)
    created_at: float  # wall-clock seconds


@dataclass(frozen=True, slots=True)
class ContainerStatus:
    """One container as the runtime sees it. `restart_count` counts starts after the first."""

    name: str
    container_id: str  # "<runtime>://<id>", as containerStatuses[].containerID
    image: str
    image_id: str
    state: ContainerPhase
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    reason: str = ""  # for terminated: Completed, Error, OOMKilled, ...
    message: str = ""
    restart_count: int = 0


@dataclass(frozen=True, slots=True)
class PodStatus:
    """A pod the runtime knows: its sandbox and containers (latest attempt of each)."""

    pod_uid: str
    namespace: str
    name: str
    sandbox: SandboxStatus
    containers: tuple[ContainerStatus, ...] = ()

    def container(self, name: str) -> ContainerStatus | None:
        for status in self.containers:
            if status.name == name:
                return status
        return None


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What the kubelet reports as status.nodeInfo (besides its own version and ids)."""

    os_image: str
    kernel_version: str
    container_runtime_version: str  # "<name>://<version>", e.g. "containerd://1.7.27"
    operating_system: str = "linux"
    architecture: str = "amd64"


@dataclass(frozen=True, slots=True)
class ContainerUsage:
    """One running container's resource usage, as cadvisor reports it to the kubelet."""

    pod_uid: str
    namespace: str
    pod: str
    name: str
    cpu_seconds: float  # cumulative CPU time since the container started, in core-seconds
    memory_working_set: int  # bytes: usage minus inactive file pages
    started_at: float  # wall-clock seconds


@dataclass(frozen=True, slots=True)
class ResourceUsage:
    """The node's and its running containers' usage at `timestamp` (wall-clock seconds)."""

    timestamp: float
    node_cpu_seconds: float  # cumulative CPU time of the whole node, in core-seconds
    node_memory_working_set: int
    containers: tuple[ContainerUsage, ...] = ()


class UsageSource(Protocol):
    """What a runtime that can measure its containers offers next to `Runtime` (the OCI runtime
    from cgroups, the hollow runtime synthetic numbers): the kubelet's /metrics/resource."""

    async def resource_usage(self) -> ResourceUsage:
        """Cumulative CPU and working-set memory of every running container and of the node."""
        ...


@runtime_checkable
class PullReporter(Protocol):
    """What a runtime whose container start pulls the image offers next to `Runtime`: it calls
    every listener with (pod uid, container name, seconds the pull took) when a start pulled the
    container's image — synchronously, before that `start_container` returns or raises — so the
    kubelet's Pulled event can say how long the pull itself took."""

    def on_image_pulled(self, listener: Callable[[str, str, float], None]) -> None: ...


class Runtime(Protocol):
    async def update_pod_cidr(self, cidr: str) -> None:
        """The node's podCIDR became known (CRI UpdateRuntimeConfig): sandboxes take IPs from it.
        Called before the first `run_pod_sandbox`."""
        ...

    async def run_pod_sandbox(self, pod: Obj) -> SandboxStatus:
        """Create the pod's sandbox (network namespace, IP from the pod CIDR) or return the
        existing one for pod.metadata.uid."""
        ...

    async def start_container(self, pod: Obj, container: Obj) -> ContainerStatus:
        """Start (or restart, counting it in restart_count) `container` (an entry of the pod's
        spec.initContainers or spec.containers) in the pod's sandbox. A container already running
        is left alone. Pulling the image is part of starting it."""
        ...

    async def stop_pod(self, pod: Obj, grace_seconds: int) -> None:
        """Stop every container of the pod: SIGTERM, then SIGKILL after grace_seconds. Containers
        end terminated; the sandbox (and its IP) stays until `remove_pod`."""
        ...

    async def remove_pod(self, pod_uid: str) -> None:
        """Forget the pod: remove its containers and sandbox, free its IP. Unknown uids are fine."""
        ...

    async def pod_status(self, pod_uid: str) -> PodStatus | None:
        """The pod's sandbox and containers now, or None when the runtime has no sandbox for it."""
        ...

    async def list_pods(self) -> list[PodStatus]:
        """Every pod the runtime holds (after a kubelet restart: what to adopt or clean up)."""
        ...

    def node_capacity(self) -> dict[str, str]:
        """Node capacity as quantities: cpu, memory, pods, ephemeral-storage, hugepages-*."""
        ...

    def node_info(self) -> NodeInfo: ...

    def subscribe(self, on_change: Callable[[str], None]) -> None:
        """Call on_change(pod_uid) (synchronously, on the loop; it must not block) whenever a
        container changes state on its own (exits, is OOM-killed), as the CRI's event stream."""
        ...
