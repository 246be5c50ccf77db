"""Pure helpers of the Deployment controller (upstream pkg/controller/deployment/util): the
pod-template-hash, revisions and the annotations copied to ReplicaSets, maxSurge/maxUnavailable
arithmetic, finding the new and old ReplicaSets, and the status conditions `kubectl rollout
status` reads.

Must not do I/O or read a clock: callers pass `now`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import orjson

from kubelite.controllers.events import rfc3339
from kubelite.controllers.podutil import creation_time, parse_time

__all__ = ["creation_time", "parse_time"]

Obj = dict[str, Any]

POD_TEMPLATE_HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
MAX_REVISION_HISTORY_CHARS = 2000
NO_PROGRESS_DEADLINE = 2**31 - 1

# condition types and reasons (upstream deploymentutil constants)
AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
FAILED_RS_CREATE = "ReplicaSetCreateError"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

_SKIPPED_ANNOTATIONS = frozenset(
    {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
)
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


# ---------------------------------------------------------------- hashing
def fnv32a(data: bytes, value: int = _FNV32_OFFSET) -> int:
    for byte in data:
        value = ((value ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """upstream rand.SafeEncodeString: every byte mapped into an alphabet without vowels."""
    return "".join(_SAFE_ALPHABET[byte % len(_SAFE_ALPHABET)] for byte in text.encode())


def pod_template_hash(template: Obj, collision_count: int | None) -> str:
    """FNV-32a over the template's canonical JSON (plus the collision count, little-endian),
    printed in decimal and safe-encoded, as upstream's ComputeHash renders it."""
    value = fnv32a(orjson.dumps(template, option=orjson.OPT_SORT_KEYS))
    if collision_count is not None:
        value = fnv32a((collision_count & 0xFFFFFFFF).to_bytes(4, "little"), value)
    return safe_encode(str(value))


def without_hash(template: Obj) -> Obj:
    labels = (template.get("metadata") or {}).get("labels")
    if not labels or POD_TEMPLATE_HASH not in labels:
        return template
    metadata = dict(template["metadata"])
    metadata["labels"] = {k: v for k, v in labels.items() if k != POD_TEMPLATE_HASH}
    if not metadata["labels"]:
        del metadata["labels"]
    return {**template, "metadata": metadata}


def _normal_template(template: Obj) -> Obj:
    template = without_hash(template)
    metadata = {k: v for k, v in (template.get("metadata") or {}).items() if v not in (None, {}, [])}
    return {**template, "metadata": metadata}


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    return _normal_template(a) == _normal_template(b)


