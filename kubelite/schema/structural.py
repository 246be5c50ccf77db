"""Custom resources against their CRD's `openAPIV3Schema` (apiextensions v1 JSONSchemaProps):
the schema as a `SchemaNode`, pruning of unknown fields, `default` values, upstream-worded
schema validation of custom objects, and the structural-schema checks a CRD must pass.

Must not decode request bodies (see `validation`), evaluate CEL rules or validate ObjectMeta
semantics; objects are plain JSON-shaped dicts mutated in place where the function says so.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from typing import Any

from kubelite.api.gofmt import go_float, go_json, go_quote
from kubelite.api.schematypes import RawSchemaExtensions
from kubelite.schema.definitions import OBJECT_META, DefinitionNode, Definitions
from kubelite.schema.validation import go_base64_error, go_value

META_FIELDS = ("apiVersion", "kind", "metadata")
NIL_FIELD = "<nil>"  # how upstream prints the field of errors not tied to a path
IN = "body"


def _error(reason: str, field: str, message: str) -> dict[str, str]:
    return {"reason": reason, "message": message, "field": field}


def _required(field: str, detail: str = "") -> dict[str, str]:
    return _error("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))


def _forbidden(field: str, detail: str) -> dict[str, str]:
    return _error("FieldValueForbidden", field, f"Forbidden: {detail}")


def _invalid(field: str, value: Any, detail: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    return _error(reason, field, f"Invalid value: {go_value(value)}: {detail}")


def _not_supported(field: str, value: Any, supported: list[str]) -> dict[str, str]:
    detail = "supported values: " + ", ".join(go_quote(v) for v in supported) if supported else ""
    return _error("FieldValueNotSupported", field, f"Unsupported value: {go_value(value)}" + (f": {detail}" if detail else ""))


def _too_many(field: str, actual: int, maximum: int) -> dict[str, str]:
    return _error("FieldValueTooMany", field, f"Too many: {actual}: must have at most {maximum} items")


def _too_long(field: str, maximum: int) -> dict[str, str]:
    return _error("FieldValueTooLong", field, f"Too long: may not be more than {maximum} {'byte' if maximum == 1 else 'bytes'}")


def _duplicate(field: str, value: Any) -> dict[str, str]:
    return _error("FieldValueDuplicate", field, f"Duplicate value: {go_value(value)}")


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _field(path: str) -> str:
    return path if path else NIL_FIELD


class StructuralSchema(RawSchemaExtensions):
    """One node of a CRD's `openAPIV3Schema`; implements `kubelite.api.schematypes.SchemaNode`.

    `root` marks the resource root, which (like an `x-kubernetes-embedded-resource` node) keeps
    `apiVersion`, `kind` and `metadata` and describes `metadata` with the built-in ObjectMeta.
    """

    __slots__ = (
        "raw",
        "root",
        "schema_type",
        "int_or_string",
        "preserve",
        "embedded",
        "nullable",
        "has_default",
        "default",
        "properties",
        "additional",
        "_children",
        "_items",
        "_additional",
        "_junctors",
        "_pattern",
    )

    def __init__(self, schema: dict[str, Any], *, root: bool = True):
        self.raw = schema
        self.root = root
        self.schema_type: str | None = schema.get("type") or None
        self.int_or_string = bool(schema.get("x-kubernetes-int-or-string"))
        self.preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        self.embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        self.nullable = bool(schema.get("nullable"))
        self.has_default = "default" in schema and schema["default"] is not None
        self.default = schema.get("default")
        self.properties: dict[str, Any] = schema.get("properties") or {}
        self.additional: dict[str, Any] | bool | None = schema.get("additionalProperties")
        self._children: dict[str, StructuralSchema] = {}
        self._items: StructuralSchema | None = None
        self._additional: StructuralSchema | None = None
        self._junctors: dict[str, list[StructuralSchema]] | None = None
        self._pattern: re.Pattern[str] | str | None = None

    def __repr__(self) -> str:
        return f"StructuralSchema({self.schema_type!r})"

    # --- SchemaNode -------------------------------------------------------------------------

    @property
    def type(self) -> str | None:
        return None if self.int_or_string else self.schema_type

    def field(self, name: str) -> StructuralSchema | DefinitionNode | None:
        if (self.root or self.embedded) and name == "metadata":
            return Definitions.load().node(OBJECT_META)
        prop = self.property_node(name)
        if prop is not None:
            return prop
        if (self.root or self.embedded) and name in ("apiVersion", "kind"):
            return self._child_node("\0" + name, {"type": "string"})
        return self.additional_node()

    def items(self) -> StructuralSchema | None:
        if self._items is None:
            raw = self.raw.get("items")
            if isinstance(raw, dict):
                self._items = StructuralSchema(raw, root=False)
        return self._items

    @property
    def is_map(self) -> bool:
        return not self.properties and (isinstance(self.additional, dict) or self.additional is True)

    @property
    def preserve_unknown_fields(self) -> bool:
        return self.preserve

    @property
    def patch_strategy(self) -> str | None:
        return None  # custom resources do not take strategic merge patches

    @property
    def patch_merge_key(self) -> str | None:
        return None

    # list_type, list_map_keys, map_type: RawSchemaExtensions

    # --- children ---------------------------------------------------------------------------

    def _child_node(self, key: str, raw: dict[str, Any]) -> StructuralSchema:
        node = self._children.get(key)
        if node is None:
            node = StructuralSchema(raw, root=False)
            self._children[key] = node
        return node

    def property_node(self, name: str) -> StructuralSchema | None:
        """The schema of a declared property (no additionalProperties fallback)."""
        raw = self.properties.get(name)
        if raw is None:
            return None
        return self._child_node(name, raw)

    def additional_node(self) -> StructuralSchema | None:
        """The schema of additionalProperties values; None when absent or `true` without a schema."""
        if self._additional is None and isinstance(self.additional, dict):
            self._additional = StructuralSchema(self.additional, root=False)
        return self._additional

    def junctors(self) -> dict[str, list[StructuralSchema]]:
        """allOf / anyOf / oneOf / not sub-schemas (value validations)."""
        if self._junctors is None:
            found: dict[str, list[StructuralSchema]] = {}
            for key in ("allOf", "anyOf", "oneOf"):
                subs = self.raw.get(key)
                if subs:
                    found[key] = [StructuralSchema(sub, root=False) for sub in subs if isinstance(sub, dict)]
            if isinstance(self.raw.get("not"), dict):
                found["not"] = [StructuralSchema(self.raw["not"], root=False)]
            self._junctors = found
        return self._junctors

    def pattern(self) -> re.Pattern[str] | str | None:
        """The compiled `pattern`, or the compile error text."""
        source = self.raw.get("pattern")
        if not source:
            return None
        if self._pattern is None:
            try:
                self._pattern = re.compile(source)
            except re.error as err:
                self._pattern = str(err)
        return self._pattern

    @property
    def types(self) -> list[str]:
        if self.int_or_string:
            return ["integer", "string"]
        return [self.schema_type] if self.schema_type else []


# ---------------------------------------------------------------------------------------------
# Pruning and defaulting
# ---------------------------------------------------------------------------------------------


def prune(obj: dict[str, Any], schema: StructuralSchema) -> list[str]:
    """Drop fields the schema does not specify (except under x-kubernetes-preserve-unknown-fields;
    `apiVersion`, `kind` and `metadata` stay at the root and in embedded resources), in place.
    Returns the pruned paths as upstream reports them (`spec.foo`, `spec.items[0].bar`)."""
    pruned: list[str] = []
    _prune(obj, schema, "", pruned, True)
    return pruned


def _prune(value: Any, s: StructuralSchema | None, path: str, pruned: list[str], root: bool = False) -> None:
    if s is not None and s.preserve:
        _skip_prune(value, s, path, pruned, root)
        return
    if isinstance(value, dict):
        if s is None:
            for key in list(value):
                pruned.append(_child(path, key))
                del value[key]
            return
        embedded = root or s.embedded
        props = s.properties
        for key in list(value):
            item = value[key]
            if embedded and (
                (key in ("apiVersion", "kind") and isinstance(item, str)) or (key == "metadata" and isinstance(item, dict))
            ):
                continue
            if key in props:
                _prune(item, s.property_node(key), _child(path, key), pruned)
            elif s.additional is not None and s.additional is not False:
                _prune(item, s.additional_node(), _child(path, key), pruned)
            else:
                if key not in META_FIELDS or path:
                    pruned.append(_child(path, key))
                del value[key]
    elif isinstance(value, list):
        if s is None:
            for item in value:
                _prune(item, None, path, pruned)
            return
        items = s.items()
        for i, item in enumerate(value):
            _prune(item, items, f"{path}[{i}]", pruned)


def _skip_prune(value: Any, s: StructuralSchema | None, path: str, pruned: list[str], root: bool = False) -> None:
    if s is None:
        return
    if isinstance(value, dict):
        embedded = root or s.embedded
        for key, item in value.items():
            if embedded and key in META_FIELDS:
                continue
            if key in s.properties:
                _prune(item, s.property_node(key), _child(path, key), pruned)
            elif isinstance(s.additional, dict):
                _prune(item, s.additional_node(), _child(path, key), pruned)
    elif isinstance(value, list):
        items = s.items()
        for i, item in enumerate(value):
            _skip_prune(item, items, f"{path}[{i}]", pruned)


def apply_schema_defaults(obj: Any, schema: StructuralSchema) -> None:
    """Apply `default` values in place, as upstream does to custom resources on decode and read:
    first null values of non-nullable fields without a default are removed, then missing (or
    non-nullable null) fields with a default get a deep copy of it, recursively."""
    _drop_non_nullable_nulls(obj, schema)
    _default(obj, schema)


def _drop_non_nullable_nulls(value: Any, s: StructuralSchema | None) -> None:
    if s is None:
        return
    if isinstance(value, dict):
        for key in list(value):
            item = value[key]
            prop = s.property_node(key)
            if prop is None:
                prop = s.additional_node()
                if prop is None:
                    continue
            if item is None:
                if not prop.nullable and not prop.has_default:
                    del value[key]
            else:
                _drop_non_nullable_nulls(item, prop)
    elif isinstance(value, list):
        items = s.items()
        for item in value:
            _drop_non_nullable_nulls(item, items)


def _default(value: Any, s: StructuralSchema | None) -> None:
    if s is None:
        return
    if isinstance(value, dict):
        for key in s.properties:
            prop = s.property_node(key)
            assert prop is not None
            if prop.has_default and (key not in value or (value[key] is None and not prop.nullable)):
                value[key] = copy.deepcopy(prop.default)
        additional = s.additional_node()
        for key, item in value.items():
            prop = s.property_node(key)
            if prop is not None:
                _default(item, prop)
            elif additional is not None:
                if item is None and not additional.nullable and additional.has_default:
                    item = value[key] = copy.deepcopy(additional.default)
                _default(item, additional)
    elif isinstance(value, list):
        items = s.items()
        if items is None:
            return
        for i, item in enumerate(value):
            if item is None and not items.nullable and items.has_default:
                item = value[i] = copy.deepcopy(items.default)
            _default(item, items)


# ---------------------------------------------------------------------------------------------
# Validation of custom objects
# ---------------------------------------------------------------------------------------------


def validate_custom_object(obj: dict[str, Any], schema: StructuralSchema) -> list[dict[str, str]]:
    """Causes (`{"reason", "message", "field"}`) for `obj` against its schema, worded as upstream's
    OpenAPI validation, embedded-resource and list-type checks word them. Run after `prune` and
    `apply_schema_defaults`, as upstream does."""
    checker = _Validator()
    checker.validate(obj, schema, "")
    return [*checker.errors, *checker.embedded_errors, *checker.list_errors]


_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", dict: "object", list: "array"}
_DATA_FORMATS = {int: "int64", float: "float64"}


def _json_equal(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if ta in (int, float) and tb in (int, float):
        return bool(a == b)
    if ta is not tb:
        return False
    if ta is dict:
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if ta is list:
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _int_in_format(value: int | float, fmt: str | None) -> bool:
    if isinstance(value, float):
        if not value.is_integer():
            return False
        value = int(value)
    if fmt == "int32":
        return -(2**31) <= value < 2**31
    return -(2**63) <= value < 2**63


def _format_ok(fmt: str, value: str) -> bool | None:
    """Whether `value` is valid for a string `format` upstream checks; None for formats it ignores."""
    name = fmt.replace("-", "").replace("_", "").lower()
    if name == "datetime":
        return _is_datetime(value)
    if name == "date":
        return _is_date(value)
    if name == "byte":
        return go_base64_error(value) is None
    if name in ("uuid", "uuid3", "uuid4", "uuid5"):
        return _UUID.match(value) is not None
    if name in ("ipv4", "ipv6"):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return False
        return ("." if name == "ipv4" else ":") in value
    if name == "cidr":
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
        return "/" in value
    return None


_UUID = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_TIME_PART = re.compile(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_date(value: str) -> bool:
    m = _DATE.match(value)
    if m is None:
        return False
    year, month, day = (int(g) for g in m.groups())
    if not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = 29 if month == 2 and leap else (28 if month == 2 else _MONTH_DAYS[month - 1])
    return 1 <= day <= days


def _is_datetime(value: str) -> bool:
    parts = value.lower().split("t")
    if len(parts) < 2 or not _is_date(parts[0]):
        return False
    m = _TIME_PART.match(parts[1])
    return m is not None and m.group(1) <= "23" and m.group(2) <= "59" and m.group(3) <= "59"


def _bound(value: float, as_int: bool) -> str:
    return str(int(value)) if as_int else go_float(float(value))


class _Validator:
    __slots__ = ("errors", "embedded_errors", "list_errors")

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []
        self.embedded_errors: list[dict[str, str]] = []
        self.list_errors: list[dict[str, str]] = []

    def validate(self, value: Any, s: StructuralSchema, path: str) -> None:
        self.errors.extend(_schema_errors(value, s, path))
        self._extras(value, s, path)

    def _extras(self, value: Any, s: StructuralSchema | None, path: str) -> None:
        """Embedded-resource and list-type checks, walking the schema the value follows."""
        if s is None:
            return
        if isinstance(value, dict):
            if s.embedded:
                self.embedded_errors.extend(_embedded_errors(value, path))
            for key, item in value.items():
                prop = s.property_node(key)
                self._extras(item, prop if prop is not None else s.additional_node(), _child(path, key))
        elif isinstance(value, list):
            list_type = s.list_type
            if list_type == "set":
                self.list_errors.extend(_set_errors(value, path))
            elif list_type == "map":
                self.list_errors.extend(_map_list_errors(value, s, path))
            items = s.items()
            for i, item in enumerate(value):
                self._extras(item, items, f"{path}[{i}]")


def _schema_errors(value: Any, s: StructuralSchema, path: str) -> list[dict[str, str]]:
    """One schema node's OpenAPI validation of `value` (type, junctors, string, format, number,
    array, enum, object, in upstream's validator order)."""
    errs: list[dict[str, str]] = []
    types = s.types
    fmt = s.raw.get("format")
    if value is None:
        if types and not s.nullable:
            errs.append(_type_invalid(path, ",".join(types), "null"))
        enum = s.raw.get("enum")
        if enum and not any(v is None for v in enum):
            errs.append(_enum_error(path, value, enum))
        return errs
    t = type(value)
    if types or fmt:
        sch_type = _JSON_TYPES.get(t, "object")
        data_format = _DATA_FORMATS.get(t, "")
        float_int = t is float and value.is_integer() and "integer" in types
        int_float = t is int and "number" in types
        if t is not str and t is not list and fmt and not (sch_type in types or data_format == fmt or float_int or int_float):
            errs.append(_type_invalid(path, fmt, data_format))
        elif not (sch_type in types or float_int or int_float):
            errs.append(_type_invalid(path, ",".join(types), sch_type))
    junctors = s.junctors()
    if junctors:
        errs.extend(_junctor_errors(value, junctors, path))
    if t is str:
        errs.extend(_string_errors(value, s, path))
        if fmt:
            ok = _format_ok(fmt, value)
            if ok is False:
                errs.append(_type_invalid(path, fmt, value))
    elif t is int or t is float:
        errs.extend(_number_errors(value, s, path, types[0] if types else ""))
    elif t is list:
        items = s.items()
        if items is not None:
            for i, item in enumerate(value):
                errs.extend(_schema_errors(item, items, f"{path}[{i}]"))
        raw = s.raw
        if "minItems" in raw and len(value) < raw["minItems"]:
            errs.append(_invalid(_field(path), len(value), f"{path} in {IN} should have at least {raw['minItems']} items"))
        if "maxItems" in raw and len(value) > raw["maxItems"]:
            errs.append(_too_many(_field(path), len(value), raw["maxItems"]))
        if raw.get("uniqueItems") and any(_json_equal(a, b) for i, a in enumerate(value) for b in value[:i]):
            errs.append(_invalid(_field(path), "", f"{path} in {IN} shouldn't contain duplicates"))
    enum = s.raw.get("enum")
    if enum and not any(_json_equal(value, v) for v in enum):
        errs.append(_enum_error(path, value, enum))
    if t is dict:
        errs.extend(_object_errors(value, s, path))
    return errs


