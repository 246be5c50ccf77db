"""Validation of the smaller API groups' kinds, after upstream's pkg/apis/{rbac, scheduling,
storage, coordination, autoscaling, policy}/validation: RBAC roles and bindings,
PriorityClasses, StorageClasses, Leases, HorizontalPodAutoscalers and PodDisruptionBudgets.

Each public function takes the new object and the old one (None on create) and returns Status
causes in upstream's order.

Must not decide the dispatch (kindvalidation) nor validate pods or workloads.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.gofmt import go_quote
from kubelite.schema import names
from kubelite.schema.fielderrors import (
    Cause,
    GoText,
    child,
    forbidden,
    go_string_slice,
    immutable,
    index,
    invalid,
    not_supported,
    required,
    too_long,
)
from kubelite.schema.kindhelpers import (
    go_pointer,
    go_struct,
    int_field,
    not_more_than_100_percent,
    validate_kind_and_name,
    validate_meta,
    validate_positive_int_or_percent,
)
from kubelite.schema.metavalidation import as_dict, as_list, as_str, validate_label_selector
from kubelite.schema.podvalidation import quantity_value, validate_qualified_name

Obj = dict[str, Any]

RBAC_GROUP = "rbac.authorization.k8s.io"


def _name_is_rbac(name: str, prefix: bool = False) -> list[str]:
    return names.is_valid_path_segment_name(name)


# --------------------------------------------------------------------------- RBAC
def _policy_rule(rule: Obj, namespaced: bool, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not as_list(rule.get("verbs")):
        causes.append(required(child(path, "verbs"), "verbs must contain at least one value"))
    urls = as_list(rule.get("nonResourceURLs"))
    if urls:
        if namespaced:
            causes.append(invalid(child(path, "nonResourceURLs"), go_string_slice(urls), "namespaced rules cannot apply to non-resource URLs"))
        if as_list(rule.get("apiGroups")) or as_list(rule.get("resources")) or as_list(rule.get("resourceNames")):
            causes.append(
                invalid(
                    child(path, "nonResourceURLs"),
                    go_string_slice(urls),
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return causes
    if not as_list(rule.get("apiGroups")):
        causes.append(required(child(path, "apiGroups"), "resource rules must supply at least one api group"))
    if not as_list(rule.get("resources")):
        causes.append(required(child(path, "resources"), "resource rules must supply at least one resource"))
    if as_list(rule.get("resourceNames")) and len(as_list(rule.get("resources"))) > 1:
        causes.append(required(child(path, "resourceNames"), "resource names cannot apply to multiple resources"))
    return causes


def _role(obj: Obj, namespaced: bool) -> list[Cause]:
    causes = validate_meta(obj, None, _name_is_rbac, namespaced)
    for i, rule in enumerate(as_list(obj.get("rules"))):
        causes.extend(_policy_rule(as_dict(rule), namespaced, index("rules", i)))
    aggregation = obj.get("aggregationRule")
    if not namespaced and isinstance(aggregation, dict):
        selectors = as_list(aggregation.get("clusterRoleSelectors"))
        if not selectors:
            causes.append(
                required("aggregationRule.clusterRoleSelectors", "at least one clusterRoleSelector required if aggregationRule is non-nil")
            )
        for i, selector in enumerate(selectors):
            path = index("aggregationRule.clusterRoleSelectors", i)
            causes.extend(validate_label_selector(selector, path))
    return causes


def validate_role(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = _role(obj, True)
    if old is not None:
        causes.extend(validate_meta(obj, old, _name_is_rbac, True))
    return causes


def validate_cluster_role(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = _role(obj, False)
    if old is not None:
        causes.extend(validate_meta(obj, old, _name_is_rbac, False))
    return causes


def _subject(subject: Obj, namespaced: bool, path: str) -> list[Cause]:
    causes: list[Cause] = []
    name, kind, api_group = as_str(subject.get("name")), as_str(subject.get("kind")), as_str(subject.get("apiGroup"))
    if not name:
        causes.append(required(child(path, "name"), ""))
    if kind == "ServiceAccount":
        if name:
            causes.extend(invalid(child(path, "name"), name, m) for m in names.name_is_dns_subdomain(name))
        if api_group:
            causes.append(not_supported(child(path, "apiGroup"), api_group, [""]))
        if not namespaced and not as_str(subject.get("namespace")):
            causes.append(required(child(path, "namespace"), ""))
    elif kind in ("User", "Group"):
        if not name:
            causes.append(invalid(child(path, "name"), name, f"{kind.lower()} name cannot be empty"))
        if api_group != RBAC_GROUP:
            causes.append(not_supported(child(path, "apiGroup"), api_group, [RBAC_GROUP]))
    else:
        causes.append(not_supported(child(path, "kind"), kind, ["ServiceAccount", "User", "Group"]))
    return causes


def _role_ref_text(ref: Obj) -> GoText:
    """%#v of rbac.RoleRef, as `cannot change roleRef` prints it."""
    fields = (("APIGroup", "apiGroup"), ("Kind", "kind"), ("Name", "name"))
    return go_struct("rbac.RoleRef", [(go_name, go_quote(as_str(ref.get(json_name)))) for go_name, json_name in fields])


