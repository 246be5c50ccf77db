from __future__ import annotations

import copy
from typing import Any

from kubelite.api.schematypes import SchemaNode
from kubelite.schema.definitions import DefinitionNode
from kubelite.schema.structural import (
    StructuralSchema,
    apply_schema_defaults,
    prune,
    validate_crd_schema,
    validate_custom_object,
)

CRONTAB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["cronSpec"],
            "properties": {
                "cronSpec": {"type": "string", "pattern": r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$"},
                "image": {"type": "string", "minLength": 2, "maxLength": 10},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                "ratio": {"type": "number", "exclusiveMaximum": True, "maximum": 1.5},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "port": {"x-kubernetes-int-or-string": True},
                "when": {"type": "string", "format": "date-time"},
                "note": {"type": "string", "nullable": True},
                "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set", "minItems": 1, "maxItems": 3},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "port": {"type": "integer", "format": "int32"},
                            "protocol": {"type": "string", "default": "TCP"},
                        },
                    },
                },
                "extra": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}},
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True},
                "settings": {"type": "object", "default": {}, "properties": {"level": {"type": "integer", "default": 3}}},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


def crontab(**spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "my-cron", "namespace": "default"},
        "spec": {"cronSpec": "* * * * */5", "image": "my-image"},
    }
    obj["spec"].update(spec)
    return obj


def schema() -> StructuralSchema:
    return StructuralSchema(copy.deepcopy(CRONTAB_SCHEMA))


def messages(causes: list[dict[str, str]]) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in causes]


# --- SchemaNode ------------------------------------------------------------------------------


def test_schema_node_view() -> None:
    s: SchemaNode = schema()
    spec = s.field("spec")
    assert spec is not None and spec.type == "object" and not spec.is_map
    ports = spec.field("ports")
    assert ports is not None and ports.type == "array"
    assert ports.list_type == "map" and ports.list_map_keys == ["name"]
    assert ports.patch_merge_key is None and ports.patch_strategy is None
    item = ports.items()
    assert item is not None and item.field("port") is not None and item.field("nope") is None
    labels = spec.field("labels")
    assert labels is not None and labels.is_map
    value = labels.field("anything")
    assert value is not None and value.type == "string"
    port = spec.field("port")
    assert port is not None and port.type is None
    extra = spec.field("extra")
    assert extra is not None and extra.preserve_unknown_fields
    # metadata is the built-in ObjectMeta at the root and in embedded resources
    metadata = s.field("metadata")
    assert isinstance(metadata, DefinitionNode) and metadata.definition == "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    template = spec.field("template")
    assert template is not None and isinstance(template.field("metadata"), DefinitionNode)
    kind = s.field("kind")
    assert kind is not None and kind.type == "string"
    assert spec.field("metadata") is None


# --- pruning ---------------------------------------------------------------------------------


def test_prune_drops_unknown_fields_and_reports_paths() -> None:
    obj = crontab(unknown=1, ports=[{"name": "http", "bogus": True}], labels={"a": "b"})
    obj["status"] = {"ready": True, "phase": "x"}
    obj["junk"] = {"x": 1}
    pruned = prune(obj, schema())
    assert pruned == ["spec.unknown", "spec.ports[0].bogus", "status.phase", "junk"]
    assert obj["spec"]["ports"] == [{"name": "http"}]
    assert "junk" not in obj and obj["status"] == {"ready": True}
    assert obj["apiVersion"] == "stable.example.com/v1" and obj["metadata"]["name"] == "my-cron"
    assert obj["spec"]["labels"] == {"a": "b"}


def test_prune_keeps_preserved_fields_but_prunes_specified_ones_inside() -> None:
    obj = crontab(extra={"free": {"deep": [1, 2]}, "known": {"a": "x", "b": "y"}})
    obj["spec"]["template"] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"any": 1}}
    assert prune(obj, schema()) == ["spec.extra.known.b"]
    assert obj["spec"]["extra"] == {"free": {"deep": [1, 2]}, "known": {"a": "x"}}
    assert obj["spec"]["template"]["spec"] == {"any": 1}


