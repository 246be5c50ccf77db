"""A small dict-backed SchemaNode for the server-side apply tests: JSON-schema-like dicts with
`$ref`s into a definitions table, covering a Deployment subset and a preserve-unknown-fields
custom resource."""

from __future__ import annotations

from typing import Any

from tests.api.schemafake import FakeSchema

S: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
B: dict[str, Any] = {"type": "boolean"}
INT_OR_STRING: dict[str, Any] = {"x-kubernetes-int-or-string": True}
STRING_MAP: dict[str, Any] = {"type": "object", "additionalProperties": S}

DEFS: dict[str, dict[str, Any]] = {
    "ObjectMeta": {
        "type": "object",
        "properties": {
            "name": S,
            "namespace": S,
            "uid": S,
            "resourceVersion": S,
            "generation": INT,
            "creationTimestamp": S,
            "labels": STRING_MAP,
            "annotations": STRING_MAP,
            "finalizers": {
                "type": "array",
                "items": S,
                "x-kubernetes-list-type": "set",
                "x-kubernetes-patch-strategy": "merge",
            },
            "ownerReferences": {
                "type": "array",
                "items": {"$ref": "OwnerReference"},
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["uid"],
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "uid",
            },
            "managedFields": {
                "type": "array",
                "items": {"type": "object"},
                "x-kubernetes-list-type": "atomic",
            },
        },
    },
    "OwnerReference": {
        "type": "object",
        "x-kubernetes-map-type": "atomic",
        "properties": {"apiVersion": S, "kind": S, "name": S, "uid": S, "controller": B},
    },
    "LabelSelector": {
        "type": "object",
        "x-kubernetes-map-type": "atomic",
        "properties": {
            "matchLabels": STRING_MAP,
            "matchExpressions": {"type": "array", "items": {"type": "object"}},
        },
    },
    "ContainerPort": {
        "type": "object",
        "properties": {"containerPort": INT, "protocol": S, "name": S, "hostPort": INT},
    },
    "EnvVar": {"type": "object", "properties": {"name": S, "value": S}},
    "Container": {
        "type": "object",
        "properties": {
            "name": S,
            "image": S,
            "args": {"type": "array", "items": S, "x-kubernetes-list-type": "atomic"},
            "command": {"type": "array", "items": S},
            "ports": {
                "type": "array",
                "items": {"$ref": "ContainerPort"},
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "containerPort",
            },
            "env": {
                "type": "array",
                "items": {"$ref": "EnvVar"},
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "name",
            },
            "resources": {
                "type": "object",
                "properties": {
                    "limits": {"type": "object", "additionalProperties": INT_OR_STRING},
                    "requests": {"type": "object", "additionalProperties": INT_OR_STRING},
                },
            },
        },
    },
    "PodSpec": {
        "type": "object",
        "properties": {
            "containers": {
                "type": "array",
                "items": {"$ref": "Container"},
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "name",
            },
            "nodeSelector": {"type": "object", "additionalProperties": S, "x-kubernetes-map-type": "atomic"},
            "restartPolicy": S,
        },
    },
    "PodTemplateSpec": {
        "type": "object",
        "properties": {"metadata": {"$ref": "ObjectMeta"}, "spec": {"$ref": "PodSpec"}},
    },
    "DeploymentSpec": {
        "type": "object",
        "properties": {
            "replicas": INT,
            "paused": B,
            "selector": {"$ref": "LabelSelector"},
            "template": {"$ref": "PodTemplateSpec"},
            "strategy": {
                "type": "object",
                "properties": {
                    "type": S,
                    "rollingUpdate": {
                        "type": "object",
                        "properties": {"maxSurge": INT_OR_STRING, "maxUnavailable": INT_OR_STRING},
                    },
                },
            },
        },
    },
    "DeploymentStatus": {
        "type": "object",
        "properties": {
            "replicas": INT,
            "readyReplicas": INT,
            "conditions": {
                "type": "array",
                "items": {"type": "object", "properties": {"type": S, "status": S}},
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
        },
    },
    "Deployment": {
        "type": "object",
        "properties": {
            "apiVersion": S,
            "kind": S,
            "metadata": {"$ref": "ObjectMeta"},
            "spec": {"$ref": "DeploymentSpec"},
            "status": {"$ref": "DeploymentStatus"},
        },
    },
    "Widget": {
        "type": "object",
        "properties": {
            "apiVersion": S,
            "kind": S,
            "metadata": {"$ref": "ObjectMeta"},
            "spec": {
                "type": "object",
                "properties": {"size": INT},
                "x-kubernetes-preserve-unknown-fields": True,
            },
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    },
}


def deployment_schema() -> FakeSchema:
    return FakeSchema({"$ref": "Deployment"}, DEFS)


def widget_schema() -> FakeSchema:
    return FakeSchema({"$ref": "Widget"}, DEFS)
