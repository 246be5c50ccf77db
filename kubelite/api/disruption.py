"""What the eviction subresource and the disruption controllers agree on (upstream's podutil,
apimeta and component-helpers/apps/poddisruptionbudget): pod readiness, updating one pod condition
as UpdatePodCondition does, the DisruptionTarget condition, which PodDisruptionBudgets select a
pod, and the DisruptionAllowed condition of a budget's status.

Must not read or write anything: pure functions over plain JSON-shaped dicts. Functions that
"update" mutate only the dict they are given to update, never anything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubelite.api.labels import LabelSelectorError, selector_from_spec

Obj = dict[str, Any]

DISRUPTION_TARGET = "DisruptionTarget"
DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"
DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
ALWAYS_ALLOW = "AlwaysAllow"
IF_HEALTHY_BUDGET = "IfHealthyBudget"
TERMINAL_PHASES = ("Succeeded", "Failed")


# ---------------------------------------------------------------------------------------------- pods
def pod_condition(pod: Mapping[str, Any], kind: str) -> Obj | None:
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == kind:
            return condition  # type: ignore[no-any-return]
    return None


def pod_is_ready(pod: Mapping[str, Any]) -> bool:
    """upstream IsPodReady: the Ready condition is True."""
    condition = pod_condition(pod, "Ready")
    return condition is not None and condition.get("status") == "True"


def set_pod_condition(status: Obj, condition: Mapping[str, Any], now: str) -> bool:
    """upstream UpdatePodCondition on `status` (mutated): add or replace the condition of its type,
    lastTransitionTime now unless the status stays the same; True when anything changed."""
    new: Obj = {"type": condition["type"], "status": condition["status"]}
    new["lastProbeTime"] = condition.get("lastProbeTime")
    new["lastTransitionTime"] = now
    for field in ("reason", "message"):
        if condition.get(field):
            new[field] = condition[field]
    conditions: list[Obj] = list(status.get("conditions") or [])
    for index, old in enumerate(conditions):
        if old.get("type") != new["type"]:
            continue
        if old.get("status") == new["status"]:
            new["lastTransitionTime"] = old.get("lastTransitionTime")
        unchanged = all(
            (old.get(field) or None) == (new.get(field) or None)
            for field in ("status", "reason", "message", "lastProbeTime", "lastTransitionTime")
        )
        conditions[index] = new
        status["conditions"] = conditions
        return not unchanged
    conditions.append(new)
    status["conditions"] = conditions
    return True


def disruption_target(reason: str, message: str) -> Obj:
    """The DisruptionTarget=True condition a pod gets before a disruptive deletion."""
    return {"type": DISRUPTION_TARGET, "status": "True", "reason": reason, "message": message}


# ---------------------------------------------------------------------------------------------- budgets
def budget_selects(pdb: Mapping[str, Any], labels: Mapping[str, str] | None) -> bool:
    """Whether a policy/v1 budget's selector matches the labels: a missing selector matches
    nothing, an empty one everything, an invalid one nothing."""
    try:
        selector = selector_from_spec((pdb.get("spec") or {}).get("selector"))
    except LabelSelectorError:
        return False
    return selector.matches(labels or {})


def budgets_for_pod(pdbs: Iterable[Mapping[str, Any]], pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The budgets of the pod's namespace selecting it (in the order given)."""
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    labels = meta.get("labels") or {}
    return [
        pdb
        for pdb in pdbs
        if ((pdb.get("metadata") or {}).get("namespace") or "") == namespace and budget_selects(pdb, labels)
    ]


def set_status_condition(conditions: list[Obj], condition: Mapping[str, Any], now: str) -> None:
    """apimeta.SetStatusCondition on `conditions` (mutated): lastTransitionTime moves only when the
    status changes (or the condition is new); reason, message and observedGeneration follow."""
    for existing in conditions:
        if existing.get("type") != condition["type"]:
            continue
        if existing.get("status") != condition["status"]:
            existing["status"] = condition["status"]
            existing["lastTransitionTime"] = now
        existing["reason"] = condition.get("reason", "")
        existing["message"] = condition.get("message", "")
        if condition.get("observedGeneration"):
            existing["observedGeneration"] = condition["observedGeneration"]
        else:
            existing.pop("observedGeneration", None)
        return
    new: Obj = {
        "type": condition["type"],
        "status": condition["status"],
        "lastTransitionTime": now,
        "reason": condition.get("reason", ""),
        "message": condition.get("message", ""),
    }
    if condition.get("observedGeneration"):
        new["observedGeneration"] = condition["observedGeneration"]
    conditions.append(new)


def update_disruption_allowed_condition(status: Obj, now: str) -> None:
    """upstream UpdateDisruptionAllowedCondition on a budget's `status` (mutated)."""
    allowed = int(status.get("disruptionsAllowed") or 0) > 0
    conditions: list[Obj] = [dict(c) for c in status.get("conditions") or []]
    set_status_condition(
        conditions,
        {
            "type": DISRUPTION_ALLOWED,
            "status": "True" if allowed else "False",
            "reason": SUFFICIENT_PODS if allowed else INSUFFICIENT_PODS,
            "message": "",
            "observedGeneration": status.get("observedGeneration") or 0,
        },
        now,
    )
    status["conditions"] = conditions


def disruption_conditions_up_to_date(pdb: Mapping[str, Any]) -> bool:
    """upstream ConditionsAreUpToDate."""
    status = pdb.get("status") or {}
    condition = next((c for c in status.get("conditions") or () if c.get("type") == DISRUPTION_ALLOWED), None)
    if condition is None:
        return False
    if (status.get("observedGeneration") or 0) != ((pdb.get("metadata") or {}).get("generation") or 0):
        return False
    if int(status.get("disruptionsAllowed") or 0) > 0:
        return condition.get("status") == "True" and condition.get("reason") == SUFFICIENT_PODS
    return condition.get("status") == "False" and condition.get("reason") == INSUFFICIENT_PODS
