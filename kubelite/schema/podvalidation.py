"""Pod spec validation after pkg/apis/core/validation: volumes, containers (ports, env, mounts,
resources, probes, security contexts), scheduling fields, and the pod update rules. Used for Pods
and for every pod template (Deployments, Jobs, ...), whose callers pass `is_pod=False`.

Field paths and messages follow upstream; see fielderrors for the rendering. Feature gates are
taken at their v1.33 defaults (relaxed env var names, zero sleep allowed, sidecars on).

Must not validate object metadata or workload-level fields; metavalidation and workloadvalidation do.
"""

from __future__ import annotations

import json
import math
import posixpath
from decimal import Decimal
from functools import lru_cache
from typing import Any

from kubelite.api.quantity import Quantity, QuantityError, format_quantity, is_multiple_of, parse_quantity
from kubelite.schema import names
from kubelite.schema.fielderrors import (
    Cause,
    GoText,
    child,
    duplicate,
    forbidden,
    go_string_map,
    index,
    invalid,
    key,
    non_negative,
    not_found,
    not_supported,
    required,
    too_long,
)
from kubelite.schema.metavalidation import (
    as_dict,
    as_list,
    as_str,
    validate_annotations,
    validate_label_name,
    validate_label_selector,
    validate_labels,
    validate_template_object_meta,
)

Obj = dict[str, Any]

FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
MAX_INT32 = 2**31 - 1
_PORT_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
_RESTART_POLICIES = ["Always", "OnFailure", "Never"]
_DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
_HOST_PATH_TYPES = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"]
_MOUNT_PROPAGATIONS = ["Bidirectional", "HostToContainer", "None"]
_TERMINATION_MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"]
_SUPPORTED_HTTP_SCHEMES = ["HTTP", "HTTPS"]
_TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
_ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
_VOLUME_MODES = ["Block", "Filesystem"]
_STANDARD_RESOURCES = frozenset(
    {
        "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
        "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "resourcequotas", "services",
        "replicationcontrollers", "secrets", "configmaps", "persistentvolumeclaims", "storage",
        "requests.storage", "services.nodeports", "services.loadbalancers",
    }
)  # fmt: skip
_STANDARD_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
_INTEGER_RESOURCES = frozenset(
    {
        "pods", "resourcequotas", "services", "replicationcontrollers", "secrets", "configmaps",
        "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
    }
)  # fmt: skip
_ENV_FIELD_PATHS = [
    "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
    "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
]  # fmt: skip
_VOLUME_FIELD_PATHS = ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"]
_CONVERTIBLE_FIELD_LABELS = frozenset(
    {
        "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
        "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName", "status.phase",
        "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
    }
)  # fmt: skip
_CONTAINER_RESOURCE_FIELDS = [
    "limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage",
    "requests.memory",
]  # fmt: skip
_DIVISORS_CPU = frozenset({"1m", "1"})
_DIVISORS_BYTES = frozenset({"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"})
_UPDATABLE_POD_FIELDS = ",".join(
    [
        "`spec.containers[*].image`",
        "`spec.initContainers[*].image`",
        "`spec.activeDeadlineSeconds`",
        "`spec.tolerations` (only additions to existing tolerations)",
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    ]
)

# Volume sources in upstream's checking order: (key, path used for its checks, path used for
# "more than 1 volume type", required fields as (field, detail)).
_VOLUME_SOURCES: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("emptyDir", "emptyDir", "emptyDir", ()),
    ("hostPath", "hostPath", "hostPath", ()),
    ("gitRepo", "gitRepo", "gitRepo", (("repository", ""),)),
    ("gcePersistentDisk", "persistentDisk", "gcePersistentDisk", (("pdName", ""),)),
    ("awsElasticBlockStore", "awsElasticBlockStore", "awsElasticBlockStore", (("volumeID", ""),)),
    ("secret", "secret", "secret", ()),
    ("nfs", "nfs", "nfs", ()),
    ("iscsi", "iscsi", "iscsi", (("targetPortal", ""), ("iqn", ""))),
    ("glusterfs", "glusterfs", "glusterfs", (("endpoints", ""), ("path", ""))),
    ("flocker", "flocker", "flocker", ()),
    ("persistentVolumeClaim", "persistentVolumeClaim", "persistentVolumeClaim", (("claimName", ""),)),
    ("rbd", "rbd", "rbd", (("monitors", ""), ("image", ""))),
    ("cinder", "cinder", "cinder", (("volumeID", ""),)),
    ("cephfs", "cephfs", "cephFS", (("monitors", ""),)),
    ("quobyte", "quobyte", "quobyte", (("volume", ""),)),
    ("downwardAPI", "downwardAPI", "downwarAPI", ()),
    ("fc", "fc", "fc", ()),
    ("flexVolume", "flexVolume", "flexVolume", (("driver", ""),)),
    ("configMap", "configMap", "configMap", ()),
    ("azureFile", "azureFile", "azureFile", (("secretName", ""), ("shareName", ""))),
    ("vsphereVolume", "vsphereVolume", "vsphereVolume", (("volumePath", ""),)),
    ("photonPersistentDisk", "photonPersistentDisk", "photonPersistentDisk", (("pdID", ""),)),
    ("portworxVolume", "portworxVolume", "portworxVolume", (("volumeID", ""),)),
    ("azureDisk", "azureDisk", "azureDisk", (("diskName", ""), ("diskURI", ""))),
    ("storageos", "storageos", "storageos", (("volumeName", ""),)),
    ("projected", "projected", "projected", ()),
    ("scaleIO", "scaleIO", "scaleIO", (("gateway", ""), ("system", ""), ("volumeName", ""))),
    ("csi", "csi", "csi", ()),
    ("ephemeral", "ephemeral", "ephemeral", ()),
    ("image", "image", "image", ()),
)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --------------------------------------------------------------------------- small helpers
def validate_dns1123_label(value: str, path: str) -> list[Cause]:
    return [invalid(path, value, msg) for msg in names.is_dns1123_label(value)]


def validate_dns1123_subdomain(value: str, path: str) -> list[Cause]:
    return [invalid(path, value, msg) for msg in names.is_dns1123_subdomain(value)]


def validate_qualified_name(value: str, path: str) -> list[Cause]:
    return [invalid(path, value, msg) for msg in names.is_qualified_name(value)]


def validate_port_num_or_name(port: Any, path: str) -> list[Cause]:
    if isinstance(port, str):
        return [invalid(path, port, msg) for msg in names.is_valid_port_name(port)]
    number = _int(port) if port is not None else 0
    if number is None:
        return [invalid(path, port, "must be an integer or a port name")]
    return [invalid(path, number, msg) for msg in names.is_valid_port_num(number)]


def _validate_path_no_backsteps(target: str, path: str) -> list[Cause]:
    if ".." in target.split("/"):
        return [invalid(path, target, "must not contain '..'")]
    return []


def _validate_local_descending_path(target: str, path: str) -> list[Cause]:
    causes = [invalid(path, target, "must be a relative path")] if target.startswith("/") else []
    return causes + _validate_path_no_backsteps(target, path)


def validate_local_non_reserved_path(target: str, path: str) -> list[Cause]:
    causes = _validate_local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        causes.append(invalid(path, target, "must not start with '..'"))
    return causes


def _validate_file_mode(mode: Any, path: str) -> list[Cause]:
    value = _int(mode)
    if value is not None and (value > 0o777 or value < 0):
        return [invalid(path, value, FILE_MODE_ERROR)]
    return []


# --------------------------------------------------------------------------- quantities and resources
@lru_cache(maxsize=4096, typed=True)
def _parsed_quantity(value: str | int | float) -> Quantity | str:
    """A quantity, or upstream's parse error text (cached: quantities repeat across objects)."""
    try:
        return parse_quantity(value)
    except QuantityError as exc:
        return str(exc)


def parse_quantity_field(value: Any, path: str, causes: list[Cause]) -> Quantity | None:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        parsed = _parsed_quantity(value)
        if isinstance(parsed, Quantity):
            return parsed
        causes.append(invalid(path, value, parsed))
        return None
    try:
        return parse_quantity(value)
    except QuantityError as exc:
        causes.append(invalid(path, str(value), str(exc)))
        return None