def _type_invalid(path: str, type_name: str, shown: str) -> dict[str, str]:
    """An InvalidType error: `<path> in body must be of type <type>: "<shown>"`."""
    detail = f"{path} in {IN} must be of type {type_name}: {go_quote(shown)}"
    return _invalid(_field(path), shown, detail, reason="FieldValueTypeInvalid")


def _enum_error(path: str, value: Any, enum: list[Any]) -> dict[str, str]:
    supported = [v if isinstance(v, str) else go_json(v) for v in enum]
    return _not_supported(_field(path), value, supported)


def _string_errors(value: str, s: StructuralSchema, path: str) -> list[dict[str, str]]:
    raw = s.raw
    if "maxLength" in raw and len(value) > raw["maxLength"]:
        return [_too_long(_field(path), raw["maxLength"])]
    if "minLength" in raw and len(value) < raw["minLength"]:
        return [_invalid(_field(path), value, f"{path} in {IN} should be at least {raw['minLength']} chars long")]
    pattern = s.pattern()
    if pattern is not None:
        if isinstance(pattern, str):
            shown = f"{raw['pattern']}, but pattern is invalid: {pattern}"
            return [_invalid(_field(path), value, f"{path} in {IN} should match '{shown}'")]
        if pattern.search(value) is None:
            return [_invalid(_field(path), value, f"{path} in {IN} should match '{raw['pattern']}'")]
    return []


