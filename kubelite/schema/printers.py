"""Server-side Table output (`meta.k8s.io/v1` Table), column for column and cell for cell as
kube-apiserver's printers produce it (pkg/printers/internalversion, always with Wide on, so
priority-1 columns carry cells too and kubectl hides them unless `-o wide`).

Public: `human_duration`, `table_columns`, `table_row`, `crd_columns`, `crd_row`, `make_table`.
Built-in kinds are dispatched on (group, resource); CRDs (`info.crd`) take their columns from
`info.extra["printer_columns"]` (the version's additionalPrinterColumns, with jsonPath); anything
else gets upstream's default table (Name, Created At). Objects are the wire-shaped dicts of the
version being served.

Must not do I/O, read clocks (callers pass `now`, seconds since the epoch), mutate objects,
or know HTTP (content negotiation and `includeObject` parsing belong to the apiserver).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from kubelite.api.labels import selector_from_spec, selector_to_string
from kubelite.api.quantity import canonical_quantity
from kubelite.schema.catalogue import ResourceInfo
from kubelite.schema.jsonpath import JSONPath, JSONPathError, compile_path, format_value

Obj = Mapping[str, Any]
RowFn = Callable[[Obj, float], list[Any]]

TABLE_API_VERSION = "meta.k8s.io/v1"
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_ZERO_TIME = "0001-01-01T00:00:00Z"

# ---------------------------------------------------------------------------------------------
# Time


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration: ~2-3 significant figures."""
    nanos = round(seconds * 1e9)
    whole = nanos // 1_000_000_000 if nanos >= 0 else -(-nanos // 1_000_000_000)  # Go truncates
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = nanos // 60_000_000_000
    if minutes < 10:
        sec = (nanos // 1_000_000_000) % 60
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = nanos // 3_600_000_000_000
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})\Z")
_GO_ZERO_EPOCH = -62135596800.0


@lru_cache(maxsize=16384)
def _epoch(value: str) -> float | None:
    """Seconds since the epoch of an RFC 3339 timestamp; None for an empty or zero time.
    Raises ValueError for a malformed one."""
    if not value or value == "null":
        return None
    if not _RFC3339.match(value):
        raise ValueError(f"not an RFC 3339 time: {value!r}")
    seconds = datetime.fromisoformat(value.upper()).timestamp()
    return None if seconds == _GO_ZERO_EPOCH else seconds


def _time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return _epoch(value)
    except ValueError:
        return None


def _since(value: Any, now: float) -> str:
    """translateTimestampSince: "<unknown>" for a zero time."""
    seconds = _time(value)
    return "<unknown>" if seconds is None else human_duration(now - seconds)


def _age(obj: Obj, now: float) -> str:
    return _since((obj.get("metadata") or _EMPTY).get("creationTimestamp"), now)


def _rfc3339_utc(value: Any) -> str:
    seconds = _time(value)
    if seconds is None:
        return _ZERO_TIME
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Small formatters (labels, selectors, quantities, containers)


def _format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels: sorted `k=v` joined by commas, "<none>" when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def _selector_string(selector: Mapping[str, Any] | None) -> str:
    """metav1.LabelSelectorAsSelector(...).String(): "" for nil or empty, "<invalid>" for a bad one."""
    try:
        return str(selector_from_spec(selector))
    except (ValueError, AttributeError, TypeError):
        return "<invalid>"


def _quantity(value: Any) -> str:
    """resource.Quantity.String() of a stored quantity ("0" when absent)."""
    if value is None:
        return "0"
    try:
        return canonical_quantity(value)
    except ValueError:
        return str(value)


def _quantity_ptr(value: Any) -> str:
    """String() of a *Quantity: "<nil>" when absent."""
    return "<nil>" if value is None else _quantity(value)


def _int_or_string(value: Any) -> str:
    return str(value) if not isinstance(value, str) else value


def _containers(containers: Iterable[Mapping[str, Any]] | None) -> tuple[str, str]:
    """layoutContainerCells: names and images joined by commas."""
    names: list[str] = []
    images: list[str] = []
    for container in containers or ():
        names.append(container.get("name", ""))
        images.append(container.get("image", ""))
    return ",".join(names), ",".join(images)


def _template_spec(obj: Obj) -> Mapping[str, Any]:
    return ((obj.get("spec") or _EMPTY).get("template") or _EMPTY).get("spec") or _EMPTY


def _lb_ingress(status: Mapping[str, Any] | None) -> str:
    """loadBalancerStatusStringer (wide): sorted unique IPs or hostnames."""
    found: set[str] = set()
    for ingress in (status or _EMPTY).get("ingress") or ():
        if ingress.get("ip"):
            found.add(ingress["ip"])
        elif ingress.get("hostname"):
            found.add(ingress["hostname"])
    return ",".join(sorted(found))


def _list_with_more(items: list[str], more: bool, count: int, limit: int) -> str:
    text = ",".join(items)
    if more:
        return f"{text} + {count - limit} more..."
    return text or "<unset>"


def _condition_true(conditions: Iterable[Mapping[str, Any]] | None, kind: str) -> bool:
    """True when the first condition of this type has status True."""
    for condition in conditions or ():
        if condition.get("type") == kind:
            return bool(condition.get("status") == "True")
    return False


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or _EMPTY


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name", ""))


def _spec(obj: Obj) -> Mapping[str, Any]:
    return obj.get("spec") or _EMPTY


def _status(obj: Obj) -> Mapping[str, Any]:
    return obj.get("status") or _EMPTY


# ---------------------------------------------------------------------------------------------
# Rows: core


def _pod_row(pod: Obj, now: float) -> list[Any]:
    meta = _meta(pod)
    spec = _spec(pod)
    status = _status(pod)
    init_specs = spec.get("initContainers") or ()
    total = len(spec.get("containers") or ())
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart: float | None = None
    last_sidecar_restart: float | None = None
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    conditions = status.get("conditions") or ()
    for condition in conditions:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    sidecars = set()
    for container in init_specs:
        if container.get("restartPolicy") == "Always":
            sidecars.add(container.get("name"))
            total += 1

    initializing = False
    for index, cstatus in enumerate(status.get("initContainerStatuses") or ()):
        count = cstatus.get("restartCount") or 0
        restarts += count
        finished = _last_finished(cstatus)
        if finished is not None and (last_restart is None or last_restart < finished):
            last_restart = finished
        is_sidecar = cstatus.get("name") in sidecars
        if is_sidecar:
            sidecar_restarts += count
            if finished is not None and (last_sidecar_restart is None or last_sidecar_restart < finished):
                last_sidecar_restart = finished
        state = cstatus.get("state") or _EMPTY
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if terminated is not None and (terminated.get("exitCode") or 0) == 0:
            continue
        if is_sidecar and cstatus.get("started") is True:
            if cstatus.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            if not terminated.get("reason"):
                if terminated.get("signal"):
                    reason = f"Init:Signal:{terminated['signal']}"
                else:
                    reason = f"Init:ExitCode:{terminated.get('exitCode') or 0}"
            else:
                reason = "Init:" + terminated["reason"]
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for cstatus in reversed(status.get("containerStatuses") or ()):
            restarts += cstatus.get("restartCount") or 0
            finished = _last_finished(cstatus)
            if finished is not None and (last_restart is None or last_restart < finished):
                last_restart = finished
            state = cstatus.get("state") or _EMPTY
            terminated = state.get("terminated")
            waiting = state.get("waiting")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                if terminated.get("signal"):
                    reason = f"Signal:{terminated['signal']}"
                else:
                    reason = f"ExitCode:{terminated.get('exitCode') or 0}"
            elif cstatus.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true_any(conditions, "Ready") else "NotReady"

    if meta.get("deletionTimestamp") is not None and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") is not None and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"

    pod_ips = status.get("podIPs") or ()
    pod_ip = (pod_ips[0].get("ip") if pod_ips else status.get("podIP")) or "<none>"
    gates = spec.get("readinessGates") or ()
    readiness = "<none>"
    if gates:
        passed = 0
        for gate in gates:
            for condition in conditions:
                if condition.get("type") == gate.get("conditionType"):
                    if condition.get("status") == "True":
                        passed += 1
                    break
        readiness = f"{passed}/{len(gates)}"
    return [
        meta.get("name", ""),
        f"{ready}/{total}",
        reason,
        restarts_text,
        _since(meta.get("creationTimestamp"), now),
        pod_ip,
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        readiness,
    ]


def _last_finished(cstatus: Mapping[str, Any]) -> float | None:
    terminated = (cstatus.get("lastState") or _EMPTY).get("terminated")
    return None if terminated is None else _time(terminated.get("finishedAt"))


def _condition_true_any(conditions: Iterable[Mapping[str, Any]], kind: str) -> bool:
    """hasPodReadyCondition: any condition of this type with status True."""
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def _pod_row_conditions(pod: Obj) -> list[dict[str, str]] | None:
    phase = _status(pod).get("phase")
    if phase == "Succeeded":
        return [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Succeeded",
                "message": "The pod has completed successfully.",
            }
        ]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return None


def _pod_template_row(obj: Obj, now: float) -> list[Any]:
    template = obj.get("template") or _EMPTY
    names, images = _containers((template.get("spec") or _EMPTY).get("containers"))
    return [_name(obj), names, images, _format_labels((template.get("metadata") or _EMPTY).get("labels"))]


def _replication_controller_row(obj: Obj, now: float) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    names, images = _containers(_template_spec(obj).get("containers"))
    return [
        _name(obj),
        spec.get("replicas", 1),
        status.get("replicas") or 0,
        status.get("readyReplicas") or 0,
        _age(obj, now),
        names,
        images,
        _format_labels(spec.get("selector")),
    ]


