"""`ProcessRuntime`: the kubelet's Runtime (runtime/base.py) with containers as host processes.

run_pod_sandbox: the pod's record, /etc files, a /dev/shm directory and (where permitted) its
cgroup; no network of its own — the pod's IP is the node's (SandboxStatus.ip ""). start_container:
the image per imagePullPolicy, a check that its ports are free on the host, a new attempt
directory (launch.json; an overlay mount point or a merged copy of the image), then a monitor
(monitor.py) that starts the container, writes its CRI log and, at the end, its exit code to
DATA/process/exits/<id>. Exits become terminated statuses (Completed / Error / OOMKilled,
termination message) announced to subscribers. stop_pod: the image's stop signal, the grace
period, SIGKILL to the container's process group. Everything is on disk (state.py), so a new
ProcessRuntime over the same data dir adopts running containers (monitor and container checked
by pid and start time) and picks up exits that happened meanwhile.

Must not talk to the API server, decide restarts or back-off, or resolve env/volume sources:
the kubelet does and passes the results (container.env values, a VolumePaths callable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kubelite.runtime import containerlogs
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
from kubelite.runtime.oci import cgroups, podfiles, spec, usage
from kubelite.runtime.oci import state as records
from kubelite.runtime.oci.errors import ContainerStartError
from kubelite.runtime.oci.exits import ExitWatcher, read_exit_code
from kubelite.runtime.oci.host import node_capacity
from kubelite.runtime.oci.resources import container_limits, pod_cgroup_path, pod_limits
from kubelite.runtime.oci.rootfs import read_image_file
from kubelite.runtime.oci.volumes import LocalVolumePaths, VolumePaths, bind_mounts
from kubelite.runtime.process import ports
from kubelite.runtime.process.host import (
    ProcessSupport,
    check_process_host,
    monitor_env,
    node_info,
)
from kubelite.runtime.process.launch import HOST, NAMESPACES, LaunchSpec, Mount, Overlay
from kubelite.runtime.process.rootfs import link_into, merge_layers, remove_tree
from kubelite.runtime.process.state import Layout
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
LOST_MESSAGE = "the container's monitor ended without recording an exit code"


@dataclass(frozen=True)
class ProcessOptions:
    data_dir: Path
    isolation: str = "auto"  # auto (namespaces where permitted), namespaces, host
    cgroup_parent: str = "/kubelite"
    node_ip: str = ""  # written to pods' /etc/hosts for their hostname
    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    node_resolv_conf: Path = Path("/etc/resolv.conf")
    node_hosts: Path = Path("/etc/hosts")
    max_pods: int = 110
    log_max_size: int = containerlogs.DEFAULT_MAX_SIZE
    log_max_files: int = containerlogs.DEFAULT_MAX_FILES
    start_timeout: float = 30.0  # seconds for a monitor to report its container started
    kill_wait: float = 10.0  # seconds to wait for a SIGKILLed container's exit to be recorded


class _WallClock:
    def time(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)


@dataclass
class _Attempt:
    record: Obj
    directory: Path
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    _launch: LaunchSpec | None = None

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def state(self) -> str:
        return str(self.record.get("state") or CREATED)

    @property
    def launch(self) -> LaunchSpec:
        if self._launch is None:
            self._launch = LaunchSpec.read(self.directory / "launch.json")
        return self._launch

    def save(self) -> None:
        records.write_json(self.directory / records.CONTAINER_FILE, self.record)


@dataclass
class _Pod:
    sandbox: Obj
    containers: dict[str, _Attempt] = field(default_factory=dict)  # latest attempt per name
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def uid(self) -> str:
        return str(self.sandbox["uid"])


def _safe_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\0" not in name and name not in (".", "..") and not name.startswith(".")


def _alive(pid: Any, start: Any) -> bool:
    return pid is not None and start is not None and process_start_time(int(pid)) == start


def _signal_number(name: str) -> int:
    text = name.strip().upper()
    if text.isdigit():
        return int(text)
    value = getattr(signal, "SIG" + text.removeprefix("SIG"), None)
    return int(value) if isinstance(value, int) else int(signal.SIGTERM)


def _host_path(rootfs: Path, value: str) -> str:
    """A PATH inside the container as host directories of the copy (host mode)."""
    return ":".join(f"{rootfs}{entry}" if entry.startswith("/") else entry for entry in value.split(":"))


async def _read_line(fd: int, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    ready = asyncio.Event()
    buffer = b""
    loop.add_reader(fd, ready.set)
    try:
        async with asyncio.timeout(timeout):
            while b"\n" not in buffer:
                try:
                    chunk = os.read(fd, 4096)
                except BlockingIOError:
                    ready.clear()
                    await ready.wait()
                    continue
                if not chunk:
                    break
                buffer += chunk
    finally:
        loop.remove_reader(fd)
    return buffer.split(b"\n", 1)[0]


class ProcessRuntime:
    def __init__(
        self,
        options: ProcessOptions,
        *,
        support: ProcessSupport | None = None,
        image_store: ImageStore | None = None,
        puller: Puller | None = None,
        volume_paths: VolumePaths | None = None,
        pull_secrets: PullSecrets | None = None,
        time_source: TimeSource | None = None,
    ) -> None:
        """Raises RuntimeUnavailable when this machine cannot run it (see host.py)."""
        self.options = options
        self.layout = Layout(options.data_dir)
        self.layout.create()
        self.support = support or check_process_host(options.data_dir, isolation=options.isolation, cgroup_parent=options.cgroup_parent)
        for reason in self.support.reasons:
            log.warning("process runtime: %s", reason)
        self.images = image_store or ImageStore.for_data_dir(options.data_dir)
        self._own_puller = puller is None
        self.puller = puller or Puller(self.images)
        self.volume_paths: VolumePaths = volume_paths or LocalVolumePaths(self.layout.volumes_dir)
        self.pull_secrets = pull_secrets
        self.time_source: TimeSource = time_source or _WallClock()
        self.nsenter = shutil.which("nsenter") or ""
        self.env_binary = shutil.which("env") or "/usr/bin/env"
        self._info = node_info()
        self._pods: dict[str, _Pod] = {}
        self._by_id: dict[str, tuple[str, str]] = {}
        self._listeners: list[Callable[[str], None]] = []
        self._watcher = ExitWatcher(self.layout.exits, self._on_exit_file)
        self._loaded = False
        self._load_lock: asyncio.Lock | None = None
        self._warned_resources = False

    @property
    def isolation(self) -> str:
        return self.support.isolation

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
                        self._adopt_created(attempt)
                    self._check_monitor(attempt)
            self._loaded = True

    async def close(self) -> None:
        """Stop watching (containers keep running; a new ProcessRuntime adopts them)."""
        self._watcher.close()
        if self._own_puller:
            await self.puller.close()
        self._loaded = False

    def _load(self) -> None:
        for entry in sorted(os.listdir(self.layout.pods)):
            record = records.read_json(self.layout.sandbox_file(entry))
            if record is None:
                remove_tree(self.layout.pod_dir(entry))
                continue
            held = _Pod(record)
            for name, numbers in records.attempts(self.layout.containers_dir(entry)).items():
                for number in reversed(numbers):
                    directory = self.layout.attempt_dir(entry, name, number)
                    container = records.read_json(directory / records.CONTAINER_FILE)
                    if container is not None:
                        attempt = _Attempt(container, directory)
                        if attempt.state == EXITED:
                            attempt.exited.set()
                        held.containers[name] = attempt
                        self._by_id[attempt.id] = (entry, name)
                        break
            self._pods[entry] = held

    def _adopt_created(self, attempt: _Attempt) -> None:
        """An attempt the previous runtime was still launching: the monitor's started.json says
        whether (and as what) the container started."""
        started = records.read_json(attempt.directory / "started.json")
        if started is not None and "pid" in started:
            self._record_started(attempt, started)
            attempt.save()
        elif started is not None:
            self._finish(attempt, START_ERROR_EXIT_CODE, self.time_source.time(), reason="StartError", message=str(started.get("error") or ""), notify=False)
        else:
            self._finish(attempt, START_ERROR_EXIT_CODE, self.time_source.time(), reason="StartError",
                         message="the runtime restarted before the container was started", notify=False)

    # ------------------------------------------------------------------ Runtime
    async def update_pod_cidr(self, cidr: str) -> None:
        """Pods use the node's network: nothing takes IPs from the pod CIDR."""

    async def run_pod_sandbox(self, pod: Obj) -> SandboxStatus:
        await self._ready()
        meta = pod["metadata"]
        uid = str(meta["uid"])
        if not _safe_name(uid):
            raise ContainerStartError("CreateContainerConfigError", f"invalid pod uid {uid!r}")
        held = self._pods.get(uid)
        if held is None:
            held = self._new_pod(pod)
        async with held.lock:
            if not held.sandbox.get("ready"):
                self._set_up_sandbox(pod, held)
        return self._sandbox_status(held)

    def _new_pod(self, pod: Obj) -> _Pod:
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
            "hostname": "" if host_network or self.isolation != NAMESPACES else hostname,
            "domain": domain,
            "cgroup": pod_cgroup_path(self.options.cgroup_parent, pod) if self.support.cgroups is not None else "",
            "ready": False,
        }
        self.layout.pod_dir(uid).mkdir(parents=True, exist_ok=True)
        records.write_json(self.layout.sandbox_file(uid), record)
        held = _Pod(record)
        self._pods[uid] = held
        return held

    def _set_up_sandbox(self, pod: Obj, held: _Pod) -> None:
        record = held.sandbox
        if record["cgroup"] and self.support.cgroups is not None:
            cgroups.ensure(self.support.cgroups, record["cgroup"], pod_limits(pod))
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
            "hosts": podfiles.hosts_file(pod, self.options.node_ip, hostname, record["domain"], node_hosts),
            "resolv.conf": podfiles.resolv_conf(dns),
        }
        for name, text in files.items():
            (etc / name).write_text(text)
            os.chmod(etc / name, 0o644)
        shm = self.layout.shm_dir(held.uid)
        shm.mkdir(exist_ok=True)
        os.chmod(shm, 0o1777)
        record["ready"] = True
        records.write_json(self.layout.sandbox_file(held.uid), record)

    def _sandbox_status(self, held: _Pod) -> SandboxStatus:
        return SandboxStatus(held.uid, "", float(held.sandbox["created_at"]))

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
            self._check_monitor(previous)
            if previous.state != EXITED:
                return self._status(previous)
        image = await self._ensure_image(pod, container)
        async with held.lock:
            if self._pods.get(uid) is not held:
                raise RuntimeError(f"pod {uid} was removed")
            previous = held.containers.get(name)
            if previous is not None and previous.state != EXITED:
                return self._status(previous)
            self._check_ports(held, container)
            number = 0 if previous is None else int(previous.record["attempt"]) + 1
            if previous is not None:
                self._discard_older(held, name, keep=previous)
            attempt = await self._prepare(pod, held, container, image, number)
            held.containers[name] = attempt
            self._by_id[attempt.id] = (uid, name)
            if previous is not None:
                self._discard_attempt(previous)
            await self._launch(attempt)
            return self._status(attempt)

    async def _ensure_image(self, pod: Obj, container: Obj) -> ImageRecord:
        secrets_ = list(self.pull_secrets(pod)) if self.pull_secrets is not None else []
        try:
            ensured = await ensure_image(
                self.images, self.puller, str(container.get("image") or ""), str(container.get("imagePullPolicy") or ""), pull_secrets=secrets_
            )
        except ImageUnavailable as exc:
            raise ContainerStartError(exc.reason, exc.message) from None
        self.images.mark_used(ensured.record.id)
        return ensured.record

    def _check_ports(self, held: _Pod, container: Obj) -> None:
        wanted = ports.declared_ports(container)
        if not wanted:
            return
        for other in self._pods.values():
            for attempt in other.containers.values():
                if attempt.state == EXITED or (other is held and attempt.record["name"] == container["name"]):
                    continue
                taken = {(int(n), str(p)) for n, p in attempt.record.get("ports") or []}
                for port in wanted:
                    if port in taken:
                        owner = f"{other.sandbox.get('namespace')}/{other.sandbox.get('name')}"
                        raise ContainerStartError("CreateContainerError", ports.conflict_message(port, owner))
        for port in wanted:
            if ports.in_use_on_host(port):
                raise ContainerStartError("CreateContainerError", ports.conflict_message(port, None))

    async def _prepare(self, pod: Obj, held: _Pod, container: Obj, image: ImageRecord, number: int) -> _Attempt:
        """The attempt's directory: termination-log file, rootfs (mount point or copy), launch.json."""
        uid = held.uid
        name = str(container["name"])
        sandbox = held.sandbox
        image_config = self.images.image_config(image.id)
        layers = self.images.rootfs_layers(image.id)
        spec.check_non_root(pod, container, image_config)
        hostname = sandbox["hostname"] or os.uname().nodename
        user = spec.resolve_user(pod, container, image_config, read_image_file(layers, "etc/passwd"), read_image_file(layers, "etc/group"))
        argv = spec.process_args(container, image_config)
        env = spec.process_env(container, image_config, hostname)
        cwd = spec.working_dir(container, image_config)
        volume_mounts = bind_mounts(pod, container, self.volume_paths)
        container_id = secrets.token_hex(32)
        directory = self.layout.attempt_dir(uid, name, number)
        remove_tree(directory)
        directory.mkdir(parents=True)
        termination_log = directory / "termination-log"
        termination_log.touch()
        os.chmod(termination_log, 0o666)
        etc = self.layout.etc_dir(uid)
        read_only = bool((container.get("securityContext") or {}).get("readOnlyRootFilesystem"))
        mounts = [
            Mount("/etc/hostname", str(etc / "hostname"), read_only),
            Mount("/etc/hosts", str(etc / "hosts"), read_only),
            Mount("/etc/resolv.conf", str(etc / "resolv.conf"), read_only),
            Mount("/dev/shm", str(self.layout.shm_dir(uid))),
            *(Mount(m.destination, m.source, m.read_only) for m in volume_mounts),
            Mount(str(container.get("terminationMessagePath") or spec.DEFAULT_TERMINATION_MESSAGE_PATH), str(termination_log)),
        ]
        rootfs = directory / "rootfs"
        overlay: Overlay | None = None
        executable = ""
        try:
            if self.isolation == NAMESPACES and self.support.overlay:
                lower = [str(layer) for layer in layers]
                if not lower:
                    (directory / "empty-lower").mkdir()
                    lower = [str(directory / "empty-lower")]
                for sub in ("rootfs", "upper", "work"):
                    (directory / sub).mkdir()
                overlay = Overlay(tuple(lower), str(directory / "upper"), str(directory / "work"))
            else:
                await asyncio.to_thread(merge_layers, layers, rootfs)
            if self.isolation == HOST:
                for mount in mounts:
                    link_into(rootfs, mount.destination, mount.source)
                env = [f"PATH={_host_path(rootfs, entry[5:])}" if entry.startswith("PATH=") else entry for entry in env]
                host_cwd = rootfs / cwd.lstrip("/")
                host_cwd.mkdir(parents=True, exist_ok=True)
                cwd = str(host_cwd)
                if argv[0].startswith("/"):
                    executable = str(rootfs / argv[0].lstrip("/"))
        except (OSError, ValueError) as exc:
            remove_tree(directory)
            raise ContainerStartError("CreateContainerError", f"failed to prepare the container's rootfs: {exc}") from None
        cgroup = ""
        procs: tuple[str, ...] = ()
        limits = container_limits(container)
        if self.support.cgroups is not None and sandbox["cgroup"]:
            cgroup = f"{sandbox['cgroup']}/{container_id}"
            cgroups.ensure(self.support.cgroups, cgroup, limits)
            procs = tuple(str(path / "cgroup.procs") for path in cgroups.existing(self.support.cgroups, cgroup))
        elif (limits.memory_bytes is not None or limits.cpu_quota_us is not None) and not self._warned_resources:
            self._warned_resources = True
            log.warning("process runtime: no cgroups here, so container resource limits are not enforced (first: %s/%s)", sandbox["name"], name)
        stdin_fifo = ""
        if container.get("stdin"):
            fifo = self.layout.stdin_fifo(uid, name)
            fifo.parent.mkdir(parents=True, exist_ok=True)
            if not fifo.exists():
                os.mkfifo(fifo, 0o600)
            stdin_fifo = str(fifo)
        as_root = self.isolation == NAMESPACES and not self.support.user_namespace
        launch = LaunchSpec(
            container_id=container_id,
            argv=tuple(argv),
            env=tuple(env),
            cwd=cwd,
            isolation=self.isolation,
            rootfs=str(rootfs),
            log_path=str(self.layout.log_path(uid, name, number)),
            exit_file=str(self.layout.exits / container_id),
            executable=executable,
            overlay=overlay,
            user_namespace=self.support.user_namespace,
            hostname=sandbox["hostname"],
            uid=user.uid if as_root else None,
            gid=user.gid if as_root else None,
            groups=user.additional_gids if as_root else (),
            mounts=tuple(mounts) if self.isolation == NAMESPACES else (),
            read_only_root=read_only and self.isolation == NAMESPACES,
            no_new_privileges=(container.get("securityContext") or {}).get("allowPrivilegeEscalation") is False,
            cgroup_procs=procs,
            stdin_fifo=stdin_fifo,
            log_max_size=self.options.log_max_size,
            log_max_files=self.options.log_max_files,
        )
        launch.write(directory / "launch.json")
        try:
            image_name = normalize_reference(str(container.get("image") or ""))
        except InvalidReference:
            image_name = str(container.get("image") or "")
        record: Obj = {
            "id": container_id,
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
            "log": launch.log_path,
            "ports": [list(port) for port in ports.declared_ports(container)],
        }
        attempt = _Attempt(record, directory, _launch=launch)
        attempt.save()
        return attempt

    async def _launch(self, attempt: _Attempt) -> None:
        """Start the monitor and wait for its report; a failure ends the attempt as StartError."""
        record = attempt.record
        read_end, write_end = os.pipe()
        record["started_at"] = self.time_source.time()
        try:
            with open(attempt.directory / "monitor.err", "wb") as errors:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "kubelite.runtime.process.monitor",
                    str(attempt.directory / "launch.json"),
                    str(write_end),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=errors,
                    pass_fds=(write_end,),
                    start_new_session=True,
                    cwd=str(attempt.directory),
                    env=monitor_env(),
                )
        except OSError as exc:
            os.close(read_end)
            os.close(write_end)
            self._finish(attempt, START_ERROR_EXIT_CODE, self.time_source.time(), reason="StartError", message=f"cannot start the monitor: {exc}", notify=False)
            return
        os.close(write_end)
        try:
            line = await _read_line(read_end, self.options.start_timeout)
        except TimeoutError:
            line = b""
        finally:
            os.close(read_end)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait(), 5)
        try:
            message = dict(orjson.loads(line)) if line else {}
        except (ValueError, TypeError):
            message = {}
        records.write_json(attempt.directory / "started.json", message or {"error": "no report"})
        if "pid" not in message:
            text = str(message.get("error") or "")
            if not text:
                with contextlib.suppress(OSError):
                    text = (attempt.directory / "monitor.err").read_bytes()[-2048:].decode(errors="replace").strip()
            if attempt.state != EXITED:
                self._finish(attempt, START_ERROR_EXIT_CODE, self.time_source.time(), reason="StartError",
                             message=text or "the container's monitor did not report a start", notify=False)
            return
        self._record_started(attempt, message)
        if attempt.state != EXITED:
            record["state"] = RUNNING
        attempt.save()

    def _record_started(self, attempt: _Attempt, message: Obj) -> None:
        record = attempt.record
        for key in ("pid", "pgid", "monitor"):
            pid = int(message[key])
            record[key] = pid
            record[f"{key}_start"] = process_start_time(pid)
        if record.get("state") == CREATED:
            record["state"] = RUNNING
        record.setdefault("started_at", record["created_at"])

    async def stop_pod(self, pod: Obj, grace_seconds: int) -> None:
        await self._ready()
        held = self._pods.get(str(pod["metadata"]["uid"]))
        if held is None:
            return
        async with held.lock:
            await self._stop_all(held, grace_seconds)

    async def stop_container(self, pod_uid: str, name: str, grace_seconds: float) -> None:
        """Stop one container as stop_pod does (liveness restarts, failed postStart hooks)."""
        await self._ready()
        held = self._pods.get(pod_uid)
        attempt = held.containers.get(name) if held is not None else None
        if attempt is None or attempt.state == EXITED:
            return
        await self._stop(attempt, grace_seconds)

    async def _stop_all(self, held: _Pod, grace_seconds: float) -> None:
        live = [attempt for attempt in held.containers.values() if attempt.state != EXITED]
        await asyncio.gather(*(self._stop(attempt, grace_seconds) for attempt in live))

    def _signal(self, attempt: _Attempt, number: int, *, group: bool) -> bool:
        """Signal the container's init (or its whole process group); False when it is gone."""
        record = attempt.record
        key = "pgid" if group else "pid"
        if not _alive(record.get(key), record.get(f"{key}_start")):
            if group and _alive(record.get("pid"), record.get("pid_start")):
                key = "pid"
            else:
                return False
        try:
            if key == "pgid":
                os.killpg(int(record["pgid"]), number)
            else:
                os.kill(int(record["pid"]), number)
        except ProcessLookupError:
            return False
        return True

    async def _stop(self, attempt: _Attempt, grace_seconds: float) -> None:
        if grace_seconds > 0:
            number = _signal_number(str(attempt.record.get("stop_signal") or "SIGTERM"))
            # namespaces: the container's init, as runc does; host mode: every process of it
            if self._signal(attempt, number, group=attempt.launch.isolation == HOST):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(attempt.exited.wait(), grace_seconds)
        if attempt.state == EXITED:
            return
        self._signal(attempt, signal.SIGKILL, group=True)
        if attempt.record.get("cgroup") and self.support.cgroups is not None:
            for pid in cgroups.processes(self.support.cgroups, attempt.record["cgroup"]):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(attempt.exited.wait(), self.options.kill_wait)
        if attempt.state != EXITED:
            self._check_monitor(attempt, force=True)

    async def _reap_monitors(self, held: _Pod) -> None:
        """A monitor lives on briefly after its container (it writes the exit file, then exits):
        wait for that, and kill one that outstays `kill_wait`, so removal leaves no process."""
        deadline = self.time_source.time() + self.options.kill_wait
        for attempt in held.containers.values():
            pid, start = attempt.record.get("monitor"), attempt.record.get("monitor_start")
            while _alive(pid, start) and self.time_source.time() < deadline:
                await asyncio.sleep(0.02)
            if _alive(pid, start):
                with contextlib.suppress(OSError):
                    os.kill(int(str(pid)), signal.SIGKILL)

    async def remove_pod(self, pod_uid: str) -> None:
        await self._ready()
        held = self._pods.get(pod_uid)
        if held is None:
            remove_tree(self.layout.pod_dir(pod_uid))
            remove_tree(self.layout.log_dir(pod_uid))
            return
        async with held.lock:
            await self._stop_all(held, 0)
            await self._reap_monitors(held)
            for name, numbers in records.attempts(self.layout.containers_dir(pod_uid)).items():
                for number in numbers:
                    directory = self.layout.attempt_dir(pod_uid, name, number)
                    self._discard_attempt(_Attempt(records.read_json(directory / records.CONTAINER_FILE) or {}, directory))
            if held.sandbox.get("cgroup") and self.support.cgroups is not None:
                left = cgroups.remove(self.support.cgroups, held.sandbox["cgroup"])
                if left:
                    raise RuntimeError(f"removing pod {pod_uid}: cgroups left: " + ", ".join(str(p) for p in left))
            for attempt in held.containers.values():
                self._by_id.pop(attempt.id, None)
            remove_tree(self.layout.log_dir(pod_uid))
            remove_tree(self.layout.pod_dir(pod_uid))
            self._pods.pop(pod_uid, None)

    async def pod_status(self, pod_uid: str) -> PodStatus | None:
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
        """UsageSource: the node's /proc and every running container's cgroup (no container
        entries where there are no cgroups), read in a thread."""
        await self._ready()
        layout = self.support.cgroups
        running = [
            (held.sandbox, attempt.record)
            for held in list(self._pods.values())
            for attempt in list(held.containers.values())
            if attempt.state == RUNNING and attempt.record.get("cgroup")
        ]

        def measure() -> ResourceUsage:
            node_cpu, node_memory = usage.read_node_usage()
            containers = []
            for sandbox, record in running if layout is not None else []:
                measured = usage.read_cgroup_usage(layout, record["cgroup"]) if layout is not None else None
                if measured is not None:
                    started = float(record.get("started_at") or record["created_at"])
                    containers.append(
                        ContainerUsage(sandbox["uid"], sandbox["namespace"], sandbox["name"], record["name"], measured[0], measured[1], started)
                    )
            return ResourceUsage(self.time_source.time(), node_cpu, node_memory, tuple(containers))

        return await asyncio.to_thread(measure)

    async def reset_node(self) -> None:
        """Remove every pod, then the cgroup parent."""
        await self._ready()
        for uid in list(self._pods):
            await self.remove_pod(uid)
        if self.support.cgroups is not None:
            left = cgroups.remove(self.support.cgroups, self.options.cgroup_parent)
            if left:
                raise RuntimeError("cgroups left: " + ", ".join(str(p) for p in left))

    # ------------------------------------------------------------------ extras for the kubelet
    def netns_path(self, pod_uid: str) -> str | None:
        """Always None: pods share the host's network (port-forward dials 127.0.0.1 on the host)."""
        return None

    def container_log_path(self, pod_uid: str, name: str, attempt: int | None = None) -> Path:
        if attempt is None:
            held = self._pods.get(pod_uid)
            latest = held.containers.get(name) if held is not None else None
            attempt = int(latest.record["attempt"]) if latest is not None else 0
        return self.layout.log_path(pod_uid, name, attempt)

    def exec_argv(self, pod_uid: str, name: str, argv: Sequence[str], *, tty: bool = False) -> list[str]:
        """A host command line running argv in the container: nsenter into its namespaces (root
        and working directory of its init), or, in host mode, in its working directory with its
        PATH; with the container's environment either way. `tty` needs nothing extra."""
        attempt = self._running(pod_uid, name)
        launch = attempt.launch
        command = list(argv)
        if launch.isolation == HOST:
            if command and command[0].startswith("/"):
                command[0] = str(Path(launch.rootfs) / command[0].lstrip("/"))
            return [self.env_binary, "-i", "-C", launch.cwd, *launch.env, *command]
        if not self.nsenter:
            raise ContainerStartError("ContainerNotRunning", "exec needs nsenter (util-linux) on the node")
        enter = [self.nsenter, f"--target={attempt.record['pid']}", "--mount", "--pid", "--ipc"]
        if launch.hostname:
            enter.append("--uts")
        if launch.user_namespace:
            enter += ["--user", "--preserve-credentials"]  # only the caller's ids are mapped: no setgroups
        enter += ["--root", "--wd"]
        if launch.uid is not None:
            enter += [f"--setuid={launch.uid}", f"--setgid={launch.gid or 0}"]
        return [self.env_binary, "-i", *launch.env, *enter, "--", *command]

    async def exec_sync(self, pod_uid: str, name: str, argv: Sequence[str], timeout: float = 10.0) -> tuple[int, bytes, bytes]:
        """Run argv in the container and wait: (exit code, stdout, stderr) (exec probes)."""
        command = self.exec_argv(pod_uid, name, argv)
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
        except (TimeoutError, asyncio.CancelledError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
            raise
        return process.returncode or 0, stdout, stderr

    def _running(self, pod_uid: str, name: str) -> _Attempt:
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
                return
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
            oom = record.get("cgroup") and self.support.cgroups is not None and cgroups.oom_kills(self.support.cgroups, record["cgroup"]) > 0
            reason = "OOMKilled" if oom else ("Completed" if code == 0 else "Error")
        if message is None:
            message = self._termination_message(attempt, code)
        record.update(state=EXITED, exit_code=code, finished_at=finished_at, reason=reason, message=message)
        record.setdefault("started_at", finished_at)
        attempt.save()
        attempt.exited.set()
        if record.get("cgroup") and self.support.cgroups is not None:
            with contextlib.suppress(OSError):
                cgroups.remove(self.support.cgroups, record["cgroup"], timeout=0.2)
        if notify:
            for listener in list(self._listeners):
                try:
                    listener(str(record["pod_uid"]))
                except Exception:
                    log.exception("runtime event listener failed")

    def _termination_message(self, attempt: _Attempt, code: int) -> str:
        text = ""
        with contextlib.suppress(OSError), open(attempt.directory / "termination-log", "rb") as handle:
            text = handle.read(MAX_TERMINATION_MESSAGE).decode(errors="replace")
        if not text and code != 0 and attempt.record.get("termination_message_policy") == "FallbackToLogsOnError":
            text = containerlogs.tail_message(Path(attempt.record["log"]))
        return text

    def _check_monitor(self, attempt: _Attempt, *, force: bool = False) -> None:
        """A running container whose monitor is gone: take its exit file, else end it with an
        unknown exit code (nothing will ever report it)."""
        if attempt.state != RUNNING:
            return
        alive = _alive(attempt.record.get("monitor"), attempt.record.get("monitor_start"))
        if alive and not force:
            return
        self._on_exit_file(attempt.id)
        if attempt.state != EXITED:
            self._finish(attempt, LOST_EXIT_CODE, self.time_source.time(), reason="Error", message=LOST_MESSAGE)

    # ------------------------------------------------------------------ status
    def _status(self, attempt: _Attempt) -> ContainerStatus:
        record = attempt.record
        common: Obj = {
            "name": record["name"],
            "container_id": f"process://{record['id']}",
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
            self._check_monitor(attempt)
        return PodStatus(
            held.uid,
            str(held.sandbox.get("namespace") or ""),
            str(held.sandbox.get("name") or ""),
            self._sandbox_status(held),
            tuple(self._status(attempt) for attempt in held.containers.values()),
        )

    # ------------------------------------------------------------------ clean-up
    def _discard_older(self, held: _Pod, name: str, keep: _Attempt) -> None:
        """Attempts older than `keep` and their logs go: only the latest dead one stays."""
        newest = int(keep.record["attempt"])
        for number in records.attempts(self.layout.containers_dir(held.uid)).get(name, []):
            if number < newest:
                remove_tree(self.layout.attempt_dir(held.uid, name, number))
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.layout.log_path(held.uid, name, 0).parent):
                number_text = entry.name.split(".", 1)[0]
                if number_text.isdigit() and int(number_text) < newest:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

    def _discard_attempt(self, attempt: _Attempt) -> None:
        """The attempt's directory (rootfs copy or overlay upper) and exit file; its log stays."""
        if attempt.record.get("id"):
            with contextlib.suppress(OSError):
                (self.layout.exits / str(attempt.record["id"])).unlink()
        remove_tree(attempt.directory)