def test_root_meta_fields_of_the_wrong_type_are_dropped_silently() -> None:
    obj = crontab()
    obj["metadata"] = "nope"
    assert prune(obj, schema()) == []
    assert "metadata" not in obj


# --- defaults --------------------------------------------------------------------------------


def test_defaults_fill_missing_fields_recursively() -> None:
    obj = crontab(ports=[{"name": "http"}, {"name": "dns", "protocol": "UDP"}])
    apply_schema_defaults(obj, schema())
    spec = obj["spec"]
    assert spec["replicas"] == 1
    assert spec["ports"] == [{"name": "http", "protocol": "TCP"}, {"name": "dns", "protocol": "UDP"}]
    assert spec["settings"] == {"level": 3}  # the default object is itself defaulted
    assert "status" not in obj  # no default at that level


def test_defaults_replace_non_nullable_nulls_and_drop_the_rest() -> None:
    obj = crontab(replicas=None, image=None, note=None)
    apply_schema_defaults(obj, schema())
    assert obj["spec"]["replicas"] == 1
    assert "image" not in obj["spec"]  # non-nullable, no default: dropped
    assert obj["spec"]["note"] is None  # nullable: kept


def test_defaults_are_copies() -> None:
    s = schema()
    first, second = crontab(), crontab()
    apply_schema_defaults(first, s)
    apply_schema_defaults(second, s)
    first["spec"]["settings"]["level"] = 9
    assert second["spec"]["settings"]["level"] == 3


# --- validation ------------------------------------------------------------------------------


def test_valid_object_has_no_causes() -> None:
    obj = crontab(replicas=3, mode="a", port="http", when="2024-01-02T03:04:05Z", tags=["x"], ports=[{"name": "a", "port": 80}])
    assert validate_custom_object(obj, schema()) == []
    assert validate_custom_object(crontab(port=8080, ratio=1.25), schema()) == []


def test_type_errors() -> None:
    causes = validate_custom_object(crontab(replicas="3"), schema())
    assert causes == [
        {
            "reason": "FieldValueTypeInvalid",
            "message": 'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
            "field": "spec.replicas",
        }
    ]
    assert messages(validate_custom_object(crontab(port=True), schema())) == [
        'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"'
    ]
    assert messages(validate_custom_object(crontab(image=None), schema())) == [
        'spec.image: Invalid value: "null": spec.image in body must be of type string: "null"'
    ]
    assert validate_custom_object(crontab(replicas=2.0), schema()) == []  # integral floats are integers


def test_required_enum_and_string_constraints() -> None:
    obj = crontab(mode="c", image="x")
    del obj["spec"]["cronSpec"]
    assert messages(validate_custom_object(obj, schema())) == [
        'spec.image: Invalid value: "x": spec.image in body should be at least 2 chars long',
        'spec.mode: Unsupported value: "c": supported values: "a", "b"',
        "spec.cronSpec: Required value",
    ]
    causes = validate_custom_object(crontab(image="far-too-long-image", cronSpec="every minute"), schema())
    assert messages(causes) == [
        "spec.cronSpec: Invalid value: \"every minute\": spec.cronSpec in body should match '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'",
        "spec.image: Too long: may not be more than 10 bytes",
    ]
    assert [c["reason"] for c in causes] == ["FieldValueInvalid", "FieldValueTooLong"]


def test_numeric_constraints() -> None:
    assert messages(validate_custom_object(crontab(replicas=0), schema())) == [
        "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"
    ]
    assert messages(validate_custom_object(crontab(replicas=11), schema())) == [
        "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"
    ]
    assert messages(validate_custom_object(crontab(ratio=1.5), schema())) == [
        "spec.ratio: Invalid value: 1.5: spec.ratio in body should be less than 1.5"
    ]
    assert messages(validate_custom_object(crontab(ports=[{"name": "a", "port": 2**31}]), schema())) == [
        '<nil>: Invalid value: "": Checked value must be of type integer with format int32 in spec.ports[0].port'
    ]


