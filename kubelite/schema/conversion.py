"""Conversion between API versions that share storage, as upstream's conversion functions do.

- `autoscaling/v1` <-> `autoscaling/v2` HorizontalPodAutoscaler: v1 speaks only CPU utilization; the
  v2 parts it cannot express travel in the annotations upstream uses
  (`autoscaling.alpha.kubernetes.io/metrics`, `.../current-metrics`, `.../conditions`,
  `.../behavior`), in upstream's encodings, and are lifted back out on the way to v2.
- `v1` (core) <-> `events.k8s.io/v1` Event: the same fields under other names.

Must not validate, default or store objects, and must not mutate its input (the result may share
unchanged sub-objects with it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]

HPA_V1 = "autoscaling/v1"
HPA_V2 = "autoscaling/v2"
CORE_EVENTS = "v1"
EVENTS = "events.k8s.io/v1"

METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
ROUND_TRIP_ANNOTATIONS = (
    METRICS_ANNOTATION,
    CURRENT_METRICS_ANNOTATION,
    CONDITIONS_ANNOTATION,
    BEHAVIOR_ANNOTATION,
)
DEFAULT_CPU_UTILIZATION = 80


class ConversionError(ValueError):
    """No conversion exists between the two versions of the kind, or the input cannot be converted."""


def convert(obj: Obj, to_api_version: str) -> Obj:
    """`obj` in `to_api_version` (the same object when it already is). Lists convert item by item."""
    from_api_version = obj.get("apiVersion", "")
    if from_api_version == to_api_version:
        return obj
    kind = obj.get("kind", "")
    if kind.endswith("List") and isinstance(obj.get("items"), list):
        return {
            **obj,
            "apiVersion": to_api_version,
            "items": [convert(item, to_api_version) for item in obj["items"]],
        }
    converter = _CONVERTERS.get((kind, from_api_version, to_api_version))
    if converter is None:
        raise ConversionError(f"no conversion of {kind} from {from_api_version!r} to {to_api_version!r}")
    return converter(obj)


# ---------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------

_CORE_TO_EVENTS_FIELDS = {
    "involvedObject": "regarding",
    "message": "note",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "reportingComponent": "reportingController",
}
_EVENTS_TO_CORE_FIELDS = {new: old for old, new in _CORE_TO_EVENTS_FIELDS.items()}


def _renamed(obj: Obj, names: dict[str, str], api_version: str) -> Obj:
    out = {names.get(key, key): value for key, value in obj.items()}
    out["apiVersion"] = api_version
    return out


def _core_event_to_events(obj: Obj) -> Obj:
    return _renamed(obj, _CORE_TO_EVENTS_FIELDS, EVENTS)


def _events_event_to_core(obj: Obj) -> Obj:
    return _renamed(obj, _EVENTS_TO_CORE_FIELDS, CORE_EVENTS)


# ---------------------------------------------------------------------------------------------
# HorizontalPodAutoscaler: helpers
# ---------------------------------------------------------------------------------------------


def _go_json(value: Any) -> str:
    """Compact JSON as Go's encoding/json writes it (HTML-sensitive characters escaped)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _put(out: Obj, key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def _is_cpu_resource(metric: Obj) -> bool:
    resource = metric.get("resource")
    return metric.get("type") == "Resource" and isinstance(resource, dict) and resource.get("name") == "cpu"


def _cpu_target_utilization(metric: Obj) -> Any:
    return (metric["resource"].get("target") or {}).get("averageUtilization")


def _cross_version_ref(ref: Obj) -> Obj:
    out: Obj = {"kind": ref.get("kind", ""), "name": ref.get("name", "")}
    _put(out, "apiVersion", ref.get("apiVersion"))
    return out


def _metric_id(name: str | None, selector: Any) -> Obj:
    out: Obj = {"name": name or ""}
    _put(out, "selector", selector)
    return out


# v2 MetricSpec / MetricStatus -> the autoscaling/v1 annotation types (v2beta1-shaped), field order as Go's.


