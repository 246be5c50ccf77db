"""The dispatch: every built-in kind reaches its validator, ObjectMeta rules apply per kind (name
format, scope), the generic registry checks wrap them, and unknown kinds get ObjectMeta only."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.schema.kindvalidation import validate_object

Obj = dict[str, Any]

DNS_LABEL_BAD = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def errors(resource: str, group: str, obj: Obj, old: Obj | None = None) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in validate_object(resource, group, obj, old)]


@pytest.mark.parametrize(
    ("resource", "group", "namespaced"),
    [
        ("configmaps", "", True),
        ("serviceaccounts", "", True),
        ("namespaces", "", False),
        ("persistentvolumes", "", False),
        ("deployments", "apps", True),
        ("jobs", "batch", True),
        ("ingresses", "networking.k8s.io", True),
        ("ingressclasses", "networking.k8s.io", False),
        ("clusterroles", "rbac.authorization.k8s.io", False),
        ("leases", "coordination.k8s.io", True),
        ("priorityclasses", "scheduling.k8s.io", False),
    ],
)
def test_name_is_required_and_scope_is_enforced(resource: str, group: str, namespaced: bool) -> None:
    found = errors(resource, group, {"metadata": {}})
    assert "metadata.name: Required value: name or generateName is required" in found
    if namespaced:
        assert "metadata.namespace: Required value" in found
    else:
        found = errors(resource, group, {"metadata": {"name": "x", "namespace": "d"}})
        assert "metadata.namespace: Forbidden: not allowed on this type" in found


def test_namespace_names_are_dns_labels() -> None:
    assert errors("namespaces", "", {"metadata": {"name": "Team_A"}}) == [f'metadata.name: Invalid value: "Team_A": {DNS_LABEL_BAD}']


def test_generate_name_is_checked_as_a_prefix() -> None:
    found = errors("configmaps", "", {"metadata": {"name": "web-abcde", "generateName": "web-", "namespace": "d"}})
    assert found == []
    found = errors("configmaps", "", {"metadata": {"name": "x", "generateName": "Web-", "namespace": "d"}})
    assert found[0].startswith('metadata.generateName: Invalid value: "Web-": a lowercase RFC 1123 subdomain')


def test_update_checks_immutable_metadata_before_kind_rules() -> None:
    old = {"metadata": {"name": "cm", "namespace": "d", "uid": "1", "creationTimestamp": "2024-01-01T00:00:00Z"}, "data": {}}
    new = copy.deepcopy(old)
    new["metadata"]["uid"] = "2"
    new["metadata"]["labels"] = {"a": "-"}
    new["data"] = {"bad key": "x"}
    found = errors("configmaps", "", new, old)
    assert found[0].startswith('metadata.labels: Invalid value: "-": a valid label must be an empty string')
    assert found[1] == 'metadata.uid: Invalid value: "2": field is immutable'
    assert found[2].startswith('data[bad key]: Invalid value: "bad key"')
    assert len(found) == 3, "identical causes are reported once"


def test_finalizer_rules() -> None:
    meta = {"name": "cm", "namespace": "d", "finalizers": ["custom", "orphan", "foregroundDeletion", "example.com/a b"]}
    found = errors("configmaps", "", {"metadata": meta})
    assert found[0].startswith('metadata.finalizers: Invalid value: "example.com/a b": name part must consist of')
    assert found[1] == (
        'metadata.finalizers: Invalid value: []string{"custom", "orphan", "foregroundDeletion", "example.com/a b"}: '
        "finalizer orphan and foregroundDeletion cannot be both set"
    )
    assert found[2] == (
        'metadata.finalizers[0]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified'
    )
    assert len(found) == 3


def test_no_new_finalizers_while_deleting() -> None:
    old = {"metadata": {"name": "cm", "namespace": "d", "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["kubernetes"]}}
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = ["kubernetes", "example.com/x"]
    assert errors("configmaps", "", new, old) == [
        'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/x"}'
    ]


def test_unknown_kinds_and_custom_resources_get_object_meta_only() -> None:
    obj = {"metadata": {"name": "Any_Name:ok", "namespace": "d", "labels": {"a": "-"}}, "spec": {"anything": [1, 2]}}
    found = errors("widgets", "example.com", obj)
    assert len(found) == 1 and found[0].startswith('metadata.labels: Invalid value: "-"')
    obj["metadata"]["labels"] = {}
    assert errors("widgets", "example.com", obj) == []
    assert errors("widgets", "example.com", {"metadata": {"name": "a/b"}}) == ["metadata.name: Invalid value: \"a/b\": may not contain '/'"]
    assert errors("", "", {"metadata": {}}) == ["metadata.name: Required value: name or generateName is required"]


def test_builtin_kinds_without_rules_know_their_scope() -> None:
    found = errors("subjectaccessreviews", "authorization.k8s.io", {"metadata": {"name": "r", "namespace": "d"}})
    assert found == ["metadata.namespace: Forbidden: not allowed on this type"]
    found = errors("localsubjectaccessreviews", "authorization.k8s.io", {"metadata": {"name": "r"}})
    assert found == ["metadata.namespace: Required value"]


def test_custom_resource_definitions_are_left_to_the_registry() -> None:
    assert validate_object("customresourcedefinitions", "apiextensions.k8s.io", {"metadata": {}}, None) == []


def test_causes_are_status_causes() -> None:
    (found,) = validate_object("configmaps", "", {"metadata": {"namespace": "d"}}, None)
    assert found == {
        "reason": "FieldValueRequired",
        "message": "Required value: name or generateName is required",
        "field": "metadata.name",
    }
