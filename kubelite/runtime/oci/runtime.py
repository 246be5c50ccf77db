"""`OciRuntime`: the kubelet's Runtime (runtime/base.py) over real containers.

run_pod_sandbox: pod cgroup, named netns, CNI ADD (IP from host-local over the pod CIDR), the
pod's /etc files and /dev/shm. start_container: image per imagePullPolicy, a new attempt (bundle,
overlay rootfs, config.json), conmon + `runc create`, `runc start`. Exits arrive as conmon's exit
files (exits.py) and become terminated statuses (Completed / Error / OOMKilled, termination
message) announced to subscribers. stop_pod: the image's stop signal (SIGTERM), the grace period,
SIGKILL. remove_pod: every container, mount, the pod cgroup, CNI DEL, the netns, its files and
logs. Everything is on disk (state.py), so a new OciRuntime over the same data dir rebuilds
pod_status/list_pods, adopting running containers (their conmon kept going) and picking up exits
that happened meanwhile.

Must not talk to the API server, decide restarts or back-off, or resolve env/volume sources:
the kubelet does and passes the results (container.env values, a VolumePaths callable).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import os
import secrets
import shutil
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelite.runtime import containerlogs as logs
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
from kubelite.runtime.images.reference import InvalidReference, normalize_reference
from kubelite.runtime.images.store import ImageRecord, ImageStore
from kubelite.runtime.oci import cgroups, cni, masquerade, netns, podfiles, rootfs, spec, state, usage
from kubelite.runtime.oci.errors import ContainerStartError, OciCommandError
from kubelite.runtime.oci.exits import ExitWatcher, read_exit_code
from kubelite.runtime.oci.host import HostSupport, check_host, node_capacity, node_info
from kubelite.runtime.oci.resources import pod_cgroup_path, pod_limits
from kubelite.runtime.oci.runner import Runner, reopen_log
from kubelite.runtime.oci.volumes import LocalVolumePaths, VolumePaths, bind_mounts
from kubelite.runtime.procstat import process_start_time

Obj = dict[str, Any]
PullSecrets = Callable[[Obj], Sequence[Obj]]
log = logging.getLogger(__name__)

CREATED = "created"
RUNNING = "running"
EXITED = "exited"
START_ERROR_EXIT_CODE = 128
LOST_EXIT_CODE = 255
MAX_TERMINATION_MESSAGE = 4096


@dataclass(frozen=True)
class OciOptions:
    data_dir: Path
    cgroup_parent: str = "/kubelite"
    bridge: str = "kubelite0"
    network_name: str = "kubelite"
    netns_prefix: str = "kubelite-"
    oci_runtime: str = "auto"  # auto (crun where it starts, else runc), runc or crun
    cni_plugin_dirs: tuple[str, ...] = cni.DEFAULT_PLUGIN_DIRS
    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    node_resolv_conf: Path = Path("/etc/resolv.conf")
    node_hosts: Path = Path("/etc/hosts")
    pod_pids_limit: int = -1
    max_pods: int = 110
    shm_size: int = 64 * 1024 * 1024
    log_max_size: int = logs.DEFAULT_MAX_SIZE
    log_max_files: int = logs.DEFAULT_MAX_FILES
    log_check_interval: float = 10.0
    kill_wait: float = 10.0  # seconds to wait for a SIGKILLed container's exit to be recorded


class _WallClock:
    def time(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)


@dataclass
class _Attempt:
    """One start of a container: its record (container.json) and an event set once it exited."""

    record: Obj
    directory: Path
    exited: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def state(self) -> str:
        return str(self.record.get("state") or CREATED)

    def save(self) -> None:
        state.write_json(self.directory / state.CONTAINER_FILE, self.record)


@dataclass
class _Pod:
    sandbox: Obj
    containers: dict[str, _Attempt] = field(default_factory=dict)  # latest attempt per name
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def uid(self) -> str:
        return str(self.sandbox["uid"])


class OciRuntime:
    def __init__(
        self,
        options: OciOptions,
        *,
        host: HostSupport | None = None,
        image_store: ImageStore | None = None,
        puller: Puller | None = None,
        volume_paths: VolumePaths | None = None,
        pull_secrets: PullSecrets | None = None,
        time_source: TimeSource | None = None,
    ) -> None:
        self.options = options
        self.host = host or check_host(options.data_dir, oci_runtime=options.oci_runtime, cni_plugin_dirs=options.cni_plugin_dirs)
        self.layout = state.Layout(options.data_dir)
        self.layout.create()
        self.images = image_store or ImageStore.for_data_dir(options.data_dir)
        self._own_puller = puller is None
        self.puller = puller or Puller(self.images)
        self.volume_paths: VolumePaths = volume_paths or LocalVolumePaths(self.layout.volumes_dir)
        self.pull_secrets = pull_secrets
        self.time_source: TimeSource = time_source or _WallClock()
        self.runner = Runner(self.host.binary, self.host.conmon, self.layout.runc_root, self.layout.exits, self.layout.sockets)
        self.network = cni.CniNetwork(
            cni.CniSettings(options.network_name, options.bridge, (self.host.cni_plugin_dir,)),
            self.host.cni_plugin_dir,
            self.layout.cni,
        )
        self._info = node_info(self.host.binary)
        self._pod_cidr: str | None = None
        self._masquerading: str | None = None  # the pod CIDR the node's masquerade rule was made for
        self._pods: dict[str, _Pod] = {}
        self._by_id: dict[str, tuple[str, str]] = {}  # container id -> (pod uid, container name)
        self._listeners: list[Callable[[str], None]] = []
        self._watcher = ExitWatcher(self.layout.exits, self._on_exit_file)
        self._loaded = False
        self._load_lock: asyncio.Lock | None = None
        self._rotation: asyncio.Task[None] | None = None
        self._last_cap = self._read_last_cap()

    @staticmethod
    def _read_last_cap() -> int:
        try:
            return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
        except (OSError, ValueError):
            return len(spec.ALL_CAPABILITIES) - 1

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
            for pod in self._pods.values():
                for attempt in pod.containers.values():
                    if attempt.state == CREATED:
                        await self._adopt_created(pod, attempt)
                    self._check_monitor(pod, attempt)
            self._rotation = asyncio.get_running_loop().create_task(self._rotate_logs_forever())
            self._loaded = True

    async def close(self) -> None:
        """Stop watching (containers keep running; a new OciRuntime adopts them)."""
        self._watcher.close()
        if self._rotation is not None:
            self._rotation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rotation
            self._rotation = None
        if self._own_puller:
            await self.puller.close()
        self._loaded = False

    def _load(self) -> None:
        for entry in sorted(os.listdir(self.layout.pods)):
            record = state.read_json(self.layout.sandbox_file(entry))
            if record is None:  # sandbox.json comes first: nothing else of this pod exists
                if not rootfs.mounts_under(self.layout.pod_dir(entry)):
                    shutil.rmtree(self.layout.pod_dir(entry), ignore_errors=True)
                continue
            pod = _Pod(record)
            for name, numbers in state.attempts(self.layout.containers_dir(entry)).items():
                for number in reversed(numbers):
                    directory = self.layout.attempt_dir(entry, name, number)
                    container = state.read_json(directory / state.CONTAINER_FILE)
                    if container is not None:
                        attempt = _Attempt(container, directory)
                        if attempt.state == EXITED:
                            attempt.exited.set()
                        pod.containers[name] = attempt
                        self._by_id[attempt.id] = (entry, name)
                        break
            self._pods[entry] = pod

    async def _adopt_created(self, held: _Pod, attempt: _Attempt) -> None:
        """An attempt the previous runtime was still launching: running, never started, or gone."""
        record = attempt.record
        with contextlib.suppress(OSError, ValueError):
            conmon_pid = int((attempt.directory / "conmon.pid").read_text().strip())
            record["conmon_pid"] = conmon_pid
            record["conmon_start"] = process_start_time(conmon_pid)
        current = await self.runner.state(attempt.id)
        status = (current or {}).get("status")
        if status == "running":
            record["state"] = RUNNING
            record.setdefault("started_at", record["created_at"])
            attempt.save()
        elif status == "created":
            await self.runner.delete(attempt.id)
            self._finish(attempt, START_ERROR_EXIT_CODE, self.time_source.time(), reason="StartError",
                         message="the runtime restarted before the container was started", notify=False)
        else:
            self._on_exit_file(attempt.id)
            if attempt.state != EXITED:
                self._finish(attempt, LOST_EXIT_CODE, self.time_source.time(), reason="Error",
                             message="the container's monitor (conmon) ended without recording an exit code", notify=False)

    # ------------------------------------------------------------------ Runtime
    async def update_pod_cidr(self, cidr: str) -> None:
        self._pod_cidr = str(ipaddress.ip_network(cidr, strict=False))

    async def run_pod_sandbox(self, pod: Obj) -> SandboxStatus:
        await self._ready()
        meta = pod["metadata"]
        uid = str(meta["uid"])
        if not _safe_name(uid):
            raise ContainerStartError("CreateContainerConfigError", f"invalid pod uid {uid!r}")
        held = self._pods.get(uid)
        if held is not None and held.sandbox.get("ready"):
            if self._sandbox_intact(held):
                return self._sandbox_status(held)
            held.sandbox["ready"] = False  # e.g. after a reboot: the netns and /dev/shm are gone
            held.sandbox["shm"] = False
        if held is None:
            held = self._new_pod(pod)
        async with held.lock:
            if not held.sandbox.get("ready"):
                await self._set_up_sandbox(pod, held)
        return self._sandbox_status(held)

    def _new_pod(self, pod: Obj) -> _Pod:
        meta = pod["metadata"]
        uid = str(meta["uid"])
        spec_ = pod.get("spec") or {}
        host_network = bool(spec_.get("hostNetwork"))
        hostname, domain = podfiles.pod_hostname(pod, self.options.cluster_domain)
        name = ""
        if not host_network:
            name = netns.netns_name(self.options.netns_prefix, uid)
            if any(other.sandbox.get("netns") == name for other in self._pods.values()):
                name = f"{self.options.netns_prefix}{uid.replace('-', '')[:20]}"
        record: Obj = {
            "uid": uid,
            "namespace": str(meta.get("namespace") or ""),
            "name": str(meta.get("name") or ""),
            "created_at": self.time_source.time(),
            "host_network": host_network,
            "netns": name,
            "ip": "",
            "ready": False,
            "cgroup": pod_cgroup_path(self.options.cgroup_parent, pod),
            "hostname": "" if host_network else hostname,
            "domain": domain,
        }
        self.layout.pod_dir(uid).mkdir(parents=True, exist_ok=True)
        state.write_json(self.layout.sandbox_file(uid), record)
        held = _Pod(record)
        self._pods[uid] = held
        return held

    async def _set_up_sandbox(self, pod: Obj, held: _Pod) -> None:
        uid = held.uid
        record = held.sandbox
        cgroups.ensure(self.host.layout, record["cgroup"], pod_limits(pod, self.options.pod_pids_limit))
        if not record["host_network"]:
            if self._pod_cidr is None:
                raise RuntimeError("the node has no pod CIDR yet")
            if self._masquerading != self._pod_cidr:
                await masquerade.ensure(self.options.network_name, self._pod_cidr)
                self._masquerading = self._pod_cidr
            path = str(await netns.create(record["netns"]))
            if record.get("cni"):  # set up before (a crash half-way, or the netns vanished)
                with contextlib.suppress(OciCommandError):
                    await self.network.delete(_cni_id(record), path, record["cni"])
                record.pop("cni", None)
                # a fresh attachment id: what a DEL without the old interface could not find
                # (the bridge plugin's masquerade chain) never collides with the new one
                record["cni_generation"] = int(record.get("cni_generation") or 0) + 1
            attachment = await self.network.add(_cni_id(record), path, self._pod_cidr, cni.port_mappings(pod))
            record["cni"] = attachment.state
            record["ip"] = attachment.ip
            state.write_json(self.layout.sandbox_file(uid), record)
        self._write_pod_files(pod, held)
        shm = self.layout.shm_dir(uid)
        if not record.get("shm"):
            rootfs.mount_tmpfs(shm, self.options.shm_size)
            record["shm"] = True
        record["ready"] = True
        state.write_json(self.layout.sandbox_file(uid), record)

    def _write_pod_files(self, pod: Obj, held: _Pod) -> None:
        record = held.sandbox
        etc = self.layout.etc_dir(held.uid)
        etc.mkdir(parents=True, exist_ok=True)
        node_hosts = ""
        node_resolv = ""
        with contextlib.suppress(OSError):
            node_hosts = self.options.node_hosts.read_text()
        with contextlib.suppress(OSError):
            node_resolv = self.options.node_resolv_conf.read_text()
        hostname = record["hostname"] or os.uname().nodename
        dns = podfiles.pod_dns(pod, podfiles.parse_resolv_conf(node_resolv), self.options.cluster_dns, self.options.cluster_domain)
        files = {
            "hostname": hostname + "\n",
            "hosts": podfiles.hosts_file(pod, record["ip"], hostname, record["domain"], node_hosts),
            "resolv.conf": podfiles.resolv_conf(dns),
        }
        for name, text in files.items():
            path = etc / name
            path.write_text(text)
            os.chmod(path, 0o644)

    def _sandbox_intact(self, held: _Pod) -> bool:
        name = held.sandbox.get("netns")
        if name and not netns.exists(name):
            return False
        return os.path.ismount(self.layout.shm_dir(held.uid))

    def _sandbox_status(self, held: _Pod) -> SandboxStatus:
        return SandboxStatus(held.uid, str(held.sandbox.get("ip") or ""), float(held.sandbox["created_at"]))

    async def start_container(self, pod: Obj, container: Obj) -> ContainerStatus:
        await self._ready()
        uid = str(pod["metadata"]["uid"])
        held = self._pods.get(uid)
        if held is None or not held.sandbox.get("ready"):
            raise RuntimeError(f"pod {uid} has no sandbox")
        name = str(container["name"])
        if not _safe_name(name):
            raise ContainerStartError("CreateContainerConfigError", f"invalid container name {name!r}")
        previous = held.containers.get(name)
        if previous is not None:
            self._check_monitor(held, previous)
            if previous.state != EXITED:
                return self._status(previous)
        image = await self._ensure_image(pod, container)  # a long pull must not hold the pod's lock
        async with held.lock:
            if self._pods.get(uid) is not held:
                raise RuntimeError(f"pod {uid} was removed")
            previous = held.containers.get(name)
            if previous is not None and previous.state != EXITED:
                return self._status(previous)
            number = 0 if previous is None else int(previous.record["attempt"]) + 1
            if previous is not None:
                await self._discard_older(held, name, keep=previous)
            attempt = self._prepare(pod, held, container, image, number)
            held.containers[name] = attempt
            self._by_id[attempt.id] = (uid, name)
            if previous is not None:
                await self._discard_attempt(previous, keep_log=True)
            await self._launch(held, attempt)
            return self._status(attempt)

    async def _ensure_image(self, pod: Obj, container: Obj) -> ImageRecord:
        image = str(container.get("image") or "")
        secrets_ = list(self.pull_secrets(pod)) if self.pull_secrets is not None else []
        try:
            ensured = await ensure_image(
                self.images, self.puller, image, str(container.get("imagePullPolicy") or ""), pull_secrets=secrets_
            )
        except ImageUnavailable as exc:
            raise ContainerStartError(exc.reason, exc.message) from None
        self.images.mark_used(ensured.record.id)
        return ensured.record

    def _prepare(self, pod: Obj, held: _Pod, container: Obj, image: ImageRecord, number: int) -> _Attempt:
        """Write the attempt's bundle (config.json, termination-log file) and mount its rootfs."""
        uid = held.uid
        name = str(container["name"])
        sandbox = held.sandbox
        image_config = self.images.image_config(image.id)
        layers = self.images.rootfs_layers(image.id)
        spec.check_non_root(pod, container, image_config)
        hostname = sandbox["hostname"] or os.uname().nodename
        user = spec.resolve_user(
            pod, container, image_config, rootfs.read_image_file(layers, "etc/passwd"), rootfs.read_image_file(layers, "etc/group")
        )
        argv = spec.process_args(container, image_config)
        volume_mounts = bind_mounts(pod, container, self.volume_paths)
        container_id = secrets.token_hex(32)
        directory = self.layout.attempt_dir(uid, name, number)
        if directory.exists():  # left by a start that failed half-way
            rootfs.unmount(directory / "rootfs")
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        termination_log = directory / "termination-log"
        termination_log.touch()
        os.chmod(termination_log, 0o666)
        etc = self.layout.etc_dir(uid)
        read_only = bool((container.get("securityContext") or {}).get("readOnlyRootFilesystem"))
        mounts = [
            spec.BindMount("/etc/hostname", str(etc / "hostname"), read_only),
            spec.BindMount("/etc/hosts", str(etc / "hosts"), read_only),
            spec.BindMount("/etc/resolv.conf", str(etc / "resolv.conf"), read_only),
            spec.BindMount("/dev/shm", str(self.layout.shm_dir(uid))),
            *volume_mounts,
            spec.BindMount(str(container.get("terminationMessagePath") or spec.DEFAULT_TERMINATION_MESSAGE_PATH), str(termination_log)),
        ]
        cgroup = f"{sandbox['cgroup']}/{container_id}"
        inputs = spec.SpecInputs(
            rootfs=str(directory / "rootfs"),
            args=tuple(argv),
            env=tuple(spec.process_env(container, image_config, hostname)),
            cwd=spec.working_dir(container, image_config),
            user=user,
            hostname=sandbox["hostname"],
            netns_path=str(netns.netns_path(sandbox["netns"])) if sandbox["netns"] else None,
            cgroups_path=cgroup,
            mounts=tuple(mounts),
        )
        config = spec.build_spec(pod, container, inputs, last_cap=self._last_cap)
        state.write_json(directory / "config.json", config)
        try:
            rootfs.mount_overlay(layers, directory / "upper", directory / "work", directory / "rootfs")
        except OSError as exc:
            shutil.rmtree(directory, ignore_errors=True)
            raise ContainerStartError("CreateContainerError", f"failed to mount the container's rootfs: {exc}") from None
        try:
            image_name = normalize_reference(str(container.get("image") or ""))
        except InvalidReference:
            image_name = str(container.get("image") or "")
        record: Obj = {
            "id": container_id,
            "runtime": self.host.binary.name,
            "pod_uid": uid,
            "name": name,
            "attempt": number,
            "image": image_name,
            "image_id": image.repo_digests[0] if image.repo_digests else image.id,
            "cgroup": cgroup,
            "created_at": self.time_source.time(),
            "state": CREATED,
            "stop_signal": str((image_config.get("config") or {}).get("StopSignal") or "SIGTERM"),
            "termination_message_policy": str(container.get("terminationMessagePolicy") or "File"),
            "log": str(self.layout.log_path(uid, name, number)),
        }
        attempt = _Attempt(record, directory)
        attempt.save()
        return attempt

    async def _launch(self, held: _Pod, attempt: _Attempt) -> None:
        """conmon + create, then start; a failure ends the attempt as StartError (exit 128)."""
        record = attempt.record
        conmon_name = f"k8s_{record['name']}_{held.sandbox['name']}_{held.sandbox['namespace']}_{held.uid}_{record['attempt']}"
        try:
            record["pid"] = await self.runner.create(attempt.id, attempt.directory, Path(record["log"]), conmon_name)
            with contextlib.suppress(OSError, ValueError):
                conmon_pid = int((attempt.directory / "conmon.pid").read_text().strip())
                record["conmon_pid"] = conmon_pid
                record["conmon_start"] = process_start_time(conmon_pid)
            record["started_at"] = self.time_source.time()
            await self.runner.start(attempt.id)
        except (TimeoutError, OciCommandError) as exc:
            if attempt.state != EXITED:
                message = str(exc) or "the container did not start"
                self._finish(attempt, START_ERROR_EXIT_CODE, self.time_source.time(), reason="StartError", message=message, notify=False)
            return
        if attempt.state != EXITED:
            record["state"] = RUNNING
            attempt.save()

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
        if held is None or attempt is None or attempt.state == EXITED:
            return
        await self._stop(held, attempt, grace_seconds)

    async def _stop_all(self, held: _Pod, grace_seconds: float) -> None:
        live = [attempt for attempt in held.containers.values() if attempt.state != EXITED]
        await asyncio.gather(*(self._stop(held, attempt, grace_seconds) for attempt in live))

    async def _stop(self, held: _Pod, attempt: _Attempt, grace_seconds: float) -> None:
        if attempt.state == CREATED:  # never started: nothing to signal
            await self.runner.delete(attempt.id)
            self._finish(attempt, 137, self.time_source.time(), reason="Error", message="")
            return
        if grace_seconds > 0:
            signal_name = attempt.record.get("stop_signal") or "SIGTERM"
            if await self.runner.kill(attempt.id, _signal_arg(signal_name)):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(attempt.exited.wait(), grace_seconds)
        if attempt.state == EXITED:
            return
        await self.runner.kill(attempt.id, "KILL", all_processes=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(attempt.exited.wait(), self.options.kill_wait)
        if attempt.state != EXITED:
            self._check_monitor(held, attempt, force=True)

    async def remove_pod(self, pod_uid: str) -> None:
        await self._ready()
        held = self._pods.get(pod_uid)
        if held is None:
            if self.layout.pod_dir(pod_uid).exists() or self.layout.log_dir(pod_uid).exists():
                shutil.rmtree(self.layout.pod_dir(pod_uid), ignore_errors=True)
                shutil.rmtree(self.layout.log_dir(pod_uid), ignore_errors=True)
            return
        async with held.lock:
            await self._stop_all(held, 0)
            errors: list[str] = []
            for name, numbers in state.attempts(self.layout.containers_dir(pod_uid)).items():
                for number in numbers:
                    directory = self.layout.attempt_dir(pod_uid, name, number)
                    record = state.read_json(directory / state.CONTAINER_FILE) or {}
                    try:
                        await self._discard_attempt(_Attempt(record, directory) if record else None, directory=directory)
                    except (OSError, OciCommandError) as exc:
                        errors.append(str(exc))
            record = held.sandbox
            try:
                rootfs.unmount(self.layout.shm_dir(pod_uid))
            except OSError as exc:
                errors.append(str(exc))
            if record.get("netns"):
                path = str(netns.netns_path(record["netns"]))
                if record.get("cni"):
                    try:
                        await self.network.delete(_cni_id(record), path, record["cni"])
                        record.pop("cni")
                        state.write_json(self.layout.sandbox_file(pod_uid), record)
                    except OciCommandError as exc:
                        errors.append(str(exc))
                try:
                    await netns.delete(record["netns"])
                except OciCommandError as exc:
                    errors.append(str(exc))
            left = cgroups.remove(self.host.layout, record["cgroup"])
            if left:
                errors.append("cgroups left: " + ", ".join(str(p) for p in left))
            if errors:
                raise OciCommandError(f"removing pod {pod_uid}: " + "; ".join(errors))
            for attempt in held.containers.values():
                self._by_id.pop(attempt.id, None)
            shutil.rmtree(self.layout.log_dir(pod_uid), ignore_errors=True)
            shutil.rmtree(self.layout.pod_dir(pod_uid), ignore_errors=True)
            self._pods.pop(pod_uid, None)

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

    async def resource_usage(self) -> ResourceUsage:
        """UsageSource: every running container's cgroup and the node's /proc, read in a thread
        (a container whose cgroup vanished meanwhile is left out)."""
        await self._ready()
        running = [
            (held.sandbox, attempt.record)
            for held in list(self._pods.values())
            for attempt in list(held.containers.values())
            if attempt.state == RUNNING
        ]

        def measure() -> ResourceUsage:
            now = self.time_source.time()
            node_cpu, node_memory = usage.read_node_usage()
            containers = []
            for sandbox, record in running:
                measured = usage.read_cgroup_usage(self.host.layout, record["cgroup"])
                if measured is not None:
                    containers.append(ContainerUsage(
                        str(sandbox["uid"]), str(sandbox.get("namespace") or ""), str(sandbox.get("name") or ""),
                        str(record["name"]), measured[0], measured[1], float(record.get("started_at") or record["created_at"]),
                    ))
            return ResourceUsage(now, node_cpu, node_memory, tuple(containers))

        return await asyncio.to_thread(measure)

    async def reset_node(self) -> None:
        """Remove every pod, then what pods share: the bridge and the cgroup parent (a node's
        uninstall; tests use it to leave nothing behind)."""
        await self._ready()
        for uid in list(self._pods):
            await self.remove_pod(uid)
        await masquerade.remove(self.options.network_name)
        self._masquerading = None
        await cni.delete_bridge(self.options.bridge)
        left = cgroups.remove(self.host.layout, self.options.cgroup_parent)
        if left:
            raise OciCommandError("cgroups left: " + ", ".join(str(p) for p in left))

    # ------------------------------------------------------------------ extras for the kubelet
    def netns_path(self, pod_uid: str) -> str | None:
        """The pod's network namespace (port-forward enters it); None for hostNetwork/unknown."""
        held = self._pods.get(pod_uid)
        if held is None or not held.sandbox.get("netns"):
            return None
        return str(netns.netns_path(held.sandbox["netns"]))

    def container_log_path(self, pod_uid: str, name: str, attempt: int | None = None) -> Path:
        """The CRI log of an attempt (the latest known one when None)."""
        if attempt is None:
            held = self._pods.get(pod_uid)
            latest = held.containers.get(name) if held is not None else None
            attempt = int(latest.record["attempt"]) if latest is not None else 0
        return self.layout.log_path(pod_uid, name, attempt)

    def exec_argv(self, pod_uid: str, name: str, argv: Sequence[str], *, tty: bool = False) -> list[str]:
        """The host command line that runs argv inside the running container (streaming exec)."""
        return self.runner.exec_argv(self._running_id(pod_uid, name), argv, tty=tty)

    async def exec_sync(self, pod_uid: str, name: str, argv: Sequence[str], timeout: float = 10.0) -> tuple[int, bytes, bytes]:
        """Run argv in the container and wait: (exit code, stdout, stderr) (exec probes)."""
        done = await self.runner.exec_sync(self._running_id(pod_uid, name), argv, timeout)
        return done.returncode, done.stdout, done.stderr

    def _running_id(self, pod_uid: str, name: str) -> str:
        held = self._pods.get(pod_uid)
        attempt = held.containers.get(name) if held is not None else None
        if attempt is None or attempt.state != RUNNING:
            raise ContainerStartError("ContainerNotRunning", f'container "{name}" is not running')
        return attempt.id

    # ------------------------------------------------------------------ exits
    def _on_exit_file(self, container_id: str) -> None:
        path = self.layout.exits / container_id
        owner = self._by_id.get(container_id)
        held = self._pods.get(owner[0]) if owner is not None else None
        attempt = held.containers.get(owner[1]) if held is not None and owner is not None else None
        if attempt is None or attempt.id != container_id:
            if owner is None and path.exists() and len(container_id) == 64:
                with contextlib.suppress(OSError):
                    path.unlink()  # a container this runtime no longer knows
            return
        if attempt.state == EXITED:
            with contextlib.suppress(OSError):
                path.unlink()
            return
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

    def _finish(self, attempt: _Attempt, code: int, finished_at: float, *, reason: str = "", message: str | None = None, notify: bool = True) -> None:
        record = attempt.record
        if not reason:
            if cgroups.oom_kills(self.host.layout, record["cgroup"]) > 0:
                reason = "OOMKilled"
            else:
                reason = "Completed" if code == 0 else "Error"
        if message is None:
            message = self._termination_message(attempt, code)
        record.update(state=EXITED, exit_code=code, finished_at=finished_at, reason=reason, message=message)
        record.setdefault("started_at", finished_at)
        attempt.save()
        attempt.exited.set()
        if notify:
            self._notify(str(record["pod_uid"]))

    def _termination_message(self, attempt: _Attempt, code: int) -> str:
        text = ""
        with contextlib.suppress(OSError), open(attempt.directory / "termination-log", "rb") as handle:
            text = handle.read(MAX_TERMINATION_MESSAGE).decode(errors="replace")
        if not text and code != 0 and attempt.record.get("termination_message_policy") == "FallbackToLogsOnError":
            text = logs.tail_message(Path(attempt.record["log"]))
        return text

    def _check_monitor(self, held: _Pod, attempt: _Attempt, *, force: bool = False) -> None:
        """A running container whose conmon is gone: take its exit file if there is one, else end
        it with an unknown exit code (nothing will ever report it)."""
        if attempt.state == EXITED:
            return
        if not force and attempt.state == CREATED and "pid" not in attempt.record:
            return  # still being created
        pid = attempt.record.get("conmon_pid")
        alive = pid is not None and process_start_time(int(pid)) == attempt.record.get("conmon_start")
        if alive and not force:
            return
        self._on_exit_file(attempt.id)
        if attempt.state != EXITED and (not alive or force):
            self._finish(
                attempt,
                LOST_EXIT_CODE,
                self.time_source.time(),
                reason="Error",
                message="the container's monitor (conmon) ended without recording an exit code",
            )

    def _notify(self, pod_uid: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(pod_uid)
            except Exception:  # a listener's bug must not stop the others
                log.exception("runtime event listener failed")

    # ------------------------------------------------------------------ status
    def _status(self, attempt: _Attempt) -> ContainerStatus:
        record = attempt.record
        common: Obj = {
            "name": record["name"],
            "container_id": f"{record.get('runtime') or self.host.binary.name}://{record['id']}",
            "image": record["image"],
            "image_id": record["image_id"],
            "restart_count": int(record["attempt"]),
        }
        if attempt.state == EXITED:
            return ContainerStatus(
                state="terminated",
                started_at=record.get("started_at"),
                finished_at=record.get("finished_at"),
                exit_code=record.get("exit_code"),
                reason=str(record.get("reason") or ""),
                message=str(record.get("message") or ""),
                **common,
            )
        if attempt.state == RUNNING:
            return ContainerStatus(state="running", started_at=record.get("started_at"), **common)
        return ContainerStatus(state="waiting", reason="ContainerCreating", **common)

    def _pod_status(self, held: _Pod) -> PodStatus:
        for attempt in held.containers.values():
            if attempt.state == RUNNING:
                self._check_monitor(held, attempt)
        return PodStatus(
            held.uid,
            str(held.sandbox.get("namespace") or ""),
            str(held.sandbox.get("name") or ""),
            self._sandbox_status(held),
            tuple(self._status(attempt) for attempt in held.containers.values()),
        )

    # ------------------------------------------------------------------ clean-up
    async def _discard_older(self, held: _Pod, name: str, keep: _Attempt) -> None:
        """Remove attempts older than `keep` and their logs: only the latest dead one stays."""
        newest = int(keep.record["attempt"])
        for number in state.attempts(self.layout.containers_dir(held.uid)).get(name, []):
            if number < newest:
                await self._discard_attempt(None, directory=self.layout.attempt_dir(held.uid, name, number))
        log_dir = self.layout.log_path(held.uid, name, 0).parent
        with contextlib.suppress(OSError):
            for entry in os.scandir(log_dir):
                number_text = entry.name.split(".", 1)[0]
                if number_text.isdigit() and int(number_text) < newest:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

    async def _discard_attempt(self, attempt: _Attempt | None, *, keep_log: bool = True, directory: Path | None = None) -> None:
        """Delete the attempt's container, unmount its rootfs and remove its bundle (not its log
        unless keep_log is False)."""
        directory = directory or (attempt.directory if attempt is not None else None)
        if directory is None:
            return
        record = attempt.record if attempt is not None else (state.read_json(directory / state.CONTAINER_FILE) or {})
        container_id = str(record.get("id") or "")
        if container_id:
            await self.runner.delete(container_id)
            with contextlib.suppress(OSError):
                (self.layout.sockets / container_id).unlink()
            with contextlib.suppress(OSError):
                (self.layout.exits / container_id).unlink()
        rootfs.unmount(directory / "rootfs")
        if not keep_log and record.get("log"):
            with contextlib.suppress(OSError):
                Path(record["log"]).unlink()
        shutil.rmtree(directory, ignore_errors=True)

    # ------------------------------------------------------------------ log rotation
    async def _rotate_logs_forever(self) -> None:
        while True:
            await asyncio.sleep(self.options.log_check_interval)
            try:
                await self.rotate_logs()
            except Exception:
                log.exception("container log rotation failed")

    async def rotate_logs(self) -> int:
        """Rotate every running container's log that reached log_max_size; how many rotated."""
        rotated = 0
        for held in list(self._pods.values()):
            for attempt in list(held.containers.values()):
                path = Path(attempt.record["log"])
                if attempt.state != RUNNING or not logs.needs_rotation(path, self.options.log_max_size):
                    continue
                reopen = functools.partial(reopen_log, attempt.directory)
                done = await asyncio.to_thread(logs.rotate, path, reopen, max_files=self.options.log_max_files)
                rotated += int(done)
        return rotated


def _signal_arg(name: str) -> str:
    """An image StopSignal ("SIGTERM", "TERM", "15") as the OCI binary's kill argument."""
    text = name.strip().upper()
    if text.isdigit():
        return text
    text = text.removeprefix("SIG")
    return text if hasattr(signal, "SIG" + text) else "TERM"


def _safe_name(name: str) -> bool:
    """Pod uids and container names become path components."""
    return bool(name) and "/" not in name and "\0" not in name and name not in (".", "..") and not name.startswith(".")


def _cni_id(sandbox: Obj) -> str:
    """CNI_CONTAINERID of the pod's current attachment."""
    generation = int(sandbox.get("cni_generation") or 0)
    return str(sandbox["uid"]) if generation == 0 else f"{sandbox['uid']}-{generation}"
