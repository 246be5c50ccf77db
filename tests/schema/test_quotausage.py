"""Quota usage evaluators and resource-list arithmetic, against upstream's evaluators' behaviour."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.schema.quotausage import (
    QuotaRejection,
    add,
    calculate_usage,
    check_request,
    evaluator_for,
    evaluators_for_names,
    format_list,
    less_than_or_equal,
    object_count_name,
    parse_list,
    parse_object_count_name,
    pod_limits,
    pod_requests,
    pretty_print,
    subtract_non_negative,
)

Obj = dict[str, Any]
NOW = 1_700_000_000.0


def container(
    name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None, **extra: Any
) -> Obj:
    resources: Obj = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": name, "image": "img", "resources": resources, **extra}


def pod(*containers: Obj, init: tuple[Obj, ...] = (), **spec: Any) -> Obj:
    body: Obj = {"containers": list(containers), **spec}
    if init:
        body["initContainers"] = list(init)
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": body, "status": {"phase": "Pending"}}


def quota(name: str, hard: dict[str, str], used: dict[str, str] | None = None, **spec: Any) -> Obj:
    status: Obj = {"hard": hard}
    if used is not None:
        status["used"] = used
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": {"hard": hard, **spec}, "status": status}


def shown(items: Any) -> dict[str, str]:
    return format_list(items)


# --------------------------------------------------------------------------- arithmetic
def test_add_keeps_the_format_of_the_left_side_unless_it_is_zero() -> None:
    total = add(parse_list({"cpu": "500m", "memory": "0"}), parse_list({"cpu": "500m", "memory": "128Mi"}))
    assert shown(total) == {"cpu": "1", "memory": "128Mi"}
    assert shown(add(parse_list({"memory": "128Mi"}), parse_list({"memory": "128Mi"}))) == {"memory": "256Mi"}


def test_subtract_never_goes_below_zero_and_keeps_names_of_both() -> None:
    result = subtract_non_negative(
        parse_list({"pods": "1", "cpu": "1"}), parse_list({"cpu": "2", "memory": "1Gi"})
    )
    assert shown(result) == {"pods": "1", "cpu": "0", "memory": "0"}


def test_less_than_or_equal_names_what_exceeds_and_ignores_names_b_lacks() -> None:
    ok, exceeded = less_than_or_equal(
        parse_list({"pods": "3", "cpu": "1", "other": "9"}), parse_list({"pods": "2", "cpu": "1"})
    )
    assert (ok, exceeded) == (False, ["pods"])
    assert less_than_or_equal(parse_list({"pods": "2"}), parse_list({"pods": "2"})) == (True, [])


def test_pretty_print_sorts_by_name() -> None:
    assert pretty_print(parse_list({"requests.cpu": "500m", "pods": "1"})) == "pods=1,requests.cpu=500m"


def test_object_count_names() -> None:
    assert object_count_name("", "pods") == "count/pods"
    assert object_count_name("apps", "deployments") == "count/deployments.apps"
    assert parse_object_count_name("count/deployments.apps") == ("apps", "deployments")
    assert parse_object_count_name("count/widgets.example.com") == ("example.com", "widgets")
    assert parse_object_count_name("pods") is None


# --------------------------------------------------------------------------- pod resources
def test_pod_requests_sum_containers_and_take_the_init_peak() -> None:
    p = pod(
        container("a", {"cpu": "100m", "memory": "64Mi"}),
        container("b", {"cpu": "200m"}),
        init=(container("i", {"cpu": "500m", "memory": "32Mi"}),),
        overhead={"cpu": "10m"},
    )
    assert shown(pod_requests(p)) == {"cpu": "510m", "memory": "64Mi"}
    assert shown(pod_requests(p, overhead=False)) == {"cpu": "500m", "memory": "64Mi"}


def test_sidecars_add_to_everything_after_them() -> None:
    p = pod(
        container("main", {"cpu": "100m"}),
        init=(
            container("side", {"cpu": "200m"}, restartPolicy="Always"),
            container("setup", {"cpu": "250m"}),
        ),
    )
    # running: main + side = 300m; while setup runs: setup + side = 450m
    assert shown(pod_requests(p)) == {"cpu": "450m"}


def test_pod_limits_get_overhead_only_where_a_limit_is_set() -> None:
    p = pod(container("a", limits={"cpu": "1"}), overhead={"cpu": "100m", "memory": "10Mi"})
    assert shown(pod_limits(p)) == {"cpu": "1100m"}


# --------------------------------------------------------------------------- evaluators
def test_pod_usage_counts_compute_and_the_object() -> None:
    p = pod(
        container(
            "a",
            {"cpu": "250m", "memory": "64Mi", "hugepages-2Mi": "4Mi", "example.com/gpu": "1"},
            {"cpu": "500m"},
        )
    )
    assert shown(evaluator_for("", "pods").usage(p, NOW)) == {
        "count/pods": "1",
        "pods": "1",
        "cpu": "250m",
        "requests.cpu": "250m",
        "limits.cpu": "500m",
        "memory": "64Mi",
        "requests.memory": "64Mi",
        "hugepages-2Mi": "4Mi",
        "requests.hugepages-2Mi": "4Mi",
        "requests.example.com/gpu": "1",
    }


@pytest.mark.parametrize(
    "status,meta",
    [
        ({"phase": "Succeeded"}, {}),
        ({"phase": "Failed"}, {}),
        (
            {"phase": "Running"},
            {"deletionTimestamp": "2023-11-14T22:00:00Z", "deletionGracePeriodSeconds": 30},
        ),
    ],
)
def test_terminal_or_overdue_pods_count_only_as_objects(status: Obj, meta: Obj) -> None:
    p = pod(container("a", {"cpu": "1"}))
    p["status"] = status
    p["metadata"].update(meta)
    assert shown(evaluator_for("", "pods").usage(p, NOW)) == {"count/pods": "1"}


def test_a_pod_within_its_grace_period_still_counts() -> None:
    p = pod(container("a", {"cpu": "1"}))
    p["metadata"].update({"deletionTimestamp": "2023-11-14T22:13:10Z", "deletionGracePeriodSeconds": 30})
    assert "pods" in evaluator_for("", "pods").usage(p, NOW)


def test_service_usage_by_type() -> None:
    ports = [{"port": 80}, {"port": 443}]
    services = evaluator_for("", "services")
    assert shown(services.usage({"spec": {"type": "ClusterIP", "ports": ports}}, NOW)) == {
        "count/services": "1",
        "services": "1",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }
    lb = shown(services.usage({"spec": {"type": "LoadBalancer", "ports": ports}}, NOW))
    assert (lb["services.loadbalancers"], lb["services.nodeports"]) == ("1", "2")


def test_claim_usage_by_storage_class_rounded_to_whole_bytes() -> None:
    claim = {
        "metadata": {},
        "spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "1500m"}}},
    }
    assert shown(evaluator_for("", "persistentvolumeclaims").usage(claim, NOW)) == {
        "persistentvolumeclaims": "1",
        "count/persistentvolumeclaims": "1",
        "gold.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
        "requests.storage": "2",
        "gold.storageclass.storage.k8s.io/requests.storage": "2",
    }


def test_claim_usage_takes_a_larger_allocation() -> None:
    claim = {
        "spec": {"resources": {"requests": {"storage": "1Gi"}}},
        "status": {"allocatedResources": {"storage": "2Gi"}},
    }
    assert shown(evaluator_for("", "persistentvolumeclaims").usage(claim, NOW))["requests.storage"] == "2Gi"


def test_object_count_evaluators_with_legacy_names() -> None:
    assert shown(evaluator_for("", "configmaps").usage({}, NOW)) == {
        "count/configmaps": "1",
        "configmaps": "1",
    }
    assert shown(evaluator_for("apps", "deployments").usage({}, NOW)) == {"count/deployments.apps": "1"}
    assert evaluator_for("apps", "deployments").handles({}, None)
    assert not evaluator_for("apps", "deployments").handles({}, {})


def test_matching_resources() -> None:
    pods = evaluator_for("", "pods")
    names = [
        "pods",
        "requests.cpu",
        "services",
        "requests.example.com/gpu",
        "requests.storage",
        "hugepages-1Gi",
    ]
    assert pods.matching_resources(names) == [
        "pods",
        "requests.cpu",
        "requests.example.com/gpu",
        "hugepages-1Gi",
    ]
    claims = evaluator_for("", "persistentvolumeclaims")
    assert claims.matching_resources(
        ["requests.storage", "gold.storageclass.storage.k8s.io/requests.storage", "pods"]
    ) == [
        "requests.storage",
        "gold.storageclass.storage.k8s.io/requests.storage",
    ]


def test_evaluators_for_names_include_object_counts_of_any_resource() -> None:
    found = {
        (e.group, e.resource): names
        for e, names in evaluators_for_names(["pods", "count/pods", "count/jobs.batch", "secrets"])
    }
    assert found == {
        ("", "pods"): ["pods", "count/pods"],
        ("", "secrets"): ["secrets"],
        ("batch", "jobs"): ["count/jobs.batch"],
    }


@pytest.mark.parametrize(
    "selector,spec,expected",
    [
        ({"scopeName": "BestEffort", "operator": "Exists"}, {}, True),
        ({"scopeName": "NotBestEffort", "operator": "Exists"}, {}, False),
        ({"scopeName": "Terminating", "operator": "Exists"}, {"activeDeadlineSeconds": 10}, True),
        ({"scopeName": "NotTerminating", "operator": "Exists"}, {"activeDeadlineSeconds": 10}, False),
        ({"scopeName": "PriorityClass", "operator": "Exists"}, {"priorityClassName": "high"}, True),
        ({"scopeName": "PriorityClass", "operator": "Exists"}, {}, False),
        (
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]},
            {"priorityClassName": "high"},
            True,
        ),
        (
            {"scopeName": "PriorityClass", "operator": "NotIn", "values": ["high"]},
            {"priorityClassName": "high"},
            False,
        ),
        ({"scopeName": "PriorityClass", "operator": "NotIn", "values": ["high"]}, {}, True),
        ({"scopeName": "PriorityClass", "operator": "DoesNotExist"}, {}, True),
    ],
)
def test_pod_scopes(selector: Obj, spec: Obj, expected: bool) -> None:
    p = pod(container("a"), **spec)
    assert evaluator_for("", "pods").matches_scope(selector, p) is expected


def test_best_effort_depends_on_cpu_and_memory_only() -> None:
    scope = {"scopeName": "BestEffort", "operator": "Exists"}
    pods = evaluator_for("", "pods")
    assert pods.matches_scope(scope, pod(container("a", {"example.com/gpu": "1"})))
    assert not pods.matches_scope(scope, pod(container("a", limits={"memory": "1Gi"})))


def test_constraints_name_missing_resources_per_container() -> None:
    p = pod(container("c2", {"cpu": "1"}), container("c1"), init=(container("i1", {"memory": "1Gi"}),))
    message = evaluator_for("", "pods").constraints(["limits.cpu", "requests.memory", "pods"], p)
    assert message == "must specify limits.cpu for: c1,c2,i1; requests.memory for: c1,c2"


# --------------------------------------------------------------------------- check_request
def test_check_request_charges_matching_quotas() -> None:
    quotas = [quota("q", {"pods": "2", "requests.cpu": "1"}, {"pods": "1", "requests.cpu": "500m"})]
    (charge,) = check_request(
        quotas, evaluator_for("", "pods"), pod(container("a", {"cpu": "250m"})), None, NOW
    )
    assert charge.quota == "q"
    assert shown(charge.delta)["requests.cpu"] == "250m"


def test_check_request_exceeded_message() -> None:
    quotas = [quota("q", {"pods": "2", "requests.cpu": "1"}, {"pods": "2", "requests.cpu": "900m"})]
    with pytest.raises(QuotaRejection) as caught:
        check_request(quotas, evaluator_for("", "pods"), pod(container("a", {"cpu": "250m"})), None, NOW)
    assert str(caught.value) == (
        "exceeded quota: q, requested: pods=1,requests.cpu=250m, used: pods=2,requests.cpu=900m, "
        "limited: pods=2,requests.cpu=1"
    )


def test_check_request_failed_and_unknown() -> None:
    pods = evaluator_for("", "pods")
    with pytest.raises(QuotaRejection, match=r"^failed quota: q: must specify requests.cpu for: a$"):
        check_request(
            [quota("q", {"requests.cpu": "1"}, {"requests.cpu": "0"})], pods, pod(container("a")), None, NOW
        )
    with pytest.raises(QuotaRejection, match=r"^status unknown for quota: q, resources: pods$"):
        check_request([quota("q", {"pods": "1"})], pods, pod(container("a")), None, NOW)


def test_quota_without_status_hard_or_with_other_scopes_is_ignored() -> None:
    pods = evaluator_for("", "pods")
    fresh = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "0"}}}
    assert check_request([fresh], pods, pod(container("a")), None, NOW) == []
    terminating = quota("t", {"pods": "0"}, {"pods": "0"}, scopes=["Terminating"])
    assert check_request([terminating], pods, pod(container("a")), None, NOW) == []


def test_update_charges_only_the_growth() -> None:
    claims = evaluator_for("", "persistentvolumeclaims")
    old = {"metadata": {"resourceVersion": "5"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}
    new = {"metadata": {"resourceVersion": "5"}, "spec": {"resources": {"requests": {"storage": "3Gi"}}}}
    quotas = [
        quota(
            "q",
            {"requests.storage": "10Gi", "persistentvolumeclaims": "1"},
            {"requests.storage": "1Gi", "persistentvolumeclaims": "1"},
        )
    ]
    (charge,) = check_request(quotas, claims, new, old, NOW)
    assert shown(charge.delta) == {"requests.storage": "2Gi"}
    assert check_request(quotas, claims, old, old, NOW) == []


def test_calculate_usage_sums_matching_objects_of_the_hard_names() -> None:
    q = quota(
        "q", {"pods": "10", "requests.memory": "1Gi", "count/configmaps": "5"}, scopes=["NotBestEffort"]
    )
    pods = [
        pod(container("a", {"memory": "128Mi"})),
        pod(container("b", {"memory": "128Mi"})),
        pod(container("c")),  # BestEffort: out of scope
    ]

    def objects_of(evaluator: Any) -> list[Obj]:
        return pods if evaluator.resource == "pods" else [{"metadata": {"name": "cm"}}]

    used = calculate_usage(q, objects_of, NOW)
    # configmaps are not pods: a NotBestEffort scope matches none of them
    assert shown(used) == {"pods": "2", "requests.memory": "256Mi", "count/configmaps": "0"}
