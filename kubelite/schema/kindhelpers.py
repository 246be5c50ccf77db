"""Small pieces shared by the per-kind validators: ObjectMeta on create or update, the kind and name
of an object reference, upstream's semantic equality (nil and empty collections are equal), int-or-percent fields, and Go-style
renderings of the few internal structs that upstream error messages print.

Must not hold any kind's rules; kindvalidation, workloadvalidation and networkvalidation do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubelite.api.gofmt import go_quote
from kubelite.schema import names
from kubelite.schema.fielderrors import Cause, GoText, child, invalid, non_negative, required
from kubelite.schema.metavalidation import as_str, validate_object_meta, validate_object_meta_update

Obj = dict[str, Any]

_EMPTY: tuple[Any, ...] = (None, {}, [])


def validate_meta(
    obj: Obj, old: Obj | None, name_fn: names.NameValidator, namespaced: bool | None, kube_finalizers: bool = True
) -> list[Cause]:
    """ValidateObjectMeta on create, ValidateObjectMetaUpdate on update."""
    if old is None:
        return validate_object_meta(obj.get("metadata"), namespaced, name_fn, kube_finalizers=kube_finalizers)
    return validate_object_meta_update(obj.get("metadata"), old.get("metadata"), kube_finalizers=kube_finalizers)


def validate_kind_and_name(ref: Obj, path: str) -> list[Cause]:
    """An object reference's `kind` and `name`: required, and each a valid path segment name
    (ValidateCrossVersionObjectReference, validateIngressTypedLocalObjectReference)."""
    causes: list[Cause] = []
    for field in ("kind", "name"):
        value = as_str(ref.get(field))
        if not value:
            causes.append(required(child(path, field), ""))
        else:
            causes.extend(invalid(child(path, field), value, m) for m in names.is_valid_path_segment_name(value))
    return causes


def semantic_equal(a: Any, b: Any) -> bool:
    """apiequality.Semantic.DeepEqual on JSON values: a missing, null, empty map or empty list
    value equals any other of those."""
    if a is b:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        for k, v in a.items():
            if not semantic_equal(v, b.get(k)):
                return False
        return all(k in a or v in _EMPTY for k, v in b.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(semantic_equal(x, y) for x, y in zip(a, b, strict=True))
    if a in _EMPTY and b in _EMPTY:
        return True
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def int_field(value: Any) -> int | None:
    """An integer JSON value (floats with no fraction count), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def nonnegative(obj: Obj, field: str, path: str) -> list[Cause]:
    """ValidateNonnegativeField on an optional integer field."""
    return non_negative(int_field(obj.get(field)), path)


# --------------------------------------------------------------------------- int-or-string
def int_or_string_text(value: Any) -> GoText:
    """(*intstr.IntOrString).String(): the number, or the string unquoted."""
    if isinstance(value, str):
        return GoText(value)
    number = int_field(value)
    return GoText(str(number if number is not None else 0))


def _percent(value: Any) -> int | None:
    if isinstance(value, str) and not names.is_valid_percent(value):
        return int(value[:-1])
    return None


def int_or_percent_value(value: Any) -> int:
    """getIntOrPercentValue: the percentage's number, the integer, or Atoi of any other string."""
    percent = _percent(value)
    if percent is not None:
        return percent
    if isinstance(value, str):
        try:
            return int(value, 10)
        except ValueError:
            return 0
    return int_field(value) or 0


def validate_positive_int_or_percent(value: Any, path: str) -> list[Cause]:
    if isinstance(value, str):
        return [invalid(path, GoText(value), msg) for msg in names.is_valid_percent(value)]
    return non_negative(int_field(value), path)


def not_more_than_100_percent(value: Any, path: str) -> list[Cause]:
    percent = _percent(value)
    if percent is None or percent <= 100:
        return []
    return [invalid(path, int_or_string_text(value), "must not be greater than 100%")]


# --------------------------------------------------------------------------- Go renderings
def go_pointer(type_name: str, value: Any) -> str:
    """%#v of a pointer field inside a struct: nil, or an (unknowable) address."""
    return f"(*{type_name})(nil)" if value is None else f"(*{type_name})(0xc000000000)"


def go_struct(type_name: str, fields: Iterable[tuple[str, str]]) -> GoText:
    """%#v of a struct whose fields are already rendered."""
    return GoText(type_name + "{" + ", ".join(f"{k}:{v}" for k, v in fields) + "}")


def go_string(value: Any) -> str:
    return go_quote(value if isinstance(value, str) else "")