def _binding(obj: Obj, old: Obj | None, namespaced: bool) -> list[Cause]:
    causes = validate_meta(obj, None, _name_is_rbac, namespaced)
    ref = as_dict(obj.get("roleRef"))
    api_group = as_str(ref.get("apiGroup"))
    if api_group != RBAC_GROUP:
        causes.append(not_supported("roleRef.apiGroup", api_group, [RBAC_GROUP]))
    kind = as_str(ref.get("kind"))
    allowed = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if kind not in allowed:
        causes.append(not_supported("roleRef.kind", kind, allowed))
    name = as_str(ref.get("name"))
    if not name:
        causes.append(required("roleRef.name", ""))
    else:
        causes.extend(invalid("roleRef.name", name, m) for m in _name_is_rbac(name))
    for i, subject in enumerate(as_list(obj.get("subjects"))):
        causes.extend(_subject(as_dict(subject), namespaced, index("subjects", i)))
    if old is not None:
        causes.extend(validate_meta(obj, old, _name_is_rbac, namespaced))
        old_ref = as_dict(old.get("roleRef"))
        if any(as_str(ref.get(f)) != as_str(old_ref.get(f)) for f in ("apiGroup", "kind", "name")):
            causes.append(invalid("roleRef", _role_ref_text(ref), "cannot change roleRef"))
    return causes


def validate_role_binding(obj: Obj, old: Obj | None) -> list[Cause]:
    return _binding(obj, old, True)


def validate_cluster_role_binding(obj: Obj, old: Obj | None) -> list[Cause]:
    return _binding(obj, old, False)


# --------------------------------------------------------------------------- PriorityClass
HIGHEST_USER_PRIORITY = 1_000_000_000
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}


def _known_system_class_error(name: str, value: int, global_default: bool) -> str | None:
    if name not in SYSTEM_PRIORITY_CLASSES:
        return f"{name} is not a known system priority class"
    if SYSTEM_PRIORITY_CLASSES[name] != value:
        return f"value of {name} PriorityClass must be {SYSTEM_PRIORITY_CLASSES[name]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return None


def validate_priority_class(obj: Obj, old: Obj | None) -> list[Cause]:
    if old is not None:
        causes = validate_meta(obj, old, names.name_is_dns_subdomain, False)
        if int_field(obj.get("value")) != int_field(old.get("value")):
            causes.append(forbidden("value", "may not be changed in an update."))
        if obj.get("preemptionPolicy") != old.get("preemptionPolicy"):
            causes.append(immutable("preemptionPolicy", obj.get("preemptionPolicy")))
        return causes
    causes = validate_meta(obj, None, names.name_is_dns_subdomain, False)
    name = as_str(as_dict(obj.get("metadata")).get("name"))
    value = int_field(obj.get("value")) or 0
    if name.startswith("system-"):
        err = _known_system_class_error(name, value, obj.get("globalDefault") is True)
        if err is not None:
            causes.append(
                forbidden("metadata.name", f"priority class names with 'system-' prefix are reserved for system use only. error: {err}")
            )
    elif value > HIGHEST_USER_PRIORITY:
        causes.append(forbidden("value", f"maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"))
    policy = obj.get("preemptionPolicy")
    if policy is not None:
        if policy == "":
            causes.append(required("preemptionPolicy", ""))
        elif policy not in ("PreemptLowerPriority", "Never"):
            causes.append(not_supported("preemptionPolicy", policy, ["PreemptLowerPriority", "Never"]))
    return causes


