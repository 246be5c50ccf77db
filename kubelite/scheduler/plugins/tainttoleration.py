"""TaintToleration: NoSchedule/NoExecute taints a pod does not tolerate rule a node out; untolerated
PreferNoSchedule taints lower its score. Must NOT evict anything (NoExecute eviction is the taint
manager's job)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from kubelite.api.taints import tolerates
from kubelite.scheduler.framework import (
    SKIP,
    SUCCESS,
    Code,
    CycleState,
    NodeInfo,
    Obj,
    Status,
    default_normalize_score,
)

_STATE_KEY = "PreScoreTaintToleration"


def tolerated(taint: Mapping[str, Any], tolerations: Iterable[Mapping[str, Any]]) -> bool:
    return any(tolerates(toleration, taint) for toleration in tolerations)


def node_taints(node: NodeInfo) -> list[Obj]:
    return node.taints


def pod_tolerations(pod: Obj) -> list[Obj]:
    return (pod.get("spec") or {}).get("tolerations") or []


class TaintToleration:
    name = "TaintToleration"

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        taints = node.filter_taints
        if not taints:
            return SUCCESS
        tolerations = pod_tolerations(pod)
        for taint in taints:
            if not tolerated(taint, tolerations):
                reason = (
                    f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value') or ''}}}"
                )
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reason, plugin=self.name)
        return SUCCESS

    def filter_batch(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> list[NodeInfo]:
        tolerations = pod_tolerations(pod)
        return [
            node
            for node in nodes
            if not node.filter_taints or all(tolerated(taint, tolerations) for taint in node.filter_taints)
        ]

    def pre_score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status:
        if not any(node.taints for node in nodes):
            return SKIP
        state[_STATE_KEY] = [
            t for t in pod_tolerations(pod) if t.get("effect") in ("", None, "PreferNoSchedule")
        ]
        return SUCCESS

    def score_memo_key(self, state: CycleState, pod: Obj) -> Hashable:
        return tuple(
            (t.get("key"), t.get("operator"), t.get("value"), t.get("effect")) for t in state[_STATE_KEY]
        )

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        tolerations = state[_STATE_KEY]
        return sum(
            1
            for taint in node_taints(node)
            if taint.get("effect") == "PreferNoSchedule" and not tolerated(taint, tolerations)
        )

    def normalize_scores(self, state: CycleState, pod: Obj, scores: list[int]) -> None:
        default_normalize_score(scores, reverse=True)
