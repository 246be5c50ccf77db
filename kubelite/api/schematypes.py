"""The view of a schema that pure object algorithms need (patching, apply, validation, pruning).

`kubelite.schema` implements `SchemaNode` over upstream's JSON Schemas and over CRD
`openAPIV3Schema`; `kubelite.api` algorithms (strategic merge, server-side apply) consume it.
This module defines the protocol and `RawSchemaExtensions`, its `x-kubernetes-*` members read from
a node's JSON Schema dict; it must not load or know any concrete schema.
"""

from __future__ import annotations

from typing import Any, Protocol


class SchemaNode(Protocol):
    """One node of a resolved schema ($refs already followed by the implementation)."""

    @property
    def type(self) -> str | None:
        """'object', 'array', 'string', 'integer', 'number', 'boolean', or None when unconstrained
        (e.g. IntOrString, Quantity, x-kubernetes-preserve-unknown-fields, RawExtension)."""

    def field(self, name: str) -> SchemaNode | None:
        """The schema of property `name` of an object, falling back to additionalProperties
        (maps); None when the field is unknown."""

    def items(self) -> SchemaNode | None:
        """The schema of the elements of an array; None when not an array."""

    @property
    def is_map(self) -> bool:
        """True for an object with additionalProperties (a string-keyed map), not a struct."""

    @property
    def preserve_unknown_fields(self) -> bool:
        """True where any field is allowed (x-kubernetes-preserve-unknown-fields, free-form)."""

    @property
    def patch_strategy(self) -> str | None:
        """x-kubernetes-patch-strategy: 'merge', 'replace', 'retainKeys' or 'merge,retainKeys'."""

    @property
    def patch_merge_key(self) -> str | None:
        """x-kubernetes-patch-merge-key of a list field."""

    @property
    def list_type(self) -> str | None:
        """x-kubernetes-list-type: 'atomic', 'set' or 'map' (None: atomic for apply)."""

    @property
    def list_map_keys(self) -> list[str]:
        """x-kubernetes-list-map-keys of a `map` list."""

    @property
    def map_type(self) -> str | None:
        """x-kubernetes-map-type: 'atomic' or 'granular'."""


class RawSchemaExtensions:
    """The `x-kubernetes-*` members of `SchemaNode`, read from `self.raw` (the node's JSON Schema
    dict), for implementations to inherit."""

    __slots__ = ()
    raw: dict[str, Any]

    @property
    def patch_strategy(self) -> str | None:
        return self.raw.get("x-kubernetes-patch-strategy")

    @property
    def patch_merge_key(self) -> str | None:
        return self.raw.get("x-kubernetes-patch-merge-key")

    @property
    def list_type(self) -> str | None:
        return self.raw.get("x-kubernetes-list-type")

    @property
    def list_map_keys(self) -> list[str]:
        return list(self.raw.get("x-kubernetes-list-map-keys") or ())

    @property
    def map_type(self) -> str | None:
        return self.raw.get("x-kubernetes-map-type")
