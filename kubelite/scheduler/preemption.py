"""DefaultPreemption's candidate search (upstream pkg/scheduler/framework/preemption and
plugins/defaultpreemption): which node to free, and which lower-priority pods to evict there, so an
unschedulable pod fits. Pure: must NOT evict, patch nominatedNodeName or wait for victims to go; the
caller acts on the returned PostFilterResult.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kubelite.api.labels import LabelSelector, LabelSelectorError, selector_from_spec
from kubelite.scheduler.framework import (
    Code,
    CycleState,
    FitError,
    NodeInfo,
    Obj,
    PodFitsOnNode,
    PostFilterResult,
    Snapshot,
    Status,
    pod_priority,
)

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NEVER = "not eligible due to preemptionPolicy=Never."
_LATEST = "~"  # sorts after every RFC 3339 time: a pod that has not started counts as starting now
_PRIORITY_OFFSET = 1 << 31  # upstream adds MaxInt32+1 so negative priorities sum sensibly


@dataclass
class Candidate:
    node_name: str
    victims: list[Obj]  # most important first
    num_pdb_violations: int


def _start_time(pod: Obj) -> str:
    return (pod.get("status") or {}).get("startTime") or _LATEST


def _importance_key(pod: Obj) -> tuple[int, str]:
    """Sorts more important pods first: higher priority, then earlier start (upstream MoreImportantPod)."""
    return (-pod_priority(pod), _start_time(pod))


def split_by_pdb_violation(pods: Sequence[Obj], pdbs: Sequence[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(would violate a PodDisruptionBudget if evicted, would not), each keeping `pods`' order;
    each PDB's disruptionsAllowed is spent as pods are taken in order."""
    allowed = [int((pdb.get("status") or {}).get("disruptionsAllowed") or 0) for pdb in pdbs]
    selectors: list[LabelSelector | None] = []
    for pdb in pdbs:
        try:
            selectors.append(selector_from_spec((pdb.get("spec") or {}).get("selector")))
        except (LabelSelectorError, AttributeError, TypeError):
            selectors.append(None)
    violating: list[Obj] = []
    fine: list[Obj] = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        violated = False
        for index, pdb in enumerate(pdbs):
            pdb_meta = pdb.get("metadata") or {}
            selector = selectors[index]
            if pdb_meta.get("namespace") != meta.get("namespace") or selector is None:
                continue
            if selector.is_empty or not selector.matches(meta.get("labels") or {}):
                continue
            if meta.get("name") in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                continue  # already counted by the disruption controller
            allowed[index] -= 1
            if allowed[index] < 0:
                violated = True
        (violating if violated else fine).append(pod)
    return violating, fine


def select_victims_on_node(
    pod: Obj, snapshot: Snapshot, node: NodeInfo, fits: PodFitsOnNode, pdbs: Sequence[Obj] = ()
) -> tuple[list[Obj], int, Status]:
    """upstream SelectVictimsOnNode: remove every lower-priority pod; if the pod then fits, put back
    (reprieve) as many as possible, most important first, PDB-protected ones before the others.
    Returns (victims, how many of them violate a PDB, status)."""
    priority = pod_priority(pod)
    potential = sorted((p for p in node.pods if pod_priority(p) < priority), key=_importance_key)
    if not potential:
        return [], 0, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, NO_VICTIMS)
    trial = node.clone()
    for victim in potential:
        trial.remove_pod(victim)
    what_if = snapshot.with_node(trial)
    status = fits(pod, what_if, trial)
    if not status.is_success():
        return [], 0, status
    violating, fine = split_by_pdb_violation(potential, pdbs)
    victims: list[Obj] = []
    num_violations = 0
    for group, counts_violation in ((violating, True), (fine, False)):
        for candidate in group:
            trial.add_pod(candidate)
            if not fits(pod, what_if, trial).is_success():
                trial.remove_pod(candidate)
                victims.append(candidate)
                num_violations += counts_violation
    victims.sort(key=_importance_key)
    return victims, num_violations, Status()


def pick_one_node(candidates: Sequence[Candidate]) -> Candidate:
    """upstream pickOneNodeForPreemption: a node needing no victims; else fewest PDB violations,
    lowest highest-victim priority, lowest priority sum, fewest victims, latest start among the
    highest-priority victims; else the first."""
    for candidate in candidates:
        if not candidate.victims:
            return candidate

    def highest_priority(c: Candidate) -> int:
        return pod_priority(c.victims[0])

    def earliest_top_start(c: Candidate) -> str:
        top = highest_priority(c)
        return min(_start_time(v) for v in c.victims if pod_priority(v) == top)

    remaining = list(candidates)
    criteria = (
        lambda c: c.num_pdb_violations,
        highest_priority,
        lambda c: sum(pod_priority(v) + _PRIORITY_OFFSET for v in c.victims),
        lambda c: len(c.victims),
    )
    for criterion in criteria:
        best = min(criterion(c) for c in remaining)
        remaining = [c for c in remaining if criterion(c) == best]
        if len(remaining) == 1:
            return remaining[0]
    latest = max(earliest_top_start(c) for c in remaining)
    return next(c for c in remaining if earliest_top_start(c) == latest)


class DefaultPreemption:
    """The PostFilter plugin. `pdbs` are the cluster's PodDisruptionBudgets (with status)."""

    name = "DefaultPreemption"

    def __init__(self, pdbs: Sequence[Obj] = ()):
        self.pdbs = list(pdbs)

    def find_candidates(
        self, pod: Obj, snapshot: Snapshot, statuses: Mapping[str, Status], fits: PodFitsOnNode
    ) -> tuple[list[Candidate], dict[str, Status]]:
        candidates: list[Candidate] = []
        node_statuses: dict[str, Status] = {}
        for node in snapshot.node_infos:
            previous = statuses.get(node.name)
            if previous is not None and previous.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                node_statuses[node.name] = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, NOT_HELPFUL)
                continue
            victims, violations, status = select_victims_on_node(pod, snapshot, node, fits, self.pdbs)
            if status.is_success():
                candidates.append(Candidate(node.name, victims, violations))
            else:
                node_statuses[node.name] = status
        return candidates, node_statuses

    def post_filter(
        self,
        state: CycleState,
        pod: Obj,
        snapshot: Snapshot,
        statuses: Mapping[str, Status],
        fits: PodFitsOnNode,
    ) -> tuple[PostFilterResult | None, Status]:
        if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
            return None, Status(Code.UNSCHEDULABLE, "preemption: " + NEVER, plugin=self.name)
        candidates, node_statuses = self.find_candidates(pod, snapshot, statuses, fits)
        if not candidates:
            message = str(FitError(pod, len(node_statuses), node_statuses))
            return PostFilterResult("", []), Status(
                Code.UNSCHEDULABLE, "preemption: " + message, plugin=self.name
            )
        best = pick_one_node(candidates)
        return PostFilterResult(best.node_name, best.victims), Status(plugin=self.name)
