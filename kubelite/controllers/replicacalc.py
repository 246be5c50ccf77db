"""The HorizontalPodAutoscaler's arithmetic, as upstream's replica_calculator.go and the
normalization half of horizontal.go: group pods into ready / unready / missing-metrics / ignored,
sum container requests, turn usage into a proposed replica count (ratio within the tolerance keeps
the count; missing metrics count as 0 on a scale-up and as the full request on a scale-down; unready
pods count as 0 on a scale-up), then stabilize the proposal over a window of past recommendations
and hold it within minReplicas, maxReplicas and the behavior's rate policies.

Must not do I/O, read a clock, or keep state of its own: the caller hands in the pods, the metrics,
`now` and the in-memory recommendation and scale-event history it keeps per autoscaler.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.quantity import QuantityError
from kubelite.controllers.metricsclient import PodMetric, PodMetricsInfo, milli_value
from kubelite.controllers.podutil import parse_time, ready_condition

Obj = dict[str, Any]

INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0
CPU = "cpu"


class ReplicaCalcError(Exception):
    """A replica count could not be computed; the message is upstream's error text."""


@dataclass(frozen=True, slots=True)
class Tolerances:
    scale_down: float
    scale_up: float

    def within(self, ratio: float) -> bool:
        return 1.0 - self.scale_down <= ratio <= 1.0 + self.scale_up


@dataclass(frozen=True, slots=True)
class PodGroups:
    ready_count: int
    unready: frozenset[str]
    missing: frozenset[str]
    ignored: frozenset[str]


@dataclass(frozen=True, slots=True)
class ReadinessWindows:
    """upstream --horizontal-pod-autoscaler-cpu-initialization-period and -initial-readiness-delay."""

    cpu_initialization_period: float = 300.0
    delay_of_initial_readiness_status: float = 30.0


# --------------------------------------------------------------------------- pods and requests
def group_pods(
    pods: Iterable[Obj], metrics: PodMetricsInfo, resource: str, windows: ReadinessWindows, now: float
) -> PodGroups:
    """upstream groupPods: deleted or failed pods are ignored, pending ones unready, pods without a
    sample missing; for cpu, a pod that is not ready (or whose sample predates one window after it
    became ready, while it is still initializing) is unready too."""
    ready = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        meta = pod.get("metadata") or {}
        status = pod.get("status") or {}
        name = meta.get("name", "")
        if meta.get("deletionTimestamp") or status.get("phase") == "Failed":
            ignored.add(name)
            continue
        if status.get("phase") == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == CPU and _cpu_sample_unready(pod, metric, windows, now):
            unready.add(name)
            continue
        ready += 1
    return PodGroups(ready, frozenset(unready), frozenset(missing), frozenset(ignored))


def _cpu_sample_unready(pod: Obj, metric: PodMetric, windows: ReadinessWindows, now: float) -> bool:
    condition = ready_condition(pod)
    start_text = (pod.get("status") or {}).get("startTime")
    if condition is None or not start_text:
        return True
    started = parse_time(str(start_text))
    transition = parse_time(str(condition.get("lastTransitionTime") or ""))
    not_ready = condition.get("status") == "False"
    if started + windows.cpu_initialization_period > now:
        return not_ready or metric.timestamp < transition + metric.window
    return not_ready and started + windows.delay_of_initial_readiness_status > transition


