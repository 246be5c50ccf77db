"""`PodRuntime`: the part of the kubelet's Runtime (runtime/base.py) the OCI and process runtimes
share — the pod/attempt record lifecycle around their own sandbox and container mechanics.

It owns: the options both take, the image store and puller, loading pods and attempts from disk
and adopting them on first use, the pod records and the per-pod lock, the start_container
sequence (the image pulled before the lock, attempt numbering, discarding older attempts and
logs), exit files becoming terminated statuses (Completed / Error / OOMKilled, the termination
message) announced to subscribers, a container whose monitor vanished ending as Error/255, the
stop sequence (stop signal, grace period, kill, kill_wait), the removal bookkeeping, status
building, resource usage from cgroups, the pods' /etc files.

A subclass supplies what differs, through the hooks below: setting up and tearing down a sandbox
(netns + CNI + tmpfs vs the host's network), preparing and launching an attempt (conmon + runc vs
the process monitor), signalling and killing a container, how a monitor is known to be alive.

Must not create namespaces, mounts or processes itself, talk to the API server, decide restarts
or back-off, or resolve env/volume sources (the kubelet passes container.env values and a
VolumePaths callable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic

from kubelite.runtime import containerlogs
from kubelite.runtime.attempts import (
    CREATED,
    EXITED,
    LOST_EXIT_CODE,
    MAX_TERMINATION_MESSAGE,
    RUNNING,
    START_ERROR_EXIT_CODE,
    A,
    Pod,
    container_status,
    safe_name,
)
from kubelite.runtime.base import (
    ContainerStatus,
    ContainerUsage,
    NodeInfo,
    PodStatus,
    ResourceUsage,
    SandboxStatus,
    TimeSource,
)
from kubelite.runtime.images.ensure import ImageUnavailable, ensure_image
from kubelite.runtime.images.puller import Puller
from kubelite.runtime.images.registries import RegistryConfig
from kubelite.runtime.images.store import ImageRecord, ImageStore
from kubelite.runtime.oci import cgroups, podfiles, spec, usage
from kubelite.runtime.oci.errors import ContainerStartError
from kubelite.runtime.oci.exits import ExitWatcher, read_exit_code
from kubelite.runtime.oci.host import node_capacity
from kubelite.runtime.oci.rootfs import read_image_file
from kubelite.runtime.oci.volumes import LocalVolumePaths, VolumePaths, bind_mounts
from kubelite.runtime.podstate import (
    CONTAINER_FILE,
    PodStateLayout,
    attempt_number,
    attempts,
    read_json,
    write_json,
)

Obj = dict[str, Any]
PullSecrets = Callable[[Obj], Awaitable[Sequence[Obj]]]  # a pod -> its decoded imagePullSecrets
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PodRuntimeOptions:
    """What both runtimes are configured with; each runtime's options add their own fields."""

    data_dir: Path
    cgroup_parent: str = "/kubelite"
    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    node_resolv_conf: Path = Path("/etc/resolv.conf")
    node_hosts: Path = Path("/etc/hosts")
    max_pods: int = 110
    log_max_size: int = containerlogs.DEFAULT_MAX_SIZE
    log_max_files: int = containerlogs.DEFAULT_MAX_FILES
    kill_wait: float = 10.0  # seconds to wait for a SIGKILLed container's exit to be recorded
    registries: Path | None = None  # a k3s-style registries.yaml (mirrors, credentials); missing: none


class WallClock:
    def time(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)


@dataclass(frozen=True)
class ContainerInputs:
    """What a container's attempt is made of, from the pod, the container and its image."""

    image_config: Obj
    layers: list[Path]
    user: spec.User
    argv: list[str]
    env: list[str]
    cwd: str
    volume_mounts: list[spec.BindMount]


def read_only_root(container: Obj) -> bool:
    return bool((container.get("securityContext") or {}).get("readOnlyRootFilesystem"))


