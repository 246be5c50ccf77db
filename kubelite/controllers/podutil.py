"""Facts about pods that controllers share (upstream pkg/api/v1/pod and controller_utils): active,
ready, available after minReadySeconds, and timestamps as epoch seconds.

Must not write anything or look at any other kind.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

Obj = dict[str, Any]


@functools.lru_cache(maxsize=4096)
def parse_time(text: str) -> float:
    """An RFC3339 timestamp as epoch seconds (0.0 when empty or malformed)."""
    if not text:
        return 0.0
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0


def is_active(pod: Obj) -> bool:
    """Not finished and not being deleted (upstream controller.IsPodActive)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not (pod.get("metadata") or {}).get("deletionTimestamp")


def ready_condition(pod: Obj) -> Obj | None:
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return condition  # type: ignore[no-any-return]
    return None


def is_ready(pod: Obj) -> bool:
    condition = ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def ready_since(pod: Obj) -> float:
    """When the pod became ready (0.0 when not ready or unknown)."""
    condition = ready_condition(pod)
    if condition is None or condition.get("status") != "True":
        return 0.0
    return parse_time(condition.get("lastTransitionTime") or "")


def is_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """Ready for at least minReadySeconds (upstream podutil.IsPodAvailable)."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since > 0 and since + min_ready_seconds < now


def creation_time(obj: Obj) -> float:
    return parse_time((obj.get("metadata") or {}).get("creationTimestamp") or "")
