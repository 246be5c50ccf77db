"""Upstream's defaulting of built-in kinds (pkg/apis/*/v1/defaults.go and the declarative
`+default` markers), applied to plain dicts before validation. One dispatch table maps
(group, resource) to a small function; pod templates share one pod-spec defaulter, and only real
Pods get the Pod-only defaults (requests from limits, enableServiceLinks, hostNetwork ports).

Resource quantities in resource lists are rewritten in canonical form and rounded up to milli
units, as upstream's round trip through resource.Quantity does.

`generate_job_selector` is the Job strategy's create-time selector generation; the registry calls
it (it needs the object's uid), it is not part of `apply_defaults`.

Must not validate, allocate (cluster IPs, node ports), or run admission (service accounts,
tolerations, priorities); those belong to validation and the registry.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from kubelite.api.quantity import QuantityError, format_quantity, parse_quantity, round_up_to_milli

Obj = dict[str, Any]
Defaulter = Callable[[Obj], None]

_FILE_MODE_420 = 420
_PROBE_DEFAULTS = (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3))
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_VOLUME_SOURCE_KEYS_IGNORED = frozenset({"name"})

# The docker reference grammar (distribution/reference) ParseNormalizedNamed accepts.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REFERENCE_RE = re.compile(
    rf"((?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::([\w][\w.-]{0,127}))?"
    r"(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?\Z"
)


def _sub(obj: Obj, key: str) -> Obj:
    """obj[key] as a dict, creating it when missing or null."""
    value = obj.get(key)
    if not isinstance(value, dict):
        value = {}
        obj[key] = value
    return value


def _dicts(value: Any) -> list[Obj]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _set_if_empty(obj: Obj, key: str, value: Any) -> None:
    """Go's `if field == "" {...}` / nil-pointer defaulting for scalars."""
    if obj.get(key) in (None, ""):
        obj[key] = value


def _set_if_missing(obj: Obj, key: str, value: Any) -> None:
    """Nil-pointer defaulting where a zero value (0, false, "") is a real choice."""
    if obj.get(key) is None:
        obj[key] = value


# --------------------------------------------------------------------------- quantities
def _canonical_resource_list(resources: Any, round_to_milli: bool) -> None:
    if not isinstance(resources, dict):
        return
    for name, value in list(resources.items()):
        try:
            quantity = parse_quantity(value)
        except QuantityError:
            continue  # validation reports it
        if round_to_milli:
            quantity = round_up_to_milli(quantity)
        resources[name] = format_quantity(quantity)


def _canonical_requirements(requirements: Any) -> None:
    if isinstance(requirements, dict):
        _canonical_resource_list(requirements.get("limits"), True)
        _canonical_resource_list(requirements.get("requests"), True)


# --------------------------------------------------------------------------- containers
def image_pull_policy_for(image: str) -> str:
    """Always for `:latest` or an image with neither tag nor digest, else IfNotPresent."""
    tag = _image_tag(image)
    return "Always" if tag == "latest" else "IfNotPresent"


def _image_tag(image: str) -> str | None:
    """The tag ParseImageName reports: "latest" when neither tag nor digest, None if unparsable."""
    match = _IMAGE_REFERENCE_RE.match(image)
    if match is None or len(match.group(1)) > 255:
        return None
    tag, digest = match.group(2), match.group(3)
    if not tag and not digest:
        return "latest"
    return tag or ""


def _default_http_get(action: Any) -> None:
    if isinstance(action, dict):
        _set_if_empty(action, "path", "/")
        _set_if_empty(action, "scheme", "HTTP")


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for field, value in _PROBE_DEFAULTS:
        if not probe.get(field):
            probe[field] = value
    _default_http_get(probe.get("httpGet"))
    grpc = probe.get("grpc")
    if isinstance(grpc, dict):
        _set_if_missing(grpc, "service", "")


def _default_field_ref(holder: Any) -> None:
    if isinstance(holder, dict) and isinstance(holder.get("fieldRef"), dict):
        _set_if_empty(holder["fieldRef"], "apiVersion", "v1")