def is_native_resource(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def is_hugepage_resource(name: str) -> bool:
    return name.startswith("hugepages-")


def is_extended_resource(name: str) -> bool:
    if is_native_resource(name) or name.startswith("requests."):
        return False
    return not names.is_qualified_name("requests." + name)


def is_overcommit_allowed(name: str) -> bool:
    return is_native_resource(name) and not is_hugepage_resource(name)


def is_integer_resource(name: str) -> bool:
    return name in _INTEGER_RESOURCES or is_extended_resource(name)


def validate_resource_name(name: str, path: str) -> list[Cause]:
    causes = [invalid(path, name, msg) for msg in names.is_qualified_name(name)]
    if causes:
        return causes
    standard = name in _STANDARD_RESOURCES or name.startswith(("hugepages-", "requests.hugepages-"))
    if "/" not in name and not standard:
        causes.append(invalid(path, name, "must be a standard resource type or fully qualified"))
    return causes


def validate_container_resource_name(name: str, path: str) -> list[Cause]:
    causes = validate_resource_name(name, path)
    if "/" not in name:
        if name not in _STANDARD_CONTAINER_RESOURCES and not is_hugepage_resource(name):
            causes.append(invalid(path, name, "must be a standard resource for containers"))
    elif not is_native_resource(name) and not is_extended_resource(name):
        causes.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return causes


def validate_resource_quantity_value(resource: str, q: Quantity, path: str) -> list[Cause]:
    causes = []
    if q.amount < 0:
        causes.append(invalid(path, format_quantity(q), "must be greater than or equal to 0"))
    if is_integer_resource(resource) and not q.is_integer():
        causes.append(invalid(path, GoText(format_quantity(q)), "must be an integer"))
    return causes


def _hugepage_error(name: str, q: Quantity) -> str | None:
    try:
        size = parse_quantity(name[len("hugepages-") :])
    except QuantityError:
        return None
    if size.amount > 0 and (q.amount <= 0 or not is_multiple_of(q, size)):
        return f"{format_quantity(q)} is not positive integer multiple of {name}"
    return None


def validate_resource_requirements(requirements: Any, path: str, claim_names: set[str] | None = None) -> list[Cause]:
    requirements = as_dict(requirements)
    causes: list[Cause] = []
    lim_path, req_path = child(path, "limits"), child(path, "requests")
    limits: dict[str, Quantity] = {}
    has_compute = has_hugepages = False
    for name, value in as_dict(requirements.get("limits")).items():
        item_path = key(lim_path, name)
        causes.extend(validate_container_resource_name(name, item_path))
        q = parse_quantity_field(value, item_path, causes)
        if q is None:
            continue
        limits[name] = q
        causes.extend(validate_resource_quantity_value(name, q, item_path))
        if is_hugepage_resource(name):
            has_hugepages = True
            message = _hugepage_error(name, q)
            if message:
                causes.append(invalid(item_path, format_quantity(q), message))
        has_compute = has_compute or name in ("cpu", "memory")
    for name, value in as_dict(requirements.get("requests")).items():
        item_path = key(req_path, name)
        causes.extend(validate_container_resource_name(name, item_path))
        q = parse_quantity_field(value, item_path, causes)
        if q is None:
            continue
        causes.extend(validate_resource_quantity_value(name, q, item_path))
        limit = limits.get(name)
        if limit is not None:
            if q.amount != limit.amount and not is_overcommit_allowed(name):
                causes.append(
                    invalid(req_path, format_quantity(q), f"must be equal to {name} limit of {format_quantity(limit)}")
                )
            elif q.amount > limit.amount:
                causes.append(
                    invalid(
                        req_path,
                        format_quantity(q),
                        f"must be less than or equal to {name} limit of {format_quantity(limit)}",
                    )
                )
        elif not is_overcommit_allowed(name) and name not in as_dict(requirements.get("limits")):
            causes.append(required(lim_path, "Limit must be set for non overcommitable resources"))
        if is_hugepage_resource(name):
            has_hugepages = True
            message = _hugepage_error(name, q)
            if message:
                causes.append(invalid(item_path, format_quantity(q), message))
        has_compute = has_compute or name in ("cpu", "memory")
    if has_hugepages and not has_compute:
        causes.append(forbidden(path, "HugePages require cpu or memory"))
    causes.extend(_validate_resource_claim_names(requirements.get("claims"), claim_names or set(), child(path, "claims")))
    return causes


def _validate_resource_claim_names(claims: Any, pod_claims: set[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, claim in enumerate(as_list(claims)):
        name = as_str(as_dict(claim).get("name"))
        if not name:
            causes.append(required(index(path, i), ""))
            continue
        if name in seen:
            causes.append(duplicate(index(path, i), name))
        seen.add(name)
        if name not in pod_claims:
            detail = "must be one of the names in pod.spec.resourceClaims"
            detail += " which is empty" if not pod_claims else ": " + ", ".join(sorted(pod_claims))
            causes.append(not_found(index(path, i), name, detail))
    return causes


# --------------------------------------------------------------------------- volumes
def _validate_key_to_path(item: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not as_str(item.get("key")):
        causes.append(required(child(path, "key"), ""))
    target = as_str(item.get("path"))
    if not target:
        causes.append(required(child(path, "path"), ""))
    causes.extend(validate_local_non_reserved_path(target, child(path, "path")))
    causes.extend(_validate_file_mode(item.get("mode"), child(path, "mode")))
    return causes


def _validate_object_field_selector(selector: Obj, allowed: list[str], path: str) -> list[Cause]:
    api_version, field_path = as_str(selector.get("apiVersion")), as_str(selector.get("fieldPath"))
    if not api_version:
        return [required(child(path, "apiVersion"), "")]
    if not field_path:
        return [required(child(path, "fieldPath"), "")]
    subscripted = _split_subscripted(field_path)
    if api_version != "v1":
        error = f"unsupported pod version: {api_version}"
    elif subscripted is not None and subscripted[0] not in ("metadata.annotations", "metadata.labels"):
        error = f"field label does not support subscript: {field_path}"
    elif subscripted is None and field_path not in _CONVERTIBLE_FIELD_LABELS and field_path != "spec.host":
        error = f"field label not supported: {field_path}"
    else:
        error = ""
    if error:
        return [invalid(child(path, "fieldPath"), field_path, f"error converting fieldPath: {error}")]
    if subscripted is not None:
        base, subscript = subscripted
        if base == "metadata.annotations":
            return validate_qualified_name(subscript.lower(), path)
        return validate_qualified_name(subscript, path)
    internal = "spec.nodeName" if field_path == "spec.host" else field_path
    if internal not in allowed:
        return [not_supported(child(path, "fieldPath"), internal, allowed)]
    return []


def _split_subscripted(field_path: str) -> tuple[str, str] | None:
    if not field_path.endswith("']"):
        return None
    parts = field_path[: -len("']")].split("['", 1)
    if len(parts) < 2 or not parts[0]:
        return None
    return parts[0], parts[1]


def _validate_resource_field_selector(selector: Obj, path: str, volume: bool) -> list[Cause]:
    causes: list[Cause] = []
    resource = as_str(selector.get("resource"))
    if volume and not as_str(selector.get("containerName")):
        causes.append(required(child(path, "containerName"), ""))
    elif not resource:
        causes.append(required(child(path, "resource"), ""))
    elif resource not in _CONTAINER_RESOURCE_FIELDS and not resource.startswith(
        ("requests.hugepages-", "limits.hugepages-")
    ):
        causes.append(not_supported(child(path, "resource"), resource, _CONTAINER_RESOURCE_FIELDS))
    divisor = selector.get("divisor")
    if divisor not in (None, "0", 0):
        q = parse_quantity_field(divisor, child(path, "divisor"), causes)
        if q is not None and q.amount != 0:
            text = format_quantity(q)
            if resource in ("limits.cpu", "requests.cpu") and text not in _DIVISORS_CPU:
                message = "only divisor's values 1m and 1 are supported with the cpu resource"
                causes.append(invalid(child(path, "divisor"), resource, message))
            elif resource in ("limits.memory", "requests.memory") and text not in _DIVISORS_BYTES:
                message = (
                    "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported "
                    "with the memory resource"
                )
                causes.append(invalid(child(path, "divisor"), resource, message))
    return causes


def _validate_downward_api_file(item: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    target = as_str(item.get("path"))
    if not target:
        causes.append(required(child(path, "path"), ""))
    causes.extend(validate_local_non_reserved_path(target, child(path, "path")))
    if isinstance(item.get("fieldRef"), dict):
        causes.extend(_validate_object_field_selector(item["fieldRef"], _VOLUME_FIELD_PATHS, child(path, "fieldRef")))
        if item.get("resourceFieldRef") is not None:
            causes.append(invalid(path, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
    elif isinstance(item.get("resourceFieldRef"), dict):
        causes.extend(_validate_resource_field_selector(item["resourceFieldRef"], child(path, "resourceFieldRef"), True))
    else:
        causes.append(required(path, "one of fieldRef and resourceFieldRef is required"))
    causes.extend(_validate_file_mode(item.get("mode"), child(path, "mode")))
    return causes


def _validate_projected(source: Obj, path: str) -> list[Cause]:
    causes = _validate_file_mode(source.get("defaultMode"), child(path, "defaultMode"))
    seen_paths: set[str] = set()
    for i, projection in enumerate(as_list(source.get("sources"))):
        projection, src_path = as_dict(projection), index(child(path, "sources"), i)
        count = 0
        for kind in ("secret", "configMap"):
            if not isinstance(projection.get(kind), dict):
                continue
            count += 1
            part, part_path = projection[kind], child(src_path, kind)
            if not as_str(part.get("name")):
                causes.append(required(child(part_path, "name"), ""))
            for j, item in enumerate(as_list(part.get("items"))):
                item = as_dict(item)
                causes.extend(_validate_key_to_path(item, index(child(part_path, "items"), j)))
                target = as_str(item.get("path"))
                if target:
                    if target in seen_paths:
                        causes.append(invalid(path, as_str(part.get("name")), "conflicting duplicate paths"))
                    seen_paths.add(target)
        if isinstance(projection.get("downwardAPI"), dict):
            count += 1
            for item in as_list(projection["downwardAPI"].get("items")):
                item = as_dict(item)
                causes.extend(_validate_downward_api_file(item, child(src_path, "downwardAPI")))
                target = as_str(item.get("path"))
                if target:
                    if target in seen_paths:
                        causes.append(invalid(path, target, "conflicting duplicate paths"))
                    seen_paths.add(target)
        token = projection.get("serviceAccountToken")
        if isinstance(token, dict):
            count += 1
            token_path = child(src_path, "serviceAccountToken")
            expiration = _int(token.get("expirationSeconds")) or 0
            if expiration < 600:
                causes.append(
                    invalid(child(token_path, "expirationSeconds"), expiration, "may not specify a duration less than 10 minutes")
                )
            if expiration > 1 << 32:
                causes.append(
                    invalid(child(token_path, "expirationSeconds"), expiration, "may not specify a duration larger than 2^32 seconds")
                )
            if not as_str(token.get("path")):
                causes.append(required(child(path, "path"), ""))
            else:
                causes.extend(validate_local_non_reserved_path(as_str(token.get("path")), child(path, "path")))
        if isinstance(projection.get("clusterTrustBundle"), dict):
            count += 1
        if count > 1:
            causes.append(forbidden(src_path, "may not specify more than 1 volume type per source"))
    return causes


def _validate_source_details(name: str, source: Obj, path: str, vol_name: str, pod_name: str | None) -> list[Cause]:
    causes: list[Cause] = []
    if name == "emptyDir":
        size = source.get("sizeLimit")
        if size is not None:
            q = parse_quantity_field(size, child(path, "sizeLimit"), causes)
            if q is not None and q.amount < 0:
                causes.append(forbidden(child(path, "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
    elif name == "hostPath":
        host_path = as_str(source.get("path"))
        if not host_path:
            return [required(child(path, "path"), "")]
        causes.extend(_validate_path_no_backsteps(host_path, child(path, "path")))
        host_type = source.get("type")
        if host_type is not None and host_type not in _HOST_PATH_TYPES:
            causes.append(not_supported(child(path, "type"), host_type, _HOST_PATH_TYPES))
    elif name in ("secret", "configMap"):
        ref_field = "secretName" if name == "secret" else "name"
        if not as_str(source.get(ref_field)):
            causes.append(required(child(path, ref_field), ""))
        causes.extend(_validate_file_mode(source.get("defaultMode"), child(path, "defaultMode")))
        for i, item in enumerate(as_list(source.get("items"))):
            causes.extend(_validate_key_to_path(as_dict(item), index(child(path, "items"), i)))
    elif name == "nfs":
        if not as_str(source.get("server")):
            causes.append(required(child(path, "server"), ""))
        nfs_path = as_str(source.get("path"))
        if not nfs_path:
            causes.append(required(child(path, "path"), ""))
        if not nfs_path.startswith("/"):
            causes.append(invalid(child(path, "path"), nfs_path, "must be an absolute path"))
    elif name == "downwardAPI":
        causes.extend(_validate_file_mode(source.get("defaultMode"), child(path, "defaultMode")))
        for item in as_list(source.get("items")):
            causes.extend(_validate_downward_api_file(as_dict(item), path))
    elif name == "projected":
        causes.extend(_validate_projected(source, path))
    elif name == "csi":
        causes.extend(validate_csi_driver_name(as_str(source.get("driver")), child(path, "driver")))
    elif name == "ephemeral":
        template = source.get("volumeClaimTemplate")
        if not isinstance(template, dict):
            causes.append(required(child(path, "volumeClaimTemplate"), ""))
        else:
            template_path = child(path, "volumeClaimTemplate")
            causes.extend(validate_template_object_meta(template.get("metadata"), child(template_path, "metadata")))
            causes.extend(validate_pvc_spec(template.get("spec"), child(template_path, "spec")))
            if pod_name and vol_name:
                claim = f"{pod_name}-{vol_name}"
                for msg in names.is_dns1123_subdomain(claim):
                    causes.append(invalid(child(path, "name"), vol_name, f'PVC name "{claim}": {msg}'))
    elif name == "image":
        policy = as_str(source.get("pullPolicy"))
        if policy not in _PULL_POLICIES:
            causes.append(_pull_policy_error(policy, child(path, "pullPolicy")))
    return causes


def validate_csi_driver_name(driver: str, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not driver:
        causes.append(required(path, ""))
    if len(driver) > 63:
        causes.append(too_long(path, 63))
    causes.extend(invalid(path, driver, msg) for msg in names.is_dns1123_subdomain(driver.lower()))
    return causes


def _validate_volume_source(volume: Obj, path: str, pod_name: str | None) -> list[Cause]:
    causes: list[Cause] = []
    count = 0
    vol_name = as_str(volume.get("name"))
    for source_key, detail_path, more_path, required_fields in _VOLUME_SOURCES:
        source = volume.get(source_key)
        if source is None:
            continue
        if count > 0:
            causes.append(forbidden(child(path, more_path), "may not specify more than 1 volume type"))
            continue
        count += 1
        source = as_dict(source)
        source_path = child(path, detail_path)
        for field, detail in required_fields:
            if not source.get(field):
                causes.append(required(child(source_path, field), detail))
        causes.extend(_validate_source_details(source_key, source, source_path, vol_name, pod_name))
    if count == 0:
        causes.append(required(path, "must specify a volume type"))
    return causes


def validate_volumes(volumes: Any, path: str, pod_name: str | None) -> tuple[dict[str, Obj], list[Cause]]:
    causes: list[Cause] = []
    valid: dict[str, Obj] = {}
    seen: set[str] = set()
    for i, volume in enumerate(as_list(volumes)):
        volume, volume_path = as_dict(volume), index(path, i)
        name = as_str(volume.get("name"))
        errs = _validate_volume_source(volume, volume_path, pod_name)
        if not name:
            errs.append(required(child(volume_path, "name"), ""))
        else:
            errs.extend(validate_dns1123_label(name, child(volume_path, "name")))
        if name in seen:
            errs.append(duplicate(child(volume_path, "name"), name))
        if errs:
            causes.extend(errs)
        else:
            seen.add(name)
            valid[name] = volume
    return valid, causes


def validate_pvc_spec(spec: Any, path: str) -> list[Cause]:
    spec = as_dict(spec)
    causes: list[Cause] = []
    modes = as_list(spec.get("accessModes"))
    if not modes:
        causes.append(required(child(path, "accessModes"), "at least 1 access mode is required"))
    if spec.get("selector") is not None:
        causes.extend(validate_label_selector(spec.get("selector"), child(path, "selector")))
    causes.extend(validate_access_modes(modes, child(path, "accessModes")))
    storage_path = key(child(path, "resources"), "storage")
    storage = as_dict(as_dict(spec.get("resources")).get("requests")).get("storage")
    if storage is None:
        causes.append(required(storage_path, ""))
    else:
        q = parse_quantity_field(storage, storage_path, causes)
        if q is not None:
            if q.amount <= 0:
                causes.append(invalid(storage_path, format_quantity(q), "must be greater than zero"))
            else:
                causes.extend(validate_resource_quantity_value("storage", q, storage_path))
    class_name = spec.get("storageClassName")
    if isinstance(class_name, str) and class_name:
        causes.extend(invalid(child(path, "storageClassName"), class_name, m) for m in names.is_dns1123_subdomain(class_name))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in _VOLUME_MODES:
        causes.append(not_supported(child(path, "volumeMode"), mode, _VOLUME_MODES))
    for ref_field in ("dataSource", "dataSourceRef"):
        ref = spec.get(ref_field)
        if isinstance(ref, dict):
            causes.extend(_validate_data_source(ref, child(path, ref_field)))
    return causes


def validate_access_modes(modes: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    has_once_pod = has_other = False
    for mode in modes:
        if mode not in _ACCESS_MODES:
            causes.append(not_supported(path, mode, _ACCESS_MODES))
        elif mode == "ReadWriteOncePod":
            has_once_pod = True
        else:
            has_other = True
    if has_once_pod and has_other:
        causes.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return causes


def _validate_data_source(ref: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not as_str(ref.get("name")):
        causes.append(required(child(path, "name"), ""))
    kind = as_str(ref.get("kind"))
    if not kind:
        causes.append(required(child(path, "kind"), ""))
    api_group = as_str(ref.get("apiGroup"))
    if not api_group and kind != "PersistentVolumeClaim":
        causes.append(invalid(path, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
    if api_group:
        causes.extend(invalid(child(path, "apiGroup"), api_group, m) for m in names.is_dns1123_subdomain(api_group))
    return causes


# --------------------------------------------------------------------------- containers
def _validate_container_ports(ports: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, port in enumerate(as_list(ports)):
        port, port_path = as_dict(port), index(path, i)
        name = as_str(port.get("name"))
        if name:
            messages = names.is_valid_port_name(name)
            if messages:
                causes.extend(invalid(child(port_path, "name"), name, msg) for msg in messages)
            elif name in seen:
                causes.append(duplicate(child(port_path, "name"), name))
            else:
                seen.add(name)
        container_port = _int(port.get("containerPort")) or 0
        if container_port == 0:
            causes.append(required(child(port_path, "containerPort"), ""))
        else:
            causes.extend(invalid(child(port_path, "containerPort"), container_port, m) for m in names.is_valid_port_num(container_port))
        host_port = _int(port.get("hostPort")) or 0
        if host_port:
            causes.extend(invalid(child(port_path, "hostPort"), host_port, m) for m in names.is_valid_port_num(host_port))
        causes.extend(validate_protocol(port.get("protocol"), child(port_path, "protocol")))
    return causes


def validate_protocol(protocol: Any, path: str) -> list[Cause]:
    if not protocol:
        return [required(path, "")]
    if protocol not in _PORT_PROTOCOLS:
        return [not_supported(path, protocol, _PORT_PROTOCOLS)]
    return []


def _validate_env(env: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, var in enumerate(as_list(env)):
        var, var_path = as_dict(var), index(path, i)
        name = as_str(var.get("name"))
        if not name:
            causes.append(required(child(var_path, "name"), ""))
        else:
            causes.extend(invalid(child(var_path, "name"), name, m) for m in names.is_relaxed_env_var_name(name))
        causes.extend(_validate_env_value_from(var, child(var_path, "valueFrom")))
    return causes


def _validate_env_value_from(var: Obj, path: str) -> list[Cause]:
    source = var.get("valueFrom")
    if not isinstance(source, dict):
        return []
    causes: list[Cause] = []
    count = 0
    if isinstance(source.get("fieldRef"), dict):
        count += 1
        causes.extend(_validate_object_field_selector(source["fieldRef"], _ENV_FIELD_PATHS, child(path, "fieldRef")))
    if isinstance(source.get("resourceFieldRef"), dict):
        count += 1
        causes.extend(_validate_resource_field_selector(source["resourceFieldRef"], child(path, "resourceFieldRef"), False))
    for ref_field in ("configMapKeyRef", "secretKeyRef"):
        if isinstance(source.get(ref_field), dict):
            count += 1
            causes.extend(_validate_key_selector(source[ref_field], child(path, ref_field)))
    if count == 0:
        causes.append(invalid(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
    elif as_str(var.get("value")):
        causes.append(invalid(path, "", "may not be specified when `value` is not empty"))
    elif count > 1:
        causes.append(invalid(path, "", "may not have more than one field specified at a time"))
    return causes


def _validate_key_selector(selector: Obj, path: str) -> list[Cause]:
    name = as_str(selector.get("name"))
    causes = [invalid(child(path, "name"), name, msg) for msg in names.is_dns1123_subdomain(name)]
    selector_key = as_str(selector.get("key"))
    if not selector_key:
        causes.append(required(child(path, "key"), ""))
    else:
        causes.extend(invalid(child(path, "key"), selector_key, m) for m in names.is_config_map_key(selector_key))
    return causes


def _validate_env_from(env_from: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, source in enumerate(as_list(env_from)):
        source, source_path = as_dict(source), index(path, i)
        prefix = as_str(source.get("prefix"))
        if prefix:
            causes.extend(invalid(child(source_path, "prefix"), prefix, m) for m in names.is_relaxed_env_var_name(prefix))
        count = 0
        for ref_field in ("configMapRef", "secretRef"):
            ref = source.get(ref_field)
            if not isinstance(ref, dict):
                continue
            count += 1
            name = as_str(ref.get("name"))
            name_path = child(source_path, ref_field, "name")
            if not name:
                causes.append(required(name_path, ""))
            else:
                causes.extend(invalid(name_path, name, m) for m in names.name_is_dns_subdomain(name, True))
        if count == 0:
            causes.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            causes.append(invalid(path, "", "may not have more than one field specified at a time"))
    return causes


def _validate_volume_mounts(container: Obj, volumes: dict[str, Obj], path: str) -> list[Cause]:
    causes: list[Cause] = []
    devices = {as_str(as_dict(d).get("name")): as_str(as_dict(d).get("devicePath")) for d in as_list(container.get("volumeDevices"))}
    privileged = as_dict(container.get("securityContext")).get("privileged") is True
    mount_points: set[str] = set()
    for i, mount in enumerate(as_list(container.get("volumeMounts"))):
        mount, mount_path = as_dict(mount), index(path, i)
        name, target = as_str(mount.get("name")), as_str(mount.get("mountPath"))
        if not name:
            causes.append(required(child(mount_path, "name"), ""))
        if name not in volumes:
            causes.append(not_found(child(mount_path, "name"), name))
        if not target:
            causes.append(required(child(mount_path, "mountPath"), ""))
        if target in mount_points:
            causes.append(invalid(child(mount_path, "mountPath"), target, "must be unique"))
        mount_points.add(target)
        if name in devices:
            causes.append(invalid(child(mount_path, "name"), name, "must not already exist in volumeDevices"))
        if target in devices.values():
            causes.append(invalid(child(mount_path, "mountPath"), target, "must not already exist as a path in volumeDevices"))
        sub_path, sub_path_expr = as_str(mount.get("subPath")), as_str(mount.get("subPathExpr"))
        if name in volumes and volumes[name].get("image") is not None:
            if sub_path:
                causes.append(invalid(child(mount_path, "subPath"), sub_path, "not allowed in image volume sources"))
            if sub_path_expr:
                causes.append(invalid(child(mount_path, "subPathExpr"), sub_path_expr, "not allowed in image volume sources"))
        if sub_path:
            causes.extend(_validate_local_descending_path(sub_path, child(path, "subPath")))
        if sub_path_expr:
            if sub_path:
                causes.append(invalid(child(mount_path, "subPathExpr"), sub_path_expr, "subPathExpr and subPath are mutually exclusive"))
            causes.extend(_validate_local_descending_path(sub_path_expr, child(path, "subPathExpr")))
        propagation = mount.get("mountPropagation")
        if propagation is not None:
            if propagation not in _MOUNT_PROPAGATIONS:
                causes.append(not_supported(child(path, "mountPropagation"), propagation, _MOUNT_PROPAGATIONS))
            if propagation == "Bidirectional" and not privileged:
                causes.append(
                    forbidden(child(path, "mountPropagation"), "Bidirectional mount propagation is available only to privileged containers")
                )
        causes.extend(_validate_recursive_read_only(mount, child(path, "recursiveReadOnly")))
    return causes


def _validate_recursive_read_only(mount: Obj, path: str) -> list[Cause]:
    value = mount.get("recursiveReadOnly")
    if value is None or value == "Disabled":
        return []
    if value in ("Enabled", "IfPossible"):
        causes = []
        if mount.get("readOnly") is not True:
            causes.append(forbidden(path, "may only be specified when readOnly is true"))
        if mount.get("mountPropagation") not in (None, "None"):
            causes.append(forbidden(path, "may only be specified when mountPropagation is None or not specified"))
        return causes
    return [not_supported(path, value, ["Disabled", "Enabled", "IfPossible"])]


def _validate_volume_devices(container: Obj, volumes: dict[str, Obj], path: str) -> list[Cause]:
    causes: list[Cause] = []
    mounts = {as_str(as_dict(m).get("name")): as_str(as_dict(m).get("mountPath")) for m in as_list(container.get("volumeMounts"))}
    device_paths: set[str] = set()
    device_names: set[str] = set()
    for i, device in enumerate(as_list(container.get("volumeDevices"))):
        device, device_path_field = as_dict(device), index(path, i)
        name, device_path = as_str(device.get("name")), as_str(device.get("devicePath"))
        volume = volumes.get(name)
        if not name:
            causes.append(required(child(device_path_field, "name"), ""))
        if name in device_names:
            causes.append(invalid(child(device_path_field, "name"), name, "must be unique"))
        if volume is not None and volume.get("persistentVolumeClaim") is None and volume.get("ephemeral") is None:
            causes.append(
                invalid(
                    child(device_path_field, "name"),
                    name,
                    "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
                )
            )
        if volume is None:
            causes.append(not_found(child(device_path_field, "name"), name))
        if not device_path:
            causes.append(required(child(device_path_field, "devicePath"), ""))
        if device_path in device_paths:
            causes.append(invalid(child(device_path_field, "devicePath"), device_path, "must be unique"))
        if device_path and ".." in device_path.split("/"):
            causes.append(invalid(child(device_path_field, "devicePath"), device_path, "can not contain backsteps ('..')"))
        else:
            device_paths.add(device_path)
        if name in mounts:
            causes.append(invalid(child(device_path_field, "name"), name, "must not already exist in volumeMounts"))
        if device_path in mounts.values():
            causes.append(invalid(child(device_path_field, "devicePath"), device_path, "must not already exist as a path in volumeMounts"))
        if name:
            device_names.add(name)
    return causes


def _pull_policy_error(policy: str, path: str) -> Cause:
    return required(path, "") if not policy else not_supported(path, policy, _PULL_POLICIES)


def _validate_handler(handler: Obj, grace: int | None, path: str, probe: bool) -> list[Cause]:
    causes: list[Cause] = []
    count = 0
    kinds = ("exec", "httpGet", "tcpSocket", "grpc") if probe else ("exec", "httpGet", "tcpSocket", "sleep")
    for kind in kinds:
        action = handler.get(kind)
        if not isinstance(action, dict):
            continue
        if count > 0:
            causes.append(forbidden(child(path, kind), "may not specify more than 1 handler type"))
            continue
        count += 1
        action_path = child(path, kind)
        if kind == "exec" and not as_list(action.get("command")):
            causes.append(required(child(action_path, "command"), ""))
        elif kind == "httpGet":
            if not as_str(action.get("path")):
                causes.append(required(child(action_path, "path"), ""))
            causes.extend(validate_port_num_or_name(action.get("port"), child(action_path, "port")))
            scheme = as_str(action.get("scheme"))
            if scheme not in _SUPPORTED_HTTP_SCHEMES:
                causes.append(not_supported(child(action_path, "scheme"), scheme, _SUPPORTED_HTTP_SCHEMES))
            for header in as_list(action.get("httpHeaders")):
                header_name = as_str(as_dict(header).get("name"))
                causes.extend(invalid(child(action_path, "httpHeaders"), header_name, m) for m in names.is_http_header_name(header_name))
        elif kind == "tcpSocket":
            causes.extend(validate_port_num_or_name(action.get("port"), child(action_path, "port")))
        elif kind == "grpc":
            causes.extend(validate_port_num_or_name(_int(action.get("port")) or 0, child(action_path, "port")))
        elif kind == "sleep":
            seconds = _int(action.get("seconds")) or 0
            if grace is not None and (seconds < 0 or seconds > grace):
                causes.append(
                    invalid(action_path, seconds, f"must be non-negative and less than terminationGracePeriodSeconds ({grace})")
                )
    if count == 0:
        causes.append(required(path, "must specify a handler type"))
    return causes


def _validate_probe(probe: Any, grace: int | None, path: str, kind: str) -> list[Cause]:
    if not isinstance(probe, dict):
        return []
    causes = _validate_handler(probe, grace, path, True)
    for field in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        causes.extend(non_negative(probe.get(field), child(path, field)))
    probe_grace = probe.get("terminationGracePeriodSeconds")
    if probe_grace is not None and isinstance(probe_grace, int) and probe_grace <= 0:
        causes.append(invalid(child(path, "terminationGracePeriodSeconds"), probe_grace, "must be greater than 0"))
    if kind in ("liveness", "startup") and probe.get("successThreshold", 1) != 1:
        causes.append(invalid(child(path, "successThreshold"), probe.get("successThreshold"), "must be 1"))
    if kind == "readiness" and probe_grace is not None:
        causes.append(
            invalid(child(path, "terminationGracePeriodSeconds"), probe_grace, "must not be set for readinessProbes")
        )
    return causes


def _validate_lifecycle(lifecycle: Obj, grace: int | None, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for hook in ("postStart", "preStop"):
        if isinstance(lifecycle.get(hook), dict):
            causes.extend(_validate_handler(lifecycle[hook], grace, child(path, hook), False))
    return causes


def _validate_resize_policy(policies: Any, path: str, restart_policy: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, policy in enumerate(as_list(policies)):
        policy = as_dict(policy)
        resource, restart = as_str(policy.get("resourceName")), as_str(policy.get("restartPolicy"))
        if resource in seen:
            causes.append(duplicate(index(path, i), resource))
        seen.add(resource)
        if not resource:
            causes.append(required(path, ""))
        elif resource not in ("cpu", "memory"):
            causes.append(not_supported(path, resource, ["cpu", "memory"]))
        if not restart:
            causes.append(required(path, ""))
        elif restart not in ("NotRequired", "RestartContainer"):
            causes.append(not_supported(path, restart, ["NotRequired", "RestartContainer"]))
        if restart_policy == "Never" and restart != "NotRequired":
            causes.append(invalid(path, restart, "must be 'NotRequired' when `restartPolicy` is 'Never'"))
    return causes


def _validate_seccomp_profile(profile: Any, path: str) -> list[Cause]:
    if not isinstance(profile, dict):
        return []
    causes: list[Cause] = []
    kind = as_str(profile.get("type"))
    if not kind:
        causes.append(required(child(path, "type"), "type is required when seccompProfile is set"))
    elif kind not in ("Localhost", "RuntimeDefault", "Unconfined"):
        causes.append(not_supported(child(path, "type"), kind, ["Localhost", "RuntimeDefault", "Unconfined"]))
    localhost = profile.get("localhostProfile")
    if kind == "Localhost":
        if localhost is None:
            causes.append(required(child(path, "localhostProfile"), "must be set when seccomp type is Localhost"))
        else:
            causes.extend(_validate_local_descending_path(as_str(localhost), child(path, "localhostProfile")))
    elif localhost is not None:
        causes.append(invalid(child(path, "localhostProfile"), GoText(json.dumps(profile)), "can only be set when seccomp type is Localhost"))
    return causes


def _validate_app_armor_profile(profile: Any, path: str) -> list[Cause]:
    if not isinstance(profile, dict):
        return []
    kind = as_str(profile.get("type"))
    localhost = profile.get("localhostProfile")
    if kind == "Localhost":
        if localhost is None:
            return [required(child(path, "localhostProfile"), "must be set when AppArmor type is Localhost")]
        text = as_str(localhost)
        if text.strip() != text:
            return [invalid(child(path, "localhostProfile"), text, "must not be padded with whitespace")]
        if not text:
            return [required(child(path, "localhostProfile"), "must be set when AppArmor type is Localhost")]
        return [too_long(child(path, "localhostProfile"), 4095)] if len(text) > 4095 else []
    if kind in ("RuntimeDefault", "Unconfined"):
        if localhost is not None:
            return [invalid(child(path, "localhostProfile"), localhost, "can only be set when AppArmor type is Localhost")]
        return []
    if not kind:
        return [required(child(path, "type"), "type is required when appArmorProfile is set")]
    return [not_supported(child(path, "type"), kind, ["Localhost", "RuntimeDefault", "Unconfined"])]


def _validate_security_context(context: Any, path: str, host_users: bool) -> list[Cause]:
    if not isinstance(context, dict):
        return []
    causes: list[Cause] = []
    for field, check in (("runAsUser", names.is_valid_user_id), ("runAsGroup", names.is_valid_group_id)):
        value = _int(context.get(field))
        if value is not None:
            causes.extend(invalid(child(path, field), value, m) for m in check(value))
    proc_mount = context.get("procMount")
    if proc_mount is not None:
        if proc_mount not in ("Default", "Unmasked"):
            causes.append(not_supported(child(path, "procMount"), proc_mount, ["Default", "Unmasked"]))
        if host_users and proc_mount == "Unmasked":
            causes.append(invalid(child(path, "procMount"), proc_mount, "`hostUsers` must be false to use `Unmasked`"))
    causes.extend(_validate_seccomp_profile(context.get("seccompProfile"), child(path, "seccompProfile")))
    if context.get("allowPrivilegeEscalation") is False:
        shown = GoText(json.dumps(context, sort_keys=True))
        if context.get("privileged") is True:
            causes.append(invalid(path, shown, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
        for cap in as_list(as_dict(context.get("capabilities")).get("add")):
            if cap == "CAP_SYS_ADMIN":
                causes.append(invalid(path, shown, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
    causes.extend(_validate_app_armor_profile(context.get("appArmorProfile"), child(path, "appArmorProfile")))
    return causes


def _validate_container_common(
    container: Obj, volumes: dict[str, Obj], claims: set[str], path: str, restart_policy: str, host_users: bool
) -> list[Cause]:
    causes: list[Cause] = []
    name = as_str(container.get("name"))
    if not name:
        causes.append(required(child(path, "name"), ""))
    else:
        causes.extend(validate_dns1123_label(name, child(path, "name")))
    if not as_str(container.get("image")):
        causes.append(required(child(path, "image"), ""))
    policy = as_str(container.get("terminationMessagePolicy"))
    if not policy:
        causes.append(required(child(path, "terminationMessagePolicy"), ""))
    elif policy not in _TERMINATION_MESSAGE_POLICIES:
        causes.append(not_supported(child(path, "terminationMessagePolicy"), policy, _TERMINATION_MESSAGE_POLICIES))
    causes.extend(_validate_container_ports(container.get("ports"), child(path, "ports")))
    causes.extend(_validate_env(container.get("env"), child(path, "env")))
    causes.extend(_validate_env_from(container.get("envFrom"), child(path, "envFrom")))
    causes.extend(_validate_volume_mounts(container, volumes, child(path, "volumeMounts")))
    causes.extend(_validate_volume_devices(container, volumes, child(path, "volumeDevices")))
    pull_policy = as_str(container.get("imagePullPolicy"))
    if pull_policy not in _PULL_POLICIES:
        causes.append(_pull_policy_error(pull_policy, child(path, "imagePullPolicy")))
    causes.extend(validate_resource_requirements(container.get("resources"), child(path, "resources"), claims))
    causes.extend(_validate_resize_policy(container.get("resizePolicy"), child(path, "resizePolicy"), restart_policy))
    causes.extend(_validate_security_context(container.get("securityContext"), child(path, "securityContext"), host_users))
    return causes


def _host_port_conflicts(containers: list[Obj], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for ci, container in enumerate(containers):
        for pi, port in enumerate(as_list(container.get("ports"))):
            port = as_dict(port)
            host_port = _int(port.get("hostPort")) or 0
            if not host_port:
                continue
            entry = f"{as_str(port.get('protocol'))}/{as_str(port.get('hostIP'))}/{host_port}"
            if entry in seen:
                causes.append(duplicate(child(index(child(index(path, ci), "ports"), pi), "hostPort"), entry))
            seen.add(entry)
    return causes


def _validate_containers(
    containers: list[Obj], volumes: dict[str, Obj], claims: set[str], grace: int | None, path: str, restart_policy: str, host_users: bool
) -> list[Cause]:
    if not containers:
        return [required(path, "")]
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, container in enumerate(containers):
        container_path = index(path, i)
        causes.extend(_validate_container_common(container, volumes, claims, container_path, restart_policy, host_users))
        name = as_str(container.get("name"))
        if name in seen:
            causes.append(duplicate(child(container_path, "name"), name))
        seen.add(name)
        if isinstance(container.get("lifecycle"), dict):
            causes.extend(_validate_lifecycle(container["lifecycle"], grace, child(container_path, "lifecycle")))
        causes.extend(_validate_probe(container.get("livenessProbe"), grace, child(container_path, "livenessProbe"), "liveness"))
        causes.extend(_validate_probe(container.get("readinessProbe"), grace, child(container_path, "readinessProbe"), "readiness"))
        causes.extend(_validate_probe(container.get("startupProbe"), grace, child(container_path, "startupProbe"), "startup"))
        if container.get("restartPolicy") is not None:
            causes.append(forbidden(child(container_path, "restartPolicy"), "may not be set for non-init containers"))
    causes.extend(_host_port_conflicts(containers, path))
    return causes


def _validate_init_containers(
    containers: list[Obj],
    regular: list[Obj],
    volumes: dict[str, Obj],
    claims: set[str],
    grace: int | None,
    path: str,
    restart_policy: str,
    host_users: bool,
) -> list[Cause]:
    causes: list[Cause] = []
    seen = {as_str(c.get("name")) for c in regular}
    for i, container in enumerate(containers):
        container_path = index(path, i)
        causes.extend(_validate_container_common(container, volumes, claims, container_path, restart_policy, host_users))
        restart = container.get("restartPolicy")
        if restart is not None and restart != "Always":
            causes.append(not_supported(child(container_path, "restartPolicy"), restart, ["Always"]))
        name = as_str(container.get("name"))
        if name in seen:
            causes.append(duplicate(child(container_path, "name"), name))
        elif name:
            seen.add(name)
        causes.extend(_host_port_conflicts([container], path))
        if restart == "Always":
            if isinstance(container.get("lifecycle"), dict):
                causes.extend(_validate_lifecycle(container["lifecycle"], grace, child(container_path, "lifecycle")))
            causes.extend(_validate_probe(container.get("livenessProbe"), grace, child(container_path, "livenessProbe"), "liveness"))
            causes.extend(_validate_probe(container.get("readinessProbe"), grace, child(container_path, "readinessProbe"), "readiness"))
            causes.extend(_validate_probe(container.get("startupProbe"), grace, child(container_path, "startupProbe"), "startup"))
        else:
            for field in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if container.get(field) is not None:
                    causes.append(
                        forbidden(child(container_path, field), "may not be set for init containers without restartPolicy=Always")
                    )
    return causes


def _validate_ephemeral_containers(spec: Obj, volumes: dict[str, Obj], claims: set[str], path: str, restart_policy: str, host_users: bool) -> list[Cause]:
    causes: list[Cause] = []
    others = {as_str(as_dict(c).get("name")) for field in ("containers", "initContainers") for c in as_list(spec.get(field))}
    seen = set(others)
    for i, container in enumerate(as_list(spec.get("ephemeralContainers"))):
        container, container_path = as_dict(container), index(path, i)
        causes.extend(_validate_container_common(container, volumes, claims, container_path, restart_policy, host_users))
        causes.extend(_image_whitespace(container, container_path))
        name = as_str(container.get("name"))
        if name in seen:
            causes.append(duplicate(child(container_path, "name"), name))
        seen.add(name)
        target = as_str(container.get("targetContainerName"))
        if target and target not in others:
            causes.append(not_found(child(container_path, "targetContainerName"), target))
        for field in ("ports", "resources", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "resizePolicy", "restartPolicy"):
            if container.get(field) not in (None, [], {}):
                causes.append(forbidden(child(container_path, field), "cannot be set for an Ephemeral Container"))
        for j, mount in enumerate(as_list(container.get("volumeMounts"))):
            for field in ("subPath", "subPathExpr"):
                if as_str(as_dict(mount).get(field)):
                    causes.append(
                        forbidden(child(index(child(container_path, "volumeMounts"), j), field), "cannot be set for an Ephemeral Container")
                    )
    return causes


def _image_whitespace(container: Obj, path: str) -> list[Cause]:
    image = as_str(container.get("image"))
    if image != image.strip():
        return [invalid(child(path, "image"), image, "must not have leading or trailing whitespace")]
    return []


# --------------------------------------------------------------------------- scheduling
def validate_node_selector_requirement(req: Obj, path: str, allow_invalid_values: bool) -> list[Cause]:
    causes: list[Cause] = []
    operator, values = as_str(req.get("operator")), as_list(req.get("values"))
    if operator in ("In", "NotIn"):
        if not values:
            causes.append(required(child(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            causes.append(forbidden(child(path, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    elif operator in ("Gt", "Lt"):
        if len(values) != 1:
            causes.append(required(child(path, "values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
    else:
        causes.append(invalid(child(path, "operator"), operator, "not a valid selector operator"))
    causes.extend(validate_label_name(as_str(req.get("key")), child(path, "key")))
    if not allow_invalid_values:
        for i, value in enumerate(values):
            text = as_str(value)
            causes.extend(invalid(index(child(path, "values"), i), text, m) for m in names.is_valid_label_value(text))
    return causes


def validate_node_selector_term(term: Obj, path: str, allow_invalid_values: bool) -> list[Cause]:
    causes: list[Cause] = []
    for j, req in enumerate(as_list(term.get("matchExpressions"))):
        causes.extend(validate_node_selector_requirement(as_dict(req), index(child(path, "matchExpressions"), j), allow_invalid_values))
    for j, req in enumerate(as_list(term.get("matchFields"))):
        req, req_path = as_dict(req), index(child(path, "matchFields"), j)
        operator, values = as_str(req.get("operator")), as_list(req.get("values"))
        if operator in ("In", "NotIn"):
            if len(values) != 1:
                causes.append(
                    required(child(req_path, "values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector")
                )
        else:
            causes.append(invalid(child(req_path, "operator"), operator, "not a valid selector operator"))
        if as_str(req.get("key")) != "metadata.name":
            causes.append(invalid(child(req_path, "key"), as_str(req.get("key")), "not a valid field selector key"))
        else:
            for k, value in enumerate(values):
                causes.extend(invalid(index(child(req_path, "values"), k), as_str(value), m) for m in names.is_dns1123_subdomain(as_str(value)))
    return causes


def validate_node_selector(selector: Obj, path: str, allow_invalid_values: bool = False) -> list[Cause]:
    terms = as_list(selector.get("nodeSelectorTerms"))
    terms_path = child(path, "nodeSelectorTerms")
    if not terms:
        return [required(terms_path, "must have at least one node selector term")]
    causes: list[Cause] = []
    for i, term in enumerate(terms):
        causes.extend(validate_node_selector_term(as_dict(term), index(terms_path, i), allow_invalid_values))
    return causes


def _validate_pod_affinity_term(term: Obj, path: str) -> list[Cause]:
    causes = validate_label_selector(term.get("labelSelector"), child(path, "labelSelector"))
    causes.extend(validate_label_selector(term.get("namespaceSelector"), child(path, "namespaceSelector")))
    for namespace in as_list(term.get("namespaces")):
        causes.extend(invalid(child(path, "namespace"), as_str(namespace), m) for m in names.name_is_dns_label(as_str(namespace)))
    selector = term.get("labelSelector")
    for field in ("matchLabelKeys", "mismatchLabelKeys"):
        keys = as_list(term.get(field))
        if not keys:
            continue
        if selector is None:
            causes.append(forbidden(child(path, field), "must not be specified when labelSelector is not set"))
            continue
        for i, label_key in enumerate(keys):
            causes.extend(validate_label_name(as_str(label_key), index(child(path, field), i)))
    topology_key = as_str(term.get("topologyKey"))
    if not topology_key:
        causes.append(required(child(path, "topologyKey"), "can not be empty"))
    causes.extend(validate_label_name(topology_key, child(path, "topologyKey")))
    return causes


def _validate_pod_affinity(affinity: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    required_path = child(path, "requiredDuringSchedulingIgnoredDuringExecution")
    for i, term in enumerate(as_list(affinity.get("requiredDuringSchedulingIgnoredDuringExecution"))):
        causes.extend(_validate_pod_affinity_term(as_dict(term), index(required_path, i)))
    preferred_path = child(path, "preferredDuringSchedulingIgnoredDuringExecution")
    for i, weighted in enumerate(as_list(affinity.get("preferredDuringSchedulingIgnoredDuringExecution"))):
        weighted, weighted_path = as_dict(weighted), index(preferred_path, i)
        weight = _int(weighted.get("weight")) or 0
        if weight <= 0 or weight > 100:
            causes.append(invalid(child(weighted_path, "weight"), weight, "must be in the range 1-100"))
        causes.extend(_validate_pod_affinity_term(as_dict(weighted.get("podAffinityTerm")), child(weighted_path, "podAffinityTerm")))
    return causes


def _validate_affinity(affinity: Any, path: str) -> list[Cause]:
    affinity = as_dict(affinity)
    causes: list[Cause] = []
    node = affinity.get("nodeAffinity")
    if isinstance(node, dict):
        node_path = child(path, "nodeAffinity")
        if isinstance(node.get("requiredDuringSchedulingIgnoredDuringExecution"), dict):
            causes.extend(
                validate_node_selector(
                    node["requiredDuringSchedulingIgnoredDuringExecution"],
                    child(node_path, "requiredDuringSchedulingIgnoredDuringExecution"),
                )
            )
        preferred_path = child(node_path, "preferredDuringSchedulingIgnoredDuringExecution")
        for i, term in enumerate(as_list(node.get("preferredDuringSchedulingIgnoredDuringExecution"))):
            term, term_path = as_dict(term), index(preferred_path, i)
            weight = _int(term.get("weight")) or 0
            if weight <= 0 or weight > 100:
                causes.append(invalid(child(term_path, "weight"), weight, "must be in the range 1-100"))
            causes.extend(validate_node_selector_term(as_dict(term.get("preference")), child(term_path, "preference"), True))
    for field in ("podAffinity", "podAntiAffinity"):
        if isinstance(affinity.get(field), dict):
            causes.extend(_validate_pod_affinity(affinity[field], child(path, field)))
    return causes


def validate_tolerations(tolerations: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, toleration in enumerate(as_list(tolerations)):
        toleration, tol_path = as_dict(toleration), index(path, i)
        tol_key, operator = as_str(toleration.get("key")), as_str(toleration.get("operator"))
        value, effect = as_str(toleration.get("value")), as_str(toleration.get("effect"))
        if tol_key:
            causes.extend(validate_label_name(tol_key, child(tol_path, "key")))
        if not tol_key and operator != "Exists":
            causes.append(
                invalid(
                    child(tol_path, "operator"),
                    operator,
                    'operator must be Exists when `key` is empty, which means "match all values and all keys"',
                )
            )
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            causes.append(invalid(child(tol_path, "effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if operator in ("Equal", ""):
            messages = names.is_valid_label_value(value)
            if messages:
                causes.append(invalid(child(tol_path, "operator"), value, ";".join(messages)))
        elif operator == "Exists":
            if value:
                causes.append(invalid(child(tol_path, "operator"), value, "value must be empty when `operator` is 'Exists'"))
        else:
            causes.append(not_supported(child(tol_path, "operator"), operator, ["Equal", "Exists"]))
        if effect and effect not in _TAINT_EFFECTS:
            causes.append(not_supported(child(tol_path, "effect"), effect, _TAINT_EFFECTS))
    return causes


def validate_taint_effect(effect: str, path: str, allow_empty: bool) -> list[Cause]:
    if not effect and not allow_empty:
        return [required(path, "")]
    if effect not in _TAINT_EFFECTS:
        return [not_supported(path, effect, _TAINT_EFFECTS)]
    return []


def _validate_dns_config(config: Any, dns_policy: str, path: str) -> list[Cause]:
    if dns_policy == "None":
        if not isinstance(config, dict):
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not as_list(config.get("nameservers")):
            return [required(child(path, "nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None")]
    if not isinstance(config, dict):
        return []
    causes: list[Cause] = []
    nameservers = [as_str(n) for n in as_list(config.get("nameservers"))]
    if len(nameservers) > 3:
        causes.append(invalid(child(path, "nameservers"), nameservers, "must not have more than 3 nameservers"))
    for i, server in enumerate(nameservers):
        causes.extend(invalid(index(child(path, "nameservers"), i), server, m) for m in names.is_valid_ip(server))
    searches = [as_str(s) for s in as_list(config.get("searches"))]
    if len(searches) > 32:
        causes.append(invalid(child(path, "searches"), searches, "must not have more than 32 search paths"))
    if len(" ".join(searches)) > 2048:
        causes.append(
            invalid(child(path, "searches"), searches, "must not have more than 2048 characters (including spaces) in the search list")
        )
    for i, search in enumerate(searches):
        if search != ".":
            search = search[:-1] if search.endswith(".") else search
            causes.extend(
                invalid(index(child(path, "searches"), i), search, m) for m in names.is_dns1123_subdomain_with_underscore(search)
            )
    for i, option in enumerate(as_list(config.get("options"))):
        if not as_str(as_dict(option).get("name")):
            causes.append(required(index(child(path, "options"), i), "must not be empty"))
    return causes


def _validate_topology_spread(constraints: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    items = [as_dict(c) for c in as_list(constraints)]
    for i, constraint in enumerate(items):
        constraint_path = index(path, i)
        max_skew = _int(constraint.get("maxSkew")) or 0
        if max_skew <= 0:
            causes.append(invalid(child(constraint_path, "maxSkew"), max_skew, "must be greater than zero"))
        topology_key = as_str(constraint.get("topologyKey"))
        if not topology_key:
            causes.append(required(child(constraint_path, "topologyKey"), "can not be empty"))
        action = as_str(constraint.get("whenUnsatisfiable"))
        if action not in ("DoNotSchedule", "ScheduleAnyway"):
            causes.append(not_supported(child(constraint_path, "whenUnsatisfiable"), action, ["DoNotSchedule", "ScheduleAnyway"]))
        for other in items[i + 1 :]:
            if as_str(other.get("topologyKey")) == topology_key and as_str(other.get("whenUnsatisfiable")) == action:
                causes.append(duplicate(child(constraint_path, "{topologyKey, whenUnsatisfiable}"), f"{{{topology_key}, {action}}}"))
                break
        min_domains = constraint.get("minDomains")
        if min_domains is not None:
            if not isinstance(min_domains, int) or min_domains <= 0:
                causes.append(invalid(child(constraint_path, "minDomains"), min_domains, "must be greater than zero"))
            if action != "DoNotSchedule":
                causes.append(
                    invalid(
                        child(constraint_path, "minDomains"),
                        min_domains,
                        f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}",
                    )
                )
        for policy_field in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            policy = constraint.get(policy_field)
            if policy is not None and policy not in ("Honor", "Ignore"):
                causes.append(not_supported(child(constraint_path, policy_field), policy, ["Honor", "Ignore"]))
        causes.extend(validate_label_selector(constraint.get("labelSelector"), child(constraint_path, "labelSelector")))
    return causes


def _validate_pod_security_context(spec: Obj, path: str) -> list[Cause]:
    context = spec.get("securityContext")
    if not isinstance(context, dict):
        return []
    causes: list[Cause] = []
    for field, check in (("fsGroup", names.is_valid_group_id), ("runAsUser", names.is_valid_user_id), ("runAsGroup", names.is_valid_group_id)):
        value = _int(context.get(field))
        if value is not None:
            causes.extend(invalid(child(path, field), value, m) for m in check(value))
    for i, gid in enumerate(as_list(context.get("supplementalGroups"))):
        if _int(gid) is not None:
            causes.extend(invalid(index(child(path, "supplementalGroups"), i), gid, m) for m in names.is_valid_group_id(gid))
    if spec.get("shareProcessNamespace") is True and spec.get("hostPID") is True:
        causes.append(invalid(child(path, "shareProcessNamespace"), True, "ShareProcessNamespace and HostPID cannot both be enabled"))
    seen: set[str] = set()
    for i, sysctl in enumerate(as_list(context.get("sysctls"))):
        sysctl_name = as_str(as_dict(sysctl).get("name"))
        name_path = child(index(child(path, "sysctls"), i), "name")
        if not sysctl_name:
            causes.append(required(name_path, ""))
        elif sysctl_name in seen:
            causes.append(duplicate(name_path, sysctl_name))
        seen.add(sysctl_name)
    policy = context.get("fsGroupChangePolicy")
    if policy is not None and policy not in ("Always", "OnRootMismatch"):
        causes.append(not_supported(child(path, "fsGroupChangePolicy"), policy, ["Always", "OnRootMismatch"]))
    causes.extend(_validate_seccomp_profile(context.get("seccompProfile"), child(path, "seccompProfile")))
    causes.extend(_validate_app_armor_profile(context.get("appArmorProfile"), child(path, "appArmorProfile")))
    supplemental = context.get("supplementalGroupsPolicy")
    if supplemental is not None and supplemental not in ("Merge", "Strict"):
        causes.append(not_supported(child(path, "supplementalGroupsPolicy"), supplemental, ["Merge", "Strict"]))
    selinux = context.get("seLinuxChangePolicy")
    if selinux is not None and selinux not in ("MountOption", "Recursive"):
        causes.append(not_supported(child(path, "seLinuxChangePolicy"), selinux, ["MountOption", "Recursive"]))
    return causes


def _validate_resource_claims(claims: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, claim in enumerate(as_list(claims)):
        claim, claim_path = as_dict(claim), index(path, i)
        name = as_str(claim.get("name"))
        if not name:
            causes.append(required(child(claim_path, "name"), ""))
        elif name in seen:
            causes.append(duplicate(child(claim_path, "name"), name))
        else:
            causes.extend(validate_dns1123_label(name, child(claim_path, "name")))
            seen.add(name)
        has_name = claim.get("resourceClaimName") is not None
        has_template = claim.get("resourceClaimTemplateName") is not None
        if has_name and has_template:
            causes.append(invalid(claim_path, GoText(json.dumps(claim)), "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified"))
        if not has_name and not has_template:
            causes.append(invalid(claim_path, GoText(json.dumps(claim)), "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"))
    return causes


# --------------------------------------------------------------------------- pod spec
def validate_pod_spec(spec: Any, path: str, pod_name: str | None = None, is_pod: bool = False) -> list[Cause]:
    spec = as_dict(spec)
    causes: list[Cause] = []
    grace_value = spec.get("terminationGracePeriodSeconds")
    if grace_value is None:
        causes.append(required(child(path, "terminationGracePeriodSeconds"), ""))
    grace = _int(grace_value)
    context = as_dict(spec.get("securityContext"))
    host_users = context.get("hostUsers") is not False and spec.get("hostUsers") is not False
    restart_policy = as_str(spec.get("restartPolicy"))
    volumes, volume_causes = validate_volumes(spec.get("volumes"), child(path, "volumes"), pod_name)
    causes.extend(volume_causes)
    claims = {as_str(as_dict(c).get("name")) for c in as_list(spec.get("resourceClaims")) if as_str(as_dict(c).get("name"))}
    causes.extend(_validate_resource_claims(spec.get("resourceClaims"), child(path, "resourceClaims")))
    containers = [as_dict(c) for c in as_list(spec.get("containers"))]
    init_containers = [as_dict(c) for c in as_list(spec.get("initContainers"))]
    causes.extend(_validate_containers(containers, volumes, claims, grace, child(path, "containers"), restart_policy, host_users))
    causes.extend(
        _validate_init_containers(init_containers, containers, volumes, claims, grace, child(path, "initContainers"), restart_policy, host_users)
    )
    causes.extend(_validate_ephemeral_containers(spec, volumes, claims, child(path, "ephemeralContainers"), restart_policy, host_users))
    if spec.get("hostNetwork") is True:
        for i, container in enumerate(containers):
            for j, port in enumerate(as_list(container.get("ports"))):
                port = as_dict(port)
                host_port, container_port = _int(port.get("hostPort")) or 0, _int(port.get("containerPort")) or 0
                if (is_pod or host_port != 0) and host_port != container_port:
                    port_path = child(index(child(index(child(path, "containers"), i), "ports"), j), "hostPort")
                    causes.append(invalid(port_path, host_port, "must match `containerPort` when `hostNetwork` is true"))
    if restart_policy not in _RESTART_POLICIES:
        causes.append(required(child(path, "restartPolicy"), "") if not restart_policy else not_supported(child(path, "restartPolicy"), restart_policy, _RESTART_POLICIES))
    dns_policy = as_str(spec.get("dnsPolicy"))
    if dns_policy not in _DNS_POLICIES:
        causes.append(required(child(path, "dnsPolicy"), "") if not dns_policy else not_supported(child(path, "dnsPolicy"), dns_policy, _DNS_POLICIES))
    causes.extend(validate_labels(spec.get("nodeSelector"), child(path, "nodeSelector")))
    causes.extend(_validate_pod_security_context(spec, child(path, "securityContext")))
    for i, secret in enumerate(as_list(spec.get("imagePullSecrets"))):
        if isinstance(secret, dict) and set(secret) - {"name"}:
            causes.append(invalid(index(child(path, "imagePullSecrets"), i), GoText(json.dumps(secret)), "only name may be set"))
    causes.extend(_validate_affinity(spec.get("affinity"), child(path, "affinity")))
    causes.extend(_validate_dns_config(spec.get("dnsConfig"), dns_policy, child(path, "dnsConfig")))
    for i, gate in enumerate(as_list(spec.get("readinessGates"))):
        condition = as_str(as_dict(gate).get("conditionType"))
        causes.extend(validate_qualified_name(condition, child(index(child(path, "readinessGates"), i), "conditionType")))
    seen_gates: set[str] = set()
    for i, gate in enumerate(as_list(spec.get("schedulingGates"))):
        gate_name = as_str(as_dict(gate).get("name"))
        causes.extend(validate_qualified_name(gate_name, index(child(path, "schedulingGates"), i)))
        if gate_name in seen_gates:
            causes.append(duplicate(index(child(path, "schedulingGates"), i), gate_name))
        seen_gates.add(gate_name)
    causes.extend(_validate_topology_spread(spec.get("topologySpreadConstraints"), child(path, "topologySpreadConstraints")))
    if not host_users:
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(field) is True:
                shown = field if field == "hostNetwork" else field.replace("host", "Host", 1)
                causes.append(forbidden(child(path, shown), "when `pod.Spec.HostUsers` is false"))
    service_account = as_str(spec.get("serviceAccountName"))
    if service_account:
        causes.extend(invalid(child(path, "serviceAccountName"), service_account, m) for m in names.is_dns1123_subdomain(service_account))
    node_name = as_str(spec.get("nodeName"))
    if node_name:
        causes.extend(invalid(child(path, "nodeName"), node_name, m) for m in names.is_dns1123_subdomain(node_name))
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and (deadline < 1 or deadline > MAX_INT32):
        causes.append(invalid(child(path, "activeDeadlineSeconds"), deadline, names.inclusive_range_error(1, MAX_INT32)))
    for field in ("hostname", "subdomain"):
        if as_str(spec.get(field)):
            causes.extend(validate_dns1123_label(as_str(spec.get(field)), child(path, field)))
    causes.extend(validate_tolerations(spec.get("tolerations"), child(path, "tolerations")))
    for i, alias in enumerate(as_list(spec.get("hostAliases"))):
        alias, alias_path = as_dict(alias), index(child(path, "hostAliases"), i)
        causes.extend(invalid(child(alias_path, "ip"), as_str(alias.get("ip")), m) for m in names.is_valid_ip(as_str(alias.get("ip"))))
        for j, hostname in enumerate(as_list(alias.get("hostnames"))):
            causes.extend(validate_dns1123_subdomain(as_str(hostname), index(child(alias_path, "hostnames"), j)))
    priority_class = as_str(spec.get("priorityClassName"))
    if priority_class:
        causes.extend(invalid(child(path, "priorityClassName"), priority_class, m) for m in names.is_dns1123_subdomain(priority_class))
    if spec.get("runtimeClassName") is not None:
        runtime_class = as_str(spec.get("runtimeClassName"))
        causes.extend(invalid(child(path, "runtimeClassName"), runtime_class, m) for m in names.is_dns1123_subdomain(runtime_class))
    preemption = spec.get("preemptionPolicy")
    if preemption is not None and preemption not in ("PreemptLowerPriority", "Never"):
        causes.append(
            required(child(path, "preemptionPolicy"), "")
            if not preemption
            else not_supported(child(path, "preemptionPolicy"), preemption, ["PreemptLowerPriority", "Never"])
        )
    if spec.get("overhead") is not None:
        causes.extend(validate_resource_requirements({"limits": spec.get("overhead")}, child(path, "overhead")))
    os_spec = spec.get("os")
    if isinstance(os_spec, dict):
        os_name = as_str(os_spec.get("name"))
        if not os_name:
            causes.append(required(child(path, "os", "name"), "cannot be empty"))
        elif os_name not in ("linux", "windows"):
            causes.append(not_supported(child(path, "os"), os_name, ["linux", "windows"]))
    return causes


def validate_pod_specific_annotations(annotations: Any, spec: Obj, path: str) -> list[Cause]:
    annotations = as_dict(annotations)
    causes: list[Cause] = []
    mirror = "kubernetes.io/config.mirror"
    if mirror in annotations and not as_str(spec.get("nodeName")):
        causes.append(invalid(key(path, mirror), annotations[mirror], "must set spec.nodeName if mirror pod annotation is set"))
    cost_key = "controller.kubernetes.io/pod-deletion-cost"
    if cost_key in annotations:
        value = as_str(annotations[cost_key])
        try:
            parsed = int(value, 10)
            ok = -(2**31) <= parsed <= MAX_INT32 and value.strip() == value and "_" not in value
        except ValueError:
            ok = False
        if not ok:
            causes.append(invalid(key(path, cost_key), value, "must be a 32bit integer"))
    for annotation, value in annotations.items():
        if annotation == "seccomp.security.alpha.kubernetes.io/pod" or annotation.startswith("container.seccomp.security.alpha.kubernetes.io/"):
            causes.extend(_validate_seccomp_annotation(as_str(value), child(path, annotation)))
        if annotation.startswith("container.apparmor.security.beta.kubernetes.io/"):
            container = annotation[len("container.apparmor.security.beta.kubernetes.io/") :]
            all_names = {as_str(as_dict(c).get("name")) for f in ("containers", "initContainers", "ephemeralContainers") for c in as_list(spec.get(f))}
            if container not in all_names:
                causes.append(invalid(key(path, annotation), container, "container not found"))
            profile = as_str(value)
            if profile not in ("", "runtime/default", "unconfined") and not profile.startswith("localhost/"):
                causes.append(invalid(key(path, annotation), profile, f'invalid AppArmor profile name: "{profile}"'))
    return causes


def _validate_seccomp_annotation(profile: str, path: str) -> list[Cause]:
    if profile in ("runtime/default", "docker/default", "unconfined"):
        return []
    if profile.startswith("localhost/"):
        return _validate_local_descending_path(profile[len("localhost/") :], path)
    return [invalid(path, profile, "must be a valid seccomp profile")]


def validate_pod_template_spec(template: Any, path: str) -> list[Cause]:
    """ValidatePodTemplateSpec (labels and annotations are reported at `<path>.labels`)."""
    template = as_dict(template)
    meta = as_dict(template.get("metadata"))
    spec = as_dict(template.get("spec"))
    causes = validate_labels(meta.get("labels"), child(path, "labels"))
    causes.extend(validate_annotations(meta.get("annotations"), child(path, "annotations")))
    causes.extend(validate_pod_specific_annotations(meta.get("annotations"), spec, child(path, "annotations")))
    causes.extend(validate_pod_spec(spec, child(path, "spec")))
    if as_list(spec.get("ephemeralContainers")):
        causes.append(forbidden(child(path, "spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
    return causes


def template_labels_value(template: Any) -> GoText:
    """The template's labels as the `selector does not match` error prints them."""
    labels = as_dict(template).get("metadata")
    value = labels.get("labels") if isinstance(labels, dict) else None
    return go_string_map(value if isinstance(value, dict) else None)


def validate_pod(obj: Obj) -> list[Cause]:
    """Pod-only additions to metadata and spec validation (after ObjectMeta checks)."""
    meta, spec = as_dict(obj.get("metadata")), as_dict(obj.get("spec"))
    causes = validate_pod_specific_annotations(meta.get("annotations"), spec, "metadata.annotations")
    causes.extend(validate_pod_spec(spec, "spec", pod_name=as_str(meta.get("name")) or None, is_pod=True))
    if not as_str(spec.get("serviceAccountName")):
        for vi, volume in enumerate(as_list(spec.get("volumes"))):
            for si, source in enumerate(as_list(as_dict(as_dict(volume).get("projected")).get("sources"))):
                if as_dict(source).get("serviceAccountToken") is not None:
                    token_path = f"spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken"
                    causes.append(forbidden(token_path, "must not be specified when serviceAccountName is not set"))
    for field in ("containers", "initContainers"):
        for i, container in enumerate(as_list(spec.get(field))):
            causes.extend(_image_whitespace(as_dict(container), f"spec.{field}[{i}]"))
    return causes


def validate_pod_create(obj: Obj) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes = validate_pod(obj)
    if as_list(spec.get("ephemeralContainers")):
        causes.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if as_str(spec.get("nodeName")) and as_list(spec.get("schedulingGates")):
        causes.append(forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
    return causes


def _toleration_matches_ignoring_seconds(old: Obj, new: Obj) -> bool:
    return {k: v for k, v in old.items() if k != "tolerationSeconds"} == {k: v for k, v in new.items() if k != "tolerationSeconds"}


def validate_pod_update(new: Obj, old: Obj) -> list[Cause]:
    """ValidatePodUpdate's spec rules (metadata is checked by the caller)."""
    causes = validate_pod(new)
    spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    for field in ("containers", "initContainers"):
        new_list, old_list = as_list(spec.get(field)), as_list(old_spec.get(field))
        if len(new_list) != len(old_list):
            causes.append(forbidden(f"spec.{field}", "pod updates may not add or remove containers"))
            return causes
        for i, container in enumerate(new_list):
            image = as_str(as_dict(container).get("image"))
            if not image:
                causes.append(required(f"spec.{field}[{i}].image", ""))
            if image.strip() != image:
                causes.append(invalid(f"spec.{field}[{i}].image", image, "must not have leading or trailing whitespace"))
    new_deadline, old_deadline = spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if new_deadline is not None:
        if not isinstance(new_deadline, int) or new_deadline < 0 or new_deadline > MAX_INT32:
            causes.append(invalid("spec.activeDeadlineSeconds", new_deadline, names.inclusive_range_error(0, MAX_INT32)))
            return causes
        if isinstance(old_deadline, int) and old_deadline < new_deadline:
            causes.append(invalid("spec.activeDeadlineSeconds", new_deadline, "must be less than or equal to previous value"))
            return causes
    elif old_deadline is not None:
        causes.append(invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
    new_tolerations = [as_dict(t) for t in as_list(spec.get("tolerations"))]
    for old_toleration in as_list(old_spec.get("tolerations")):
        if not any(_toleration_matches_ignoring_seconds(as_dict(old_toleration), t) for t in new_tolerations):
            causes.append(forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"))
            break
    old_gates = {as_str(as_dict(g).get("name")) for g in as_list(old_spec.get("schedulingGates"))}
    for i, gate in enumerate(as_list(spec.get("schedulingGates"))):
        gate_name = as_str(as_dict(gate).get("name"))
        if gate_name not in old_gates:
            causes.append(forbidden(f"spec.schedulingGates[{i}].name", f"only deletion is allowed, but found new scheduling gate '{gate_name}'"))
    if spec == old_spec:
        return causes
    munged = _munge_updatable(spec, old_spec)
    if munged != old_spec:
        diff = spec_diff(old_spec, munged)
        causes.append(forbidden("spec", f"pod updates may not change fields other than {_UPDATABLE_POD_FIELDS}\n{diff}"))
    return causes


def _munge_updatable(spec: Obj, old_spec: Obj) -> Obj:
    munged = json.loads(json.dumps(spec))
    for field in ("containers", "initContainers"):
        for container, old_container in zip(as_list(munged.get(field)), as_list(old_spec.get(field)), strict=False):
            if isinstance(container, dict) and isinstance(old_container, dict):
                if "image" in old_container:
                    container["image"] = old_container["image"]
                else:
                    container.pop("image", None)
    for field in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        if field in old_spec:
            munged[field] = old_spec[field]
        else:
            munged.pop(field, None)
    old_grace, new_grace = old_spec.get("terminationGracePeriodSeconds"), munged.get("terminationGracePeriodSeconds")
    if isinstance(old_grace, int) and old_grace < 0 and new_grace == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if as_list(old_spec.get("schedulingGates")):
        old_selector, new_selector = as_dict(old_spec.get("nodeSelector")), as_dict(munged.get("nodeSelector"))
        if all(new_selector.get(k) == v for k, v in old_selector.items()):
            if "nodeSelector" in old_spec:
                munged["nodeSelector"] = old_spec["nodeSelector"]
            else:
                munged.pop("nodeSelector", None)
    return munged


def spec_diff(old: Any, new: Any, prefix: str = "") -> str:
    """A compact, stable rendering of what differs (upstream prints a go-cmp diff of the structs)."""
    lines: list[str] = []
    _collect_diff(old, new, prefix, lines)
    return "\n".join(lines)


def _collect_diff(old: Any, new: Any, path: str, lines: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for field in sorted(set(old) | set(new)):
            _collect_diff(old.get(field), new.get(field), f"{path}.{field}" if path else field, lines)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _collect_diff(a, b, f"{path}[{i}]", lines)
        return
    if old != new:
        lines.append(f"- {path}: {json.dumps(old, sort_keys=True)}")
        lines.append(f"+ {path}: {json.dumps(new, sort_keys=True)}")


def quantity_value(value: Any) -> Decimal | None:
    """The exact value of a quantity field, or None when it does not parse."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        parsed = _parsed_quantity(value)
        return parsed.amount if isinstance(parsed, Quantity) else None
    return None


def finite_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    return None


def clean_path(value: str) -> str:
    return posixpath.normpath(value)
