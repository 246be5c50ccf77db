"""The checks upstream's decoding makes before any strategy validation runs: Go type errors
(`json: cannot unmarshal ...`), unknown and duplicate fields, and the `fieldValidation`
directive (Strict / Warn / Ignore) that decides whether those fail the request, become warnings
or pass silently. Also `go_value`, how a field error prints a bad value taken from a decoded JSON
document (structural schema validation uses it).

Must not default, validate semantics (names, selectors, ...) or touch storage; it decides only
whether a body decodes, and drops what decoding into Go structs would drop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.errors import StatusError, bad_request, cause, invalid
from kubelite.api.gofmt import go_float, go_quote
from kubelite.api.jsonvalue import go_json_kind
from kubelite.api.quantity import FORMAT_WRONG as QUANTITY_FORMAT_WRONG
from kubelite.api.quantity import quantity_error
from kubelite.api.schematypes import SchemaNode
from kubelite.schema.definitions import (
    K_ANY,
    K_ARRAY,
    K_BOOL,
    K_BYTES,
    K_FLOAT,
    K_INT32,
    K_INT64,
    K_INT_OR_STRING,
    K_MAP,
    K_MICRO_TIME,
    K_QUANTITY,
    K_STRING,
    K_STRUCT,
    K_TIME,
    DefinitionNode,
)

STRICT = "Strict"
WARN = "Warn"
IGNORE = "Ignore"
FIELD_VALIDATION_VALUES = ("", IGNORE, STRICT, WARN)  # sorted, as upstream lists them

MAX_STRICT_ERRORS = 100  # upstream stops collecting strict errors here

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)

# ---------------------------------------------------------------------------------------------
# Go formatting of bad values (the primitives are kubelite.api.gofmt's)
# ---------------------------------------------------------------------------------------------


def go_value(value: Any) -> str:
    """How `field.Error` prints a bad value: `%q` for strings, `%v` for numbers and bools,
    `%#v` for maps and lists."""
    if value is None:
        return '"null"'  # a nil bad value is printed as the string "null"
    return go_sharp_v(value)  # scalars print the same under %v, %q and %#v


def go_sharp_v(value: Any) -> str:
    """Go's `%#v` of a decoded JSON value (`map[string]interface {}{"a":1}`)."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{go_quote(k)}:{go_sharp_v(value[k])}" for k in sorted(value))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(go_sharp_v(v) for v in value) + "}"
    return go_quote(str(value))


# ---------------------------------------------------------------------------------------------
# Decoding checks of built-in objects
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class CheckResult:
    """What decoding a body into its Go type finds.

    `unknown`: paths of unknown fields as strict decoding prints them (`spec.template.spec.containers[0].foo`).
    `decode_error`: the decoder's own message (`json: cannot unmarshal ...`) when the body cannot be
    decoded at all, whatever the field validation directive.
    """

    kind: str
    version: str
    unknown: list[str] = field(default_factory=list)
    decode_error: str | None = None

    def error(self) -> StatusError | None:
        if self.decode_error is None:
            return None
        return decode_error(self.kind, self.version, self.decode_error)

    def raise_for_error(self) -> None:
        err = self.error()
        if err is not None:
            raise err


def decode_error(kind: str, version: str, message: str) -> StatusError:
    """400 BadRequest `<kind> in version "<version>" cannot be handled as a <kind>: <message>`."""
    if "/" in version:
        version = version.rsplit("/", 1)[1]
    return bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {message}')


