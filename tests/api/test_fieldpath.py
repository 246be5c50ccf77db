"""Field sets, their fieldsV1 encoding, path strings and ToFieldSet."""

from __future__ import annotations

import pytest

from kubelite.api.fieldpath import (
    FieldSet,
    SchemaError,
    Shapes,
    ensure_named_fields_are_members,
    field_set_of,
    index_pe,
    key_pe,
    path_string,
    value_pe,
)
from tests.api.fake_schema_apply import deployment_schema, widget_schema

NGINX = 'k:{"name":"nginx"}'
PORT80 = 'k:{"containerPort":80,"protocol":"TCP"}'


def test_path_elements_are_spelled_canonically() -> None:
    assert key_pe({"protocol": "TCP", "containerPort": 80}) == PORT80
    assert key_pe({"name": "a<b"}) == 'k:{"name":"a\\u003cb"}'
    assert value_pe("example.com/finalizer") == 'v:"example.com/finalizer"'
    assert value_pe(1.0) == "v:1"
    assert index_pe(3) == "i:3"


def test_path_strings_follow_upstream() -> None:
    assert path_string(("f:spec", "f:template", "f:spec", "f:containers", NGINX, "f:image")) == (
        '.spec.template.spec.containers[name="nginx"].image'
    )
    assert path_string(("f:spec", "f:ports", PORT80)) == '.spec.ports[containerPort=80,protocol="TCP"]'
    assert path_string(("f:metadata", "f:finalizers", 'v:"a"')) == '.metadata.finalizers[="a"]'
    assert path_string(("f:spec", "f:args", "i:2")) == ".spec.args[2]"


def test_from_fields_v1_canonicalises_and_reads_membership() -> None:
    raw = {
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {
            "f:ports": {'k:{"protocol": "TCP", "containerPort": 80}': {".": {}, "f:name": {}}},
            "x:future": {},
            "f:only-unknown": {"x:future": {}},
        },
    }
    s = FieldSet.from_fields_v1(raw)
    assert s.has(("f:metadata", "f:labels"))
    assert s.has(("f:metadata", "f:labels", "f:app"))
    assert not s.has(("f:metadata",))
    assert s.has(("f:spec", "f:ports", PORT80))
    assert s.has(("f:spec", "f:ports", PORT80, "f:name"))
    # a node whose children are all unknown element types becomes a member (upstream readIterV1)
    assert s.has(("f:spec", "f:only-unknown"))
    assert not s.has(("f:spec", "x:future"))


@pytest.mark.parametrize("bad", [{"f": {}}, {"fx": {}}, {"k:[1]": {}}, {"i:one": {}}, {"f:a": 3}, []])
def test_from_fields_v1_rejects_malformed(bad: object) -> None:
    with pytest.raises(ValueError):
        FieldSet.from_fields_v1(bad)


def test_to_fields_v1_orders_like_upstream() -> None:
    s = FieldSet.from_paths(
        [
            ("f:b",),
            ("f:a", "i:10"),
            ("f:a", "i:2"),
            ("f:c", 'k:{"name":"z"}'),
            ("f:c", 'k:{"name":"a"}', "f:x"),
            ("f:c", 'k:{"name":"a"}'),
            ("f:d", "v:10"),
            ("f:d", 'v:"a"'),
            ("f:d", "v:2"),
        ]
    )
    out = s.to_fields_v1()
    assert list(out) == ["f:a", "f:b", "f:c", "f:d"]
    assert list(out["f:a"]) == ["i:2", "i:10"]
    assert list(out["f:c"]) == ['k:{"name":"a"}', 'k:{"name":"z"}']
    assert list(out["f:c"]['k:{"name":"a"}']) == ["f:x", "."]
    assert list(out["f:d"]) == ["v:2", "v:10", 'v:"a"']
    assert FieldSet.from_fields_v1(out) == s


def _set(*paths: tuple[str, ...]) -> FieldSet:
    return FieldSet.from_paths(paths)


def test_union_keeps_membership_and_children() -> None:
    a = _set(("f:a",), ("f:b", "f:x"))
    b = _set(("f:a", "f:y"), ("f:b",))
    u = a.union(b)
    assert u == _set(("f:a",), ("f:a", "f:y"), ("f:b",), ("f:b", "f:x"))
    assert u.to_fields_v1() == {"f:a": {"f:y": {}, ".": {}}, "f:b": {"f:x": {}, ".": {}}}


def test_difference_is_structural() -> None:
    a = _set(("f:a",), ("f:a", "f:y"), ("f:b", "f:x"), ("f:c",))
    b = _set(("f:a",), ("f:b",), ("f:c",))
    # a parent member removes only the parent's membership, never its children
    assert a.difference(b) == _set(("f:a", "f:y"), ("f:b", "f:x"))
    assert _set(("f:a", "f:y")).difference(_set(("f:a", "f:y"))).empty()