def _service_external_ip(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    kind = spec.get("type")
    external = spec.get("externalIPs") or ()
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        lb = _lb_ingress(status.get("loadBalancer"))
        if external:
            return ",".join((lb.split(",") if lb else []) + list(external))
        return lb or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName", ""))
    return "<unknown>"


def _service_row(obj: Obj, now: float) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    pieces = []
    for port in spec.get("ports") or ():
        protocol = port.get("protocol", "TCP")
        if (port.get("nodePort") or 0) > 0:
            pieces.append(f"{port.get('port', 0)}:{port['nodePort']}/{protocol}")
        else:
            pieces.append(f"{port.get('port', 0)}/{protocol}")
    return [
        _name(obj),
        spec.get("type", ""),
        cluster_ips[0] if cluster_ips else "<none>",
        _service_external_ip(spec, status),
        ",".join(pieces) or "<none>",
        _age(obj, now),
        _format_labels(spec.get("selector")),
    ]


def _join_host_port(host: str, port: Any) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _endpoints_row(obj: Obj, now: float) -> list[Any]:
    subsets = obj.get("subsets") or ()
    if not subsets:
        text = "<none>"
    else:
        items: list[str] = []
        limit, more, count = 3, False, 0
        for subset in subsets:
            addresses = subset.get("addresses") or ()
            ports = subset.get("ports") or ()
            if not ports:
                count += len(addresses)
                for address in addresses:
                    if len(items) == limit:
                        more = True
                        break
                    items.append(address.get("ip", ""))
                continue
            for port in ports:
                count += len(addresses)
                for address in addresses:
                    if len(items) == limit:
                        more = True
                        break
                    items.append(_join_host_port(address.get("ip", ""), port.get("port", 0)))
        text = ",".join(items)
        if more:
            text = f"{text} + {count - limit} more..."
    return [_name(obj), text, _age(obj, now)]


def _node_roles(labels: Mapping[str, str]) -> str:
    roles = set()
    for key, value in labels.items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key[len("node-role.kubernetes.io/") :]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


def _node_address(addresses: Iterable[Mapping[str, Any]], kind: str) -> str:
    for address in addresses:
        if address.get("type") == kind:
            return str(address.get("address", ""))
    return "<none>"


def _node_row(obj: Obj, now: float) -> list[Any]:
    status = _status(obj)
    ready_condition = None
    for condition in status.get("conditions") or ():
        if condition.get("type") == "Ready":
            ready_condition = condition
    states = []
    if ready_condition is not None:
        states.append("Ready" if ready_condition.get("status") == "True" else "NotReady")
    else:
        states.append("Unknown")
    if _spec(obj).get("unschedulable"):
        states.append("SchedulingDisabled")
    info = status.get("nodeInfo") or _EMPTY
    addresses = status.get("addresses") or ()
    return [
        _name(obj),
        ",".join(states),
        _node_roles(_meta(obj).get("labels") or _EMPTY),
        _age(obj, now),
        info.get("kubeletVersion", ""),
        _node_address(addresses, "InternalIP"),
        _node_address(addresses, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _namespace_row(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), _status(obj).get("phase", ""), _age(obj, now)]


def _secret_row(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), obj.get("type", ""), len(obj.get("data") or _EMPTY), _age(obj, now)]


def _service_account_row(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), len(obj.get("secrets") or ()), _age(obj, now)]


def _config_map_row(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), len(obj.get("data") or _EMPTY) + len(obj.get("binaryData") or _EMPTY), _age(obj, now)]


_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)
_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def _access_modes(modes: Iterable[str] | None) -> str:
    present = set(modes or ())
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


def _persistent_volume_row(obj: Obj, now: float) -> list[Any]:
    spec, status, meta = _spec(obj), _status(obj), _meta(obj)
    claim = spec.get("claimRef")
    claim_text = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim is not None else ""
    phase = "Terminating" if meta.get("deletionTimestamp") is not None else status.get("phase", "")
    annotations = meta.get("annotations") or _EMPTY
    storage_class = annotations.get(_STORAGE_CLASS_ANNOTATION) or spec.get("storageClassName", "")
    vac = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [
        _name(obj),
        _quantity((spec.get("capacity") or _EMPTY).get("storage")),
        _access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        phase,
        claim_text,
        storage_class,
        "<unset>" if vac is None else vac,
        status.get("reason", ""),
        _age(obj, now),
        "<unset>" if mode is None else mode,
    ]


def _persistent_volume_claim_row(obj: Obj, now: float) -> list[Any]:
    spec, status, meta = _spec(obj), _status(obj), _meta(obj)
    phase = "Terminating" if meta.get("deletionTimestamp") is not None else status.get("phase", "")
    capacity = access = ""
    if spec.get("volumeName"):
        access = _access_modes(status.get("accessModes"))
        capacity = _quantity((status.get("capacity") or _EMPTY).get("storage"))
    annotations = meta.get("annotations") or _EMPTY
    if _STORAGE_CLASS_ANNOTATION in annotations:
        storage_class = annotations[_STORAGE_CLASS_ANNOTATION]
    else:
        storage_class = spec.get("storageClassName") or ""
    vac = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [
        _name(obj),
        phase,
        spec.get("volumeName", ""),
        capacity,
        access,
        storage_class,
        "<unset>" if vac is None else vac,
        _age(obj, now),
        "<unset>" if mode is None else mode,
    ]


def _resource_quota_row(obj: Obj, now: float) -> list[Any]:
    status = _status(obj)
    hard = status.get("hard") or _EMPTY
    used = status.get("used") or _EMPTY
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        pieces = resource.split(".")
        target = limits if len(pieces) > 1 and pieces[0] == "limits" else requests
        target.append(f"{resource}: {_quantity(used.get(resource))}/{_quantity(hard[resource])}")
    return [_name(obj), ", ".join(requests), ", ".join(limits), _age(obj, now)]


def _component_status_row(obj: Obj, now: float) -> list[Any]:
    status, message, error = "Unknown", "", ""
    for condition in obj.get("conditions") or ():
        if condition.get("type") == "Healthy":
            status = "Healthy" if condition.get("status") == "True" else "Unhealthy"
            message = condition.get("message", "")
            error = condition.get("error", "")
            break
    return [_name(obj), status, message, error]


def _events_v1_as_core(obj: Obj) -> Mapping[str, Any]:
    """events.k8s.io/v1 Event seen through the core Event fields the printer reads."""
    source = obj.get("deprecatedSource") or _EMPTY
    return {
        "metadata": obj.get("metadata"),
        "involvedObject": obj.get("regarding") or _EMPTY,
        "message": obj.get("note", ""),
        "source": source,
        "firstTimestamp": obj.get("deprecatedFirstTimestamp"),
        "lastTimestamp": obj.get("deprecatedLastTimestamp"),
        "count": obj.get("deprecatedCount") or 0,
        "type": obj.get("type", ""),
        "reason": obj.get("reason", ""),
        "eventTime": obj.get("eventTime"),
        "series": obj.get("series"),
        "reportingComponent": obj.get("reportingController", ""),
        "reportingInstance": obj.get("reportingInstance", ""),
    }


def _event_row_of(event: Mapping[str, Any], now: float) -> list[Any]:
    first = event.get("firstTimestamp")
    first_text = _since(first, now) if _time(first) is not None else _since(event.get("eventTime"), now)
    last = event.get("lastTimestamp")
    last_text = _since(last, now) if _time(last) is not None else first_text
    count = event.get("count") or 0
    series = event.get("series")
    if series is not None:
        last_text = _since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif count == 0:
        count = 1
    involved = event.get("involvedObject") or _EMPTY
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = event.get("source") or _EMPTY
    component = source.get("component") or event.get("reportingComponent") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    return [
        last_text,
        event.get("type", ""),
        event.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        f"{component}, {host}" if host else component,
        str(event.get("message", "")).strip(),
        first_text,
        count,
        _name(event),
    ]


def _event_row(obj: Obj, now: float) -> list[Any]:
    return _event_row_of(obj, now)


def _events_v1_row(obj: Obj, now: float) -> list[Any]:
    return _event_row_of(_events_v1_as_core(obj), now)


# ---------------------------------------------------------------------------------------------
# Rows: workloads


def _deployment_row(obj: Obj, now: float) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    selector = _selector_string(spec.get("selector"))
    names, images = _containers(_template_spec(obj).get("containers"))
    return [
        _name(obj),
        f"{status.get('readyReplicas') or 0}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas") or 0,
        status.get("availableReplicas") or 0,
        _age(obj, now),
        names,
        images,
        selector,
    ]


def _replica_set_row(obj: Obj, now: float) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    names, images = _containers(_template_spec(obj).get("containers"))
    return [
        _name(obj),
        spec.get("replicas", 1),
        status.get("replicas") or 0,
        status.get("readyReplicas") or 0,
        _age(obj, now),
        names,
        images,
        selector_to_string(spec.get("selector")),
    ]


def _stateful_set_row(obj: Obj, now: float) -> list[Any]:
    names, images = _containers(_template_spec(obj).get("containers"))
    ready = _status(obj).get("readyReplicas") or 0
    return [_name(obj), f"{ready}/{_spec(obj).get('replicas', 1)}", _age(obj, now), names, images]


def _daemon_set_row(obj: Obj, now: float) -> list[Any]:
    status = _status(obj)
    template = _template_spec(obj)
    names, images = _containers(template.get("containers"))
    return [
        _name(obj),
        status.get("desiredNumberScheduled") or 0,
        status.get("currentNumberScheduled") or 0,
        status.get("numberReady") or 0,
        status.get("updatedNumberScheduled") or 0,
        status.get("numberAvailable") or 0,
        _format_labels(template.get("nodeSelector")),
        _age(obj, now),
        names,
        images,
        selector_to_string(_spec(obj).get("selector")),
    ]


def _controller_revision_row(obj: Obj, now: float) -> list[Any]:
    controller = "<none>"
    for ref in _meta(obj).get("ownerReferences") or ():
        if ref.get("controller") is True:
            api_version = str(ref.get("apiVersion", ""))
            group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
            kind = str(ref.get("kind", ""))
            group_kind = f"{kind}.{group}" if group else kind
            controller = (
                f"{group_kind.lower()}/{ref.get('name', '')}" if (group or kind) else str(ref.get("name", ""))
            )
            break
    return [_name(obj), controller, obj.get("revision", 0), _age(obj, now)]