class _HardError(Exception):
    """A decoding error that stops decoding at once (custom Go unmarshalers)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _number_literal(value: Any) -> str:
    if type(value) is float:
        return "number " + repr(value)
    return f"number {value}"


class _Walker:
    __slots__ = ("unknown", "saved", "prune")

    def __init__(self, prune: bool):
        self.unknown: list[str] = []
        self.saved: str | None = None
        self.prune = prune

    def save(self, message: str) -> None:
        if self.saved is None:
            self.saved = message

    def type_error(self, value: Any, node: DefinitionNode, struct: str, gpath: str, what: str | None = None) -> None:
        self.save(_unmarshal_message(what or go_json_kind(value), struct, gpath, node.go_type))

    def struct(self, obj: dict[str, Any], node: DefinitionNode, spath: str, gpath: str) -> None:
        table = node._fields or node.field_table()
        struct = node.struct_name
        drop: list[str] | None = None
        for key, value in obj.items():
            child = table.get(key)
            if child is None:
                if len(self.unknown) < MAX_STRICT_ERRORS:
                    self.unknown.append(f"{spath}.{key}" if spath else key)
                if drop is None:
                    drop = [key]
                else:
                    drop.append(key)
                continue
            if value is None:
                if drop is None:
                    drop = [key]
                else:
                    drop.append(key)
                continue
            kind = child.kind
            t = type(value)
            # fast paths for the common well-typed leaves: no call, no path strings
            if kind == K_STRING:
                if t is str:
                    continue
            elif kind == K_INT32:
                if t is int and -2147483648 <= value <= 2147483647:
                    continue
            elif kind == K_BOOL:
                if t is bool:
                    continue
            elif kind == K_ANY:
                continue
            self.value(value, child, f"{spath}.{key}" if spath else key, f"{gpath}.{key}" if gpath else key, struct)
        if drop is not None and self.prune:
            for key in drop:
                del obj[key]

    def value(self, value: Any, node: DefinitionNode, spath: str, gpath: str, struct: str) -> None:
        kind = node.kind
        t = type(value)
        if kind == K_STRUCT:
            if t is dict:
                self.struct(value, node, spath, gpath)
            else:
                self.type_error(value, node, struct, gpath)
        elif kind == K_STRING:
            if t is not str:
                self.type_error(value, node, struct, gpath)
        elif kind == K_ARRAY:
            if t is not list:
                self.type_error(value, node, struct, gpath)
                return
            items = node.items()
            assert items is not None
            if items.kind == K_STRING:
                for element in value:
                    if type(element) is not str and element is not None:
                        self.type_error(element, items, struct, gpath)
                return
            for i, element in enumerate(value):
                if element is not None:
                    self.value(element, items, f"{spath}[{i}]", gpath, struct)
        elif kind == K_MAP:
            if t is not dict:
                self.type_error(value, node, struct, gpath)
                return
            values = node.value_node()
            assert values is not None
            if values.kind == K_STRING:
                for element in value.values():
                    if type(element) is not str and element is not None:
                        self.type_error(element, values, struct, gpath)
                return
            for key, element in value.items():
                if element is not None:
                    self.value(element, values, f"{spath}.{key}", gpath, struct)
        elif kind in (K_INT32, K_INT64):
            if t is int:
                low, high = _INT32 if kind == K_INT32 else _INT64
                if not low <= value <= high:
                    self.type_error(value, node, struct, gpath, _number_literal(value))
            elif t is float:
                self.type_error(value, node, struct, gpath, _number_literal(value))
            else:
                self.type_error(value, node, struct, gpath)
        elif kind == K_BOOL:
            if t is not bool:
                self.type_error(value, node, struct, gpath)
        elif kind == K_FLOAT:
            if t is not int and t is not float:
                self.type_error(value, node, struct, gpath)
        elif kind == K_INT_OR_STRING:
            if t is str:
                return
            if t is int and _INT32[0] <= value <= _INT32[1]:
                return
            what = _number_literal(value) if t is int or t is float else go_json_kind(value)
            raise _HardError(_unmarshal_message(what, struct, gpath, "int32"))
        elif kind == K_QUANTITY:
            if t is int or t is float:
                return
            message = quantity_error(value.strip()) if t is str else QUANTITY_FORMAT_WRONG
            if message is not None:
                raise _HardError(message)
        elif kind in (K_TIME, K_MICRO_TIME):
            if t is not str:
                raise _HardError(_unmarshal_message(go_json_kind(value), struct, gpath, "string"))
            message = go_time_error(value, micro=kind == K_MICRO_TIME)
            if message is not None:
                raise _HardError(message)
        elif kind == K_BYTES:
            if t is str:
                offset = go_base64_error(value)
                if offset is not None:
                    self.save(f"illegal base64 data at input byte {offset}")
            elif t is list:
                for element in value:
                    if type(element) is int:
                        if not 0 <= element <= 255:
                            self.save(_unmarshal_message(f"number {element}", struct, gpath, "uint8"))
                    elif element is not None:
                        what = _number_literal(element) if type(element) is float else go_json_kind(element)
                        self.save(_unmarshal_message(what, struct, gpath, "uint8"))
            else:
                self.type_error(value, node, struct, gpath)
        # K_ANY: anything decodes


def _unmarshal_message(what: str, struct: str, gpath: str, go_type: str) -> str:
    if struct or gpath:
        return f"json: cannot unmarshal {what} into Go struct field {struct}.{gpath} of type {go_type}"
    return f"json: cannot unmarshal {what} into Go value of type {go_type}"


def check_object(
    obj: dict[str, Any], node: SchemaNode, kind: str, api_version: str, *, path: str = "", prune: bool = True
) -> CheckResult:
    """Decode-check a built-in object against its definition node in one walk.

    Reports the first Go type error (as upstream: decoding fails on it whatever the field
    validation) and every unknown field. With `prune` (default) unknown fields and null struct
    fields are removed from `obj` in place, as decoding into Go structs and encoding back does.
    `path` prefixes unknown-field paths, for a metadata object checked on its own (`metadata`).
    """
    if not isinstance(node, DefinitionNode):
        raise TypeError("check_object needs a node from kubelite.schema.definitions")
    version = api_version.rsplit("/", 1)[-1]
    walker = _Walker(prune)
    message: str | None
    try:
        if node.kind == K_STRUCT:
            walker.struct(obj, node, path, "")
        else:
            walker.value(obj, node, path, "", "")
    except _HardError as err:
        message = err.message
    else:
        message = walker.saved
    return CheckResult(kind=kind, version=version, unknown=walker.unknown, decode_error=message)


# ---------------------------------------------------------------------------------------------
# Go parsers whose error texts reach clients
# ---------------------------------------------------------------------------------------------

_DIGITS = frozenset("0123456789")
_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def go_base64_error(text: str) -> int | None:
    """Offset Go's `base64.StdEncoding.Decode` reports as corrupt, or None when `text` decodes."""
    src = text.encode()
    n = len(src)
    si = 0
    while si < n:
        j = 0
        while j < 4:
            if si == n:
                return None if j == 0 else si - j
            c = src[si]
            si += 1
            if c in _B64_ALPHABET:
                j += 1
                continue
            if c == 10 or c == 13:
                continue
            if c != 61:  # '='
                return si - 1
            if j < 2:
                return si - 1
            if j == 2:
                while si < n and src[si] in (10, 13):
                    si += 1
                if si == n:
                    return n
                if src[si] != 61:
                    return si - 1
                si += 1
            while si < n and src[si] in (10, 13):
                si += 1
            return si if si < n else None
    return None


