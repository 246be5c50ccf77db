"""NodeResourcesFit (the pod's requests against the node's allocatable minus what its pods request,
scored LeastAllocated) and NodeResourcesBalancedAllocation (scores nodes whose cpu and memory
fractions stay close). Must NOT read live usage: only declared requests count, as upstream."""

from __future__ import annotations

from collections.abc import Hashable
from math import sqrt

from kubelite.scheduler.framework import (
    CPU,
    MAX_NODE_SCORE,
    MEMORY,
    PODS,
    SKIP,
    SUCCESS,
    Code,
    CycleState,
    NodeInfo,
    Obj,
    Snapshot,
    Status,
    pod_requests,
)

TOO_MANY_PODS = "Too many pods"
_FIT_KEY = "PreFilterNodeResourcesFit"
_SCORE_KEY = "PreScoreNodeResourcesFit"
_BALANCED_KEY = "PreScoreNodeResourcesBalancedAllocation"
# upstream's default scoring resources: cpu and memory, weight 1 each.
SCORED_RESOURCES = ((CPU, 1), (MEMORY, 1))  # the batch paths assume exactly these
_PREPARED = frozenset({CPU, MEMORY, PODS})  # resources NodeInfo mirrors as ints
_NO_NEED = -(1 << 62)


def insufficient(requests: dict[str, int], node: NodeInfo) -> list[tuple[str, bool]]:
    """(reason, unresolvable) for every resource the node lacks; unresolvable when the request alone
    exceeds what the node can ever offer (preemption cannot help)."""
    found: list[tuple[str, bool]] = []
    allowed_pods = node.allocatable.get(PODS, 0)
    if len(node.pods) + 1 > allowed_pods:
        found.append((TOO_MANY_PODS, False))
    allocatable = node.allocatable
    requested = node.requested
    for resource, amount in requests.items():
        if amount <= 0 or resource == PODS:
            continue
        capacity = allocatable.get(resource, 0)
        if amount > capacity - requested.get(resource, 0):
            found.append((f"Insufficient {resource}", amount > capacity))
    return found


class NodeResourcesFit:
    name = "NodeResourcesFit"

    def pre_filter(self, state: CycleState, pod: Obj, snapshot: Snapshot) -> Status:
        state[_FIT_KEY] = pod_requests(pod)
        return SUCCESS

    def filter(self, state: CycleState, pod: Obj, node: NodeInfo) -> Status:
        requests = state.get(_FIT_KEY)
        if requests is None:
            requests = state[_FIT_KEY] = pod_requests(pod)
        lacking = insufficient(requests, node)
        if not lacking:
            return SUCCESS
        code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if any(u for _, u in lacking) else Code.UNSCHEDULABLE
        return Status(code, *(reason for reason, _ in lacking), plugin=self.name)

    def filter_batch(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> list[NodeInfo]:
        requests = state.get(_FIT_KEY)
        if requests is None:
            requests = state[_FIT_KEY] = pod_requests(pod)
        if any(amount > 0 for resource, amount in requests.items() if resource not in _PREPARED):
            return [node for node in nodes if not insufficient(requests, node)]
        # a resource not requested always fits: compare against a need no node can fall below
        cpu = requests.get(CPU, 0) if requests.get(CPU, 0) > 0 else _NO_NEED
        memory = requests.get(MEMORY, 0) if requests.get(MEMORY, 0) > 0 else _NO_NEED
        return [
            node
            for node in nodes
            if node.free_pods > 0 and cpu <= node.free_cpu and memory <= node.free_memory
        ]

    def pre_score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status:
        state[_SCORE_KEY] = pod_requests(pod, non_zero=True)
        return SUCCESS

    def score_memo_key(self, state: CycleState, pod: Obj) -> Hashable:
        requests = state[_SCORE_KEY]
        return tuple(requests.get(resource, 0) for resource, _ in SCORED_RESOURCES)

    def score_batch(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> list[int]:
        """`score` for the default cpu and memory weights of 1, over prepared ints."""
        requests = state[_SCORE_KEY]
        cpu = requests.get(CPU, 0)
        memory = requests.get(MEMORY, 0)
        scores: list[int] = []
        append = scores.append
        for node in nodes:
            cpu_cap = node.alloc_cpu
            memory_cap = node.alloc_memory
            if not cpu_cap or not memory_cap:
                append(self.score(state, pod, node))
                continue
            cpu_used = node.non_zero_cpu + cpu
            memory_used = node.non_zero_memory + memory
            cpu_free = 0 if cpu_used > cpu_cap else (cpu_cap - cpu_used) * MAX_NODE_SCORE // cpu_cap
            memory_free = 0 if memory_used > memory_cap else (memory_cap - memory_used) * MAX_NODE_SCORE // memory_cap
            append((cpu_free + memory_free) // 2)
        return scores

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        """LeastAllocated: the share of each resource left free after the pod, weighted."""
        requests = state[_SCORE_KEY]
        total = weights = 0
        for resource, weight in SCORED_RESOURCES:
            capacity = node.allocatable.get(resource, 0)
            if capacity == 0:
                continue
            used = node.non_zero_requested[resource] + requests.get(resource, 0)
            free_share = 0 if used > capacity else (capacity - used) * MAX_NODE_SCORE // capacity
            total += free_share * weight
            weights += weight
        return total // weights if weights else 0

    def normalize_scores(self, state: CycleState, pod: Obj, scores: list[int]) -> None:
        return None


class NodeResourcesBalancedAllocation:
    name = "NodeResourcesBalancedAllocation"

    def pre_score(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> Status:
        requests = pod_requests(pod)
        if not any(requests.get(resource, 0) for resource, _ in SCORED_RESOURCES):
            return SKIP  # a best-effort pod does not change any node's balance
        state[_BALANCED_KEY] = requests
        return SUCCESS

    def score_memo_key(self, state: CycleState, pod: Obj) -> Hashable:
        requests = state[_BALANCED_KEY]
        return tuple(requests.get(resource, 0) for resource, _ in SCORED_RESOURCES)

    def score_batch(self, state: CycleState, pod: Obj, nodes: list[NodeInfo]) -> list[int]:
        """`score` for cpu and memory, over prepared ints."""
        requests = state[_BALANCED_KEY]
        cpu = requests.get(CPU, 0)
        memory = requests.get(MEMORY, 0)
        scores: list[int] = []
        append = scores.append
        for node in nodes:
            cpu_cap = node.alloc_cpu
            memory_cap = node.alloc_memory
            if not cpu_cap or not memory_cap:
                append(self.score(state, pod, node))
                continue
            cpu_share = min((node.req_cpu + cpu) / cpu_cap, 1.0)
            memory_share = min((node.req_memory + memory) / memory_cap, 1.0)
            append(int((1 - abs(cpu_share - memory_share) / 2) * MAX_NODE_SCORE))
        return scores

    def score(self, state: CycleState, pod: Obj, node: NodeInfo) -> int:
        requests = state[_BALANCED_KEY]
        fractions = []
        for resource, _ in SCORED_RESOURCES:
            capacity = node.allocatable.get(resource, 0)
            if capacity == 0:
                continue
            used = node.requested.get(resource, 0) + requests.get(resource, 0)
            fractions.append(min(used / capacity, 1.0))
        if len(fractions) == 2:
            deviation = abs(fractions[0] - fractions[1]) / 2
        elif len(fractions) > 2:
            mean = sum(fractions) / len(fractions)
            deviation = sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
        else:
            deviation = 0.0
        return int((1 - deviation) * MAX_NODE_SCORE)

    def normalize_scores(self, state: CycleState, pod: Obj, scores: list[int]) -> None:
        return None
