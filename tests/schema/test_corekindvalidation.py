"""Core-group kinds (pods, config, secrets, namespaces, nodes, events, quotas, limits, volumes)
validate with upstream's messages and field paths."""

from __future__ import annotations

import base64
import copy
from typing import Any

from kubelite.schema.defaults import apply_defaults
from kubelite.schema.kindvalidation import validate_object

Obj = dict[str, Any]


def errors(resource: str, obj: Obj, old: Obj | None = None, group: str = "") -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in validate_object(resource, group, obj, old)]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --------------------------------------------------------------------------- Pod
def pod() -> Obj:
    obj: Obj = {"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    apply_defaults("pods", "", obj)
    return obj


def test_pod_create_and_update() -> None:
    obj = pod()
    assert errors("pods", obj) == []
    bad = copy.deepcopy(obj)
    bad["spec"]["containers"][0]["image"] = ""
    assert errors("pods", bad) == ["spec.containers[0].image: Required value"]
    changed = copy.deepcopy(obj)
    changed["spec"]["containers"][0]["image"] = "nginx:2"
    assert errors("pods", changed, obj) == []
    changed["spec"]["restartPolicy"] = "Never"
    found = errors("pods", changed, obj)
    assert len(found) == 1 and found[0].startswith("spec: Forbidden: pod updates may not change fields other than")


def test_pod_namespace_is_required() -> None:
    obj = pod()
    del obj["metadata"]["namespace"]
    assert errors("pods", obj) == ["metadata.namespace: Required value"]


# --------------------------------------------------------------------------- ConfigMap / Secret
def test_config_map_keys_and_duplicates() -> None:
    obj = {"metadata": {"name": "cm", "namespace": "d"}, "data": {"bad key": "x", "both": "y"}, "binaryData": {"both": b64("z")}}
    assert errors("configmaps", obj) == [
        "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, "
        "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        'data[both]: Invalid value: "both": duplicate of key present in binaryData',
    ]


def test_config_map_total_size() -> None:
    obj = {"metadata": {"name": "cm", "namespace": "d"}, "data": {"a": "x" * (1024 * 1024), "b": "y"}}
    assert errors("configmaps", obj) == ["[]: Too long: may not be more than 1048576 bytes"]


def test_immutable_config_map() -> None:
    old = {"metadata": {"name": "cm", "namespace": "d"}, "data": {"a": "1"}, "immutable": True}
    new = {"metadata": {"name": "cm", "namespace": "d"}, "data": {"a": "2"}}
    assert errors("configmaps", new, old) == [
        "immutable: Forbidden: field is immutable when `immutable` is set",
        "data: Forbidden: field is immutable when `immutable` is set",
    ]


def test_secret_type_rules() -> None:
    tls = {"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls", "data": {"tls.crt": b64("c")}}
    assert errors("secrets", tls) == ["data[tls.key]: Required value"]
    token = {"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/service-account-token"}
    assert errors("secrets", token) == ["metadata.annotations[kubernetes.io/service-account.name]: Required value"]
    basic = {"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/basic-auth", "data": {}}
    assert errors("secrets", basic) == ["data[username]: Required value", "data[password]: Required value"]


def test_secret_type_is_immutable() -> None:
    old = {"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque", "data": {"a": b64("1")}}
    new = {**old, "type": "kubernetes.io/tls", "data": {"tls.crt": b64("c"), "tls.key": b64("k")}}
    assert errors("secrets", new, old) == ['type: Invalid value: "kubernetes.io/tls": field is immutable']


def test_secret_size_counts_decoded_bytes() -> None:
    payload = b64("x" * (600 * 1024))
    obj = {"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque", "data": {"a": payload}}
    assert errors("secrets", obj) == []
    obj["data"]["b"] = payload
    assert errors("secrets", obj) == ["data: Too long: may not be more than 1048576 bytes"]


# --------------------------------------------------------------------------- Namespace / ServiceAccount / Node
def test_namespace_name_and_finalizers() -> None:
    obj = {"metadata": {"name": "my.ns"}, "spec": {"finalizers": ["custom"]}}
    assert errors("namespaces", obj) == [
        'metadata.name: Invalid value: "my.ns": must not contain dots',
        'spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified',
    ]
    assert errors("namespaces", {"metadata": {"name": "ok", "namespace": "x"}}) == [
        "metadata.namespace: Forbidden: not allowed on this type"
    ]


def test_service_account_name() -> None:
    assert errors("serviceaccounts", {"metadata": {"name": "builder", "namespace": "d"}}) == []
    assert errors("serviceaccounts", {"metadata": {"name": "Builder", "namespace": "d"}})[0].startswith(
        'metadata.name: Invalid value: "Builder": a lowercase RFC 1123 subdomain'
    )


def test_node_taints_use_upstreams_metadata_path() -> None:
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    obj = {"metadata": {"name": "n1"}, "spec": {"taints": [taint, dict(taint), {"key": "k", "effect": "Sometimes"}]}}
    assert errors("nodes", obj) == [
        'metadata.taints[1]: Duplicate value: core.Taint{Key:"dedicated", Value:"gpu", Effect:"NoSchedule", '
        "TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair",
        'metadata.taints[2].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
    ]


def test_node_pod_cidr_is_immutable_once_set() -> None:
    old = {"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.244.0.0/24"]}}
    new = {"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.244.1.0/24"]}}
    assert errors("nodes", new, old) == ['spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid']