def _number_errors(value: int | float, s: StructuralSchema, path: str, type_name: str) -> list[dict[str, str]]:
    raw = s.raw
    fmt = raw.get("format") or ""
    errs: list[dict[str, str]] = []
    integer = type_name == "integer"

    def range_error(prefix: str, number: int | float) -> dict[str, str] | None:
        if not integer or _int_in_format(number, fmt if fmt in ("int32", "int64") else None):
            return None
        kind = f"with format {fmt}" if fmt else "(default format)"
        return _invalid(NIL_FIELD, "", f"{prefix} value must be of type integer {kind} in {path}")

    checked = range_error("Checked", value)
    if checked is not None:
        errs.append(checked)
    as_int = type(value) is int
    multiple, minimum, maximum = [], [], []
    if "multipleOf" in raw:
        factor = raw["multipleOf"]
        bad = range_error("MultipleOf", factor)
        if bad is not None:
            multiple.append(bad)
        native = bad is None and as_int
        if factor < 0:
            multiple.append(_invalid(NIL_FIELD, factor, f"factor MultipleOf declared for {path} must be positive: {_bound(factor, native)}"))
        elif factor and (value % int(factor) != 0 if native else not _float_multiple(value, factor)):
            multiple.append(_invalid(_field(path), value, f"{path} in {IN} should be a multiple of {_bound(factor, native)}"))
    if "maximum" in raw:
        bound = raw["maximum"]
        bad = range_error("Maximum boundary", bound)
        if bad is not None:
            maximum.append(bad)
        native = bad is None and as_int
        limit = int(bound) if native else bound
        exclusive = bool(raw.get("exclusiveMaximum"))
        if value > limit or (exclusive and value >= limit):
            word = "less than" if exclusive else "less than or equal to"
            maximum.append(_invalid(_field(path), value, f"{path} in {IN} should be {word} {_bound(bound, native)}"))
    if "minimum" in raw:
        bound = raw["minimum"]
        bad = range_error("Minimum boundary", bound)
        if bad is not None:
            minimum.append(bad)
        native = bad is None and as_int
        limit = int(bound) if native else bound
        exclusive = bool(raw.get("exclusiveMinimum"))
        if value < limit or (exclusive and value <= limit):
            word = "greater than" if exclusive else "greater than or equal to"
            minimum.append(_invalid(_field(path), value, f"{path} in {IN} should be {word} {_bound(bound, native)}"))
    return [*errs, *multiple, *minimum, *maximum]


