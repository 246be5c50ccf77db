"""Defaults match what upstream stores for objects created the way kubectl creates them."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kubelite.schema.defaults import apply_defaults, generate_job_selector, image_pull_policy_for

Obj = dict[str, Any]


def test_kubectl_create_deployment_defaults() -> None:
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"labels": {"app": "x"}, "name": "x"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "x"}},
            "strategy": {},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {"containers": [{"image": "busybox", "name": "busybox", "resources": {}}]},
            },
        },
        "status": {},
    }
    apply_defaults("deployments", "apps", obj)
    assert obj["spec"] == {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "x"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
        "template": {
            "metadata": {"labels": {"app": "x"}},
            "spec": {
                "containers": [
                    {
                        "image": "busybox",
                        "name": "busybox",
                        "resources": {},
                        "imagePullPolicy": "Always",
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                    }
                ],
                "restartPolicy": "Always",
                "dnsPolicy": "ClusterFirst",
                "terminationGracePeriodSeconds": 30,
                "schedulerName": "default-scheduler",
                "securityContext": {},
            },
        },
    }
    assert "enableServiceLinks" not in obj["spec"]["template"]["spec"], "only Pods get enableServiceLinks"


def test_image_pull_policy() -> None:
    assert image_pull_policy_for("busybox") == "Always"
    assert image_pull_policy_for("busybox:latest") == "Always"
    assert image_pull_policy_for("busybox:1.36") == "IfNotPresent"
    assert image_pull_policy_for("registry.example.com:5000/team/app@sha256:" + "a" * 64) == "IfNotPresent"


def test_pod_defaults_and_requests_from_limits() -> None:
    obj: Obj = {"spec": {"containers": [{"name": "c", "image": "nginx:1", "resources": {"limits": {"cpu": "0.5"}}, "ports": [{"containerPort": 80}]}]}}
    apply_defaults("pods", "", obj)
    container = obj["spec"]["containers"][0]
    assert container["resources"] == {"limits": {"cpu": "500m"}, "requests": {"cpu": "500m"}}
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert obj["spec"]["enableServiceLinks"] is True


def test_every_container_gets_empty_resources_as_upstream_serializes_them() -> None:
    # kubectl apply sends no `resources`; kubectl rollout undo sends `resources: {}`: both must
    # store the same template, or the undone Deployment would not find its old ReplicaSet
    obj: Obj = {"spec": {"template": {"spec": {"initContainers": [{"name": "i", "image": "x:1"}], "containers": [{"name": "c", "image": "x:1"}]}}}}
    apply_defaults("deployments", "apps", obj)
    pod_spec = obj["spec"]["template"]["spec"]
    assert pod_spec["containers"][0]["resources"] == {} and pod_spec["initContainers"][0]["resources"] == {}


def test_service_defaults() -> None:
    obj: Obj = {"spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    apply_defaults("services", "", obj)
    assert obj["spec"] == {
        "type": "NodePort",
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
        "sessionAffinity": "None",
        "externalTrafficPolicy": "Cluster",
        "internalTrafficPolicy": "Cluster",
    }


def test_job_defaults_and_generated_selector() -> None:
    obj: Obj = {"metadata": {"name": "pi"}, "spec": {"selector": {"matchLabels": {"app": "pi"}}, "template": {"metadata": {"labels": {"app": "pi"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}}
    apply_defaults("jobs", "batch", obj)
    spec = obj["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert (spec["completionMode"], spec["suspend"], spec["manualSelector"]) == ("NonIndexed", False, False)
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert obj["metadata"]["labels"] == {"app": "pi"}
    generate_job_selector(obj, "u-1")
    assert spec["selector"] == {"matchLabels": {"app": "pi", "batch.kubernetes.io/controller-uid": "u-1"}}
    assert spec["template"]["metadata"]["labels"] == {
        "app": "pi",
        "batch.kubernetes.io/controller-uid": "u-1",
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "u-1",
        "job-name": "pi",
    }


def test_secret_string_data_is_merged_into_data() -> None:
    obj: Obj = {"data": {"a": base64.b64encode(b"old").decode()}, "stringData": {"a": "new", "b": "two"}}
    apply_defaults("secrets", "", obj)
    assert "stringData" not in obj
    assert obj["type"] == "Opaque"
    assert {k: base64.b64decode(v) for k, v in obj["data"].items()} == {"a": b"new", "b": b"two"}


def test_unknown_kinds_are_left_alone() -> None:
    obj: Obj = {"spec": {}}
    apply_defaults("widgets", "example.com", obj)
    assert obj == {"spec": {}}


@pytest.mark.parametrize(
    ("group", "resource", "counters"),
    [
        ("apps", "replicasets", ["replicas"]),
        ("apps", "statefulsets", ["replicas"]),
        ("", "replicationcontrollers", ["replicas"]),
        ("apps", "daemonsets", ["currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"]),
    ],
)
def test_status_counters_upstream_always_serializes_are_present(group: str, resource: str, counters: list[str]) -> None:
    """They are `required` in the OpenAPI schema: the official Python client rejects a watch event
    of a ReplicaSet whose status lacks `replicas`."""
    obj: dict[str, Any] = {"spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    apply_defaults(resource, group, obj)
    assert {c: obj["status"][c] for c in counters} == dict.fromkeys(counters, 0)
    obj["status"]["replicas" if "replicas" in counters else counters[0]] = 3
    apply_defaults(resource, group, obj)
    assert obj["status"]["replicas" if "replicas" in counters else counters[0]] == 3
