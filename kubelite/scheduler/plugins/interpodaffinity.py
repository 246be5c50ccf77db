"""InterPodAffinity: required pod affinity / anti-affinity by topologyKey (the incoming pod's and the
existing pods' anti-affinity), and preferred terms scored. Must NOT fetch namespaces: a term's
namespaceSelector is resolved against the namespace labels given to the constructor."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
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
    has_affinity,
)

ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1
_FILTER_KEY = "PreFilterInterPodAffinity"
_SCORE_KEY = "PreScoreInterPodAffinity"

NamespaceLabels = Mapping[str, Mapping[str, str]]


class AffinityTerm:
    """A podAffinityTerm bound to the namespace of the pod that declares it."""

    __slots__ = ("selector", "namespaces", "namespace_selector", "topology_key", "weight")

    def __init__(self, term: Mapping[str, Any], own_namespace: str, weight: int = 0):
        self.selector = _selector(term.get("labelSelector"))
        self.namespaces = frozenset(term.get("namespaces") or ())
        raw_ns_selector = term.get("namespaceSelector")
        self.namespace_selector = None if raw_ns_selector is None else _selector(raw_ns_selector)
        if not self.namespaces and raw_ns_selector is None:
            self.namespaces = frozenset((own_namespace,))
        self.topology_key: str = term.get("topologyKey") or ""
        self.weight = weight

    def matches(self, pod: Obj, namespace_labels: NamespaceLabels) -> bool:
        meta = pod.get("metadata") or {}
        namespace = meta.get("namespace", "")
        if namespace not in self.namespaces:
            selector = self.namespace_selector
            if selector is None or not selector.matches(namespace_labels.get(namespace) or {}):
                return False
        return self.selector.matches(meta.get("labels") or {})


def _selector(spec: Mapping[str, Any] | None) -> LabelSelector:
    try:
        return selector_from_spec(spec)
    except (LabelSelectorError, AttributeError, TypeError):
        return LabelSelector.nothing()


def _terms(pod: Obj, kind: str, required: bool) -> list[AffinityTerm]:
    section = (((pod.get("spec") or {}).get("affinity") or {}).get(kind)) or {}
    namespace = (pod.get("metadata") or {}).get("namespace", "")
    if required:
        raw = section.get("requiredDuringSchedulingIgnoredDuringExecution") or ()
        return [AffinityTerm(t, namespace) for t in raw]
    weighted = section.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
    return [
        AffinityTerm(w.get("podAffinityTerm") or {}, namespace, w.get("weight") or 0)
        for w in weighted
        if w.get("weight")
    ]


class _FilterState:
    __slots__ = ("affinity", "anti_affinity", "affinity_counts", "anti_counts", "existing_anti_counts")

    def __init__(self, affinity: list[AffinityTerm], anti_affinity: list[AffinityTerm]):
        self.affinity = affinity
        self.anti_affinity = anti_affinity
        self.affinity_counts: Counter[tuple[str, str]] = Counter()
        self.anti_counts: Counter[tuple[str, str]] = Counter()
        self.existing_anti_counts: Counter[tuple[str, str]] = Counter()


class InterPodAffinity:
    name = "InterPodAffinity"

    def __init__(self, namespace_labels: NamespaceLabels | None = None):
        self.namespace_labels: NamespaceLabels = namespace_labels or {}

    def pre_filter(self, state: CycleState, pod: Obj, snapshot: Snapshot) -> Status:
        affinity = _terms(pod, "podAffinity", True)
        anti = _terms(pod, "podAntiAffinity", True)
        with_anti = snapshot.pods_with_required_anti_affinity()
        if not affinity and not anti and not with_anti:
            return SKIP
        found = _FilterState(affinity, anti)
        ns_labels = self.namespace_labels
        for info in with_anti:
            for existing in info.pods_with_required_anti_affinity:
                for term in _terms(existing, "podAntiAffinity", True):
                    value = info.labels.get(term.topology_key)
                    if value is not None and term.matches(pod, ns_labels):
                        found.existing_anti_counts[(term.topology_key, value)] += 1
        if affinity or anti:
            for info in snapshot.node_infos:
                if not info.pods:
                    continue
                for existing in info.pods:
                    for term in affinity:
                        value = info.labels.get(term.topology_key)
                        if value is not None and term.matches(existing, ns_labels):
                            found.affinity_counts[(term.topology_key, value)] += 1
                    for term in anti:
                        value = info.labels.get(term.topology_key)
                        if value is not None and term.matches(existing, ns_labels):
                            found.anti_counts[(term.topology_key, value)] += 1
        state[_FILTER_KEY] = found
        return SUCCESS

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        found: _FilterState = state[_FILTER_KEY]
        labels = node.labels
        if found.affinity and not self._satisfies_affinity(found, pod, labels):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_AFFINITY, plugin=self.name)
        for term in found.anti_affinity:
            value = labels.get(term.topology_key)
            if value is not None and found.anti_counts[(term.topology_key, value)] > 0:
                return Status(Code.UNSCHEDULABLE, ERR_ANTI_AFFINITY, plugin=self.name)
        if found.existing_anti_counts:
            for pair in labels.items():
                if found.existing_anti_counts.get(pair, 0) > 0:
                    return Status(Code.UNSCHEDULABLE, ERR_EXISTING_ANTI_AFFINITY, plugin=self.name)
        return SUCCESS

    def _satisfies_affinity(self, found: _FilterState, pod: Obj, labels: Mapping[str, str]) -> bool:
        pods_exist = True
        for term in found.affinity:
            value = labels.get(term.topology_key)
            if value is None:
                return False  # every topology key must be on the node
            if found.affinity_counts[(term.topology_key, value)] <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # The first of a group of pods with affinity to each other may go anywhere its keys exist.
        return not found.affinity_counts and all(
            t.matches(pod, self.namespace_labels) for t in found.affinity
        )

    def pre_score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status:
        preferred = _terms(pod, "podAffinity", False)
        preferred_anti = _terms(pod, "podAntiAffinity", False)
        snapshot = state.get(SNAPSHOT_KEY)
        snapshot_nodes = snapshot.node_infos if isinstance(snapshot, Snapshot) else nodes
        if not preferred and not preferred_anti:
            if isinstance(snapshot, Snapshot):
                holders = snapshot.pods_with_affinity()
            else:
                holders = [info for info in snapshot_nodes if info.pods_with_affinity]
        else:
            holders = [info for info in snapshot_nodes if info.pods]
        if not holders:
            return SKIP
        ns_labels = self.namespace_labels
        scores: dict[tuple[str, str], int] = {}

        def add(term: AffinityTerm, info: NodeInfo, weight: int) -> None:
            value = info.labels.get(term.topology_key)
            if value is not None:
                pair = (term.topology_key, value)
                scores[pair] = scores.get(pair, 0) + weight

        for info in holders:
            existing_pods = info.pods if (preferred or preferred_anti) else info.pods_with_affinity
            for existing in existing_pods:
                for term in preferred:
                    if term.matches(existing, ns_labels):
                        add(term, info, term.weight)
                for term in preferred_anti:
                    if term.matches(existing, ns_labels):
                        add(term, info, -term.weight)
                if not has_affinity(existing):
                    continue
                for term in _terms(existing, "podAffinity", True):
                    if term.matches(pod, ns_labels):
                        add(term, info, HARD_POD_AFFINITY_WEIGHT)
                for term in _terms(existing, "podAffinity", False):
                    if term.matches(pod, ns_labels):
                        add(term, info, term.weight)
                for term in _terms(existing, "podAntiAffinity", False):
                    if term.matches(pod, ns_labels):
                        add(term, info, -term.weight)
        if not scores:
            return SKIP
        state[_SCORE_KEY] = scores
        return SUCCESS

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        scores: dict[tuple[str, str], int] = state[_SCORE_KEY]
        return sum(scores.get(pair, 0) for pair in node.labels.items())

    def normalize_scores(self, state: CycleState, pod: Obj, scores: list[int]) -> None:
        if not scores:
            return
        lowest, highest = min(scores), max(scores)
        spread = highest - lowest
        for index, score in enumerate(scores):
            scores[index] = int(MAX_NODE_SCORE * ((score - lowest) / spread)) if spread > 0 else 0
