"""The HPA's arithmetic (kubelite.controllers.replicacalc) on hand-made pods and samples, with the
numbers of upstream's replica_calculator_test.go and horizontal_test.go where they exist."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kubelite.controllers.metricsclient import PodMetric
from kubelite.controllers.replicacalc import (
    History,
    ReadinessWindows,
    Recommendation,
    ReplicaCalcError,
    ScaleEvent,
    Tolerances,
    default_scale_down_rules,
    default_scale_up_rules,
    group_pods,
    limit,
    limit_with_behavior,
    plain_replicas,
    pod_requests,
    record_initial_recommendation,
    resource_replicas,
    rules_with_defaults,
    scale_down_limit,
    scale_up_limit,
    stabilize,
    stabilize_with_behavior,
    store_scale_event,
    utilization_ratio,
)

Obj = dict[str, Any]

NOW = 1_750_000_000.0
WINDOWS = ReadinessWindows()
TOLERANCE = Tolerances(0.1, 0.1)


def stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def pod(
    name: str,
    cpu: str | None = "1",
    *,
    ready: str = "True",
    phase: str = "Running",
    started: float = NOW - 60,
    ready_since: float = NOW - 60,
    deleting: bool = False,
) -> Obj:
    resources = {"requests": {"cpu": cpu}} if cpu is not None else {}
    meta: Obj = {"name": name, "namespace": "ns"}
    if deleting:
        meta["deletionTimestamp"] = stamp(NOW)
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": "c", "resources": resources}]},
        "status": {
            "phase": phase,
            "startTime": stamp(started),
            "conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": stamp(ready_since)}],
        },
    }


def samples(values: dict[str, int], at: float = NOW, window: float = 30.0) -> dict[str, PodMetric]:
    return {name: PodMetric(value, at, window) for name, value in values.items()}


def cpu_replicas(current: int, target: int, pods: list[Obj], usage: dict[str, int]) -> tuple[int, int, int]:
    return resource_replicas(current, target, "cpu", TOLERANCE, pods, samples(usage), "", WINDOWS, NOW)


# --------------------------------------------------------------------------- resource utilization
def test_scale_up_on_utilization() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    assert cpu_replicas(3, 30, pods, {"a": 300, "b": 500, "c": 700}) == (5, 50, 500)


def test_scale_down_on_utilization() -> None:
    pods = [pod(name) for name in "abcde"]
    usage = dict(zip("abcde", (100, 300, 500, 250, 250), strict=True))
    assert cpu_replicas(5, 50, pods, usage) == (3, 28, 280)


def test_within_tolerance_keeps_the_count() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    assert cpu_replicas(3, 100, pods, {"a": 1050, "b": 1050, "c": 1050})[0] == 3
    assert cpu_replicas(3, 100, pods, {"a": 1120, "b": 1120, "c": 1120})[0] == 4


def test_unready_pods_count_as_zero_on_scale_up() -> None:
    """upstream TestReplicaCalcScaleUpUnreadyLessScale."""
    pods = [pod("a", ready="False"), pod("b"), pod("c")]
    assert cpu_replicas(3, 30, pods, {"a": 300, "b": 500, "c": 700}) == (4, 60, 600)


def test_unready_pods_are_ignored_on_scale_down() -> None:
    pods = [pod("a", ready="False"), pod("b"), pod("c")]
    # only b and c count: 10% against 50% -> ceil(0.2 * 2)
    assert cpu_replicas(3, 50, pods, {"a": 900, "b": 100, "c": 100}) == (1, 10, 100)


def test_pending_pods_are_unready_and_deleted_or_failed_ones_ignored() -> None:
    pods = [pod("a", phase="Pending"), pod("b", deleting=True), pod("c", phase="Failed"), pod("d"), pod("e")]
    groups = group_pods(pods, samples({"a": 1, "b": 1, "c": 1, "d": 1}), "cpu", WINDOWS, NOW)
    assert groups.ready_count == 1
    assert groups.unready == {"a"}
    assert groups.ignored == {"b", "c"}
    assert groups.missing == {"e"}


def test_cpu_sample_taken_too_soon_after_readiness_is_unready() -> None:
    fresh = pod("a", started=NOW - 60, ready_since=NOW - 10)  # sample window 30s not yet after ready
    settled = pod("b", started=NOW - 60, ready_since=NOW - 50)
    groups = group_pods([fresh, settled], samples({"a": 1, "b": 1}), "cpu", WINDOWS, NOW)
    assert groups.unready == {"a"} and groups.ready_count == 1
    # memory samples do not care about readiness
    assert group_pods([fresh], samples({"a": 1}), "memory", WINDOWS, NOW).ready_count == 1


def test_after_initialization_only_never_ready_pods_are_unready() -> None:
    windows = ReadinessWindows(cpu_initialization_period=300, delay_of_initial_readiness_status=30)
    never_ready = pod("a", ready="False", started=NOW - 600, ready_since=NOW - 590)
    went_unready = pod("b", ready="False", started=NOW - 600, ready_since=NOW - 100)
    no_start = pod("c")
    no_start["status"].pop("startTime")
    groups = group_pods(
        [never_ready, went_unready, no_start], samples({"a": 1, "b": 1, "c": 1}), "cpu", windows, NOW
    )
    assert groups.unready == {"a", "c"}
    assert groups.ready_count == 1


def test_missing_metrics_count_as_zero_on_scale_up() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    # 90% of requests on a and b (target 50): with c at 0 it is 60% -> ceil(1.2 * 3)
    assert cpu_replicas(3, 50, pods, {"a": 900, "b": 900}) == (4, 90, 900)


def test_missing_metrics_count_as_the_whole_request_on_scale_down() -> None:
    pods = [pod(name) for name in "abcd"]
    # 10% on a, b, c; d counted at 100%: 1300/4000 = 32% against 50% -> ceil(0.64 * 4)
    assert cpu_replicas(4, 50, pods, {"a": 100, "b": 100, "c": 100}) == (3, 10, 100)


def test_missing_metrics_use_the_target_when_it_is_above_100_percent() -> None:
    pods = [pod(name) for name in "abcd"]
    # d counted at 200%: (300 + 2000) / 4000 = 57% against 200% -> ceil(0.285 * 4)
    assert cpu_replicas(4, 200, pods, {"a": 100, "b": 100, "c": 100}) == (2, 10, 100)


def test_missing_metrics_that_would_flip_the_direction_keep_the_count() -> None:
    pods = [pod(name) for name in "abcde"]
    # 60% on two pods (target 50) looks like a scale-up; three silent pods at 0 make it 24%
    assert cpu_replicas(5, 50, pods, {"a": 600, "b": 600})[0] == 5


def test_errors_carry_upstream_messages() -> None:
    with pytest.raises(
        ReplicaCalcError, match="^no pods returned by selector while calculating replica count$"
    ):
        cpu_replicas(1, 50, [], {"a": 1})
    with pytest.raises(
        ReplicaCalcError, match=r"^did not receive metrics for targeted pods \(pods might be unready\)$"
    ):
        cpu_replicas(1, 50, [pod("a", phase="Pending")], {"a": 1})
    with pytest.raises(ReplicaCalcError, match="^missing request for cpu in container c of Pod a$"):
        cpu_replicas(1, 50, [pod("a", cpu=None)], {"a": 1})
    with pytest.raises(ReplicaCalcError, match="^no metrics returned matched known pods$"):
        utilization_ratio(samples({"other": 100}), {"a": 1000}, 50)


def test_requests_sum_containers_and_sidecars_or_one_container() -> None:
    spec = {
        "containers": [
            {"name": "app", "resources": {"requests": {"cpu": "250m"}}},
            {"name": "log", "resources": {"requests": {"cpu": "0.5"}}},
        ],
        "initContainers": [
            {"name": "init", "resources": {"requests": {"cpu": "2"}}},
            {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
        ],
    }
    pods = [{"metadata": {"name": "p"}, "spec": spec}]
    assert pod_requests(pods, "", "cpu") == {"p": 850}
    assert pod_requests(pods, "log", "cpu") == {"p": 500}
    with pytest.raises(ReplicaCalcError, match="^container nope not found in Pod p$"):
        pod_requests(pods, "nope", "cpu")


def test_average_value_targets() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    usage = samples({"a": 400, "b": 500, "c": 600})
    assert plain_replicas(3, 250, "cpu", TOLERANCE, pods, usage, WINDOWS, NOW) == (6, 500)
    assert plain_replicas(3, 500, "cpu", TOLERANCE, pods, usage, WINDOWS, NOW) == (3, 500)
    # a silent pod counts as exactly the target on a scale-down: (100 + 100 + 1000) / 3 = 400 vs 1000
    down = samples({"a": 100, "b": 100})
    assert plain_replicas(3, 1000, "memory", TOLERANCE, pods, down, WINDOWS, NOW) == (2, 100)


def test_asymmetric_tolerances() -> None:
    pods = [pod("a"), pod("b")]
    loose_up = Tolerances(0.1, 0.5)
    assert (
        resource_replicas(2, 50, "cpu", loose_up, pods, samples({"a": 700, "b": 700}), "", WINDOWS, NOW)[0]
        == 2
    )
    assert (
        resource_replicas(2, 50, "cpu", loose_up, pods, samples({"a": 800, "b": 800}), "", WINDOWS, NOW)[0]
        == 4
    )


# --------------------------------------------------------------------------- normalization without behavior
def test_limit_without_behavior() -> None:
    assert limit(2, 10, 1, 20) == (
        4,
        "ScaleUpLimit",
        "the desired replica count is increasing faster than the maximum scale rate",
    )
    assert limit(5, 12, 1, 20) == (
        10,
        "ScaleUpLimit",
        "the desired replica count is increasing faster than the maximum scale rate",
    )
    assert limit(5, 12, 1, 8) == (
        8,
        "TooManyReplicas",
        "the desired replica count is more than the maximum replica count",
    )
    assert limit(5, 1, 2, 8) == (
        2,
        "TooFewReplicas",
        "the desired replica count is less than the minimum replica count",
    )
    assert limit(5, 3, 2, 8) == (3, "DesiredWithinRange", "the desired count is within the acceptable range")


def test_stabilization_keeps_the_highest_recommendation_of_the_window() -> None:
    history = History()
    record_initial_recommendation(history, 5, 0.0)
    record_initial_recommendation(history, 9, 0.0)  # only the first call counts
    assert stabilize(history, 2, 300.0, 15.0) == 5
    assert stabilize(history, 3, 300.0, 300.0) == 5
    # at 301 the initial 5 is out of the window; its slot is reused for the new sample
    assert stabilize(history, 1, 300.0, 301.0) == 3
    assert [r.replicas for r in history.recommendations] == [1, 2, 3]


# --------------------------------------------------------------------------- behavior
def test_stabilization_with_behavior_windows() -> None:
    history = History([Recommendation(4, 0.0), Recommendation(8, 50.0)])
    # scale-up window 60s: the lowest recent recommendation (4) caps the rise
    assert stabilize_with_behavior(history, 10, 4, 60.0, 0.0, 55.0) == (
        4,
        "ScaleUpStabilized",
        "recent recommendations were lower than current one, applying the lowest recent recommendation",
    )
    # scale-down window 300s: the highest recent recommendation holds the count
    history = History([Recommendation(6, 0.0)])
    assert stabilize_with_behavior(history, 2, 6, 0.0, 300.0, 100.0) == (
        6,
        "ScaleDownStabilized",
        "recent recommendations were higher than current one, applying the highest recent recommendation",
    )
    # both windows passed: the proposal goes through and replaces the old sample
    history = History([Recommendation(6, 0.0)])
    assert stabilize_with_behavior(history, 2, 6, 0.0, 300.0, 400.0)[0] == 2
    assert [(r.replicas, r.at) for r in history.recommendations] == [(2, 400.0)]


def test_rules_defaults() -> None:
    up = rules_with_defaults(
        {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}, default_scale_up_rules()
    )
    assert up == {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
    }
    down = rules_with_defaults(None, default_scale_down_rules(300))
    assert down["stabilizationWindowSeconds"] == 300
    assert down["policies"] == [{"type": "Percent", "value": 100, "periodSeconds": 15}]


def test_scale_up_limit_policies() -> None:
    rules = default_scale_up_rules()  # max(+4 pods, +100%) per 15s
    assert scale_up_limit(1, History(), rules, 100.0) == 5
    assert scale_up_limit(10, History(), rules, 100.0) == 20
    assert scale_up_limit(10, History(), {**rules, "selectPolicy": "Min"}, 100.0) == 14
    assert scale_up_limit(10, History(), {**rules, "selectPolicy": "Disabled"}, 100.0) == 10
    # 6 pods were added 10s ago: the period started at 4 replicas
    history = History(scale_ups=[ScaleEvent(6, 90.0)])
    assert scale_up_limit(10, history, rules, 100.0) == 8
    assert scale_up_limit(10, history, rules, 105.0) == 20  # exactly one period later it no longer counts


def test_scale_down_limit_policies() -> None:
    rules = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 30, "periodSeconds": 60}]}
    assert scale_down_limit(10, History(), rules, 0.0) == 7
    assert scale_down_limit(5, History(), rules, 0.0) == 3  # int32(5 * 0.7) truncates
    history = History(scale_downs=[ScaleEvent(3, 0.0)])
    assert scale_down_limit(7, history, rules, 30.0) == 7
    pods_and_percent = {
        "selectPolicy": "Min",
        "policies": [
            {"type": "Pods", "value": 1, "periodSeconds": 60},
            {"type": "Percent", "value": 50, "periodSeconds": 60},
        ],
    }
    assert scale_down_limit(10, History(), pods_and_percent, 0.0) == 9
    assert scale_down_limit(10, History(), {**pods_and_percent, "selectPolicy": "Max"}, 0.0) == 5


def test_limit_with_behavior() -> None:
    up = {"selectPolicy": "Max", "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]}
    down = {"selectPolicy": "Disabled", "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}
    assert limit_with_behavior(3, 10, 1, 20, History(), up, down, 0.0) == (
        5,
        "ScaleUpLimit",
        "the desired replica count is increasing faster than the maximum scale rate",
    )
    assert limit_with_behavior(3, 10, 1, 4, History(), up, down, 0.0)[:2] == (4, "TooManyReplicas")
    assert limit_with_behavior(3, 1, 1, 4, History(), up, down, 0.0) == (
        3,
        "ScaleDownLimit",
        "the desired replica count is decreasing faster than the maximum scale rate",
    )
    open_down = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
    assert limit_with_behavior(3, 1, 2, 4, History(), up, open_down, 0.0)[:2] == (2, "TooFewReplicas")
    assert limit_with_behavior(3, 3, 2, 4, History(), up, open_down, 0.0)[:2] == (3, "DesiredWithinRange")


def test_scale_events_reuse_outdated_slots() -> None:
    up = {"policies": [{"type": "Pods", "value": 4, "periodSeconds": 60}]}
    down = {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 15}]}
    history = History()
    store_scale_event(history, up, down, 1, 3, 0.0)
    store_scale_event(history, up, down, 3, 5, 30.0)
    assert [(e.change, e.at) for e in history.scale_ups] == [(2, 0.0), (2, 30.0)]
    store_scale_event(history, up, down, 5, 6, 61.0)  # the first one is older than the longest period
    assert [(e.change, e.at) for e in history.scale_ups] == [(1, 61.0), (2, 30.0)]
    store_scale_event(history, up, down, 6, 4, 62.0)
    assert [(e.change, e.at) for e in history.scale_downs] == [(2, 62.0)]
