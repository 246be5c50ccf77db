"""The schema side of a resource as the Store needs it: decoding checks (wrong types, unknown and
duplicate fields under fieldValidation), pruning, schema defaults, and the SchemaNode that patches
and server-side apply walk. One adapter for built-in kinds, one for CRD versions.

Must not store, default per-kind rules (strategies do) or know about HTTP.
"""

from __future__ import annotations

from typing import Any, Protocol

from kubelite.api.schematypes import SchemaNode
from kubelite.registry.context import RequestContext
from kubelite.schema import validation
from kubelite.schema.catalogue import ResourceInfo
from kubelite.schema.definitions import Definitions
from kubelite.schema.structural import (
    StructuralSchema,
    apply_schema_defaults,
    prune,
    validate_custom_object,
)

Obj = dict[str, Any]


class ObjectSchema(Protocol):
    node: SchemaNode | None

    def check_decoded(self, obj: Obj, ctx: RequestContext, raw: bytes | None, name: str) -> None:
        """Type checks and unknown/duplicate field handling per ctx.field_validation; prunes."""

    def default(self, obj: Obj) -> None:
        """Schema-declared defaults (CRDs); built-ins default through their strategies."""

    def validate(self, obj: Obj) -> list[dict[str, str]]:
        """Schema validation that is reported as 422 Invalid (CRDs)."""


class BuiltinSchema:
    def __init__(self, info: ResourceInfo, definitions: Definitions):
        self.info = info
        self.node: SchemaNode | None = definitions.node(info.definition) if info.definition else None

    def check_decoded(self, obj: Obj, ctx: RequestContext, raw: bytes | None, name: str) -> None:
        if self.node is None:
            return
        result = validation.check_object(obj, self.node, self.info.kind, self.info.api_version)
        result.raise_for_error()
        duplicates: list[str] = []
        if raw is not None and ctx.field_validation != "Ignore":
            duplicates = validation.find_duplicate_fields(raw, node=self.node)
        ctx.warnings.extend(
            validation.apply_field_validation(
                ctx.field_validation, result.unknown, duplicates, kind=self.info.kind, api_version=self.info.api_version
            )
        )

    def default(self, obj: Obj) -> None:
        return None

    def validate(self, obj: Obj) -> list[dict[str, str]]:
        return []


class CustomSchema:
    def __init__(self, info: ResourceInfo, openapi_schema: dict[str, Any] | None):
        self.info = info
        self.structural = StructuralSchema(openapi_schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
        self.node: SchemaNode | None = self.structural

    def check_decoded(self, obj: Obj, ctx: RequestContext, raw: bytes | None, name: str) -> None:
        duplicates: list[str] = []
        if raw is not None and ctx.field_validation != "Ignore":
            duplicates = validation.find_duplicate_fields(raw)
        pruned = prune(obj, self.structural)
        ctx.warnings.extend(
            validation.apply_field_validation(
                ctx.field_validation,
                pruned,
                duplicates,
                kind=self.info.kind,
                api_version=self.info.api_version,
                custom_resource=True,
            )
        )

    def default(self, obj: Obj) -> None:
        apply_schema_defaults(obj, self.structural)

    def validate(self, obj: Obj) -> list[dict[str, str]]:
        return validate_custom_object(obj, self.structural)
