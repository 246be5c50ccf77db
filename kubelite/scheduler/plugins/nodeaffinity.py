"""NodeAffinity: spec.nodeSelector and required node affinity rule nodes out; preferred terms add
their weights to a node's score. Must NOT resolve pod (inter-pod) affinity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubelite.api.labels import DOES_NOT_EXIST, EXISTS, GREATER_THAN, IN, LESS_THAN, NOT_IN, Requirement
from kubelite.scheduler.framework import (
    SKIP,
    SUCCESS,
    Code,
    CycleState,
    NodeInfo,
    Obj,
    Snapshot,
    Status,
    default_normalize_score,
)

ERR_REASON = "node(s) didn't match Pod's node affinity/selector"
_FILTER_KEY = "PreFilterNodeAffinity"
_SCORE_KEY = "PreScoreNodeAffinity"
_OPERATORS = {
    "In": IN,
    "NotIn": NOT_IN,
    "Exists": EXISTS,
    "DoesNotExist": DOES_NOT_EXIST,
    "Gt": GREATER_THAN,
    "Lt": LESS_THAN,
}


class NodeSelectorTerm:
    """One nodeSelectorTerm: every matchExpression (on labels) and matchField (on metadata.name) holds.
    A term with neither matches nothing, as upstream."""

    __slots__ = ("labels", "fields", "empty")

    def __init__(self, term: Mapping[str, Any]):
        self.labels = [_requirement(e) for e in term.get("matchExpressions") or ()]
        self.fields = [_requirement(e) for e in term.get("matchFields") or ()]
        self.empty = not self.labels and not self.fields

    def matches(self, node: NodeInfo) -> bool:
        if self.empty:
            return False
        if not all(r is not None and r.matches(node.labels) for r in self.labels):
            return False
        fields = {"metadata.name": node.name}
        return all(r is not None and r.matches(fields) for r in self.fields)


def _requirement(expression: Mapping[str, Any]) -> Requirement | None:
    operator = _OPERATORS.get(expression.get("operator", ""))
    if operator is None:
        return None
    return Requirement(expression.get("key", ""), operator, expression.get("values") or ())


class RequiredNodeAffinity:
    """spec.nodeSelector AND (any of the required nodeSelectorTerms)."""

    __slots__ = ("selector", "terms")

    def __init__(self, pod: Obj):
        spec = pod.get("spec") or {}
        self.selector: dict[str, str] = spec.get("nodeSelector") or {}
        required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or None
        self.terms = (
            None
            if required is None
            else [NodeSelectorTerm(t) for t in required.get("nodeSelectorTerms") or ()]
        )

    def is_empty(self) -> bool:
        return not self.selector and self.terms is None

    def matches(self, node: NodeInfo) -> bool:
        labels = node.labels
        for key, value in self.selector.items():
            if labels.get(key) != value:
                return False
        return self.terms is None or any(term.matches(node) for term in self.terms)


class NodeAffinity:
    name = "NodeAffinity"

    def pre_filter(self, state: CycleState, pod: Obj, snapshot: Snapshot) -> Status:
        required = RequiredNodeAffinity(pod)
        if required.is_empty():
            return SKIP
        state[_FILTER_KEY] = required
        return SUCCESS

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        required = state.get(_FILTER_KEY)
        if required is None:
            required = state[_FILTER_KEY] = RequiredNodeAffinity(pod)
        if required.matches(node):
            return SUCCESS
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON, plugin=self.name)

    def pre_score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status:
        node_affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
        preferred = node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        terms = [(p.get("weight") or 0, NodeSelectorTerm(p.get("preference") or {})) for p in preferred]
        terms = [(weight, term) for weight, term in terms if weight]
        if not terms:
            return SKIP
        state[_SCORE_KEY] = terms
        return SUCCESS

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        return sum(weight for weight, term in state[_SCORE_KEY] if term.matches(node))

    def normalize_scores(self, state: CycleState, pod: Obj, scores: list[int]) -> None:
        default_normalize_score(scores, reverse=False)
