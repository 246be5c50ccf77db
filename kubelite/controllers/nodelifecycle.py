"""The node lifecycle controller, as upstream's pkg/controller/nodelifecycle: it watches Nodes and
their heartbeat Leases (kube-node-lease). A node whose Lease and Ready heartbeat have not moved for
node-monitor-grace-period (node-startup-grace-period, from its creation, while it never posted a
Ready condition) gets Ready, MemoryPressure, DiskPressure and PIDPressure set to Unknown; a node
seen going from Ready to not Ready gets a NodeNotReady event and its pods marked Ready=False.
Taints follow the conditions: NoSchedule for Ready False/Unknown, pressure conditions and
spec.unschedulable; NoExecute not-ready/unreachable for Ready False/Unknown (held back while the
node's zone is partially disrupted, removed everywhere while every zone is fully disrupted, as
upstream's disruption modes), removed once the node is Ready again.

Each node is synced when it changes and again every node-monitor-period (earlier when its grace
runs out). What it remembers (when each heartbeat was last seen moving) is rebuilt from the API
after a restart, as upstream's nodeHealthMap.

Must not evict pods (the taint eviction controller acts on the NoExecute taints) nor mutate cached
objects.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from kubelite.api import taints as tainting
from kubelite.api.disruption import set_pod_condition
from kubelite.api.errors import StatusError
from kubelite.client.cache import NODE_NAME_INDEX, index_by_node_name, object_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller
from kubelite.controllers.events import NORMAL, WARNING, EventRecorder, rfc3339
from kubelite.controllers.podutil import parse_time

log = logging.getLogger(__name__)

Obj = dict[str, Any]

NODE_LEASE_NAMESPACE = "kube-node-lease"
GRACE_PERIOD_ENV = "KUBELITE_NODE_MONITOR_GRACE_PERIOD"
DEFAULT_GRACE_PERIOD = 50.0  # upstream's default since 1.32 (it was 40 s before)
MONITORED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
ZONE_VIEW_TTL = 1.0  # seconds a computed view of the zones' health is reused
LARGE_CLUSTER_THRESHOLD = 50  # zones above this keep tainting (slowly, upstream) when partially disrupted

FULL_DISRUPTION = "FullDisruption"
PARTIAL_DISRUPTION = "PartialDisruption"
NORMAL_STATE = "Normal"

_OWNED_NO_SCHEDULE = frozenset(
    {(key, tainting.NO_SCHEDULE) for key in tainting.CONDITION_TAINT_KEYS} | {(tainting.UNSCHEDULABLE, tainting.NO_SCHEDULE)}
)
_OWNED_NO_EXECUTE = frozenset({(tainting.NOT_READY, tainting.NO_EXECUTE), (tainting.UNREACHABLE, tainting.NO_EXECUTE)})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(text: str) -> float:
    """Seconds from "40", "40s", "1.5m", "500ms" or "1h" (ValueError otherwise)."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r}")
    value = float(match.group(1))
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}[match.group(2)]


def grace_period_from_environment() -> float:
    """node-monitor-grace-period: $KUBELITE_NODE_MONITOR_GRACE_PERIOD when set (tests shorten it),
    else upstream's default."""
    text = os.environ.get(GRACE_PERIOD_ENV, "")
    if not text:
        return DEFAULT_GRACE_PERIOD
    try:
        return parse_duration(text)
    except ValueError:
        log.warning("ignoring %s=%r: not a duration", GRACE_PERIOD_ENV, text)
        return DEFAULT_GRACE_PERIOD


@dataclass(frozen=True, slots=True)
class NodeLifecycleOptions:
    node_monitor_period: float = 5.0
    node_monitor_grace_period: float = field(default_factory=grace_period_from_environment)
    node_startup_grace_period: float = 60.0
    unhealthy_zone_threshold: float = 0.55


@dataclass(slots=True)
class NodeHealth:
    """What the controller last saw of a node (upstream nodeHealthData); times are wall seconds."""

    uid: str
    probe: float  # when a heartbeat (Ready's lastHeartbeatTime or the Lease's renewTime) last moved
    ready_transition: float
    heartbeat: str | None = None  # the Ready condition's lastHeartbeatTime (None: no Ready condition)
    transition: str | None = None  # the Ready condition's lastTransitionTime
    renew: str | None = None  # the Lease's renewTime