# ---------------------------------------------------------------- small accessors
def annotations_of(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_of(obj: Obj, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def revision(rs: Obj) -> int:
    try:
        return int(annotations_of(rs).get(REVISION, "0") or "0")
    except ValueError:
        return 0


def max_revision(replica_sets: Iterable[Obj]) -> int:
    return max((revision(rs) for rs in replica_sets), default=0)


def by_creation(replica_sets: Iterable[Obj], newest_first: bool = False) -> list[Obj]:
    ordered = sorted(replica_sets, key=lambda rs: (creation_time(rs), rs["metadata"]["name"]))
    return ordered[::-1] if newest_first else ordered


def by_revision(replica_sets: Iterable[Obj]) -> list[Obj]:
    return sorted(replica_sets, key=lambda rs: (revision(rs), creation_time(rs), rs["metadata"]["name"]))


def active(replica_sets: Iterable[Obj | None]) -> list[Obj]:
    return [rs for rs in replica_sets if rs is not None and replicas(rs) > 0]


def total_replicas(replica_sets: Iterable[Obj | None]) -> int:
    return sum(replicas(rs) for rs in replica_sets if rs is not None)


def total_status(replica_sets: Iterable[Obj | None], field: str) -> int:
    return sum(status_of(rs, field) for rs in replica_sets if rs is not None)


def find_new_replica_set(deployment: Obj, replica_sets: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template equals the deployment's, ignoring the hash label."""
    template = deployment["spec"]["template"]
    for rs in by_creation(replica_sets):
        if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template):
            return rs
    return None


# ---------------------------------------------------------------- surge arithmetic
def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent against `total` (upstream GetScaledValueFromIntOrPercent)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        raise ValueError(f"invalid value for IntOrString: invalid type: string is not a percentage: {text}")
    percent = int(text[:-1])
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def is_rolling_update(deployment: Obj) -> bool:
    return ((deployment["spec"].get("strategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"


def resolve_fenceposts(deployment: Obj) -> tuple[int, int]:
    rolling = (deployment["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas(deployment)
    surge = scaled_value(rolling.get("maxSurge", "25%"), desired, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(deployment: Obj) -> int:
    return resolve_fenceposts(deployment)[0] if is_rolling_update(deployment) else 0


def max_unavailable(deployment: Obj) -> int:
    if not is_rolling_update(deployment) or replicas(deployment) == 0:
        return 0
    return min(resolve_fenceposts(deployment)[1], replicas(deployment))


def new_rs_new_replicas(deployment: Obj, all_rss: list[Obj | None], new_rs: Obj) -> int:
    """How big the new ReplicaSet may be now (upstream NewRSNewReplicas)."""
    if not is_rolling_update(deployment):
        return replicas(deployment)
    current = total_replicas(all_rss)
    allowed_total = replicas(deployment) + max_surge(deployment)
    if current >= allowed_total:
        return replicas(new_rs)
    step = min(allowed_total - current, replicas(deployment) - replicas(new_rs))
    return replicas(new_rs) + step


# ---------------------------------------------------------------- annotations
def replicas_annotations_need_update(rs: Obj, desired: int, maximum: int) -> bool:
    found = annotations_of(rs)
    return found.get(DESIRED_REPLICAS) != str(desired) or found.get(MAX_REPLICAS) != str(maximum)


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    if not replicas_annotations_need_update(rs, desired, maximum):
        return False
    meta = rs.setdefault("metadata", {})
    meta["annotations"] = {
        **(meta.get("annotations") or {}),
        DESIRED_REPLICAS: str(desired),
        MAX_REPLICAS: str(maximum),
    }
    return True


def set_new_rs_annotations(deployment: Obj, rs: Obj, new_revision: str, exists: bool) -> bool:
    """Copy the deployment's annotations, raise the revision (keeping the old one in the
    revision history on a rollback) and, for a new ReplicaSet, the replicas annotations."""
    meta = rs.setdefault("metadata", {})
    found = dict(meta.get("annotations") or {})
    changed = False
    for key, value in annotations_of(deployment).items():
        if key not in _SKIPPED_ANNOTATIONS and found.get(key) != value:
            found[key] = value
            changed = True
    old_text = found.get(REVISION)
    try:
        old_revision = int(old_text) if old_text else 0
    except ValueError:
        meta["annotations"] = found
        return changed
    if old_revision < int(new_revision):
        found[REVISION] = new_revision
        changed = True
        if old_text:
            history = found.get(REVISION_HISTORY, "")
            if not history:
                found[REVISION_HISTORY] = old_text
            else:
                parts = history.split(",")
                total = len(history) + len(old_text) + 1
                start = 0
                while total > MAX_REVISION_HISTORY_CHARS and start < len(parts):
                    total -= len(parts[start]) + 1
                    start += 1
                if total <= MAX_REVISION_HISTORY_CHARS:
                    found[REVISION_HISTORY] = ",".join([*parts[start:], old_text])
    meta["annotations"] = found
    if not exists and set_replicas_annotations(
        rs, replicas(deployment), replicas(deployment) + max_surge(deployment)
    ):
        changed = True
    return changed


# ---------------------------------------------------------------- conditions and status
def condition(status: Obj, kind: str) -> Obj | None:
    for found in status.get("conditions") or ():
        if found.get("type") == kind:
            return found  # type: ignore[no-any-return]
    return None


def new_condition(kind: str, state: str, reason: str, message: str, now: float) -> Obj:
    stamp = rfc3339(now)
    return {
        "type": kind,
        "status": state,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def set_condition(status: Obj, new: Obj) -> None:
    current = condition(status, new["type"])
    if (
        current is not None
        and current.get("status") == new["status"]
        and current.get("reason") == new["reason"]
    ):
        return
    if current is not None and current.get("status") == new["status"]:
        new = {**new, "lastTransitionTime": current.get("lastTransitionTime")}
    status["conditions"] = [c for c in status.get("conditions") or () if c.get("type") != new["type"]] + [new]


def remove_condition(status: Obj, kind: str) -> None:
    if status.get("conditions"):
        status["conditions"] = [c for c in status["conditions"] if c.get("type") != kind]
        if not status["conditions"]:
            del status["conditions"]


def has_progress_deadline(deployment: Obj) -> bool:
    deadline = deployment["spec"].get("progressDeadlineSeconds")
    return deadline is not None and deadline != NO_PROGRESS_DEADLINE


def deployment_complete(deployment: Obj, status: Obj) -> bool:
    want = replicas(deployment)
    return (
        (status.get("updatedReplicas") or 0) == want
        and (status.get("replicas") or 0) == want
        and (status.get("availableReplicas") or 0) == want
        and (status.get("observedGeneration") or 0) >= (deployment["metadata"].get("generation") or 0)
    )


def deployment_progressing(deployment: Obj, status: Obj) -> bool:
    old = deployment.get("status") or {}
    old_old = (old.get("replicas") or 0) - (old.get("updatedReplicas") or 0)
    new_old = (status.get("replicas") or 0) - (status.get("updatedReplicas") or 0)
    return (
        (status.get("updatedReplicas") or 0) > (old.get("updatedReplicas") or 0)
        or new_old < old_old
        or (status.get("readyReplicas") or 0) > (old.get("readyReplicas") or 0)
        or (status.get("availableReplicas") or 0) > (old.get("availableReplicas") or 0)
    )


def deployment_timed_out(deployment: Obj, status: Obj, now: float) -> bool:
    if not has_progress_deadline(deployment):
        return False
    found = condition(status, PROGRESSING)
    if found is None or found.get("reason") == NEW_RS_AVAILABLE:
        return False
    if found.get("reason") == TIMED_OUT:
        return True
    since = parse_time(found.get("lastUpdateTime") or "")
    return since + deployment["spec"]["progressDeadlineSeconds"] < now


def calculate_status(deployment: Obj, all_rss: list[Obj | None], new_rs: Obj | None, now: float) -> Obj:
    available = total_status(all_rss, "availableReplicas")
    unavailable = max(total_replicas(all_rss) - available, 0)
    previous = deployment.get("status") or {}
    status: Obj = {
        "observedGeneration": deployment["metadata"].get("generation") or 0,
        "replicas": total_status(all_rss, "replicas"),
        "updatedReplicas": total_status([new_rs], "replicas"),
        "readyReplicas": total_status(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
    }
    if previous.get("collisionCount") is not None:
        status["collisionCount"] = previous["collisionCount"]
    if previous.get("conditions"):
        status["conditions"] = [dict(c) for c in previous["conditions"]]
    if available >= replicas(deployment) - max_unavailable(deployment):
        set_condition(
            status,
            new_condition(AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability.", now),
        )
    else:
        set_condition(
            status,
            new_condition(
                AVAILABLE, "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.", now
            ),
        )
    return status


def public_status(status: Obj) -> Obj:
    """Drop zero counters as the API's omitempty does, so statuses compare as stored."""
    return {k: v for k, v in status.items() if v not in (0, None, [], {})}