def _default_container(container: Obj) -> None:
    if not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = image_pull_policy_for(str(container.get("image") or ""))
    _set_if_empty(container, "terminationMessagePath", "/dev/termination-log")
    _set_if_empty(container, "terminationMessagePolicy", "File")
    for port in _dicts(container.get("ports")):
        _set_if_empty(port, "protocol", "TCP")
    for env in _dicts(container.get("env")):
        _default_field_ref(env.get("valueFrom"))
    # a struct, not a pointer, upstream: always on the wire, `{}` when empty (kubectl's rollout
    # undo sends it so, and a template without it would no longer match its ReplicaSet's)
    _set_if_missing(container, "resources", {})
    _canonical_requirements(container.get("resources"))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(container.get(probe))
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            if isinstance(lifecycle.get(hook), dict):
                _default_http_get(lifecycle[hook].get("httpGet"))


# --------------------------------------------------------------------------- volumes
def _default_items_field_refs(source: Any) -> None:
    if isinstance(source, dict):
        for item in _dicts(source.get("items")):
            _default_field_ref(item)


def _default_pvc_spec(spec: Any) -> None:
    if isinstance(spec, dict):
        _set_if_missing(spec, "volumeMode", "Filesystem")
        _canonical_requirements(spec.get("resources"))


def _default_volume(volume: Obj) -> None:
    if not any(v is not None for k, v in volume.items() if k not in _VOLUME_SOURCE_KEYS_IGNORED):
        volume["emptyDir"] = {}
    empty_dir = volume.get("emptyDir")
    if isinstance(empty_dir, dict) and empty_dir.get("sizeLimit") is not None:
        _canonical_size_limit(empty_dir)
    if isinstance(volume.get("hostPath"), dict):
        _set_if_missing(volume["hostPath"], "type", "")
    for mode_source in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(volume.get(mode_source), dict):
            _set_if_missing(volume[mode_source], "defaultMode", _FILE_MODE_420)
    _default_items_field_refs(volume.get("downwardAPI"))
    projected = volume.get("projected")
    if isinstance(projected, dict):
        for source in _dicts(projected.get("sources")):
            _default_items_field_refs(source.get("downwardAPI"))
            token = source.get("serviceAccountToken")
            if isinstance(token, dict):
                _set_if_missing(token, "expirationSeconds", 3600)
    _default_legacy_volume_sources(volume)
    ephemeral = volume.get("ephemeral")
    if isinstance(ephemeral, dict) and isinstance(ephemeral.get("volumeClaimTemplate"), dict):
        _default_pvc_spec(ephemeral["volumeClaimTemplate"].get("spec"))


def _canonical_size_limit(empty_dir: Obj) -> None:
    try:
        empty_dir["sizeLimit"] = format_quantity(parse_quantity(empty_dir["sizeLimit"]))
    except QuantityError:
        pass


_LEGACY_SOURCE_DEFAULTS: dict[str, tuple[tuple[str, Any], ...]] = {
    "iscsi": (("iscsiInterface", "default"),),
    "rbd": (("pool", "rbd"), ("user", "admin"), ("keyring", "/etc/ceph/keyring")),
    "azureDisk": (("cachingMode", "ReadWrite"), ("fsType", "ext4"), ("readOnly", False), ("kind", "Shared")),
    "scaleIO": (("storageMode", "ThinProvisioned"), ("fsType", "xfs")),
}


def _default_legacy_volume_sources(source: Obj) -> None:
    for name, fields in _LEGACY_SOURCE_DEFAULTS.items():
        target = source.get(name)
        if isinstance(target, dict):
            for field, value in fields:
                if name == "azureDisk" and field == "readOnly":
                    _set_if_missing(target, field, value)
                else:
                    _set_if_empty(target, field, value)


