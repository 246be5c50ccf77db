"""Quota usage, as upstream's quota evaluators (pkg/quota/v1/evaluator/core and apiserver's
generic object-count evaluator) and quota helpers (k8s.io/apiserver/pkg/quota/v1): resource-list
arithmetic on quantities, the usage one object charges for each quota resource name, which quota
resource names and scopes an evaluator matches, the usage a namespace's objects add up to, and
the admission check of one write against a namespace's quotas (what to charge, or why not).

Shared by the ResourceQuota admission plugin (registry) and the ResourceQuota controller.
Must not do I/O or know where objects come from: callers hand in quotas and objects.
"""

from __future__ import annotations

import calendar
import functools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kubelite.api.labels import DOES_NOT_EXIST, EXISTS, IN, NOT_IN, Requirement
from kubelite.api.quantity import (
    DECIMAL_SI,
    Quantity,
    QuantityError,
    format_quantity,
    parse_quantity,
    quantity_from_amount,
)

Obj = dict[str, Any]
ResourceList = dict[str, Quantity]

ZERO = Quantity(Decimal(0), DECIMAL_SI)
ONE = Quantity(Decimal(1), DECIMAL_SI)

STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
REQUESTS_PREFIX = "requests."
HUGEPAGES_PREFIX = "hugepages-"


class QuotaRejection(Exception):
    """A write the quotas refuse; the message is upstream's (the caller wraps it in a 403)."""


# --------------------------------------------------------------------------- resource lists
def parse_list(raw: Any) -> ResourceList:
    """A JSON resource list as quantities (values that do not parse are left out)."""
    result: ResourceList = {}
    if isinstance(raw, Mapping):
        for name, value in raw.items():
            try:
                result[str(name)] = parse_quantity(value)
            except (QuantityError, TypeError):
                continue
    return result


def format_list(items: Mapping[str, Quantity]) -> dict[str, str]:
    return {name: format_quantity(value) for name, value in items.items()}


def plus(x: Quantity, y: Quantity) -> Quantity:
    """upstream Quantity.Add: a zero left side takes the right side's format."""
    return quantity_from_amount(x.amount + y.amount, y.format if x.amount == 0 else x.format)


def minus(x: Quantity, y: Quantity) -> Quantity:
    return quantity_from_amount(x.amount - y.amount, y.format if x.amount == 0 else x.format)


