"""Workload kinds validate as upstream's apps/batch/core strategies do: messages and field paths."""

from __future__ import annotations

import copy
from typing import Any

from kubelite.schema.defaults import apply_defaults
from kubelite.schema.kindvalidation import validate_object

Obj = dict[str, Any]

SUBDOMAIN_BAD = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
    "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def errors(resource: str, group: str, obj: Obj, old: Obj | None = None) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in validate_object(resource, group, obj, old)]


def kubectl_deployment() -> Obj:
    """What `kubectl create deployment x --image=busybox` sends, defaulted as the server does."""
    obj: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"creationTimestamp": None, "labels": {"app": "x"}, "name": "x", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "x"}},
            "strategy": {},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": "x"}},
                "spec": {"containers": [{"image": "busybox", "name": "busybox", "resources": {}}]},
            },
        },
        "status": {},
    }
    apply_defaults("deployments", "apps", obj)
    return obj


def pod_template(labels: dict[str, str], restart: str = "Always") -> Obj:
    return {
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": restart,
            "dnsPolicy": "ClusterFirst",
            "terminationGracePeriodSeconds": 30,
            "containers": [
                {"name": "c", "image": "busybox", "terminationMessagePolicy": "File", "imagePullPolicy": "Always"}
            ],
        },
    }


# --------------------------------------------------------------------------- Deployment
def test_kubectl_created_deployment_is_valid_on_create_and_update() -> None:
    obj = kubectl_deployment()
    assert errors("deployments", "apps", obj) == []
    assert errors("deployments", "apps", copy.deepcopy(obj), obj) == []


def test_deployment_selector_must_match_template_labels() -> None:
    obj = kubectl_deployment()
    obj["spec"]["template"]["metadata"]["labels"] = {"app": "y"}
    assert errors("deployments", "apps", obj) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"y"}: '
        "`selector` does not match template `labels`"
    ]


def test_deployment_without_selector_reports_required_and_mismatch() -> None:
    obj = kubectl_deployment()
    del obj["spec"]["selector"]
    assert errors("deployments", "apps", obj) == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: '
        "`selector` does not match template `labels`",
    ]


def test_deployment_empty_selector_is_invalid() -> None:
    obj = kubectl_deployment()
    obj["spec"]["selector"] = {}
    assert errors("deployments", "apps", obj) == [
        "spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{},"
        "MatchExpressions:[]LabelSelectorRequirement{},}: empty selector is invalid for deployment"
    ]


def test_deployment_selector_is_immutable() -> None:
    old = kubectl_deployment()
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "x", "tier": "web"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "web"
    assert errors("deployments", "apps", new, old) == [
        "spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{app: x,tier: web,},"
        "MatchExpressions:[]LabelSelectorRequirement{},}: field is immutable"
    ]


def test_deployment_counts_and_strategy() -> None:
    obj = kubectl_deployment()
    obj["spec"]["replicas"] = -1
    obj["spec"]["revisionHistoryLimit"] = -2
    obj["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}
    assert errors("deployments", "apps", obj) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0%: may not be 0 when `maxSurge` is 0",
        "spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0",
    ]


def test_deployment_bad_percent_and_unknown_strategy() -> None:
    obj = kubectl_deployment()
    obj["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = "50x"
    assert errors("deployments", "apps", obj) == [
        "spec.strategy.rollingUpdate.maxSurge: Invalid value: 50x: a valid percent string must be a numeric "
        "string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
    ]
    obj["spec"]["strategy"] = {"type": "Blue"}
    assert errors("deployments", "apps", obj) == [
        'spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"Blue", '
        'RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", "RollingUpdate"'
    ]
    obj["spec"]["strategy"] = {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}
    assert errors("deployments", "apps", obj) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
    ]


def test_deployment_template_restart_policy_and_pod_spec() -> None:
    obj = kubectl_deployment()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = ""
    assert errors("deployments", "apps", obj) == [
        "spec.template.spec.containers[0].image: Required value",
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
    ]


def test_deployment_progress_deadline_must_exceed_min_ready() -> None:
    obj = kubectl_deployment()
    obj["spec"]["minReadySeconds"] = 600
    assert errors("deployments", "apps", obj) == [
        "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"
    ]


