from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.api.mergepatch import apply_merge_patch, create_merge_patch


def apply(doc: Any, patch: Any) -> Any:
    before_doc, before_patch = copy.deepcopy(doc), copy.deepcopy(patch)
    result = apply_merge_patch(doc, patch)
    assert doc == before_doc and patch == before_patch, "inputs were mutated"
    return result


@pytest.mark.parametrize(
    ("doc", "patch", "expected"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        ({"a": "x"}, {"a": {"b": None, "c": [{"d": None}]}}, {"a": {"c": [{}]}}),
        ({"a": {"b": 1}}, {"a": [{"d": None}, None]}, {"a": [{"d": None}, None]}),
    ],
)
def test_rfc7386_rules_as_the_apiserver_applies_them(doc: Any, patch: Any, expected: Any) -> None:
    assert apply(doc, patch) == expected


def test_result_shares_nothing_with_inputs() -> None:
    doc = {"metadata": {"labels": {"a": "1"}}, "spec": {"list": [1]}}
    patch = {"spec": {"new": {"x": [1]}}}
    result = apply_merge_patch(doc, patch)
    result["metadata"]["labels"]["b"] = "2"
    result["spec"]["new"]["x"].append(2)
    result["spec"]["list"].append(2)
    assert doc == {"metadata": {"labels": {"a": "1"}}, "spec": {"list": [1]}}
    assert patch == {"spec": {"new": {"x": [1]}}}


@pytest.mark.parametrize("patch", [None, "x", 3, True])
def test_non_object_patch_is_a_bad_request(patch: Any) -> None:
    with pytest.raises(StatusError) as caught:
        apply({"a": 1}, patch)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        400,
        "BadRequest",
        "Invalid JSON Patch",
    )


def test_array_patch_replaces_the_document() -> None:
    assert apply({"a": 1}, [1, None, {"b": None}]) == [1, None, {}]


def test_create_merge_patch_round_trips() -> None:
    original = {
        "metadata": {"labels": {"a": "1", "b": "2"}},
        "spec": {"replicas": 1, "ports": [80], "keep": {"x": 1}},
    }
    modified = {
        "metadata": {"labels": {"a": "1", "c": "3"}},
        "spec": {"replicas": 2, "ports": [80, 443], "keep": {"x": 1}},
    }
    patch = create_merge_patch(original, modified)
    assert patch == {
        "metadata": {"labels": {"b": None, "c": "3"}},
        "spec": {"replicas": 2, "ports": [80, 443]},
    }
    assert apply_merge_patch(original, patch) == modified
    assert create_merge_patch(original, original) == {}
    assert create_merge_patch({"a": 1}, {"a": 1.0}) == {"a": 1.0}