def deep_copy(obj: Obj) -> Obj:
    return orjson.loads(orjson.dumps(obj))  # type: ignore[no-any-return]


def node_condition(node: Obj, kind: str) -> Obj | None:
    for condition in (node.get("status") or {}).get("conditions") or ():
        if condition.get("type") == kind:
            return condition  # type: ignore[no-any-return]
    return None


def zone_of(node: Obj) -> str:
    """upstream GetZoneKey: region and zone from the topology labels (or their beta forms)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    region = labels.get("topology.kubernetes.io/region") or labels.get("failure-domain.beta.kubernetes.io/region") or ""
    zone = labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone") or ""
    return f"{region}:\x00:{zone}" if region or zone else ""


def zone_state(ready: int, not_ready: int, threshold: float) -> str:
    """upstream ComputeZoneState."""
    if ready == 0 and not_ready > 0:
        return FULL_DISRUPTION
    if not_ready > 2 and not_ready / (ready + not_ready) >= threshold:
        return PARTIAL_DISRUPTION
    return NORMAL_STATE


@dataclass(frozen=True, slots=True)
class ZoneView:
    states: dict[str, str]
    sizes: dict[str, int]
    all_fully_disrupted: bool


def condition_taints(node: Obj) -> set[tuple[str, str]]:
    """The NoSchedule taints the node's conditions and spec.unschedulable call for."""
    wanted: set[tuple[str, str]] = set()
    for condition in (node.get("status") or {}).get("conditions") or ():
        key = tainting.CONDITION_TAINTS.get(condition.get("type", ""), {}).get(condition.get("status", ""))
        if key:
            wanted.add((key, tainting.NO_SCHEDULE))
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.add((tainting.UNSCHEDULABLE, tainting.NO_SCHEDULE))
    return wanted