def test_deployment_bad_name_and_label() -> None:
    obj = kubectl_deployment()
    obj["metadata"]["name"] = "Bad_Name"
    obj["metadata"]["labels"] = {"-bad": "x"}
    assert errors("deployments", "apps", obj) == [
        f'metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN_BAD}',
        "metadata.labels: Invalid value: \"-bad\": name part must consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
        "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ]


def test_bad_selector_skips_template_validation() -> None:
    obj = kubectl_deployment()
    obj["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "In"}]}
    obj["spec"]["template"]["spec"]["containers"] = []
    assert errors("deployments", "apps", obj) == [
        "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
        "spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{},MatchExpressions:"
        "[]LabelSelectorRequirement{LabelSelectorRequirement{Key:app,Operator:In,Values:[],},},}: invalid label selector",
    ]


# --------------------------------------------------------------------------- ReplicaSet / DaemonSet / StatefulSet
def test_replica_set_empty_selector_message_says_deployment() -> None:
    obj = {"metadata": {"name": "r", "namespace": "d"}, "spec": {"replicas": 1, "selector": {}, "template": pod_template({"a": "b"})}}
    assert errors("replicasets", "apps", obj) == [
        "spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{},"
        "MatchExpressions:[]LabelSelectorRequirement{},}: empty selector is invalid for deployment"
    ]


def test_daemon_set_rolling_update_rules() -> None:
    obj: Obj = {
        "metadata": {"name": "d", "namespace": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": pod_template({"a": "b"}),
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}},
        },
    }
    assert errors("daemonsets", "apps", obj) == [
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"
    ]
    obj["spec"]["updateStrategy"]["rollingUpdate"] = {"maxUnavailable": 1, "maxSurge": "10%"}
    assert errors("daemonsets", "apps", obj) == [
        "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 10%: may not be set when maxUnavailable is non-zero"
    ]


def test_daemon_set_without_selector_reports_only_the_mismatch() -> None:
    obj = {
        "metadata": {"name": "d", "namespace": "d"},
        "spec": {"template": pod_template({"a": "b"}), "updateStrategy": {"type": "OnDelete"}},
    }
    assert errors("daemonsets", "apps", obj) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"a":"b"}: `selector` does not match template `labels`'
    ]


def statefulset() -> Obj:
    obj: Obj = {
        "metadata": {"name": "web", "namespace": "d"},
        "spec": {"serviceName": "web", "selector": {"matchLabels": {"a": "b"}}, "template": pod_template({"a": "b"})},
    }
    apply_defaults("statefulsets", "apps", obj)
    return obj


def test_stateful_set_name_is_a_dns_label_and_pod_spec_is_not_validated() -> None:
    obj = statefulset()
    obj["metadata"]["name"] = "web.v1"
    obj["spec"]["template"]["spec"]["containers"] = []
    assert errors("statefulsets", "apps", obj) == ['metadata.name: Invalid value: "web.v1": must not contain dots']


def test_stateful_set_update_forbids_other_spec_fields() -> None:
    old = statefulset()
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    assert errors("statefulsets", "apps", new, old) == []
    new["spec"]["serviceName"] = "other"
    assert errors("statefulsets", "apps", new, old) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    ]


def test_stateful_set_pod_management_policy() -> None:
    obj = statefulset()
    obj["spec"]["podManagementPolicy"] = "Random"
    assert errors("statefulsets", "apps", obj) == [
        "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"
    ]


# --------------------------------------------------------------------------- ReplicationController / PodTemplate
def test_replication_controller_rules() -> None:
    obj: Obj = {"metadata": {"name": "rc", "namespace": "d"}, "spec": {"replicas": 1, "selector": {"a": "c"}, "template": pod_template({"a": "b"})}}
    assert errors("replicationcontrollers", "", obj) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"a":"b"}: `selector` does not match template `labels`'
    ]
    obj["spec"] = {"replicas": 1}
    assert errors("replicationcontrollers", "", obj) == ["spec.selector: Required value", "spec.template: Required value"]


def test_pod_template_validates_its_template() -> None:
    obj = {"metadata": {"name": "pt", "namespace": "d"}, "template": pod_template({"a": "b"})}
    assert errors("podtemplates", "", obj) == []
    obj["template"]["spec"]["containers"][0]["name"] = ""
    assert errors("podtemplates", "", obj) == ["template.spec.containers[0].name: Required value"]


# --------------------------------------------------------------------------- Job / CronJob
def job(restart: str = "Never") -> Obj:
    obj: Obj = {
        "metadata": {"name": "pi", "namespace": "d", "uid": "uid-1"},
        "spec": {"template": {"spec": {"restartPolicy": restart, "containers": [{"name": "pi", "image": "perl"}]}}},
    }
    apply_defaults("jobs", "batch", obj)
    return obj


