"""RBAC, PriorityClass, StorageClass, Lease, HPA and PDB validation, as upstream reports it."""

from __future__ import annotations

import copy
from typing import Any

from kubelite.schema.defaults import apply_defaults
from kubelite.schema.kindvalidation import validate_object

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"


def errors(resource: str, group: str, obj: Obj, old: Obj | None = None) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in validate_object(resource, group, obj, old)]


# --------------------------------------------------------------------------- RBAC
def test_role_rules() -> None:
    obj = {
        "metadata": {"name": "reader", "namespace": "d"},
        "rules": [{"apiGroups": [""], "resources": ["pods"]}, {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}],
    }
    assert errors("roles", RBAC, obj) == [
        "rules[0].verbs: Required value: verbs must contain at least one value",
        'rules[1].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs',
    ]


def test_cluster_role_resource_rules_need_groups_and_resources() -> None:
    obj = {"metadata": {"name": "system:viewer"}, "rules": [{"verbs": ["get"]}]}
    assert errors("clusterroles", RBAC, obj) == [
        "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
        "rules[0].resources: Required value: resource rules must supply at least one resource",
    ]


def test_rbac_names_are_path_segments() -> None:
    assert errors("clusterroles", RBAC, {"metadata": {"name": "system:aggregate-to-view"}}) == []
    assert errors("clusterroles", RBAC, {"metadata": {"name": "a/b"}}) == ["metadata.name: Invalid value: \"a/b\": may not contain '/'"]


def binding() -> Obj:
    obj: Obj = {
        "metadata": {"name": "b", "namespace": "d"},
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "default", "namespace": "d"}],
    }
    apply_defaults("rolebindings", RBAC, obj)
    return obj


def test_role_binding_role_ref_cannot_change() -> None:
    old = binding()
    assert errors("rolebindings", RBAC, old) == []
    new = copy.deepcopy(old)
    new["roleRef"]["name"] = "edit"
    assert errors("rolebindings", RBAC, new, old) == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: '
        "cannot change roleRef"
    ]


def test_binding_subject_kinds_and_role_ref() -> None:
    obj = binding()
    obj["subjects"] = [{"kind": "Robot", "name": "r2"}, {"kind": "ServiceAccount", "name": "sa"}]
    obj["roleRef"] = {"apiGroup": "example.com", "kind": "Role", "name": ""}
    assert errors("clusterrolebindings", RBAC, {**obj, "metadata": {"name": "b"}}) == [
        'roleRef.apiGroup: Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io"',
        'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
        "roleRef.name: Required value",
        'subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
        "subjects[1].namespace: Required value",
    ]


# --------------------------------------------------------------------------- PriorityClass / StorageClass / Lease
def test_priority_class_value_rules() -> None:
    assert errors("priorityclasses", "scheduling.k8s.io", {"metadata": {"name": "high"}, "value": 2_000_000_000}) == [
        "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
    ]
    assert errors("priorityclasses", "scheduling.k8s.io", {"metadata": {"name": "system-mine"}, "value": 1}) == [
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
        "error: system-mine is not a known system priority class"
    ]
    old = {"metadata": {"name": "high"}, "value": 1000}
    assert errors("priorityclasses", "scheduling.k8s.io", {**old, "value": 1001}, old) == [
        "value: Forbidden: may not be changed in an update."
    ]


def storage_class(**fields: Any) -> Obj:
    obj: Obj = {"metadata": {"name": "fast"}, "provisioner": "example.com/disk", **fields}
    apply_defaults("storageclasses", "storage.k8s.io", obj)
    return obj


def test_storage_class_rules() -> None:
    assert errors("storageclasses", "storage.k8s.io", storage_class()) == []
    assert errors("storageclasses", "storage.k8s.io", storage_class(provisioner="", reclaimPolicy="Recycle")) == [
        "provisioner: Required value",
        'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"',
    ]
    old = storage_class(parameters={"type": "ssd"})
    new = storage_class(parameters={"type": "hdd"}, provisioner="example.com/other")
    assert errors("storageclasses", "storage.k8s.io", new, old) == [
        "parameters: Forbidden: updates to parameters are forbidden.",
        "provisioner: Forbidden: updates to provisioner are forbidden.",
    ]


def test_lease_spec() -> None:
    obj = {"metadata": {"name": "l", "namespace": "kube-system"}, "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}}
    assert errors("leases", "coordination.k8s.io", obj) == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
        "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
    ]


# --------------------------------------------------------------------------- HPA / PDB
def test_hpa_replica_bounds_and_target() -> None:
    obj = {"apiVersion": "autoscaling/v2", "metadata": {"name": "h", "namespace": "d"}, "spec": {"minReplicas": 0, "maxReplicas": 0, "scaleTargetRef": {"kind": "Deployment"}}}
    apply_defaults("horizontalpodautoscalers", "autoscaling", obj)
    assert errors("horizontalpodautoscalers", "autoscaling", obj) == [
        "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
        "spec.maxReplicas: Invalid value: 0: must be greater than 0",
        "spec.scaleTargetRef.name: Required value",
    ]
    obj["spec"].update(minReplicas=5, maxReplicas=2, scaleTargetRef={"kind": "Deployment", "name": "web"})
    assert errors("horizontalpodautoscalers", "autoscaling", obj) == [
        "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"
    ]


def test_hpa_resource_metric_needs_a_target() -> None:
    obj = {
        "metadata": {"name": "h", "namespace": "d"},
        "spec": {
            "maxReplicas": 3,
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}],
        },
    }
    assert errors("horizontalpodautoscalers", "autoscaling", obj) == [
        "spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization"
    ]


def test_pdb_min_available_xor_max_unavailable() -> None:
    obj = {"metadata": {"name": "p", "namespace": "d"}, "spec": {"minAvailable": "150%", "maxUnavailable": 1, "selector": {"matchLabels": {"a": "b"}}}}
    assert errors("poddisruptionbudgets", "policy", obj) == [
        "spec: Invalid value: policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)(0xc000000000), "
        "Selector:(*v1.LabelSelector)(0xc000000000), MaxUnavailable:(*intstr.IntOrString)(0xc000000000), "
        "UnhealthyPodEvictionPolicy:(*policy.UnhealthyPodEvictionPolicyType)(nil)}: minAvailable and maxUnavailable cannot be both set",
        "spec.minAvailable: Invalid value: 150%: must not be greater than 100%",
    ]


def test_pdb_name_gets_only_generic_checks() -> None:
    ok = {"metadata": {"name": "Web_PDB", "namespace": "d"}, "spec": {"minAvailable": 1}}
    assert errors("poddisruptionbudgets", "policy", ok) == []
    bad = {"metadata": {"name": "a%b", "namespace": "d"}, "spec": {"minAvailable": 1}}
    assert errors("poddisruptionbudgets", "policy", bad) == ["metadata.name: Invalid value: \"a%b\": may not contain '%'"]
