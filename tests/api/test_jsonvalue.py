from __future__ import annotations

from typing import Any

from kubelite.api.jsonvalue import copy_json, go_json_kind, json_equal


def test_copy_json_shares_no_containers() -> None:
    value = {"a": [{"b": 1}], "c": {"d": [1, 2]}, "e": None, "f": 1.5, "g": True}
    copied = copy_json(value)
    assert copied == value
    copied["a"][0]["b"] = 2
    copied["c"]["d"].append(3)
    assert value == {"a": [{"b": 1}], "c": {"d": [1, 2]}, "e": None, "f": 1.5, "g": True}


def test_copy_json_handles_values_orjson_refuses() -> None:
    value = {"big": 2**70, "nested": [{"x": 2**65}]}
    copied = copy_json(value)
    assert copied == value and copied["nested"] is not value["nested"]
    assert copy_json("s") == "s"


def test_json_equal_is_type_strict() -> None:
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})
    assert not json_equal(1, 1.0)
    assert not json_equal(True, 1)
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})
    assert not json_equal([1], [1, 2])


def test_go_json_kind() -> None:
    values: list[Any] = [None, True, 1, 1.5, "s", [], {}]
    assert [go_json_kind(v) for v in values] == [
        "null",
        "bool",
        "number",
        "number",
        "string",
        "array",
        "object",
    ]