def _job_row(obj: Obj, now: float) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    succeeded = status.get("succeeded") or 0
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    else:
        parallelism = spec.get("parallelism") or 0
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    start = _time(status.get("startTime"))
    end = _time(status.get("completionTime"))
    if start is None:
        duration = ""
    elif end is None:
        duration = human_duration(now - start)
    else:
        duration = human_duration(end - start)
    conditions = status.get("conditions") or ()
    if _condition_true(conditions, "Complete"):
        state = "Complete"
    elif _condition_true(conditions, "Failed"):
        state = "Failed"
    elif _meta(obj).get("deletionTimestamp") is not None:
        state = "Terminating"
    elif _condition_true(conditions, "Suspended"):
        state = "Suspended"
    elif _condition_true(conditions, "FailureTarget"):
        state = "FailureTarget"
    else:
        state = "Running"
    names, images = _containers(_template_spec(obj).get("containers"))
    return [
        _name(obj),
        state,
        completions,
        duration,
        _age(obj, now),
        names,
        images,
        selector_to_string(spec.get("selector")),
    ]


def _bool_ptr(value: Any) -> str:
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def _cron_job_row(obj: Obj, now: float) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    last = status.get("lastScheduleTime")
    job_spec = (spec.get("jobTemplate") or _EMPTY).get("spec") or _EMPTY
    pod_spec = (job_spec.get("template") or _EMPTY).get("spec") or _EMPTY
    names, images = _containers(pod_spec.get("containers"))
    time_zone = spec.get("timeZone")
    return [
        _name(obj),
        spec.get("schedule", ""),
        "<none>" if time_zone is None else time_zone,
        _bool_ptr(spec.get("suspend")),
        len(status.get("active") or ()),
        "<none>" if last is None else _since(last, now),
        _age(obj, now),
        names,
        images,
        selector_to_string(job_spec.get("selector")),
    ]


def _hpa_metric(spec: Mapping[str, Any], status: Mapping[str, Any] | None) -> str:
    kind = spec.get("type")
    if kind in ("External", "Object"):
        key = "external" if kind == "External" else "object"
        target = (spec.get(key) or _EMPTY).get("target") or _EMPTY
        current_source = status.get(key) if status is not None else None
        current_values = (current_source or _EMPTY).get("current") or _EMPTY
        if target.get("averageValue") is not None:
            current = "<unknown>"
            if current_source is not None and current_values.get("averageValue") is not None:
                current = _quantity(current_values["averageValue"])
            return f"{current}/{_quantity(target['averageValue'])} (avg)"
        current = "<unknown>" if current_source is None else _quantity_ptr(current_values.get("value"))
        return f"{current}/{_quantity_ptr(target.get('value'))}"
    if kind == "Pods":
        target = (spec.get("pods") or _EMPTY).get("target") or _EMPTY
        current_source = status.get("pods") if status is not None else None
        current = "<unknown>"
        if current_source is not None:
            current = _quantity_ptr((current_source.get("current") or _EMPTY).get("averageValue"))
        return f"{current}/{_quantity_ptr(target.get('averageValue'))}"
    if kind in ("Resource", "ContainerResource"):
        key = "resource" if kind == "Resource" else "containerResource"
        source = spec.get(key) or _EMPTY
        target = source.get("target") or _EMPTY
        name = source.get("name", "")
        current_source = status.get(key) if status is not None else None
        current_values = (current_source or _EMPTY).get("current") or _EMPTY
        if target.get("averageValue") is not None:
            current = (
                "<unknown>" if current_source is None else _quantity_ptr(current_values.get("averageValue"))
            )
            return f"{name}: {current}/{_quantity(target['averageValue'])}"
        current = "<unknown>"
        if current_source is not None and current_values.get("averageUtilization") is not None:
            current = f"{current_values['averageUtilization']}%"
        wanted = "<auto>" if target.get("averageUtilization") is None else f"{target['averageUtilization']}%"
        return f"{name}: {current}/{wanted}"
    return "<unknown type>"


def _hpa_metrics(specs: list[Mapping[str, Any]], statuses: list[Mapping[str, Any]]) -> str:
    if not specs:
        return "<none>"
    texts = [_hpa_metric(spec, statuses[i] if i < len(statuses) else None) for i, spec in enumerate(specs)]
    if len(texts) > 2:
        return f"{', '.join(texts[:2])} + {len(texts) - 2} more..."
    return ", ".join(texts)


def _hpa_row(obj: Obj, now: float) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    if "targetCPUUtilizationPercentage" in spec or str(obj.get("apiVersion", "")) == "autoscaling/v1":
        # autoscaling/v1 carries one CPU target; upstream converts it to a Resource metric.
        target = spec.get("targetCPUUtilizationPercentage")
        current = status.get("currentCPUUtilizationPercentage")
        metrics: list[Mapping[str, Any]] = []
        currents: list[Mapping[str, Any]] = []
        if target is not None:
            metrics = [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": target},
                    },
                }
            ]
        if current is not None:
            currents = [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}
            ]
    else:
        metrics = list(spec.get("metrics") or ())
        currents = list(status.get("currentMetrics") or ())
    ref = spec.get("scaleTargetRef") or _EMPTY
    min_replicas = spec.get("minReplicas")
    return [
        _name(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _hpa_metrics(metrics, currents),
        "<unset>" if min_replicas is None else str(min_replicas),
        spec.get("maxReplicas") or 0,
        status.get("currentReplicas") or 0,
        _age(obj, now),
    ]


def _pdb_row(obj: Obj, now: float) -> list[Any]:
    spec = _spec(obj)
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    return [
        _name(obj),
        "N/A" if min_available is None else _int_or_string(min_available),
        "N/A" if max_unavailable is None else _int_or_string(max_unavailable),
        _status(obj).get("disruptionsAllowed") or 0,
        _age(obj, now),
    ]


# ---------------------------------------------------------------------------------------------
# Rows: networking, rbac, storage, scheduling, and the rest


def _ingress_hosts(rules: list[Mapping[str, Any]]) -> str:
    hosts: list[str] = []
    limit, more = 3, False
    for rule in rules:
        if len(hosts) == limit:
            more = True
        if not more and rule.get("host"):
            hosts.append(rule["host"])
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - limit} more..." if more else text


def _ingress_row(obj: Obj, now: float) -> list[Any]:
    spec = _spec(obj)
    class_name = spec.get("ingressClassName")
    return [
        _name(obj),
        "<none>" if class_name is None else class_name,
        _ingress_hosts(list(spec.get("rules") or ())),
        _lb_ingress(_status(obj).get("loadBalancer")),
        "80, 443" if spec.get("tls") else "80",
        _age(obj, now),
    ]


def _ingress_class_row(obj: Obj, now: float) -> list[Any]:
    spec = _spec(obj)
    params = spec.get("parameters")
    text = "<none>"
    if params is not None:
        text = str(params.get("kind", ""))
        if params.get("apiGroup") is not None:
            text += "." + str(params["apiGroup"])
        text += "/" + str(params.get("name", ""))
    return [_name(obj), spec.get("controller", ""), text, _age(obj, now)]


def _network_policy_row(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), selector_to_string(_spec(obj).get("podSelector") or _EMPTY), _age(obj, now)]


def _endpoint_slice_row(obj: Obj, now: float) -> list[Any]:
    limit = 3
    ports: list[str] = []
    port_count, more_ports = 0, False
    for port in obj.get("ports") or ():
        if len(ports) < limit:
            if port.get("port") is not None:
                ports.append(str(port["port"]))
            elif port.get("name") is not None:
                ports.append(str(port["name"]))
            else:
                ports.append("*")
        elif len(ports) == limit:
            more_ports = True
        port_count += 1
    addresses: list[str] = []
    address_count, more_addresses = 0, False
    for endpoint in obj.get("endpoints") or ():
        for address in endpoint.get("addresses") or ():
            if len(addresses) < limit:
                addresses.append(address)
            elif len(addresses) == limit:
                more_addresses = True
            address_count += 1
    return [
        _name(obj),
        obj.get("addressType", ""),
        _list_with_more(ports, more_ports, port_count, limit),
        _list_with_more(addresses, more_addresses, address_count, limit),
        _age(obj, now),
    ]


def _service_cidr_row(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), ",".join(_spec(obj).get("cidrs") or ()), _age(obj, now)]


def _ip_address_row(obj: Obj, now: float) -> list[Any]:
    ref = _spec(obj).get("parentRef")
    parent = "<none>"
    if ref is not None:
        resource, group = str(ref.get("resource", "")), str(ref.get("group", ""))
        parent = (f"{resource}.{group}" if group else resource).lower()
        if ref.get("namespace"):
            parent += "/" + ref["namespace"]
        parent += "/" + str(ref.get("name", ""))
    return [_name(obj), parent, _age(obj, now)]  # upstream emits Age without declaring a column


def _subjects(subjects: Iterable[Mapping[str, Any]] | None) -> tuple[str, str, str]:
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for subject in subjects or ():
        kind = subject.get("kind")
        if kind == "ServiceAccount":
            accounts.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
        elif kind == "User":
            users.append(subject.get("name", ""))
        elif kind == "Group":
            groups.append(subject.get("name", ""))
    return ", ".join(users), ", ".join(groups), ", ".join(accounts)


