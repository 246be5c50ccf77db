"""NodeName: a pod that names its node (spec.nodeName) fits only there. Must NOT look at anything else."""

from __future__ import annotations

from kubelite.scheduler.framework import SUCCESS, Code, CycleState, NodeInfo, Obj, Status

ERR_REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = "NodeName"

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        wanted = (pod.get("spec") or {}).get("nodeName")
        if not wanted or wanted == node.name:
            return SUCCESS
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON, plugin=self.name)

    def filter_batch(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> list[NodeInfo]:
        wanted = (pod.get("spec") or {}).get("nodeName")
        if not wanted:
            return nodes
        return [node for node in nodes if node.name == wanted]
