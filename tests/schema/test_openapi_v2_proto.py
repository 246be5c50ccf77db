"""/openapi/v2 protobuf: decodes as a gnostic openapi_v2.Document and answers kubectl 1.27's
fieldValidation check. The gnostic messages are declared here, in the test only, with the field
numbers of google/gnostic openapiv2/OpenAPIv2.proto, and parsed with the protobuf package."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from kubelite.schema.builtins import default_catalogue
from kubelite.schema.catalogue import Catalogue, ResourceInfo, Subresource
from kubelite.schema.openapi_v2_proto import openapi_v2_protobuf

F = descriptor_pb2.FieldDescriptorProto
STRING, BOOL, MESSAGE = F.TYPE_STRING, F.TYPE_BOOL, F.TYPE_MESSAGE
OPTIONAL, REPEATED = F.LABEL_OPTIONAL, F.LABEL_REPEATED

# (message, [(field name, number, type, label, message type or None)]) — a subset of OpenAPIv2.proto.
MESSAGES: list[tuple[str, list[tuple[str, int, int, int, str | None]]]] = [
    (
        "Document",
        [
            ("swagger", 1, STRING, OPTIONAL, None),
            ("info", 2, MESSAGE, OPTIONAL, "Info"),
            ("host", 3, STRING, OPTIONAL, None),
            ("paths", 8, MESSAGE, OPTIONAL, "Paths"),
        ],
    ),
    ("Info", [("title", 1, STRING, OPTIONAL, None), ("version", 2, STRING, OPTIONAL, None)]),
    (
        "Paths",
        [
            ("vendor_extension", 1, MESSAGE, REPEATED, "NamedAny"),
            ("path", 2, MESSAGE, REPEATED, "NamedPathItem"),
        ],
    ),
    ("NamedPathItem", [("name", 1, STRING, OPTIONAL, None), ("value", 2, MESSAGE, OPTIONAL, "PathItem")]),
    (
        "PathItem",
        [
            ("_ref", 1, STRING, OPTIONAL, None),
            ("get", 2, MESSAGE, OPTIONAL, "Operation"),
            ("put", 3, MESSAGE, OPTIONAL, "Operation"),
            ("post", 4, MESSAGE, OPTIONAL, "Operation"),
            ("delete", 5, MESSAGE, OPTIONAL, "Operation"),
            ("patch", 8, MESSAGE, OPTIONAL, "Operation"),
            ("parameters", 9, MESSAGE, REPEATED, "ParametersItem"),
        ],
    ),
    (
        "Operation",
        [
            ("tags", 1, STRING, REPEATED, None),
            ("summary", 2, STRING, OPTIONAL, None),
            ("description", 3, STRING, OPTIONAL, None),
            ("operation_id", 5, STRING, OPTIONAL, None),
            ("parameters", 8, MESSAGE, REPEATED, "ParametersItem"),
            ("responses", 9, MESSAGE, OPTIONAL, "Responses"),
            ("deprecated", 11, BOOL, OPTIONAL, None),
            ("vendor_extension", 13, MESSAGE, REPEATED, "NamedAny"),
        ],
    ),
    ("ParametersItem", [("parameter", 1, MESSAGE, OPTIONAL, "Parameter")]),
    ("Parameter", [("non_body_parameter", 2, MESSAGE, OPTIONAL, "NonBodyParameter")]),
    ("NonBodyParameter", [("query_parameter_sub_schema", 3, MESSAGE, OPTIONAL, "QueryParameterSubSchema")]),
    (
        "QueryParameterSubSchema",
        [
            ("required", 1, BOOL, OPTIONAL, None),
            ("in", 2, STRING, OPTIONAL, None),
            ("description", 3, STRING, OPTIONAL, None),
            ("name", 4, STRING, OPTIONAL, None),
            ("type", 6, STRING, OPTIONAL, None),
            ("unique_items", 20, BOOL, OPTIONAL, None),
        ],
    ),
    ("Responses", [("response_code", 1, MESSAGE, REPEATED, "NamedResponseValue")]),
    (
        "NamedResponseValue",
        [("name", 1, STRING, OPTIONAL, None), ("value", 2, MESSAGE, OPTIONAL, "ResponseValue")],
    ),
    ("ResponseValue", [("response", 1, MESSAGE, OPTIONAL, "Response")]),
    ("Response", [("description", 1, STRING, OPTIONAL, None)]),
    ("NamedAny", [("name", 1, STRING, OPTIONAL, None), ("value", 2, MESSAGE, OPTIONAL, "Any")]),
    ("Any", [("yaml", 2, STRING, OPTIONAL, None)]),
]


@pytest.fixture(scope="module")
def document_class() -> Any:
    file = descriptor_pb2.FileDescriptorProto(
        name="kubelite_test_openapiv2.proto", package="openapi.v2", syntax="proto3"
    )
    for name, fields in MESSAGES:
        message = file.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            field = message.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = f".openapi.v2.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("openapi.v2.Document"))


def decode(document_class: Any, catalogue: Catalogue) -> Any:
    document = document_class()
    document.ParseFromString(openapi_v2_protobuf(catalogue))
    return document


def gvk_of(operation: Any) -> dict[str, str] | None:
    for extension in operation.vendor_extension:
        if extension.name == "x-kubernetes-group-version-kind":
            value: dict[str, str] = yaml.safe_load(extension.value.yaml)
            return value
    return None


def supports_field_validation(document: Any, gvk: dict[str, str]) -> bool:
    """kubectl 1.27's supportsQueryParam: the first path whose PATCH names the GVK decides."""
    for path in document.paths.path:
        if gvk_of(path.value.patch) != gvk:
            continue
        names = [
            p.parameter.non_body_parameter.query_parameter_sub_schema.name
            for p in path.value.patch.parameters
        ]
        return "fieldValidation" in names
    return False