def _role_binding_row(obj: Obj, now: float) -> list[Any]:
    ref = obj.get("roleRef") or _EMPTY
    users, groups, accounts = _subjects(obj.get("subjects"))
    return [
        _name(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(obj, now),
        users,
        groups,
        accounts,
    ]


_DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def _storage_class_row(obj: Obj, now: float) -> list[Any]:
    annotations = _meta(obj).get("annotations") or _EMPTY
    name = _name(obj)
    if any(annotations.get(key) == "true" for key in _DEFAULT_CLASS_ANNOTATIONS):
        name += " (default)"
    reclaim = obj.get("reclaimPolicy")
    binding = obj.get("volumeBindingMode")
    expansion = obj.get("allowVolumeExpansion")
    return [
        name,
        obj.get("provisioner", ""),
        "Delete" if reclaim is None else reclaim,
        "Immediate" if binding is None else binding,
        bool(expansion) if expansion is not None else False,
        _age(obj, now),
    ]


def _volume_attributes_class_row(obj: Obj, now: float) -> list[Any]:
    annotations = _meta(obj).get("annotations") or _EMPTY
    name = _name(obj)
    if annotations.get("volumeattributesclass.kubernetes.io/is-default-class") == "true":
        name += " (default)"
    return [name, obj.get("driverName", ""), _age(obj, now)]


def _csi_driver_row(obj: Obj, now: float) -> list[Any]:
    spec = _spec(obj)
    attach = spec.get("attachRequired")
    tokens = spec.get("tokenRequests")
    modes = ",".join(spec.get("volumeLifecycleModes") or ())
    return [
        _name(obj),
        True if attach is None else bool(attach),
        bool(spec.get("podInfoOnMount") or False),
        bool(spec.get("storageCapacity") or False),
        "<unset>" if tokens is None else ",".join(t.get("audience", "") for t in tokens),
        bool(spec.get("requiresRepublish") or False),
        modes or "<none>",
        _age(obj, now),
    ]


def _csi_node_row(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), len(_spec(obj).get("drivers") or ()), _age(obj, now)]


def _csi_storage_capacity_row(obj: Obj, now: float) -> list[Any]:
    capacity = obj.get("capacity")
    return [
        _name(obj),
        obj.get("storageClassName", ""),
        "<unset>" if capacity is None else _quantity(capacity),
    ]


def _volume_attachment_row(obj: Obj, now: float) -> list[Any]:
    spec = _spec(obj)
    source = spec.get("source") or _EMPTY
    return [
        _name(obj),
        spec.get("attacher", ""),
        source.get("persistentVolumeName") or "",
        spec.get("nodeName", ""),
        bool(_status(obj).get("attached") or False),
        _age(obj, now),
    ]


def _lease_row(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), _spec(obj).get("holderIdentity") or "", _age(obj, now)]


def _priority_class_row(obj: Obj, now: float) -> list[Any]:
    return [
        _name(obj),
        obj.get("value") or 0,
        bool(obj.get("globalDefault") or False),
        _age(obj, now),
        obj.get("preemptionPolicy") or "",
    ]


def _runtime_class_row(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), obj.get("handler", ""), _age(obj, now)]


def _webhook_configuration_row(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), len(obj.get("webhooks") or ()), _age(obj, now)]


def _admission_policy_row(obj: Obj, now: float) -> list[Any]:
    spec = _spec(obj)
    param_kind = spec.get("paramKind")
    param_text = (
        "<unset>"
        if param_kind is None
        else f"{param_kind.get('apiVersion', '')}/{param_kind.get('kind', '')}"
    )
    count = (
        len(spec.get("validations") or ()) if "mutations" not in spec else len(spec.get("mutations") or ())
    )
    return [_name(obj), count, param_text, _age(obj, now)]


def _admission_policy_binding_row(obj: Obj, now: float) -> list[Any]:
    spec = _spec(obj)
    ref = spec.get("paramRef")
    param = "<unset>"
    if ref is not None:
        if ref.get("name"):
            param = f"{ref['namespace']}/{ref['name']}" if ref.get("namespace") else f"*/{ref['name']}"
        elif ref.get("selector") is not None:
            param = _selector_string(ref["selector"])  # upstream prints the Go struct here
    return [_name(obj), spec.get("policyName", ""), param, _age(obj, now)]


def _csr_row(obj: Obj, now: float) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    kinds = {condition.get("type") for condition in status.get("conditions") or ()}
    state = "Denied" if "Denied" in kinds else "Approved" if "Approved" in kinds else "Pending"
    if "Failed" in kinds:
        state += ",Failed"
    if status.get("certificate"):
        state += ",Issued"
    seconds = spec.get("expirationSeconds")
    return [
        _name(obj),
        _age(obj, now),
        spec.get("signerName") or "<none>",
        spec.get("username", ""),
        "<none>" if seconds is None else human_duration(float(seconds)),
        state,
    ]


def _flow_schema_row(obj: Obj, now: float) -> list[Any]:
    spec = _spec(obj)
    method = spec.get("distinguisherMethod")
    missing = "?"
    for condition in _status(obj).get("conditions") or ():
        if condition.get("type") == "Dangling":
            missing = condition.get("status", "")
            break
    return [
        _name(obj),
        (spec.get("priorityLevelConfiguration") or _EMPTY).get("name", ""),
        spec.get("matchingPrecedence") or 0,
        "<none>" if method is None else method.get("type", ""),
        _age(obj, now),
        missing,
    ]


def _priority_level_row(obj: Obj, now: float) -> list[Any]:
    spec = _spec(obj)
    shares: Any = "<none>"
    queues: Any = "<none>"
    hand: Any = "<none>"
    queue_limit: Any = "<none>"
    limited = spec.get("limited")
    if limited is not None:
        shares = limited.get("nominalConcurrencyShares") or 0
        queuing = (limited.get("limitResponse") or _EMPTY).get("queuing")
        if queuing is not None:
            queues = queuing.get("queues") or 0
            hand = queuing.get("handSize") or 0
            queue_limit = queuing.get("queueLengthLimit") or 0
    return [_name(obj), spec.get("type", ""), shares, queues, hand, queue_limit, _age(obj, now)]


def _api_service_row(obj: Obj, now: float) -> list[Any]:
    spec = _spec(obj)
    service = spec.get("service")
    where = "Local" if service is None else f"{service.get('namespace', '')}/{service.get('name', '')}"
    available = "Unknown"
    for condition in _status(obj).get("conditions") or ():
        if condition.get("type") == "Available":
            state = condition.get("status", "")
            available = (
                f"{state} ({condition['reason']})" if state != "True" and condition.get("reason") else state
            )
            break
    return [_name(obj), where, available, _age(obj, now)]


def _default_row(obj: Obj, now: float) -> list[Any]:
    return [_name(obj), _rfc3339_utc(_meta(obj).get("creationTimestamp"))]


# ---------------------------------------------------------------------------------------------
# Column definitions


def _column(name: str, kind: str, description: str, priority: int = 0, fmt: str = "") -> dict[str, Any]:
    return {"name": name, "type": kind, "format": fmt, "description": description, "priority": priority}


def _doc(key: str) -> str:
    return _DOCS.get(key, "")


def _name_column() -> dict[str, Any]:
    return _column("Name", "string", _doc("ObjectMeta.name"), fmt="name")


def _age_column() -> dict[str, Any]:
    return _column("Age", "string", _doc("ObjectMeta.creationTimestamp"))


_CONTAINERS_DOC = "Names of each container in the template."
_IMAGES_DOC = "Images referenced by each container in the template."


def _wide_containers(selector_doc: str | None) -> list[dict[str, Any]]:
    columns = [
        _column("Containers", "string", _CONTAINERS_DOC, 1),
        _column("Images", "string", _IMAGES_DOC, 1),
    ]
    if selector_doc is not None:
        columns.append(_column("Selector", "string", _doc(selector_doc), 1))
    return columns


def _s(name: str, doc_key: str, priority: int = 0) -> dict[str, Any]:
    """A string column described by an upstream field doc."""
    return _column(name, "string", _doc(doc_key), priority)


def _t(name: str, description: str, priority: int = 0, kind: str = "string") -> dict[str, Any]:
    """A column with a literal description."""
    return _column(name, kind, description, priority)


Handler = tuple[list[dict[str, Any]], RowFn]