class NodeLifecycleController(Controller):
    def __init__(
        self,
        client: Client,
        *,
        options: NodeLifecycleOptions | None = None,
        workers: int = 4,
        clock: Clock | None = None,
        recorder: EventRecorder | None = None,
    ):
        super().__init__(client, name="node-lifecycle-controller", workers=workers, clock=clock)
        self.options = options or NodeLifecycleOptions()
        self.nodes_client = client.resource("", "v1", "nodes")
        self.pods_client = client.resource("", "v1", "pods")
        self.recorder = self.event_recorder(recorder, "node-controller")
        self.nodes = self.informer("", "v1", "nodes")
        self.leases = self.informer("coordination.k8s.io", "v1", "leases")
        self.pods = self.informer("", "v1", "pods", indexers={NODE_NAME_INDEX: index_by_node_name})
        self.nodes.add_handler(self.enqueue, self._node_updated, self.enqueue)
        self.leases.add_handler(self._lease_added, None, None)
        self.health: dict[str, NodeHealth] = {}
        self._pods_to_retry: set[str] = set()
        self._zones: tuple[float, ZoneView] | None = None

    def _node_updated(self, old: Obj, new: Obj) -> None:
        self.enqueue(new)

    def _lease_added(self, lease: Obj) -> None:
        """A node's first Lease counts as a heartbeat: look at the node now rather than at its next
        periodic check (renewals are read at those checks)."""
        meta = lease.get("metadata") or {}
        if meta.get("namespace") == NODE_LEASE_NAMESPACE and meta.get("name"):
            self.queue.add(meta["name"])

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        node = self.nodes.cache.get(key)
        if node is None:
            self._pods_to_retry.discard(key)
            gone = self.health.pop(key, None)
            if gone is not None:
                self._node_event(key, gone.uid, "RemovingNode", f"Node {key} event: Removing Node {key} from Controller")
            return
        if key not in self.health:
            uid = node["metadata"].get("uid", "")
            self._node_event(key, uid, "RegisteredNode", f"Node {key} event: Registered Node {key} in Controller")
        observed, current, node, deadline = await self._update_health(node)
        await self._reconcile_taints(node, current)
        if current is not None:
            await self._mark_pods_if_lost(key, node, observed, current)
        now = self.clock.time()
        period = self.options.node_monitor_period
        self.queue.add_after(key, period if deadline <= now else min(period, deadline - now + 0.001))

    async def _update_health(self, node: Obj) -> tuple[Obj, Obj | None, Obj, float]:
        """upstream tryUpdateNodeHealth: (the Ready condition as observed, the Ready condition now,
        the node (as written when its conditions went Unknown), when its grace runs out)."""
        now = self.clock.time()
        meta = node["metadata"]
        name = meta["name"]
        uid = meta.get("uid", "")
        created = parse_time(meta.get("creationTimestamp") or "") or now
        ready = node_condition(node, "Ready")
        saved = self.health.get(name)
        if ready is None:
            created_text = meta.get("creationTimestamp")
            observed: Obj = {
                "type": "Ready",
                "status": "Unknown",
                "lastHeartbeatTime": created_text,
                "lastTransitionTime": created_text,
            }
            grace = self.options.node_startup_grace_period
            if saved is None:
                saved = NodeHealth(uid, probe=created, ready_transition=created)
            elif saved.heartbeat is not None:  # the Ready condition went away: start over
                saved = NodeHealth(uid, probe=now, ready_transition=now, renew=saved.renew)
        else:
            observed = dict(ready)
            grace = self.options.node_monitor_grace_period
            heartbeat = ready.get("lastHeartbeatTime") or ""
            transition = ready.get("lastTransitionTime") or ""
            if saved is None or saved.heartbeat is None:
                saved = NodeHealth(uid, now, now, heartbeat, transition, saved.renew if saved else None)
            elif saved.heartbeat != heartbeat:
                moved = now if saved.transition != transition else saved.ready_transition
                saved = NodeHealth(uid, now, moved, heartbeat, transition, saved.renew)
        lease = self.leases.cache.get_by_name(NODE_LEASE_NAMESPACE, name)
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        if renew and (saved.renew is None or parse_time(saved.renew) < parse_time(renew)):
            saved.renew = renew
            saved.probe = now
        saved.uid = uid
        self.health[name] = saved
        deadline = saved.probe + grace
        if now <= deadline:
            return observed, ready, node, deadline

        updated = deep_copy(node)
        status = updated.setdefault("status", {})
        conditions: list[Obj] = status.setdefault("conditions", [])
        stamp = rfc3339(now)
        for kind in MONITORED_CONDITIONS:
            condition = next((c for c in conditions if c.get("type") == kind), None)
            if condition is None:
                conditions.append(
                    {
                        "type": kind,
                        "status": "Unknown",
                        "lastHeartbeatTime": meta.get("creationTimestamp"),
                        "lastTransitionTime": stamp,
                        "reason": "NodeStatusNeverUpdated",
                        "message": "Kubelet never posted node status.",
                    }
                )
            elif condition.get("status") != "Unknown":
                condition.update(
                    status="Unknown",
                    reason="NodeStatusUnknown",
                    message="Kubelet stopped posting node status.",
                    lastTransitionTime=stamp,
                )
        current = node_condition(updated, "Ready")
        if current == observed:
            return observed, current, node, deadline
        written = await self.nodes_client.update_status(updated)
        saved.ready_transition = now
        log.info("node %s: no heartbeat for %.0fs, conditions set to Unknown", name, now - saved.probe)
        return observed, node_condition(written, "Ready"), written, deadline

    # ------------------------------------------------------------------ taints
    def _zone_view(self) -> ZoneView:
        now = self.clock.monotonic()
        if self._zones is not None and now - self._zones[0] < ZONE_VIEW_TTL:
            return self._zones[1]
        counts: dict[str, list[int]] = {}
        for node in self.nodes.cache.list():
            ready = node_condition(node, "Ready")
            tally = counts.setdefault(zone_of(node), [0, 0])
            tally[0 if ready is not None and ready.get("status") == "True" else 1] += 1
        threshold = self.options.unhealthy_zone_threshold
        states = {zone: zone_state(ready, not_ready, threshold) for zone, (ready, not_ready) in counts.items()}
        sizes = {zone: ready + not_ready for zone, (ready, not_ready) in counts.items()}
        view = ZoneView(states, sizes, all(state == FULL_DISRUPTION for state in states.values()))
        self._zones = (now, view)
        return view

    def _no_execute(self, node: Obj, ready: Obj | None) -> tuple[frozenset[tuple[str, str]], set[tuple[str, str]]]:
        """The NoExecute taints this pass owns and wants (upstream doNoExecuteTaintingPass, the
        zone-dependent part of handleDisruption and markNodeAsReachable)."""
        status = (ready or {}).get("status")
        if status == "True":
            return _OWNED_NO_EXECUTE, set()
        if status not in ("False", "Unknown"):
            return frozenset(), set()
        key, opposite = (
            (tainting.NOT_READY, tainting.UNREACHABLE) if status == "False" else (tainting.UNREACHABLE, tainting.NOT_READY)
        )
        current = (node.get("spec") or {}).get("taints")
        view = self._zone_view()
        if view.all_fully_disrupted:
            return _OWNED_NO_EXECUTE, set()  # every node is down: the control plane is the likelier culprit
        zone = zone_of(node)
        held_back = view.states.get(zone) == PARTIAL_DISRUPTION and view.sizes.get(zone, 0) <= LARGE_CLUSTER_THRESHOLD
        if held_back and not tainting.has_taint(current, opposite, tainting.NO_EXECUTE):
            return frozenset(), set()
        return _OWNED_NO_EXECUTE, {(key, tainting.NO_EXECUTE)}

    async def _reconcile_taints(self, node: Obj, ready: Obj | None) -> None:
        current = list((node.get("spec") or {}).get("taints") or [])
        owned_no_execute, wanted_no_execute = self._no_execute(node, ready)
        wanted = condition_taints(node) | wanted_no_execute
        desired = tainting.reconcile_taints(
            current, _OWNED_NO_SCHEDULE | owned_no_execute, wanted, rfc3339(self.clock.time())
        )
        if desired == current:
            return
        patch = {
            "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
            "spec": {"taints": desired or None},
        }
        await self.nodes_client.patch(node["metadata"]["name"], patch, "merge")

    # ------------------------------------------------------------------ pods
    async def _mark_pods_if_lost(self, name: str, node: Obj, observed: Obj, current: Obj) -> None:
        """upstream monitorNodeHealth's tail: a node seen going from Ready to not Ready gets the
        NodeNotReady event and its pods Ready=False (retried until that succeeds)."""
        went_down = current.get("status") != "True" and observed.get("status") == "True"
        if went_down:
            uid = node["metadata"].get("uid", "")
            self._node_event(name, uid, "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        elif not (name in self._pods_to_retry and observed.get("status") != "True"):
            self._pods_to_retry.discard(name)
            return
        try:
            await self._mark_pods_not_ready(name)
        except Exception:
            self._pods_to_retry.add(name)
            raise
        self._pods_to_retry.discard(name)

    async def _mark_pods_not_ready(self, node_name: str) -> None:
        """upstream MarkPodsNotReady: Ready=False on every pod bound to the node."""
        failures: list[Exception] = []
        for pod in self.pods.cache.by_index(NODE_NAME_INDEX, node_name):
            ready = next(
                (c for c in (pod.get("status") or {}).get("conditions") or () if c.get("type") == "Ready"), None
            )
            if ready is None:
                continue
            updated = deep_copy(pod)
            if not set_pod_condition(updated.setdefault("status", {}), {**ready, "status": "False"}, rfc3339(self.clock.time())):
                continue
            meta = pod["metadata"]
            try:
                await self.pods_client.namespace(meta.get("namespace") or "").update_status(updated)
            except StatusError as err:
                if err.code != 404:
                    log.info("could not mark pod %s not ready: %s", object_key(pod), err.message)
                    failures.append(err)
                continue
            self.recorder.event(pod, WARNING, "NodeNotReady", "Node is not ready", kind="Pod", api_version="v1")
        if failures:
            raise failures[0]

    def _node_event(self, name: str, uid: str, reason: str, message: str) -> None:
        ref: Obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "uid": uid}}
        self.recorder.event(ref, NORMAL, reason, message)
