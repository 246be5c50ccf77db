"""Validation of the core-group kinds that are neither workloads nor networking, after upstream's
pkg/apis/core/validation: Pods (via podvalidation), ConfigMaps, Secrets, Namespaces, Nodes,
ServiceAccounts, Events, ResourceQuotas, LimitRanges, PersistentVolumes and
PersistentVolumeClaims.

Each public function takes the new object and the old one (None on create) and returns Status
causes in upstream's order.

Must not validate pod specs itself (podvalidation does) nor decide the dispatch (kindvalidation).
"""

from __future__ import annotations

import binascii
import json
from decimal import Decimal
from typing import Any

from kubelite.api.gofmt import go_quote
from kubelite.api.quantity import Quantity, format_quantity
from kubelite.schema import names
from kubelite.schema.fielderrors import (
    Cause,
    GoText,
    child,
    duplicate,
    forbidden,
    go_string_slice,
    immutable,
    index,
    invalid,
    key,
    not_supported,
    required,
    too_long,
)
from kubelite.schema.kindhelpers import go_struct, int_field, semantic_equal, validate_meta
from kubelite.schema.metavalidation import (
    as_dict,
    as_list,
    as_str,
    validate_kube_finalizer_name,
    validate_label_name,
)
from kubelite.schema.podvalidation import (
    parse_quantity_field,
    quantity_value,
    spec_diff,
    validate_access_modes,
    validate_container_resource_name,
    validate_node_selector,
    validate_pod_create,
    validate_pod_update,
    validate_pvc_spec,
    validate_resource_name,
    validate_resource_quantity_value,
    validate_taint_effect,
)

Obj = dict[str, Any]

MAX_SECRET_SIZE = 1024 * 1024
_IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"


def _meta(obj: Obj) -> Obj:
    return as_dict(obj.get("metadata"))


# --------------------------------------------------------------------------- Pod
def validate_pod(obj: Obj, old: Obj | None) -> list[Cause]:
    if old is None:
        causes = validate_meta(obj, None, names.name_is_dns_subdomain, True)
        return causes + validate_pod_create(obj)
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    causes.extend(validate_meta(obj, None, names.name_is_dns_subdomain, True))
    causes.extend(validate_pod_update(obj, old))
    return causes


# --------------------------------------------------------------------------- ConfigMap / Secret
def _base64_size(value: Any) -> int:
    """Decoded size of a base64 string (what upstream counts for []byte data)."""
    text = as_str(value)
    if not text:
        return 0
    try:
        return len(binascii.a2b_base64(text))
    except (binascii.Error, ValueError):
        return (len(text) * 3) // 4


def _key_errors(keys: Any, path: str) -> list[Cause]:
    return [invalid(key(path, k), k, msg) for k in as_dict(keys) for msg in names.is_config_map_key(k)]


def _immutable_contents(obj: Obj, old: Obj, fields: tuple[str, ...]) -> list[Cause]:
    if old.get("immutable") is not True:
        return []
    causes: list[Cause] = []
    if obj.get("immutable") is not True:
        causes.append(forbidden("immutable", _IMMUTABLE_WHEN_SET))
    for field in fields:
        if not semantic_equal(obj.get(field), old.get(field)):
            causes.append(forbidden(field, _IMMUTABLE_WHEN_SET))
    return causes


def _config_map(obj: Obj) -> list[Cause]:
    causes = validate_meta(obj, None, names.name_is_dns_subdomain, True)
    data, binary = as_dict(obj.get("data")), as_dict(obj.get("binaryData"))
    total = 0
    for k, value in data.items():
        causes.extend(invalid(key("data", k), k, msg) for msg in names.is_config_map_key(k))
        if k in binary:
            causes.append(invalid(key("data", k), k, "duplicate of key present in binaryData"))
        total += len(as_str(value).encode())
    for k, value in binary.items():
        causes.extend(invalid(key("binaryData", k), k, msg) for msg in names.is_config_map_key(k))
        total += _base64_size(value)
    if total > MAX_SECRET_SIZE:
        causes.append(too_long("[]", MAX_SECRET_SIZE))  # upstream's field.NewPath("") prints as "[]"
    return causes


def validate_config_map(obj: Obj, old: Obj | None) -> list[Cause]:
    if old is None:
        return _config_map(obj)
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    causes.extend(_immutable_contents(obj, old, ("data", "binaryData")))
    causes.extend(_config_map(obj))
    return causes