@lru_cache(maxsize=1)
def _handlers() -> dict[tuple[str, str], Handler]:
    """(group, resource) -> (column definitions, row function); built once on first use."""
    n, age = _name_column, _age_column
    event_columns = [
        _s("Last Seen", "Event.lastTimestamp"),
        _s("Type", "Event.type"),
        _s("Reason", "Event.reason"),
        _s("Object", "Event.involvedObject"),
        _s("Subobject", "ObjectReference.fieldPath", 1),
        _s("Source", "Event.source", 1),
        _s("Message", "Event.message"),
        _s("First Seen", "Event.firstTimestamp", 1),
        _s("Count", "Event.count", 1),
        _column("Name", "string", _doc("ObjectMeta.name"), 1, "name"),
    ]
    hpa_columns = [
        n(),
        _s("Reference", "HorizontalPodAutoscalerSpec.scaleTargetRef"),
        _s("Targets", "HorizontalPodAutoscalerSpec.metrics"),
        _s("MinPods", "HorizontalPodAutoscalerSpec.minReplicas"),
        _s("MaxPods", "HorizontalPodAutoscalerSpec.maxReplicas"),
        _s("Replicas", "HorizontalPodAutoscalerStatus.currentReplicas"),
        age(),
    ]
    binding_columns = {
        kind: [
            n(),
            _s("Role", f"{kind}.roleRef"),
            age(),
            _t("Users", f"Users in the {kind[0].lower() + kind[1:]}", 1),
            _t("Groups", f"Groups in the {kind[0].lower() + kind[1:]}", 1),
            _t("ServiceAccounts", f"ServiceAccounts in the {kind[0].lower() + kind[1:]}", 1),
        ]
        for kind in ("RoleBinding", "ClusterRoleBinding")
    }
    webhook_columns = [
        n(),
        _t(
            "Webhooks",
            "Webhooks indicates the number of webhooks registered in this configuration",
            kind="integer",
        ),
        age(),
    ]
    binding_policy_columns = [
        n(),
        _t("PolicyName", "PolicyName indicates the policy definition which the policy binding binded to"),
        _t("ParamRef", "ParamRef indicates the param resource which sets the configration param"),
        age(),
    ]
    param_kind = _t("ParamKind", "ParamKind specifies the kind of resources used to parameterize this policy")
    table: dict[tuple[str, str], Handler] = {
        ("", "pods"): (
            [
                n(),
                _t("Ready", "The aggregate readiness state of this pod for accepting traffic."),
                _t("Status", "The aggregate status of the containers in this pod."),
                _t(
                    "Restarts",
                    "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                ),
                age(),
                _s("IP", "PodStatus.podIP", 1),
                _s("Node", "PodSpec.nodeName", 1),
                _s("Nominated Node", "PodStatus.nominatedNodeName", 1),
                _s("Readiness Gates", "PodSpec.readinessGates", 1),
            ],
            _pod_row,
        ),
        ("", "podtemplates"): (
            [
                n(),
                _t("Containers", _CONTAINERS_DOC),
                _t("Images", _IMAGES_DOC),
                _t("Pod Labels", "The labels for the pod template."),
            ],
            _pod_template_row,
        ),
        ("", "replicationcontrollers"): (
            [
                n(),
                _column("Desired", "integer", _doc("ReplicationControllerSpec.replicas")),
                _column("Current", "integer", _doc("ReplicationControllerStatus.replicas")),
                _column("Ready", "integer", _doc("ReplicationControllerStatus.readyReplicas")),
                age(),
                *_wide_containers("ReplicationControllerSpec.selector"),
            ],
            _replication_controller_row,
        ),
        ("", "services"): (
            [
                n(),
                _s("Type", "ServiceSpec.type"),
                _s("Cluster-IP", "ServiceSpec.clusterIP"),
                _s("External-IP", "ServiceSpec.externalIPs"),
                _s("Port(s)", "ServiceSpec.ports"),
                age(),
                _s("Selector", "ServiceSpec.selector", 1),
            ],
            _service_row,
        ),
        ("", "endpoints"): ([n(), _s("Endpoints", "Endpoints.subsets"), age()], _endpoints_row),
        ("", "nodes"): (
            [
                n(),
                _t("Status", "The status of the node"),
                _t("Roles", "The roles of the node"),
                age(),
                _s("Version", "NodeSystemInfo.kubeletVersion"),
                _s("Internal-IP", "NodeStatus.addresses", 1),
                _s("External-IP", "NodeStatus.addresses", 1),
                _s("OS-Image", "NodeSystemInfo.osImage", 1),
                _s("Kernel-Version", "NodeSystemInfo.kernelVersion", 1),
                _s("Container-Runtime", "NodeSystemInfo.containerRuntimeVersion", 1),
            ],
            _node_row,
        ),
        ("", "events"): (event_columns, _event_row),
        ("events.k8s.io", "events"): (event_columns, _events_v1_row),
        ("", "namespaces"): ([n(), _t("Status", "The status of the namespace"), age()], _namespace_row),
        ("", "secrets"): ([n(), _s("Type", "Secret.type"), _s("Data", "Secret.data"), age()], _secret_row),
        ("", "serviceaccounts"): (
            [n(), _s("Secrets", "ServiceAccount.secrets"), age()],
            _service_account_row,
        ),
        ("", "configmaps"): ([n(), _s("Data", "ConfigMap.data"), age()], _config_map_row),
        ("", "persistentvolumes"): (
            [
                n(),
                _s("Capacity", "PersistentVolumeSpec.capacity"),
                _s("Access Modes", "PersistentVolumeSpec.accessModes"),
                _s("Reclaim Policy", "PersistentVolumeSpec.persistentVolumeReclaimPolicy"),
                _s("Status", "PersistentVolumeStatus.phase"),
                _s("Claim", "PersistentVolumeSpec.claimRef"),
                _t("StorageClass", "StorageClass of the pv"),
                _t("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
                _s("Reason", "PersistentVolumeStatus.reason"),
                age(),
                _s("VolumeMode", "PersistentVolumeSpec.volumeMode", 1),
            ],
            _persistent_volume_row,
        ),
        ("", "persistentvolumeclaims"): (
            [
                n(),
                _s("Status", "PersistentVolumeClaimStatus.phase"),
                _s("Volume", "PersistentVolumeClaimSpec.volumeName"),
                _s("Capacity", "PersistentVolumeClaimStatus.capacity"),
                _s("Access Modes", "PersistentVolumeClaimStatus.accessModes"),
                _t("StorageClass", "StorageClass of the pvc"),
                _t("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
                age(),
                _s("VolumeMode", "PersistentVolumeClaimSpec.volumeMode", 1),
            ],
            _persistent_volume_claim_row,
        ),
        ("", "resourcequotas"): (
            [
                n(),
                _t(
                    "Request",
                    "Request represents a minimum amount of cpu/memory that a container may consume.",
                ),
                _t(
                    "Limit",
                    "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
                ),
                age(),
            ],
            _resource_quota_row,
        ),
        ("", "componentstatuses"): (
            [
                n(),
                _t("Status", "Status of the component conditions"),
                _t("Message", "Message of the component conditions"),
                _t("Error", "Error of the component conditions"),
            ],
            _component_status_row,
        ),
        ("apps", "deployments"): (
            [
                n(),
                _t("Ready", "Number of the pod with ready state"),
                _s("Up-to-date", "DeploymentStatus.updatedReplicas"),
                _s("Available", "DeploymentStatus.availableReplicas"),
                age(),
                *_wide_containers("DeploymentSpec.selector"),
            ],
            _deployment_row,
        ),
        ("apps", "replicasets"): (
            [
                n(),
                _column("Desired", "integer", _doc("ReplicaSetSpec.replicas")),
                _column("Current", "integer", _doc("ReplicaSetStatus.replicas")),
                _column("Ready", "integer", _doc("ReplicaSetStatus.readyReplicas")),
                age(),
                *_wide_containers("ReplicaSetSpec.selector"),
            ],
            _replica_set_row,
        ),
        ("apps", "statefulsets"): (
            [n(), _t("Ready", "Number of the pod with ready state"), age(), *_wide_containers(None)],
            _stateful_set_row,
        ),
        ("apps", "daemonsets"): (
            [
                n(),
                _column("Desired", "integer", _doc("DaemonSetStatus.desiredNumberScheduled")),
                _column("Current", "integer", _doc("DaemonSetStatus.currentNumberScheduled")),
                _column("Ready", "integer", _doc("DaemonSetStatus.numberReady")),
                _column("Up-to-date", "integer", _doc("DaemonSetStatus.updatedNumberScheduled")),
                _column("Available", "integer", _doc("DaemonSetStatus.numberAvailable")),
                _s("Node Selector", "PodSpec.nodeSelector"),
                age(),
                *_wide_containers("DaemonSetSpec.selector"),
            ],
            _daemon_set_row,
        ),
        ("apps", "controllerrevisions"): (
            [
                n(),
                _t("Controller", "Controller of the object"),
                _s("Revision", "ControllerRevision.revision"),
                age(),
            ],
            _controller_revision_row,
        ),
        ("batch", "jobs"): (
            [
                n(),
                _t("Status", "Status of the job."),
                _s("Completions", "JobStatus.succeeded"),
                _t("Duration", "Time required to complete the job."),
                age(),
                *_wide_containers("JobSpec.selector"),
            ],
            _job_row,
        ),
        ("batch", "cronjobs"): (
            [
                n(),
                _s("Schedule", "CronJobSpec.schedule"),
                _s("Timezone", "CronJobSpec.timeZone"),
                _column("Suspend", "boolean", _doc("CronJobSpec.suspend")),
                _column("Active", "integer", _doc("CronJobStatus.active")),
                _s("Last Schedule", "CronJobStatus.lastScheduleTime"),
                age(),
                *_wide_containers("JobSpec.selector"),
            ],
            _cron_job_row,
        ),
        ("autoscaling", "horizontalpodautoscalers"): (hpa_columns, _hpa_row),
        ("policy", "poddisruptionbudgets"): (
            [
                n(),
                _t("Min Available", "The minimum number of pods that must be available."),
                _t("Max Unavailable", "The maximum number of pods that may be unavailable."),
                _t(
                    "Allowed Disruptions",
                    "Calculated number of pods that may be disrupted at this time.",
                    kind="integer",
                ),
                age(),
            ],
            _pdb_row,
        ),
        ("coordination.k8s.io", "leases"): (
            [n(), _s("Holder", "LeaseSpec.holderIdentity"), age()],
            _lease_row,
        ),
        ("discovery.k8s.io", "endpointslices"): (
            [
                n(),
                _s("AddressType", "EndpointSlice.addressType"),
                _s("Ports", "EndpointSlice.ports"),
                _s("Endpoints", "EndpointSlice.endpoints"),
                age(),
            ],
            _endpoint_slice_row,
        ),
        ("networking.k8s.io", "ingresses"): (
            [
                n(),
                _t(
                    "Class",
                    "The name of the IngressClass resource that should be used for additional configuration",
                ),
                _t("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
                _t("Address", "Address is a list containing ingress points for the load-balancer"),
                _t("Ports", "Ports of TLS configurations that open"),
                age(),
            ],
            _ingress_row,
        ),
        ("networking.k8s.io", "ingressclasses"): (
            [
                n(),
                _t("Controller", "Controller that is responsible for handling this class"),
                _t("Parameters", "A reference to a resource with additional parameters"),
                age(),
            ],
            _ingress_class_row,
        ),
        ("networking.k8s.io", "networkpolicies"): (
            [n(), _s("Pod-Selector", "NetworkPolicySpec.podSelector"), age()],
            _network_policy_row,
        ),
        ("networking.k8s.io", "servicecidrs"): (
            [n(), _s("CIDRs", "ServiceCIDRSpec.cidrs"), age()],
            _service_cidr_row,
        ),
        ("networking.k8s.io", "ipaddresses"): (
            [n(), _s("ParentRef", "IPAddressSpec.parentRef")],
            _ip_address_row,
        ),
        ("rbac.authorization.k8s.io", "rolebindings"): (binding_columns["RoleBinding"], _role_binding_row),
        ("rbac.authorization.k8s.io", "clusterrolebindings"): (
            binding_columns["ClusterRoleBinding"],
            _role_binding_row,
        ),
        ("storage.k8s.io", "storageclasses"): (
            [
                n(),
                _s("Provisioner", "StorageClass.provisioner"),
                _s("ReclaimPolicy", "StorageClass.reclaimPolicy"),
                _s("VolumeBindingMode", "StorageClass.volumeBindingMode"),
                _s("AllowVolumeExpansion", "StorageClass.allowVolumeExpansion"),
                age(),
            ],
            _storage_class_row,
        ),
        ("storage.k8s.io", "volumeattributesclasses"): (
            [n(), _s("DriverName", "VolumeAttributesClass.driverName"), age()],
            _volume_attributes_class_row,
        ),
        ("storage.k8s.io", "csidrivers"): (
            [
                n(),
                _column("AttachRequired", "boolean", _doc("CSIDriverSpec.attachRequired")),
                _column("PodInfoOnMount", "boolean", _doc("CSIDriverSpec.podInfoOnMount")),
                _column("StorageCapacity", "boolean", _doc("CSIDriverSpec.storageCapacity")),
                _s("TokenRequests", "CSIDriverSpec.tokenRequests"),
                _column("RequiresRepublish", "boolean", _doc("CSIDriverSpec.requiresRepublish")),
                _s("Modes", "CSIDriverSpec.volumeLifecycleModes"),
                age(),
            ],
            _csi_driver_row,
        ),
        ("storage.k8s.io", "csinodes"): (
            [
                n(),
                _t(
                    "Drivers",
                    "Drivers indicates the number of CSI drivers registered on the node",
                    kind="integer",
                ),
                age(),
            ],
            _csi_node_row,
        ),
        ("storage.k8s.io", "csistoragecapacities"): (
            [
                n(),
                _s("StorageClassName", "CSIStorageCapacity.storageClassName"),
                _s("Capacity", "CSIStorageCapacity.capacity"),
            ],
            _csi_storage_capacity_row,
        ),
        ("storage.k8s.io", "volumeattachments"): (
            [
                n(),
                _column("Attacher", "string", _doc("VolumeAttachmentSpec.attacher"), fmt="name"),
                _s("PV", "VolumeAttachmentSource.persistentVolumeName"),
                _s("Node", "VolumeAttachmentSpec.nodeName"),
                _column("Attached", "boolean", _doc("VolumeAttachmentStatus.attached")),
                age(),
            ],
            _volume_attachment_row,
        ),
        ("scheduling.k8s.io", "priorityclasses"): (
            [
                n(),
                _column("Value", "integer", _doc("PriorityClass.value")),
                _column("Global-Default", "boolean", _doc("PriorityClass.globalDefault")),
                age(),
                _s("PreemptionPolicy", "PriorityClass.preemptionPolicy"),
            ],
            _priority_class_row,
        ),
        ("node.k8s.io", "runtimeclasses"): ([n(), _t("Handler", ""), age()], _runtime_class_row),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): (
            webhook_columns,
            _webhook_configuration_row,
        ),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): (
            webhook_columns,
            _webhook_configuration_row,
        ),
        ("admissionregistration.k8s.io", "validatingadmissionpolicies"): (
            [
                n(),
                _t(
                    "Validations",
                    "Validations indicates the number of validation rules defined in this configuration",
                    kind="integer",
                ),
                param_kind,
                age(),
            ],
            _admission_policy_row,
        ),
        ("admissionregistration.k8s.io", "mutatingadmissionpolicies"): (
            [
                n(),
                _t(
                    "Mutations",
                    "Mutation indicates the number of mutations rules defined in this configuration",
                    kind="integer",
                ),
                param_kind,
                age(),
            ],
            _admission_policy_row,
        ),
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"): (
            binding_policy_columns,
            _admission_policy_binding_row,
        ),
        ("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"): (
            binding_policy_columns,
            _admission_policy_binding_row,
        ),
        ("certificates.k8s.io", "certificatesigningrequests"): (
            [
                n(),
                age(),
                _s("SignerName", "CertificateSigningRequestSpec.signerName"),
                _s("Requestor", "CertificateSigningRequestSpec.request"),
                _s("RequestedDuration", "CertificateSigningRequestSpec.expirationSeconds"),
                _s("Condition", "CertificateSigningRequestStatus.conditions"),
            ],
            _csr_row,
        ),
        ("flowcontrol.apiserver.k8s.io", "flowschemas"): (
            [
                n(),
                _s("PriorityLevel", "PriorityLevelConfigurationReference.name"),
                _s("MatchingPrecedence", "FlowSchemaSpec.matchingPrecedence"),
                _s("DistinguisherMethod", "FlowSchemaSpec.distinguisherMethod"),
                age(),
                _t("MissingPL", "references a broken or non-existent PriorityLevelConfiguration"),
            ],
            _flow_schema_row,
        ),
        ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"): (
            [
                n(),
                _s("Type", "PriorityLevelConfigurationSpec.type"),
                _s("NominalConcurrencyShares", "LimitedPriorityLevelConfiguration.nominalConcurrencyShares"),
                _s("Queues", "QueuingConfiguration.queues"),
                _s("HandSize", "QueuingConfiguration.handSize"),
                _s("QueueLengthLimit", "QueuingConfiguration.queueLengthLimit"),
                age(),
            ],
            _priority_level_row,
        ),
        ("apiregistration.k8s.io", "apiservices"): (
            [
                n(),
                _t("Service", "The reference to the service that hosts this API endpoint."),
                _t("Available", "Whether this service is available."),
                age(),
            ],
            _api_service_row,
        ),
    }
    return table


