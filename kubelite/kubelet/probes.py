"""The prober: one task per running container and probe kind (startup, liveness, readiness), as
upstream's probe workers — wait initialDelaySeconds after the container started, probe every
periodSeconds with timeoutSeconds, flip the result after successThreshold / failureThreshold
consecutive outcomes; liveness and readiness wait until the startup probe succeeded. A changed
result is announced (the pod is synced again); a liveness or startup failure calls `on_kill`,
after which the worker ends (the restarted container gets new workers). Every failed probe is
reported to `on_failure` (the kubelet's Unhealthy event, as upstream's prober records one per
failure, not only at the threshold).

Must not write the API or stop containers itself: it reports, pods.py acts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kubelite.client.clock import Clock
from kubelite.kubelet.handlers import ExecRuntime, run_action
from kubelite.runtime.base import PodStatus

log = logging.getLogger(__name__)

Obj = dict[str, Any]
KINDS = ("startupProbe", "livenessProbe", "readinessProbe")
WorkerKey = tuple[str, str, str, str]  # (pod uid, container name, container id, probe kind)
KillCallback = Callable[[Obj, str, str], Awaitable[None]]  # (pod, container name, message)
FailureCallback = Callable[[Obj, str, str, str], None]  # (pod, container name, Liveness/Readiness/Startup, output)

_LABEL = {"startupProbe": "Startup", "livenessProbe": "Liveness", "readinessProbe": "Readiness"}


@dataclass
class _Result:
    ok: bool
    message: str = ""


def _settings(probe: Obj) -> tuple[float, float, float, int, int]:
    return (
        float(probe.get("initialDelaySeconds") or 0),
        float(probe.get("periodSeconds") or 10),
        float(probe.get("timeoutSeconds") or 1),
        int(probe.get("successThreshold") or 1),
        int(probe.get("failureThreshold") or 3),
    )


class ProbeManager:
    def __init__(
        self,
        runtime: ExecRuntime | None,
        clock: Clock,
        *,
        on_change: Callable[[str], None],
        on_kill: KillCallback,
        on_failure: FailureCallback | None = None,
    ):
        self.runtime = runtime
        self.clock = clock
        self.on_change = on_change
        self.on_kill = on_kill
        self.on_failure = on_failure
        self._workers: dict[WorkerKey, asyncio.Task[None]] = {}
        self._results: dict[WorkerKey, _Result] = {}

    # ------------------------------------------------------------------ results
    def container_state(self, uid: str, container: Obj, container_id: str) -> tuple[bool, bool]:
        """(ready, started) of a running container: started once the startup probe succeeded (or
        without one); ready once started and the readiness probe succeeded (or without one)."""
        name = str(container["name"])
        started = True
        if container.get("startupProbe"):
            result = self._results.get((uid, name, container_id, "startupProbe"))
            started = result is not None and result.ok
        ready = started
        if ready and container.get("readinessProbe"):
            result = self._results.get((uid, name, container_id, "readinessProbe"))
            ready = result is not None and result.ok
        return ready, started

    # ------------------------------------------------------------------ workers
    def update(self, pod: Obj, runtime_pod: PodStatus | None, pod_ip: str) -> None:
        """Start workers for running containers with probes; end those of containers that are
        no longer running (or were replaced)."""
        uid = str(pod["metadata"]["uid"])
        wanted: set[WorkerKey] = set()
        deleting = bool(pod["metadata"].get("deletionTimestamp"))
        if runtime_pod is not None and not deleting:
            spec = pod.get("spec") or {}
            containers = [*(c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"), *(spec.get("containers") or [])]
            for container in containers:
                status = runtime_pod.container(str(container["name"]))
                if status is None or status.state != "running":
                    continue
                for kind in KINDS:
                    if container.get(kind):
                        key = (uid, str(container["name"]), status.container_id, kind)
                        wanted.add(key)
                        if key not in self._workers:
                            started_at = status.started_at or self.clock.time()
                            self._workers[key] = asyncio.create_task(
                                self._run(key, pod, container, pod_ip, started_at), name=f"probe {kind} {container['name']}"
                            )
        for key in [k for k in self._workers if k[0] == uid and k not in wanted]:
            self._workers.pop(key).cancel()
        for key in [k for k in self._results if k[0] == uid and k not in wanted]:
            del self._results[key]

    def remove_pod(self, uid: str) -> None:
        for key in [k for k in self._workers if k[0] == uid]:
            self._workers.pop(key).cancel()
        for key in [k for k in self._results if k[0] == uid]:
            del self._results[key]

    async def stop(self) -> None:
        tasks = list(self._workers.values())
        self._workers.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self, key: WorkerKey, pod: Obj, container: Obj, pod_ip: str, started_at: float) -> None:
        uid, name, container_id, kind = key
        probe = container[kind] or {}
        initial_delay, period, timeout, success_threshold, failure_threshold = _settings(probe)
        if kind != "readinessProbe":
            success_threshold = 1
        delay = started_at + initial_delay - self.clock.time()
        if delay > 0:
            await self.clock.sleep(delay)
        successes = failures = 0
        while True:
            gated = kind != "startupProbe" and not self.container_state(uid, {"name": name, "startupProbe": container.get("startupProbe")}, container_id)[1]
            if not gated:
                ok, message = await run_action(self.runtime, uid, pod_ip, container, probe, timeout)
                if ok:
                    successes, failures = successes + 1, 0
                else:
                    successes, failures = 0, failures + 1
                    log.info("%s probe failed for %s/%s: %s", _LABEL[kind], pod["metadata"].get("name"), name, message)
                    if self.on_failure is not None:
                        self.on_failure(pod, name, _LABEL[kind], message)
                previous = self._results.get(key)
                if ok and successes >= success_threshold and (previous is None or not previous.ok):
                    self._set(key, _Result(True))
                    if kind == "startupProbe":
                        return
                elif not ok and failures >= failure_threshold:
                    if kind == "readinessProbe":
                        if previous is None or previous.ok:
                            self._set(key, _Result(False, message))
                    else:
                        self._set(key, _Result(False, message))
                        verb = "liveness" if kind == "livenessProbe" else "startup"
                        await self.on_kill(pod, name, f"Container {name} failed {verb} probe, will be restarted")
                        return
                elif previous is None and kind == "readinessProbe":
                    self._results[key] = _Result(False, message)
            await self.clock.sleep(period)

    def _set(self, key: WorkerKey, result: _Result) -> None:
        self._results[key] = result
        self.on_change(key[0])
