"""A tiny dict-backed `SchemaNode` for tests of the schema-driven algorithms (strategic merge, apply), plus a hand-written
slice of the Deployment / Pod / Service schemas with their upstream patch strategies and merge keys."""

from __future__ import annotations

from typing import Any

from kubelite.api.schematypes import RawSchemaExtensions


class FakeSchema(RawSchemaExtensions):
    """A SchemaNode over an OpenAPI-like dict (`properties`, `additionalProperties`, `items`,
    x-kubernetes-*), following `$ref`s into `defs`."""

    def __init__(self, spec: dict[str, Any], defs: dict[str, dict[str, Any]] | None = None):
        defs = defs or {}
        while "$ref" in spec:
            spec = defs[spec["$ref"]]
        self.raw = spec
        self._defs = defs

    def _node(self, spec: Any) -> FakeSchema | None:
        return FakeSchema(spec, self._defs) if isinstance(spec, dict) else None

    @property
    def type(self) -> str | None:
        return self.raw.get("type")

    def field(self, name: str) -> FakeSchema | None:
        properties = self.raw.get("properties") or {}
        if name in properties:
            return self._node(properties[name])
        return self._node(self.raw.get("additionalProperties"))

    def items(self) -> FakeSchema | None:
        return self._node(self.raw.get("items"))

    @property
    def is_map(self) -> bool:
        return isinstance(self.raw.get("additionalProperties"), dict) and not self.raw.get("properties")

    @property
    def preserve_unknown_fields(self) -> bool:
        return bool(self.raw.get("x-kubernetes-preserve-unknown-fields"))


STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
INT_OR_STRING: dict[str, Any] = {"x-kubernetes-int-or-string": True}


def obj(patch_strategy: str | None = None, /, **properties: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "object", "properties": properties}
    if patch_strategy:
        spec["x-kubernetes-patch-strategy"] = patch_strategy
    return spec


def string_map() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": STRING}


def array(items: dict[str, Any], strategy: str | None = None, key: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "array", "items": items}
    if strategy:
        spec["x-kubernetes-patch-strategy"] = strategy
    if key:
        spec["x-kubernetes-patch-merge-key"] = key
    return spec


ENV_VAR = obj(name=STRING, value=STRING, valueFrom=obj(fieldRef=obj(fieldPath=STRING)))
CONTAINER_PORT = obj(containerPort=INTEGER, name=STRING, protocol=STRING)
VOLUME_MOUNT = obj(name=STRING, mountPath=STRING, readOnly={"type": "boolean"})
CONTAINER = obj(
    name=STRING,
    image=STRING,
    imagePullPolicy=STRING,
    args=array(STRING),
    command=array(STRING),
    env=array(ENV_VAR, "merge", "name"),
    ports=array(CONTAINER_PORT, "merge", "containerPort"),
    volumeMounts=array(VOLUME_MOUNT, "merge", "mountPath"),
    resources=obj(limits=string_map(), requests=string_map()),
)
VOLUME = obj(
    name=STRING, emptyDir=obj(medium=STRING), configMap=obj(name=STRING), secret=obj(secretName=STRING)
)
POD_SPEC = obj(
    containers=array(CONTAINER, "merge", "name"),
    initContainers=array(CONTAINER, "merge", "name"),
    volumes=array(VOLUME, "merge,retainKeys", "name"),
    tolerations=array(obj(key=STRING, operator=STRING, effect=STRING)),
    nodeSelector=string_map(),
    imagePullSecrets=array(obj(name=STRING), "merge", "name"),
    restartPolicy=STRING,
)
OBJECT_META = obj(
    name=STRING,
    namespace=STRING,
    labels=string_map(),
    annotations=string_map(),
    finalizers=array(STRING, "merge"),
    ownerReferences=array(obj(uid=STRING, kind=STRING, name=STRING), "merge", "uid"),
)
DEPLOYMENT = obj(
    apiVersion=STRING,
    kind=STRING,
    metadata=OBJECT_META,
    spec=obj(
        replicas=INTEGER,
        selector=obj(matchLabels=string_map()),
        strategy=obj(
            "retainKeys", type=STRING, rollingUpdate=obj(maxSurge=INT_OR_STRING, maxUnavailable=INT_OR_STRING)
        ),
        template=obj(metadata=OBJECT_META, spec=POD_SPEC),
    ),
    status=obj(replicas=INTEGER),
)
SERVICE = obj(
    apiVersion=STRING,
    kind=STRING,
    metadata=OBJECT_META,
    spec=obj(
        type=STRING,
        selector=string_map(),
        ports=array(
            obj(port=INTEGER, name=STRING, targetPort=INT_OR_STRING, protocol=STRING), "merge", "port"
        ),
    ),
)

deployment_schema = FakeSchema(DEPLOYMENT)
service_schema = FakeSchema(SERVICE)