# --------------------------------------------------------------------------- pod specs
def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec plus everything nested in a pod spec (every PodTemplateSpec)."""
    _set_if_empty(spec, "dnsPolicy", "ClusterFirst")
    _set_if_empty(spec, "restartPolicy", "Always")
    _set_if_missing(spec, "securityContext", {})
    _set_if_missing(spec, "terminationGracePeriodSeconds", 30)
    _set_if_empty(spec, "schedulerName", "default-scheduler")
    for volume in _dicts(spec.get("volumes")):
        _default_volume(volume)
    for list_name in _CONTAINER_LISTS:
        for container in _dicts(spec.get(list_name)):
            _default_container(container)
    _canonical_resource_list(spec.get("overhead"), True)
    _canonical_requirements(spec.get("resources"))


def _default_template(holder: Any) -> None:
    """A PodTemplateSpec at holder["template"]."""
    if isinstance(holder, dict):
        template = _sub(holder, "template")
        default_pod_spec(_sub(template, "spec"))


def _requests_from_limits(containers: Any) -> None:
    for container in _dicts(containers):
        resources = container.get("resources")
        if not isinstance(resources, dict) or not isinstance(resources.get("limits"), dict):
            continue
        requests = resources.get("requests")
        if not isinstance(requests, dict):
            requests = resources["requests"] = {}
        for name, value in resources["limits"].items():
            requests.setdefault(name, value)


def _host_network_ports(containers: Any) -> None:
    for container in _dicts(containers):
        for port in _dicts(container.get("ports")):
            if not port.get("hostPort"):
                port["hostPort"] = port.get("containerPort")


def _default_pod(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    _requests_from_limits(spec.get("containers"))
    _requests_from_limits(spec.get("initContainers"))
    _set_if_missing(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork"):
        _host_network_ports(spec.get("containers"))
        _host_network_ports(spec.get("initContainers"))
    default_pod_spec(spec)


def _default_pod_template(obj: Obj) -> None:
    default_pod_spec(_sub(_sub(obj, "template"), "spec"))


def _default_replication_controller(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    template = spec.get("template")
    labels = template.get("metadata", {}).get("labels") if isinstance(template, dict) else None
    if isinstance(labels, dict):
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        metadata = _sub(obj, "metadata")
        if not metadata.get("labels"):
            metadata["labels"] = dict(labels)
    _set_if_missing(spec, "replicas", 1)
    if isinstance(template, dict):
        default_pod_spec(_sub(template, "spec"))
    _zero_counters(obj, "replicas")


# --------------------------------------------------------------------------- core
def _default_service(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    _set_if_empty(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig")
        client_ip = config.get("clientIP") if isinstance(config, dict) else None
        if not isinstance(client_ip, dict) or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    _set_if_empty(spec, "type", "ClusterIP")
    for port in _dicts(spec.get("ports")):
        _set_if_empty(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    service_type = spec["type"]
    externally_accessible = service_type in ("LoadBalancer", "NodePort") or (
        service_type == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    if externally_accessible:
        _set_if_empty(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and service_type in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec["internalTrafficPolicy"] = "Cluster"
    if service_type == "LoadBalancer":
        _set_if_missing(spec, "allocateLoadBalancerNodePorts", True)
        status = obj.get("status")
        load_balancer = status.get("loadBalancer") if isinstance(status, dict) else None
        if isinstance(load_balancer, dict):
            for ingress in _dicts(load_balancer.get("ingress")):
                if ingress.get("ip") and ingress.get("ipMode") is None:
                    ingress["ipMode"] = "VIP"


def _default_namespace(obj: Obj) -> None:
    metadata = _sub(obj, "metadata")
    name = metadata.get("name")
    if name:
        labels = _sub(metadata, "labels")
        labels["kubernetes.io/metadata.name"] = name
    # The strategy's create-time finalizer; never re-added to a namespace being finalized.
    spec = obj.get("spec")
    if not metadata.get("deletionTimestamp") and (not isinstance(spec, dict) or spec.get("finalizers") is None):
        _sub(obj, "spec")["finalizers"] = ["kubernetes"]
    _set_if_empty(_sub(obj, "status"), "phase", "Active")


def _default_secret(obj: Obj) -> None:
    _set_if_empty(obj, "type", "Opaque")
    # Upstream's v1 -> internal conversion writes stringData over data; it is never stored.
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = _sub(obj, "data")
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _default_pvc(obj: Obj) -> None:
    _default_pvc_spec(_sub(obj, "spec"))
    _set_if_empty(_sub(obj, "status"), "phase", "Pending")


def _default_pv(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    _set_if_empty(spec, "persistentVolumeReclaimPolicy", "Retain")
    _set_if_missing(spec, "volumeMode", "Filesystem")
    _canonical_resource_list(spec.get("capacity"), True)
    if isinstance(spec.get("hostPath"), dict):
        _set_if_missing(spec["hostPath"], "type", "")
    _default_legacy_volume_sources(spec)
    _set_if_empty(_sub(obj, "status"), "phase", "Pending")


def _default_endpoints(obj: Obj) -> None:
    for subset in _dicts(obj.get("subsets")):
        for port in _dicts(subset.get("ports")):
            _set_if_empty(port, "protocol", "TCP")


def _default_node(obj: Obj) -> None:
    status = obj.get("status")
    if isinstance(status, dict):
        _canonical_resource_list(status.get("capacity"), True)
        _canonical_resource_list(status.get("allocatable"), True)
        if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
            status["allocatable"] = dict(status["capacity"])


def _default_limit_range(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    for item in _dicts(spec.get("limits")):
        for field in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            _canonical_resource_list(item.get(field), True)
        if item.get("type") != "Container":
            continue
        default = _sub(item, "default")
        default_request = _sub(item, "defaultRequest")
        for name, value in (item.get("max") or {}).items():
            default.setdefault(name, value)
        for name, value in default.items():
            default_request.setdefault(name, value)
        for name, value in (item.get("min") or {}).items():
            default_request.setdefault(name, value)


def _default_resource_quota(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _canonical_resource_list(spec.get("hard"), True)


# --------------------------------------------------------------------------- apps
def _default_deployment(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    _set_if_missing(spec, "replicas", 1)
    strategy = _sub(spec, "strategy")
    _set_if_empty(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _sub(strategy, "rollingUpdate")
        _set_if_missing(rolling, "maxUnavailable", "25%")
        _set_if_missing(rolling, "maxSurge", "25%")
    _set_if_missing(spec, "revisionHistoryLimit", 10)
    _set_if_missing(spec, "progressDeadlineSeconds", 600)
    _default_template(spec)


def _zero_counters(obj: Obj, *fields: str) -> None:
    """Status counters upstream serializes even at zero (no omitempty; `required` in the OpenAPI
    schema, so clients such as the official Python one reject objects without them)."""
    status = _sub(obj, "status")
    for field in fields:
        _set_if_missing(status, field, 0)


def _default_replica_set(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    _set_if_missing(spec, "replicas", 1)
    _default_template(spec)
    _zero_counters(obj, "replicas")


def _default_stateful_set(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    _set_if_empty(spec, "podManagementPolicy", "OrderedReady")
    strategy = _sub(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        _set_if_missing(strategy, "rollingUpdate", {})
    rolling = strategy.get("rollingUpdate")
    if strategy["type"] == "RollingUpdate" and isinstance(rolling, dict):
        _set_if_missing(rolling, "partition", 0)
    retention = _sub(spec, "persistentVolumeClaimRetentionPolicy")
    _set_if_empty(retention, "whenDeleted", "Retain")
    _set_if_empty(retention, "whenScaled", "Retain")
    _set_if_missing(spec, "replicas", 1)
    _set_if_missing(spec, "revisionHistoryLimit", 10)
    _default_template(spec)
    for claim in _dicts(spec.get("volumeClaimTemplates")):
        _set_if_empty(claim, "apiVersion", "v1")
        _set_if_empty(claim, "kind", "PersistentVolumeClaim")
        _default_pvc(claim)
    _zero_counters(obj, "replicas")


def _default_daemon_set(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    strategy = _sub(spec, "updateStrategy")
    _set_if_empty(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _sub(strategy, "rollingUpdate")
        _set_if_missing(rolling, "maxUnavailable", 1)
        _set_if_missing(rolling, "maxSurge", 0)
    _set_if_missing(spec, "revisionHistoryLimit", 10)
    _default_template(spec)
    _zero_counters(obj, "currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady")


# --------------------------------------------------------------------------- batch
def _default_job(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    _set_if_missing(spec, "parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    template = spec.get("template")
    labels = template.get("metadata", {}).get("labels") if isinstance(template, dict) else None
    metadata = _sub(obj, "metadata")
    if isinstance(labels, dict) and not metadata.get("labels"):
        metadata["labels"] = dict(labels)
    _set_if_missing(spec, "completionMode", "NonIndexed")
    _set_if_missing(spec, "suspend", False)
    _set_if_missing(spec, "manualSelector", False)
    failure_policy = spec.get("podFailurePolicy")
    if isinstance(failure_policy, dict):
        for rule in _dicts(failure_policy.get("rules")):
            for pattern in _dicts(rule.get("onPodConditions")):
                _set_if_empty(pattern, "status", "True")
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if failure_policy is not None else "TerminatingOrFailed"
    _default_template(spec)


def _default_cron_job(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    _set_if_empty(spec, "concurrencyPolicy", "Allow")
    _set_if_missing(spec, "suspend", False)
    _set_if_missing(spec, "successfulJobsHistoryLimit", 3)
    _set_if_missing(spec, "failedJobsHistoryLimit", 1)
    _default_template(_sub(_sub(spec, "jobTemplate"), "spec"))


def generate_job_selector(obj: Obj, uid: str) -> None:
    """The Job strategy's create-time selector: labels on the pod template and a matching
    selector, unless spec.manualSelector is true. Existing template labels are kept."""
    spec = _sub(obj, "spec")
    if spec.get("manualSelector") is True:
        return
    name = _sub(obj, "metadata").get("name", "")
    template = _sub(spec, "template")
    labels = _sub(_sub(template, "metadata"), "labels")
    generated = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    for label, value in generated.items():
        labels.setdefault(label, value)
    match_labels = _sub(_sub(spec, "selector"), "matchLabels")
    match_labels.setdefault("batch.kubernetes.io/controller-uid", uid)


# --------------------------------------------------------------------------- other groups
def _default_hpa(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    _set_if_missing(spec, "minReplicas", 1)
    if obj.get("apiVersion") == "autoscaling/v1":
        return
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _scaling_rules(
            behavior.get("scaleUp"),
            {
                "stabilizationWindowSeconds": 0,
                "selectPolicy": "Max",
                "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15},
                ],
            },
        )
        behavior["scaleDown"] = _scaling_rules(
            behavior.get("scaleDown"),
            {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
        )


def _scaling_rules(given: Any, defaults: Obj) -> Obj:
    if not isinstance(given, dict):
        return defaults
    for field in ("selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"):
        if given.get(field) is not None:
            defaults[field] = given[field]
    return defaults


def _default_network_policy(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    for direction in ("ingress", "egress"):
        for rule in _dicts(spec.get(direction)):
            for port in _dicts(rule.get("ports")):
                _set_if_missing(port, "protocol", "TCP")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def _default_ingress_class(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("parameters"), dict):
        _set_if_missing(spec["parameters"], "scope", "Cluster")


def _default_subjects(obj: Obj) -> None:
    for subject in _dicts(obj.get("subjects")):
        if not subject.get("apiGroup"):
            if subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = "rbac.authorization.k8s.io"
            elif subject.get("kind") == "ServiceAccount":
                subject["apiGroup"] = ""


def _default_role_binding(obj: Obj) -> None:
    _set_if_empty(_sub(obj, "roleRef"), "apiGroup", "rbac.authorization.k8s.io")
    _default_subjects(obj)


def _default_endpoint_slice(obj: Obj) -> None:
    for port in _dicts(obj.get("ports")):
        _set_if_missing(port, "name", "")
        _set_if_missing(port, "protocol", "TCP")


def _default_priority_class(obj: Obj) -> None:
    _set_if_missing(obj, "preemptionPolicy", "PreemptLowerPriority")


def _default_storage_class(obj: Obj) -> None:
    _set_if_missing(obj, "reclaimPolicy", "Delete")
    _set_if_missing(obj, "volumeBindingMode", "Immediate")


def _default_csi_driver(obj: Obj) -> None:
    spec = _sub(obj, "spec")
    _set_if_missing(spec, "attachRequired", True)
    _set_if_missing(spec, "podInfoOnMount", False)
    _set_if_missing(spec, "storageCapacity", False)
    _set_if_missing(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType")
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]
    _set_if_missing(spec, "requiresRepublish", False)
    _set_if_missing(spec, "seLinuxMount", False)


def _webhook_defaulter(mutating: bool) -> Defaulter:
    def default(obj: Obj) -> None:
        for webhook in _dicts(obj.get("webhooks")):
            _set_if_missing(webhook, "failurePolicy", "Fail")
            _set_if_missing(webhook, "matchPolicy", "Equivalent")
            _set_if_missing(webhook, "namespaceSelector", {})
            _set_if_missing(webhook, "objectSelector", {})
            _set_if_missing(webhook, "timeoutSeconds", 10)
            if mutating:
                _set_if_missing(webhook, "reinvocationPolicy", "Never")
            for rule in _dicts(webhook.get("rules")):
                _set_if_missing(rule, "scope", "*")
            client = webhook.get("clientConfig")
            if isinstance(client, dict) and isinstance(client.get("service"), dict):
                _set_if_missing(client["service"], "port", 443)

    return default


_DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("", "pods"): _default_pod,
    ("", "podtemplates"): _default_pod_template,
    ("", "replicationcontrollers"): _default_replication_controller,
    ("", "services"): _default_service,
    ("", "namespaces"): _default_namespace,
    ("", "secrets"): _default_secret,
    ("", "persistentvolumeclaims"): _default_pvc,
    ("", "persistentvolumes"): _default_pv,
    ("", "endpoints"): _default_endpoints,
    ("", "nodes"): _default_node,
    ("", "limitranges"): _default_limit_range,
    ("", "resourcequotas"): _default_resource_quota,
    ("apps", "deployments"): _default_deployment,
    ("apps", "replicasets"): _default_replica_set,
    ("apps", "statefulsets"): _default_stateful_set,
    ("apps", "daemonsets"): _default_daemon_set,
    ("batch", "jobs"): _default_job,
    ("batch", "cronjobs"): _default_cron_job,
    ("autoscaling", "horizontalpodautoscalers"): _default_hpa,
    ("networking.k8s.io", "networkpolicies"): _default_network_policy,
    ("networking.k8s.io", "ingressclasses"): _default_ingress_class,
    ("rbac.authorization.k8s.io", "rolebindings"): _default_role_binding,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): _default_role_binding,
    ("discovery.k8s.io", "endpointslices"): _default_endpoint_slice,
    ("scheduling.k8s.io", "priorityclasses"): _default_priority_class,
    ("storage.k8s.io", "storageclasses"): _default_storage_class,
    ("storage.k8s.io", "csidrivers"): _default_csi_driver,
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): _webhook_defaulter(False),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): _webhook_defaulter(True),
}


def apply_defaults(resource: str, group: str, obj: Obj) -> None:
    """Fill upstream's defaults into `obj` (mutated in place); unknown kinds are left alone."""
    defaulter = _DEFAULTERS.get((group, resource))
    if defaulter is not None and isinstance(obj, dict):
        defaulter(obj)
