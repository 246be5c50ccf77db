"""Conversion between versions sharing storage: HPA v1/v2 and core/events.k8s.io Events."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubelite.schema.conversion import (
    BEHAVIOR_ANNOTATION,
    CONDITIONS_ANNOTATION,
    CURRENT_METRICS_ANNOTATION,
    METRICS_ANNOTATION,
    ConversionError,
    convert,
)

CORE_EVENT: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Event",
    "metadata": {"name": "web.17a", "namespace": "default", "resourceVersion": "7"},
    "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "u1"},
    "reason": "Pulled",
    "message": "Container image pulled",
    "source": {"component": "kubelet", "host": "node-1"},
    "firstTimestamp": "2025-01-01T00:00:00Z",
    "lastTimestamp": "2025-01-01T00:01:00Z",
    "count": 3,
    "type": "Normal",
    "eventTime": None,
    "reportingComponent": "kubelet",
    "reportingInstance": "node-1",
    "action": "Pulling",
    "related": {"kind": "Node", "name": "node-1"},
}

HPA_V2: dict[str, Any] = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web", "namespace": "default", "annotations": {"team": "a"}},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1,
        "maxReplicas": 10,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}},
            },
            {
                "type": "Pods",
                "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}},
            },
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
            },
        ],
        "behavior": {
            "scaleDown": {
                "stabilizationWindowSeconds": 300,
                "selectPolicy": "Min",
                "policies": [{"type": "Pods", "value": 4, "periodSeconds": 60}],
            }
        },
    },
    "status": {
        "observedGeneration": 2,
        "currentReplicas": 3,
        "desiredReplicas": 4,
        "currentMetrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "current": {"averageUtilization": 75, "averageValue": "150m"}},
            }
        ],
        "conditions": [
            {
                "type": "AbleToScale",
                "status": "True",
                "lastTransitionTime": "2025-01-01T00:00:00Z",
                "reason": "ReadyForNewScale",
            }
        ],
    },
}


def test_identity_when_versions_match() -> None:
    assert convert(CORE_EVENT, "v1") is CORE_EVENT
    assert convert(HPA_V2, "autoscaling/v2") is HPA_V2


def test_unknown_conversion_raises() -> None:
    with pytest.raises(ConversionError):
        convert({"apiVersion": "apps/v1", "kind": "Deployment"}, "apps/v2")
    with pytest.raises(ConversionError):
        convert({"apiVersion": "v1", "kind": "Pod"}, "events.k8s.io/v1")


def test_core_event_to_events_k8s_io() -> None:
    before = copy.deepcopy(CORE_EVENT)
    event = convert(CORE_EVENT, "events.k8s.io/v1")
    assert before == CORE_EVENT
    assert event["apiVersion"] == "events.k8s.io/v1"
    assert event["regarding"] == CORE_EVENT["involvedObject"]
    assert event["note"] == "Container image pulled"
    assert event["deprecatedSource"] == {"component": "kubelet", "host": "node-1"}
    assert event["deprecatedFirstTimestamp"] == "2025-01-01T00:00:00Z"
    assert event["deprecatedLastTimestamp"] == "2025-01-01T00:01:00Z"
    assert event["deprecatedCount"] == 3
    assert event["reportingController"] == "kubelet"
    assert (event["reason"], event["type"], event["action"]) == ("Pulled", "Normal", "Pulling")
    for old in (
        "involvedObject",
        "message",
        "source",
        "firstTimestamp",
        "lastTimestamp",
        "count",
        "reportingComponent",
    ):
        assert old not in event
    assert convert(event, "v1") == CORE_EVENT


def test_event_lists_convert_item_by_item() -> None:
    listing = {
        "apiVersion": "v1",
        "kind": "EventList",
        "metadata": {"resourceVersion": "9"},
        "items": [CORE_EVENT],
    }
    converted = convert(listing, "events.k8s.io/v1")
    assert converted["apiVersion"] == "events.k8s.io/v1"
    assert converted["metadata"] == {"resourceVersion": "9"}
    assert converted["items"][0]["note"] == "Container image pulled"


def test_hpa_v1_target_cpu_becomes_a_resource_metric() -> None:
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 50,
        },
        "status": {"currentReplicas": 1, "desiredReplicas": 1, "currentCPUUtilizationPercentage": 20},
    }
    v2 = convert(v1, "autoscaling/v2")
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
        }
    ]
    assert "targetCPUUtilizationPercentage" not in v2["spec"]
    assert v2["status"]["currentMetrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 20}}}
    ]
    assert "annotations" not in v2["metadata"]
    back = convert(v2, "autoscaling/v1")
    assert back["spec"] == v1["spec"]
    assert back["status"] == v1["status"]


def test_hpa_v1_without_target_defaults_to_80_percent_cpu() -> None:
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "spec": {"maxReplicas": 2}}
    v2 = convert(v1, "autoscaling/v2")
    assert v2["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 80}
    assert "metadata" not in v2 and "status" not in v2


def test_hpa_v2_to_v1_keeps_what_v1_cannot_say_in_annotations() -> None:
    before = copy.deepcopy(HPA_V2)
    v1 = convert(HPA_V2, "autoscaling/v1")
    assert before == HPA_V2
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1,
        "maxReplicas": 10,
        "targetCPUUtilizationPercentage": 60,
    }
    assert v1["status"] == {
        "observedGeneration": 2,
        "currentReplicas": 3,
        "desiredReplicas": 4,
        "currentCPUUtilizationPercentage": 75,
    }
    annotations = v1["metadata"]["annotations"]
    assert annotations["team"] == "a"
    assert json.loads(annotations[METRICS_ANNOTATION]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}},
        {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "1k"}},
    ]
    assert annotations[CURRENT_METRICS_ANNOTATION] == (
        '[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":75,"currentAverageValue":"150m"}}]'
    )
    assert json.loads(annotations[CONDITIONS_ANNOTATION]) == HPA_V2["status"]["conditions"]
    # Upstream marshals its internal type here, whose JSON keys are the Go field names.
    assert json.loads(annotations[BEHAVIOR_ANNOTATION]) == {
        "ScaleUp": None,
        "ScaleDown": {
            "StabilizationWindowSeconds": 300,
            "SelectPolicy": "Min",
            "Policies": [{"Type": "Pods", "Value": 4, "PeriodSeconds": 60}],
            "Tolerance": None,
        },
    }


def test_hpa_round_trips_through_v1() -> None:
    back = convert(convert(HPA_V2, "autoscaling/v1"), "autoscaling/v2")
    assert back == HPA_V2


def test_hpa_v1_annotations_are_lifted_out_and_dropped() -> None:
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": "web",
            "annotations": {
                METRICS_ANNOTATION: json.dumps(
                    [
                        {"type": "External", "external": {"metricName": "queue", "targetAverageValue": "30"}},
                        {
                            "type": "Object",
                            "object": {
                                "target": {"kind": "Service", "name": "front"},
                                "metricName": "rps",
                                "targetValue": "10",
                            },
                        },
                    ]
                ),
                BEHAVIOR_ANNOTATION: '{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max",'
                '"Policies":[{"Type":"Pods","Value":4,"PeriodSeconds":15}]}}',
            },
        },
        "spec": {"maxReplicas": 5},
    }
    v2 = convert(v1, "autoscaling/v2")
    assert "annotations" not in v2["metadata"]
    assert v2["spec"]["metrics"] == [
        {
            "type": "External",
            "external": {
                "metric": {"name": "queue"},
                "target": {"type": "AverageValue", "averageValue": "30"},
            },
        },
        {
            "type": "Object",
            "object": {
                "describedObject": {"kind": "Service", "name": "front"},
                "metric": {"name": "rps"},
                "target": {"type": "Value", "value": "10"},
            },
        },
    ]
    assert v2["spec"]["behavior"] == {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}],
        }
    }


def test_hpa_v2_user_annotations_with_round_trip_names_are_replaced() -> None:
    v2 = copy.deepcopy(HPA_V2)
    v2["metadata"]["annotations"][METRICS_ANNOTATION] = "stale"
    v2["spec"]["metrics"] = v2["spec"]["metrics"][2:]
    del v2["spec"]["behavior"]
    del v2["status"]
    v1 = convert(v2, "autoscaling/v1")
    assert v1["metadata"]["annotations"] == {"team": "a"}


def test_bad_round_trip_annotation_is_a_conversion_error() -> None:
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"annotations": {METRICS_ANNOTATION: "{not json"}},
        "spec": {"maxReplicas": 1},
    }
    with pytest.raises(ConversionError):
        convert(v1, "autoscaling/v2")
