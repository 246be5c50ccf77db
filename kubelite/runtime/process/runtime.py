"""`ProcessRuntime`: the kubelet's Runtime (runtime/base.py) with containers as host processes.

run_pod_sandbox: the pod's record, /etc files, a /dev/shm directory and (where permitted) its
cgroup; no network of its own — the pod's IP is the node's (SandboxStatus.ip ""). start_container:
the image per imagePullPolicy, a check that its ports are free on the host, a new attempt
directory (launch.json; an overlay mount point or a merged copy of the image), then a monitor
(monitor.py) that starts the container, writes its CRI log and, at the end, its exit code to
DATA/process/exits/<id>. stop_pod: the image's stop signal, the grace period, SIGKILL to the
container's process group. The record lifecycle around these (loading and adopting pods after a
restart, attempts, exits, statuses, stop and removal sequences) is kubelite.runtime.podruntime's;
this module adds what is particular to host processes and their monitor (checked by pid and
start time).

Must not keep the record lifecycle (podruntime.py's) or network pods: it prepares host processes
and starts, signals and enters them; the kubelet decides restarts and resolves env and volumes.
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from kubelite.runtime.attempts import (
    CREATED,
    EXITED,
    RESTARTED_BEFORE_START,
    RUNNING,
    Attempt,
    Pod,
    attempt_record,
)
from kubelite.runtime.base import TimeSource
from kubelite.runtime.images.puller import Puller
from kubelite.runtime.images.store import ImageRecord, ImageStore
from kubelite.runtime.oci import cgroups
from kubelite.runtime.oci.errors import ContainerStartError
from kubelite.runtime.oci.resources import container_limits, pod_cgroup_path, pod_limits
from kubelite.runtime.oci.volumes import VolumePaths
from kubelite.runtime.podruntime import Obj, PodRuntime, PodRuntimeOptions, PullSecrets, read_only_root
from kubelite.runtime.podstate import read_json, write_json
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
from kubelite.runtime.syncpipe import read_line

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessOptions(PodRuntimeOptions):
    isolation: str = "auto"  # auto (namespaces where permitted), namespaces, host
    node_ip: str = ""  # written to pods' /etc/hosts for their hostname
    start_timeout: float = 30.0  # seconds for a monitor to report its container started


@dataclass
class ProcessAttempt(Attempt):
    _launch: LaunchSpec | None = None

    @property
    def launch(self) -> LaunchSpec:
        if self._launch is None:
            self._launch = LaunchSpec.read(self.directory / "launch.json")
        return self._launch


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


class ProcessRuntime(PodRuntime[ProcessAttempt]):
    options: ProcessOptions
    layout: Layout
    lost_message = "the container's monitor ended without recording an exit code"

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
        layout = Layout(options.data_dir)
        layout.create()
        self.support = support or check_process_host(options.data_dir, isolation=options.isolation, cgroup_parent=options.cgroup_parent)
        for reason in self.support.reasons:
            log.warning("process runtime: %s", reason)
        super().__init__(
            options,
            layout,
            image_store=image_store,
            puller=puller,
            volume_paths=volume_paths,
            pull_secrets=pull_secrets,
            time_source=time_source,
        )
        self.nsenter = shutil.which("nsenter") or ""
        self.env_binary = shutil.which("env") or "/usr/bin/env"
        self._info = node_info()
        self._warned_resources = False

    @property
    def isolation(self) -> str:
        return self.support.isolation

    @property
    def cgroup_layout(self) -> cgroups.CgroupLayout | None:
        return self.support.cgroups

    def _make_attempt(self, record: Obj, directory: Path) -> ProcessAttempt:
        return ProcessAttempt(record, directory)

    def _remove_tree(self, path: Path) -> None:
        remove_tree(path)

    # ------------------------------------------------------------------ lifecycle
    async def _adopt_created(self, attempt: ProcessAttempt) -> None:
        """An attempt the previous runtime was still launching: the monitor's started.json says
        whether (and as what) the container started."""
        started = read_json(attempt.directory / "started.json")
        if started is not None and "pid" in started:
            self._record_started(attempt, started)
            attempt.save()
        elif started is not None:
            self._start_failed(attempt, str(started.get("error") or ""))
        else:
            self._start_failed(attempt, RESTARTED_BEFORE_START)

    # ------------------------------------------------------------------ sandboxes
    async def update_pod_cidr(self, cidr: str) -> None:
        """Pods use the node's network: nothing takes IPs from the pod CIDR."""

    def _own_uts(self, host_network: bool) -> bool:
        return not host_network and self.isolation == NAMESPACES

    def _sandbox_fields(self, pod: Obj, uid: str, host_network: bool) -> Obj:
        return {"cgroup": pod_cgroup_path(self.options.cgroup_parent, pod) if self.support.cgroups is not None else ""}

    async def _set_up_sandbox(self, pod: Obj, held: Pod[ProcessAttempt]) -> None:
        record = held.sandbox
        if record["cgroup"] and self.support.cgroups is not None:
            cgroups.ensure(self.support.cgroups, record["cgroup"], pod_limits(pod))
        self._write_pod_files(pod, held, self.options.node_ip)
        shm = self.layout.shm_dir(held.uid)
        shm.mkdir(exist_ok=True)
        os.chmod(shm, 0o1777)
        record["ready"] = True
        write_json(self.layout.sandbox_file(held.uid), record)

    async def _tear_down_pod(self, held: Pod[ProcessAttempt]) -> list[str]:
        await self._reap_monitors(held)
        await self._discard_attempts(held.uid)
        return self._remove_pod_cgroup(held)

    async def _reap_monitors(self, held: Pod[ProcessAttempt]) -> None:
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

    # ------------------------------------------------------------------ containers
    def _check_start(self, held: Pod[ProcessAttempt], container: Obj) -> None:
        """A declared port is a host port: refuse one another pod's container or another
        process on the node holds."""
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

    async def _prepare(self, pod: Obj, held: Pod[ProcessAttempt], container: Obj, image: ImageRecord, number: int) -> ProcessAttempt:
        """The attempt's directory: termination-log file, rootfs (mount point or copy), launch.json."""
        uid = held.uid
        name = str(container["name"])
        sandbox = held.sandbox
        inputs = self._container_inputs(pod, held, container, image)
        argv, env, cwd, user = inputs.argv, inputs.env, inputs.cwd, inputs.user
        container_id = secrets.token_hex(32)
        directory = self._new_attempt_dir(uid, name, number)
        mounts = [Mount(m.destination, m.source, m.read_only) for m in self._pod_mounts(uid, container, inputs.volume_mounts, directory)]
        rootfs = directory / "rootfs"
        overlay: Overlay | None = None
        executable = ""
        try:
            if self.isolation == NAMESPACES and self.support.overlay:
                lower = [str(layer) for layer in inputs.layers]
                if not lower:
                    (directory / "empty-lower").mkdir()
                    lower = [str(directory / "empty-lower")]
                for sub in ("rootfs", "upper", "work"):
                    (directory / sub).mkdir()
                overlay = Overlay(tuple(lower), str(directory / "upper"), str(directory / "work"))
            else:
                await asyncio.to_thread(merge_layers, inputs.layers, rootfs)
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
            read_only_root=read_only_root(container) and self.isolation == NAMESPACES,
            no_new_privileges=(container.get("securityContext") or {}).get("allowPrivilegeEscalation") is False,
            cgroup_procs=procs,
            stdin_fifo=stdin_fifo,
            log_max_size=self.options.log_max_size,
            log_max_files=self.options.log_max_files,
        )
        launch.write(directory / "launch.json")
        record = attempt_record(
            container_id, uid, container, number, image, inputs.image_config, cgroup=cgroup, log=launch.log_path, created_at=self.time_source.time()
        )
        record["ports"] = [list(port) for port in ports.declared_ports(container)]
        attempt = ProcessAttempt(record, directory, _launch=launch)
        attempt.save()
        return attempt

    async def _launch(self, held: Pod[ProcessAttempt], attempt: ProcessAttempt) -> None:
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
            self._start_failed(attempt, f"cannot start the monitor: {exc}")
            return
        os.close(write_end)
        try:
            line = await asyncio.wait_for(read_line(read_end), self.options.start_timeout)
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
        write_json(attempt.directory / "started.json", message or {"error": "no report"})
        if "pid" not in message:
            text = str(message.get("error") or "")
            if not text:
                with contextlib.suppress(OSError):
                    text = (attempt.directory / "monitor.err").read_bytes()[-2048:].decode(errors="replace").strip()
            self._start_failed(attempt, text or "the container's monitor did not report a start")
            return
        self._record_started(attempt, message)
        if attempt.state != EXITED:
            record["state"] = RUNNING
        attempt.save()

    def _record_started(self, attempt: ProcessAttempt, message: Obj) -> None:
        record = attempt.record
        for key in ("pid", "pgid", "monitor"):
            pid = int(message[key])
            record[key] = pid
            record[f"{key}_start"] = process_start_time(pid)
        if record.get("state") == CREATED:
            record["state"] = RUNNING
        record.setdefault("started_at", record["created_at"])

    async def _discard_attempt(self, directory: Path, record: Obj) -> None:
        """The attempt's directory (rootfs copy or overlay upper) and exit file; its log stays."""
        if record.get("id"):
            with contextlib.suppress(OSError):
                (self.layout.exits / str(record["id"])).unlink()
        remove_tree(directory)

    def _container_id(self, record: Obj) -> str:
        return f"process://{record['id']}"

    # ------------------------------------------------------------------ stopping
    def _signal(self, attempt: ProcessAttempt, number: int, *, group: bool) -> bool:
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

    async def _send_stop_signal(self, attempt: ProcessAttempt) -> bool:
        number = _signal_number(str(attempt.record.get("stop_signal") or "SIGTERM"))
        # namespaces: the container's init, as runc does; host mode: every process of it
        return self._signal(attempt, number, group=attempt.launch.isolation == HOST)

    async def _kill(self, attempt: ProcessAttempt) -> None:
        self._signal(attempt, signal.SIGKILL, group=True)
        if attempt.record.get("cgroup") and self.support.cgroups is not None:
            for pid in cgroups.processes(self.support.cgroups, attempt.record["cgroup"]):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def _monitor_watched(self, attempt: ProcessAttempt, force: bool) -> bool:
        return attempt.state == RUNNING

    def _monitor_alive(self, attempt: ProcessAttempt) -> bool:
        return _alive(attempt.record.get("monitor"), attempt.record.get("monitor_start"))

    def _on_exited(self, attempt: ProcessAttempt) -> None:
        """The container's own cgroup goes with it (the pod's stays until remove_pod)."""
        if attempt.record.get("cgroup") and self.support.cgroups is not None:
            with contextlib.suppress(OSError):
                cgroups.remove(self.support.cgroups, attempt.record["cgroup"], timeout=0.2)

    # ------------------------------------------------------------------ extras for the kubelet
    def netns_path(self, pod_uid: str) -> str | None:
        """Always None: pods share the host's network (port-forward dials 127.0.0.1 on the host)."""
        return None

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