# --------------------------------------------------------------------------- Event
def test_core_event_namespace_must_match_involved_object() -> None:
    obj = {"metadata": {"name": "e", "namespace": "default"}, "involvedObject": {"kind": "Pod", "namespace": "other"}}
    assert errors("events", obj) == ['involvedObject.namespace: Invalid value: "other": does not match event.namespace']
    obj["involvedObject"]["namespace"] = "default"
    assert errors("events", obj) == []


def test_events_k8s_io_event_needs_reporting_fields() -> None:
    obj = {"metadata": {"name": "e", "namespace": "default"}, "eventTime": "2024-01-01T00:00:00.000000Z", "type": "Normal", "regarding": {"namespace": "default"}}
    assert errors("events", obj, group="events.k8s.io") == [
        "reportingController: Required value",
        "reportingController: Invalid value: \"\": name part must be non-empty",
        "reportingController: Invalid value: \"\": name part must consist of alphanumeric characters, '-', '_' or '.', "
        "and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
        "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        "reportingInstance: Required value",
        "action: Required value",
        "reason: Required value",
    ]


# --------------------------------------------------------------------------- ResourceQuota / LimitRange
def test_resource_quota_names_and_scopes() -> None:
    obj = {"metadata": {"name": "q", "namespace": "d"}, "spec": {"hard": {"widgets": "1", "pods": "1.5"}, "scopes": ["BestEffort", "NotBestEffort"]}}
    assert errors("resourcequotas", obj) == [
        'spec.hard[widgets]: Invalid value: "widgets": must be a standard resource type or fully qualified',
        'spec.hard[widgets]: Invalid value: "widgets": must be a standard resource for quota',
        "spec.hard[pods]: Invalid value: 1500m: must be an integer",
        'spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort", "NotBestEffort"}: conflicting scopes',
    ]


def test_limit_range_min_max() -> None:
    obj = {"metadata": {"name": "l", "namespace": "d"}, "spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}}
    apply_defaults("limitranges", "", obj)
    found = errors("limitranges", obj)
    assert found[0] == "spec.limits[0].min[cpu]: Invalid value: 2: min value 2 is greater than max value 1"


# --------------------------------------------------------------------------- PersistentVolume / Claim
def pvc(size: str = "1Gi") -> Obj:
    obj: Obj = {
        "metadata": {"name": "data", "namespace": "d"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }
    apply_defaults("persistentvolumeclaims", "", obj)
    return obj


def test_pvc_spec_rules() -> None:
    assert errors("persistentvolumeclaims", pvc()) == []
    bad = pvc()
    bad["spec"]["accessModes"] = []
    bad["spec"]["resources"] = {}
    assert errors("persistentvolumeclaims", bad) == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value",
    ]


def test_unbound_pvc_spec_is_immutable() -> None:
    old = pvc()
    new = pvc("2Gi")
    found = errors("persistentvolumeclaims", new, old)
    assert len(found) == 1
    assert found[0].startswith(
        "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"
    )
    old["status"]["phase"] = new["status"]["phase"] = "Bound"
    assert errors("persistentvolumeclaims", new, old) == []


def test_persistent_volume_needs_one_source() -> None:
    obj = {"metadata": {"name": "pv"}, "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}}
    assert errors("persistentvolumes", obj) == ["spec: Required value: must specify a volume type"]
    obj["spec"]["hostPath"] = {"path": "/data"}
    assert errors("persistentvolumes", obj) == []
    new = copy.deepcopy(obj)
    new["spec"]["hostPath"]["path"] = "/other"
    found = errors("persistentvolumes", new, obj)
    assert found[0].startswith("spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation")