def pod_requests(pods: Iterable[Obj], container: str, resource: str) -> dict[str, int]:
    """upstream calculateRequests (without pod-level resources): per pod, the sum of its containers'
    (and restartable init containers') requests of `resource` in milli-units, or one container's."""
    requests: dict[str, int] = {}
    for pod in pods:
        name = (pod.get("metadata") or {}).get("name", "")
        spec = pod.get("spec") or {}
        containers = list(spec.get("containers") or ())
        containers.extend(c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always")
        total = 0
        found = False
        for entry in containers:
            entry_name = entry.get("name", "")
            if not container or container == entry_name:
                request = ((entry.get("resources") or {}).get("requests") or {}).get(resource)
                if request is None:
                    raise ReplicaCalcError(
                        f"missing request for {resource} in container {entry_name} of Pod {name}"
                    )
                try:
                    total += milli_value(request)
                except QuantityError as err:
                    raise ReplicaCalcError(str(err)) from None
            if container and container == entry_name:
                found = True
                break
        if container and not found:
            raise ReplicaCalcError(f"container {container} not found in Pod {name}")
        requests[name] = total
    return requests


def _int32(value: int) -> int:
    return max(INT32_MIN, min(INT32_MAX, value))


def utilization_ratio(
    metrics: PodMetricsInfo, requests: dict[str, int], target: int
) -> tuple[float, int, int]:
    """upstream GetResourceUtilizationRatio: (usage / target ratio, utilization percent of the
    summed requests, average raw usage), over pods that have both a sample and a request."""
    metrics_total = requests_total = entries = 0
    for name, metric in metrics.items():
        request = requests.get(name)
        if request is None:
            continue  # a sample of a pod we do not know
        metrics_total += metric.value
        requests_total += request
        entries += 1
    if requests_total == 0:
        raise ReplicaCalcError("no metrics returned matched known pods")
    utilization = _int32(_go_div(metrics_total * 100, requests_total))
    return utilization / target, utilization, _go_div(metrics_total, entries)


def usage_ratio(metrics: PodMetricsInfo, target: int) -> tuple[float, int]:
    """upstream GetMetricUsageRatio: (average usage / target, average usage)."""
    usage = _go_div(sum(metric.value for metric in metrics.values()), len(metrics))
    return usage / target, usage


def _go_div(numerator: int, denominator: int) -> int:
    """Go's integer division (truncating toward zero)."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator > 0) else -quotient


def _ceil_int32(value: float) -> int:
    return INT32_MAX if value > INT32_MAX else int(math.ceil(value))


# --------------------------------------------------------------------------- proposals
def resource_replicas(
    current: int,
    target_utilization: int,
    resource: str,
    tolerances: Tolerances,
    pods: list[Obj],
    metrics: PodMetricsInfo,
    container: str,
    windows: ReadinessWindows,
    now: float,
) -> tuple[int, int, int]:
    """upstream GetResourceReplicas (after the metrics fetch): (replicas, utilization percent, raw
    average usage in milli-units)."""
    if not pods:
        raise ReplicaCalcError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, resource, windows, now)
    samples = {
        name: m for name, m in metrics.items() if name not in groups.ignored and name not in groups.unready
    }
    if not samples:
        raise ReplicaCalcError("did not receive metrics for targeted pods (pods might be unready)")
    requests = pod_requests(pods, container, resource)
    ratio, utilization, raw = utilization_ratio(samples, requests, target_utilization)

    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.within(ratio):
            return current, utilization, raw
        return _ceil_int32(ratio * groups.ready_count), utilization, raw

    if groups.missing:
        if ratio < 1.0:
            # on a scale-down, a pod without a sample counts as using its whole request (or the target when above 100%)
            fallback = max(100, target_utilization)
            for name in groups.missing:
                samples[name] = PodMetric(_go_div(requests.get(name, 0) * fallback, 100), 0.0, 0.0)
        elif ratio > 1.0:
            for name in groups.missing:
                samples[name] = PodMetric(0, 0.0, 0.0)
    if scale_up_with_unready:
        for name in groups.unready:
            samples[name] = PodMetric(0, 0.0, 0.0)

    new_ratio, _, _ = utilization_ratio(samples, requests, target_utilization)
    if tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio):
        return current, utilization, raw  # too small a change, or the direction would flip
    proposed = _ceil_int32(new_ratio * len(samples))
    if (new_ratio < 1.0 and proposed > current) or (new_ratio > 1.0 and proposed < current):
        return current, utilization, raw
    return proposed, utilization, raw


def plain_replicas(
    current: int,
    target_usage: int,
    resource: str,
    tolerances: Tolerances,
    pods: list[Obj],
    metrics: PodMetricsInfo,
    windows: ReadinessWindows,
    now: float,
) -> tuple[int, int]:
    """upstream calcPlainMetricReplicas (an AverageValue target): (replicas, average usage)."""
    if not pods:
        raise ReplicaCalcError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, resource, windows, now)
    samples = {
        name: m for name, m in metrics.items() if name not in groups.ignored and name not in groups.unready
    }
    if not samples:
        raise ReplicaCalcError("did not receive metrics for targeted pods (pods might be unready)")
    ratio, usage = usage_ratio(samples, target_usage)

    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.within(ratio):
            return current, usage
        return _ceil_int32(ratio * groups.ready_count), usage

    if groups.missing:
        if ratio < 1.0:
            for name in groups.missing:
                samples[name] = PodMetric(target_usage, 0.0, 0.0)
        elif ratio > 1.0:
            for name in groups.missing:
                samples[name] = PodMetric(0, 0.0, 0.0)
    if scale_up_with_unready:
        for name in groups.unready:
            samples[name] = PodMetric(0, 0.0, 0.0)

    new_ratio, _ = usage_ratio(samples, target_usage)
    if tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio):
        return current, usage
    proposed = _ceil_int32(new_ratio * len(samples))
    if (new_ratio < 1.0 and proposed > current) or (new_ratio > 1.0 and proposed < current):
        return current, usage
    return proposed, usage


# --------------------------------------------------------------------------- behavior
@dataclass(slots=True)
class Recommendation:
    replicas: int
    at: float


@dataclass(slots=True)
class ScaleEvent:
    change: int  # replicas added (scale-up list) or removed (scale-down list), never negative
    at: float
    outdated: bool = False


@dataclass(slots=True)
class History:
    """What one autoscaler remembers between syncs (in memory only, as upstream)."""

    recommendations: list[Recommendation] = field(default_factory=list)
    scale_ups: list[ScaleEvent] = field(default_factory=list)
    scale_downs: list[ScaleEvent] = field(default_factory=list)


def default_scale_up_rules() -> Obj:
    return {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }


def default_scale_down_rules(stabilization_seconds: int) -> Obj:
    return {
        "stabilizationWindowSeconds": stabilization_seconds,
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }


def rules_with_defaults(given: Any, defaults: Obj) -> Obj:
    """upstream GenerateHPAScale{Up,Down}Rules: the defaults, overridden field by field."""
    rules = dict(defaults)
    if isinstance(given, dict):
        for name in ("stabilizationWindowSeconds", "selectPolicy", "policies", "tolerance"):
            if given.get(name) is not None:
                rules[name] = given[name]
    return rules


def record_initial_recommendation(history: History, current: int, now: float) -> None:
    if not history.recommendations:
        history.recommendations.append(Recommendation(current, now))


def _record(history: History, index: int | None, desired: int, now: float) -> None:
    if index is None:
        history.recommendations.append(Recommendation(desired, now))
    else:
        history.recommendations[index] = Recommendation(desired, now)


def stabilize(history: History, desired: int, window: float, now: float) -> int:
    """upstream stabilizeRecommendation (no behavior): the highest recommendation within the
    downscale stabilization window; the proposal replaces one sample older than the window."""
    highest = desired
    old_index: int | None = None
    cutoff = now - window
    for index, rec in enumerate(history.recommendations):
        if rec.at < cutoff:
            old_index = index
        elif rec.replicas > highest:
            highest = rec.replicas
    _record(history, old_index, desired, now)
    return highest


def stabilize_with_behavior(
    history: History, desired: int, current: int, up_window: float, down_window: float, now: float
) -> tuple[int, str, str]:
    """upstream stabilizeRecommendationWithBehaviors: the count held between the lowest
    recommendation of the scale-up window and the highest of the scale-down window."""
    up_cutoff = now - up_window
    down_cutoff = now - down_window
    up = down = desired
    old_index: int | None = None
    for index, rec in enumerate(history.recommendations):
        if rec.at > up_cutoff:
            up = min(up, rec.replicas)
        if rec.at > down_cutoff:
            down = max(down, rec.replicas)
        if rec.at < up_cutoff and rec.at < down_cutoff:
            old_index = index
    recommendation = min(max(current, up), down)
    _record(history, old_index, desired, now)
    if desired >= current:
        return (
            recommendation,
            "ScaleUpStabilized",
            "recent recommendations were lower than current one, applying the lowest recent recommendation",
        )
    return (
        recommendation,
        "ScaleDownStabilized",
        "recent recommendations were higher than current one, applying the highest recent recommendation",
    )


WITHIN_RANGE = ("DesiredWithinRange", "the desired count is within the acceptable range")
TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
SCALE_UP_LIMIT = (
    "ScaleUpLimit",
    "the desired replica count is increasing faster than the maximum scale rate",
)
SCALE_DOWN_LIMIT = (
    "ScaleDownLimit",
    "the desired replica count is decreasing faster than the maximum scale rate",
)


def limit(current: int, desired: int, minimum: int, maximum: int) -> tuple[int, str, str]:
    """upstream convertDesiredReplicasWithRules (no behavior): within [min, max], and at most
    max(2 * current, 4) in one step."""
    scale_up_limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
    if maximum > scale_up_limit:
        allowed, reason = scale_up_limit, SCALE_UP_LIMIT
    else:
        allowed, reason = maximum, TOO_MANY
    if desired < minimum:
        return minimum, *TOO_FEW
    if desired > allowed:
        return allowed, *reason
    return desired, *WITHIN_RANGE


def _changed_within(period: float, events: list[ScaleEvent], now: float) -> int:
    cutoff = now - period
    return sum(event.change for event in events if event.at > cutoff)


def scale_up_limit(current: int, history: History, rules: Obj, now: float) -> int:
    """upstream calculateScaleUpLimitWithScalingRules."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    results: list[int] = []
    for policy in rules.get("policies") or ():
        period = float(policy.get("periodSeconds") or 0)
        start = (
            current
            - _changed_within(period, history.scale_ups, now)
            + _changed_within(period, history.scale_downs, now)
        )
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            results.append(start + value)
        elif policy.get("type") == "Percent":
            results.append(int(math.ceil(start * (1 + value / 100))))
    if not results:
        return INT32_MAX if select == "Min" else INT32_MIN
    return min(results) if select == "Min" else max(results)


def scale_down_limit(current: int, history: History, rules: Obj, now: float) -> int:
    """upstream calculateScaleDownLimitWithBehaviors."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    results: list[int] = []
    for policy in rules.get("policies") or ():
        period = float(policy.get("periodSeconds") or 0)
        start = (
            current
            - _changed_within(period, history.scale_ups, now)
            + _changed_within(period, history.scale_downs, now)
        )
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            results.append(start - value)
        elif policy.get("type") == "Percent":
            results.append(int(start * (1 - value / 100)))
    if not results:
        return INT32_MIN if select == "Min" else INT32_MAX
    return max(results) if select == "Min" else min(results)


def limit_with_behavior(
    current: int, desired: int, minimum: int, maximum: int, history: History, up: Obj, down: Obj, now: float
) -> tuple[int, str, str]:
    """upstream convertDesiredReplicasWithBehaviorRate: within [min, max] and the rate policies."""
    if desired > current:
        ceiling = max(scale_up_limit(current, history, up, now), current)
        if maximum > ceiling:
            allowed, reason = ceiling, SCALE_UP_LIMIT
        else:
            allowed, reason = maximum, TOO_MANY
        if desired > allowed:
            return allowed, *reason
    elif desired < current:
        floor = min(scale_down_limit(current, history, down, now), current)
        if minimum < floor:
            allowed, reason = floor, SCALE_DOWN_LIMIT
        else:
            allowed, reason = minimum, TOO_FEW
        if desired < allowed:
            return allowed, *reason
    return desired, *WITHIN_RANGE


def _longest_period(rules: Obj) -> float:
    return float(max((int(p.get("periodSeconds") or 0) for p in rules.get("policies") or ()), default=0))


def store_scale_event(history: History, up: Obj, down: Obj, previous: int, new: int, now: float) -> None:
    """upstream storeScaleEvent: remember the change, reusing a slot older than the longest policy
    period of its direction."""
    if new > previous:
        events, change, rules = history.scale_ups, new - previous, up
    else:
        events, change, rules = history.scale_downs, previous - new, down
    cutoff = now - _longest_period(rules)
    old_index: int | None = None
    for index, event in enumerate(events):
        if event.at < cutoff:
            event.outdated = True
        if event.outdated:
            old_index = index
    if old_index is None:
        events.append(ScaleEvent(change, now))
    else:
        events[old_index] = ScaleEvent(change, now)