_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
}


def _json_error(value: Any) -> str | None:
    try:
        json.loads(binascii.a2b_base64(as_str(value)) or b"null")
    except (binascii.Error, ValueError) as exc:
        return str(exc)
    return None


def _secret(obj: Obj) -> list[Cause]:
    causes = validate_meta(obj, None, names.name_is_dns_subdomain, True)
    data = as_dict(obj.get("data"))
    string_data = as_dict(obj.get("stringData"))
    total = 0
    for k, value in data.items():
        causes.extend(invalid(key("data", k), k, msg) for msg in names.is_config_map_key(k))
        total += _base64_size(value)
    for k, value in string_data.items():  # merged into data by upstream's decoding
        if k not in data:
            causes.extend(invalid(key("data", k), k, msg) for msg in names.is_config_map_key(k))
        total += len(as_str(value).encode())
    if total > MAX_SECRET_SIZE:
        causes.append(too_long("data", MAX_SECRET_SIZE))
    keys = set(data) | set(string_data)
    kind = as_str(obj.get("type"))
    if kind == "kubernetes.io/service-account-token":
        annotations = as_dict(_meta(obj).get("annotations"))
        if not as_str(annotations.get("kubernetes.io/service-account.name")):
            causes.append(required(key("metadata.annotations", "kubernetes.io/service-account.name"), ""))
    elif kind in _SECRET_REQUIRED_KEYS:
        (needed,) = _SECRET_REQUIRED_KEYS[kind]
        if needed not in keys:
            causes.append(required(key("data", needed), ""))
        elif needed in data:
            err = _json_error(data[needed])
            if err is not None:
                causes.append(invalid(key("data", needed), "<secret contents redacted>", err))
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in keys and "password" not in keys:
            causes.append(required(key("data", "username"), ""))
            causes.append(required(key("data", "password"), ""))
    elif kind == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey") and not string_data.get("ssh-privatekey"):
            causes.append(required(key("data", "ssh-privatekey"), ""))
    elif kind == "kubernetes.io/tls":
        for needed in ("tls.crt", "tls.key"):
            if needed not in keys:
                causes.append(required(key("data", needed), ""))
    return causes


def validate_secret(obj: Obj, old: Obj | None) -> list[Cause]:
    if old is None:
        return _secret(obj)
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    kind, old_kind = as_str(obj.get("type")), as_str(old.get("type"))
    if kind != old_kind:
        causes.append(immutable("type", kind))
    causes.extend(_immutable_contents(obj, old, ("data",)))
    causes.extend(_secret(obj))
    return causes


# --------------------------------------------------------------------------- Namespace / ServiceAccount
def validate_namespace(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, None, names.name_is_dns_label, False)
    for finalizer in as_list(as_dict(obj.get("spec")).get("finalizers")):
        text = as_str(finalizer)
        causes.extend(invalid("spec.finalizers", text, msg) for msg in names.is_qualified_name(text))
        causes.extend(validate_kube_finalizer_name(text, "spec.finalizers"))
    if old is not None:
        causes.extend(validate_meta(obj, old, names.name_is_dns_label, False))
    return causes


