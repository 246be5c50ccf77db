"""Field errors as upstream's k8s.io/apimachinery/pkg/util/validation/field renders them, built as
Status causes (`kubelite.api.errors.cause`): the cause message is field.Error.ErrorBody(), e.g.
`Invalid value: "Bad_Name": a lowercase RFC 1123 ...`, `Required value`, `Unsupported value: "X":
supported values: "A", "B"`. Bad values print the way Go's fmt prints them (%q for strings, %v
for numbers and booleans, %#v for maps and slices, String() for selectors and quantities).

Field paths are plain strings built with `child`, `index` and `key` (`spec.containers[0].image`,
`data[my key]`).

Must not decide what is valid; callers do that and only use these builders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from kubelite.api.errors import cause
from kubelite.api.gofmt import go_float, go_quote
from kubelite.api.gofmt import go_string_slice as _go_string_slice

Cause = dict[str, str]

INVALID = "FieldValueInvalid"
REQUIRED = "FieldValueRequired"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
NOT_FOUND = "FieldValueNotFound"
INTERNAL = "InternalError"

FIELD_IMMUTABLE = "field is immutable"
IS_NEGATIVE = "must be greater than or equal to 0"


class GoText(str):
    """A bad value already rendered as Go's fmt would print it (printed verbatim)."""


class _Omitted:
    """Upstream's field.OmitValueType{}: the message carries no value."""


OMIT = _Omitted()


def child(path: str, *names: str) -> str:
    for name in names:
        path = f"{path}.{name}" if path else name
    return path


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


def go_string_map(value: Mapping[str, Any] | None) -> GoText:
    """%#v of a map[string]string (nil for None)."""
    if value is None:
        return GoText("map[string]string(nil)")
    items = ", ".join(f"{go_quote(str(k))}:{go_quote(str(value[k]))}" for k in sorted(value))
    return GoText("map[string]string{" + items + "}")


def go_string_slice(value: Iterable[Any] | None, type_name: str = "string") -> GoText:
    """%#v of a []string (or a slice of another string-kinded type)."""
    return GoText(_go_string_slice(value, type_name))


def label_selector_string(selector: Mapping[str, Any] | None) -> GoText:
    """(*metav1.LabelSelector).String(), the generated protobuf rendering."""
    if selector is None:
        return GoText("nil")
    labels = selector.get("matchLabels")
    labels = labels if isinstance(labels, Mapping) else {}
    match_labels = "".join(f"{k}: {labels[k]}," for k in sorted(labels, key=str))
    exprs = ""
    expressions = selector.get("matchExpressions")
    for expr in expressions if isinstance(expressions, list) else []:
        expr = expr if isinstance(expr, Mapping) else {}
        raw_values = expr.get("values")
        values = " ".join(str(v) for v in (raw_values if isinstance(raw_values, list) else []))
        exprs += (
            f"LabelSelectorRequirement{{Key:{expr.get('key', '')},Operator:{expr.get('operator', '')},"
            f"Values:[{values}],}},"
        )
    return GoText(
        f"&LabelSelector{{MatchLabels:map[string]string{{{match_labels}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )


def render(value: Any) -> str:
    """A bad value as the field error prints it."""
    if isinstance(value, GoText):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
        return str(go_string_map(value))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return str(go_string_slice(value))
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _body(type_text: str, value: Any, detail: str) -> str:
    text = type_text if value is OMIT else f"{type_text}: {render(value)}"
    return f"{text}: {detail}" if detail else text


def required(path: str, detail: str = "") -> Cause:
    return cause(path, f"Required value: {detail}" if detail else "Required value", REQUIRED)


def invalid(path: str, value: Any, detail: str) -> Cause:
    return cause(path, _body("Invalid value", value, detail), INVALID)


def not_supported(path: str, value: Any, valid: Iterable[str]) -> Cause:
    choices = [go_quote(v) for v in valid]
    detail = "supported values: " + ", ".join(choices) if choices else ""
    return cause(path, _body("Unsupported value", value, detail), NOT_SUPPORTED)


def duplicate(path: str, value: Any) -> Cause:
    return cause(path, _body("Duplicate value", value, ""), DUPLICATE)


def not_found(path: str, value: Any, detail: str = "") -> Cause:
    return cause(path, _body("Not found", value, detail), NOT_FOUND)


def forbidden(path: str, detail: str) -> Cause:
    return cause(path, f"Forbidden: {detail}" if detail else "Forbidden", FORBIDDEN)


def too_long(path: str, max_length: int) -> Cause:
    return cause(path, f"Too long: may not be more than {max_length} bytes", TOO_LONG)


def too_long_max_length(path: str, max_length: int) -> Cause:
    return cause(path, f"Too long: may not be longer than {max_length}", TOO_LONG)


def too_many(path: str, actual: int, max_items: int) -> Cause:
    return cause(path, f"Too many: {actual}: must have at most {max_items} items", TOO_MANY)


def internal(path: str, detail: str) -> Cause:
    return cause(path, f"Internal error: {detail}", INTERNAL)


def immutable(path: str, value: Any) -> Cause:
    return invalid(path, value, FIELD_IMMUTABLE)


def non_negative(value: Any, path: str) -> list[Cause]:
    """ValidateNonnegativeField on an integer-ish value (None and non-numbers are skipped)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return [invalid(path, value, IS_NEGATIVE)]
    return []
