"""The taint eviction controller, as upstream's pkg/controller/tainteviction: pods bound to a node
with NoExecute taints they do not all tolerate are deleted at once; pods tolerating them for a
while (tolerationSeconds) are deleted when that time has passed since the taint was added (or,
for a pod bound later, since it was scheduled); a taint removed before then cancels the deletion.
Each deletion is announced with a TaintManagerEviction event and preceded by the pod's
DisruptionTarget condition (reason DeletionByTaintManager), as upstream 1.33.

Queue keys are pod keys (`namespace/name`) and node names (no slash: a node whose NoExecute taints
changed, which queues its pods). Pending deletions are timers in the work queue; the deadlines kept
in memory only serve the cancellation events, and are rebuilt from the taints' timeAdded.

Must not taint nodes (the node lifecycle controller does) nor mutate cached objects.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from kubelite.api import taints as tainting
from kubelite.api.disruption import disruption_target, pod_condition, set_pod_condition
from kubelite.api.errors import StatusError
from kubelite.client.cache import NODE_NAME_INDEX, index_by_node_name, object_key, split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller
from kubelite.controllers.events import NORMAL, EventRecorder, rfc3339
from kubelite.controllers.podutil import parse_time

Obj = dict[str, Any]

DELETE_ATTEMPTS = 5
EVICTION_REASON = "DeletionByTaintManager"
EVICTION_MESSAGE = "Taint manager: deleting due to NoExecute taint"


def no_execute_taints(node: Obj | None) -> list[Obj]:
    return tainting.effect_taints(((node or {}).get("spec") or {}).get("taints"), tainting.NO_EXECUTE)


def eviction_deadline(pod: Obj, taints: list[Obj], fallback_start: float) -> float | None:
    """When the pod must go: now-or-earlier (-inf) when a taint is not tolerated, None when every
    taint is tolerated forever, else the earliest (taint added, or pod scheduled if later) plus the
    seconds of the toleration that matched that taint (upstream GetMatchingTolerations and
    getMinTolerationTime). `fallback_start` stands for a taint without timeAdded."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    tolerated, used = tainting.matching_tolerations(taints, tolerations)
    if not tolerated:
        return -math.inf
    scheduled = pod_condition(pod, "PodScheduled")
    bound_at = parse_time((scheduled or {}).get("lastTransitionTime") or "") or parse_time(
        (pod.get("metadata") or {}).get("creationTimestamp") or ""
    )
    deadline: float | None = None
    for taint, toleration in zip(taints, used, strict=True):
        seconds = tainting.toleration_seconds(toleration)
        if seconds is None:
            continue
        added = parse_time(taint.get("timeAdded") or "") or fallback_start
        due = max(added, bound_at) + seconds
        deadline = due if deadline is None else min(deadline, due)
    return deadline


def _same_tolerations(old: Obj, new: Obj) -> bool:
    return (old.get("spec") or {}).get("tolerations") == (new.get("spec") or {}).get("tolerations")


class TaintEvictionController(Controller):
    def __init__(
        self,
        client: Client,
        *,
        workers: int = 4,
        clock: Clock | None = None,
        recorder: EventRecorder | None = None,
    ):
        super().__init__(client, name="taint-eviction-controller", workers=workers, clock=clock)
        self.pods_client = client.resource("", "v1", "pods")
        self.recorder = self.event_recorder(recorder, "taint-eviction-controller")
        self.nodes = self.informer("", "v1", "nodes")
        self.pods = self.informer("", "v1", "pods", indexers={NODE_NAME_INDEX: index_by_node_name})
        self.nodes.add_handler(self._node_added, self._node_updated, None)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.scheduled: dict[str, tuple[float, float]] = {}  # pod key -> (start, deadline), wall seconds

    # ------------------------------------------------------------------ informer handlers
    def _node_added(self, node: Obj) -> None:
        if no_execute_taints(node):
            self.queue.add(node["metadata"]["name"])

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if no_execute_taints(old) != no_execute_taints(new):
            self.queue.add(new["metadata"]["name"])

    def _pod_added(self, pod: Obj) -> None:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name and no_execute_taints(self.nodes.cache.get(node_name)):
            self.enqueue(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        node_name = (new.get("spec") or {}).get("nodeName")
        if node_name == (old.get("spec") or {}).get("nodeName") and _same_tolerations(old, new):
            return
        if object_key(new) in self.scheduled or (node_name and no_execute_taints(self.nodes.cache.get(node_name))):
            self.enqueue(new)

    def _pod_deleted(self, pod: Obj) -> None:
        if object_key(pod) in self.scheduled:
            self.enqueue(pod)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        if "/" not in key:  # a node whose NoExecute taints changed: look at each of its pods
            for bound in self.pods.cache.by_index(NODE_NAME_INDEX, key):
                self.queue.add(object_key(bound))
            return
        pod = self.pods.cache.get(key)
        node_name = ((pod or {}).get("spec") or {}).get("nodeName")
        if pod is None or not node_name:
            self._cancel(key)
            return
        if pod["metadata"].get("deletionTimestamp"):
            self.scheduled.pop(key, None)  # already on its way out
            return
        taints = no_execute_taints(self.nodes.cache.get(node_name))
        if not taints:
            self._cancel(key)
            return
        now = self.clock.time()
        previous = self.scheduled.get(key)
        start = previous[0] if previous is not None else now
        deadline = eviction_deadline(pod, taints, start)
        if deadline is None:
            self._cancel(key)
            return
        if deadline <= now:
            if deadline == -math.inf:
                self._cancel(key)
            await self._evict(key)
            return
        self.scheduled[key] = (start, deadline)
        self.queue.add_after(key, deadline - now)

    def _cancel(self, key: str) -> None:
        if self.scheduled.pop(key, None) is not None:
            self._event(key, f"Cancelling deletion of Pod {key}")

    def _event(self, key: str, message: str) -> None:
        namespace, name = split_key(key)
        ref: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}}
        self.recorder.event(ref, NORMAL, "TaintManagerEviction", message)

    async def _evict(self, key: str) -> None:
        """upstream deletePodHandler/addConditionAndDeletePod: the event, the DisruptionTarget
        condition on the latest pod, then the delete (a few attempts)."""
        self.scheduled.pop(key, None)
        self._event(key, f"Marking for deletion Pod {key}")
        namespace, name = split_key(key)
        pods = self.pods_client.namespace(namespace)
        failure: StatusError | None = None
        for _ in range(DELETE_ATTEMPTS):
            try:
                latest = await pods.get(name)
                updated: Obj = orjson.loads(orjson.dumps(latest))
                condition = disruption_target(EVICTION_REASON, EVICTION_MESSAGE)
                if set_pod_condition(updated.setdefault("status", {}), condition, rfc3339(self.clock.time())):
                    await pods.update_status(updated)
                await pods.delete(name, uid=latest["metadata"].get("uid", ""))
                return
            except StatusError as err:
                if err.code == 404:
                    return
                failure = err
        assert failure is not None
        raise failure