def test_job_create_generates_selector_before_validating() -> None:
    obj = job()
    assert "selector" not in obj["spec"]
    assert errors("jobs", "batch", obj) == []
    assert "selector" not in obj["spec"], "validation must not change the object"


def test_job_restart_policy_always_is_required_message() -> None:
    obj = job(restart="Always")
    assert errors("jobs", "batch", obj) == ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']


def test_job_user_selector_without_manual_selector_is_rejected() -> None:
    obj = job()
    obj["spec"]["selector"] = {"matchLabels": {"app": "x"}}
    obj["spec"]["template"]["metadata"] = {"labels": {"app": "x"}}
    assert errors("jobs", "batch", obj) == [
        "spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{app: x,"
        "batch.kubernetes.io/controller-uid: uid-1,},MatchExpressions:[]LabelSelectorRequirement{},}: "
        "`selector` not auto-generated"
    ]


def test_job_counts_and_template_immutability() -> None:
    from kubelite.schema.defaults import generate_job_selector

    old = job()
    generate_job_selector(old, "uid-1")
    new = copy.deepcopy(old)
    new["spec"]["parallelism"] = -1
    assert errors("jobs", "batch", new, old) == ["spec.parallelism: Invalid value: -1: must be greater than or equal to 0"]
    new = copy.deepcopy(old)
    new["spec"]["completions"] = 3
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5"
    found = errors("jobs", "batch", new, old)
    assert found[0] == "spec.completions: Invalid value: 3: field is immutable"
    assert found[1].startswith("spec.template: Invalid value: ") and found[1].endswith(": field is immutable")


def test_suspended_job_may_change_scheduling_directives() -> None:
    from kubelite.schema.defaults import generate_job_selector

    old = job()
    old["spec"]["suspend"] = True
    generate_job_selector(old, "uid-1")
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    assert errors("jobs", "batch", new, old) == []
    old["spec"]["suspend"] = False
    assert errors("jobs", "batch", new, old)[-1].endswith("field is immutable")


def cronjob(schedule: str) -> Obj:
    obj: Obj = {
        "metadata": {"name": "c", "namespace": "d"},
        "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": job("OnFailure")["spec"]["template"]}}},
    }
    apply_defaults("cronjobs", "batch", obj)
    return obj


def test_cronjob_schedules() -> None:
    assert errors("cronjobs", "batch", cronjob("*/5 * * * *")) == []
    assert errors("cronjobs", "batch", cronjob("@hourly")) == []
    assert errors("cronjobs", "batch", cronjob("* * *")) == [
        'spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]'
    ]
    assert errors("cronjobs", "batch", cronjob("TZ=UTC 0 * * * *")) == [
        'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead'
    ]
    assert errors("cronjobs", "batch", cronjob("")) == ["spec.schedule: Required value"]


def test_cronjob_policy_template_and_name_length() -> None:
    obj = cronjob("0 0 * * *")
    obj["spec"]["concurrencyPolicy"] = "Sometimes"
    obj["spec"]["jobTemplate"]["spec"]["selector"] = {"matchLabels": {"a": "b"}}
    obj["metadata"]["name"] = "n" * 53
    assert errors("cronjobs", "batch", obj) == [
        'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"',
        "spec.jobTemplate.spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{a: b,},"
        "MatchExpressions:[]LabelSelectorRequirement{},}: `selector` will be auto-generated",
        f'metadata.name: Invalid value: "{"n" * 53}": must be no more than 52 characters',
    ]


def test_cronjob_time_zone() -> None:
    obj = cronjob("0 0 * * *")
    obj["spec"]["timeZone"] = "Mars/Olympus"
    assert errors("cronjobs", "batch", obj) == ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus']
    obj["spec"]["timeZone"] = "Europe/Paris"
    assert errors("cronjobs", "batch", obj) == []


# --------------------------------------------------------------------------- ControllerRevision
def test_controller_revision_data_rules() -> None:
    obj: Obj = {"metadata": {"name": "r", "namespace": "d"}, "revision": -1}
    assert errors("controllerrevisions", "apps", obj) == [
        "data: Required value: data is mandatory",
        "revision: Invalid value: -1: must be greater than or equal to 0",
    ]
    old = {"metadata": {"name": "r", "namespace": "d"}, "revision": 1, "data": {"a": 1}}
    new = copy.deepcopy(old)
    new["data"] = {"a": 2}
    assert errors("controllerrevisions", "apps", new, old) == ['data: Invalid value: {"a":2}: field is immutable']
