"""`OciRuntime`: the kubelet's Runtime (runtime/base.py) over real containers.

run_pod_sandbox: pod cgroup, named netns, CNI ADD (IP from host-local over the pod CIDR), the
pod's /etc files and /dev/shm. start_container: image per imagePullPolicy, a new attempt (bundle,
overlay rootfs, config.json), conmon + `runc create`, `runc start`. Exits arrive as conmon's exit
files (exits.py). stop_pod: the image's stop signal (SIGTERM), the grace period, SIGKILL.
remove_pod: every container, mount, the pod cgroup, CNI DEL, the netns, its files and logs. The
record lifecycle around these (loading and adopting pods after a restart, attempts, exits,
statuses, stop and removal sequences) is kubelite.runtime.podruntime's; this module adds what is
particular to runc, conmon, CNI and mounts, and log rotation (conmon only reopens its log).

Must not keep the record lifecycle (podruntime.py's): it drives runc, conmon, CNI, netns and mounts;
the kubelet decides restarts and resolves env and volumes before calling it.
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kubelite.runtime import containerlogs as logs
from kubelite.runtime.attempts import (
    CREATED,
    EXITED,
    LOST_EXIT_CODE,
    RESTARTED_BEFORE_START,
    RUNNING,
    Attempt,
    Pod,
    attempt_record,
)
from kubelite.runtime.base import TimeSource
from kubelite.runtime.images.puller import Puller
from kubelite.runtime.images.store import ImageRecord, ImageStore
from kubelite.runtime.oci import cgroups, cni, masquerade, netns, rootfs, spec, state
from kubelite.runtime.oci.errors import ContainerStartError, OciCommandError
from kubelite.runtime.oci.host import HostSupport, check_host, node_info
from kubelite.runtime.oci.resources import pod_cgroup_path, pod_limits
from kubelite.runtime.oci.runner import Runner, reopen_log
from kubelite.runtime.oci.volumes import VolumePaths
from kubelite.runtime.podruntime import Obj, PodRuntime, PodRuntimeOptions, PullSecrets
from kubelite.runtime.podstate import write_json
from kubelite.runtime.procstat import process_start_time

__all__ = ["OciOptions", "OciRuntime", "PullSecrets"]

log = logging.getLogger(__name__)

LOST_MESSAGE = "the container's monitor (conmon) ended without recording an exit code"


@dataclass(frozen=True)
class OciOptions(PodRuntimeOptions):
    bridge: str = "kubelite0"
    network_name: str = "kubelite"
    netns_prefix: str = "kubelite-"
    oci_runtime: str = "auto"  # auto (crun where it starts, else runc), runc or crun
    cni_plugin_dirs: tuple[str, ...] = cni.DEFAULT_PLUGIN_DIRS
    pod_pids_limit: int = -1
    shm_size: int = 64 * 1024 * 1024
    log_check_interval: float = 10.0


class OciRuntime(PodRuntime[Attempt]):
    options: OciOptions
    layout: state.Layout
    lost_message = LOST_MESSAGE
    removal_error = OciCommandError
    discard_errors = (OSError, OciCommandError)

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
        self.host = host or check_host(options.data_dir, oci_runtime=options.oci_runtime, cni_plugin_dirs=options.cni_plugin_dirs)
        super().__init__(
            options,
            state.Layout(options.data_dir),
            image_store=image_store,
            puller=puller,
            volume_paths=volume_paths,
            pull_secrets=pull_secrets,
            time_source=time_source,
        )
        self.runner = Runner(self.host.binary, self.host.conmon, self.layout.runc_root, self.layout.exits, self.layout.sockets)
        self.network = cni.CniNetwork(
            cni.CniSettings(options.network_name, options.bridge, (self.host.cni_plugin_dir,)),
            self.host.cni_plugin_dir,
            self.layout.cni,
        )
        self._info = node_info(self.host.binary)
        self._pod_cidr: str | None = None
        self._masquerading: str | None = None  # the pod CIDR the node's masquerade rule was made for
        self._rotation: asyncio.Task[None] | None = None
        self._last_cap = self._read_last_cap()

    @staticmethod
    def _read_last_cap() -> int:
        try:
            return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
        except (OSError, ValueError):
            return len(spec.ALL_CAPABILITIES) - 1

    @property
    def cgroup_layout(self) -> cgroups.CgroupLayout:
        return self.host.layout

    def _make_attempt(self, record: Obj, directory: Path) -> Attempt:
        return Attempt(record, directory)

    def _remove_tree(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def _remove_unrecorded_pod(self, uid: str) -> None:
        if not rootfs.mounts_under(self.layout.pod_dir(uid)):
            shutil.rmtree(self.layout.pod_dir(uid), ignore_errors=True)

    # ------------------------------------------------------------------ lifecycle
    def _on_loaded(self) -> None:
        self._rotation = asyncio.get_running_loop().create_task(self._rotate_logs_forever())

    async def _close_background(self) -> None:
        if self._rotation is not None:
            self._rotation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rotation
            self._rotation = None

    async def _adopt_created(self, attempt: Attempt) -> None:
        """An attempt the previous runtime was still launching: running, never started, or gone."""
        record = attempt.record
        self._record_conmon(attempt)
        current = await self.runner.state(attempt.id)
        status = (current or {}).get("status")
        if status == "running":
            record["state"] = RUNNING
            record.setdefault("started_at", record["created_at"])
            attempt.save()
        elif status == "created":
            await self.runner.delete(attempt.id)
            self._start_failed(attempt, RESTARTED_BEFORE_START)
        else:
            self._on_exit_file(attempt.id)
            if attempt.state != EXITED:
                self._finish(attempt, LOST_EXIT_CODE, self.time_source.time(), reason="Error", message=LOST_MESSAGE, notify=False)

    def _record_conmon(self, attempt: Attempt) -> None:
        """conmon's pid (from its pid file) and start time, so a reused pid is not taken for it."""
        with contextlib.suppress(OSError, ValueError):
            conmon_pid = int((attempt.directory / "conmon.pid").read_text().strip())
            attempt.record["conmon_pid"] = conmon_pid
            attempt.record["conmon_start"] = process_start_time(conmon_pid)

    # ------------------------------------------------------------------ sandboxes
    async def update_pod_cidr(self, cidr: str) -> None:
        self._pod_cidr = str(ipaddress.ip_network(cidr, strict=False))

    def _reuse_sandbox(self, held: Pod[Attempt]) -> bool:
        if self._sandbox_intact(held):
            return True
        held.sandbox["ready"] = False  # e.g. after a reboot: the netns and /dev/shm are gone
        held.sandbox["shm"] = False
        return False

    def _own_uts(self, host_network: bool) -> bool:
        return not host_network

    def _sandbox_fields(self, pod: Obj, uid: str, host_network: bool) -> Obj:
        name = ""
        if not host_network:
            name = netns.netns_name(self.options.netns_prefix, uid)
            if any(other.sandbox.get("netns") == name for other in self._pods.values()):
                name = f"{self.options.netns_prefix}{uid.replace('-', '')[:20]}"
        return {"netns": name, "ip": "", "cgroup": pod_cgroup_path(self.options.cgroup_parent, pod)}

    async def _set_up_sandbox(self, pod: Obj, held: Pod[Attempt]) -> None:
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
            write_json(self.layout.sandbox_file(uid), record)
        self._write_pod_files(pod, held, record["ip"])
        shm = self.layout.shm_dir(uid)
        if not record.get("shm"):
            rootfs.mount_tmpfs(shm, self.options.shm_size)
            record["shm"] = True
        record["ready"] = True
        write_json(self.layout.sandbox_file(uid), record)

    def _sandbox_intact(self, held: Pod[Attempt]) -> bool:
        name = held.sandbox.get("netns")
        if name and not netns.exists(name):
            return False
        return os.path.ismount(self.layout.shm_dir(held.uid))

    async def _tear_down_pod(self, held: Pod[Attempt]) -> list[str]:
        pod_uid = held.uid
        errors = await self._discard_attempts(pod_uid)
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
                    write_json(self.layout.sandbox_file(pod_uid), record)
                except OciCommandError as exc:
                    errors.append(str(exc))
            try:
                await netns.delete(record["netns"])
            except OciCommandError as exc:
                errors.append(str(exc))
        return errors + self._remove_pod_cgroup(held)

    async def _reset_node_network(self) -> None:
        await masquerade.remove(self.options.network_name)
        self._masquerading = None
        await cni.delete_bridge(self.options.bridge)

    # ------------------------------------------------------------------ containers
    async def _prepare(self, pod: Obj, held: Pod[Attempt], container: Obj, image: ImageRecord, number: int) -> Attempt:
        """Write the attempt's bundle (config.json, termination-log file) and mount its rootfs."""
        uid = held.uid
        name = str(container["name"])
        sandbox = held.sandbox
        inputs = self._container_inputs(pod, held, container, image)
        container_id = secrets.token_hex(32)
        directory = self._new_attempt_dir(uid, name, number)
        cgroup = f"{sandbox['cgroup']}/{container_id}"
        spec_inputs = spec.SpecInputs(
            rootfs=str(directory / "rootfs"),
            args=tuple(inputs.argv),
            env=tuple(inputs.env),
            cwd=inputs.cwd,
            user=inputs.user,
            hostname=sandbox["hostname"],
            netns_path=str(netns.netns_path(sandbox["netns"])) if sandbox["netns"] else None,
            cgroups_path=cgroup,
            mounts=tuple(self._pod_mounts(uid, container, inputs.volume_mounts, directory)),
        )
        config = spec.build_spec(pod, container, spec_inputs, last_cap=self._last_cap)
        write_json(directory / "config.json", config)
        try:
            rootfs.mount_overlay(inputs.layers, directory / "upper", directory / "work", directory / "rootfs")
        except OSError as exc:
            shutil.rmtree(directory, ignore_errors=True)
            raise ContainerStartError("CreateContainerError", f"failed to mount the container's rootfs: {exc}") from None
        record = attempt_record(
            container_id, uid, container, number, image, inputs.image_config,
            cgroup=cgroup, log=str(self.layout.log_path(uid, name, number)), created_at=self.time_source.time(),
        )
        record["runtime"] = self.host.binary.name
        attempt = Attempt(record, directory)
        attempt.save()
        return attempt

    def _remove_stale_attempt(self, directory: Path) -> None:
        if directory.exists():  # left by a start that failed half-way
            rootfs.unmount(directory / "rootfs")
            shutil.rmtree(directory)

    async def _launch(self, held: Pod[Attempt], attempt: Attempt) -> None:
        """conmon + create, then start; a failure ends the attempt as StartError (exit 128)."""
        record = attempt.record
        conmon_name = f"k8s_{record['name']}_{held.sandbox['name']}_{held.sandbox['namespace']}_{held.uid}_{record['attempt']}"
        try:
            record["pid"] = await self.runner.create(attempt.id, attempt.directory, Path(record["log"]), conmon_name)
            self._record_conmon(attempt)
            record["started_at"] = self.time_source.time()
            await self.runner.start(attempt.id)
        except (TimeoutError, OciCommandError) as exc:
            self._start_failed(attempt, str(exc) or "the container did not start")
            return
        if attempt.state != EXITED:
            record["state"] = RUNNING
            attempt.save()

    async def _discard_attempt(self, directory: Path, record: Obj) -> None:
        """Delete the attempt's container, unmount its rootfs and remove its bundle (not its log)."""
        container_id = str(record.get("id") or "")
        if container_id:
            await self.runner.delete(container_id)
            with contextlib.suppress(OSError):
                (self.layout.sockets / container_id).unlink()
            with contextlib.suppress(OSError):
                (self.layout.exits / container_id).unlink()
        rootfs.unmount(directory / "rootfs")
        shutil.rmtree(directory, ignore_errors=True)

    def _container_id(self, record: Obj) -> str:
        return f"{record.get('runtime') or self.host.binary.name}://{record['id']}"

    # ------------------------------------------------------------------ stopping
    async def _stop(self, attempt: Attempt, grace_seconds: float) -> None:
        if attempt.state == CREATED:  # never started: nothing to signal
            await self.runner.delete(attempt.id)
            self._finish(attempt, 137, self.time_source.time(), reason="Error", message="")
            return
        await super()._stop(attempt, grace_seconds)

    async def _send_stop_signal(self, attempt: Attempt) -> bool:
        return await self.runner.kill(attempt.id, _signal_arg(str(attempt.record.get("stop_signal") or "SIGTERM")))

    async def _kill(self, attempt: Attempt) -> None:
        await self.runner.kill(attempt.id, "KILL", all_processes=True)

    def _monitor_watched(self, attempt: Attempt, force: bool) -> bool:
        # an attempt still being created (no pid yet) is not conmon's to report unless forced
        return attempt.state != EXITED and (force or attempt.state != CREATED or "pid" in attempt.record)

    def _monitor_alive(self, attempt: Attempt) -> bool:
        pid = attempt.record.get("conmon_pid")
        return pid is not None and process_start_time(int(pid)) == attempt.record.get("conmon_start")

    # ------------------------------------------------------------------ extras for the kubelet
    def netns_path(self, pod_uid: str) -> str | None:
        """The pod's network namespace (port-forward enters it); None for hostNetwork/unknown."""
        held = self._pods.get(pod_uid)
        if held is None or not held.sandbox.get("netns"):
            return None
        return str(netns.netns_path(held.sandbox["netns"]))

    def exec_argv(self, pod_uid: str, name: str, argv: Sequence[str], *, tty: bool = False) -> list[str]:
        """The host command line that runs argv inside the running container (streaming exec)."""
        return self.runner.exec_argv(self._running(pod_uid, name).id, argv, tty=tty)

    async def exec_sync(self, pod_uid: str, name: str, argv: Sequence[str], timeout: float = 10.0) -> tuple[int, bytes, bytes]:
        """Run argv in the container and wait: (exit code, stdout, stderr) (exec probes)."""
        done = await self.runner.exec_sync(self._running(pod_uid, name).id, argv, timeout)
        return done.returncode, done.stdout, done.stderr

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


def _cni_id(sandbox: Obj) -> str:
    """CNI_CONTAINERID of the pod's current attachment."""
    generation = int(sandbox.get("cni_generation") or 0)
    return str(sandbox["uid"]) if generation == 0 else f"{sandbox['uid']}-{generation}"
