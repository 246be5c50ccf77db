"""A small dict-backed SchemaNode for the server-side apply tests: JSON-schema-like dicts with
`$ref`s into a definitions table, covering a Deployment subset and a preserve-unknown-fields
custom resource."""

from __future__ import annotations

from typing import Any

S: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
B: dict[str, Any] = {"type": "boolean"}
INT_OR_STRING: dict[str, Any] = {"x-kubernetes-int-or-string": True}
STRING_MAP: dict[str, Any] = {"type": "object", "additionalProperties": S}


class FakeNode:
    def __init__(self, spec: dict[str, Any], defs: dict[str, dict[str, Any]]):
        while "$ref" in spec:
            spec = defs[spec["$ref"]]
        self._spec = spec
        self._defs = defs

    def _node(self, spec: Any) -> FakeNode | None:
        return FakeNode(spec, self._defs) if isinstance(spec, dict) else None

    @property
    def type(self) -> str | None:
        return self._spec.get("type")

    def field(self, name: str) -> FakeNode | None:
        props = self._spec.get("properties") or {}
        if name in props:
            return self._node(props[name])
        return self._node(self._spec.get("additionalProperties"))

    def items(self) -> FakeNode | None:
        return self._node(self._spec.get("items"))

    @property
    def is_map(self) -> bool:
        return (
            self.type == "object"
            and isinstance(self._spec.get("additionalProperties"), dict)
            and not self._spec.get("properties")
        )

    @property
    def preserve_unknown_fields(self) -> bool:
        return bool(self._spec.get("x-kubernetes-preserve-unknown-fields"))

    @property
    def patch_strategy(self) -> str | None:
        return self._spec.get("x-kubernetes-patch-strategy")

    @property
    def patch_merge_key(self) -> str | None:
        return self._spec.get("x-kubernetes-patch-merge-key")

    @property
    def list_type(self) -> str | None:
        return self._spec.get("x-kubernetes-list-type")

    @property
    def list_map_keys(self) -> list[str]:
        return list(self._spec.get("x-kubernetes-list-map-keys") or [])

    @property
    def map_type(self) -> str | None:
        return self._spec.get("x-kubernetes-map-type")


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


def deployment_schema() -> FakeNode:
    return FakeNode({"$ref": "Deployment"}, DEFS)


def widget_schema() -> FakeNode:
    return FakeNode({"$ref": "Widget"}, DEFS)
