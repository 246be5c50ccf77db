from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.api.jsonpatch import MAX_OPERATIONS, apply_json_patch, decode_pointer

POD: dict[str, Any] = {
    "metadata": {
        "name": "p",
        "labels": {"app": "web", "app.kubernetes.io/name": "web"},
        "annotations": {"a~b": "x"},
    },
    "spec": {"containers": [{"name": "c", "image": "nginx", "args": ["a", "b", "c"]}], "nodeName": None},
}


def apply(ops: Any, doc: dict[str, Any] | None = None) -> Any:
    doc = copy.deepcopy(POD) if doc is None else doc
    before_doc, before_ops = copy.deepcopy(doc), copy.deepcopy(ops)
    result = apply_json_patch(doc, ops)
    assert doc == before_doc and ops == before_ops, "inputs were mutated"
    return result


def rejected(ops: Any, doc: dict[str, Any] | None = None) -> StatusError:
    with pytest.raises(StatusError) as caught:
        apply(ops, doc)
    return caught.value


def test_pointer_decoding() -> None:
    assert decode_pointer("") == []
    assert decode_pointer("/a~1b/c~0d/~01") == ["a/b", "c~d", "~1"]
    assert decode_pointer("/") == [""]


def test_add_replace_remove() -> None:
    result = apply(
        [
            {"op": "add", "path": "/metadata/labels/tier", "value": "front"},
            {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.27"},
            {"op": "remove", "path": "/metadata/labels/app.kubernetes.io~1name"},
            {"op": "remove", "path": "/metadata/annotations/a~0b"},
        ]
    )
    assert result["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert result["metadata"]["annotations"] == {}
    assert result["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_array_positions() -> None:
    result = apply(
        [
            {"op": "add", "path": "/spec/containers/0/args/-", "value": "end"},
            {"op": "add", "path": "/spec/containers/0/args/0", "value": "start"},
            {"op": "add", "path": "/spec/containers/0/args/5", "value": "after-end"},
            {"op": "remove", "path": "/spec/containers/0/args/-1"},
            {"op": "replace", "path": "/spec/containers/0/args/-2", "value": "C"},
        ]
    )
    assert result["spec"]["containers"][0]["args"] == ["start", "a", "b", "C", "end"]


def test_move_copy_test() -> None:
    result = apply(
        [
            {"op": "test", "path": "/metadata/labels/app", "value": "web"},
            {"op": "copy", "from": "/metadata/labels", "path": "/spec/nodeSelector"},
            {"op": "move", "from": "/metadata/labels/app", "path": "/metadata/labels/role"},
            {"op": "test", "path": "/spec/nodeName", "value": None},
            {"op": "test", "path": "/spec/hostname", "value": None},
        ]
    )
    assert result["spec"]["nodeSelector"] == {"app": "web", "app.kubernetes.io/name": "web"}
    assert result["metadata"]["labels"] == {"app.kubernetes.io/name": "web", "role": "web"}
    result["spec"]["nodeSelector"]["x"] = "1"
    assert "x" not in result["metadata"]["labels"]


def test_test_compares_json_types_and_whole_values() -> None:
    doc = {"spec": {"replicas": 1, "paused": True, "selector": {"a": "1", "b": "2"}}}
    assert apply([{"op": "test", "path": "/spec/replicas", "value": 1}], doc) == doc
    for value in (1.0, True, "1"):
        assert rejected([{"op": "test", "path": "/spec/replicas", "value": value}], doc).code == 422
    assert rejected([{"op": "test", "path": "/spec/paused", "value": 1}], doc).code == 422
    assert rejected([{"op": "test", "path": "/spec/selector", "value": {"a": "1"}}], doc).code == 422
    assert rejected([{"op": "test", "path": "/spec/missing", "value": "x"}], doc).code == 422
    assert apply([{"op": "test", "path": "", "value": doc}], doc) == doc


def test_root_replace_and_empty_patch() -> None:
    assert apply([{"op": "replace", "path": "", "value": {"a": 1}}]) == {"a": 1}
    assert apply([]) == POD
    assert apply(None) == POD


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "replace", "path": "/metadata/labels/missing", "value": "x"}],
        [{"op": "remove", "path": "/metadata/labels/missing"}],
        [{"op": "add", "path": "/metadata/missing/x", "value": "x"}],
        [{"op": "add", "path": "/spec/containers/2", "value": {}}],
        [{"op": "remove", "path": "/spec/containers/1"}],
        [{"op": "add", "path": "/spec/containers/x", "value": {}}],
        [{"op": "add", "path": "/spec/nodeName/x", "value": 1}],
        [{"op": "test", "path": "/metadata/labels/app", "value": "db"}],
        [{"op": "copy", "from": "/nope", "path": "/spec/x"}],
        [{"op": "move", "from": "/metadata", "path": "/metadata/labels/m"}],
        [{"op": "frobnicate", "path": "/spec"}],
        [{"path": "/spec"}],
        [{"op": "add", "value": 1}],
        [{"op": "add", "path": "spec/x", "value": 1}],
        [None],
    ],
)
def test_failures_are_422_with_upstreams_generic_message(ops: Any) -> None:
    assert rejected(ops).status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server rejected our request due to an error in our request",
        "reason": "Invalid",
        "code": 422,
        "details": {},
    }


def test_failure_leaves_nothing_half_applied() -> None:
    doc = copy.deepcopy(POD)
    rejected(
        [{"op": "add", "path": "/metadata/labels/x", "value": "1"}, {"op": "remove", "path": "/nope"}], doc
    )
    assert doc == POD


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
        ("x", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
        ([1], "json: cannot unmarshal number into Go value of type jsonpatch.Operation"),
    ],
)
def test_malformed_bodies_are_bad_requests(body: Any, message: str) -> None:
    err = rejected(body)
    assert (err.code, err.reason, err.message) == (400, "BadRequest", message)


def test_too_many_operations() -> None:
    ops = [{"op": "test", "path": "/metadata/name", "value": "p"}] * (MAX_OPERATIONS + 1)
    err = rejected(ops)
    assert (err.code, err.reason) == (413, "RequestEntityTooLarge")
    assert err.message == (
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    )