def _v1_metric_spec(metric: Obj) -> Obj:
    kind = metric.get("type", "")
    out: Obj = {"type": kind}
    if (src := metric.get("object")) is not None:
        target, ident = src.get("target") or {}, src.get("metric") or {}
        obj: Obj = {
            "target": _cross_version_ref(src.get("describedObject") or {}),
            "metricName": ident.get("name", ""),
        }
        obj["targetValue"] = target.get("value", "0")
        _put(obj, "selector", ident.get("selector"))
        _put(obj, "averageValue", target.get("averageValue"))
        out["object"] = obj
    if (src := metric.get("pods")) is not None:
        target, ident = src.get("target") or {}, src.get("metric") or {}
        pods: Obj = {
            "metricName": ident.get("name", ""),
            "targetAverageValue": target.get("averageValue", "0"),
        }
        _put(pods, "selector", ident.get("selector"))
        out["pods"] = pods
    for field in ("resource", "containerResource"):
        if (src := metric.get(field)) is not None:
            target = src.get("target") or {}
            res: Obj = {"name": src.get("name", "")}
            _put(res, "targetAverageUtilization", target.get("averageUtilization"))
            _put(res, "targetAverageValue", target.get("averageValue"))
            if field == "containerResource":
                res["container"] = src.get("container", "")
            out[field] = res
    if (src := metric.get("external")) is not None:
        target, ident = src.get("target") or {}, src.get("metric") or {}
        ext: Obj = {"metricName": ident.get("name", "")}
        _put(ext, "metricSelector", ident.get("selector"))
        _put(ext, "targetValue", target.get("value"))
        _put(ext, "targetAverageValue", target.get("averageValue"))
        out["external"] = ext
    return _go_order(out)


def _v1_metric_status(metric: Obj) -> Obj:
    out: Obj = {"type": metric.get("type", "")}
    if (src := metric.get("object")) is not None:
        current, ident = src.get("current") or {}, src.get("metric") or {}
        obj: Obj = {
            "target": _cross_version_ref(src.get("describedObject") or {}),
            "metricName": ident.get("name", ""),
        }
        obj["currentValue"] = current.get("value", "0")
        _put(obj, "selector", ident.get("selector"))
        _put(obj, "averageValue", current.get("averageValue"))
        out["object"] = obj
    if (src := metric.get("pods")) is not None:
        current, ident = src.get("current") or {}, src.get("metric") or {}
        pods: Obj = {
            "metricName": ident.get("name", ""),
            "currentAverageValue": current.get("averageValue", "0"),
        }
        _put(pods, "selector", ident.get("selector"))
        out["pods"] = pods
    for field in ("resource", "containerResource"):
        if (src := metric.get(field)) is not None:
            current = src.get("current") or {}
            res: Obj = {"name": src.get("name", "")}
            _put(res, "currentAverageUtilization", current.get("averageUtilization"))
            res["currentAverageValue"] = current.get("averageValue", "0")
            if field == "containerResource":
                res["container"] = src.get("container", "")
            out[field] = res
    if (src := metric.get("external")) is not None:
        current, ident = src.get("current") or {}, src.get("metric") or {}
        ext: Obj = {"metricName": ident.get("name", "")}
        _put(ext, "metricSelector", ident.get("selector"))
        ext["currentValue"] = current.get("value", "0")
        _put(ext, "currentAverageValue", current.get("averageValue"))
        out["external"] = ext
    return _go_order(out)


_GO_METRIC_ORDER = ("type", "object", "pods", "resource", "containerResource", "external")


def _go_order(metric: Obj) -> Obj:
    return {key: metric[key] for key in _GO_METRIC_ORDER if key in metric}


# The autoscaling/v1 annotation types -> v2.


def _target(kind: str, value: Any = None, average_value: Any = None, utilization: Any = None) -> Obj:
    out: Obj = {"type": kind}
    _put(out, "value", value)
    _put(out, "averageValue", average_value)
    _put(out, "averageUtilization", utilization)
    return out


def _v2_metric_spec(metric: Obj) -> Obj:
    out: Obj = {"type": metric.get("type", "")}
    if (src := metric.get("object")) is not None:
        average = src.get("averageValue")
        out["object"] = {
            "describedObject": _cross_version_ref(src.get("target") or {}),
            "metric": _metric_id(src.get("metricName"), src.get("selector")),
            "target": _target(
                "Value" if average is None else "AverageValue",
                value=src.get("targetValue"),
                average_value=average,
            ),
        }
    if (src := metric.get("pods")) is not None:
        out["pods"] = {
            "metric": _metric_id(src.get("metricName"), src.get("selector")),
            "target": _target("AverageValue", average_value=src.get("targetAverageValue")),
        }
    for field in ("resource", "containerResource"):
        if (src := metric.get(field)) is not None:
            utilization = src.get("targetAverageUtilization")
            res: Obj = {"name": src.get("name", "")}
            if field == "containerResource":
                res["container"] = src.get("container", "")
            res["target"] = _target(
                "AverageValue" if utilization is None else "Utilization",
                average_value=src.get("targetAverageValue"),
                utilization=utilization,
            )
            out[field] = res
    if (src := metric.get("external")) is not None:
        value = src.get("targetValue")
        out["external"] = {
            "metric": _metric_id(src.get("metricName"), src.get("metricSelector")),
            "target": _target(
                "AverageValue" if value is None else "Value",
                value=value,
                average_value=src.get("targetAverageValue"),
            ),
        }
    return out


