"""LimitRanger admission, as upstream's plugin: a new pod's containers get the default requests
and limits of the namespace's LimitRanges (type Container `defaultRequest` / `default`), noted in
the `kubernetes.io/limit-ranger` annotation; then pods are checked against Container and Pod
min / max / maxLimitRequestRatio and claims against PersistentVolumeClaim min / max, refused with
upstream's 403 messages. Pod updates are not checked (containers' resources are immutable).

Must not touch other objects nor any resource but pods and claims.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kubelite.api.quantity import DECIMAL_SI, Quantity, format_quantity
from kubelite.registry.admission import AdmissionRequest
from kubelite.schema.quotausage import ResourceList, parse_list, pod_limits, pod_requests

Obj = dict[str, Any]

LIMIT_RANGE_PREFIX = "/registry/core/limitranges/"
ANNOTATION = "kubernetes.io/limit-ranger"
MAX_MILLI_VALUE = ((1 << 63) - 1) // 1000  # upstream resource.MaxMilliValue
_PODS = ("", "pods")
_CLAIMS = ("", "persistentvolumeclaims")


class LimitRanger:
    name = "LimitRanger"

    def handles(self, group: str, resource: str) -> bool:
        return (group, resource) in (_PODS, _CLAIMS)

    def _limit_ranges(self, request: AdmissionRequest) -> list[Obj]:
        """The namespace's LimitRanges, when the write is one LimitRanger looks at."""
        if request.subresource:
            return []
        if request.old is not None:
            if request.info.resource == "pods":
                return []
            if (request.old.get("metadata") or {}).get("deletionTimestamp"):
                return []
        held = request.registry.watch_cache.cache(LIMIT_RANGE_PREFIX).by_namespace.get(request.namespace)
        return [held[name] for name in sorted(held)] if held else []

    async def mutate(self, request: AdmissionRequest) -> None:
        if request.info.resource != "pods":
            return
        for limit_range in self._limit_ranges(request):
            apply_defaults(request.obj, limit_range)

    async def validate(self, request: AdmissionRequest) -> None:
        for limit_range in self._limit_ranges(request):
            if request.info.resource == "pods":
                problems = pod_problems(request.obj, limit_range)
            else:
                problems = claim_problems(request.obj, limit_range)
            if problems:
                raise request.forbidden(aggregate(problems))


def aggregate(messages: list[str]) -> str:
    """upstream utilerrors.NewAggregate(...).Error(): one message alone, else `[a, b]` without repeats."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _items(limit_range: Mapping[str, Any], kind: str) -> list[Obj]:
    return [
        i
        for i in (limit_range.get("spec") or {}).get("limits") or ()
        if isinstance(i, dict) and i.get("type") == kind
    ]


# --------------------------------------------------------------------------- defaults
def apply_defaults(pod: Obj, limit_range: Mapping[str, Any]) -> None:
    """Fill unset container requests and limits from the LimitRange's Container defaults."""
    default_requests: dict[str, Any] = {}
    default_limits: dict[str, Any] = {}
    for item in _items(limit_range, "Container"):
        default_requests.update(item.get("defaultRequest") or {})
        default_limits.update(item.get("default") or {})
    if not default_requests and not default_limits:
        return
    notes: list[str] = []
    spec = pod.get("spec") or {}
    for field, label in (("containers", "container"), ("initContainers", "init container")):
        for container in spec.get(field) or ():
            if isinstance(container, dict):
                notes += _default_container(container, default_requests, default_limits, label)
    if notes:
        annotations = pod.setdefault("metadata", {}).get("annotations")
        if not isinstance(annotations, dict):
            annotations = pod["metadata"]["annotations"] = {}
        annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)


def _default_container(
    container: Obj, requests: dict[str, Any], limits: dict[str, Any], label: str
) -> list[str]:
    resources = container.get("resources")
    if not isinstance(resources, dict):
        resources = container["resources"] = {}
    notes = []
    set_limits = _fill(resources, "limits", limits)
    set_requests = _fill(resources, "requests", requests)
    name = container.get("name", "")
    if set_requests:
        notes.append(f"{', '.join(sorted(set_requests))} request for {label} {name}")
    if set_limits:
        notes.append(f"{', '.join(sorted(set_limits))} limit for {label} {name}")
    return notes


def _fill(resources: Obj, kind: str, defaults: dict[str, Any]) -> list[str]:
    current = resources.get(kind)
    missing = [name for name in defaults if not isinstance(current, dict) or name not in current]
    if missing:
        if not isinstance(current, dict):
            current = resources[kind] = {}
        for name in missing:
            current[name] = defaults[name]
    return missing


# --------------------------------------------------------------------------- checks
def _milli(q: Quantity) -> int:
    return math.ceil(q.amount * 1000)


def _whole(q: Quantity) -> int:
    return math.ceil(q.amount)


def _compared(*quantities: Quantity | None) -> list[int]:
    """upstream requestLimitEnforcedValues: milli-units when nothing overflows them, else units."""
    present = [q if q is not None else Quantity(Decimal(0), DECIMAL_SI) for q in quantities]
    if all(_whole(q) <= MAX_MILLI_VALUE for q in present):
        return [_milli(q) for q in present]
    return [_whole(q) for q in present]