def _float_multiple(value: float, factor: float) -> bool:
    mult = (1 / factor * value) if factor < 1 else (value / factor)
    return float(mult).is_integer()


def _object_errors(value: dict[str, Any], s: StructuralSchema, path: str) -> list[dict[str, str]]:
    raw = s.raw
    count = len(value)
    if "minProperties" in raw and count < raw["minProperties"]:
        return [_invalid(_field(path), count, f"{path} in {IN} should have at least {raw['minProperties']} properties")]
    if "maxProperties" in raw and count > raw["maxProperties"]:
        return [_too_many(_field(path), count, raw["maxProperties"])]
    errs: list[dict[str, str]] = []
    additional = s.additional_node()
    if additional is not None:
        for key, item in value.items():
            if key not in s.properties:
                errs.extend(_schema_errors(item, additional, _child(path, key)))
    for key in s.properties:
        if key in value:
            prop = s.property_node(key)
            assert prop is not None
            errs.extend(_schema_errors(value[key], prop, _child(path, key)))
    for key in raw.get("required") or ():
        if key not in value:
            errs.append(_required(_child(path, key)))
    return errs


def _junctor_errors(value: Any, junctors: dict[str, list[StructuralSchema]], path: str) -> list[dict[str, str]]:
    errs: list[dict[str, str]] = []
    quoted = go_quote(path)
    any_of = junctors.get("anyOf")
    if any_of:
        results = [_schema_errors(value, sub, path) for sub in any_of]
        if all(results):
            errs.append(_invalid(NIL_FIELD, "", f"{quoted} must validate at least one schema (anyOf)"))
            errs.extend(_fewest(results))
    one_of = junctors.get("oneOf")
    if one_of:
        results = [_schema_errors(value, sub, path) for sub in one_of]
        valid = sum(1 for r in results if not r)
        if valid != 1:
            found = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
            errs.append(_invalid(NIL_FIELD, "", f"{quoted} must validate one and only one schema (oneOf). {found}"))
            if valid == 0:
                errs.extend(_fewest(results))
    all_of = junctors.get("allOf")
    if all_of:
        results = [_schema_errors(value, sub, path) for sub in all_of]
        for r in results:
            errs.extend(r)
        failed = sum(1 for r in results if r)
        if failed:
            suffix = ". None validated" if failed == len(results) else ""
            errs.append(_invalid(NIL_FIELD, "", f"{quoted} must validate all the schemas (allOf){suffix}"))
    not_ = junctors.get("not")
    if not_ and not _schema_errors(value, not_[0], path):
        errs.append(_invalid(NIL_FIELD, "", f"{quoted} must not validate the schema (not)"))
    return errs