def _current(value: Any = None, average_value: Any = None, utilization: Any = None) -> Obj:
    out: Obj = {}
    _put(out, "value", value)
    _put(out, "averageValue", average_value)
    _put(out, "averageUtilization", utilization)
    return out


def _v2_metric_status(metric: Obj) -> Obj:
    out: Obj = {"type": metric.get("type", "")}
    if (src := metric.get("object")) is not None:
        out["object"] = {
            "describedObject": _cross_version_ref(src.get("target") or {}),
            "metric": _metric_id(src.get("metricName"), src.get("selector")),
            "current": _current(value=src.get("currentValue"), average_value=src.get("averageValue")),
        }
    if (src := metric.get("pods")) is not None:
        out["pods"] = {
            "metric": _metric_id(src.get("metricName"), src.get("selector")),
            "current": _current(average_value=src.get("currentAverageValue")),
        }
    for field in ("resource", "containerResource"):
        if (src := metric.get(field)) is not None:
            res: Obj = {"name": src.get("name", "")}
            if field == "containerResource":
                res["container"] = src.get("container", "")
            res["current"] = _current(
                average_value=src.get("currentAverageValue"), utilization=src.get("currentAverageUtilization")
            )
            out[field] = res
    if (src := metric.get("external")) is not None:
        out["external"] = {
            "metric": _metric_id(src.get("metricName"), src.get("metricSelector")),
            "current": _current(value=src.get("currentValue"), average_value=src.get("currentAverageValue")),
        }
    return out


# Behavior travels as upstream's *internal* type, which has no JSON tags: Go field names as keys.

_BEHAVIOR_KEYS = (("ScaleUp", "scaleUp"), ("ScaleDown", "scaleDown"))
_RULES_KEYS = (
    ("StabilizationWindowSeconds", "stabilizationWindowSeconds"),
    ("SelectPolicy", "selectPolicy"),
    ("Policies", "policies"),
    ("Tolerance", "tolerance"),
)
_POLICY_KEYS = (("Type", "type"), ("Value", "value"), ("PeriodSeconds", "periodSeconds"))


def _behavior_to_internal(behavior: Obj) -> Obj:
    def rules(src: Obj | None) -> Obj | None:
        if src is None:
            return None
        out: Obj = {go: src.get(wire) for go, wire in _RULES_KEYS}
        if out["Policies"] is not None:
            out["Policies"] = [{go: p.get(wire) for go, wire in _POLICY_KEYS} for p in out["Policies"]]
        return out

    return {go: rules(behavior.get(wire)) for go, wire in _BEHAVIOR_KEYS}


def _lookup(src: Obj, go_name: str) -> Any:
    """A field of a Go-decoded object: encoding/json matches keys case-insensitively."""
    if go_name in src:
        return src[go_name]
    lowered = go_name.lower()
    for key, value in src.items():
        if key.lower() == lowered:
            return value
    return None


def _behavior_from_internal(internal: Obj) -> Obj:
    def rules(src: Any) -> Obj | None:
        if not isinstance(src, dict):
            return None
        out: Obj = {}
        for go, wire in _RULES_KEYS:
            value = _lookup(src, go)
            if value is not None and go == "Policies":
                value = [
                    {w: v for g, w in _POLICY_KEYS if (v := _lookup(p, g)) is not None}
                    for p in value
                    if isinstance(p, dict)
                ]
            _put(out, wire, value)
        return out

    behavior: Obj = {}
    for go, wire in _BEHAVIOR_KEYS:
        _put(behavior, wire, rules(_lookup(internal, go)))
    return behavior


def _annotation_list(annotations: dict[str, str], key: str) -> list[Obj] | None:
    text = annotations.pop(key, None)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as err:
        raise ConversionError(f"annotation {key} is not valid JSON: {err}") from err
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConversionError(f"annotation {key} is not a JSON list of objects")
    return value


# ---------------------------------------------------------------------------------------------
# HorizontalPodAutoscaler: the two directions
# ---------------------------------------------------------------------------------------------


def _metadata_without_round_trip(obj: Obj) -> tuple[Obj, dict[str, str]]:
    metadata = dict(obj.get("metadata") or {})
    annotations = {
        k: v for k, v in (metadata.get("annotations") or {}).items() if k not in ROUND_TRIP_ANNOTATIONS
    }
    return metadata, annotations


def _set_metadata(out: Obj, metadata: Obj, annotations: dict[str, str]) -> None:
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    if metadata or "metadata" in out:
        out["metadata"] = metadata


