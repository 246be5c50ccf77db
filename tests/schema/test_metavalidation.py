"""ObjectMeta, label and selector rules shared by every kind."""

from __future__ import annotations

from typing import Any

from kubelite.schema import names
from kubelite.schema.metavalidation import (
    selector_is_parsable,
    selector_matches,
    validate_label_selector,
    validate_object_meta,
    validate_object_meta_update,
    validate_template_object_meta,
)


def messages(causes: list[dict[str, str]]) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in causes]


def test_label_key_error_matches_upstream() -> None:
    meta = {"name": "x", "namespace": "d", "labels": {"-bad": "ok"}}
    assert messages(validate_object_meta(meta, True, names.name_is_dns_subdomain)) == [
        "metadata.labels: Invalid value: \"-bad\": name part must consist of alphanumeric characters, '-', '_' or '.', "
        "and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
        "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    ]


def test_annotations_owner_references_and_generation() -> None:
    meta: dict[str, Any] = {
        "name": "x",
        "generation": -1,
        "annotations": {"Example.COM/Key": "fine", "a b": "bad"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "1"}],
    }
    found = messages(validate_object_meta(meta, False, names.name_is_dns_subdomain))
    assert found[0] == "metadata.generation: Invalid value: -1: must be greater than or equal to 0"
    assert found[1].startswith('metadata.annotations: Invalid value: "a b": name part must consist of')
    assert found[2] == (
        'metadata.ownerReferences: Invalid value: v1.OwnerReference{APIVersion:"v1", Kind:"Event", Name:"e", UID:"1"}: '
        "/v1, Kind=Event is disallowed from being an owner"
    )
    assert len(found) == 3


def test_managed_fields_lengths_and_positions_are_in_bytes() -> None:
    meta = {"name": "x", "managedFields": [{"manager": "\u00e9" * 64 + "\x07", "operation": "Update"}]}
    assert messages(validate_object_meta(meta, False, names.name_is_dns_subdomain)) == [
        "metadata.managedFields[0].manager: Too long: may not be more than 128 bytes",
        'metadata.managedFields[0].manager: Invalid value: "' + "\u00e9" * 64 + '\\a": invalid character U+0007 (at position 128)',
    ]


def test_update_rules() -> None:
    old = {"name": "x", "namespace": "d", "uid": "1", "generation": 3}
    new = {"name": "y", "namespace": "d", "uid": "1", "generation": 2, "finalizers": ["custom"]}
    assert messages(validate_object_meta_update(new, old)) == [
        "metadata.generation: Invalid value: 2: must not be decremented",
        'metadata.name: Invalid value: "y": field is immutable',
        'metadata.finalizers[0]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified',
    ]
    assert messages(validate_object_meta_update(new, old, kube_finalizers=False))[-1] == 'metadata.name: Invalid value: "y": field is immutable'


def test_label_selector_validation_and_matching() -> None:
    selector = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "Exists", "values": ["x"]}]}
    assert messages(validate_label_selector(selector, "spec.selector")) == [
        "spec.selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
    ]
    assert not selector_is_parsable(selector)
    good = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}
    assert selector_matches(good, {"app": "web", "tier": "fe"})
    assert not selector_matches(good, {"app": "web", "tier": "db"})
    assert selector_matches({}, {"anything": "goes"})


def test_template_metadata_allows_only_labels_and_annotations() -> None:
    assert messages(validate_template_object_meta({"labels": {"a": "b"}, "name": "x"}, "spec.template.metadata")) == [
        "spec.template.metadata.name: Forbidden: cannot be set"
    ]