def _fewest(results: list[list[dict[str, str]]]) -> list[dict[str, str]]:
    """The failures of the branch that came closest (fewest errors; the first on ties)."""
    best = results[0]
    for result in results[1:]:
        if len(result) < len(best):
            best = result
    return best


def _embedded_errors(value: dict[str, Any], path: str) -> list[dict[str, str]]:
    errs: list[dict[str, str]] = []
    for name in ("apiVersion", "kind"):
        if name not in value:
            errs.append(_required(_child(path, name), "must not be empty"))
        elif not isinstance(value[name], str):
            errs.append(_invalid(_child(path, name), value[name], "must be a string"))
        elif not value[name]:
            errs.append(_invalid(_child(path, name), "", "must not be empty"))
    return errs


_UNSPECIFIED = ("unspecified",)


def _non_unique(items: list[Any]) -> list[int]:
    """Indices of the second occurrence of every repeated item (upstream's validateListSet):
    compounds compare by their JSON, scalars by type and value."""
    if len(items) <= 1:
        return []
    seen: dict[tuple[Any, ...], int] = {}
    out: list[int] = []
    for i, item in enumerate(items):
        if item is _UNSPECIFIED:
            key: tuple[Any, ...] = item
        elif isinstance(item, (dict, list)):
            key = ("json", go_json(item))
        else:
            key = (type(item).__name__, item)
        times = seen.get(key, 0)
        seen[key] = times + 1
        if times == 1:
            out.append(i)
    return out


