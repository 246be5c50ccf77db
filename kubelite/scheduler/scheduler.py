"""The scheduler component (upstream kube-scheduler's loop): informers on nodes, pods,
PodDisruptionBudgets and namespaces feed the cache and the scheduling queue; one loop pops a pod,
runs the pure core over the cache's live snapshot, assumes the pod onto the chosen node and binds it
asynchronously (pods/binding), forgetting the assumption if the binding fails. A pod that fits
nowhere gets PodScheduled=False/Unschedulable, a FailedScheduling event and, when preemption found
room, its victims deleted and status.nominatedNodeName set.

Must NOT import the registry or storage (it talks only through kubelite.client), nor decide
placement itself (kubelite.scheduler.algorithm does).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import random
import uuid
from datetime import UTC, datetime
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.client import Client, ResourceClient
from kubelite.client.clock import Clock, RealClock
from kubelite.client.informer import Informer
from kubelite.scheduler import queue as q
from kubelite.scheduler.algorithm import Profile, Scheduler, SchedulerError, default_profile
from kubelite.scheduler.cache import SchedulerCache, counts_on_node
from kubelite.scheduler.framework import FitError, Obj, Snapshot, pod_key, pod_priority
from kubelite.scheduler.plugins.volumebinding import PodVolumes, VolumeBinding, VolumeBindingError
from kubelite.scheduler.preemption import DefaultPreemption
from kubelite.scheduler.queue import QueueClosed, QueuedPod, SchedulingQueue

log = logging.getLogger(__name__)

DEFAULT_SCHEDULER_NAME = "default-scheduler"


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _scheduler_name(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME)


def _node_events(old: Obj, new: Obj) -> list[str]:
    """Which node changes a parked pod may care about (a status heartbeat matters to none)."""
    events = []
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if (old.get("status") or {}).get("allocatable") != (new.get("status") or {}).get("allocatable"):
        events.append(q.NODE_ALLOCATABLE_CHANGE)
    if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
        events.append(q.NODE_LABEL_CHANGE)
    if old_spec.get("taints") != new_spec.get("taints"):
        events.append(q.NODE_TAINT_CHANGE)
    if bool(old_spec.get("unschedulable")) != bool(new_spec.get("unschedulable")):
        events.append(q.NODE_SPEC_UNSCHEDULABLE_CHANGE)
    return events


class SchedulerComponent:
    def __init__(
        self,
        client: Client,
        clock: Clock | None = None,
        scheduler_name: str = DEFAULT_SCHEDULER_NAME,
        *,
        profile: Profile | None = None,
        rng: random.Random | None = None,
        percentage_of_nodes_to_score: int = 0,
        instance: str = "",
    ):
        self.client = client
        self.clock = clock or RealClock()
        self.scheduler_name = scheduler_name
        self.instance = instance or f"{scheduler_name}-{uuid.uuid4().hex[:8]}"
        self.namespace_labels: dict[str, dict[str, str]] = {}
        self.preemption = DefaultPreemption()
        self.volume_binding = VolumeBinding(client, self.clock)
        self.profile = profile or default_profile(post_filters=[self.preemption], volume_binding=self.volume_binding)
        for plugin in self.profile.filters:
            if hasattr(plugin, "namespace_labels"):
                plugin.namespace_labels = self.namespace_labels
        self.algorithm = Scheduler(self.profile, rng, percentage_of_nodes_to_score)
        self.cache = SchedulerCache()
        self.queue = SchedulingQueue(self.clock)
        self.pods: ResourceClient = client.resource("", "v1", "pods")
        self.events: ResourceClient = client.resource("", "v1", "events")
        self.node_informer = Informer(client.resource("", "v1", "nodes"), clock=self.clock, name="scheduler nodes")
        self.pod_informer = Informer(self.pods, clock=self.clock, name="scheduler pods")
        self.pdb_informer = Informer(
            client.resource("policy", "v1", "poddisruptionbudgets"), clock=self.clock, name="scheduler pdbs"
        )
        self.namespace_informer = Informer(
            client.resource("", "v1", "namespaces"), clock=self.clock, name="scheduler namespaces"
        )
        self._informers = [
            self.node_informer, self.pod_informer, self.pdb_informer, self.namespace_informer, *self.volume_binding.informers
        ]  # fmt: skip
        self._loop_task: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[None]] = set()
        self._started = False
        self.scheduled = 0  # pods bound so far (for tests and benchmarks)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.volume_binding.on_change = self.queue.move_all_to_active_or_backoff
        self.node_informer.add_handler(self._node_added, self._node_updated, self._node_deleted)
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.pdb_informer.add_handler(self._pdbs_changed, lambda _o, n: self._pdbs_changed(n), self._pdbs_changed)
        self.namespace_informer.add_handler(
            self._namespace_changed, lambda _o, n: self._namespace_changed(n), self._namespace_deleted
        )
        for informer in self._informers:
            informer.start()
        for informer in self._informers:
            await informer.wait_for_sync()
        self._loop_task = asyncio.create_task(self._run(), name="scheduler loop")

    async def stop(self) -> None:
        self.queue.close()
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        writes = list(self._writes)
        for write in writes:
            write.cancel()
        await asyncio.gather(*writes, return_exceptions=True)
        for informer in self._informers:
            await informer.stop()

    # ------------------------------------------------------------------ informer handlers
    def _node_added(self, node: Obj) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff(q.NODE_ADD)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        self.cache.update_node(new)
        for event in _node_events(old, new):
            self.queue.move_all_to_active_or_backoff(event)

    def _node_deleted(self, node: Obj) -> None:
        self.cache.remove_node(node)

    def _responsible_for(self, pod: Obj) -> bool:
        return _scheduler_name(pod) == self.scheduler_name and not (pod.get("metadata") or {}).get(
            "deletionTimestamp"
        )

    def _pod_added(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.cache.add_pod(pod)
            self.queue.delete(pod)
            self.queue.move_all_to_active_or_backoff(q.ASSIGNED_POD_ADD)
        elif self._responsible_for(pod) and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            self.queue.add(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if (new.get("spec") or {}).get("nodeName"):
            self.queue.delete(new)
            if not counts_on_node(new):
                self.cache.remove_pod(new)
                self.queue.move_all_to_active_or_backoff(q.ASSIGNED_POD_DELETE)
                return
            self.cache.update_pod(new)
            event = q.ASSIGNED_POD_ADD if not (old.get("spec") or {}).get("nodeName") else q.ASSIGNED_POD_UPDATE
            self.queue.move_all_to_active_or_backoff(event)
        elif self._responsible_for(new):
            self.queue.update(old, new)
        else:
            self.queue.delete(new)

    def _pod_deleted(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.cache.remove_pod(pod)
            self.queue.move_all_to_active_or_backoff(q.ASSIGNED_POD_DELETE)
        else:
            self.queue.delete(pod)

    def _pdbs_changed(self, _pdb: Obj) -> None:
        self.preemption.pdbs = self.pdb_informer.cache.list()

    def _namespace_changed(self, namespace: Obj) -> None:
        meta = namespace.get("metadata") or {}
        labels = dict(meta.get("labels") or {})
        if self.namespace_labels.get(meta.get("name", "")) != labels:
            self.namespace_labels[meta.get("name", "")] = labels
            self.queue.move_all_to_active_or_backoff(q.NAMESPACE_CHANGE)

    def _namespace_deleted(self, namespace: Obj) -> None:
        self.namespace_labels.pop((namespace.get("metadata") or {}).get("name", ""), None)

    # ------------------------------------------------------------------ the loop
    async def _run(self) -> None:
        while True:
            try:
                info = await self.queue.pop()
            except QueueClosed:
                return
            try:
                self.schedule_one(info)
            except Exception:
                log.exception("scheduling %s failed", info.key)
                self.queue.add_backoff(info)
            await asyncio.sleep(0)  # let informers and bindings run between cycles

    def schedule_one(self, info: QueuedPod) -> None:
        """One cycle for a popped pod (synchronous: the writes it causes run as tasks)."""
        namespace, _, name = info.key.partition("/")
        pod = self.pod_informer.cache.get_by_name(namespace, name)
        if (
            pod is None
            or (pod.get("spec") or {}).get("nodeName")
            or not self._responsible_for(pod)
            or self.cache.is_assumed(pod)
        ):
            self.queue.done(info.key)
            return
        cycle = self.queue.scheduling_cycle
        try:
            result = self.algorithm.schedule(pod, self._view_for(pod))
        except FitError as error:
            self._unschedulable(info, pod, error, cycle)
            return
        except SchedulerError as error:
            log.warning("scheduling %s: %s", info.key, error)
            self.queue.add_backoff(info)
            return
        assumed = copy.copy(pod)
        assumed["spec"] = {**(pod.get("spec") or {}), "nodeName": result.suggested_host}
        self.cache.assume(assumed, result.suggested_host)
        self.queue.remove_nominated(pod)
        self.queue.done(info.key)
        volumes = self.volume_binding.reserve(result.state, result.suggested_host) if result.state else None
        self._spawn(self._bind(info, pod, assumed, result.suggested_host, volumes))

    def _view_for(self, pod: Obj) -> Snapshot:
        """The live snapshot, plus (upstream's nominator) pods of equal or higher priority that
        preemption promised a node counted there."""
        snapshot = self.cache.snapshot
        if not self.queue.has_nominated():
            return snapshot
        priority = pod_priority(pod)
        key = pod_key(pod)
        view = snapshot
        for node_name, nominated in self.queue.nominated_pods().items():
            others = [p for p in nominated if pod_key(p) != key and pod_priority(p) >= priority]
            present = view.get(node_name)
            if not others or present is None:
                continue
            trial = present.clone()
            for other in others:
                trial.add_pod(other)
            view = view.with_node(trial)
        return view

    # ------------------------------------------------------------------ writes
    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _bind(self, info: QueuedPod, pod: Obj, assumed: Obj, node_name: str, volumes: PodVolumes | None = None) -> None:
        meta = pod.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        if volumes is not None and not await self._pre_bind(info, pod, assumed, volumes):
            return
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": meta.get("uid", "")},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
        }
        try:
            await self.pods.namespace(namespace).create_subresource(name, "binding", binding)
        except Exception as error:
            self.cache.forget(assumed)
            gone = isinstance(error, StatusError) and error.code in (404, 409)
            if gone:
                log.info("binding %s/%s to %s: %s", namespace, name, node_name, error)
                return
            log.warning("binding %s/%s to %s failed: %s", namespace, name, node_name, error)
            self.queue.add_backoff(info)
            self.queue.move_all_to_active_or_backoff(q.ASSIGNED_POD_DELETE)
            return
        self.scheduled += 1
        await self._event(pod, "Normal", "Scheduled", "Binding", f"Successfully assigned {namespace}/{name} to {node_name}")

    async def _pre_bind(self, info: QueuedPod, pod: Obj, assumed: Obj, volumes: PodVolumes) -> bool:
        """VolumeBinding's PreBind; on failure the assumption is forgotten and the pod retried."""
        meta = pod.get("metadata") or {}
        namespace, name, uid = meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", "")

        def still_wanted() -> bool:
            current = self.pod_informer.cache.get_by_name(namespace, name)
            return current is not None and (current.get("metadata") or {}).get("uid") == uid

        try:
            await self.volume_binding.pre_bind(volumes, still_wanted)
        except VolumeBindingError as error:
            self.cache.forget(assumed)
            self.queue.add_backoff(info)
            self.queue.move_all_to_active_or_backoff(q.ASSIGNED_POD_DELETE)
            if still_wanted():
                await self._record_failure(pod, f'running PreBind plugin "VolumeBinding": {error}', "", [])
            return False
        return True

    def _unschedulable(self, info: QueuedPod, pod: Obj, error: FitError, cycle: int) -> None:
        plugins = {status.plugin for status in error.node_to_status.values()}
        result = error.post_filter_result
        nominated = result.nominated_node_name if result is not None else ""
        if nominated:
            plugins.add(self.preemption.name)
            self.queue.add_nominated(pod, nominated)
        if not error.node_to_status and not error.pre_filter_msg:
            plugins = set()
        self.queue.add_unschedulable(info, plugins, cycle)
        message = str(error)
        self._spawn(self._record_failure(pod, message, nominated, list(result.victims) if result else []))

    async def _record_failure(self, pod: Obj, message: str, nominated: str, victims: list[Obj]) -> None:
        meta = pod.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        for victim in victims:
            await self._delete_victim(victim, pod)
        await self._event(pod, "Warning", "FailedScheduling", "Scheduling", message)
        status = pod.get("status") or {}
        current = next((c for c in status.get("conditions") or () if c.get("type") == "PodScheduled"), None)
        wanted = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
        same = current is not None and all(current.get(k) == v for k, v in wanted.items())
        if same and (not nominated or status.get("nominatedNodeName") == nominated):
            return
        condition: Obj = {**wanted, "lastProbeTime": None}
        if current is not None and current.get("status") == "False":
            condition["lastTransitionTime"] = current.get("lastTransitionTime")
        else:
            condition["lastTransitionTime"] = _rfc3339(self.clock.time())
        patch: Obj = {"status": {"conditions": [condition]}}
        if nominated:
            patch["status"]["nominatedNodeName"] = nominated
        try:
            await self.pods.namespace(namespace).patch(name, patch, "strategic", subresource="status")
        except StatusError as error:
            log.info("updating status of %s/%s: %s", namespace, name, error)

    async def _delete_victim(self, victim: Obj, preemptor: Obj) -> None:
        meta = victim.get("metadata") or {}
        grace = (victim.get("spec") or {}).get("terminationGracePeriodSeconds")
        try:
            await self.pods.namespace(meta.get("namespace", "")).delete(
                meta.get("name", ""),
                grace_period_seconds=grace if isinstance(grace, int) else None,
                uid=meta.get("uid", ""),
            )
        except StatusError as error:
            if error.code != 404:
                log.warning("preempting %s: %s", pod_key(victim), error)
            return
        preemptor_meta = preemptor.get("metadata") or {}
        await self._event(
            victim,
            "Normal",
            "Preempted",
            "Preempting",
            f"Preempted by pod {preemptor_meta.get('uid', '')} on node {(victim.get('spec') or {}).get('nodeName', '')}",
        )

    async def _event(self, pod: Obj, event_type: str, reason: str, action: str, message: str) -> None:
        meta = pod.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        now = _rfc3339(self.clock.time())
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta.get('name', '')}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "namespace": namespace,
                "name": meta.get("name", ""),
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "type": event_type,
            "reason": reason,
            "action": action,
            "message": message,
            "source": {"component": self.scheduler_name},
            "reportingComponent": self.scheduler_name,
            "reportingInstance": self.instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.events.namespace(namespace).create(event)
        except StatusError as error:
            log.info("recording event %s for %s/%s: %s", reason, namespace, meta.get("name", ""), error)
