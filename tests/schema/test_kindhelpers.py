"""Semantic equality and int-or-percent handling shared by the kind validators."""

from __future__ import annotations

from kubelite.schema.kindhelpers import (
    int_or_percent_value,
    int_or_string_text,
    not_more_than_100_percent,
    semantic_equal,
    validate_positive_int_or_percent,
)


def test_semantic_equal_treats_missing_null_and_empty_alike() -> None:
    assert semantic_equal({"a": 1, "b": []}, {"a": 1})
    assert semantic_equal({"a": None}, {"a": {}})
    assert semantic_equal({"l": [{"x": {}}]}, {"l": [{}]})
    assert not semantic_equal({"a": 1}, {"a": 2})
    assert not semantic_equal({"a": ""}, {})
    assert not semantic_equal([1], [1, 2])
    assert not semantic_equal({"a": True}, {"a": 1})
    assert semantic_equal(1, 1.0)


def test_int_or_percent() -> None:
    assert int_or_percent_value("25%") == 25
    assert int_or_percent_value(3) == 3
    assert int_or_percent_value("7") == 7
    assert int_or_percent_value("x") == 0
    assert str(int_or_string_text("25%")) == "25%"
    assert str(int_or_string_text(4)) == "4"
    assert validate_positive_int_or_percent("10%", "p") == []
    assert [c["message"] for c in validate_positive_int_or_percent(-1, "p")] == [
        "Invalid value: -1: must be greater than or equal to 0"
    ]
    assert [c["message"] for c in not_more_than_100_percent("101%", "p")] == [
        "Invalid value: 101%: must not be greater than 100%"
    ]
