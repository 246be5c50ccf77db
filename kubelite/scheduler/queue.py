"""The scheduling queue, after upstream pkg/scheduler/backend/queue: pods waiting for a scheduling
attempt live in exactly one of
  - activeQ: ready now, handed out highest priority first, then oldest first;
  - backoffQ: failed recently, waiting out a per-pod backoff (1 s doubling per attempt, at most 10 s);
  - unschedulable: rejected, parked until a cluster event that may help them (a node added or
    changed in a way the rejecting plugins care about, an assigned pod deleted, ...) or until they
    have waited 5 minutes.
It also keeps the nominator: which pods preemption has promised which node.

All timing runs on an injected Clock (timers, not polling), so tests drive it in fake time.
Must NOT talk to the API, read informers or decide where a pod goes; the scheduler component feeds
it pod objects and cluster events.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubelite.client.clock import Clock, RealClock, Timer

Obj = dict[str, Any]

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_UNSCHEDULABLE_DURATION = 300.0

# Cluster events the component reports, and which plugins' rejections each may undo (upstream's
# EventsToRegister). A pod rejected by no particular plugin moves on any of them.
NODE_ADD = "NodeAdd"
NODE_ALLOCATABLE_CHANGE = "NodeAllocatableChange"
NODE_LABEL_CHANGE = "NodeLabelChange"
NODE_TAINT_CHANGE = "NodeTaintChange"
NODE_SPEC_UNSCHEDULABLE_CHANGE = "NodeSpecUnschedulableChange"
ASSIGNED_POD_ADD = "AssignedPodAdd"
ASSIGNED_POD_UPDATE = "AssignedPodUpdate"
ASSIGNED_POD_DELETE = "AssignedPodDelete"
NAMESPACE_CHANGE = "NamespaceChange"
FORCE_ACTIVATE = "ForceActivate"
UNSCHEDULABLE_TIMEOUT = "UnschedulableTimeout"
PERSISTENT_VOLUME_CLAIM_CHANGE = "PersistentVolumeClaimChange"
PERSISTENT_VOLUME_CHANGE = "PersistentVolumeChange"
STORAGE_CLASS_CHANGE = "StorageClassChange"

_ALL = frozenset({"*"})
_PLUGINS_BY_EVENT: dict[str, frozenset[str]] = {
    NODE_ADD: _ALL,
    FORCE_ACTIVATE: _ALL,
    UNSCHEDULABLE_TIMEOUT: _ALL,
    NODE_ALLOCATABLE_CHANGE: frozenset({"NodeResourcesFit"}),
    NODE_LABEL_CHANGE: frozenset({"NodeAffinity", "PodTopologySpread", "InterPodAffinity", "VolumeBinding"}),
    NODE_TAINT_CHANGE: frozenset({"TaintToleration", "PodTopologySpread"}),
    NODE_SPEC_UNSCHEDULABLE_CHANGE: frozenset({"NodeUnschedulable"}),
    ASSIGNED_POD_ADD: frozenset({"InterPodAffinity", "PodTopologySpread"}),
    ASSIGNED_POD_UPDATE: frozenset({"InterPodAffinity", "PodTopologySpread", "NodeResourcesFit"}),
    ASSIGNED_POD_DELETE: frozenset(
        {"NodeResourcesFit", "NodePorts", "InterPodAffinity", "PodTopologySpread", "DefaultPreemption"}
    ),
    NAMESPACE_CHANGE: frozenset({"InterPodAffinity"}),
    PERSISTENT_VOLUME_CLAIM_CHANGE: frozenset({"VolumeBinding"}),
    PERSISTENT_VOLUME_CHANGE: frozenset({"VolumeBinding"}),
    STORAGE_CLASS_CHANGE: frozenset({"VolumeBinding"}),
}


def pod_key(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _priority(pod: Obj) -> int:
    value = (pod.get("spec") or {}).get("priority")
    return value if isinstance(value, int) else 0


def _scheduling_relevant(pod: Obj) -> tuple[Any, Any, Any]:
    """What an update must change for a parked pod to deserve a new attempt (status, resourceVersion
    and managed fields do not count, as upstream's isPodUpdated)."""
    meta = pod.get("metadata") or {}
    return pod.get("spec"), meta.get("labels"), meta.get("annotations")


@dataclass(eq=False)
class QueuedPod:
    """A pod with its attempt bookkeeping (upstream QueuedPodInfo)."""

    pod: Obj
    key: str
    timestamp: float  # when it last entered the queue (activeQ order among equal priorities)
    initial_attempt_timestamp: float | None = None
    attempts: int = 0
    unschedulable_plugins: frozenset[str] = field(default_factory=frozenset)
    backoff_expiry: float = 0.0
    timer: Timer | None = None

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class SchedulingQueue:
    def __init__(
        self,
        clock: Clock | None = None,
        *,
        initial_backoff: float = INITIAL_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        max_unschedulable: float = MAX_UNSCHEDULABLE_DURATION,
    ):
        self.clock = clock or RealClock()
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable = max_unschedulable
        self._active: list[tuple[int, float, int, QueuedPod]] = []  # heap: -priority, timestamp, seq
        self._active_keys: dict[str, QueuedPod] = {}
        self._backoff: dict[str, QueuedPod] = {}
        self._unschedulable: dict[str, QueuedPod] = {}
        self._in_flight: dict[str, QueuedPod] = {}
        self._order = itertools.count()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self._nominated: dict[str, tuple[str, Obj]] = {}  # pod key -> (node, pod)

    # ------------------------------------------------------------------ sizes
    def __len__(self) -> int:
        return len(self._active_keys) + len(self._backoff) + len(self._unschedulable)

    def pending(self) -> dict[str, list[str]]:
        """Keys per sub-queue (for tests and debugging)."""
        return {
            "active": sorted(self._active_keys),
            "backoff": sorted(self._backoff),
            "unschedulable": sorted(self._unschedulable),
        }

    # ------------------------------------------------------------------ informer-driven
    def add(self, pod: Obj) -> None:
        """A new pending pod: straight to activeQ (unless already queued or being scheduled)."""
        key = pod_key(pod)
        self._nominate_from_status(key, pod)
        if self._refresh(key, pod):
            return
        self._push_active(QueuedPod(pod, key, self.clock.monotonic()))

    def update(self, old: Obj | None, new: Obj) -> None:
        key = pod_key(new)
        self._nominate_from_status(key, new)
        info = self._unschedulable.get(key)
        if info is not None:
            info.pod = new
            if old is None or _scheduling_relevant(old) != _scheduling_relevant(new):
                self._requeue(info)
            return
        if not self._refresh(key, new):
            self._push_active(QueuedPod(new, key, self.clock.monotonic()))

    def delete(self, pod: Obj) -> None:
        key = pod_key(pod)
        self._nominated.pop(key, None)
        self._in_flight.pop(key, None)
        self._unschedulable.pop(key, None)
        for table in (self._backoff, self._active_keys):
            info = table.pop(key, None)
            if info is not None:
                info.cancel_timer()

    def _refresh(self, key: str, pod: Obj) -> bool:
        """Keep the newest object of a pod already known; False if it is not."""
        for table in (self._active_keys, self._backoff, self._unschedulable, self._in_flight):
            info = table.get(key)
            if info is not None:
                info.pod = pod
                return True
        return False

    # ------------------------------------------------------------------ the scheduler's side
    async def pop(self) -> QueuedPod:
        """The next pod to try (it stays in flight until `done` or a failure is reported);
        raises QueueClosed once closed."""
        while True:
            while self._active:
                _, _, _, info = heapq.heappop(self._active)
                if self._active_keys.get(info.key) is not info:
                    continue  # removed or requeued meanwhile
                del self._active_keys[info.key]
                info.attempts += 1
                if info.initial_attempt_timestamp is None:
                    info.initial_attempt_timestamp = self.clock.monotonic()
                self.scheduling_cycle += 1
                self._in_flight[info.key] = info
                return info
            if self._closed:
                raise QueueClosed()
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._getters:
                    self._getters.remove(waiter)

    def done(self, key: str) -> None:
        """The attempt is over (scheduled, or the pod is gone)."""
        self._in_flight.pop(key, None)

    def add_unschedulable(self, info: QueuedPod, plugins: Iterable[str] = (), cycle: int | None = None) -> None:
        """A failed attempt: park the pod, or back it off at once if a cluster event arrived while
        it was being scheduled (upstream AddUnschedulableIfNotPresent)."""
        self._in_flight.pop(info.key, None)
        if self._closed or self._known(info.key):
            return
        info.unschedulable_plugins = frozenset(p for p in plugins if p)
        info.timestamp = self.clock.monotonic()
        info.backoff_expiry = info.timestamp + self.backoff_duration(info)
        if self.move_request_cycle >= (cycle if cycle is not None else self.scheduling_cycle):
            self._push_backoff(info)
            return
        self._unschedulable[info.key] = info
        info.cancel_timer()
        info.timer = self.clock.call_later(self.max_unschedulable, lambda: self._unschedulable_timeout(info))

    def add_backoff(self, info: QueuedPod) -> None:
        """A failed attempt for a reason other than the pod not fitting (an error): retry after backoff."""
        self._in_flight.pop(info.key, None)
        if self._closed or self._known(info.key):
            return
        info.timestamp = self.clock.monotonic()
        info.backoff_expiry = info.timestamp + self.backoff_duration(info)
        self._push_backoff(info)

    def backoff_duration(self, info: QueuedPod) -> float:
        duration = self.initial_backoff
        for _ in range(1, info.attempts):
            duration *= 2
            if duration >= self.max_backoff:
                return self.max_backoff
        return duration

    def move_all_to_active_or_backoff(self, event: str) -> None:
        """A cluster event: every parked pod a rejecting plugin of which cares goes back, to
        backoffQ if its backoff has not run out yet, else to activeQ."""
        interested = _PLUGINS_BY_EVENT.get(event, _ALL)
        for info in list(self._unschedulable.values()):
            if interested is _ALL or not info.unschedulable_plugins or interested & info.unschedulable_plugins:
                self._requeue(info)
        self.move_request_cycle = self.scheduling_cycle

    def close(self) -> None:
        self._closed = True
        for table in (self._backoff, self._unschedulable):
            for info in table.values():
                info.cancel_timer()
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    # ------------------------------------------------------------------ nominator
    def add_nominated(self, pod: Obj, node_name: str) -> None:
        self._nominated[pod_key(pod)] = (node_name, pod)

    def remove_nominated(self, pod: Obj) -> None:
        self._nominated.pop(pod_key(pod), None)

    def nominated_node(self, pod: Obj) -> str:
        entry = self._nominated.get(pod_key(pod))
        return entry[0] if entry else ""

    def nominated_pods(self) -> dict[str, list[Obj]]:
        """Node name -> pods nominated to it."""
        found: dict[str, list[Obj]] = {}
        for node, pod in self._nominated.values():
            found.setdefault(node, []).append(pod)
        return found

    def has_nominated(self) -> bool:
        return bool(self._nominated)

    def _nominate_from_status(self, key: str, pod: Obj) -> None:
        node = (pod.get("status") or {}).get("nominatedNodeName")
        if node:
            self._nominated[key] = (node, pod)
        elif key in self._nominated and self._nominated[key][1] is not pod:
            self._nominated[key] = (self._nominated[key][0], pod)

    # ------------------------------------------------------------------ moves
    def _known(self, key: str) -> bool:
        return key in self._active_keys or key in self._backoff or key in self._unschedulable

    def _push_active(self, info: QueuedPod) -> None:
        info.cancel_timer()
        self._active_keys[info.key] = info
        heapq.heappush(self._active, (-_priority(info.pod), info.timestamp, next(self._order), info))
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def _push_backoff(self, info: QueuedPod) -> None:
        info.cancel_timer()
        delay = info.backoff_expiry - self.clock.monotonic()
        if delay <= 0:
            self._push_active(info)
            return
        self._backoff[info.key] = info
        info.timer = self.clock.call_later(delay, lambda: self._backoff_done(info))

    def _requeue(self, info: QueuedPod) -> None:
        if self._unschedulable.get(info.key) is info:
            del self._unschedulable[info.key]
        self._push_backoff(info)

    def _backoff_done(self, info: QueuedPod) -> None:
        if self._backoff.get(info.key) is info:
            del self._backoff[info.key]
            info.timer = None
            self._push_active(info)

    def _unschedulable_timeout(self, info: QueuedPod) -> None:
        if self._unschedulable.get(info.key) is info:
            info.timer = None
            self._requeue(info)


class QueueClosed(Exception):
    """The queue was closed: the scheduling loop should return."""
