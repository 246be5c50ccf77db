"""NodePorts: a pod's host ports must be free on the node (same protocol and port, and the same host
IP or either one the wildcard 0.0.0.0). Must NOT allocate ports; the kubelet binds them."""

from __future__ import annotations

from kubelite.scheduler.framework import (
    SKIP,
    SUCCESS,
    Code,
    CycleState,
    NodeInfo,
    Obj,
    Snapshot,
    Status,
    pod_host_ports,
)

ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
_STATE_KEY = "PreFilterNodePorts"
_WILDCARD = "0.0.0.0"


def ports_conflict(wanted: tuple[str, str, int], used: dict[tuple[str, str, int], int]) -> bool:
    ip, protocol, port = wanted
    if ip == _WILDCARD:
        return any(p == port and proto == protocol for (_, proto, p) in used)
    return (ip, protocol, port) in used or (_WILDCARD, protocol, port) in used


class NodePorts:
    name = "NodePorts"

    def pre_filter(self, state: CycleState, pod: Obj, snapshot: Snapshot) -> Status:
        ports = pod_host_ports(pod)
        if not ports:
            return SKIP
        state[_STATE_KEY] = ports
        return SUCCESS

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        used = node.used_ports
        if used and any(ports_conflict(wanted, used) for wanted in state[_STATE_KEY]):
            return Status(Code.UNSCHEDULABLE, ERR_REASON, plugin=self.name)
        return SUCCESS
