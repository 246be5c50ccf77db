"""Upstream's built-in JSON Schemas (the `v1.33.0-local` `_definitions.json` shipped by
`kubernetes_validate`) as `SchemaNode`s: loaded once on first use, `$ref`s followed lazily and
every node built at most once.

Must not validate, default or prune objects (see `validation` and `structural`); it only reads
the packaged definitions and describes them.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import orjson

from kubelite.api.schematypes import RawSchemaExtensions

SCHEMA_PACKAGE = "kubernetes_validate"
SCHEMA_PATH = ("kubernetes-json-schema", "v1.33.0-local", "_definitions.json")
REF_PREFIX = "#/$defs/"

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
MICRO_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# Types whose Go decoding accepts any JSON (custom UnmarshalJSON keeping raw bytes, or non-strict).
FREE_FORM = frozenset(
    {
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
    }
)

# Node kinds: how a value of the node decodes (the Go type family behind it).
K_ANY = 0
K_STRUCT = 1
K_MAP = 2
K_ARRAY = 3
K_STRING = 4
K_INT32 = 5
K_INT64 = 6
K_FLOAT = 7
K_BOOL = 8
K_BYTES = 9
K_INT_OR_STRING = 10
K_QUANTITY = 11
K_TIME = 12
K_MICRO_TIME = 13

_SCHEMA_TYPE = {
    K_ANY: None,
    K_STRUCT: "object",
    K_MAP: "object",
    K_ARRAY: "array",
    K_STRING: "string",
    K_INT32: "integer",
    K_INT64: "integer",
    K_FLOAT: "number",
    K_BOOL: "boolean",
    K_BYTES: "string",
    K_INT_OR_STRING: None,
    K_QUANTITY: None,
    K_TIME: "string",
    K_MICRO_TIME: "string",
}

_SPECIAL_KINDS = {INT_OR_STRING: K_INT_OR_STRING, QUANTITY: K_QUANTITY, TIME: K_TIME, MICRO_TIME: K_MICRO_TIME}

# Field-level keys that change a `$ref`'d node (anything else, e.g. description, is ignored).
_OVERLAY_KEYS = frozenset(
    {"x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type"}
)


def _first_type(raw: dict[str, Any]) -> str | None:
    t = raw.get("type")
    if isinstance(t, list):
        for item in t:
            if item != "null":
                return str(item)
        return None
    return t


def _kind_of(raw: dict[str, Any], definition: str | None) -> int:
    if definition is not None:
        if definition in FREE_FORM:
            return K_ANY
        special = _SPECIAL_KINDS.get(definition)
        if special is not None:
            return special
    t = _first_type(raw)
    if t == "object" or (t is None and "properties" in raw):
        if "properties" not in raw and "additionalProperties" in raw:
            return K_MAP
        return K_STRUCT
    if t == "array":
        return K_ARRAY
    if t == "string":
        return K_BYTES if raw.get("format") == "byte" else K_STRING
    if t == "integer":
        return K_INT32 if raw.get("format") == "int32" else K_INT64
    if t == "number":
        return K_FLOAT
    if t == "boolean":
        return K_BOOL
    return K_ANY


class DefinitionNode(RawSchemaExtensions):
    """One node of the built-in schemas; implements `kubelite.api.schematypes.SchemaNode`.

    `definition` is the definition name for named types (`io.k8s.api.core.v1.PodSpec`) and None
    for inline nodes (scalars, lists, maps); `owner` is the definition the node sits in.
    """

    __slots__ = ("_defs", "raw", "definition", "owner", "kind", "struct_name", "_fields", "_items", "_value", "_go_type")

    def __init__(self, defs: Definitions, raw: dict[str, Any], definition: str | None, owner: str | None):
        self._defs = defs
        self.raw = raw
        self.definition = definition
        self.owner = owner
        self.kind = _kind_of(raw, definition)
        # Go type name of a named definition (`DeploymentSpec`), as Go decoding errors print it
        self.struct_name = definition.rsplit(".", 1)[1] if definition else ""
        self._fields: dict[str, DefinitionNode] | None = None
        self._items: DefinitionNode | None = None
        self._value: DefinitionNode | None = None
        self._go_type: str | None = None

    def __repr__(self) -> str:
        return f"DefinitionNode({self.definition or self.raw.get('type')!r})"

    # --- SchemaNode -------------------------------------------------------------------------

    @property
    def type(self) -> str | None:
        return _SCHEMA_TYPE[self.kind]

    def field(self, name: str) -> DefinitionNode | None:
        if self.kind == K_STRUCT:
            return self.field_table().get(name)
        if self.kind == K_MAP:
            return self.value_node()
        return None

    def items(self) -> DefinitionNode | None:
        if self.kind != K_ARRAY:
            return None
        if self._items is None:
            raw = self.raw.get("items")
            self._items = self._defs.resolve(raw if isinstance(raw, dict) else {}, self.owner)
        return self._items

    @property
    def is_map(self) -> bool:
        return self.kind == K_MAP

    @property
    def preserve_unknown_fields(self) -> bool:
        return self.kind == K_ANY

    # patch_strategy, patch_merge_key, list_type, list_map_keys, map_type: RawSchemaExtensions

    # --- extras -----------------------------------------------------------------------------

    @property
    def description(self) -> str:
        return str(self.raw.get("description", ""))

    @property
    def format(self) -> str | None:
        return self.raw.get("format")

    @property
    def required(self) -> list[str]:
        return list(self.raw.get("required") or ())

    @property
    def enum(self) -> list[Any] | None:
        return self.raw.get("enum")

    def field_table(self) -> dict[str, DefinitionNode]:
        """Every property of a struct, resolved (empty for non-structs)."""
        table = self._fields
        if table is None:
            owner = self.definition or self.owner
            props = self.raw.get("properties") or {}
            table = {name: self._defs.resolve(sub, owner) for name, sub in props.items()}
            self._fields = table
        return table

    def value_node(self) -> DefinitionNode | None:
        """The schema of a map's values (additionalProperties)."""
        if self.kind != K_MAP:
            return None
        if self._value is None:
            raw = self.raw.get("additionalProperties")
            self._value = self._defs.resolve(raw if isinstance(raw, dict) else {}, self.owner)
        return self._value

    @property
    def go_type(self) -> str:
        """The Go type as `reflect.Type.String()` prints it (`v1.PodSpec`, `[]v1.Container`, `int32`)."""
        if self._go_type is None:
            self._go_type = self._compute_go_type()
        return self._go_type

    def _compute_go_type(self) -> str:
        if self.definition is not None and self.kind in (K_STRUCT, K_ANY, K_INT_OR_STRING, K_QUANTITY, K_TIME, K_MICRO_TIME):
            package, _, name = self.definition.rpartition(".")
            return f"{package.rpartition('.')[2]}.{name}"
        kind = self.kind
        if kind == K_ARRAY:
            items = self.items()
            return "[]" + (items.go_type if items is not None else "interface {}")
        if kind == K_MAP:
            value = self.value_node()
            if value is not None and value.definition == QUANTITY and (self.owner or "").startswith("io.k8s.api.core.v1."):
                return "v1.ResourceList"
            return "map[string]" + (value.go_type if value is not None else "interface {}")
        return {
            K_STRING: "string",
            K_BYTES: "[]uint8",
            K_INT32: "int32",
            K_INT64: "int64",
            K_FLOAT: "float64",
            K_BOOL: "bool",
            K_STRUCT: "struct {}",
        }.get(kind, "interface {}")


