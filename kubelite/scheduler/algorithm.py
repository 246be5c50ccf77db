"""One scheduling cycle over a Snapshot, as upstream's schedulePod: PreFilter, Filter over a rotating
share of the nodes (numFeasibleNodesToFind), PreScore/Score with the default weights, normalize, and
a random pick among the best. Must NOT bind, queue, retry, or touch the API; the caller assumes the
pod into the snapshot and binds it.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubelite.scheduler.framework import (
    SNAPSHOT_KEY,
    Code,
    CycleState,
    FilterPlugin,
    FitError,
    NodeInfo,
    Obj,
    PostFilterPlugin,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
    Snapshot,
    Status,
)
from kubelite.scheduler.plugins.interpodaffinity import InterPodAffinity
from kubelite.scheduler.plugins.nodeaffinity import NodeAffinity
from kubelite.scheduler.plugins.nodename import NodeName
from kubelite.scheduler.plugins.nodeports import NodePorts
from kubelite.scheduler.plugins.noderesources import NodeResourcesBalancedAllocation, NodeResourcesFit
from kubelite.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from kubelite.scheduler.plugins.podtopologyspread import PodTopologySpread
from kubelite.scheduler.plugins.tainttoleration import TaintToleration

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE = 50
MEMO_ENTRIES_PER_NODE = 16  # remembered scores per node (pod shapes x plugins) until it changes
MEMO_IDS = 4096  # distinct (plugin, pod shape) ids before they are forgotten


class SchedulerError(Exception):
    """A plugin answered Error: the cycle failed for a reason other than the pod not fitting."""


def num_feasible_nodes_to_find(num_all_nodes: int, percentage_of_nodes_to_score: int = 0) -> int:
    """upstream numFeasibleNodesToFind: all nodes below 100; otherwise a share that shrinks as the
    cluster grows (50% - nodes/125, at least 5%) unless a percentage is configured, never under 100."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    percentage = percentage_of_nodes_to_score
    if percentage <= 0:
        percentage = DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE - num_all_nodes // 125
        percentage = max(percentage, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    if percentage >= 100:
        return num_all_nodes
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


@dataclass
class Profile:
    """The plugins of one scheduler profile, in run order, and the score weights."""

    pre_filters: Sequence[PreFilterPlugin]
    filters: Sequence[FilterPlugin]
    pre_scores: Sequence[PreScorePlugin]
    scores: Sequence[tuple[ScorePlugin, int]]
    post_filters: Sequence[PostFilterPlugin] = field(default_factory=list)


def default_profile(
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    post_filters: Sequence[PostFilterPlugin] = (),
    volume_binding: Any = None,
) -> Profile:
    """upstream's default plugins (those implemented here), order and weights. `volume_binding`
    (a VolumeBinding, which needs a client) joins PreFilter and Filter where upstream runs it."""
    unschedulable, node_name, taints = NodeUnschedulable(), NodeName(), TaintToleration()
    affinity, ports, fit = NodeAffinity(), NodePorts(), NodeResourcesFit()
    spread, pod_affinity = PodTopologySpread(), InterPodAffinity(namespace_labels)
    balanced = NodeResourcesBalancedAllocation()
    volumes = [volume_binding] if volume_binding is not None else []
    return Profile(
        pre_filters=[affinity, ports, fit, *volumes, spread, pod_affinity],
        filters=[unschedulable, node_name, taints, affinity, ports, fit, *volumes, spread, pod_affinity],
        pre_scores=[taints, affinity, fit, spread, pod_affinity, balanced],
        scores=[(taints, 3), (affinity, 2), (fit, 1), (spread, 2), (pod_affinity, 2), (balanced, 1)],
        post_filters=list(post_filters),
    )


@dataclass
class ScheduleResult:
    suggested_host: str
    evaluated_nodes: int
    feasible_nodes: int
    state: CycleState | None = None  # the cycle's plugin state (Reserve / PreBind read it)


class Scheduler:
    """Runs cycles; keeps only the rotating start offset between them (as upstream's
    nextStartNodeIndex). `rng` breaks ties between equally scored nodes."""

    def __init__(
        self,
        profile: Profile | None = None,
        rng: random.Random | None = None,
        percentage_of_nodes_to_score: int = 0,
    ):
        self.profile = profile or default_profile()
        self.rng = rng or random.Random()
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.next_start_node_index = 0
        self._memo_ids: dict[tuple[str, Hashable], int] = {}
        self._next_memo_id = 0

    def _pre_filter(
        self, state: CycleState, pod: Obj, snapshot: Snapshot
    ) -> tuple[list[FilterPlugin], Status]:
        skipped: set[str] = set()
        for plugin in self.profile.pre_filters:
            status = plugin.pre_filter(state, pod, snapshot)
            if status.code == Code.SKIP:
                skipped.add(plugin.name)
            elif status.code == Code.ERROR:
                raise SchedulerError(f"running PreFilter plugin {plugin.name!r}: {status.message()}")
            elif not status.is_success():
                return [], status.with_plugin(plugin.name)
        return [p for p in self.profile.filters if p.name not in skipped], Status()

    @staticmethod
    def _filter(
        state: CycleState, pod: Obj, node: NodeInfo, filters: Sequence[FilterPlugin]
    ) -> Status | None:
        for plugin in filters:
            status = plugin.filter(state, pod, node)
            if status.code != Code.SUCCESS:
                if status.code == Code.ERROR:
                    raise SchedulerError(f"running Filter plugin {plugin.name!r}: {status.message()}")
                return status
        return None

    def pod_fits_on_node(self, pod: Obj, snapshot: Snapshot, node: NodeInfo) -> Status:
        """PreFilter over `snapshot`, then every Filter on `node` (preemption's what-if check)."""
        state = CycleState({SNAPSHOT_KEY: snapshot})
        filters, status = self._pre_filter(state, pod, snapshot)
        if not status.is_success():
            return status
        return self._filter(state, pod, node, filters) or Status()

    def schedule(self, pod: Obj, snapshot: Snapshot) -> ScheduleResult:
        """Pick a node for `pod`, or raise FitError (after running PostFilter, e.g. preemption, whose
        result is left on the error)."""
        nodes = snapshot.node_infos
        total = len(nodes)
        if total == 0:
            raise FitError(pod, 0, {})
        state = CycleState({SNAPSHOT_KEY: snapshot})
        filters, status = self._pre_filter(state, pod, snapshot)
        if not status.is_success():
            statuses = {info.name: status for info in nodes}
            raise self._post_filter(
                FitError(pod, total, statuses, pre_filter_msg=status.message()), state, snapshot
            )
        wanted = num_feasible_nodes_to_find(total, self.percentage_of_nodes_to_score)
        batched = [p for p in filters if hasattr(p, "filter_batch")]
        per_node = [p for p in filters if not hasattr(p, "filter_batch")]
        feasible: list[NodeInfo] = []
        statuses = {}
        start = self.next_start_node_index % total
        order = nodes[start:] + nodes[:start] if start else nodes
        processed = 0
        while processed < total and len(feasible) < wanted:
            chunk = order[processed : processed + wanted - len(feasible)]
            passed: list[NodeInfo] = chunk
            for plugin in batched:
                passed = plugin.filter_batch(state, pod, passed)  # type: ignore[attr-defined]
            if not per_node and len(passed) == len(chunk):
                feasible.extend(chunk)
                processed += len(chunk)
                continue
            survivors = {id(node) for node in passed}
            for node in chunk:
                processed += 1
                if id(node) in survivors:
                    rejection = self._filter(state, pod, node, per_node)
                else:
                    rejection = self._filter(state, pod, node, filters)
                if rejection is None:
                    feasible.append(node)
                    if len(feasible) >= wanted:
                        break
                else:
                    statuses[node.name] = rejection
        self.next_start_node_index = (start + processed) % total
        if not feasible:
            raise self._post_filter(FitError(pod, total, statuses), state, snapshot)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, processed, 1, state)
        totals = self._score(state, pod, feasible)
        return ScheduleResult(self._select_host(feasible, totals), processed, len(feasible), state)

    def _post_filter(self, error: FitError, state: CycleState, snapshot: Snapshot) -> FitError:
        for plugin in self.profile.post_filters:
            result, status = plugin.post_filter(
                state, error.pod, snapshot, error.node_to_status, self.pod_fits_on_node
            )
            if status.is_success():
                error.post_filter_result = result
                break
            if status.reasons:
                error.post_filter_msg = status.message()
        return error

    def _score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> list[int]:
        totals = [0] * len(nodes)
        active = {p.name for p in self.profile.pre_scores if p.pre_score(state, pod, nodes).code != Code.SKIP}
        for plugin, weight in self.profile.scores:
            if plugin.name not in active:
                continue
            memo_key = plugin.score_memo_key(state, pod) if hasattr(plugin, "score_memo_key") else None
            if memo_key is None:
                scores = self._raw_scores(plugin, state, pod, nodes)
            else:
                scores = self._remembered_scores(plugin, self._memo_id(plugin.name, memo_key), state, pod, nodes)
            plugin.normalize_scores(state, pod, scores)
            for index, value in enumerate(scores):
                totals[index] += value * weight
        return totals

    @staticmethod
    def _raw_scores(plugin: ScorePlugin, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> list[int]:
        if hasattr(plugin, "score_batch"):
            return list(plugin.score_batch(state, pod, nodes))
        score = plugin.score
        return [score(state, pod, node) for node in nodes]

    def _memo_id(self, plugin_name: str, memo_key: Hashable) -> int:
        """A small int standing for (plugin, key): ints hash at once, nested tuples every time."""
        ids = self._memo_ids
        found = ids.get((plugin_name, memo_key))
        if found is None:
            if len(ids) >= MEMO_IDS:
                ids.clear()  # memos under forgotten ids simply miss (their ids are never reused)
            found = ids[(plugin_name, memo_key)] = self._next_memo_id
            self._next_memo_id += 1
        return found

    def _remembered_scores(
        self, plugin: ScorePlugin, key: int, state: CycleState, pod: Obj, nodes: list[NodeInfo]
    ) -> list[int]:
        """Scores from each node's memo (see MemoScorePlugin), computing only the missing ones."""
        scores = [node.score_memo.get(key, -1) for node in nodes]
        missing = [index for index, score in enumerate(scores) if score < 0]
        if missing:
            computed = self._raw_scores(plugin, state, pod, [nodes[index] for index in missing])
            for index, score in zip(missing, computed, strict=True):
                scores[index] = score
                memo = nodes[index].score_memo
                if len(memo) < MEMO_ENTRIES_PER_NODE:
                    memo[key] = score
        return scores

    def _select_host(self, nodes: list[NodeInfo], totals: list[int]) -> str:
        """The highest total; ties broken uniformly at random (as upstream's reservoir sampling)."""
        best = max(totals)
        ties = [index for index, total in enumerate(totals) if total == best]
        if len(ties) == 1:
            return nodes[ties[0]].name
        return nodes[ties[self.rng.randrange(len(ties))]].name
