"""Taints and tolerations as upstream's core/v1 helpers: whether a toleration tolerates a taint,
which tolerations a pod uses against a set of taints (GetMatchingTolerations) and for how long,
the taint keys the node lifecycle controller owns, and replacing a node's taints by key and effect.

Must not read or write anything: pure functions over plain JSON-shaped dicts, never mutating their
arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Obj = dict[str, Any]

NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
PID_PRESSURE = "node.kubernetes.io/pid-pressure"
NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"

# node condition type -> {condition status -> NoSchedule taint key} (upstream nodeConditionToTaintKeyStatusMap)
CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": NOT_READY, "Unknown": UNREACHABLE},
    "MemoryPressure": {"True": MEMORY_PRESSURE},
    "DiskPressure": {"True": DISK_PRESSURE},
    "NetworkUnavailable": {"True": NETWORK_UNAVAILABLE},
    "PIDPressure": {"True": PID_PRESSURE},
}
CONDITION_TAINT_KEYS = frozenset(key for by_status in CONDITION_TAINTS.values() for key in by_status.values())


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """upstream Toleration.ToleratesTaint: empty effect or key match any; Exists ignores the value."""
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key")
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def matching_tolerations(
    taints: Sequence[Mapping[str, Any]], tolerations: Sequence[Mapping[str, Any]]
) -> tuple[bool, list[Mapping[str, Any]]]:
    """upstream GetMatchingTolerations: (every taint tolerated, the first toleration used for each
    taint, in taint order); ([] when not all are tolerated)."""
    used: list[Mapping[str, Any]] = []
    for taint in taints:
        match = next((toleration for toleration in tolerations if tolerates(toleration, taint)), None)
        if match is None:
            return False, []
        used.append(match)
    return True, used


def toleration_seconds(toleration: Mapping[str, Any]) -> float | None:
    """How long a toleration tolerates (None: forever; negative values count as 0)."""
    seconds = toleration.get("tolerationSeconds")
    if seconds is None:
        return None
    return max(float(seconds), 0.0)


def effect_taints(taints: Iterable[Mapping[str, Any]] | None, effect: str) -> list[Obj]:
    return [dict(taint) for taint in taints or () if taint.get("effect") == effect]


def same_taint(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """upstream Taint.MatchTaint: the same key and effect."""
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


def has_taint(taints: Iterable[Mapping[str, Any]] | None, key: str, effect: str) -> bool:
    return any(taint.get("key") == key and taint.get("effect") == effect for taint in taints or ())


def reconcile_taints(
    taints: Sequence[Mapping[str, Any]] | None,
    owned: frozenset[tuple[str, str]],
    wanted: Iterable[tuple[str, str]],
    time_added: str,
) -> list[Obj]:
    """The node's taints with those of `owned` (key, effect) pairs made equal to `wanted`: a wanted
    taint already there is kept as it is (with its timeAdded), a missing one is appended with
    timeAdded, an owned one no longer wanted is dropped; taints not owned are never touched."""
    wanted_set = set(wanted)
    kept: list[Obj] = []
    present: set[tuple[str, str]] = set()
    for taint in taints or ():
        pair = (str(taint.get("key", "")), str(taint.get("effect", "")))
        if pair in owned and pair not in wanted_set:
            continue
        present.add(pair)
        kept.append(dict(taint))
    for key, effect in sorted(wanted_set - present):
        kept.append({"key": key, "effect": effect, "timeAdded": time_added})
    return kept