@lru_cache(maxsize=1)
def _default_columns() -> list[dict[str, Any]]:
    return [_name_column(), _column("Created At", "date", _doc("ObjectMeta.creationTimestamp"))]


def _handler(info: ResourceInfo) -> Handler:
    found = _handlers().get((info.group, info.resource))
    return found if found is not None else (_default_columns(), _default_row)


# ---------------------------------------------------------------------------------------------
# CRDs (apiextensions-apiserver tableconvertor)


def _crd_printer_columns(columns: list[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    """serveDefaultColumnsIfEmpty: a CRD without printer columns shows an Age column."""
    if columns:
        return columns
    return [
        {
            "name": "Age",
            "type": "date",
            "description": _doc("ObjectMeta.creationTimestamp"),
            "jsonPath": ".metadata.creationTimestamp",
        }
    ]


@lru_cache(maxsize=256)
def _compiled_crd_columns(
    key: tuple[tuple[str, str, str, str, int, str], ...],
) -> tuple[list[dict[str, Any]], list[tuple[JSONPath, str]]]:
    headers = [_name_column()]
    paths: list[tuple[JSONPath, str]] = []
    for name, kind, fmt, description, priority, json_path in key:
        try:
            path = compile_path(json_path)
        except JSONPathError:
            break  # upstream keeps the columns parsed before the bad one
        headers.append(
            _column(
                name,
                kind,
                description or f"Custom resource definition column (in JSONPath format): {json_path}",
                priority,
                fmt,
            )
        )
        paths.append((path, kind))
    return headers, paths


def _crd_key(columns: list[Mapping[str, Any]] | None) -> tuple[tuple[str, str, str, str, int, str], ...]:
    return tuple(
        (
            str(c.get("name", "")),
            str(c.get("type", "")),
            str(c.get("format", "") or ""),
            str(c.get("description", "") or ""),
            int(c.get("priority", 0) or 0),
            str(c.get("jsonPath", "")),
        )
        for c in _crd_printer_columns(columns)
    )


def crd_columns(additional_printer_columns: list[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Column definitions for a CRD version: Name, then its additionalPrinterColumns (or Age)."""
    headers, _ = _compiled_crd_columns(_crd_key(additional_printer_columns))
    return [dict(column) for column in headers]


def _crd_cell(path: JSONPath, kind: str, obj: Obj, now: float) -> Any:
    try:
        results = path.find(obj)
    except JSONPathError:
        return None
    if not results:
        return None
    value = results[0]
    if kind == "string":
        return format_value(value)
    if value is None:
        return None
    if kind == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        return None
    if kind == "number":
        if isinstance(value, bool):
            return None
        return float(value) if isinstance(value, (int, float)) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "date":
        if not isinstance(value, str):
            return None
        try:
            seconds = _epoch(value)
        except ValueError:
            return "<invalid>"
        return "<unknown>" if seconds is None else human_duration(now - seconds)
    return None


def _crd_row_fn(paths: list[tuple[JSONPath, str]]) -> RowFn:
    def row(obj: Obj, now: float) -> list[Any]:
        return [_name(obj), *(_crd_cell(path, kind, obj, now) for path, kind in paths)]

    return row


def crd_row(additional_printer_columns: list[Mapping[str, Any]] | None, obj: Obj, now: float) -> list[Any]:
    """Cells for one custom resource: its name, then each printer column's JSONPath result."""
    _, paths = _compiled_crd_columns(_crd_key(additional_printer_columns))
    return [_name(obj), *(_crd_cell(path, kind, obj, now) for path, kind in paths)]


# ---------------------------------------------------------------------------------------------
# Public API


def _crd_columns_of(info: ResourceInfo) -> list[Mapping[str, Any]] | None:
    """The served version's additionalPrinterColumns, as kubelite.registry.crds stores them."""
    for key in ("printer_columns", "additionalPrinterColumns"):
        columns = info.extra.get(key)
        if isinstance(columns, list):
            return columns
    return None


def table_columns(info: ResourceInfo) -> list[dict[str, Any]]:
    """The Table columnDefinitions upstream serves for this resource (all priorities)."""
    if info.crd:
        return crd_columns(_crd_columns_of(info))
    return [dict(column) for column in _handler(info)[0]]


def table_row(info: ResourceInfo, obj: Obj, now: float) -> list[Any]:
    """The cells of one object's row, matching `table_columns(info)` (wide cells included)."""
    if info.crd:
        return crd_row(_crd_columns_of(info), obj, now)
    return _handler(info)[1](obj, now)


def _row_object(obj: Obj, include_object: str, api_version: str) -> Any:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": obj.get("metadata") or {}}


def _flow_schema_order(obj: Obj) -> tuple[int, str]:
    return (_spec(obj).get("matchingPrecedence") or 0, _name(obj))


def make_table(
    info: ResourceInfo,
    objs: Iterable[Obj],
    now: float,
    include_object: str = "Metadata",
    list_meta: Mapping[str, Any] | None = None,
    *,
    no_headers: bool = False,
    api_version: str = TABLE_API_VERSION,
) -> dict[str, Any]:
    """A whole Table for a list (or for one object: pass `[obj]` and its resourceVersion in
    `list_meta`). `include_object` is the `includeObject` query value: "Metadata" (default, a
    PartialObjectMetadata per row), "Object" (the object itself) or "None". `api_version` is the
    Table's group/version the client asked for (meta.k8s.io/v1 or v1beta1)."""
    columns: list[dict[str, Any]]
    row_fn: RowFn
    if info.crd:
        columns, paths = _compiled_crd_columns(_crd_key(_crd_columns_of(info)))
        row_fn = _crd_row_fn(paths)
    else:
        columns, row_fn = _handler(info)
    is_pod = not info.crd and info.group == "" and info.resource == "pods"
    items: Iterable[Obj] = objs
    if not info.crd and info.group == "flowcontrol.apiserver.k8s.io" and info.resource == "flowschemas":
        items = sorted(objs, key=_flow_schema_order)
    rows = []
    for obj in items:
        row: dict[str, Any] = {"cells": row_fn(obj, now)}
        if is_pod:
            conditions = _pod_row_conditions(obj)
            if conditions is not None:
                row["conditions"] = conditions
        row["object"] = _row_object(obj, include_object, api_version)
        rows.append(row)
    metadata: dict[str, Any] = {}
    for key in ("resourceVersion", "continue", "remainingItemCount"):
        value = (list_meta or _EMPTY).get(key)
        if value not in (None, ""):
            metadata[key] = value
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": [] if no_headers else [dict(column) for column in columns],
        "rows": rows,
    }


# ---------------------------------------------------------------------------------------------
# Column descriptions: upstream builds them from SwaggerDoc(); these are the same field docs as
# published in the v1.33 OpenAPI (for beta-only types the GA type's text is used).

_DOCS: dict[str, str] = {
    "ObjectMeta.name": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    "ObjectMeta.creationTimestamp": "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    "PodStatus.podIP": "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
    "PodSpec.nodeName": "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
    "PodStatus.nominatedNodeName": "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.",
    "PodSpec.readinessGates": 'If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to "True" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates',
    "PodSpec.nodeSelector": "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/",
    "ReplicationControllerSpec.replicas": "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller",
    "ReplicationControllerStatus.replicas": "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller",
    "ReplicationControllerStatus.readyReplicas": "The number of ready replicas for this replication controller.",
    "ReplicationControllerSpec.selector": "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template. Label keys and values that must match in order to be controlled by this replication controller, if empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    "ReplicaSetSpec.replicas": "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset",
    "ReplicaSetStatus.replicas": "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset",
    "ReplicaSetStatus.readyReplicas": "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
    "ReplicaSetSpec.selector": "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    "DaemonSetStatus.desiredNumberScheduled": "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
    "DaemonSetStatus.currentNumberScheduled": "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
    "DaemonSetStatus.numberReady": "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
    "DaemonSetStatus.updatedNumberScheduled": "The total number of nodes that are running updated daemon pod",
    "DaemonSetStatus.numberAvailable": "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
    "DaemonSetSpec.selector": "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    "DeploymentStatus.updatedReplicas": "Total number of non-terminating pods targeted by this deployment that have the desired template spec.",
    "DeploymentStatus.availableReplicas": "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.",
    "DeploymentSpec.selector": "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels.",
    "ControllerRevision.revision": "Revision indicates the revision of the state represented by Data.",
    "JobStatus.succeeded": "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.",
    "JobSpec.selector": "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    "CronJobSpec.schedule": "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
    "CronJobSpec.timeZone": "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones",
    "CronJobSpec.suspend": "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.",
    "CronJobStatus.active": "A list of pointers to currently running jobs.",
    "CronJobStatus.lastScheduleTime": "Information when was the last time the job was successfully scheduled.",
    "ServiceSpec.type": 'type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. "ClusterIP" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is "None", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. "NodePort" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. "LoadBalancer" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. "ExternalName" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types',
    "ServiceSpec.clusterIP": 'clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are "None", empty string (""), or a valid IP address. Setting this to "None" makes a "headless service" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies',
    "ServiceSpec.externalIPs": "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.",
    "ServiceSpec.ports": "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
    "ServiceSpec.selector": "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/",
    "Endpoints.subsets": "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.",
    "NodeSystemInfo.kubeletVersion": "Kubelet Version reported by the node.",
    "NodeStatus.addresses": "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).",
    "NodeSystemInfo.osImage": "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
    "NodeSystemInfo.kernelVersion": "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
    "NodeSystemInfo.containerRuntimeVersion": "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
    "Event.lastTimestamp": "The time at which the most recent occurrence of this event was recorded.",
    "Event.type": "Type of this event (Normal, Warning), new types could be added in the future",
    "Event.reason": "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    "Event.involvedObject": "The object that this event is about.",
    "ObjectReference.fieldPath": 'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: "spec.containers{name}" (where "name" refers to the name of the container that triggered the event) or if no container name is specified "spec.containers[2]" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.',
    "Event.source": "The component reporting this event. Should be a short machine understandable string.",
    "Event.message": "A human-readable description of the status of this operation.",
    "Event.firstTimestamp": "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
    "Event.count": "The number of times this event has occurred.",
    "Secret.type": "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
    "Secret.data": "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
    "ServiceAccount.secrets": 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a "kubernetes.io/enforce-mountable-secrets" annotation set to "true". The "kubernetes.io/enforce-mountable-secrets" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret',
    "PersistentVolumeSpec.capacity": "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity",
    "PersistentVolumeSpec.accessModes": "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes",
    "PersistentVolumeSpec.persistentVolumeReclaimPolicy": "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming",
    "PersistentVolumeStatus.phase": "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase",
    "PersistentVolumeSpec.claimRef": "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding",
    "PersistentVolumeStatus.reason": "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.",
    "PersistentVolumeSpec.volumeMode": "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.",
    "PersistentVolumeClaimStatus.phase": "phase represents the current phase of PersistentVolumeClaim.",
    "PersistentVolumeClaimSpec.volumeName": "volumeName is the binding reference to the PersistentVolume backing this claim.",
    "PersistentVolumeClaimStatus.capacity": "capacity represents the actual resources of the underlying volume.",
    "PersistentVolumeClaimStatus.accessModes": "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1",
    "PersistentVolumeClaimSpec.volumeMode": "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.",
    "HorizontalPodAutoscalerSpec.scaleTargetRef": "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.",
    "HorizontalPodAutoscalerSpec.metrics": "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond. If not set, the default metric will be set to 80% average CPU utilization.",
    "HorizontalPodAutoscalerSpec.minReplicas": "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available.",
    "HorizontalPodAutoscalerSpec.maxReplicas": "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas.",
    "HorizontalPodAutoscalerStatus.currentReplicas": "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
    "ConfigMap.data": "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
    "NetworkPolicySpec.podSelector": "podSelector selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.",
    "RoleBinding.roleRef": "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.",
    "ClusterRoleBinding.roleRef": "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.",
    "CertificateSigningRequestSpec.signerName": 'signerName indicates the requested signer, and is a qualified name.\n\nList/watch requests for CertificateSigningRequests can filter on this field using a "spec.signerName=NAME" fieldSelector.\n\nWell-known Kubernetes signers are:\n 1. "kubernetes.io/kube-apiserver-client": issues client certificates that can be used to authenticate to kube-apiserver.\n  Requests for this signer are never auto-approved by kube-controller-manager, can be issued by the "csrsigning" controller in kube-controller-manager.\n 2. "kubernetes.io/kube-apiserver-client-kubelet": issues client certificates that kubelets use to authenticate to kube-apiserver.\n  Requests for this signer can be auto-approved by the "csrapproving" controller in kube-controller-manager, and can be issued by the "csrsigning" controller in kube-controller-manager.\n 3. "kubernetes.io/kubelet-serving" issues serving certificates that kubelets use to serve TLS endpoints, which kube-apiserver can connect to securely.\n  Requests for this signer are never auto-approved by kube-controller-manager, and can be issued by the "csrsigning" controller in kube-controller-manager.\n\nMore details are available at https://k8s.io/docs/reference/access-authn-authz/certificate-signing-requests/#kubernetes-signers\n\nCustom signerNames can also be specified. The signer defines:\n 1. Trust distribution: how trust (CA bundles) are distributed.\n 2. Permitted subjects: and behavior when a disallowed subject is requested.\n 3. Required, permitted, or forbidden x509 extensions in the request (including whether subjectAltNames are allowed, which types, restrictions on allowed values) and behavior when a disallowed extension is requested.\n 4. Required, permitted, or forbidden key usages / extended key usages.\n 5. Expiration/certificate lifetime: whether it is fixed by the signer, configurable by the admin.\n 6. Whether or not requests for CA certificates are allowed.',
    "CertificateSigningRequestSpec.request": 'request contains an x509 certificate signing request encoded in a "CERTIFICATE REQUEST" PEM block. When serialized as JSON or YAML, the data is additionally base64-encoded.',
    "CertificateSigningRequestSpec.expirationSeconds": "expirationSeconds is the requested duration of validity of the issued certificate. The certificate signer may issue a certificate with a different validity duration so a client must check the delta between the notBefore and and notAfter fields in the issued certificate to determine the actual duration.\n\nThe v1.22+ in-tree implementations of the well-known Kubernetes signers will honor this field as long as the requested duration is not greater than the maximum duration they will honor per the --cluster-signing-duration CLI flag to the Kubernetes controller manager.\n\nCertificate signers may not honor this field for various reasons:\n\n  1. Old signer that is unaware of the field (such as the in-tree\n     implementations prior to v1.22)\n  2. Signer whose configured maximum is shorter than the requested duration\n  3. Signer whose configured minimum is longer than the requested duration\n\nThe minimum valid value for expirationSeconds is 600, i.e. 10 minutes.",
    "CertificateSigningRequestStatus.conditions": 'conditions applied to the request. Known conditions are "Approved", "Denied", and "Failed".',
    "LeaseSpec.holderIdentity": "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.",
    "StorageClass.provisioner": "provisioner indicates the type of the provisioner.",
    "StorageClass.reclaimPolicy": "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.",
    "StorageClass.volumeBindingMode": "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.",
    "StorageClass.allowVolumeExpansion": "allowVolumeExpansion shows whether the storage class allow volume expand.",
    "VolumeAttributesClass.driverName": "Name of the CSI driver This field is immutable.",
    "PriorityClass.value": "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.",
    "PriorityClass.globalDefault": "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of such global default PriorityClasses will be used as the default priority.",
    "PriorityClass.preemptionPolicy": "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.",
    "VolumeAttachmentSpec.attacher": "attacher indicates the name of the volume driver that MUST handle this request. This is the name returned by GetPluginName().",
    "VolumeAttachmentSource.persistentVolumeName": "persistentVolumeName represents the name of the persistent volume to attach.",
    "VolumeAttachmentSpec.nodeName": "nodeName represents the node that the volume should be attached to.",
    "VolumeAttachmentStatus.attached": "attached indicates the volume is successfully attached. This field must only be set by the entity completing the attach operation, i.e. the external-attacher.",
    "EndpointSlice.addressType": 'addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name. (Deprecated) The EndpointSlice controller only generates, and kube-proxy only processes, slices of addressType "IPv4" and "IPv6". No semantics are defined for the "FQDN" type.',
    "EndpointSlice.ports": "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. Each slice may include a maximum of 100 ports. Services always have at least 1 port, so EndpointSlices generated by the EndpointSlice controller will likewise always have at least 1 port. EndpointSlices used for other purposes may have an empty ports list.",
    "EndpointSlice.endpoints": "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.",
    "CSIDriverSpec.attachRequired": "attachRequired indicates this CSI volume driver requires an attach operation (because it implements the CSI ControllerPublishVolume() method), and that the Kubernetes attach detach controller should call the attach volume interface which checks the volumeattachment status and waits until the volume is attached before proceeding to mounting. The CSI external-attacher coordinates with CSI volume driver and updates the volumeattachment status when the attach operation is complete. If the CSIDriverRegistry feature gate is enabled and the value is specified to false, the attach operation will be skipped. Otherwise the attach operation will be called.\n\nThis field is immutable.",
    "CSIDriverSpec.podInfoOnMount": 'podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations, if set to true. If set to false, pod information will not be passed on mount. Default is false.\n\nThe CSI driver specifies podInfoOnMount as part of driver deployment. If true, Kubelet will pass pod information as VolumeContext in the CSI NodePublishVolume() calls. The CSI driver is responsible for parsing and validating the information passed in as VolumeContext.\n\nThe following VolumeContext will be passed if podInfoOnMount is set to true. This list might grow, but the prefix will be used. "csi.storage.k8s.io/pod.name": pod.Name "csi.storage.k8s.io/pod.namespace": pod.Namespace "csi.storage.k8s.io/pod.uid": string(pod.UID) "csi.storage.k8s.io/ephemeral": "true" if the volume is an ephemeral inline volume\n                                defined by a CSIVolumeSource, otherwise "false"\n\n"csi.storage.k8s.io/ephemeral" is a new feature in Kubernetes 1.16. It is only required for drivers which support both the "Persistent" and "Ephemeral" VolumeLifecycleMode. Other drivers can leave pod info disabled and/or ignore this field. As Kubernetes 1.15 doesn\'t support this field, drivers can only support one mode when deployed on such a cluster and the deployment determines which mode that is, for example via a command line parameter of the driver.\n\nThis field was immutable in Kubernetes < 1.29 and now is mutable.',
    "CSIDriverSpec.storageCapacity": "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report by creating CSIStorageCapacity objects with capacity information, if set to true.\n\nThe check can be enabled immediately when deploying a driver. In that case, provisioning new volumes with late binding will pause until the driver deployment has published some suitable CSIStorageCapacity object.\n\nAlternatively, the driver can be deployed with the field unset or false and it can be flipped later when storage capacity information has been published.\n\nThis field was immutable in Kubernetes <= 1.22 and now is mutable.",
    "CSIDriverSpec.tokenRequests": 'tokenRequests indicates the CSI driver needs pods\' service account tokens it is mounting volume for to do necessary authentication. Kubelet will pass the tokens in VolumeContext in the CSI NodePublishVolume calls. The CSI driver should parse and validate the following VolumeContext: "csi.storage.k8s.io/serviceAccount.tokens": {\n  "<audience>": {\n    "token": <token>,\n    "expirationTimestamp": <expiration timestamp in RFC3339>,\n  },\n  ...\n}\n\nNote: Audience in each TokenRequest should be different and at most one token is empty string. To receive a new token after expiry, RequiresRepublish can be used to trigger NodePublishVolume periodically.',
    "CSIDriverSpec.requiresRepublish": "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume. This field defaults to false.\n\nNote: After a successful initial NodePublishVolume call, subsequent calls to NodePublishVolume should only update the contents of the volume. New mount points will not be seen by a running container.",
    "CSIDriverSpec.volumeLifecycleModes": 'volumeLifecycleModes defines what kind of volumes this CSI volume driver supports. The default if the list is empty is "Persistent", which is the usage defined by the CSI specification and implemented in Kubernetes via the usual PV/PVC mechanism.\n\nThe other mode is "Ephemeral". In this mode, volumes are defined inline inside the pod spec with CSIVolumeSource and their lifecycle is tied to the lifecycle of that pod. A driver has to be aware of this because it is only going to get a NodePublishVolume call for such a volume.\n\nFor more information about implementing this mode, see https://kubernetes-csi.github.io/docs/ephemeral-local-volumes.html A driver can support one or more of these modes and more modes may be added in the future.\n\nThis field is beta. This field is immutable.',
    "CSIStorageCapacity.storageClassName": "storageClassName represents the name of the StorageClass that the reported capacity applies to. It must meet the same requirements as the name of a StorageClass object (non-empty, DNS subdomain). If that object no longer exists, the CSIStorageCapacity object is obsolete and should be removed by its creator. This field is immutable.",
    "CSIStorageCapacity.capacity": "capacity is the value reported by the CSI driver in its GetCapacityResponse for a GetCapacityRequest with topology and parameters that match the previous fields.\n\nThe semantic is currently (CSI spec 1.2) defined as: The available capacity, in bytes, of the storage that can be used to provision volumes. If not set, that information is currently unavailable.",
    "PriorityLevelConfigurationReference.name": "`name` is the name of the priority level configuration being referenced Required.",
    "FlowSchemaSpec.matchingPrecedence": "`matchingPrecedence` is used to choose among the FlowSchemas that match a given request. The chosen FlowSchema is among those with the numerically lowest (which we take to be logically highest) MatchingPrecedence.  Each MatchingPrecedence value must be ranged in [1,10000]. Note that if the precedence is not specified, it will be set to 1000 as default.",
    "FlowSchemaSpec.distinguisherMethod": "`distinguisherMethod` defines how to compute the flow distinguisher for requests that match this schema. `nil` specifies that the distinguisher is disabled and thus will always be the empty string.",
    "PriorityLevelConfigurationSpec.type": '`type` indicates whether this priority level is subject to limitation on request execution.  A value of `"Exempt"` means that requests of this priority level are not subject to a limit (and thus are never queued) and do not detract from the capacity made available to other priority levels.  A value of `"Limited"` means that (a) requests of this priority level _are_ subject to limits and (b) some of the server\'s limited capacity is made available exclusively to this priority level. Required.',
    "LimitedPriorityLevelConfiguration.nominalConcurrencyShares": '`nominalConcurrencyShares` (NCS) contributes to the computation of the NominalConcurrencyLimit (NominalCL) of this level. This is the number of execution seats available at this priority level. This is used both for requests dispatched from this priority level as well as requests dispatched from other priority levels borrowing seats from this level. The server\'s concurrency limit (ServerCL) is divided among the Limited priority levels in proportion to their NCS values:\n\nNominalCL(i)  = ceil( ServerCL * NCS(i) / sum_ncs ) sum_ncs = sum[priority level k] NCS(k)\n\nBigger numbers mean a larger nominal concurrency limit, at the expense of every other priority level.\n\nIf not specified, this field defaults to a value of 30.\n\nSetting this field to zero supports the construction of a "jail" for this priority level that is used to hold some request(s)',
    "QueuingConfiguration.queues": "`queues` is the number of queues for this priority level. The queues exist independently at each apiserver. The value must be positive.  Setting it to 1 effectively precludes shufflesharding and thus makes the distinguisher method of associated flow schemas irrelevant.  This field has a default value of 64.",
    "QueuingConfiguration.handSize": "`handSize` is a small positive number that configures the shuffle sharding of requests into queues.  When enqueuing a request at this priority level the request's flow identifier (a string pair) is hashed and the hash value is used to shuffle the list of queues and deal a hand of the size specified here.  The request is put into one of the shortest queues in that hand. `handSize` must be no larger than `queues`, and should be significantly smaller (so that a few heavy flows do not saturate most of the queues).  See the user-facing documentation for more extensive guidance on setting this field.  This field has a default value of 8.",
    "QueuingConfiguration.queueLengthLimit": "`queueLengthLimit` is the maximum number of requests allowed to be waiting in a given queue of this priority level at a time; excess requests are rejected.  This value must be positive.  If not specified, it will be defaulted to 50.",
    "ServiceCIDRSpec.cidrs": 'CIDRs defines the IP blocks in CIDR notation (e.g. "192.168.0.0/24" or "2001:db8::/64") from which to assign service cluster IPs. Max of two CIDRs is allowed, one of each IP family. This field is immutable.',
    "IPAddressSpec.parentRef": "ParentRef references the resource that an IPAddress is attached to. An IPAddress must reference a parent object.",
}
