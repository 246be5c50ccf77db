"""PodTopologySpread: DoNotSchedule constraints filter nodes whose domain would exceed maxSkew
(honouring minDomains), ScheduleAnyway constraints score nodes by how few matching pods their domains
hold. Counts only nodes that pass the pod's nodeSelector/required node affinity (nodeAffinityPolicy
Honor) and carry every constraint's topology key. Must NOT apply cluster-level default constraints
(they need Services and ReplicaSets, which a caller has to turn into explicit constraints)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from math import log
from typing import Any

from kubelite.api.labels import LabelSelector, LabelSelectorError, selector_from_spec
from kubelite.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    SNAPSHOT_KEY,
    SUCCESS,
    Code,
    CycleState,
    NodeInfo,
    Obj,
    Snapshot,
    Status,
)
from kubelite.scheduler.plugins.nodeaffinity import RequiredNodeAffinity

ERR_CONSTRAINTS = "node(s) didn't match pod topology spread constraints"
ERR_MISSING_LABEL = ERR_CONSTRAINTS + " (missing required label)"
_FILTER_KEY = "PreFilterPodTopologySpread"
_SCORE_KEY = "PreScorePodTopologySpread"


class Constraint:
    __slots__ = ("max_skew", "topology_key", "selector", "min_domains")

    def __init__(self, raw: Mapping[str, Any]):
        self.max_skew: int = raw.get("maxSkew") or 1
        self.topology_key: str = raw.get("topologyKey") or ""
        try:
            self.selector = selector_from_spec(raw.get("labelSelector"))
        except (LabelSelectorError, AttributeError, TypeError):
            self.selector = LabelSelector.nothing()
        self.min_domains: int = raw.get("minDomains") or 1


def constraints(pod: Obj, when_unsatisfiable: str) -> list[Constraint]:
    raw = (pod.get("spec") or {}).get("topologySpreadConstraints") or ()
    return [Constraint(c) for c in raw if c.get("whenUnsatisfiable") == when_unsatisfiable]


def _count_matching(info: NodeInfo, namespace: str, selector: LabelSelector) -> int:
    count = 0
    for existing in info.pods:
        meta = existing.get("metadata") or {}
        if (
            meta.get("namespace") == namespace
            and not meta.get("deletionTimestamp")
            and selector.matches(meta.get("labels") or {})
        ):
            count += 1
    return count


def _eligible(snapshot_nodes: list[NodeInfo], pod: Obj, keys: list[str]) -> list[NodeInfo]:
    required = RequiredNodeAffinity(pod)
    return [
        info
        for info in snapshot_nodes
        if all(key in info.labels for key in keys) and (required.is_empty() or required.matches(info))
    ]


class _FilterState:
    __slots__ = ("constraints", "counts", "self_match")

    def __init__(self, found: list[Constraint], counts: list[Counter[str]], self_match: list[int]):
        self.constraints = found
        self.counts = counts  # per constraint: topology value -> matching pods
        self.self_match = self_match


class PodTopologySpread:
    name = "PodTopologySpread"

    def pre_filter(self, state: CycleState, pod: Obj, snapshot: Snapshot) -> Status:
        found = constraints(pod, "DoNotSchedule")
        if not found:
            return SKIP
        meta = pod.get("metadata") or {}
        namespace, labels = meta.get("namespace", ""), meta.get("labels") or {}
        nodes = _eligible(snapshot.node_infos, pod, [c.topology_key for c in found])
        counts: list[Counter[str]] = [Counter() for _ in found]
        for info in nodes:
            for index, constraint in enumerate(found):
                value = info.labels[constraint.topology_key]
                counts[index][value] += _count_matching(info, namespace, constraint.selector)
        self_match = [1 if c.selector.matches(labels) else 0 for c in found]
        state[_FILTER_KEY] = _FilterState(found, counts, self_match)
        return SUCCESS

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        found: _FilterState = state[_FILTER_KEY]
        for index, constraint in enumerate(found.constraints):
            value = node.labels.get(constraint.topology_key)
            if value is None:
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_MISSING_LABEL, plugin=self.name)
            domains = found.counts[index]
            if len(domains) < constraint.min_domains:
                global_min = 0
            else:
                global_min = min(domains.values(), default=0)
            skew = domains.get(value, 0) + found.self_match[index] - global_min
            if skew > constraint.max_skew:
                return Status(Code.UNSCHEDULABLE, ERR_CONSTRAINTS, plugin=self.name)
        return SUCCESS

    def pre_score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status:
        found = constraints(pod, "ScheduleAnyway")
        if not found:
            return SKIP
        snapshot = state.get(SNAPSHOT_KEY)
        all_nodes = snapshot.node_infos if isinstance(snapshot, Snapshot) else nodes
        namespace = (pod.get("metadata") or {}).get("namespace", "")
        keys = [c.topology_key for c in found]
        counts: list[Counter[str]] = [Counter() for _ in found]
        for info in _eligible(all_nodes, pod, keys):
            for index, constraint in enumerate(found):
                counts[index][info.labels[constraint.topology_key]] += _count_matching(
                    info, namespace, constraint.selector
                )
        scored_with_keys = sum(1 for info in nodes if all(key in info.labels for key in keys))
        weights = [
            log((scored_with_keys if c.topology_key == "kubernetes.io/hostname" else len(counts[i])) + 2)
            for i, c in enumerate(found)
        ]
        state[_SCORE_KEY] = (found, counts, weights)
        return SUCCESS

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        found, counts, weights = state[_SCORE_KEY]
        if not all(c.topology_key in node.labels for c in found):
            return -1  # ignored: scored 0 after normalizing
        total = 0.0
        for index, constraint in enumerate(found):
            matching = counts[index].get(node.labels[constraint.topology_key], 0)
            total += matching * weights[index] + (constraint.max_skew - 1)
        return round(total)

    def normalize_scores(self, state: CycleState, pod: Obj, scores: list[int]) -> None:
        counted = [s for s in scores if s >= 0]
        if not counted:
            scores[:] = [0] * len(scores)
            return
        lowest, highest = min(counted), max(counted)
        for index, score in enumerate(scores):
            if score < 0:
                scores[index] = 0
            elif highest == 0:
                scores[index] = MAX_NODE_SCORE
            else:
                scores[index] = MAX_NODE_SCORE * (highest + lowest - score) // highest