def test_recursive_difference_removes_subtrees() -> None:
    a = _set(("f:a",), ("f:a", "f:y"), ("f:b", "f:x"), ("f:b", "f:z"))
    b = _set(("f:a",), ("f:b", "f:z"))
    assert a.recursive_difference(b) == _set(("f:b", "f:x"))


def test_intersection_needs_membership_on_both_sides() -> None:
    a = _set(("f:a",), ("f:a", "f:y"), ("f:b", "f:x"))
    b = _set(("f:a", "f:y"), ("f:b",), ("f:b", "f:x"))
    assert a.intersection(b) == _set(("f:a", "f:y"), ("f:b", "f:x"))
    assert a.intersection(_set(("f:q",))).empty()


def test_paths_iterate_members_before_subtrees() -> None:
    s = _set(("f:spec", "f:template", "f:x"), ("f:spec", "f:replicas"), ("f:metadata", "f:labels", "f:app"))
    assert [path_string(p) for p in s.paths()] == [
        ".metadata.labels.app",
        ".spec.replicas",
        ".spec.template.x",
    ]


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": {
            "metadata": {"labels": {"app": "nginx"}},
            "spec": {
                "containers": [{"name": "nginx", "image": "nginx:1.14", "ports": [{"containerPort": 80}]}]
            },
        },
    },
}


def test_field_set_of_an_applied_deployment_matches_kubectl() -> None:
    got = field_set_of(DEPLOYMENT, deployment_schema()).to_fields_v1()
    assert got == {
        "f:apiVersion": {},
        "f:kind": {},
        "f:metadata": {"f:labels": {"f:app": {}}, "f:name": {}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:containers": {
                        NGINX: {
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {PORT80: {"f:containerPort": {}, ".": {}}},
                            ".": {},
                        }
                    }
                },
            },
        },
    }


def test_field_set_of_marks_null_and_empty_struct_fields_and_skips_empty_lists() -> None:
    obj = {"metadata": {"labels": {}, "annotations": None, "finalizers": []}, "spec": {"strategy": {}}}
    got = field_set_of(obj, deployment_schema()).to_fields_v1()
    assert got == {"f:metadata": {"f:annotations": {}, "f:labels": {}}, "f:spec": {"f:strategy": {}}}


def test_field_set_of_sets_and_deduced_fields() -> None:
    obj = {
        "metadata": {"finalizers": ["b", "a"]},
        "spec": {"size": 1, "extra": {"deep": {"x": 1}, "list": [1, 2]}},
    }
    got = field_set_of(obj, widget_schema()).to_fields_v1()
    assert got == {
        "f:metadata": {"f:finalizers": {'v:"a"': {}, 'v:"b"': {}}},
        "f:spec": {
            "f:extra": {"f:deep": {"f:x": {}, ".": {}}, "f:list": {}, ".": {}},
            "f:size": {},
        },
    }


def test_missing_list_map_key_without_default_is_an_error() -> None:
    ports = {
        "spec": {"template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}}}
    }
    with pytest.raises(SchemaError) as err:
        field_set_of(ports, Shapes(deployment_schema(), builtin=False).root)
    assert err.value.text() == (
        '.spec.template.spec.containers[name="c"].ports: element 0: associative list with keys has an '
        'element that omits key field "protocol" (and doesn\'t have default value)'
    )


def test_duplicates_are_errors_unless_allowed() -> None:
    obj = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]}}
        }
    }
    with pytest.raises(SchemaError) as err:
        field_set_of(obj, deployment_schema())
    assert err.value.text() == '.spec.template.spec.containers: duplicate entries for key [name="a"]'
    got = field_set_of(obj, deployment_schema(), allow_duplicates=True)
    assert got.to_fields_v1() == {
        "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"a"}': {}}}}}
    }


def test_ensure_named_fields_are_members() -> None:
    shape = Shapes(deployment_schema()).root
    s = _set(
        ("f:metadata", "f:labels", "f:app"),
        ("f:spec", "f:template", "f:spec", "f:containers", NGINX, "f:image"),
    )
    named = FieldSet(ensure_named_fields_are_members(s.root, shape))
    assert named.has(("f:metadata",))
    assert named.has(("f:metadata", "f:labels"))
    assert named.has(("f:spec", "f:template", "f:spec", "f:containers"))
    assert not named.has(("f:spec", "f:template", "f:spec", "f:containers", NGINX))
    assert (
        s.root
        == _set(
            ("f:metadata", "f:labels", "f:app"),
            ("f:spec", "f:template", "f:spec", "f:containers", NGINX, "f:image"),
        ).root
    )
