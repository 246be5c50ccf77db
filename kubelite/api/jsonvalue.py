"""Small helpers over JSON-shaped values (dict / list / str / int / float / bool / None).

Used by the patch algorithms to copy documents and compare values the way Go's JSON code does.
Must not parse or serialise for the wire, and must not know about Kubernetes objects.
"""

from __future__ import annotations

from typing import Any

import orjson

_DICT = dict
_LIST = list


def _copy_tree(value: Any) -> Any:
    if type(value) is _DICT:
        out = {}
        for key, item in value.items():
            kind = type(item)
            out[key] = _copy_tree(item) if (kind is _DICT or kind is _LIST) else item
        return out
    if type(value) is _LIST:
        return [_copy_tree(item) if (type(item) is _DICT or type(item) is _LIST) else item for item in value]
    return value


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON-shaped value that shares no dict or list with `value`."""
    kind = type(value)
    if kind is not _DICT and kind is not _LIST:
        return value
    try:
        # A C round trip is about twice as fast as walking the tree in Python.
        return orjson.loads(orjson.dumps(value))
    except (TypeError, orjson.JSONEncodeError):
        # Integers beyond 64 bits, non-string keys, tuples...: copy the slow way.
        return _copy_tree(value)


def json_equal(left: Any, right: Any) -> bool:
    """Structural equality where JSON types must match: 1 != 1.0 and True != 1, as for Go's decoded JSON."""
    kind = type(left)
    if kind is not type(right):
        return False
    if kind is _DICT:
        if len(left) != len(right):
            return False
        return all(not (key not in right or not json_equal(item, right[key])) for key, item in left.items())
    if kind is _LIST:
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


def go_json_kind(value: Any) -> str:
    """The JSON kind Go's encoding/json names in `cannot unmarshal <kind> into ...` errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