def _hpa_v2_to_v1(obj: Obj) -> Obj:
    out: Obj = {k: v for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = HPA_V1
    metadata, annotations = _metadata_without_round_trip(obj)
    spec: Obj = obj.get("spec") or {}
    status: Obj | None = obj.get("status")

    v1_spec: Obj = {}
    for key in ("scaleTargetRef", "minReplicas", "maxReplicas"):
        _put(v1_spec, key, spec.get(key))
    metrics: list[Obj] = spec.get("metrics") or []
    for metric in metrics:
        if _is_cpu_resource(metric):
            _put(v1_spec, "targetCPUUtilizationPercentage", _cpu_target_utilization(metric))
            break
    other = [
        _v1_metric_spec(m)
        for m in metrics
        if not (_is_cpu_resource(m) and _cpu_target_utilization(m) is not None)
    ]
    if other:
        annotations[METRICS_ANNOTATION] = _go_json(other)
    if spec.get("behavior") is not None:
        annotations[BEHAVIOR_ANNOTATION] = _go_json(_behavior_to_internal(spec["behavior"]))
    if "spec" in obj:
        out["spec"] = v1_spec

    if status is not None:
        v1_status: Obj = {}
        for key in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas"):
            _put(v1_status, key, status.get(key))
        current: list[Obj] = status.get("currentMetrics") or []
        for metric in current:
            if _is_cpu_resource(metric):
                utilization = (metric["resource"].get("current") or {}).get("averageUtilization")
                _put(v1_status, "currentCPUUtilizationPercentage", utilization)
        if current:
            annotations[CURRENT_METRICS_ANNOTATION] = _go_json([_v1_metric_status(m) for m in current])
        if status.get("conditions"):
            annotations[CONDITIONS_ANNOTATION] = _go_json(status["conditions"])
        out["status"] = v1_status
    _set_metadata(out, metadata, annotations)
    return out


def _hpa_v1_to_v2(obj: Obj) -> Obj:
    out: Obj = {k: v for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = HPA_V2
    metadata = dict(obj.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    spec: Obj = obj.get("spec") or {}
    status: Obj | None = obj.get("status")

    v2_spec: Obj = {}
    for key in ("scaleTargetRef", "minReplicas", "maxReplicas"):
        _put(v2_spec, key, spec.get(key))
    metrics: list[Obj] = []
    other = _annotation_list(annotations, METRICS_ANNOTATION)
    if other:
        metrics.extend(_v2_metric_spec(m) for m in other)
    cpu = spec.get("targetCPUUtilizationPercentage")
    if cpu is not None:
        metrics.append(_cpu_metric(cpu))
    if not metrics:
        metrics.append(_cpu_metric(DEFAULT_CPU_UTILIZATION))
    v2_spec["metrics"] = metrics
    behavior = annotations.pop(BEHAVIOR_ANNOTATION, None)
    if behavior is not None:
        try:
            internal = json.loads(behavior)
        except ValueError as err:
            raise ConversionError(f"annotation {BEHAVIOR_ANNOTATION} is not valid JSON: {err}") from err
        if isinstance(internal, dict):
            v2_spec["behavior"] = _behavior_from_internal(internal)
    out["spec"] = v2_spec

    current = _annotation_list(annotations, CURRENT_METRICS_ANNOTATION)
    conditions = _annotation_list(annotations, CONDITIONS_ANNOTATION)
    if status is not None or current or conditions:
        status = status or {}
        v2_status: Obj = {}
        for key in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas"):
            _put(v2_status, key, status.get(key))
        if current is not None:
            v2_status["currentMetrics"] = [_v2_metric_status(m) for m in current]
        elif status.get("currentCPUUtilizationPercentage") is not None:
            v2_status["currentMetrics"] = [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {"averageUtilization": status["currentCPUUtilizationPercentage"]},
                    },
                }
            ]
        if conditions is not None:
            v2_status["conditions"] = conditions
        out["status"] = v2_status
    _set_metadata(out, metadata, annotations)
    return out


def _cpu_metric(utilization: int) -> Obj:
    return {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": utilization}},
    }


_CONVERTERS: dict[tuple[str, str, str], Callable[[Obj], Obj]] = {
    ("Event", CORE_EVENTS, EVENTS): _core_event_to_events,
    ("Event", EVENTS, CORE_EVENTS): _events_event_to_core,
    ("HorizontalPodAutoscaler", HPA_V2, HPA_V1): _hpa_v2_to_v1,
    ("HorizontalPodAutoscaler", HPA_V1, HPA_V2): _hpa_v1_to_v2,
}