def _set_errors(value: list[Any], path: str) -> list[dict[str, str]]:
    return [_duplicate(f"{path}[{i}]", value[i]) for i in _non_unique(value)]


def _map_list_errors(value: list[Any], s: StructuralSchema, path: str) -> list[dict[str, str]]:
    for i, item in enumerate(value):
        if item is not None and not isinstance(item, dict):
            return [_invalid(f"{path}[{i}]", item, "must be an object for an array of list-type map")]
    if len(value) <= 1:
        return []
    keys = s.list_map_keys
    if len(keys) == 1:
        name = keys[0]
        idents: list[Any] = [item[name] if item is not None and name in item else _UNSPECIFIED for item in value]
        return [
            _duplicate(f"{path}[{i}]", {} if idents[i] is _UNSPECIFIED else {name: idents[i]})
            for i in _non_unique(idents)
        ]
    compound = [{k: item[k] for k in keys if k in item} if item is not None else {} for item in value]
    return [_duplicate(f"{path}[{i}]", compound[i]) for i in _non_unique(compound)]


# ---------------------------------------------------------------------------------------------
# CRD schema checks
# ---------------------------------------------------------------------------------------------

_ROOT, _ITEM, _FIELD = 0, 1, 2
_LIST_TYPES = ["atomic", "set", "map"]
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


