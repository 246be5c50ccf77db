"""NodeUnschedulable: a cordoned node (spec.unschedulable) takes only pods tolerating the
node.kubernetes.io/unschedulable:NoSchedule taint. Must NOT judge other taints (TaintToleration does)."""

from __future__ import annotations

from kubelite.scheduler.framework import SUCCESS, Code, CycleState, NodeInfo, Obj, Status
from kubelite.scheduler.plugins.tainttoleration import pod_tolerations, tolerated

ERR_REASON = "node(s) were unschedulable"
_UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


class NodeUnschedulable:
    name = "NodeUnschedulable"

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        if not node.unschedulable:
            return SUCCESS
        if tolerated(_UNSCHEDULABLE_TAINT, pod_tolerations(pod)):
            return SUCCESS
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON, plugin=self.name)

    def filter_batch(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> list[NodeInfo]:
        if tolerated(_UNSCHEDULABLE_TAINT, pod_tolerations(pod)):
            return nodes
        return [node for node in nodes if not node.unschedulable]