def validate_service_account(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    if old is not None:
        causes.extend(validate_meta(obj, None, names.name_is_dns_subdomain, True))
    return causes


# --------------------------------------------------------------------------- Node
def _taints(taints: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: dict[str, set[str]] = {}
    for i, taint in enumerate(as_list(taints)):
        taint, taint_path = as_dict(taint), index(path, i)
        taint_key, value, effect = as_str(taint.get("key")), as_str(taint.get("value")), as_str(taint.get("effect"))
        causes.extend(validate_label_name(taint_key, child(taint_path, "key")))
        value_errors = names.is_valid_label_value(value)
        if value_errors:
            causes.append(invalid(child(taint_path, "value"), value, ";".join(value_errors)))
        causes.extend(validate_taint_effect(effect, child(taint_path, "effect"), False))
        if taint_key in seen.get(effect, set()):
            shown = go_struct(
                "core.Taint",
                [("Key", go_quote(taint_key)), ("Value", go_quote(value)), ("Effect", go_quote(effect)), ("TimeAdded", "(*v1.Time)(nil)")],
            )
            causes.append(
                {
                    "reason": "FieldValueDuplicate",
                    "message": f"Duplicate value: {shown}: taints must be unique by key and effect pair",
                    "field": taint_path,
                }
            )
            continue
        seen.setdefault(effect, set()).add(taint_key)
    return causes


def _node_resources(obj: Obj) -> list[Cause]:
    causes: list[Cause] = []
    status = as_dict(obj.get("status"))
    for field in ("capacity", "allocatable"):
        for name, value in as_dict(status.get(field)).items():
            path = child("status", field, name)
            q = parse_quantity_field(value, path, causes)
            if q is not None:
                causes.extend(validate_resource_quantity_value(name, q, path))
    return causes


def _node(obj: Obj) -> list[Cause]:
    causes = validate_meta(obj, None, names.name_is_dns_subdomain, False)
    spec = as_dict(obj.get("spec"))
    if as_list(spec.get("taints")):
        causes.extend(_taints(spec.get("taints"), "metadata.taints"))  # sic: upstream's path
    causes.extend(_node_resources(obj))
    cidrs = [as_str(c) for c in as_list(spec.get("podCIDRs"))]
    for i, cidr in enumerate(cidrs):
        causes.extend(invalid(index("spec.podCIDRs", i), cidr, m) for m in names.is_valid_cidr(cidr))
    if len(cidrs) > 1:
        networks = [names.parse_cidr_sloppy(c) for c in cidrs]
        if len(cidrs) > 2 or len({n.version for n in networks if n is not None}) != 2:
            causes.append(invalid("spec.podCIDRs", go_string_slice(cidrs), "may specify no more than one CIDR for each IP family"))
        seen: set[str] = set()
        for i, cidr in enumerate(cidrs):
            if cidr in seen:
                causes.append(duplicate(index("spec.podCIDRs", i), cidr))
            seen.add(cidr)
    return causes


def validate_node(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = _node(obj)
    if old is None:
        return causes
    causes.extend(validate_meta(obj, old, names.name_is_dns_subdomain, False))
    causes.extend(_node_resources(obj))
    spec, old_spec = as_dict(obj.get("spec")), as_dict(old.get("spec"))
    old_cidrs = as_list(old_spec.get("podCIDRs"))
    if old_cidrs:
        new_cidrs = as_list(spec.get("podCIDRs"))
        message = 'node updates may not change podCIDR except from "" to valid'
        if len(old_cidrs) != len(new_cidrs):
            causes.append(forbidden("spec.podCIDRs", message))
        else:
            causes.extend(forbidden("spec.podCIDRs", message) for a, b in zip(old_cidrs, new_cidrs, strict=True) if a != b)
    old_provider = as_str(old_spec.get("providerID"))
    if old_provider and old_provider != as_str(spec.get("providerID")):
        causes.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
    if as_list(spec.get("taints")):
        causes.extend(_taints(spec.get("taints"), "metadata.taints"))
    if as_str(spec.get("externalID")) != as_str(old_spec.get("externalID")):
        causes.append(forbidden("spec.externalID", "may not be updated"))
    return causes


# --------------------------------------------------------------------------- Event
_REPORTING_LIMIT = 128
_NOTE_LIMIT = 1024


def _event_view(obj: Obj, group: str) -> Obj:
    """The event with core/v1 field names (events.k8s.io/v1 renames several)."""
    if group != "events.k8s.io":
        return obj
    return {
        "metadata": obj.get("metadata"),
        "involvedObject": obj.get("regarding"),
        "message": obj.get("note"),
        "reportingComponent": obj.get("reportingController"),
        "reportingInstance": obj.get("reportingInstance"),
        "action": obj.get("action"),
        "reason": obj.get("reason"),
        "type": obj.get("type"),
        "eventTime": obj.get("eventTime"),
        "series": obj.get("series"),
        "firstTimestamp": obj.get("deprecatedFirstTimestamp"),
        "lastTimestamp": obj.get("deprecatedLastTimestamp"),
        "count": obj.get("deprecatedCount"),
        "source": obj.get("deprecatedSource"),
    }


def _legacy_event(event: Obj, controller_field: str) -> list[Cause]:
    causes: list[Cause] = []
    namespace = as_str(_meta(event).get("namespace"))
    involved_namespace = as_str(as_dict(event.get("involvedObject")).get("namespace"))
    mismatch = invalid("involvedObject.namespace", involved_namespace, "does not match event.namespace")
    if not event.get("eventTime"):
        if not involved_namespace:
            if namespace not in ("", "default"):
                causes.append(mismatch)
        elif namespace != involved_namespace:
            causes.append(mismatch)
    else:
        if not involved_namespace and namespace not in ("default", "kube-system"):
            causes.append(mismatch)
        controller = as_str(event.get("reportingComponent"))
        if not controller:
            causes.append(required(controller_field, ""))
        causes.extend(invalid(controller_field, controller, m) for m in names.is_qualified_name(controller))
        for field, limit in (("reportingInstance", _REPORTING_LIMIT), ("action", _REPORTING_LIMIT), ("reason", _REPORTING_LIMIT)):
            value = as_str(event.get(field))
            if not value:
                causes.append(required(field, ""))
            if len(value) > limit:
                causes.append(invalid(field, "", f"can have at most {limit} characters"))
        if len(as_str(event.get("message"))) > _NOTE_LIMIT:
            causes.append(invalid("message", "", f"can have at most {_NOTE_LIMIT} characters"))
    causes.extend(invalid("namespace", namespace, m) for m in names.is_dns1123_subdomain(namespace))
    return causes


def validate_event(obj: Obj, old: Obj | None, group: str) -> list[Cause]:
    """Core/v1 events get only upstream's legacy checks; events.k8s.io/v1 ones the strict ones too."""
    event = _event_view(obj, group)
    causes = _legacy_event(event, "reportingController" if group else "reportingComponent")
    if not group:
        return causes
    if old is not None:
        return causes + validate_meta(obj, old, names.name_is_dns_subdomain, True)
    causes.extend(validate_meta(obj, None, names.name_is_dns_subdomain, True))
    series = event.get("series")
    if isinstance(series, dict):
        if (int_field(series.get("count")) or 0) < 2:
            causes.append(invalid("series.count", "", "should be at least 2"))
        if not series.get("lastObservedTime"):
            causes.append(required("series.lastObservedTime", ""))
    if not event.get("eventTime"):
        causes.append(required("eventTime", ""))
    kind = as_str(event.get("type"))
    if kind not in ("Normal", "Warning"):
        causes.append(invalid("type", "", f"has invalid value: {kind}"))
    for field in ("firstTimestamp", "lastTimestamp", "count"):
        if event.get(field):
            causes.append(invalid(field, "", "needs to be unset"))
    source = as_dict(event.get("source"))
    if source.get("component") or source.get("host"):
        causes.append(invalid("source", "", "needs to be unset"))
    return causes


# --------------------------------------------------------------------------- ResourceQuota
_STANDARD_QUOTA_RESOURCES = frozenset(
    {
        "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
        "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
        "persistentvolumeclaims", "pods", "services", "replicationcontrollers", "resourcequotas", "secrets",
        "services.nodeports", "services.loadbalancers", "configmaps",
    }
)  # fmt: skip
_QUOTA_SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity")
_POD_COUNT_RESOURCES = frozenset({"pods"})
_POD_COMPUTE_RESOURCES = frozenset({"cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"})
_CONFLICTING_SCOPES = (("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating"))


def _quota_resource_name(name: str, path: str) -> list[Cause]:
    causes = validate_resource_name(name, path)
    standard = name in _STANDARD_QUOTA_RESOURCES or name.startswith(("hugepages-", "requests.hugepages-"))
    if "/" not in name and not standard:
        causes.append(invalid(path, name, "must be a standard resource for quota"))
    return causes


def _quota_list(resources: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for name, value in as_dict(resources).items():
        item_path = key(path, name)
        causes.extend(_quota_resource_name(name, item_path))
        q = parse_quantity_field(value, item_path, causes)
        if q is not None:
            causes.extend(validate_resource_quantity_value(name, q, item_path))
    return causes


def _scope_valid_for(scope: str, resource: str) -> bool:
    if scope == "BestEffort":
        return resource in _POD_COUNT_RESOURCES
    if scope in ("Terminating", "NotTerminating", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity"):
        return resource in _POD_COUNT_RESOURCES or resource in _POD_COMPUTE_RESOURCES
    return True


def _standard_quota_name(name: str) -> bool:
    return name in _STANDARD_QUOTA_RESOURCES or name.startswith(("hugepages-", "requests.hugepages-"))


def _quota_spec(spec: Obj) -> list[Cause]:
    causes = _quota_list(spec.get("hard"), "spec.hard")
    hard = sorted(as_dict(spec.get("hard")))
    scopes = as_list(spec.get("scopes"))
    shown = go_string_slice(scopes, "core.ResourceQuotaScope")
    for scope in scopes:
        if scope not in _QUOTA_SCOPES:
            causes.append(invalid("spec.scopes", shown, "unsupported scope"))
        for name in hard:
            if _standard_quota_name(name) and not _scope_valid_for(as_str(scope), name):
                causes.append(invalid("spec.scopes", shown, "unsupported scope applied to resource"))
    for pair in _CONFLICTING_SCOPES:
        if all(s in scopes for s in pair):
            causes.append(invalid("spec.scopes", shown, "conflicting scopes"))
    selector = spec.get("scopeSelector")
    if isinstance(selector, dict):
        path = "spec.scopeSelector.matchExpressions"
        seen: list[str] = []
        for requirement in as_list(selector.get("matchExpressions")):
            requirement = as_dict(requirement)
            scope, operator = as_str(requirement.get("scopeName")), as_str(requirement.get("operator"))
            values = as_list(requirement.get("values"))
            if scope not in _QUOTA_SCOPES:
                causes.append(invalid(child(path, "scopeName"), scope, "unsupported scope"))
            if scope in ("BestEffort", "NotBestEffort", "Terminating", "NotTerminating", "CrossNamespacePodAffinity") and operator != "Exists":
                causes.append(
                    invalid(
                        child(path, "operator"),
                        operator,
                        "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, "
                        "ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
                    )
                )
            if operator in ("In", "NotIn"):
                if not values:
                    causes.append(
                        required(child(path, "values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector")
                    )
            elif operator in ("Exists", "DoesNotExist"):
                if values:
                    causes.append(
                        invalid(
                            child(path, "values"),
                            go_string_slice(values),
                            "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
                        )
                    )
            else:
                causes.append(invalid(child(path, "operator"), operator, "not a valid selector operator"))
            seen.append(scope)
        for pair in _CONFLICTING_SCOPES:
            if all(s in seen for s in pair):
                causes.append(invalid(path, go_string_slice(scopes, "core.ResourceQuotaScope") if scopes else GoText("[]core.ResourceQuotaScope(nil)"), "conflicting scopes"))
    return causes


def validate_resource_quota(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    if old is None:
        causes = validate_meta(obj, None, names.name_is_dns_subdomain, True)
        causes.extend(_quota_spec(spec))
        status = as_dict(obj.get("status"))
        causes.extend(_quota_list(status.get("hard"), "status.hard"))
        causes.extend(_quota_list(status.get("used"), "status.used"))
        return causes
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    causes.extend(_quota_spec(spec))
    scopes = as_list(spec.get("scopes"))
    if set(map(str, scopes)) != set(map(str, as_list(as_dict(old.get("spec")).get("scopes")))):
        causes.append(immutable("spec.scopes", go_string_slice(scopes, "core.ResourceQuotaScope")))
    return causes


# --------------------------------------------------------------------------- LimitRange
_LIMIT_TYPES = ("Pod", "Container", "PersistentVolumeClaim")


def _limit_type(value: str, path: str) -> list[Cause]:
    causes = [invalid(path, value, m) for m in names.is_qualified_name(value)]
    if not causes and "/" not in value and value not in _LIMIT_TYPES:
        causes.append(invalid(path, value, "must be a standard limit type or fully qualified"))
    return causes


def _limit_resource_name(limit_type: str, name: str, path: str) -> list[Cause]:
    if limit_type in ("Pod", "Container"):
        return validate_container_resource_name(name, path)
    return validate_resource_name(name, path)


def _q(q: Quantity) -> GoText:
    return GoText(format_quantity(q))


def _limit_item(item: Obj, path: str) -> list[Cause]:
    limit_type = as_str(item.get("type"))
    causes: list[Cause] = []
    lists: dict[str, dict[str, Quantity]] = {}
    for field in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
        values: dict[str, Quantity] = {}
        entries = as_dict(item.get(field))
        if limit_type == "Pod" and field in ("default", "defaultRequest"):
            if entries:
                causes.append(forbidden(child(path, field), "may not be specified when `type` is 'Pod'"))
            lists[field] = values
            continue
        for name, value in entries.items():
            entry_path = key(child(path, field), name)
            causes.extend(_limit_resource_name(limit_type, name, entry_path))
            q = parse_quantity_field(value, entry_path, causes)
            if q is not None:
                values[name] = q
        lists[field] = values
        no_storage = "storage" not in lists.get("min", {}) and "storage" not in lists.get("max", {})
        if field == "min" and limit_type == "PersistentVolumeClaim" and no_storage:
            causes.append(
                required(child(path, "limits"), "either minimum or maximum storage value is required, but neither was provided")
            )
    low, high, default, request, ratio = (lists[f] for f in ("min", "max", "default", "defaultRequest", "maxLimitRequestRatio"))
    for name in sorted(set().union(*lists.values())):
        lo, hi, de, rq, ra = low.get(name), high.get(name), default.get(name), request.get(name), ratio.get(name)
        if lo is not None and hi is not None and lo.amount > hi.amount:
            causes.append(invalid(key(child(path, "min"), name), _q(lo), f"min value {_q(lo)} is greater than max value {_q(hi)}"))
        if rq is not None and lo is not None and lo.amount > rq.amount:
            causes.append(
                invalid(key(child(path, "defaultRequest"), name), _q(rq), f"min value {_q(lo)} is greater than default request value {_q(rq)}")
            )
        if rq is not None and hi is not None and rq.amount > hi.amount:
            causes.append(
                invalid(key(child(path, "defaultRequest"), name), _q(rq), f"default request value {_q(rq)} is greater than max value {_q(hi)}")
            )
        if rq is not None and de is not None and rq.amount > de.amount:
            causes.append(
                invalid(
                    key(child(path, "defaultRequest"), name),
                    _q(rq),
                    f"default request value {_q(rq)} is greater than default limit value {_q(de)}",
                )
            )
        if de is not None and lo is not None and lo.amount > de.amount:
            causes.append(invalid(key(child(path, "default"), name), _q(lo), f"min value {_q(lo)} is greater than default value {_q(de)}"))
        if de is not None and hi is not None and de.amount > hi.amount:
            causes.append(invalid(key(child(path, "default"), name), _q(hi), f"default value {_q(de)} is greater than max value {_q(hi)}"))
        if ra is not None and ra.amount < 1:
            causes.append(invalid(key(child(path, "maxLimitRequestRatio"), name), _q(ra), f"ratio {_q(ra)} is less than 1"))
        if ra is not None and lo is not None and hi is not None and lo.amount > 0:
            limit = float(hi.amount) / float(lo.amount)  # upstream divides float64s too
            if float(ra.amount) > limit:
                causes.append(
                    invalid(
                        key(child(path, "maxLimitRequestRatio"), name),
                        _q(ra),
                        f"ratio {_q(ra)} is greater than max/min = {float(limit):f}",
                    )
                )
        overcommit = "/" not in name or "kubernetes.io/" in name
        if (not overcommit or name.startswith("hugepages-")) and de is not None and rq is not None and de.amount != rq.amount:
            causes.append(
                invalid(
                    key(child(path, "defaultRequest"), name),
                    _q(rq),
                    f"default value {_q(de)} must equal to defaultRequest value {_q(rq)} in {name}",
                )
            )
    return causes


def validate_limit_range(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    if old is not None:
        causes.extend(validate_meta(obj, None, names.name_is_dns_subdomain, True))
    seen: set[str] = set()
    for i, item in enumerate(as_list(as_dict(obj.get("spec")).get("limits"))):
        item, path = as_dict(item), index("spec.limits", i)
        limit_type = as_str(item.get("type"))
        causes.extend(_limit_type(limit_type, child(path, "type")))
        if limit_type in seen:
            causes.append(duplicate(child(path, "type"), limit_type))
        seen.add(limit_type)
        causes.extend(_limit_item(item, path))
    return causes


# --------------------------------------------------------------------------- PersistentVolume / Claim
_PV_SOURCES = (
    ("hostPath", "hostPath"), ("gcePersistentDisk", "persistentDisk"), ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("glusterfs", "glusterfs"), ("flocker", "flocker"), ("nfs", "nfs"), ("rbd", "rbd"), ("quobyte", "quobyte"),
    ("cephfs", "cephfs"), ("iscsi", "iscsi"), ("cinder", "cinder"), ("fc", "fc"), ("flexVolume", "flexVolume"),
    ("azureFile", "azureFile"), ("vsphereVolume", "vsphereVolume"), ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"), ("azureDisk", "azureDisk"), ("scaleIO", "scaleIO"), ("local", "local"),
    ("storageos", "storageos"), ("csi", "csi"),
)  # fmt: skip
_PV_SOURCE_KEYS = frozenset(k for k, _ in _PV_SOURCES)
_RECLAIM_POLICIES = ["Delete", "Recycle", "Retain"]


def _path_source(source: Obj, path: str) -> list[Cause]:
    target = as_str(source.get("path"))
    if not target:
        return [required(child(path, "path"), "")]
    if ".." in target.split("/"):
        return [invalid(child(path, "path"), target, "must not contain '..'")]
    return []


def _pv_source(name: str, source: Obj, path: str) -> list[Cause]:
    if name in ("hostPath", "local"):
        return _path_source(source, path)
    if name == "nfs":
        causes = [] if as_str(source.get("server")) else [required(child(path, "server"), "")]
        target = as_str(source.get("path"))
        if not target:
            causes.append(required(child(path, "path"), ""))
        elif not target.startswith("/"):
            causes.append(invalid(child(path, "path"), target, "must be an absolute path"))
        return causes
    if name == "csi":
        causes = [] if as_str(source.get("driver")) else [required(child(path, "driver"), "")]
        if not as_str(source.get("volumeHandle")):
            causes.append(required(child(path, "volumeHandle"), ""))
        return causes
    return []


def _pv(obj: Obj) -> list[Cause]:
    causes = validate_meta(obj, None, names.name_is_dns_subdomain, False)
    spec = as_dict(obj.get("spec"))
    modes = as_list(spec.get("accessModes"))
    if not modes:
        causes.append(required("spec.accessModes", ""))
    causes.extend(validate_access_modes(modes, "spec.accessModes"))
    capacity = as_dict(spec.get("capacity"))
    if not capacity:
        causes.append(required("spec.capacity", ""))
    if "storage" not in capacity or len(capacity) > 1:
        causes.append(not_supported("spec.capacity", GoText(f"core.ResourceList{{{', '.join(go_quote(k) for k in capacity)}}}"), ["storage"]))
    for name, value in capacity.items():
        path = key("spec.capacity", name)
        q = parse_quantity_field(value, path, causes)
        if q is not None and q.amount <= 0:
            causes.append(invalid(path, format_quantity(q), "must be greater than zero"))
    policy = as_str(spec.get("persistentVolumeReclaimPolicy"))
    if policy and policy not in _RECLAIM_POLICIES:
        causes.append(not_supported("spec.persistentVolumeReclaimPolicy", policy, _RECLAIM_POLICIES))
    affinity = as_dict(spec.get("nodeAffinity"))
    has_affinity = False
    if affinity:
        required_selector = affinity.get("required")
        if isinstance(required_selector, dict):
            has_affinity = True
            causes.extend(validate_node_selector(required_selector, "spec.nodeAffinity.required"))
        else:
            causes.append(required("spec.nodeAffinity.required", "must specify required node constraints"))
    count = 0
    for name, path_name in _PV_SOURCES:
        source = spec.get(name)
        if source is None:
            continue
        path = child("spec", path_name)
        if count and name != "flexVolume":
            causes.append(forbidden(child("spec", name), "may not specify more than 1 volume type"))
            continue
        count += 1
        causes.extend(_pv_source(name, as_dict(source), path))
        if name == "local" and not has_affinity:
            causes.append(required("spec.nodeAffinity", "Local volume requires node affinity"))
    if count == 0:
        causes.append(required("spec", "must specify a volume type"))
    host_path = as_dict(spec.get("hostPath"))
    if host_path and as_str(host_path.get("path")).rstrip("/") == "" and policy == "Recycle":
        causes.append(forbidden("spec.persistentVolumeReclaimPolicy", "may not be 'recycle' for a hostPath mount of '/'"))
    class_name = as_str(spec.get("storageClassName"))
    if class_name:
        causes.extend(invalid("spec.storageClassName", class_name, m) for m in names.is_dns1123_subdomain(class_name))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in ("Block", "Filesystem"):
        causes.append(not_supported("spec.volumeMode", mode, ["Block", "Filesystem"]))
    return causes


def validate_persistent_volume(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = _pv(obj)
    if old is None:
        return causes
    spec, old_spec = as_dict(obj.get("spec")), as_dict(old.get("spec"))
    source = {k: v for k, v in spec.items() if k in _PV_SOURCE_KEYS}
    old_source = {k: v for k, v in old_spec.items() if k in _PV_SOURCE_KEYS}
    csi, old_csi = as_dict(source.get("csi")), as_dict(old_source.get("csi"))
    if csi and old_csi and old_csi.get("controllerExpandSecretRef") is None:
        source["csi"] = {k: v for k, v in csi.items() if k != "controllerExpandSecretRef"}
    if not semantic_equal(source, old_source):
        diff = spec_diff(old_source, source)
        causes.append(forbidden("spec.persistentvolumesource", f"spec.persistentvolumesource is immutable after creation\n{diff}"))
    if spec.get("volumeMode") != old_spec.get("volumeMode"):
        causes.append(immutable("volumeMode", spec.get("volumeMode")))
    if old_spec.get("nodeAffinity") is not None and not semantic_equal(spec.get("nodeAffinity"), old_spec.get("nodeAffinity")):
        causes.append(invalid("nodeAffinity", GoText(json.dumps(spec.get("nodeAffinity"))), "field is immutable, except for updating from beta label to GA"))
    return causes


def _pvc(obj: Obj) -> list[Cause]:
    causes = validate_meta(obj, None, names.name_is_dns_subdomain, True)
    causes.extend(validate_pvc_spec(obj.get("spec"), "spec"))
    return causes


def _storage(spec: Obj) -> Any:
    return as_dict(as_dict(spec.get("resources")).get("requests")).get("storage")


def _amount(value: Any) -> Decimal | None:
    return quantity_value(value) if value is not None else Decimal(0)


def validate_persistent_volume_claim(obj: Obj, old: Obj | None) -> list[Cause]:
    if old is None:
        return _pvc(obj)
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    causes.extend(_pvc(obj))
    spec, old_spec = dict(as_dict(obj.get("spec"))), dict(as_dict(old.get("spec")))
    annotation = "volume.beta.kubernetes.io/storage-class"
    new_annotations, old_annotations = as_dict(_meta(obj).get("annotations")), as_dict(_meta(old).get("annotations"))
    if not as_str(old_spec.get("volumeName")):
        old_spec["volumeName"] = spec.get("volumeName")
    class_name, old_class = spec.get("storageClassName"), old_spec.get("storageClassName")
    from_annotation = (
        annotation in old_annotations
        and old_class is None
        and class_name is not None
        and class_name == old_annotations[annotation]
        and (annotation not in new_annotations or new_annotations[annotation] == old_annotations[annotation])
    )
    if from_annotation:
        spec.pop("storageClassName", None)
    else:
        if new_annotations.get(annotation, "") != old_annotations.get(annotation, ""):
            causes.append(invalid(f"metadata.annotations.{annotation}", as_str(new_annotations.get(annotation)), "field is immutable"))
        from_nil = class_name is not None and old_class is None and (
            annotation not in old_annotations or class_name == old_annotations[annotation]
        )
        if from_nil:
            spec["storageClassName"] = old_class
    bound = as_dict(obj.get("status")).get("phase") == "Bound"
    if bound and isinstance(as_dict(spec.get("resources")).get("requests"), dict):
        resources = dict(as_dict(spec.get("resources")))
        requests = dict(as_dict(resources.get("requests")))
        requests["storage"] = _storage(old_spec)
        resources["requests"] = requests
        spec["resources"] = resources
    if bound and spec.get("volumeAttributesClassName") is not None:
        spec["volumeAttributesClassName"] = old_spec.get("volumeAttributesClassName")
    if not semantic_equal(spec, old_spec):
        diff = spec_diff(old_spec, spec)
        causes.append(
            forbidden(
                "spec",
                f"spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{diff}",
            )
        )
    new_size, old_size = _amount(_storage(as_dict(obj.get("spec")))), _amount(_storage(as_dict(old.get("spec"))))
    capacity = _amount(as_dict(as_dict(old.get("status")).get("capacity")).get("storage"))
    if new_size is not None and old_size is not None and new_size < old_size and capacity is not None and new_size <= capacity:
        causes.append(forbidden("spec.resources.requests.storage", "field can not be less than status.capacity"))
    if as_dict(obj.get("spec")).get("volumeMode") != as_dict(old.get("spec")).get("volumeMode"):
        causes.append(immutable("volumeMode", as_dict(obj.get("spec")).get("volumeMode")))
    return causes