def validate_crd_schema(schema: dict[str, Any], path: str = "spec.versions[0].schema.openAPIV3Schema") -> list[dict[str, str]]:
    """Causes for a CRD `openAPIV3Schema` that upstream would reject: unsupported constructs
    (`$ref`, `uniqueItems`, properties with additionalProperties, ...) in schema order, then the
    structural-schema violations (missing `type`, root not an object, ...) sorted as upstream sorts them."""
    generic: list[dict[str, str]] = []
    _generic_checks(schema, path, generic)
    structural: list[dict[str, str]] = []
    _structural_checks(schema, _ROOT, path, structural)
    structural.sort(key=lambda c: f"{c['field']}: {c['message']}")
    return [*generic, *structural]


def _sub_schemas(schema: dict[str, Any], path: str) -> list[tuple[dict[str, Any], str]]:
    subs: list[tuple[dict[str, Any], str]] = []
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict):
            subs.append((prop, f"{path}.properties[{name}]"))
    if isinstance(schema.get("items"), dict):
        subs.append((schema["items"], f"{path}.items"))
    if isinstance(schema.get("additionalProperties"), dict):
        subs.append((schema["additionalProperties"], f"{path}.additionalProperties"))
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(key) or ()):
            if isinstance(sub, dict):
                subs.append((sub, f"{path}.{key}[{i}]"))
    if isinstance(schema.get("not"), dict):
        subs.append((schema["not"], f"{path}.not"))
    return subs