_RFC3339 = "2006-01-02T15:04:05Z07:00"
_RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"
_LAYOUT_CHUNKS = (("", "2006"), ("-", "01"), ("-", "02"), ("T", "15"), (":", "04"), (":", "05"))
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _getnum(s: str, fixed: bool) -> tuple[int | None, str]:
    if not s or s[0] not in _DIGITS:
        return None, s
    if len(s) < 2 or s[1] not in _DIGITS:
        if fixed:
            return None, s
        return int(s[0]), s[1:]
    return int(s[:2]), s[2:]


def _go_atoi(s: str) -> int | None:
    body = s[1:] if s[:1] in ("+", "-") else s
    if not body or not all(c in _DIGITS for c in body):
        return None
    return int(s)


def go_time_error(value: str, *, micro: bool = False) -> str | None:
    """The error of Go's `time.Parse(RFC3339 or RFC3339Micro, value)`, or None when it parses
    (what `metav1.Time` / `metav1.MicroTime` decoding reports)."""
    layout = _RFC3339_MICRO if micro else _RFC3339
    chunks = [*_LAYOUT_CHUNKS, ("", ".000000"), ("", "Z07:00")] if micro else [*_LAYOUT_CHUNKS, ("", "Z07:00")]
    q = go_quote
    rest = value
    year = month = day = 0
    for index, (prefix, std) in enumerate(chunks):
        for ch in prefix:
            if not rest or rest[0] != ch:
                return f"parsing time {q(value)} as {q(layout)}: cannot parse {q(rest)} as {q(prefix)}"
            rest = rest[1:]
        hold = rest
        bad = False
        out_of_range = ""
        if std == "2006":
            parsed = _go_atoi(rest[:4]) if len(rest) >= 4 else None
            if parsed is None:
                bad = True
            else:
                year, rest = parsed, rest[4:]
        elif std in ("01", "02", "15", "04", "05"):
            num, rest = _getnum(rest, std != "15")
            if num is None:
                bad = True
            elif std == "01":
                month = num
                if not 1 <= num <= 12:
                    out_of_range = "month"
            elif std == "02":
                day = num
            elif std == "15" and num >= 24:
                out_of_range = "hour"
            elif std == "04" and num >= 60:
                out_of_range = "minute"
            elif std == "05":
                if num >= 60:
                    out_of_range = "second"
                elif len(rest) >= 2 and rest[0] in ".," and rest[1] in _DIGITS and chunks[index + 1][1] != ".000000":
                    digits = 2
                    while digits < len(rest) and rest[digits] in _DIGITS:
                        digits += 1
                    rest = rest[digits:]
        elif std == ".000000":
            if len(rest) < 7 or rest[0] not in ".," or _go_atoi(rest[1:7]) is None:
                bad = True
            else:
                rest = rest[7:]
        else:  # Z07:00
            if rest[:1] == "Z":
                rest = rest[1:]
            elif len(rest) < 6 or rest[3] != ":":
                bad = True
            else:
                sign, hours, minutes, rest = rest[0], rest[1:3], rest[4:6], rest[6:]
                hour, _ = _getnum(hours, True)
                minute, _ = _getnum(minutes, True) if hour is not None else (None, "")
                if hour is None or minute is None:
                    bad = True
                else:
                    if hour > 24:
                        out_of_range = "time zone offset hour"
                    if minute > 60:
                        out_of_range = "time zone offset minute"
                    if sign not in "+-":
                        bad = True
        if out_of_range:
            return f"parsing time {q(value)}: {out_of_range} out of range"
        if bad:
            return f"parsing time {q(value)} as {q(layout)}: cannot parse {q(hold)} as {q(std)}"
    if rest:
        return f"parsing time {q(value)}: extra text: {q(rest)}"
    days = _DAYS[month - 1] + (1 if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 0)
    if day < 1 or day > days:
        return f"parsing time {q(value)}: day out of range"
    return None


