"""The Node object of one kubelet: registration (create, or adopt the existing Node), its pod
CIDR (kept when the Node has one, else chosen from the options and written to spec, or — for a
real node given none — awaited from the controller manager's node IPAM), and node
status — capacity/allocatable and nodeInfo from the runtime, addresses, the four upstream
conditions — computed every status_update_frequency and written when it changed or when
status_report_frequency has passed (as upstream's kubelet with node leases).

Must not touch pods or the Lease.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import uuid
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.kubelet.options import KubeletOptions
from kubelite.kubelet.timestamps import rfc3339
from kubelite.runtime.base import Runtime

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# (type, status, reason, message) as upstream's kubelet reports a healthy node, in its order
HEALTHY_CONDITIONS: tuple[tuple[str, str, str, str], ...] = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
_TIME_FIELDS = ("lastHeartbeatTime", "lastTransitionTime")


def node_labels(node_name: str, runtime: Runtime, extra: dict[str, str]) -> dict[str, str]:
    info = runtime.node_info()
    return {
        "beta.kubernetes.io/arch": info.architecture,
        "beta.kubernetes.io/os": info.operating_system,
        "kubernetes.io/arch": info.architecture,
        "kubernetes.io/hostname": node_name,
        "kubernetes.io/os": info.operating_system,
        **extra,
    }


def _stable_id(node_name: str, what: str) -> str:
    return str(uuid.UUID(hashlib.sha256(f"{node_name}/{what}".encode()).hexdigest()[:32]))


class NodeStatusManager:
    def __init__(self, client: Client, node_name: str, runtime: Runtime, options: KubeletOptions, clock: Clock):
        self.nodes = client.resource("", "v1", "nodes")
        self.node_name = node_name
        self.runtime = runtime
        self.options = options
        self.clock = clock
        self.node_ip = options.resolved_node_ip()
        self.node: Obj | None = None  # the Node as last read or written
        self.pod_cidr = ""
        # a Node without spec.podCIDR: True waits for the controller manager's node IPAM to set
        # one (a real node given no pod CIDR); False sets options.resolved_pod_cidr() itself
        self.pod_cidr_from_ipam = False
        self._last_report = float("-inf")

    @property
    def uid(self) -> str:
        return str(((self.node or {}).get("metadata") or {}).get("uid") or "")

    # ------------------------------------------------------------------ registration
    async def register(self) -> Obj:
        """Create the Node, or adopt the one that exists; make sure it has a pod CIDR."""
        try:
            self.node = await self.nodes.create(self._new_node(), field_manager=self.options.field_manager)
        except StatusError as exc:
            if exc.code != 409:
                raise
            self.node = await self.nodes.get(self.node_name)
        self.pod_cidr = _pod_cidr(self.node)
        if not self.pod_cidr and self.pod_cidr_from_ipam:
            self.node = await self._await_pod_cidr()
            self.pod_cidr = _pod_cidr(self.node)
        elif not self.pod_cidr:
            cidr = self.options.resolved_pod_cidr()
            try:
                self.node = await self.nodes.patch(
                    self.node_name, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}, field_manager=self.options.field_manager
                )
            except StatusError as exc:
                if exc.code != 422:
                    raise
                self.node = await self.nodes.get(self.node_name)  # node IPAM set another one first
            self.pod_cidr = _pod_cidr(self.node) or cidr
        await self.runtime.update_pod_cidr(self.pod_cidr)
        return self.node

    async def _await_pod_cidr(self, interval: float = 0.5, report_every: float = 30.0) -> Obj:
        """The Node once node IPAM has given it a podCIDR (polled; logged while it waits)."""
        started = self.clock.monotonic()
        reported = started - report_every
        while True:
            node = await self.nodes.get(self.node_name)
            if _pod_cidr(node):
                return node
            now = self.clock.monotonic()
            if now - reported >= report_every:
                reported = now
                log.warning("%s: waiting for the controller manager to allocate a podCIDR (%.0fs)", self.node_name, now - started)
            await self.clock.sleep(interval)

    def _new_node(self) -> Obj:
        cidr = self.options.pod_cidr or ("" if self.pod_cidr_from_ipam else self.options.resolved_pod_cidr())
        spec: Obj = {}
        if cidr:
            spec = {"podCIDR": cidr, "podCIDRs": [cidr]}
        if self.options.taints:
            spec["taints"] = [dict(taint) for taint in self.options.taints]
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.node_name,
                "labels": node_labels(self.node_name, self.runtime, self.options.labels),
                "annotations": {
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            },
            "spec": spec,
        }

    # ------------------------------------------------------------------ status
    def desired_status(self, current: Obj) -> Obj:
        """The status to report given the Node's current status (transition times kept while a
        condition holds; heartbeat times are the caller's to set)."""
        info = self.runtime.node_info()
        capacity = self.runtime.node_capacity()
        now = rfc3339(self.clock.time())
        old_conditions = {c.get("type"): c for c in current.get("conditions") or []}
        conditions = []
        for kind, value, reason, message in HEALTHY_CONDITIONS:
            old = old_conditions.get(kind) or {}
            since = old.get("lastTransitionTime") if old.get("status") == value else None
            conditions.append(
                {
                    "type": kind,
                    "status": value,
                    "lastHeartbeatTime": old.get("lastHeartbeatTime") or now,
                    "lastTransitionTime": since or now,
                    "reason": reason,
                    "message": message,
                }
            )
        conditions.extend(c for kind, c in old_conditions.items() if kind not in {h[0] for h in HEALTHY_CONDITIONS})
        status = copy.deepcopy(current)
        status.update(
            {
                "capacity": dict(capacity),
                "allocatable": dict(capacity),
                "conditions": conditions,
                "addresses": [{"type": "InternalIP", "address": self.node_ip}, {"type": "Hostname", "address": self.node_name}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": self.options.kubelet_port}},
                "nodeInfo": {
                    "machineID": _stable_id(self.node_name, "machine").replace("-", ""),
                    "systemUUID": _stable_id(self.node_name, "system"),
                    "bootID": _stable_id(self.node_name, "boot"),
                    "kernelVersion": info.kernel_version,
                    "osImage": info.os_image,
                    "containerRuntimeVersion": info.container_runtime_version,
                    "kubeletVersion": self.options.kubelet_version,
                    "kubeProxyVersion": "",
                    "operatingSystem": info.operating_system,
                    "architecture": info.architecture,
                },
            }
        )
        return status

    async def sync_status(self) -> bool:
        """Read the Node, write its status if it changed or a report is due; True if written."""
        node = await self.nodes.get(self.node_name, resource_version="0")
        self.node = node
        current = node.get("status") or {}
        desired = self.desired_status(current)
        due = self.clock.monotonic() - self._last_report >= self.options.status_report_frequency
        if not due and _without_heartbeats(desired) == _without_heartbeats(current):
            return False
        now = rfc3339(self.clock.time())
        for condition in desired["conditions"]:
            if condition["type"] in {h[0] for h in HEALTHY_CONDITIONS}:
                condition["lastHeartbeatTime"] = now
        self.node = await self.nodes.patch(
            self.node_name, {"status": desired}, "merge", subresource="status", field_manager=self.options.field_manager
        )
        self._last_report = self.clock.monotonic()
        return True

    def host_ip(self) -> str:
        return self.node_ip


def _pod_cidr(node: Obj) -> str:
    return str((node.get("spec") or {}).get("podCIDR") or "")


def _without_heartbeats(status: Obj) -> Obj:
    trimmed = dict(status)
    trimmed["conditions"] = [
        {k: v for k, v in condition.items() if k != "lastHeartbeatTime"} for condition in status.get("conditions") or []
    ]
    return trimmed
