"""A minimal `/openapi/v2` in protobuf: a gnostic `openapi_v2.Document` (google/gnostic
openapiv2/OpenAPIv2.proto), hand-encoded.

kubectl 1.27/1.28 read it only to decide whether a kind's PATCH accepts `fieldValidation` (then it
sends `fieldValidation=Strict` and skips client-side validation). So the document holds, for every
path that has a PATCH (items and their status/scale subresources, built-ins and CRDs alike), an
Operation with the `x-kubernetes-group-version-kind` vendor extension (YAML in an `Any`) and a
`fieldValidation` query parameter. There are no definitions: those kubectl versions explain through
`/openapi/v3`, and without definitions their client-side apply falls back to compiled-in
strategic-merge metadata (and merge patch for CRDs), as it does when `/openapi/v2` is absent.

Must not depend on a protobuf library or build any other part of the Swagger document.
"""

from __future__ import annotations

from kubelite.schema.catalogue import Catalogue, ResourceInfo
from kubelite.schema.openapi import KUBERNETES_VERSION, operation_id_prefix, operation_tag

# Field numbers of the gnostic openapi_v2 messages used here.
_DOCUMENT_SWAGGER, _DOCUMENT_INFO, _DOCUMENT_PATHS = 1, 2, 8
_INFO_TITLE, _INFO_VERSION = 1, 2
_PATHS_PATH = 2
_NAMED_NAME, _NAMED_VALUE = 1, 2  # NamedPathItem, NamedAny, NamedResponseValue
_PATH_ITEM_PATCH = 8
_OPERATION_TAGS, _OPERATION_DESCRIPTION, _OPERATION_ID = 1, 3, 5
_OPERATION_PARAMETERS, _OPERATION_RESPONSES, _OPERATION_VENDOR_EXTENSION = 8, 9, 13
_PARAMETERS_ITEM_PARAMETER = 1
_PARAMETER_NON_BODY = 2
_NON_BODY_QUERY = 3
_QUERY_IN, _QUERY_DESCRIPTION, _QUERY_NAME, _QUERY_TYPE, _QUERY_UNIQUE_ITEMS = 2, 3, 4, 6, 20
_RESPONSES_CODE = 1
_RESPONSE_VALUE_RESPONSE = 1
_RESPONSE_DESCRIPTION = 1
_ANY_YAML = 2

_WIRE_VARINT, _WIRE_BYTES = 0, 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _WIRE_BYTES) + _varint(len(payload)) + payload


def _str(number: int, text: str) -> bytes:
    return _bytes_field(number, text.encode())


def _bool(number: int, value: bool) -> bytes:
    return _varint(number << 3 | _WIRE_VARINT) + _varint(int(value)) if value else b""


def _named_any_yaml(name: str, yaml_text: str) -> bytes:
    return _str(_NAMED_NAME, name) + _bytes_field(_NAMED_VALUE, _str(_ANY_YAML, yaml_text))


def _query_parameter(name: str, description: str, kind: str = "string") -> bytes:
    query = (
        _str(_QUERY_IN, "query")
        + _str(_QUERY_DESCRIPTION, description)
        + _str(_QUERY_NAME, name)
        + _str(_QUERY_TYPE, kind)
        + _bool(_QUERY_UNIQUE_ITEMS, True)
    )
    parameter = _bytes_field(_PARAMETER_NON_BODY, _bytes_field(_NON_BODY_QUERY, query))
    return _bytes_field(_OPERATION_PARAMETERS, _bytes_field(_PARAMETERS_ITEM_PARAMETER, parameter))


_PATCH_PARAMETERS = (
    _query_parameter("dryRun", "When present, the request is validated but not persisted.")
    + _query_parameter("fieldManager", "Name of the actor making the change.")
    + _query_parameter(
        "fieldValidation", "How unknown or duplicate fields are treated: Ignore, Warn or Strict."
    )
    + _query_parameter("force", "Force an apply request to take over conflicting fields.", "boolean")
)
_OK_RESPONSE = _bytes_field(
    _OPERATION_RESPONSES,
    _bytes_field(
        _RESPONSES_CODE,
        _str(_NAMED_NAME, "200")
        + _bytes_field(
            _NAMED_VALUE, _bytes_field(_RESPONSE_VALUE_RESPONSE, _str(_RESPONSE_DESCRIPTION, "OK"))
        ),
    ),
)


def _gvk_yaml(group: str, version: str, kind: str) -> str:
    quoted_group = group or '""'
    return f"group: {quoted_group}\nkind: {kind}\nversion: {version}\n"


def _patch_operation(operation_id: str, description: str, tag: str, gvk: tuple[str, str, str]) -> bytes:
    return (
        _str(_OPERATION_TAGS, tag)
        + _str(_OPERATION_DESCRIPTION, description)
        + _str(_OPERATION_ID, operation_id)
        + _PATCH_PARAMETERS
        + _OK_RESPONSE
        + _bytes_field(_OPERATION_VENDOR_EXTENSION, _named_any_yaml("x-kubernetes-action", "patch\n"))
        + _bytes_field(
            _OPERATION_VENDOR_EXTENSION, _named_any_yaml("x-kubernetes-group-version-kind", _gvk_yaml(*gvk))
        )
    )


def _named_path(path: str, operation: bytes) -> bytes:
    path_item = _bytes_field(_PATH_ITEM_PATCH, operation)
    return _bytes_field(_PATHS_PATH, _str(_NAMED_NAME, path) + _bytes_field(_NAMED_VALUE, path_item))


def _resource_paths(info: ResourceInfo) -> list[tuple[str, bytes]]:
    prefix = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    scope = "/namespaces/{namespace}" if info.namespaced else ""
    item = f"{prefix}{scope}/{info.resource}/{{name}}"
    op_prefix = operation_id_prefix(info.group, info.version)
    tag = operation_tag(info.group, info.version)
    namespaced = "Namespaced" if info.namespaced else ""
    found: list[tuple[str, bytes]] = []
    if "patch" in info.verbs:
        operation = _patch_operation(
            f"patch{op_prefix}{namespaced}{info.kind}",
            f"partially update the specified {info.kind}",
            tag,
            (info.group, info.version, info.kind),
        )
        found.append((item, operation))
    for sub in info.subresources:
        if "patch" not in sub.verbs or sub.kind.endswith("Options"):
            continue
        operation = _patch_operation(
            f"patch{op_prefix}{namespaced}{info.kind}{sub.name.capitalize()}",
            f"partially update {sub.name} of the specified {info.kind}",
            tag,
            (sub.group, sub.version, sub.kind),
        )
        found.append((f"{item}/{sub.name}", operation))
    return found


def openapi_v2_protobuf(catalogue: Catalogue) -> bytes:
    """The `/openapi/v2` body for `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`
    (reply with Content-Type `application/com.github.proto-openapi.spec.v2.v1.0+protobuf`)."""
    paths = sorted(path for info in catalogue for path in _resource_paths(info))
    info = _str(_INFO_TITLE, "Kubernetes") + _str(_INFO_VERSION, KUBERNETES_VERSION)
    return (
        _str(_DOCUMENT_SWAGGER, "2.0")
        + _bytes_field(_DOCUMENT_INFO, info)
        + _bytes_field(_DOCUMENT_PATHS, b"".join(_named_path(path, operation) for path, operation in paths))
    )
