"""Content negotiation: decoding request bodies (JSON, YAML, Kubernetes protobuf, the four patch
types) and choosing the response form from the Accept header (object, Table, metadata).

Must not route requests or touch the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from kubelite.api import errors
from kubelite.api.protobuf import decode_object

MAX_BODY_BYTES = 3 * 1024 * 1024

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply-cbor",
}

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"

_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _yaml_error(exc: Exception) -> errors.StatusError:
    """`error converting YAML to JSON: yaml: line N: <problem>`, as upstream's YAML decoder words it."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    return errors.bad_request(f"error converting YAML to JSON: yaml: {where}{problem}")


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"json: {_json_message(exc)}") from None


def _json_message(exc: orjson.JSONDecodeError) -> str:
    return f"invalid character at offset {exc.pos}: {exc.msg}" if exc.msg else "unexpected end of JSON input"


def parse_yaml(raw: bytes) -> Any:
    try:
        docs = list(yaml.load_all(raw, Loader=_YamlLoader))
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    docs = [d for d in docs if d is not None]
    if len(docs) > 1:
        raise errors.bad_request("yaml: a request body must hold exactly one document")
    return docs[0] if docs else None


def decode_body(raw: bytes, content_type: str) -> Any:
    """An object from a create/update body."""
    if len(raw) > MAX_BODY_BYTES:
        raise errors.too_large()
    kind = media_type(content_type) or "application/json"
    if kind == "application/json":
        return parse_json(raw)
    if kind in ("application/yaml", "application/x-yaml", "text/yaml"):
        return parse_yaml(raw)
    if kind == "application/vnd.kubernetes.protobuf":
        return decode_object(raw)
    raise errors.unsupported_media_type(content_type)


def decode_patch(raw: bytes, content_type: str) -> tuple[str, Any]:
    """(patch type, patch document) from a PATCH body."""
    if len(raw) > MAX_BODY_BYTES:
        raise errors.too_large()
    patch_type = PATCH_TYPES.get(media_type(content_type))
    if patch_type is None or patch_type == "apply-cbor":
        raise errors.StatusError(
            415,
            "UnsupportedMediaType",
            f'the body of the request was in an unknown format - accepted media types include: '
            f'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, '
            f'application/strategic-merge-patch+json (got "{content_type}")',
        )
    if patch_type == "apply":
        try:
            return patch_type, orjson.loads(raw)
        except orjson.JSONDecodeError:
            return patch_type, parse_yaml(raw)
    return patch_type, parse_json(raw)


@dataclass(frozen=True, slots=True)
class ResponseForm:
    """What the client asked to get back."""

    table: bool = False
    metadata_only: bool = False  # PartialObjectMetadata(List)
    protobuf_only: bool = False


def response_form(accept: str) -> ResponseForm:
    """Pick the first acceptable form in the client's order (Table, PartialObjectMetadata, plain)."""
    if not accept:
        return ResponseForm()
    protobuf_seen = False
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        kind = fields[0].lower()
        params = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        if kind in ("application/json", "*/*", "application/*", "application/yaml"):
            as_ = params.get("as")
            if as_ == "Table" and params.get("g") == "meta.k8s.io":
                return ResponseForm(table=True)
            if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList") and params.get("g") == "meta.k8s.io":
                return ResponseForm(metadata_only=True)
            if as_ is None:
                return ResponseForm()
        elif kind == "application/vnd.kubernetes.protobuf":
            protobuf_seen = True
            if params.get("as") is None:
                continue
    return ResponseForm(protobuf_only=protobuf_seen)