class Definitions:
    """The parsed `$defs` of upstream's schemas. Obtain the shared instance with `Definitions.load()`."""

    def __init__(self, defs: dict[str, dict[str, Any]]):
        self._defs = defs
        self._nodes: dict[str, DefinitionNode] = {}
        self._gvk: dict[tuple[str, str, str], str] | None = None

    @staticmethod
    def load() -> Definitions:
        return _load_definitions()

    def raw(self, name: str) -> dict[str, Any]:
        """The definition as stored upstream (shared: do not mutate). KeyError when unknown."""
        return self._defs[name]

    def names(self) -> list[str]:
        return list(self._defs)

    def __contains__(self, name: object) -> bool:
        return name in self._defs

    def node(self, name: str) -> DefinitionNode:
        node = self._nodes.get(name)
        if node is None:
            node = DefinitionNode(self, self._defs[name], name, name)
            self._nodes[name] = node
        return node

    def resolve(self, raw: dict[str, Any], owner: str | None) -> DefinitionNode:
        """The node for a sub-schema: the shared definition node for a plain `$ref`, an overlaid copy
        when the field adds patch/list/map extensions, else an inline node."""
        ref = raw.get("$ref")
        if ref is None:
            return DefinitionNode(self, raw, None, owner)
        name = ref[len(REF_PREFIX) :] if ref.startswith(REF_PREFIX) else ref
        target = self.node(name)
        extras = {k: v for k, v in raw.items() if k in _OVERLAY_KEYS}
        if not extras:
            return target
        return DefinitionNode(self, {**target.raw, **extras}, name, name)

    def for_gvk(self, group: str, version: str, kind: str) -> str | None:
        """The definition named by `x-kubernetes-group-version-kind` (group "" for core)."""
        index = self._gvk
        if index is None:
            index = {}
            for name, raw in self._defs.items():
                for gvk in raw.get("x-kubernetes-group-version-kind") or ():
                    index.setdefault((gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", "")), name)
            self._gvk = index
        return index.get((group, version, kind))


def definitions_path() -> Path:
    """Where the packaged definitions live; found without importing `kubernetes_validate` (whose
    own imports cost ~50 ms)."""
    spec = importlib.util.find_spec(SCHEMA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {SCHEMA_PACKAGE} is not installed")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*SCHEMA_PATH)


@functools.cache
def _load_definitions() -> Definitions:
    document = orjson.loads(definitions_path().read_bytes())
    return Definitions(document["$defs"])
