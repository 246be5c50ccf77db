"""One node's pod worker: `sync(key)` drives a pod bound to the node from desired to actual
through the Runtime (sandbox, init containers in order, containers, restarts with upstream's
CrashLoopBackOff delays), writes its status when it changed, and on graceful deletion stops it
and deletes it with gracePeriodSeconds 0 and a uid precondition, as the kubelet does. Pods gone
from the API (or the node) are removed from the runtime.

Its only state is which runtime pod (uid) holds each key and the last status it wrote: both are
rebuilt from `Runtime.list_pods()` and the informer after a restart.

Must not watch anything or run workers (PodWorkers does), nor touch the Node or Lease.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.cache import object_key, split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.kubelet.podstatus import TERMINAL_PHASES, build_pod_status, should_restart
from kubelite.kubelet.timestamps import rfc3339
from kubelite.runtime.base import ContainerStatus, PodStatus, Runtime

log = logging.getLogger(__name__)

Obj = dict[str, Any]

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0


def restart_delay(restart_count: int) -> float:
    """Seconds after a container's exit before it is started again: at once the first time, then
    10s doubling to 5m (upstream's CrashLoopBackOff)."""
    if restart_count <= 0:
        return 0.0
    return min(BACKOFF_INITIAL * 2 ** (restart_count - 1), BACKOFF_MAX)


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
    ):
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

    async def recover(self) -> list[str]:
        """Adopt what the runtime already runs; returns the keys to sync."""
        for pod in await self.runtime.list_pods():
            self._remember(f"{pod.namespace}/{pod.name}" if pod.namespace else pod.name, pod.pod_uid)
        return list(self.uids)

    def _remember(self, key: str, uid: str) -> None:
        self.uids[key] = uid
        self.keys[uid] = key

    async def _forget(self, key: str, uid: str) -> None:
        await self.runtime.remove_pod(uid)
        if self.uids.get(key) == uid:
            del self.uids[key]
        self.keys.pop(uid, None)
        self._written.pop(key, None)

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
            if held_uid is not None:
                runtime_pod = await self.runtime.pod_status(held_uid)
                if runtime_pod is not None and pod is not None:
                    await self.runtime.stop_pod(pod, 0)
                await self._forget(key, held_uid)
            return None
        uid = str(pod["metadata"]["uid"])
        if held_uid is not None and held_uid != uid:  # the name now belongs to a new pod
            await self._forget(key, held_uid)
        if pod["metadata"].get("deletionTimestamp"):
            await self._terminate(key, pod)
            return None
        if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
            runtime_pod = await self.runtime.pod_status(uid)
            if runtime_pod is not None and any(c.state == "running" for c in runtime_pod.containers):
                await self.runtime.stop_pod(pod, 0)
            return None
        await self.runtime.run_pod_sandbox(pod)
        self._remember(key, uid)
        waiting, requeue = await self._start_containers(pod, uid)
        runtime_pod = await self.runtime.pod_status(uid)
        await self._write_status(key, pod, runtime_pod, waiting)
        return requeue

    async def _start_containers(self, pod: Obj, uid: str) -> tuple[dict[str, tuple[str, str]], float | None]:
        spec = pod.get("spec") or {}
        policy = spec.get("restartPolicy") or "Always"
        runtime_pod = await self.runtime.pod_status(uid)
        waiting: dict[str, tuple[str, str]] = {}
        requeue: float | None = None

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
                f"back-off {int(delay)}s restarting failed container={container['name']} "
                f"pod={meta['name']}_{meta.get('namespace', '')}({uid})",
            )
            requeue = remaining if requeue is None else min(requeue, remaining)
            return True

        for init in spec.get("initContainers") or []:
            status = runtime_pod.container(init["name"]) if runtime_pod else None
            sidecar = init.get("restartPolicy") == "Always"
            if status is None:
                await self.runtime.start_container(pod, init)
                if sidecar:
                    continue
                return waiting, requeue
            if status.state == "running":
                if sidecar:
                    continue
                return waiting, requeue
            if status.state == "terminated":
                if sidecar or should_restart(policy, status.exit_code, init=True):
                    if not held_back(init, status):
                        await self.runtime.start_container(pod, init)
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
                await self.runtime.start_container(pod, container)
        return waiting, requeue

    async def _terminate(self, key: str, pod: Obj) -> None:
        uid = str(pod["metadata"]["uid"])
        runtime_pod = await self.runtime.pod_status(uid)
        if runtime_pod is not None:
            grace = pod["metadata"].get("deletionGracePeriodSeconds")
            if grace is None:
                grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
            await self.runtime.stop_pod(pod, int(grace))
            await self._write_status(key, pod, await self.runtime.pod_status(uid), {})
        namespace, name = split_key(key)
        try:
            await self.pods.namespace(namespace).delete(name, grace_period_seconds=0, uid=uid)
        except StatusError as exc:
            if exc.code not in (404, 409):
                raise
        self._written.pop(key, None)

    async def _write_status(
        self, key: str, pod: Obj, runtime_pod: PodStatus | None, waiting: dict[str, tuple[str, str]]
    ) -> None:
        status = build_pod_status(
            pod, runtime_pod, host_ip=self.host_ip(), now=rfc3339(self.clock.time()), rfc=_rfc, waiting=waiting
        )
        if status == pod.get("status"):
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
