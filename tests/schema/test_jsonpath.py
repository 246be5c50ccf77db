"""client-go JSONPath semantics used by CRD printer columns."""

from __future__ import annotations

import pytest

from kubelite.schema.jsonpath import JSONPathError, compile_path, format_value

OBJ = {
    "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web", "tier": "front"}},
    "spec": {
        "replicas": 3,
        "ratio": 1.5,
        "paused": False,
        "containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "busybox", "port": 80}],
        "note": None,
    },
    "status": {
        "conditions": [
            {"type": "Progressing", "status": "True", "observed": 2},
            {"type": "Ready", "status": "False", "observed": 5},
        ]
    },
}


def find(expr: str) -> list[object]:
    return compile_path(expr).find(OBJ)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (".spec.replicas", [3]),
        ("{.spec.replicas}", [3]),
        ("$.spec.replicas", [3]),
        (".spec.missing", []),
        (".spec.missing.deeper", []),
        (".spec.note", [None]),
        (".spec.containers[*].name", ["a", "b"]),
        (".spec.containers[0].image", ["nginx"]),
        (".spec.containers[-1].image", ["busybox"]),
        (".spec.containers[0:1].name", ["a"]),
        (".spec.containers[1:].name", ["b"]),
        (".spec.containers[0,1].name", ["a", "b"]),
        (".spec.containers[?(@.port)].name", ["b"]),
        ('.status.conditions[?(@.type=="Ready")].status', ["False"]),
        (".status.conditions[?(@.type=='Ready')].status", ["False"]),
        ('.status.conditions[?(@.status != "True")].type', ["Ready"]),
        (".status.conditions[?(@.observed > 3)].type", ["Ready"]),
        (".status.conditions[?(@.observed<=2)].type", ["Progressing"]),
        (".metadata.labels.app\\.kubernetes\\.io/name", ["web"]),
        (".metadata.labels['app\\.kubernetes\\.io/name']", ["web"]),
        (".metadata.labels['tier']", ["front"]),
        ("..image", ["nginx", "busybox"]),
        (".spec.containers[1].*", ["b", "busybox", 80]),
    ],
)
def test_find(expr: str, expected: list[object]) -> None:
    assert find(expr) == expected


@pytest.mark.parametrize(
    "expr",
    [
        ".spec.containers[5].name",  # index out of range
        ".spec.replicas[0]",  # indexing a number
        ".spec[?(@.a)]",  # filtering a map
        '.status.conditions[?(@.observed=="5")].type',  # number compared with a string
        ".status.conditions[?(@.missing==1)].type",  # nothing to compare
        ".spec.containers[::0].name",  # zero step
    ],
)
def test_evaluation_errors(expr: str) -> None:
    with pytest.raises(JSONPathError):
        find(expr)


@pytest.mark.parametrize("expr", ["spec.replicas", ".a[", ".a[x]", ".a[?(@.b==1]", "....a", ".a{"])
def test_parse_errors(expr: str) -> None:
    with pytest.raises(JSONPathError):
        compile_path(expr)


def test_compile_is_cached() -> None:
    assert compile_path(".spec.replicas") is compile_path(".spec.replicas")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("x", "x"),
        (3, "3"),
        (True, "true"),
        (None, "<no value>"),
        (1.5, "1.5"),
        (2.0, "2"),
        (1e6, "1e+06"),
        (123456.5, "123456.5"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        ({"b": 1, "a": "<x>"}, '{"a":"\\u003cx\\u003e","b":1}'),
        ([1, "a", 2.0], '[1,"a",2]'),
    ],
)
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text