class PodRuntime(ABC, Generic[A]):
    options: PodRuntimeOptions
    layout: PodStateLayout
    _info: NodeInfo  # set by the subclass
    lost_message: ClassVar[str]  # why a container whose monitor vanished ended as Error/255
    removal_error: ClassVar[type[Exception]] = RuntimeError  # what a failed remove_pod/reset_node raises
    discard_errors: ClassVar[tuple[type[Exception], ...]] = ()  # collected (not raised at once) by remove_pod

    def __init__(
        self,
        options: PodRuntimeOptions,
        layout: PodStateLayout,
        *,
        image_store: ImageStore | None,
        puller: Puller | None,
        volume_paths: VolumePaths | None,
        pull_secrets: PullSecrets | None,
        time_source: TimeSource | None,
    ) -> None:
        self.options = options
        self.layout = layout
        self.layout.create()
        self.images = image_store or ImageStore.for_data_dir(options.data_dir)
        self._own_puller = puller is None
        self.puller = puller or Puller(self.images, RegistryConfig.load(options.registries) if options.registries else None)
        self.volume_paths: VolumePaths = volume_paths or LocalVolumePaths(self.layout.volumes_dir)
        self.pull_secrets = pull_secrets
        self.time_source: TimeSource = time_source or WallClock()
        self._pods: dict[str, Pod[A]] = {}
        self._by_id: dict[str, tuple[str, str]] = {}  # container id -> (pod uid, container name)
        self._listeners: list[Callable[[str], None]] = []
        self._pull_listeners: list[Callable[[str, str, float], None]] = []
        self._watcher = ExitWatcher(self.layout.exits, self._on_exit_file)
        self._loaded = False
        self._load_lock: asyncio.Lock | None = None

    # ------------------------------------------------------------------ hooks
    @property
    @abstractmethod
    def cgroup_layout(self) -> cgroups.CgroupLayout | None:
        """The node's cgroup hierarchies, or None where this runtime has no cgroups."""

    @abstractmethod
    def _make_attempt(self, record: Obj, directory: Path) -> A: ...

    @abstractmethod
    def _remove_tree(self, path: Path) -> None:
        """Remove a directory tree, ignoring errors."""

    def _remove_unrecorded_pod(self, uid: str) -> None:
        """A pod directory without sandbox.json (nothing else of the pod was made yet)."""
        self._remove_tree(self.layout.pod_dir(uid))

    @abstractmethod
    async def _adopt_created(self, attempt: A) -> None:
        """An attempt the previous runtime was still launching: running, never started, or gone."""

    def _on_loaded(self) -> None:
        """Start background work once the pods are loaded."""

    async def _close_background(self) -> None:
        """Stop what _on_loaded started."""

    def _reuse_sandbox(self, held: Pod[A]) -> bool:
        """True when a ready sandbox is whole and returned as is, without the pod's lock; False
        rechecks under the lock (a hook may first mark the sandbox to be set up again)."""
        return False

    @abstractmethod
    def _own_uts(self, host_network: bool) -> bool:
        """Whether a pod's containers get a hostname of their own."""

    @abstractmethod
    def _sandbox_fields(self, pod: Obj, uid: str, host_network: bool) -> Obj:
        """The runtime's own fields of a new sandbox.json (its cgroup, netns, IP, ...)."""

    @abstractmethod
    async def _set_up_sandbox(self, pod: Obj, held: Pod[A]) -> None:
        """Make the sandbox; set sandbox["ready"] and save when done (called under the pod's lock)."""

    def _check_start(self, held: Pod[A], container: Obj) -> None:
        """Refuse a start (ContainerStartError) before an attempt is made (under the pod's lock)."""

    @abstractmethod
    async def _prepare(self, pod: Obj, held: Pod[A], container: Obj, image: ImageRecord, number: int) -> A:
        """A new attempt's directory and saved record (state CREATED)."""

    @abstractmethod
    async def _launch(self, held: Pod[A], attempt: A) -> None:
        """Start the attempt: RUNNING on success, else finished as StartError."""

    @abstractmethod
    async def _discard_attempt(self, directory: Path, record: Obj) -> None:
        """Remove an attempt's container, directory and exit file (not its log)."""

    @abstractmethod
    async def _send_stop_signal(self, attempt: A) -> bool:
        """Send the attempt's stop signal; False when there was nothing to signal."""

    @abstractmethod
    async def _kill(self, attempt: A) -> None:
        """SIGKILL every process of the attempt."""

    @abstractmethod
    async def _tear_down_pod(self, held: Pod[A]) -> list[str]:
        """After every container stopped: remove attempts and the sandbox; the errors met."""

    async def _reset_node_network(self) -> None:
        """Remove what pods' networks share on the node (reset_node, after every pod is gone)."""

    @abstractmethod
    def _monitor_watched(self, attempt: A, force: bool) -> bool:
        """Whether _check_monitor looks at this attempt at all."""

    @abstractmethod
    def _monitor_alive(self, attempt: A) -> bool:
        """Whether the process that will record the attempt's exit is still there."""

    def _on_exited(self, attempt: A) -> None:
        """Clean up after an attempt ended (its record is saved, before listeners hear of it)."""

    @abstractmethod
    def _container_id(self, record: Obj) -> str:
        """ContainerStatus.container_id: "<runtime>://<id>"."""

    # ------------------------------------------------------------------ lifecycle
    async def _ready(self) -> None:
        if self._loaded:
            return
        if self._load_lock is None:
            self._load_lock = asyncio.Lock()
        async with self._load_lock:
            if self._loaded:
                return
            self._load()
            self._watcher.start()
            for entry in sorted(os.listdir(self.layout.exits)):
                if not entry.startswith("."):
                    self._on_exit_file(entry)
            for held in self._pods.values():
                for attempt in held.containers.values():
                    if attempt.state == CREATED:
                        await self._adopt_created(attempt)
                    self._check_monitor(attempt)
            self._on_loaded()
            self._loaded = True

    async def close(self) -> None:
        """Stop watching (containers keep running; a new runtime over the data dir adopts them)."""
        self._watcher.close()
        await self._close_background()
        if self._own_puller:
            await self.puller.close()
        self._loaded = False

    def _load(self) -> None:
        for entry in sorted(os.listdir(self.layout.pods)):
            record = read_json(self.layout.sandbox_file(entry))
            if record is None:  # sandbox.json comes first: nothing else of this pod exists
                self._remove_unrecorded_pod(entry)
                continue
            held: Pod[A] = Pod(record)
            for name, numbers in attempts(self.layout.containers_dir(entry)).items():
                for number in reversed(numbers):
                    directory = self.layout.attempt_dir(entry, name, number)
                    container = read_json(directory / CONTAINER_FILE)
                    if container is not None:
                        attempt = self._make_attempt(container, directory)
                        if attempt.state == EXITED:
                            attempt.exited.set()
                        held.containers[name] = attempt
                        self._by_id[attempt.id] = (entry, name)
                        break
            self._pods[entry] = held

    # ------------------------------------------------------------------ sandboxes
    async def run_pod_sandbox(self, pod: Obj) -> SandboxStatus:
        await self._ready()
        uid = str(pod["metadata"]["uid"])
        if not safe_name(uid):
            raise ContainerStartError("CreateContainerConfigError", f"invalid pod uid {uid!r}")
        held = self._pods.get(uid)
        if held is not None and held.sandbox.get("ready") and self._reuse_sandbox(held):
            return self._sandbox_status(held)
        if held is None:
            held = self._new_pod(pod)
        async with held.lock:
            if not held.sandbox.get("ready"):
                await self._set_up_sandbox(pod, held)
        return self._sandbox_status(held)

    def _new_pod(self, pod: Obj) -> Pod[A]:
        meta = pod["metadata"]
        uid = str(meta["uid"])
        host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
        hostname, domain = podfiles.pod_hostname(pod, self.options.cluster_domain)
        record: Obj = {
            "uid": uid,
            "namespace": str(meta.get("namespace") or ""),
            "name": str(meta.get("name") or ""),
            "created_at": self.time_source.time(),
            "host_network": host_network,
            "ready": False,
            "hostname": hostname if self._own_uts(host_network) else "",
            "domain": domain,
            **self._sandbox_fields(pod, uid, host_network),
        }
        self.layout.pod_dir(uid).mkdir(parents=True, exist_ok=True)
        write_json(self.layout.sandbox_file(uid), record)
        held: Pod[A] = Pod(record)
        self._pods[uid] = held
        return held

    def _write_pod_files(self, pod: Obj, held: Pod[A], ip: str) -> None:
        """The pod's /etc/hostname, hosts (with `ip` for its hostname) and resolv.conf."""
        record = held.sandbox
        etc = self.layout.etc_dir(held.uid)
        etc.mkdir(parents=True, exist_ok=True)
        node_hosts = node_resolv = ""
        with contextlib.suppress(OSError):
            node_hosts = self.options.node_hosts.read_text()
        with contextlib.suppress(OSError):
            node_resolv = self.options.node_resolv_conf.read_text()
        hostname = record["hostname"] or os.uname().nodename
        dns = podfiles.pod_dns(pod, podfiles.parse_resolv_conf(node_resolv), self.options.cluster_dns, self.options.cluster_domain)
        files = {
            "hostname": hostname + "\n",
            "hosts": podfiles.hosts_file(pod, ip, hostname, record["domain"], node_hosts),
            "resolv.conf": podfiles.resolv_conf(dns),
        }
        for name, text in files.items():
            path = etc / name
            path.write_text(text)
            os.chmod(path, 0o644)

    def _sandbox_status(self, held: Pod[A]) -> SandboxStatus:
        return SandboxStatus(held.uid, str(held.sandbox.get("ip") or ""), float(held.sandbox["created_at"]))

    # ------------------------------------------------------------------ containers
    async def start_container(self, pod: Obj, container: Obj) -> ContainerStatus:
        await self._ready()
        uid = str(pod["metadata"]["uid"])
        held = self._pods.get(uid)
        if held is None or not held.sandbox.get("ready"):
            raise RuntimeError(f"pod {uid} has no sandbox")
        name = str(container["name"])
        if not safe_name(name):
            raise ContainerStartError("CreateContainerConfigError", f"invalid container name {name!r}")
        previous = held.containers.get(name)
        if previous is not None:
            self._check_monitor(previous)
            if previous.state != EXITED:
                return self._status(previous)
        image = await self._ensure_image(pod, container)  # a long pull must not hold the pod's lock
        async with held.lock:
            if self._pods.get(uid) is not held:
                raise RuntimeError(f"pod {uid} was removed")
            previous = held.containers.get(name)
            if previous is not None and previous.state != EXITED:
                return self._status(previous)
            self._check_start(held, container)
            number = 0 if previous is None else previous.number + 1
            if previous is not None:
                await self._discard_older(held, name, newest=previous.number)
            attempt = await self._prepare(pod, held, container, image, number)
            held.containers[name] = attempt
            self._by_id[attempt.id] = (uid, name)
            if previous is not None:
                await self._discard_attempt(previous.directory, previous.record)
            await self._launch(held, attempt)
            return self._status(attempt)

    async def _ensure_image(self, pod: Obj, container: Obj) -> ImageRecord:
        image = str(container.get("image") or "")
        secrets_ = list(await self.pull_secrets(pod)) if self.pull_secrets is not None else []
        try:
            ensured = await ensure_image(
                self.images, self.puller, image, str(container.get("imagePullPolicy") or ""), pull_secrets=secrets_
            )
        except ImageUnavailable as exc:
            raise ContainerStartError(exc.reason, exc.message) from None
        self.images.mark_used(ensured.record.id)
        if ensured.pulled:
            for listener in self._pull_listeners:
                listener(str(pod["metadata"]["uid"]), str(container["name"]), ensured.seconds)
        return ensured.record

    def _container_inputs(self, pod: Obj, held: Pod[A], container: Obj, image: ImageRecord) -> ContainerInputs:
        """The image's config and layers and what the container runs as, with what and where
        (raises ContainerStartError for a config the kubelet reports as waiting)."""
        image_config = self.images.image_config(image.id)
        layers = self.images.rootfs_layers(image.id)
        spec.check_non_root(pod, container, image_config)
        hostname = held.sandbox["hostname"] or os.uname().nodename
        user = spec.resolve_user(pod, container, image_config, read_image_file(layers, "etc/passwd"), read_image_file(layers, "etc/group"))
        argv = spec.process_args(container, image_config)
        env = spec.process_env(container, image_config, hostname)
        cwd = spec.working_dir(container, image_config)
        volume_mounts = bind_mounts(pod, container, self.volume_paths)
        return ContainerInputs(image_config, layers, user, argv, env, cwd, volume_mounts)

    def _new_attempt_dir(self, uid: str, name: str, number: int) -> Path:
        """An empty attempt directory (anything left by a start that failed half-way removed)
        holding the termination-message file."""
        directory = self.layout.attempt_dir(uid, name, number)
        self._remove_stale_attempt(directory)
        directory.mkdir(parents=True)
        termination_log = directory / "termination-log"
        termination_log.touch()
        os.chmod(termination_log, 0o666)
        return directory

    def _remove_stale_attempt(self, directory: Path) -> None:
        self._remove_tree(directory)

    def _pod_mounts(self, uid: str, container: Obj, volume_mounts: list[spec.BindMount], directory: Path) -> list[spec.BindMount]:
        """Every bind mount of a container: the pod's /etc files and /dev/shm, its volumes, the
        termination-message file."""
        etc = self.layout.etc_dir(uid)
        read_only = read_only_root(container)
        return [
            spec.BindMount("/etc/hostname", str(etc / "hostname"), read_only),
            spec.BindMount("/etc/hosts", str(etc / "hosts"), read_only),
            spec.BindMount("/etc/resolv.conf", str(etc / "resolv.conf"), read_only),
            spec.BindMount("/dev/shm", str(self.layout.shm_dir(uid))),
            *volume_mounts,
            spec.BindMount(str(container.get("terminationMessagePath") or spec.DEFAULT_TERMINATION_MESSAGE_PATH), str(directory / "termination-log")),
        ]

    # ------------------------------------------------------------------ stopping and removal
    async def stop_pod(self, pod: Obj, grace_seconds: int) -> None:
        await self._ready()
        held = self._pods.get(str(pod["metadata"]["uid"]))
        if held is None:
            return
        async with held.lock:
            await self._stop_all(held, grace_seconds)

    async def stop_container(self, pod_uid: str, name: str, grace_seconds: float) -> None:
        """Stop one container as stop_pod does (the kubelet's liveness restarts and failed
        postStart hooks); unknown pods or containers, or one already exited, are fine."""
        await self._ready()
        held = self._pods.get(pod_uid)
        attempt = held.containers.get(name) if held is not None else None
        if attempt is None or attempt.state == EXITED:
            return
        await self._stop(attempt, grace_seconds)

    async def _stop_all(self, held: Pod[A], grace_seconds: float) -> None:
        live = [attempt for attempt in held.containers.values() if attempt.state != EXITED]
        await asyncio.gather(*(self._stop(attempt, grace_seconds) for attempt in live))

    async def _stop(self, attempt: A, grace_seconds: float) -> None:
        """The stop signal and up to the grace period (none for 0), then SIGKILL and up to
        kill_wait; an exit nothing recorded by then ends the attempt as Error/255."""
        if grace_seconds > 0 and await self._send_stop_signal(attempt):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(attempt.exited.wait(), grace_seconds)
        if attempt.state == EXITED:
            return
        await self._kill(attempt)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(attempt.exited.wait(), self.options.kill_wait)
        if attempt.state != EXITED:
            self._check_monitor(attempt, force=True)

    async def remove_pod(self, pod_uid: str) -> None:
        await self._ready()
        held = self._pods.get(pod_uid)
        if held is None:
            self._remove_tree(self.layout.pod_dir(pod_uid))
            self._remove_tree(self.layout.log_dir(pod_uid))
            return
        async with held.lock:
            await self._stop_all(held, 0)
            errors = await self._tear_down_pod(held)
            if errors:
                raise self.removal_error(f"removing pod {pod_uid}: " + "; ".join(errors))
            for attempt in held.containers.values():
                self._by_id.pop(attempt.id, None)
            self._remove_tree(self.layout.log_dir(pod_uid))
            self._remove_tree(self.layout.pod_dir(pod_uid))
            self._pods.pop(pod_uid, None)

    async def _discard_attempts(self, pod_uid: str) -> list[str]:
        """Every attempt of the pod on disk (remove_pod); the errors of discard_errors' kinds."""
        errors: list[str] = []
        for name, numbers in attempts(self.layout.containers_dir(pod_uid)).items():
            for number in numbers:
                directory = self.layout.attempt_dir(pod_uid, name, number)
                try:
                    await self._discard_attempt(directory, read_json(directory / CONTAINER_FILE) or {})
                except self.discard_errors as exc:
                    errors.append(str(exc))
        return errors

    def _remove_pod_cgroup(self, held: Pod[A]) -> list[str]:
        layout = self.cgroup_layout
        if not held.sandbox.get("cgroup") or layout is None:
            return []
        left = cgroups.remove(layout, held.sandbox["cgroup"])
        return ["cgroups left: " + ", ".join(str(p) for p in left)] if left else []

    async def _discard_older(self, held: Pod[A], name: str, *, newest: int) -> None:
        """Remove attempts older than `newest` and their logs: only the latest dead one stays."""
        for number in attempts(self.layout.containers_dir(held.uid)).get(name, []):
            if number < newest:
                directory = self.layout.attempt_dir(held.uid, name, number)
                await self._discard_attempt(directory, read_json(directory / CONTAINER_FILE) or {})
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.layout.log_path(held.uid, name, 0).parent):
                number_of_log = attempt_number(entry.name)
                if number_of_log is not None and number_of_log < newest:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

    async def reset_node(self) -> None:
        """Remove every pod, then what pods share: their network pieces and the cgroup parent (a
        node's uninstall; tests use it to leave nothing behind)."""
        await self._ready()
        for uid in list(self._pods):
            await self.remove_pod(uid)
        await self._reset_node_network()
        layout = self.cgroup_layout
        if layout is not None:
            left = cgroups.remove(layout, self.options.cgroup_parent)
            if left:
                raise self.removal_error("cgroups left: " + ", ".join(str(p) for p in left))

    # ------------------------------------------------------------------ status
    async def pod_status(self, pod_uid: str) -> PodStatus | None:
        """None also while the sandbox is not set up (list_pods still shows such a pod, so a
        restarted kubelet can remove it)."""
        await self._ready()
        held = self._pods.get(pod_uid)
        return None if held is None or not held.sandbox.get("ready") else self._pod_status(held)

    async def list_pods(self) -> list[PodStatus]:
        await self._ready()
        return [self._pod_status(held) for held in list(self._pods.values())]

    def node_capacity(self) -> dict[str, str]:
        return node_capacity(self.options.data_dir, self.options.max_pods)

    def node_info(self) -> NodeInfo:
        return self._info

    def subscribe(self, on_change: Callable[[str], None]) -> None:
        self._listeners.append(on_change)

    def on_image_pulled(self, listener: Callable[[str, str, float], None]) -> None:
        """PullReporter: `listener(pod uid, container name, seconds)` after each pull a start made."""
        self._pull_listeners.append(listener)

    async def resource_usage(self) -> ResourceUsage:
        """UsageSource: the node's /proc and every running container's cgroup (a container whose
        cgroup vanished meanwhile is left out; none where there are no cgroups), read in a thread."""
        await self._ready()
        layout = self.cgroup_layout
        running = [
            (held.sandbox, attempt.record)
            for held in list(self._pods.values())
            for attempt in list(held.containers.values())
            if attempt.state == RUNNING and attempt.record.get("cgroup")
        ]

        def measure() -> ResourceUsage:
            now = self.time_source.time()
            node_cpu, node_memory = usage.read_node_usage()
            containers = []
            for sandbox, record in running if layout is not None else []:
                measured = usage.read_cgroup_usage(layout, record["cgroup"]) if layout is not None else None
                if measured is not None:
                    containers.append(ContainerUsage(
                        str(sandbox["uid"]), str(sandbox.get("namespace") or ""), str(sandbox.get("name") or ""),
                        str(record["name"]), measured[0], measured[1], float(record.get("started_at") or record["created_at"]),
                    ))
            return ResourceUsage(now, node_cpu, node_memory, tuple(containers))

        return await asyncio.to_thread(measure)

    def _status(self, attempt: A) -> ContainerStatus:
        return container_status(attempt, self._container_id(attempt.record))

    def _pod_status(self, held: Pod[A]) -> PodStatus:
        for attempt in held.containers.values():
            if attempt.state == RUNNING:
                self._check_monitor(attempt)
        return PodStatus(
            held.uid,
            str(held.sandbox.get("namespace") or ""),
            str(held.sandbox.get("name") or ""),
            self._sandbox_status(held),
            tuple(self._status(attempt) for attempt in held.containers.values()),
        )

    # ------------------------------------------------------------------ for the kubelet's streams
    def container_log_path(self, pod_uid: str, name: str, attempt: int | None = None) -> Path:
        """The CRI log of an attempt (the latest known one when None)."""
        if attempt is None:
            held = self._pods.get(pod_uid)
            latest = held.containers.get(name) if held is not None else None
            attempt = latest.number if latest is not None else 0
        return self.layout.log_path(pod_uid, name, attempt)

    def _running(self, pod_uid: str, name: str) -> A:
        held = self._pods.get(pod_uid)
        attempt = held.containers.get(name) if held is not None else None
        if attempt is None or attempt.state != RUNNING:
            raise ContainerStartError("ContainerNotRunning", f'container "{name}" is not running')
        return attempt

    # ------------------------------------------------------------------ exits
    def _on_exit_file(self, container_id: str) -> None:
        path = self.layout.exits / container_id
        owner = self._by_id.get(container_id)
        held = self._pods.get(owner[0]) if owner is not None else None
        attempt = held.containers.get(owner[1]) if held is not None and owner is not None else None
        if attempt is None or attempt.id != container_id:
            if owner is None and len(container_id) == 64:
                with contextlib.suppress(OSError):
                    path.unlink()  # a container this runtime no longer knows
            return
        if attempt.state != EXITED:
            code = read_exit_code(path)
            if code is None:
                return  # not complete yet
            try:
                finished = path.stat().st_mtime
            except OSError:
                finished = self.time_source.time()
            self._finish(attempt, code, finished)
        with contextlib.suppress(OSError):
            path.unlink()

    def _finish(self, attempt: A, code: int, finished_at: float, *, reason: str = "", message: str | None = None, notify: bool = True) -> None:
        record = attempt.record
        if not reason:
            layout = self.cgroup_layout
            oom = bool(record.get("cgroup")) and layout is not None and cgroups.oom_kills(layout, record["cgroup"]) > 0
            reason = "OOMKilled" if oom else ("Completed" if code == 0 else "Error")
        if message is None:
            message = self._termination_message(attempt, code)
        record.update(state=EXITED, exit_code=code, finished_at=finished_at, reason=reason, message=message)
        record.setdefault("started_at", finished_at)
        attempt.save()
        attempt.exited.set()
        self._on_exited(attempt)
        if notify:
            self._notify(str(record["pod_uid"]))

    def _start_failed(self, attempt: A, message: str) -> None:
        """An attempt that never ran ends as StartError (exit code 128, as containerd reports it)."""
        if attempt.state != EXITED:
            self._finish(attempt, START_ERROR_EXIT_CODE, self.time_source.time(), reason="StartError", message=message, notify=False)

    def _termination_message(self, attempt: A, code: int) -> str:
        text = ""
        with contextlib.suppress(OSError), open(attempt.directory / "termination-log", "rb") as handle:
            text = handle.read(MAX_TERMINATION_MESSAGE).decode(errors="replace")
        if not text and code != 0 and attempt.record.get("termination_message_policy") == "FallbackToLogsOnError":
            text = containerlogs.tail_message(Path(attempt.record["log"]))
        return text

    def _check_monitor(self, attempt: A, *, force: bool = False) -> None:
        """A running container whose monitor is gone (or any, with force): take its exit file if
        there is one, else end it with an unknown exit code (nothing will ever report it)."""
        if not self._monitor_watched(attempt, force):
            return
        if not force and self._monitor_alive(attempt):
            return
        self._on_exit_file(attempt.id)
        if attempt.state != EXITED:
            self._finish(attempt, LOST_EXIT_CODE, self.time_source.time(), reason="Error", message=self.lost_message)

    def _notify(self, pod_uid: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(pod_uid)
            except Exception:  # a listener's bug must not stop the others
                log.exception("runtime event listener failed")
