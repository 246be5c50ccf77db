"""Which pods a ReplicaSet deletes first when scaling down, as upstream's ActivePodsWithRanks
(LogarithmicScaleDown and PodDeletionCost on, as in 1.33): unscheduled < scheduled; Pending <
Unknown < Running; not ready < ready; lower pod-deletion-cost first; more related pods on the same
node first; ready for less time first; more restarts first; newer first (times compared on a
log2 scale, ties broken by uid).

Must not delete anything: it only orders pods.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from typing import Any

from kubelite.controllers.podutil import creation_time, is_active, is_ready, ready_since

Obj = dict[str, Any]

DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def _node(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _deletion_cost(pod: Obj) -> int:
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(DELETION_COST_ANNOTATION)
    if text is None:
        return 0
    try:
        value = int(text)
    except ValueError:
        return 0
    return value if -(2**31) <= value < 2**31 else 0


def _max_restarts(pod: Obj) -> tuple[int, int]:
    status = pod.get("status") or {}
    regular = max((s.get("restartCount") or 0 for s in status.get("containerStatuses") or ()), default=0)
    sidecar = max((s.get("restartCount") or 0 for s in status.get("initContainerStatuses") or ()), default=0)
    return regular, sidecar


def _log_rank(moment: float, now: float) -> int:
    nanos = (now - moment) * 1e9
    return int(math.log2(nanos)) if nanos > 0 else -1


def _uid(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid") or "")


def _compare_times(t1: float, t2: float, pod1: Obj, pod2: Obj, now: float) -> int:
    """Negative when pod1 (at t1) goes first: zero time first, then the later time (log scale)."""
    if not t1 or not t2 or not now:
        if not t1 or not t2:
            return -1 if not t1 else 1
        return -1 if t1 > t2 else 1
    diff = _log_rank(t1, now) - _log_rank(t2, now)
    if diff == 0:
        return -1 if _uid(pod1) < _uid(pod2) else (1 if _uid(pod1) > _uid(pod2) else 0)
    return -1 if diff < 0 else 1


def _compare(a: tuple[Obj, int], b: tuple[Obj, int], now: float) -> int:
    pod1, rank1 = a
    pod2, rank2 = b
    node1, node2 = _node(pod1), _node(pod2)
    if node1 != node2 and (not node1 or not node2):
        return -1 if not node1 else 1
    phase1 = _PHASE_ORDER.get((pod1.get("status") or {}).get("phase") or "", 0)
    phase2 = _PHASE_ORDER.get((pod2.get("status") or {}).get("phase") or "", 0)
    if phase1 != phase2:
        return -1 if phase1 < phase2 else 1
    ready1, ready2 = is_ready(pod1), is_ready(pod2)
    if ready1 != ready2:
        return -1 if not ready1 else 1
    cost1, cost2 = _deletion_cost(pod1), _deletion_cost(pod2)
    if cost1 != cost2:
        return -1 if cost1 < cost2 else 1
    if rank1 != rank2:
        return -1 if rank1 > rank2 else 1
    if ready1 and ready2:
        since1, since2 = ready_since(pod1), ready_since(pod2)
        if since1 != since2:
            return _compare_times(since1, since2, pod1, pod2, now)
    restarts1, restarts2 = _max_restarts(pod1), _max_restarts(pod2)
    for r1, r2 in zip(restarts1, restarts2, strict=True):
        if r1 != r2:
            return -1 if r1 > r2 else 1
    created1, created2 = creation_time(pod1), creation_time(pod2)
    if created1 != created2:
        return _compare_times(created1, created2, pod1, pod2, now)
    return 0


def pods_to_delete(pods: list[Obj], related: list[Obj], count: int, now: float) -> list[Obj]:
    """The `count` pods to delete first; `related` are the active pods of every ReplicaSet with the
    same controller (their count per node is each candidate's rank)."""
    if count >= len(pods):
        return list(pods)
    on_node = Counter(_node(pod) for pod in related if is_active(pod))
    ranked = [(pod, on_node[_node(pod)]) for pod in pods]
    ranked.sort(key=functools.cmp_to_key(functools.partial(_compare, now=now)))
    return [pod for pod, _rank in ranked[:count]]