# --------------------------------------------------------------------------- StorageClass
_MAX_PARAMETERS = 512
_MAX_PARAMETER_BYTES = 256 * 1024


def validate_storage_class(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, None, names.name_is_dns_subdomain, False)
    provisioner = as_str(obj.get("provisioner"))
    if not provisioner:
        causes.append(required("provisioner", ""))
    else:
        causes.extend(validate_qualified_name(provisioner.lower(), "provisioner"))
    parameters = as_dict(obj.get("parameters"))
    if len(parameters) > _MAX_PARAMETERS:
        causes.append(too_long("parameters", _MAX_PARAMETERS))
    else:
        size = 0
        for k, v in parameters.items():
            if not k:
                causes.append(invalid("parameters", k, "field can not be empty."))
            size += len(k.encode()) + len(as_str(v).encode())
        if size > _MAX_PARAMETER_BYTES:
            causes.append(too_long("parameters", _MAX_PARAMETER_BYTES))
    reclaim = obj.get("reclaimPolicy")
    if isinstance(reclaim, str) and reclaim and reclaim not in ("Delete", "Retain"):
        causes.append(not_supported("reclaimPolicy", reclaim, ["Delete", "Retain"]))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        causes.append(required("volumeBindingMode", ""))
    elif mode not in ("Immediate", "WaitForFirstConsumer"):
        causes.append(not_supported("volumeBindingMode", mode, ["Immediate", "WaitForFirstConsumer"]))
    if old is None:
        return causes
    causes.extend(validate_meta(obj, old, names.name_is_dns_subdomain, False))
    if as_dict(obj.get("parameters")) != as_dict(old.get("parameters")):
        causes.append(forbidden("parameters", "updates to parameters are forbidden."))
    if provisioner != as_str(old.get("provisioner")):
        causes.append(forbidden("provisioner", "updates to provisioner are forbidden."))
    if as_str(obj.get("reclaimPolicy")) != as_str(old.get("reclaimPolicy")):
        causes.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    if obj.get("volumeBindingMode") != old.get("volumeBindingMode"):
        causes.append(immutable("volumeBindingMode", obj.get("volumeBindingMode")))
    return causes