def test_document_decodes_with_swagger_info_and_paths(document_class: Any) -> None:
    document = decode(document_class, default_catalogue())
    assert document.swagger == "2.0"
    assert (document.info.title, document.info.version) == ("Kubernetes", "v1.33.0")
    paths = {p.name: p.value for p in document.paths.path}
    item = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    assert gvk_of(item.patch) == {"group": "apps", "kind": "Deployment", "version": "v1"}
    assert item.patch.operation_id == "patchAppsV1NamespacedDeployment"
    actions = {e.name: e.value.yaml for e in item.patch.vendor_extension}
    assert actions["x-kubernetes-action"] == "patch\n"
    assert actions["x-kubernetes-group-version-kind"] == "group: apps\nkind: Deployment\nversion: v1\n"
    [field_validation] = [
        p.parameter.non_body_parameter.query_parameter_sub_schema
        for p in item.patch.parameters
        if p.parameter.non_body_parameter.query_parameter_sub_schema.name == "fieldValidation"
    ]
    assert (getattr(field_validation, "in"), field_validation.type) == ("query", "string")
    assert [r.name for r in item.patch.responses.response_code] == ["200"]
    assert gvk_of(paths["/api/v1/namespaces/{name}"].patch) == {
        "group": "",
        "kind": "Namespace",
        "version": "v1",
    }
    scale = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"].patch
    assert gvk_of(scale) == {"group": "autoscaling", "kind": "Scale", "version": "v1"}
    assert "/api/v1/namespaces/{namespace}/pods/{name}/proxy" not in paths
    assert "/api/v1/namespaces/{namespace}/bindings/{name}" not in paths
    assert list(paths) == sorted(paths)


def test_every_patchable_resource_supports_field_validation(document_class: Any) -> None:
    catalogue = default_catalogue()
    document = decode(document_class, catalogue)
    for info in catalogue:
        gvk = {"group": info.group, "kind": info.kind, "version": info.version}
        assert supports_field_validation(document, gvk) == ("patch" in info.verbs), info.group_resource


def test_crds_are_included(document_class: Any) -> None:
    catalogue = default_catalogue()
    catalogue.add(
        ResourceInfo(
            group="stable.example.com",
            version="v1",
            resource="crontabs",
            kind="CronTab",
            singular="crontab",
            namespaced=False,
            crd=True,
            subresources=(Subresource("status", "CronTab", "stable.example.com", "v1"),),
        )
    )
    document = decode(document_class, catalogue)
    gvk = {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}
    assert supports_field_validation(document, gvk)
    paths = [p.name for p in document.paths.path]
    assert "/apis/stable.example.com/v1/crontabs/{name}" in paths
    assert "/apis/stable.example.com/v1/crontabs/{name}/status" in paths
