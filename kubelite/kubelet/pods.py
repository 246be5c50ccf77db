"""One node's pod worker: `sync(key)` drives a pod bound to the node from desired to actual
through the Runtime (sandbox, init containers in order, containers, restarts with upstream's
CrashLoopBackOff delays), writes its status when it changed, and on graceful deletion stops it
and deletes it with gracePeriodSeconds 0 and a uid precondition, as the kubelet does. Pods gone
from the API (or the node) are removed from the runtime.

Given the API objects (KubeletObjects) it resolves each container's env before starting it
(CreateContainerConfigError when a source is missing); given a VolumeManager it sets up the pod's
volumes first and tears them down with the pod. Image pulls that fail back off (ErrImagePull,
then ImagePullBackOff, 10 s doubling to 5 min); probes (probes.py) gate readiness and restart
containers that fail liveness; postStart runs after a start, preStop before a graceful stop.
Each step records upstream's kubelet events (events.py): Pulling/Pulled, Created, Started,
Failed, BackOff, Killing, Unhealthy, FailedMount, FailedPostStartHook, FailedPreStopHook.

A pod's termination (preStop hooks, the stop with its grace period, the final status, the
confirming delete, removal from the runtime) runs as a task of its own (terminations.py), retried
with backoff until done, so a pod that takes its whole grace period holds no pod worker; while it
runs, syncs of that pod do nothing (it never starts again), and a new pod under the same name
(another uid) starts at once, independent of it. A graceful stop in progress is cut short when
the pod's deletionGracePeriodSeconds drops (a second delete with a shorter grace period, the
garbage collector): `observe` (called by the informer's handler) signals it, and the stop restarts
with the new, shorter grace, as upstream's pod workers do with killPodOptions; a pod gone from
the API meanwhile is stopped at once.

Its only state is which runtime pod (uid) holds each key, the last status it wrote, back-off
timers, probe results and the terminations in flight: all are rebuilt from
`Runtime.list_pods()`, the informer and fresh probes after a restart.

Must not watch anything or run workers (PodWorkers does), nor touch the Node or Lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from kubelite.api.errors import StatusError
from kubelite.client.cache import object_key, split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.kubelet.envresolve import EnvError, build_env, expand_command
from kubelite.kubelet.events import KubeletEvents, go_duration
from kubelite.kubelet.handlers import ExecRuntime, run_action
from kubelite.kubelet.images import image_index, image_size, pull_plan
from kubelite.kubelet.objects import KubeletObjects
from kubelite.kubelet.podstatus import TERMINAL_PHASES, build_pod_status, same_status, should_restart
from kubelite.kubelet.probes import ProbeManager
from kubelite.kubelet.terminations import Terminations
from kubelite.kubelet.timestamps import rfc3339
from kubelite.kubelet.volumes import VolumeError, VolumeManager, needs_refresh
from kubelite.runtime.base import ContainerStatus, PodStatus, PullReporter, Runtime
from kubelite.runtime.oci.errors import ContainerStartError

log = logging.getLogger(__name__)

Obj = dict[str, Any]

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
CONFIG_RETRY = 10.0  # a container waiting on a missing ConfigMap/Secret, or a volume, is retried this often
VOLUME_REFRESH = 60.0  # volumes from ConfigMaps, Secrets, tokens and the downward API are rewritten this often
MIN_GRACE_AFTER_PRE_STOP = 2.0  # upstream's minimumGracePeriodInSeconds
DEFAULT_GRACE = 30
TERMINATION_RETRY_INITIAL = 1.0  # a termination that failed (API or runtime error) is retried after this,
TERMINATION_RETRY_MAX = 10.0  # doubling up to upstream's pod worker back-off period
Waiting = dict[str, tuple[str, str]]


@runtime_checkable
class ContainerStopper(Protocol):
    """Runtimes that can stop one container (liveness restarts, failed postStart hooks)."""

    async def stop_container(self, pod_uid: str, name: str, grace_seconds: float) -> None: ...


def restart_delay(restart_count: int) -> float:
    """Seconds after a container's exit before it is started again: at once the first time, then
    10s doubling to 5m (upstream's CrashLoopBackOff)."""
    if restart_count <= 0:
        return 0.0
    return min(BACKOFF_INITIAL * 2 ** (restart_count - 1), BACKOFF_MAX)


def termination_grace(pod: Obj) -> int:
    """The grace period a deleting pod's containers get: metadata.deletionGracePeriodSeconds, else
    spec.terminationGracePeriodSeconds (30 s by default)."""
    grace = pod["metadata"].get("deletionGracePeriodSeconds")
    if grace is None:
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", DEFAULT_GRACE)
    return int(grace)


class _Stopping:
    """A graceful stop in progress; `shortened` is set when its grace period dropped."""

    __slots__ = ("grace", "shortened")

    def __init__(self, grace: int):
        self.grace = grace
        self.shortened = asyncio.Event()


def _rfc(seconds: float | None) -> str:
    return rfc3339(seconds or 0.0)


def _resource_version(obj: Obj | None) -> int:
    try:
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class PodSyncer:
    def __init__(
        self,
        client: Client,
        node_name: str,
        runtime: Runtime,
        clock: Clock,
        *,
        lookup: Callable[[str], Obj | None],
        host_ip: Callable[[], str],
        field_manager: str = "kubelet",
        objects: KubeletObjects | None = None,
        volumes: VolumeManager | None = None,
        allocatable: Callable[[], dict[str, str]] = dict,
        events: KubeletEvents | None = None,
    ):
        """`objects`: resolve env from ConfigMaps/Secrets/services/the downward API (without it
        containers get their spec's env unchanged, as hollow nodes do). `volumes`: set up the
        pods' volumes before their containers. `events`: where the kubelet's events go (none
        recorded without it)."""
        self.pods = client.resource("", "v1", "pods")
        self.node_name = node_name
        self.runtime = runtime
        self.clock = clock
        self.lookup = lookup
        self.host_ip = host_ip
        self.field_manager = field_manager
        self.uids: dict[str, str] = {}  # key -> uid of the pod the runtime holds
        self.keys: dict[str, str] = {}  # uid -> key
        self._written: dict[str, Obj] = {}  # key -> the pod as our last status write returned it
        self.objects = objects
        self.volumes = volumes
        self.allocatable = allocatable
        self.events = events or KubeletEvents(None, node_name)
        self.images = image_index(runtime)
        self.notify: Callable[[str], None] = lambda uid: None  # PodWorkers routes this to its queue
        exec_runtime = runtime if isinstance(runtime, ExecRuntime) else None
        self.exec_runtime = exec_runtime
        self.probes = ProbeManager(
            exec_runtime, clock, on_change=lambda uid: self.notify(uid), on_kill=self._kill_container, on_failure=self.events.unhealthy
        )
        self._pull_backoff: dict[tuple[str, str], tuple[float, float, str]] = {}  # (uid, name) -> until, delay, message
        self._previous: dict[tuple[str, str], ContainerStatus] = {}  # (uid, name) -> the attempt a restart replaced
        self._pulls: dict[tuple[str, str], tuple[float, float]] = {}  # (uid, name) -> pull seconds, clock when reported
        if isinstance(runtime, PullReporter):
            runtime.on_image_pulled(self._pulled)
        self.terminations = Terminations()
        self._stopping: dict[str, _Stopping] = {}  # uid -> the graceful stop in progress
        self._terminated: dict[str, str] = {}  # key -> uid whose termination finished (until the informer shows it gone)

    async def stop(self) -> None:
        """Cancel the terminations in flight (a restarted kubelet takes them up again) and the probes."""
        await self.terminations.stop()
        await self.probes.stop()

    async def recover(self) -> list[str]:
        """Adopt what the runtime already runs; returns the keys to sync."""
        for pod in await self.runtime.list_pods():
            self._remember(f"{pod.namespace}/{pod.name}" if pod.namespace else pod.name, pod.pod_uid)
        return list(self.uids)

    def _remember(self, key: str, uid: str) -> None:
        self.uids[key] = uid
        self.keys[uid] = key

    async def _forget(self, key: str, uid: str) -> None:
        self.probes.remove_pod(uid)
        await self.runtime.remove_pod(uid)
        if self.volumes is not None:
            await self.volumes.tear_down(uid)
        for backoff in [k for k in self._pull_backoff if k[0] == uid]:
            del self._pull_backoff[backoff]
        for replaced in [k for k in self._previous if k[0] == uid]:
            del self._previous[replaced]
        for pulled in [k for k in self._pulls if k[0] == uid]:
            del self._pulls[pulled]
        if self.uids.get(key) == uid:
            del self.uids[key]
        self.keys.pop(uid, None)
        written = self._written.get(key)
        if written is not None and written["metadata"].get("uid") == uid:
            del self._written[key]

    def _current(self, key: str) -> Obj | None:
        """The informer's pod, or our last write of it when that is newer."""
        cached = self.lookup(key)
        written = self._written.get(key)
        if cached is None or written is None:
            return cached
        if written["metadata"].get("uid") == cached["metadata"].get("uid") and _resource_version(written) > _resource_version(
            cached
        ):
            return written
        del self._written[key]  # the informer has caught up
        return cached

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> float | None:
        """Make the pod under `key` what it should be; returns seconds until it wants another
        sync (a restart held back), or None."""
        pod = self._current(key)
        held_uid = self.uids.get(key)
        if pod is None or (pod.get("spec") or {}).get("nodeName") != self.node_name:
            self._terminated.pop(key, None)
            if held_uid is not None:
                if self.terminations.running(held_uid):
                    self._shorten(held_uid, 0)  # gone from the API: its stop ends at once, its task removes it
                    return None
                runtime_pod = await self.runtime.pod_status(held_uid)
                if runtime_pod is not None and pod is not None:
                    await self.runtime.stop_pod(pod, 0)
                await self._forget(key, held_uid)
            return None
        uid = str(pod["metadata"]["uid"])
        if self._terminated.get(key, uid) != uid:
            del self._terminated[key]
        if held_uid is not None and held_uid != uid:  # the name now belongs to a new pod
            if self.terminations.running(held_uid):
                self._shorten(held_uid, 0)  # the old pod is gone from the API; the new one does not wait for it
            else:
                await self._forget(key, held_uid)
        if pod["metadata"].get("deletionTimestamp"):
            if not self.terminations.running(uid) and self._terminated.get(key) != uid:
                self.terminations.start(uid, self._terminate(key, pod), f"kubelet {self.node_name}: terminating {key}")
            return None
        if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
            runtime_pod = await self.runtime.pod_status(uid)
            if runtime_pod is not None and any(c.state == "running" for c in runtime_pod.containers):
                await self.runtime.stop_pod(pod, 0)
            return None
        sandbox = await self.runtime.run_pod_sandbox(pod)
        self._remember(key, uid)
        pod_ip = sandbox.ip or self.host_ip()
        if self.volumes is not None:
            try:
                await self.volumes.set_up(pod, pod_ip)
            except VolumeError as exc:
                log.warning("%s: pod %s: %s", self.node_name, key, exc.message)
                self.events.mount_failed(pod, exc.message)
                await self._write_status(key, pod, await self.runtime.pod_status(uid), {})
                return CONFIG_RETRY
        waiting, requeue = await self._start_containers(pod, uid, pod_ip)
        runtime_pod = await self.runtime.pod_status(uid)
        self.probes.update(pod, runtime_pod, pod_ip)
        await self._write_status(key, pod, runtime_pod, waiting)
        if self.volumes is not None and needs_refresh(pod):
            requeue = VOLUME_REFRESH if requeue is None else min(requeue, VOLUME_REFRESH)
        return requeue

    async def _start_containers(self, pod: Obj, uid: str, pod_ip: str) -> tuple[Waiting, float | None]:
        spec = pod.get("spec") or {}
        policy = spec.get("restartPolicy") or "Always"
        runtime_pod = await self.runtime.pod_status(uid)
        waiting: Waiting = {}
        requeue: float | None = None

        def retry_in(delay: float) -> None:
            nonlocal requeue
            requeue = delay if requeue is None else min(requeue, delay)

        async def start(container: Obj) -> bool:
            """Start the container; False when it is left waiting (the reason is in `waiting`)."""
            before = runtime_pod.container(container["name"]) if runtime_pod else None
            if before is not None and before.state == "terminated":
                self._previous[(uid, str(container["name"]))] = before
            delay = await self._start(pod, container, pod_ip, waiting)
            if delay is not None:
                retry_in(delay)
                return False
            return True

        def held_back(container: Obj, status: ContainerStatus) -> bool:
            """Whether a terminated container must wait out its backoff (recording why)."""
            nonlocal requeue
            delay = restart_delay(status.restart_count)
            remaining = (status.finished_at or 0.0) + delay - self.clock.time()
            if remaining <= 0:
                return False
            meta = pod["metadata"]
            waiting[container["name"]] = (
                "CrashLoopBackOff",
                f"back-off {go_duration(delay)} restarting failed container={container['name']} "
                f"pod={meta['name']}_{meta.get('namespace', '')}({uid})",
            )
            self.events.crash_back_off(pod, str(container["name"]))
            requeue = remaining if requeue is None else min(requeue, remaining)
            return True

        for init in spec.get("initContainers") or []:
            status = runtime_pod.container(init["name"]) if runtime_pod else None
            sidecar = init.get("restartPolicy") == "Always"
            if status is None:
                if await start(init) and sidecar:
                    continue
                return waiting, requeue
            if status.state == "running":
                if sidecar:
                    continue
                return waiting, requeue
            if status.state == "terminated":
                if sidecar or should_restart(policy, status.exit_code, init=True):
                    if not held_back(init, status):
                        await start(init)
                    if sidecar:
                        continue
                    return waiting, requeue
                if status.exit_code != 0:
                    return waiting, requeue  # the pod has failed
        for container in spec.get("containers") or []:
            status = runtime_pod.container(container["name"]) if runtime_pod else None
            if status is None or (
                status.state == "terminated"
                and should_restart(policy, status.exit_code)
                and not held_back(container, status)
            ):
                await start(container)
        return waiting, requeue

    async def _start(self, pod: Obj, container: Obj, pod_ip: str, waiting: Waiting) -> float | None:
        """Resolve, start and run postStart for one container; seconds until a retry when it
        could not start (its waiting reason recorded), else None."""
        uid = str(pod["metadata"]["uid"])
        name = str(container["name"])
        image = str(container.get("image") or "")
        now = self.clock.time()
        backoff = self._pull_backoff.get((uid, name))
        if backoff is not None and now < backoff[0]:
            waiting[name] = ("ImagePullBackOff", f'Back-off pulling image "{image}": ErrImagePull: {backoff[2]}')
            self.events.pull_back_off(pod, name, image)
            return backoff[0] - now
        plan = pull_plan(self.images, container)
        if plan == "present":  # upstream settles the image before the container's config
            self.events.already_present(pod, name, image)
        resolved = container
        if self.objects is not None:
            try:
                env = await build_env(pod, container, self.objects, host_ip=self.host_ip(), pod_ip=pod_ip, allocatable=self.allocatable())
            except EnvError as exc:
                waiting[name] = ("CreateContainerConfigError", exc.message)
                self.events.failed(pod, name, exc.message)
                return CONFIG_RETRY
            resolved = expand_command(container, env)
        if plan == "pull":
            self.events.pulling(pod, name, image)
        started = self.clock.monotonic()
        try:
            status = await self.runtime.start_container(pod, resolved)
        except ContainerStartError as exc:
            pull, total = self._pull_times(uid, name, started)
            waiting[name] = (exc.reason, exc.message)
            if exc.reason in ("ErrImagePull", "ErrImageNeverPull", "InvalidImageName"):
                self.events.image_failed(pod, name, image, exc.reason, exc.message)
            else:
                size = image_size(self.images, image) if plan == "pull" else 0
                if size:  # pulled, then the container could not be made
                    self.events.pulled(pod, name, image, pull, size, total)
                self.events.failed(pod, name, exc.message)
            if exc.reason == "ErrImagePull":
                delay = BACKOFF_INITIAL if backoff is None else min(backoff[1] * 2, BACKOFF_MAX)
                self._pull_backoff[(uid, name)] = (now + delay, delay, exc.message)
                # shown as ErrImagePull for the first half of the back-off, then ImagePullBackOff
                # until the next pull (as upstream's 10 s worker resync alternates them)
                return delay / 2
            return CONFIG_RETRY
        pull, total = self._pull_times(uid, name, started)
        if plan == "pull":
            self.events.pulled(pod, name, image, pull, image_size(self.images, image), total)
        self.events.created(pod, name)
        self.events.started(pod, name)
        self._pull_backoff.pop((uid, name), None)
        hook = ((container.get("lifecycle") or {}).get("postStart")) or None
        if hook and status.state == "running":
            ok, message = await run_action(self.exec_runtime, uid, pod_ip, resolved, hook, float(DEFAULT_GRACE))
            if not ok:
                log.warning("%s: PostStartHook of %s in %s failed: %s", self.node_name, name, pod["metadata"].get("name"), message)
                self.events.post_start_failed(pod, name)
                self.events.killing(pod, name, "FailedPostStartHook")
                await self._stop_one(pod, name, 0)
        return None

    def _pulled(self, uid: str, name: str, seconds: float) -> None:
        """PullReporter listener: the runtime's start of (uid, name) pulled for `seconds`."""
        self._pulls[(uid, name)] = (seconds, self.clock.monotonic())

    def _pull_times(self, uid: str, name: str, started: float) -> tuple[float, float]:
        """(the pull, the pull with the wait before it) of the start begun at `started`: as the
        runtime reported them, else the whole start (an upper bound) for both."""
        reported = self._pulls.pop((uid, name), None)
        if reported is None:
            elapsed = self.clock.monotonic() - started
            return elapsed, elapsed
        seconds, at = reported
        return seconds, max(seconds, at - started)

    async def _stop_one(self, pod: Obj, name: str, grace: float) -> None:
        if isinstance(self.runtime, ContainerStopper):
            await self.runtime.stop_container(str(pod["metadata"]["uid"]), name, grace)
        else:
            log.warning("%s: the runtime cannot stop container %s alone", self.node_name, name)

    async def _kill_container(self, pod: Obj, name: str, message: str) -> None:
        """A probe asked for a restart: stop the container with its grace period (the restart
        policy then starts it again)."""
        log.info("%s: %s", self.node_name, message)
        self.events.killing(pod, name, message)
        spec = pod.get("spec") or {}
        container: Obj = next((c for c in spec.get("containers") or [] if c.get("name") == name), {})
        probe = container.get("livenessProbe") or container.get("startupProbe") or {}
        grace = probe.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE)
        await self._stop_one(pod, name, float(grace))

    def observe(self, pod: Obj) -> None:
        """The informer saw `pod` change (never blocks): a stop in progress whose grace period
        the pod's deletionGracePeriodSeconds now undercuts is cut short."""
        grace = pod["metadata"].get("deletionGracePeriodSeconds")
        if grace is not None:
            self._shorten(str(pod["metadata"].get("uid")), int(grace))

    def _shorten(self, uid: str, grace: int) -> None:
        stopping = self._stopping.get(uid)
        if stopping is not None and grace < stopping.grace:
            stopping.grace = grace
            stopping.shortened.set()

    def _replaced(self, key: str, uid: str) -> bool:
        """Whether the API no longer holds pod `uid` under `key` (deleted, or the name reused)."""
        current = self.lookup(key)
        return current is None or current["metadata"].get("uid") != uid

    async def _terminate(self, key: str, pod: Obj) -> None:
        """The deleting `pod`'s termination, run as its own task: tried again with backoff until
        it is stopped, its deletion confirmed and the runtime has forgotten it."""
        uid = str(pod["metadata"]["uid"])
        delay = TERMINATION_RETRY_INITIAL
        while True:
            try:
                await self._terminate_once(key, pod)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the API or the runtime failed: as upstream's pod workers, try again later
                log.warning("%s: terminating pod %s failed (again in %gs): %s", self.node_name, key, delay, exc)
            await self.clock.sleep(delay)
            delay = min(delay * 2, TERMINATION_RETRY_MAX)
            pod = self._latest(key, pod)
        if not self._replaced(key, uid):  # the informer has yet to show it gone: syncs until then do nothing
            self._terminated[key] = uid

    async def _terminate_once(self, key: str, pod: Obj) -> None:
        uid = str(pod["metadata"]["uid"])
        runtime_pod = await self.runtime.pod_status(uid)
        if runtime_pod is not None:
            pod = self._latest(key, pod)  # a later delete may have shortened the grace period meanwhile
            self.probes.remove_pod(uid)
            for status in runtime_pod.containers:
                if status.state == "running":
                    self.events.killing(pod, status.name)
            stopping = self._stopping[uid] = _Stopping(0 if self._replaced(key, uid) else termination_grace(pod))
            try:
                await self._stop_gracefully(pod, runtime_pod, stopping)
            finally:
                if self._stopping.get(uid) is stopping:
                    del self._stopping[uid]
            if not self._replaced(key, uid):
                await self._write_status(key, self._latest(key, pod), await self.runtime.pod_status(uid), {})
        if not self._replaced(key, uid):
            namespace, name = split_key(key)
            try:
                await self.pods.namespace(namespace).delete(name, grace_period_seconds=0, uid=uid)
            except StatusError as exc:
                if exc.code not in (404, 409):
                    raise
        await self._forget(key, uid)

    def _latest(self, key: str, pod: Obj) -> Obj:
        """The newest version of the same (deleting) pod we know of."""
        latest = self._current(key)
        if latest is not None and latest["metadata"].get("uid") == pod["metadata"].get("uid") and latest["metadata"].get("deletionTimestamp"):
            return latest
        return pod

    async def _stop_gracefully(self, pod: Obj, runtime_pod: PodStatus, stopping: _Stopping) -> None:
        """preStop hooks, then the runtime's stop with the grace left; restarted with the new
        grace (hooks not run again) each time `observe` shortens it."""

        async def first_stop() -> None:
            grace = await self._pre_stop(pod, runtime_pod, stopping.grace)
            await self.runtime.stop_pod(pod, grace)

        stop: asyncio.Future[None] = asyncio.ensure_future(first_stop())
        try:
            while True:
                shortened = asyncio.ensure_future(stopping.shortened.wait())
                try:
                    await asyncio.wait((stop, shortened), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    shortened.cancel()
                if stop.done():
                    stop.result()
                    return
                stopping.shortened.clear()
                log.info("%s: pod %s: grace period shortened to %ss", self.node_name, pod["metadata"].get("name"), stopping.grace)
                stop.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await stop
                current = asyncio.current_task()
                if current is not None and current.cancelling():  # we were cancelled meanwhile
                    raise asyncio.CancelledError
                stop = asyncio.ensure_future(self.runtime.stop_pod(pod, stopping.grace))
        finally:
            if not stop.done():
                stop.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await stop

    async def _pre_stop(self, pod: Obj, runtime_pod: PodStatus, grace: int) -> int:
        """Run the running containers' preStop hooks (at once, within the grace period); the
        grace left for the stop itself (at least upstream's 2 s when hooks ran)."""
        if grace <= 0:
            return grace
        uid = str(pod["metadata"]["uid"])
        spec = pod.get("spec") or {}
        hooks = []

        async def hook_of(container: Obj, hook: Obj) -> None:
            ok, message = await run_action(self.exec_runtime, uid, runtime_pod.sandbox.ip or self.host_ip(), container, hook, float(grace))
            if not ok:
                log.warning("%s: PreStopHook of %s in %s failed: %s", self.node_name, container["name"], pod["metadata"].get("name"), message)
                self.events.pre_stop_failed(pod, str(container["name"]))

        for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            hook = (container.get("lifecycle") or {}).get("preStop")
            status = runtime_pod.container(str(container["name"]))
            if hook and status is not None and status.state == "running":
                hooks.append(hook_of(container, hook))
        if not hooks:
            return grace
        started = self.clock.monotonic()
        try:
            await asyncio.wait_for(asyncio.gather(*hooks, return_exceptions=True), grace)
        except TimeoutError:
            pass
        left = grace - (self.clock.monotonic() - started)
        return int(max(left, MIN_GRACE_AFTER_PRE_STOP))

    def _probe_state(self, pod: Obj) -> Callable[[Obj, ContainerStatus], tuple[bool, bool]]:
        uid = str(pod["metadata"]["uid"])
        return lambda container, status: self.probes.container_state(uid, container, status.container_id)

    async def _write_status(self, key: str, pod: Obj, runtime_pod: PodStatus | None, waiting: Waiting) -> None:
        status = build_pod_status(
            pod,
            runtime_pod,
            host_ip=self.host_ip(),
            now=rfc3339(self.clock.time()),
            rfc=_rfc,
            waiting=waiting,
            probe_state=self._probe_state(pod),
            previous={name: st for (owner, name), st in self._previous.items() if owner == str(pod["metadata"]["uid"])},
        )
        if same_status(status, pod.get("status")):
            return
        updated = copy.copy(pod)
        updated["status"] = status
        try:
            written = await self.pods.update_status(updated, field_manager=self.field_manager)
        except StatusError as exc:
            if exc.code == 404:
                return
            raise
        self._written[object_key(written)] = written

    def key_of_uid(self, uid: str) -> str | None:
        return self.keys.get(uid)
