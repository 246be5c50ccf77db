"""The pod garbage collector, as upstream's pkg/controller/podgc: every 20 s it force-deletes
(grace 0) the pods nobody else will ever finish:

- orphans: pods bound to a node that has been gone for the 40 s quarantine (and is confirmed
  missing with an uncached read) — marked Failed with a DisruptionTarget condition
  (DeletionByPodGC, "PodGC: node no longer exists") first;
- unscheduled terminating pods (deletionTimestamp set, no nodeName): no kubelet will confirm them;
- terminating pods on a node that is not Ready and carries the node.kubernetes.io/out-of-service
  taint (the non-graceful node shutdown path);
- terminated pods (Succeeded/Failed) beyond the threshold (12,500), oldest first.

Must not touch a pod a kubelet can still finish, nor write anything but those status updates and
deletes.
"""

from __future__ import annotations

from typing import Any

import orjson

from kubelite.api.disruption import disruption_target, set_pod_condition
from kubelite.api.errors import StatusError
from kubelite.client.cache import object_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller
from kubelite.controllers.events import rfc3339
from kubelite.controllers.podutil import creation_time

Obj = dict[str, Any]

COMPONENT = "pod-garbage-collector"
GC_PERIOD = 20.0
QUARANTINE = 40.0  # a node must be missing this long before its pods count as orphans
TERMINATED_POD_THRESHOLD = 12500
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"
ORPHAN_REASON = "DeletionByPodGC"
ORPHAN_MESSAGE = "PodGC: node no longer exists"
PASS_KEY = "podgc/pass"  # the one work item: a whole collection pass


def is_terminated(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_terminating(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def node_is_ready(node: Obj) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def out_of_service(node: Obj) -> bool:
    return any(t.get("key") == OUT_OF_SERVICE_TAINT for t in (node.get("spec") or {}).get("taints") or ())


def terminated_over_threshold(pods: list[Obj], threshold: int) -> list[Obj]:
    """The oldest terminated pods beyond `threshold` (none when threshold <= 0)."""
    terminated = [p for p in pods if is_terminated(p) and not is_terminating(p)]
    excess = len(terminated) - threshold
    if threshold <= 0 or excess <= 0:
        return []
    terminated.sort(key=lambda p: (creation_time(p), object_key(p)))
    return terminated[:excess]


class PodGarbageCollector(Controller):
    def __init__(
        self,
        client: Client,
        *,
        clock: Clock | None = None,
        period: float = GC_PERIOD,
        quarantine: float = QUARANTINE,
        terminated_threshold: int = TERMINATED_POD_THRESHOLD,
    ):
        super().__init__(client, name=COMPONENT, workers=1, clock=clock)
        self.period = period
        self.quarantine = quarantine
        self.terminated_threshold = terminated_threshold
        self.pods_client = client.resource("", "v1", "pods")
        self.nodes_client = client.resource("", "v1", "nodes")
        self.pods = self.informer("", "v1", "pods")
        self.nodes = self.informer("", "v1", "nodes")
        self._missing_since: dict[str, float] = {}  # node name -> when a pass first saw it missing

    async def start(self) -> None:
        await super().start()
        self.queue.add(PASS_KEY)

    async def sync(self, key: str) -> None:
        try:
            await self.collect()
        finally:
            self.queue.add_after(PASS_KEY, self.period)

    async def collect(self) -> None:
        """One pass over every pod (the work of one period)."""
        pods = list(self.pods.cache.list())
        nodes = {n["metadata"]["name"]: n for n in self.nodes.cache.list()}
        for pod in terminated_over_threshold(pods, self.terminated_threshold):
            await self._force_delete(pod)
        for pod in await self._orphans(pods, nodes):
            await self._force_delete(pod, disruption_target(ORPHAN_REASON, ORPHAN_MESSAGE))
        for pod in pods:
            if not is_terminating(pod):
                continue
            node_name = (pod.get("spec") or {}).get("nodeName") or ""
            node = nodes.get(node_name)
            unscheduled = not node_name
            shut_down = node is not None and out_of_service(node) and not node_is_ready(node)
            if unscheduled or shut_down:
                await self._force_delete(pod)

    async def _orphans(self, pods: list[Obj], nodes: dict[str, Obj]) -> list[Obj]:
        """Pods on nodes missing for the whole quarantine and confirmed gone by an uncached read."""
        now = self.clock.time()
        bound: set[str] = {str((p.get("spec") or {}).get("nodeName") or "") for p in pods}
        missing = bound - set(nodes) - {""}
        self._missing_since = {n: self._missing_since.get(n, now) for n in missing}
        gone: set[str] = set()
        for node_name, since in self._missing_since.items():
            if now - since < self.quarantine:
                continue
            try:
                await self.nodes_client.get(node_name)
            except StatusError as err:
                if err.code == 404:
                    gone.add(node_name)
                    continue
                raise
        return [p for p in pods if (p.get("spec") or {}).get("nodeName") in gone]

    async def _force_delete(self, pod: Obj, condition: Obj | None = None) -> None:
        """upstream markFailedAndDeletePodWithCondition: Failed (+ the condition) unless already
        terminal, then a delete with grace 0."""
        meta = pod["metadata"]
        pods = self.pods_client.namespace(meta["namespace"])
        try:
            if not is_terminated(pod) or condition is not None:
                updated: Obj = orjson.loads(orjson.dumps(pod))
                status = updated.setdefault("status", {})
                changed = False
                if not is_terminated(pod):
                    status["phase"] = "Failed"
                    changed = True
                if condition is not None:
                    changed = set_pod_condition(status, condition, rfc3339(self.clock.time())) or changed
                if changed:
                    await pods.update_status(updated)
            await pods.delete(meta["name"], grace_period_seconds=0, uid=meta.get("uid", ""))
        except StatusError as err:
            if err.code not in (404, 409):
                raise