def add(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> ResourceList:
    result = dict(a)
    for name, value in b.items():
        result[name] = plus(result[name], value) if name in result else value
    return result


def subtract_non_negative(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> ResourceList:
    """a - b per name, never below zero; names only in b come out as zero."""
    result: ResourceList = {}
    for name, value in a.items():
        difference = minus(value, b[name]) if name in b else value
        result[name] = difference if difference.amount > 0 else ZERO
    for name in b:
        result.setdefault(name, ZERO)
    return result


def mask(items: Mapping[str, Quantity], names: Iterable[str]) -> ResourceList:
    keep = set(names)
    return {name: value for name, value in items.items() if name in keep}


def remove_zeros(items: Mapping[str, Quantity]) -> ResourceList:
    return {name: value for name, value in items.items() if value.amount != 0}


def negative_names(items: Mapping[str, Quantity]) -> list[str]:
    return [name for name, value in items.items() if value.amount < 0]


def less_than_or_equal(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> tuple[bool, list[str]]:
    """Whether every name of b that a has is within b; and the names that are not."""
    exceeded = [name for name, limit in b.items() if name in a and a[name].amount > limit.amount]
    return not exceeded, exceeded


def equals(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> bool:
    return a.keys() == b.keys() and all(a[name].amount == b[name].amount for name in a)


def pretty_print(items: Mapping[str, Quantity]) -> str:
    """`name=value` pairs sorted by name, comma-joined, as upstream's quota messages print them."""
    return ",".join(f"{name}={format_quantity(items[name])}" for name in sorted(items))


def names_text(names: Iterable[str]) -> str:
    return ",".join(sorted(names))


# --------------------------------------------------------------------------- pod resources
def _sum_into(total: ResourceList, items: Mapping[str, Quantity]) -> None:
    for name, value in items.items():
        total[name] = plus(total[name], value) if name in total else value


def _max_into(total: ResourceList, items: Mapping[str, Quantity]) -> None:
    for name, value in items.items():
        if name not in total or value.amount > total[name].amount:
            total[name] = value


def _containers(spec: Mapping[str, Any], field: str) -> list[Obj]:
    return [c for c in spec.get(field) or () if isinstance(c, dict)]


def _resources(container: Mapping[str, Any], kind: str) -> ResourceList:
    return parse_list((container.get("resources") or {}).get(kind))


def _aggregate(pod: Mapping[str, Any], kind: str) -> ResourceList:
    """Containers summed, then at least each init container's need while it runs (restartable
    init containers, i.e. sidecars, keep running and add to everything after them)."""
    spec = pod.get("spec") or {}
    total: ResourceList = {}
    for container in _containers(spec, "containers"):
        _sum_into(total, _resources(container, kind))
    sidecars: ResourceList = {}
    init_peak: ResourceList = {}
    for container in _containers(spec, "initContainers"):
        own = _resources(container, kind)
        if container.get("restartPolicy") == "Always":
            _sum_into(total, own)
            _sum_into(sidecars, own)
            running = dict(sidecars)
        else:
            running = dict(own)
            _sum_into(running, sidecars)
        _max_into(init_peak, running)
    _max_into(total, init_peak)
    return total


def pod_requests(pod: Mapping[str, Any], overhead: bool = True) -> ResourceList:
    """upstream resourcehelper.PodRequests (spec only): with the pod's overhead when asked."""
    total = _aggregate(pod, "requests")
    if overhead:
        _sum_into(total, parse_list((pod.get("spec") or {}).get("overhead")))
    return total


def pod_limits(pod: Mapping[str, Any], overhead: bool = True) -> ResourceList:
    """upstream resourcehelper.PodLimits (spec only): overhead is added only to limits that are set."""
    total = _aggregate(pod, "limits")
    if overhead:
        for name, value in parse_list((pod.get("spec") or {}).get("overhead")).items():
            if name in total:
                total[name] = plus(total[name], value)
    return total


def is_best_effort(pod: Mapping[str, Any]) -> bool:
    """QoS BestEffort: no container (init included) asks for or caps cpu or memory."""
    spec = pod.get("spec") or {}
    for field in ("containers", "initContainers"):
        for container in _containers(spec, field):
            for kind in ("requests", "limits"):
                listed = _resources(container, kind)
                if any(name in listed and listed[name].amount > 0 for name in ("cpu", "memory")):
                    return False
    return True


def is_terminating(pod: Mapping[str, Any]) -> bool:
    deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    return isinstance(deadline, int) and not isinstance(deadline, bool) and deadline >= 0


def _epoch(stamp: Any) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return float(calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def pod_is_charged(pod: Mapping[str, Any], now: float) -> bool:
    """upstream QuotaV1Pod: terminal pods, and pods stuck terminating past their grace period,
    no longer count toward compute quota."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    meta = pod.get("metadata") or {}
    deleted = _epoch(meta.get("deletionTimestamp"))
    grace = meta.get("deletionGracePeriodSeconds")
    return deleted is None or not isinstance(grace, int) or now <= deleted + grace


def _uses_cross_namespace_affinity(pod: Mapping[str, Any]) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        rules = affinity.get(kind) or {}
        terms = list(rules.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [
            w.get("podAffinityTerm") or {}
            for w in rules.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        ]
        if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
            return True
    return False


# --------------------------------------------------------------------------- names
def object_count_name(group: str, resource: str) -> str:
    """`count/pods`, `count/deployments.apps`: the object-count quota name of a resource."""
    return f"count/{resource}.{group}" if group else f"count/{resource}"


def parse_object_count_name(name: str) -> tuple[str, str] | None:
    """(group, resource) of a `count/<resource>[.<group>]` name."""
    if not name.startswith("count/") or len(name) == len("count/"):
        return None
    resource, _, group = name[len("count/") :].partition(".")
    return group, resource


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_extended(name: str) -> bool:
    """An extended resource a container may request (`example.com/gpu`)."""
    return not _is_native(name) and not name.startswith(REQUESTS_PREFIX)


def _is_extended_quota_name(name: str) -> bool:
    """`requests.example.com/gpu`: the only quota form extended resources have."""
    return not _is_native(name) and name.startswith(REQUESTS_PREFIX)


# --------------------------------------------------------------------------- evaluators
class Evaluator:
    """Quota accounting of one resource: by default an object count (upstream's generic
    evaluator): `count/<resource>[.<group>]` (and a legacy name for a few core kinds), charged on
    create, with no scopes."""

    def __init__(self, group: str, resource: str, legacy_name: str = ""):
        self.group = group
        self.resource = resource
        self.count_name = object_count_name(group, resource)
        self.names = frozenset(n for n in (self.count_name, legacy_name) if n)

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        return [name for name in names if name in self.names]

    def matches_scope(self, selector: Mapping[str, Any], obj: Mapping[str, Any]) -> bool:
        return False

    def constraints(self, required: Sequence[str], obj: Mapping[str, Any]) -> str:
        """Why the object cannot be admitted under a quota tracking `required` ("" if it can)."""
        return ""

    def handles(self, obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
        """Whether a create (old None) or update can change this resource's usage."""
        return old is None

    def usage(self, obj: Mapping[str, Any], now: float) -> ResourceList:
        return {name: ONE for name in self.names}


_POD_RESOURCES = frozenset(
    {
        "count/pods", "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
        "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods",
    }
)  # fmt: skip
# If a quota tracks any of these, every container must state it (an upstream backward-compatibility rule).
_MUST_BE_SET = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"})
_SCOPE_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def _compute_usage(requests: Mapping[str, Quantity], limits: Mapping[str, Quantity]) -> ResourceList:
    """upstream podComputeUsageHelper: what requests and limits charge for one pod."""
    result: ResourceList = {"pods": ONE}
    for name in ("cpu", "memory", "ephemeral-storage"):
        if name in requests:
            result[name] = requests[name]
            result[REQUESTS_PREFIX + name] = requests[name]
        if name in limits:
            result["limits." + name] = limits[name]
    for name, value in requests.items():
        if name.startswith(HUGEPAGES_PREFIX):
            result[name] = value
            result[REQUESTS_PREFIX + name] = value
        elif _is_extended(name):
            result[REQUESTS_PREFIX + name] = value
    return result


class PodEvaluator(Evaluator):
    def __init__(self) -> None:
        super().__init__("", "pods")

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        return [
            name
            for name in names
            if name in _POD_RESOURCES
            or name.startswith((HUGEPAGES_PREFIX, REQUESTS_PREFIX + HUGEPAGES_PREFIX))
            or _is_extended_quota_name(name)
        ]

    def matches_scope(self, selector: Mapping[str, Any], obj: Mapping[str, Any]) -> bool:
        scope = selector.get("scopeName")
        if scope == "Terminating":
            return is_terminating(obj)
        if scope == "NotTerminating":
            return not is_terminating(obj)
        if scope == "BestEffort":
            return is_best_effort(obj)
        if scope == "NotBestEffort":
            return not is_best_effort(obj)
        if scope == "CrossNamespacePodAffinity":
            return _uses_cross_namespace_affinity(obj)
        if scope == "PriorityClass":
            class_name = (obj.get("spec") or {}).get("priorityClassName") or ""
            operator = _SCOPE_OPERATORS.get(str(selector.get("operator")))
            if operator is None:
                return False
            if operator == EXISTS:
                return bool(class_name)
            labels = {"PriorityClass": class_name} if class_name else {}
            return Requirement("PriorityClass", operator, selector.get("values") or ()).matches(labels)
        return False

    def constraints(self, required: Sequence[str], obj: Mapping[str, Any]) -> str:
        wanted = _MUST_BE_SET.intersection(required)
        if not wanted:
            return ""
        missing: dict[str, set[str]] = {}
        spec = obj.get("spec") or {}
        for field in ("containers", "initContainers"):
            for container in _containers(spec, field):
                usage = _compute_usage(_resources(container, "requests"), _resources(container, "limits"))
                for name in wanted.difference(usage):
                    missing.setdefault(name, set()).add(str(container.get("name", "")))
        if not missing:
            return ""
        parts = [f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)]
        return "must specify " + "; ".join(parts)

    def handles(self, obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
        return old is None or is_terminating(old) != is_terminating(obj)

    def usage(self, obj: Mapping[str, Any], now: float) -> ResourceList:
        result: ResourceList = {"count/pods": ONE}
        if not pod_is_charged(obj, now):
            return result
        return add(result, _compute_usage(pod_requests(obj), pod_limits(obj)))


class ServiceEvaluator(Evaluator):
    def __init__(self) -> None:
        super().__init__("", "services")
        self.names = frozenset({"count/services", "services", "services.nodeports", "services.loadbalancers"})

    def handles(self, obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
        return True  # the type may change on update

    def usage(self, obj: Mapping[str, Any], now: float) -> ResourceList:
        spec = obj.get("spec") or {}
        kind = spec.get("type")
        ports = Quantity(Decimal(len(spec.get("ports") or ())), DECIMAL_SI)
        return {
            "count/services": ONE,
            "services": ONE,
            "services.loadbalancers": ONE if kind == "LoadBalancer" else ZERO,
            "services.nodeports": ports if kind in ("NodePort", "LoadBalancer") else ZERO,
        }


def storage_class_of(claim: Mapping[str, Any]) -> str:
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    if BETA_STORAGE_CLASS_ANNOTATION in annotations:
        return str(annotations[BETA_STORAGE_CLASS_ANNOTATION])
    return str((claim.get("spec") or {}).get("storageClassName") or "")


def _whole_units(q: Quantity) -> Quantity:
    """upstream RoundUp(0): storage is charged in whole bytes."""
    whole = q.amount.to_integral_value(rounding="ROUND_CEILING" if q.amount > 0 else "ROUND_FLOOR")
    return q if whole == q.amount else quantity_from_amount(whole, q.format)


class ClaimEvaluator(Evaluator):
    _CLAIM_RESOURCES = ("persistentvolumeclaims", "requests.storage")

    def __init__(self) -> None:
        super().__init__("", "persistentvolumeclaims")

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        return [
            name
            for name in names
            if name == self.count_name
            or name in self._CLAIM_RESOURCES
            or name.endswith(tuple(STORAGE_CLASS_SUFFIX + r for r in self._CLAIM_RESOURCES))
        ]

    def handles(self, obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
        return True  # a resize changes the storage charged

    def usage(self, obj: Mapping[str, Any], now: float) -> ResourceList:
        result: ResourceList = {"persistentvolumeclaims": ONE, self.count_name: ONE}
        storage_class = storage_class_of(obj)
        if storage_class:
            result[storage_class + STORAGE_CLASS_SUFFIX + "persistentvolumeclaims"] = ONE
        requested = parse_list(((obj.get("spec") or {}).get("resources") or {}).get("requests")).get(
            "storage"
        )
        if requested is not None:
            storage = _whole_units(requested)
            allocated = parse_list((obj.get("status") or {}).get("allocatedResources")).get("storage")
            if allocated is not None and allocated.amount > storage.amount:
                storage = _whole_units(allocated)
            result["requests.storage"] = storage
            if storage_class:
                result[storage_class + STORAGE_CLASS_SUFFIX + "requests.storage"] = storage
        return result


_LEGACY_COUNT_NAMES = {
    "configmaps": "configmaps",
    "resourcequotas": "resourcequotas",
    "replicationcontrollers": "replicationcontrollers",
    "secrets": "secrets",
}


@functools.cache
def evaluator_for(group: str, resource: str) -> Evaluator:
    """The evaluator of a resource (an object count for any resource without its own)."""
    if group == "":
        if resource == "pods":
            return PodEvaluator()
        if resource == "services":
            return ServiceEvaluator()
        if resource == "persistentvolumeclaims":
            return ClaimEvaluator()
        return Evaluator("", resource, _LEGACY_COUNT_NAMES.get(resource, ""))
    return Evaluator(group, resource)


# Resources whose usage has more than an object count (or a legacy name) and so an evaluator
# the controller always knows, whatever the quota's names spell.
CORE_TRACKED = ("pods", "services", "persistentvolumeclaims", *_LEGACY_COUNT_NAMES)


def evaluators_for_names(names: Iterable[str]) -> list[tuple[Evaluator, list[str]]]:
    """The evaluators that account for some of these quota resource names, each with its names."""
    names = list(names)
    found: list[tuple[Evaluator, list[str]]] = []
    claimed: set[str] = set()
    for resource in CORE_TRACKED:
        evaluator = evaluator_for("", resource)
        matched = evaluator.matching_resources(names)
        if matched:
            found.append((evaluator, matched))
            claimed.update(matched)
    for name in names:
        parsed = parse_object_count_name(name) if name not in claimed else None
        if parsed is not None:
            found.append((evaluator_for(*parsed), [name]))
    return found


# --------------------------------------------------------------------------- quotas
def scope_selectors(quota: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """spec.scopes (each as an `Exists` requirement) followed by spec.scopeSelector's expressions."""
    spec = quota.get("spec") or {}
    selectors: list[Mapping[str, Any]] = [
        {"scopeName": scope, "operator": "Exists"} for scope in spec.get("scopes") or ()
    ]
    selectors += [
        e for e in (spec.get("scopeSelector") or {}).get("matchExpressions") or () if isinstance(e, dict)
    ]
    return selectors


def status_hard(quota: Mapping[str, Any]) -> ResourceList:
    return parse_list((quota.get("status") or {}).get("hard"))


def status_used(quota: Mapping[str, Any]) -> ResourceList:
    return parse_list((quota.get("status") or {}).get("used"))


def quota_matches(quota: Mapping[str, Any], evaluator: Evaluator, obj: Mapping[str, Any]) -> bool:
    """upstream generic.Matches: the quota enforces one of the evaluator's names (in status.hard,
    what the controller has observed) and every one of its scopes holds for the object."""
    if not evaluator.matching_resources((quota.get("status") or {}).get("hard") or {}):
        return False
    return all(evaluator.matches_scope(selector, obj) for selector in scope_selectors(quota))


def calculate_usage(
    quota: Mapping[str, Any],
    objects_of: Callable[[Evaluator], Iterable[Mapping[str, Any]]],
    now: float,
) -> ResourceList:
    """The usage of the quota's spec.hard names by the objects `objects_of` lists for each
    evaluator (the quota's namespace), as the ResourceQuota controller recomputes it."""
    hard_names = list(parse_list((quota.get("spec") or {}).get("hard")))
    selectors = scope_selectors(quota)
    used: ResourceList = {}
    tracked: list[str] = []
    for evaluator, names in evaluators_for_names(hard_names):
        stats: ResourceList = dict.fromkeys(names, ZERO)
        for obj in objects_of(evaluator):
            if all(evaluator.matches_scope(selector, obj) for selector in selectors):
                stats = add(stats, evaluator.usage(obj, now))
        used = add(used, stats)
        tracked += names
    return mask(used, tracked)


@dataclass(frozen=True, slots=True)
class Charge:
    """Usage one write adds to one quota (names the quota enforces, zeros dropped)."""

    quota: str
    delta: ResourceList


def charge(quota: Mapping[str, Any], delta: Mapping[str, Quantity]) -> ResourceList | None:
    """The quota's status.used after adding `delta`; None when nothing it enforces changes.
    Raises QuotaRejection (upstream's "exceeded quota" message) when a hard limit would be passed."""
    hard = status_hard(quota)
    used = status_used(quota)
    requested = mask(delta, hard)
    if not requested:
        return None
    new_used = add(used, requested)
    allowed, exceeded = less_than_or_equal(mask(new_used, requested), hard)
    if not allowed:
        raise QuotaRejection(
            f"exceeded quota: {(quota.get('metadata') or {}).get('name', '')}, "
            f"requested: {pretty_print(mask(requested, exceeded))}, "
            f"used: {pretty_print(mask(used, exceeded))}, "
            f"limited: {pretty_print(mask(hard, exceeded))}"
        )
    return new_used


def _has_usage_stats(quota: Mapping[str, Any], restricted: Iterable[str]) -> bool:
    used = (quota.get("status") or {}).get("used") or {}
    hard = (quota.get("status") or {}).get("hard") or {}
    return all(name in used for name in restricted if name in hard)


def check_request(
    quotas: Sequence[Mapping[str, Any]],
    evaluator: Evaluator,
    obj: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    now: float,
) -> list[Charge]:
    """upstream CheckRequest for one create (old None) or update: which quotas the write charges
    and by how much. Raises QuotaRejection when a quota's constraints are not met, its usage is
    not known yet, or a hard limit would be passed."""
    interesting: list[Mapping[str, Any]] = []
    for quota in quotas:
        if not quota_matches(quota, evaluator, obj):
            continue
        name = (quota.get("metadata") or {}).get("name", "")
        restricted = evaluator.matching_resources((quota.get("status") or {}).get("hard") or {})
        problem = evaluator.constraints(restricted, obj)
        if problem:
            raise QuotaRejection(f"failed quota: {name}: {problem}")
        if not _has_usage_stats(quota, restricted):
            raise QuotaRejection(f"status unknown for quota: {name}, resources: {names_text(restricted)}")
        interesting.append(quota)
    if not interesting:
        return []
    usage = evaluator.usage(obj, now)
    negative = negative_names(usage)
    if negative:
        raise QuotaRejection(f"quota usage is negative for resource(s): {names_text(negative)}")
    deltas = [usage] * len(interesting)
    if old is not None and (old.get("metadata") or {}).get("resourceVersion"):
        delta = subtract_non_negative(usage, evaluator.usage(old, now))
        deltas = [delta if quota_matches(q, evaluator, old) else usage for q in interesting]
    charges: list[Charge] = []
    for quota, delta in zip(interesting, deltas, strict=True):
        nonzero = remove_zeros(delta)
        if nonzero and charge(quota, nonzero) is not None:
            charges.append(Charge((quota.get("metadata") or {}).get("name", ""), nonzero))
    return charges