# ---------------------------------------------------------------------------------------------
# Duplicate fields
# ---------------------------------------------------------------------------------------------


class _Pairs(dict[str, Any]):
    """A decoded JSON object that had repeated keys; keeps every pair in document order."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]):
        super().__init__(pairs)
        self.pairs = pairs


def find_duplicate_fields(raw: bytes | str, *, yaml: bool = False, node: SchemaNode | None = None) -> list[str]:
    """Strict-decoding errors for repeated keys in a request body.

    JSON: `duplicate field "spec.replicas"` per repeated key, in document order. With a built-in
    definition `node`, only keys decoding into known struct fields or maps count (as Go's typed
    decoding sees them); without one every object is checked (custom resources).
    YAML: one `yaml: unmarshal errors:\\n  line N: key "x" already set in map` error, as upstream's
    strict YAML-to-JSON conversion reports it.
    """
    if yaml:
        return _yaml_duplicates(raw)
    found = False

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        obj = dict(pairs)
        if len(obj) != len(pairs):
            found = True
            return _Pairs(pairs)
        return obj

    try:
        tree = json.loads(raw, object_pairs_hook=hook)
    except ValueError:
        return []
    if not found:
        return []
    out: list[str] = []
    typed = node if isinstance(node, DefinitionNode) else None
    _collect_duplicates(tree, typed, "", out, set())
    return out


def _collect_duplicates(value: Any, node: DefinitionNode | None, path: str, out: list[str], seen_msgs: set[str]) -> None:
    if isinstance(value, dict):
        if node is not None and node.kind not in (K_STRUCT, K_MAP):
            return
        pairs = value.pairs if isinstance(value, _Pairs) else value.items()
        table = node.field_table() if node is not None and node.kind == K_STRUCT else None
        seen: set[str] = set()
        for key, child in pairs:
            child_node: DefinitionNode | None = None
            if node is not None:
                if table is not None:
                    found = table.get(key)
                    if found is None:
                        continue  # unknown field: reported as such, never descended
                    child_node = found
                else:
                    child_node = node.value_node()
            child_path = f"{path}.{key}" if path else key
            if key in seen:
                message = f'duplicate field "{child_path}"'
                if message not in seen_msgs and len(out) < MAX_STRICT_ERRORS:
                    seen_msgs.add(message)
                    out.append(message)
            seen.add(key)
            _collect_duplicates(child, child_node, child_path, out, seen_msgs)
    elif isinstance(value, list):
        if node is not None and node.kind != K_ARRAY:
            return
        items = node.items() if node is not None else None
        for i, child in enumerate(value):
            _collect_duplicates(child, items, f"{path}[{i}]", out, seen_msgs)


def _yaml_duplicates(raw: bytes | str) -> list[str]:
    import yaml as pyyaml

    loader_cls = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)
    try:
        root = pyyaml.compose(raw, Loader=loader_cls)
    except pyyaml.YAMLError:
        return []
    lines: list[str] = []
    if root is not None:
        _yaml_visit(root, lines, pyyaml)
    if not lines:
        return []
    return ["yaml: unmarshal errors:\n  " + "\n  ".join(lines)]


def _yaml_visit(node: Any, lines: list[str], pyyaml: Any) -> None:
    """Go's yaml.v2 order: a value's own errors come before the error for its repeated key."""
    if isinstance(node, pyyaml.MappingNode):
        seen: set[tuple[str, str]] = set()
        for key_node, value_node in node.value:
            _yaml_visit(value_node, lines, pyyaml)
            if isinstance(key_node, pyyaml.ScalarNode):
                ident = (key_node.tag, key_node.value)
                if ident in seen:
                    lines.append(f"line {value_node.start_mark.line + 1}: key {_yaml_key(key_node)} already set in map")
                seen.add(ident)
    elif isinstance(node, pyyaml.SequenceNode):
        for item in node.value:
            _yaml_visit(item, lines, pyyaml)


def _yaml_key(node: Any) -> str:
    tag = node.tag.rsplit(":", 1)[-1]
    if tag in ("int", "float"):
        return str(node.value)
    if tag == "bool":
        return node.value.lower()
    if tag == "null":
        return "interface {}(nil)"
    return go_quote(node.value)


# ---------------------------------------------------------------------------------------------
# fieldValidation
# ---------------------------------------------------------------------------------------------


def parse_field_validation(value: str | None, options_kind: str = "CreateOptions") -> str:
    """The directive of the `fieldValidation` query parameter: Warn when absent, else the value;
    422 Invalid `CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: ...`."""
    if value is None or value == "":
        return WARN
    if value not in FIELD_VALIDATION_VALUES:
        supported = ", ".join(go_quote(v) for v in FIELD_VALIDATION_VALUES)
        raise invalid(
            options_kind,
            "meta.k8s.io",
            "",
            [cause("fieldValidation", f"Unsupported value: {go_quote(value)}: supported values: {supported}", "FieldValueNotSupported")],
        )
    return value


def strict_errors(unknown: list[str], duplicates: list[str], *, custom_resource: bool = False) -> list[str]:
    """Strict decoding errors in upstream's order: decoder errors (duplicates) before pruned
    unknown fields for custom resources; unknown fields first for built-ins."""
    unknown_errors = [f'unknown field "{path}"' for path in unknown]
    if custom_resource:
        return [*duplicates, *unknown_errors]
    return [*unknown_errors, *duplicates]


def apply_field_validation(
    mode: str,
    unknown: list[str],
    duplicates: list[str],
    *,
    kind: str = "",
    api_version: str = "",
    custom_resource: bool = False,
    patched: str | None = None,
) -> list[str]:
    """Apply a `fieldValidation` directive to a decoded body's strict errors.

    Strict: raise 400 BadRequest `<kind> in version "<v>" cannot be handled as a <kind>: strict
    decoding error: unknown field "spec.foo", ...` (for patches, `patched` is the patched object as
    text and the error is upstream's 422 ` "" is invalid: patch: Invalid value: ...`).
    Warn: return the warnings (`unknown field "spec.foo"`, one per YAML duplicate line).
    Ignore: return nothing. Unknown fields are dropped from the object whatever the mode.
    """
    if mode == IGNORE or (not unknown and not duplicates):
        return []
    errors = strict_errors(unknown, duplicates, custom_resource=custom_resource)
    if mode == WARN:
        warnings: list[str] = []
        for error in errors:
            warnings.extend(_yaml_warning_lines(error))
        return warnings
    message = "strict decoding error: " + ", ".join(errors)
    if patched is not None:
        raise invalid("", "", "", [cause("patch", f"Invalid value: {go_quote(patched)}: {message}")])
    if kind:
        raise decode_error(kind, api_version, message)
    raise bad_request(message)


_YAML_PREFIXES = ("yaml: unmarshal errors:\n", "error converting YAML to JSON: yaml: unmarshal errors:\n")


def _yaml_warning_lines(error: str) -> list[str]:
    for prefix in _YAML_PREFIXES:
        if error.startswith(prefix):
            return [line.strip() for line in error[len(prefix) :].split("\n")]
    return [error]