# --------------------------------------------------------------------------- Lease
def validate_lease(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True, kube_finalizers=False)
    spec = as_dict(obj.get("spec"))
    duration = int_field(spec.get("leaseDurationSeconds"))
    if duration is not None and duration <= 0:
        causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = int_field(spec.get("leaseTransitions"))
    if transitions is not None and transitions < 0:
        causes.append(invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
    strategy = spec.get("strategy")
    if strategy is not None and strategy not in ("OldestEmulationVersion",):
        causes.append(not_supported("spec.strategy", strategy, ["OldestEmulationVersion"]))
    if as_str(spec.get("preferredHolder")) and not as_str(strategy):
        causes.append(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
    return causes


# --------------------------------------------------------------------------- HorizontalPodAutoscaler
_METRIC_TYPES = ["ContainerResource", "External", "Object", "Pods", "Resource"]
_METRIC_FIELDS = {"Object": "object", "Pods": "pods", "Resource": "resource", "External": "external", "ContainerResource": "containerResource"}


def _metric_target(target: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    kind = as_str(target.get("type"))
    if not kind:
        causes.append(required(child(path, "type"), "must specify a metric target type"))
    if kind not in ("Utilization", "Value", "AverageValue"):
        causes.append(invalid(child(path, "type"), kind, "must be either Utilization, Value, or AverageValue"))
    for field in ("value", "averageValue"):
        if target.get(field) is not None:
            amount = quantity_value(target.get(field))
            if amount is not None and amount <= 0:
                causes.append(invalid(child(path, field), GoText(as_str(target.get(field)) or str(target.get(field))), "must be positive"))
    utilization = int_field(target.get("averageUtilization"))
    if utilization is not None and utilization < 1:
        causes.append(invalid(child(path, "averageUtilization"), utilization, "must be greater than 0"))
    return causes


def _resource_metric(source: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not as_str(source.get("name")):
        causes.append(required(child(path, "name"), "must specify a resource name"))
    if "container" in source and not as_str(source.get("container")):
        causes.append(required(child(path, "container"), "must specify a container"))
    target = as_dict(source.get("target"))
    causes.extend(_metric_target(target, child(path, "target")))
    if target.get("averageUtilization") is None and target.get("averageValue") is None:
        causes.append(required(child(path, "target", "averageUtilization"), "must set either a target raw value or a target utilization"))
    if target.get("averageUtilization") is not None and target.get("averageValue") is not None:
        causes.append(forbidden(child(path, "target", "averageValue"), "may not set both a target raw value and a target utilization"))
    return causes


def _metric(metric: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    kind = as_str(metric.get("type"))
    if not kind:
        causes.append(required(child(path, "type"), "must specify a metric source type"))
    if kind not in _METRIC_TYPES:
        causes.append(not_supported(child(path, "type"), kind, _METRIC_TYPES))
    present = [f for f in ("object", "pods", "resource", "external", "containerResource") if metric.get(f) is not None]
    if present and present[0] in ("resource", "containerResource"):
        causes.extend(_resource_metric(as_dict(metric.get(present[0])), child(path, present[0])))
    expected = _METRIC_FIELDS.get(kind, kind.lower())
    if expected not in present:
        causes.append(required(child(path, expected), "must populate information for the given metric source"))
    if len(present) != 1:
        causes.extend(forbidden(child(path, f), "must populate the given metric source only") for f in present if f != expected)
    return causes


def validate_horizontal_pod_autoscaler(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    spec = as_dict(obj.get("spec"))
    minimum = int_field(spec.get("minReplicas"))
    maximum = int_field(spec.get("maxReplicas")) or 0
    if minimum is not None and minimum < 1:
        causes.append(invalid("spec.minReplicas", minimum, "must be greater than or equal to 1"))
    if maximum < 1:
        causes.append(invalid("spec.maxReplicas", maximum, "must be greater than 0"))
    if minimum is not None and maximum < minimum:
        causes.append(invalid("spec.maxReplicas", maximum, "must be greater than or equal to `minReplicas`"))
    causes.extend(validate_kind_and_name(as_dict(spec.get("scaleTargetRef")), "spec.scaleTargetRef"))
    for i, metric in enumerate(as_list(spec.get("metrics"))):
        causes.extend(_metric(as_dict(metric), index("spec.metrics", i)))
    utilization = int_field(spec.get("targetCPUUtilizationPercentage"))  # autoscaling/v1
    if utilization is not None and utilization < 1:
        causes.append(invalid("spec.metrics[0].resource.target.averageUtilization", utilization, "must be greater than 0"))
    return causes


# --------------------------------------------------------------------------- PodDisruptionBudget
def _pdb_spec_text(spec: Obj) -> GoText:
    return go_struct(
        "policy.PodDisruptionBudgetSpec",
        [
            ("MinAvailable", go_pointer("intstr.IntOrString", spec.get("minAvailable"))),
            ("Selector", go_pointer("v1.LabelSelector", spec.get("selector"))),
            ("MaxUnavailable", go_pointer("intstr.IntOrString", spec.get("maxUnavailable"))),
            ("UnhealthyPodEvictionPolicy", go_pointer("policy.UnhealthyPodEvictionPolicyType", spec.get("unhealthyPodEvictionPolicy"))),
        ],
    )


def validate_pod_disruption_budget(obj: Obj, old: Obj | None) -> list[Cause]:
    """Upstream validates only the spec here; ObjectMeta gets the generic checks."""
    spec = as_dict(obj.get("spec"))
    causes: list[Cause] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        causes.append(invalid("spec", _pdb_spec_text(spec), "minAvailable and maxUnavailable cannot be both set"))
    for field in ("minAvailable", "maxUnavailable"):
        if spec.get(field) is not None:
            causes.extend(validate_positive_int_or_percent(spec[field], child("spec", field)))
            causes.extend(not_more_than_100_percent(spec[field], child("spec", field)))
    causes.extend(validate_label_selector(spec.get("selector"), "spec.selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        causes.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, ["AlwaysAllow", "IfHealthyBudget"]))
    return causes