def test_array_constraints_and_list_types() -> None:
    assert messages(validate_custom_object(crontab(tags=[]), schema())) == [
        "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"
    ]
    causes = validate_custom_object(crontab(tags=["a", "b", "c", "d"]), schema())
    assert causes == [{"reason": "FieldValueTooMany", "message": "Too many: 4: must have at most 3 items", "field": "spec.tags"}]
    assert messages(validate_custom_object(crontab(tags=["a", "a"]), schema())) == ['spec.tags[1]: Duplicate value: "a"']
    assert messages(validate_custom_object(crontab(tags=["a", "b", "a", "a", 1, 1.0]), schema()))[-1] == 'spec.tags[2]: Duplicate value: "a"'
    ports = [{"name": "a", "port": 1}, {"name": "b"}, {"name": "a", "port": 2}]
    causes = validate_custom_object(crontab(ports=ports), schema())
    assert causes == [
        {"reason": "FieldValueDuplicate", "message": 'Duplicate value: map[string]interface {}{"name":"a"}', "field": "spec.ports[2]"}
    ]
    assert messages(validate_custom_object(crontab(ports=[{"port": 1}]), schema())) == ["spec.ports[0].name: Required value"]


def test_formats_maps_and_embedded_resources() -> None:
    assert messages(validate_custom_object(crontab(when="noon"), schema())) == [
        'spec.when: Invalid value: "noon": spec.when in body must be of type date-time: "noon"'
    ]
    assert messages(validate_custom_object(crontab(labels={"a": "b", "c": 1}), schema())) == [
        'spec.labels.c: Invalid value: "integer": spec.labels.c in body must be of type string: "integer"'
    ]
    assert messages(validate_custom_object(crontab(template={"kind": "Pod"}), schema())) == [
        "spec.template.apiVersion: Required value: must not be empty"
    ]


def test_full_pipeline_on_a_request_body() -> None:
    s = schema()
    obj = crontab(replicas=None, bogus=True)
    assert prune(obj, s) == ["spec.bogus"]
    apply_schema_defaults(obj, s)
    assert validate_custom_object(obj, s) == []
    assert obj["spec"]["replicas"] == 1


# --- CRD schema checks -----------------------------------------------------------------------


def test_a_good_crd_schema_passes() -> None:
    assert validate_crd_schema(CRONTAB_SCHEMA) == []


def test_structural_violations() -> None:
    bad = {
        "type": "object",
        "properties": {
            "spec": {"properties": {"a": {"type": "string"}}},
            "list": {"type": "array"},
            "ref": {"$ref": "#/definitions/x"},
            "both": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}},
            "uniq": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        },
    }
    assert messages(validate_crd_schema(bad, "spec.versions[0].schema.openAPIV3Schema")) == [
        "spec.versions[0].schema.openAPIV3Schema.properties[ref].$ref: Forbidden: $ref is not supported",
        "spec.versions[0].schema.openAPIV3Schema.properties[both].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive",
        "spec.versions[0].schema.openAPIV3Schema.properties[uniq].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        "spec.versions[0].schema.openAPIV3Schema.properties[list].items: Required value: must be specified",
        "spec.versions[0].schema.openAPIV3Schema.properties[ref].type: Required value: must not be empty for specified object fields",
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
    ]


def test_root_and_preserve_rules() -> None:
    assert messages(validate_crd_schema({"type": "string"}, "s")) == ["s.type: Invalid value: \"string\": must be object at the root"]
    assert messages(validate_crd_schema({"properties": {}}, "s")) == ["s.type: Required value: must not be empty at the root"]
    preserved = {"type": "object", "properties": {"free": {"x-kubernetes-preserve-unknown-fields": True}, "ios": {"x-kubernetes-int-or-string": True}}}
    assert validate_crd_schema(preserved) == []
    nested = {"type": "object", "properties": {"a": {"type": "string", "anyOf": [{"type": "string"}]}}}
    assert messages(validate_crd_schema(nested, "s")) == ["s.properties[a].anyOf[0].type: Forbidden: must be empty to be structural"]
    int_or_string = {"type": "object", "properties": {"p": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}}}
    assert validate_crd_schema(int_or_string) == []
    list_map = {"type": "object", "properties": {"l": {"type": "array", "items": {"type": "object"}, "x-kubernetes-list-type": "map"}}}
    assert messages(validate_crd_schema(list_map, "s")) == [
        "s.properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"
    ]