def _min_problem(
    kind: str, name: str, enforced: Quantity, requests: ResourceList, limits: ResourceList
) -> str:
    request, limit = requests.get(name), limits.get(name)
    observed_request, observed_limit, floor = _compared(request, limit, enforced)
    shown = format_quantity(enforced)
    if request is None:
        return f"minimum {name} usage per {kind} is {shown}.  No request is specified"
    if observed_request < floor:
        return f"minimum {name} usage per {kind} is {shown}, but request is {format_quantity(request)}"
    if limit is not None and observed_limit < floor:
        return f"minimum {name} usage per {kind} is {shown}, but limit is {format_quantity(limit)}"
    return ""


def _max_problem(
    kind: str, name: str, enforced: Quantity, requests: ResourceList, limits: ResourceList
) -> str:
    request, limit = requests.get(name), limits.get(name)
    observed_request, observed_limit, ceiling = _compared(request, limit, enforced)
    shown = format_quantity(enforced)
    if limit is None:
        return f"maximum {name} usage per {kind} is {shown}.  No limit is specified"
    if observed_limit > ceiling:
        return f"maximum {name} usage per {kind} is {shown}, but limit is {format_quantity(limit)}"
    if request is not None and observed_request > ceiling:
        return f"maximum {name} usage per {kind} is {shown}, but request is {format_quantity(request)}"
    return ""


def _max_request_problem(kind: str, name: str, enforced: Quantity, requests: ResourceList) -> str:
    request = requests.get(name)
    observed_request, _, ceiling = _compared(request, None, enforced)
    shown = format_quantity(enforced)
    if request is None:
        return f"maximum {name} usage per {kind} is {shown}.  No request is specified"
    if observed_request > ceiling:
        return f"maximum {name} usage per {kind} is {shown}, but request is {format_quantity(request)}"
    return ""


def _ratio_problem(
    kind: str, name: str, enforced: Quantity, requests: ResourceList, limits: ResourceList
) -> str:
    request, limit = requests.get(name), limits.get(name)
    observed_request, observed_limit, _ = _compared(request, limit, enforced)
    shown = format_quantity(enforced)
    if request is None or observed_request == 0:
        return f"{name} max limit to request ratio per {kind} is {shown}, but no request is specified or request is 0"
    if limit is None or observed_limit == 0:
        return f"{name} max limit to request ratio per {kind} is {shown}, but no limit is specified or limit is 0"
    ratio = float(observed_limit) / float(observed_request)
    observed, allowed = ratio, float(_whole(enforced))
    if _whole(enforced) <= MAX_MILLI_VALUE:
        observed, allowed = ratio * 1000, float(_milli(enforced))
    if observed > allowed:
        return f"{name} max limit to request ratio per {kind} is {shown}, but provided ratio is {ratio:f}"
    return ""


def _check(item: Mapping[str, Any], kind: str, requests: ResourceList, limits: ResourceList) -> list[str]:
    problems = []
    for field, check in (
        ("min", _min_problem),
        ("max", _max_problem),
        ("maxLimitRequestRatio", _ratio_problem),
    ):
        bounds = parse_list(item.get(field))
        for name in sorted(bounds):
            problems.append(check(kind, name, bounds[name], requests, limits))
    return [p for p in problems if p]


def pod_problems(pod: Mapping[str, Any], limit_range: Mapping[str, Any]) -> list[str]:
    """What a pod breaks of one LimitRange's Container and Pod items, in upstream's wording."""
    problems: list[str] = []
    spec = pod.get("spec") or {}
    for item in (limit_range.get("spec") or {}).get("limits") or ():
        if not isinstance(item, dict):
            continue
        if item.get("type") == "Container":
            for field in ("containers", "initContainers"):
                for container in spec.get(field) or ():
                    resources = (container.get("resources") or {}) if isinstance(container, dict) else {}
                    problems += _check(
                        item,
                        "Container",
                        parse_list(resources.get("requests")),
                        parse_list(resources.get("limits")),
                    )
        elif item.get("type") == "Pod":
            problems += _check(
                item, "Pod", pod_requests(pod, overhead=False), pod_limits(pod, overhead=False)
            )
    return problems


def claim_problems(claim: Mapping[str, Any], limit_range: Mapping[str, Any]) -> list[str]:
    """What a claim's storage requests break of one LimitRange's PersistentVolumeClaim items."""
    requests = parse_list(((claim.get("spec") or {}).get("resources") or {}).get("requests"))
    problems: list[str] = []
    kind = "PersistentVolumeClaim"
    for item in _items(limit_range, kind):
        floors = parse_list(item.get("min"))
        problems += [_min_problem(kind, name, floors[name], requests, {}) for name in sorted(floors)]
        ceilings = parse_list(item.get("max"))
        problems += [_max_request_problem(kind, name, ceilings[name], requests) for name in sorted(ceilings)]
    return [p for p in problems if p]