def _generic_checks(schema: dict[str, Any], path: str, errs: list[dict[str, str]]) -> None:
    if schema.get("uniqueItems") is True:
        errs.append(_forbidden(f"{path}.uniqueItems", "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
    additional = schema.get("additionalProperties")
    if additional is not None:
        if schema.get("properties") and (additional is not True):
            errs.append(_forbidden(f"{path}.additionalProperties", "additionalProperties and properties are mutual exclusive"))
        if additional is False:
            errs.append(_forbidden(f"{path}.additionalProperties", "additionalProperties cannot be set to false"))
    if "$ref" in schema:
        errs.append(_forbidden(f"{path}.$ref", "$ref is not supported"))
    if schema.get("type") == "null":
        errs.append(_forbidden(f"{path}.type", "type cannot be set to null, use nullable as an alternative"))
    if isinstance(schema.get("items"), list):
        errs.append(_forbidden(f"{path}.items", "items must be a schema object and not an array"))
    if schema.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(_invalid(f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"))
    list_type = schema.get("x-kubernetes-list-type")
    map_keys = schema.get("x-kubernetes-list-map-keys") or []
    if list_type is not None:
        if list_type not in _LIST_TYPES:
            errs.append(_not_supported(f"{path}.x-kubernetes-list-type", list_type, _LIST_TYPES))
        elif schema.get("type") != "array":
            errs.append(_invalid(f"{path}.x-kubernetes-list-type", list_type, "must only be used on type array"))
    if map_keys and list_type is None:
        errs.append(_required(f"{path}.x-kubernetes-list-type", "must be map if x-kubernetes-list-map-keys is non-empty"))
    elif map_keys and list_type != "map":
        errs.append(_invalid(f"{path}.x-kubernetes-list-type", list_type, "must be map if x-kubernetes-list-map-keys is non-empty"))
    if list_type == "map" and not map_keys:
        errs.append(_required(f"{path}.x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type is map"))
    for sub, sub_path in _sub_schemas(schema, path):
        _generic_checks(sub, sub_path, errs)


def _structural_checks(schema: dict[str, Any], level: int, path: str, errs: list[dict[str, str]]) -> None:
    schema_type = schema.get("type") or ""
    int_or_string = bool(schema.get("x-kubernetes-int-or-string"))
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(schema.get("x-kubernetes-embedded-resource"))
    properties = schema.get("properties") or {}
    if schema_type == "array" and not isinstance(schema.get("items"), dict):
        errs.append(_required(f"{path}.items", "must be specified"))
    if isinstance(schema.get("items"), dict):
        _structural_checks(schema["items"], _ITEM, f"{path}.items", errs)
    for name, prop in properties.items():
        if isinstance(prop, dict):
            _structural_checks(prop, _FIELD, f"{path}.properties[{name}]", errs)
    additional = schema.get("additionalProperties")
    if additional is not None and additional is not False:
        if level == _ROOT:
            errs.append(_forbidden(f"{path}.additionalProperties", "must not be used at the root"))
        if isinstance(additional, dict):
            _structural_checks(additional, _FIELD, f"{path}.additionalProperties", errs)
    if int_or_string and preserve:
        errs.append(_invalid(f"{path}.x-kubernetes-preserve-unknown-fields", True, "must be false if x-kubernetes-int-or-string is true"))
    if int_or_string and embedded:
        errs.append(_invalid(f"{path}.x-kubernetes-embedded-resource", True, "must be false if x-kubernetes-int-or-string is true"))
    any_of_pattern = schema.get("anyOf") == _INT_OR_STRING_ANY_OF
    all_of = schema.get("allOf") or []
    all_of_pattern = bool(all_of) and isinstance(all_of[0], dict) and all_of[0].get("anyOf") == _INT_OR_STRING_ANY_OF
    _value_validation_checks(schema, any_of_pattern, all_of_pattern, path, errs)
    if embedded and schema_type != "object":
        if not schema_type:
            errs.append(_required(f"{path}.type", "must be object if x-kubernetes-embedded-resource is true"))
        else:
            errs.append(_invalid(f"{path}.type", schema_type, "must be object if x-kubernetes-embedded-resource is true"))
    elif not schema_type and not int_or_string and not preserve:
        detail = {
            _ROOT: "must not be empty at the root",
            _ITEM: "must not be empty for specified array items",
            _FIELD: "must not be empty for specified object fields",
        }[level]
        errs.append(_required(f"{path}.type", detail))
    if embedded and additional is not None:
        errs.append(_forbidden(f"{path}.additionalProperties", "must not be used if x-kubernetes-embedded-resource is set"))
    if level == _ROOT and schema_type and schema_type != "object":
        errs.append(_invalid(f"{path}.type", schema_type, "must be object at the root"))
    check_metadata = level == _ROOT or embedded
    if check_metadata:
        for name, want in (("kind", "string"), ("apiVersion", "string"), ("metadata", "object")):
            prop = properties.get(name)
            if isinstance(prop, dict) and (prop.get("type") or "") != want:
                errs.append(_invalid(f"{path}.properties[{name}].type", prop.get("type") or "", f"must be {want}"))
    metadata = properties.get("metadata")
    if level == _ROOT and isinstance(metadata, dict):
        rest = {k: v for k, v in metadata.items() if k not in ("type", "default")}
        names = set((rest.pop("properties", None) or {}).keys())
        if rest or not names <= {"name", "generateName"}:
            errs.append(_forbidden(f"{path}.properties[metadata]", "must not specify anything other than name and generateName, but metadata is implicitly specified"))
    if embedded and not preserve and not properties:
        errs.append(_required(f"{path}.properties", "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"))


_NESTED_FORBIDDEN = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
)


def _value_validation_checks(schema: dict[str, Any], skip_any_of: bool, skip_first_all_of_any_of: bool, path: str, errs: list[dict[str, str]]) -> None:
    if not skip_any_of:
        for i, sub in enumerate(schema.get("anyOf") or ()):
            _nested_checks(sub, False, f"{path}.anyOf[{i}]", errs)
    for i, sub in enumerate(schema.get("allOf") or ()):
        _nested_checks(sub, skip_first_all_of_any_of and i == 0, f"{path}.allOf[{i}]", errs)
    for i, sub in enumerate(schema.get("oneOf") or ()):
        _nested_checks(sub, False, f"{path}.oneOf[{i}]", errs)
    if isinstance(schema.get("not"), dict):
        _nested_checks(schema["not"], False, f"{path}.not", errs)
    source = schema.get("pattern")
    if source:
        try:
            re.compile(source)
        except re.error as err:
            errs.append(_invalid(f"{path}.pattern", source, f"must be a valid regular expression, but isn't: {err}"))


def _nested_checks(schema: Any, skip_any_of: bool, path: str, errs: list[dict[str, str]]) -> None:
    if not isinstance(schema, dict):
        return
    _value_validation_checks(schema, skip_any_of, False, path, errs)
    if isinstance(schema.get("items"), dict):
        _nested_checks(schema["items"], False, f"{path}.items", errs)
    for name, prop in (schema.get("properties") or {}).items():
        _nested_checks(prop, False, f"{path}.properties[{name}]", errs)
    for key, detail in _NESTED_FORBIDDEN:
        present = schema.get(key)
        if present not in (None, False, "", [], {}):
            errs.append(_forbidden(f"{path}.{key}", detail))
    if "metadata" in (schema.get("properties") or {}):
        errs.append(_forbidden(f"{path}.properties[metadata]", "must not be specified in a nested context"))
