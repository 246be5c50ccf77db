from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.schema.definitions import OBJECT_META, DefinitionNode, Definitions
from kubelite.schema.validation import (
    CheckResult,
    apply_field_validation,
    check_object,
    find_duplicate_fields,
    go_base64_error,
    go_time_error,
    parse_field_validation,
    quantity_error,
)

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"


def node(name: str) -> DefinitionNode:
    return Definitions.load().node(name)


def deployment(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                        }
                    ]
                },
            },
        },
    }
    body["spec"].update(spec)
    return body


def check(obj: dict[str, Any], name: str = DEPLOYMENT, kind: str = "Deployment", api_version: str = "apps/v1") -> CheckResult:
    return check_object(obj, node(name), kind, api_version)


def container(obj: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return c


# --- type errors -----------------------------------------------------------------------------


def test_valid_object_passes_untouched() -> None:
    obj = deployment()
    before = copy.deepcopy(obj)
    result = check(obj)
    assert result.decode_error is None and result.unknown == [] and result.error() is None
    assert obj == before


def test_wrong_scalar_type_is_a_400_in_upstream_words() -> None:
    result = check(deployment(replicas="3"))
    assert result.decode_error == "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
    err = result.error()
    assert err is not None and err.code == 400 and err.reason == "BadRequest"
    assert err.message == (
        'Deployment in version "v1" cannot be handled as a Deployment: '
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
    )
    with pytest.raises(StatusError):
        result.raise_for_error()


def test_type_error_paths_skip_indices_and_map_keys() -> None:
    obj = deployment()
    container(obj)["ports"][0]["containerPort"] = "80"
    assert check(obj).decode_error == (
        "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32"
    )
    obj = deployment()
    obj["metadata"]["labels"]["n"] = 1
    assert check(obj).decode_error == "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"replicas": 1.5}, "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
        ({"replicas": 2**31}, "json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas of type int32"),
        ({"replicas": True}, "json: cannot unmarshal bool into Go struct field DeploymentSpec.spec.replicas of type int32"),
        ({"paused": "yes"}, "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"),
        ({"template": "x"}, "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.template of type v1.PodTemplateSpec"),
        ({"selector": []}, "json: cannot unmarshal array into Go struct field DeploymentSpec.spec.selector of type v1.LabelSelector"),
    ],
)
def test_type_error_messages(spec: dict[str, Any], message: str) -> None:
    assert check(deployment(**spec)).decode_error == message


def test_wrong_container_shapes() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"] = {"name": "x"}
    assert check(obj).decode_error == (
        "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"
    )
    obj = deployment()
    container(obj)["args"] = ["a", 1]
    assert check(obj).decode_error == (
        "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.args of type string"
    )
    obj = deployment()
    container(obj)["resources"]["limits"] = "1"
    assert check(obj).decode_error == (
        "json: cannot unmarshal string into Go struct field ResourceRequirements.spec.template.spec.containers.resources.limits of type v1.ResourceList"
    )


def test_custom_unmarshalers() -> None:
    obj = deployment()
    container(obj)["resources"]["limits"]["cpu"] = "1x"
    assert check(obj).decode_error == "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    obj = deployment()
    obj["metadata"]["creationTimestamp"] = "yesterday"
    assert check(obj).decode_error == 'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"'
    obj = deployment()
    obj["metadata"]["creationTimestamp"] = 5
    assert check(obj).decode_error == "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string"
    service = {"spec": {"ports": [{"port": 80, "targetPort": True}]}}
    assert check(service, "io.k8s.api.core.v1.Service", "Service", "v1").decode_error == (
        "json: cannot unmarshal bool into Go struct field ServicePort.spec.ports.targetPort of type int32"
    )
    ok = {"spec": {"ports": [{"port": 80, "targetPort": "http"}, {"port": 81, "targetPort": 8081}]}}
    assert check(ok, "io.k8s.api.core.v1.Service", "Service", "v1").decode_error is None
    secret = {"data": {"a": "aGVsbG8"}}
    assert check(secret, "io.k8s.api.core.v1.Secret", "Secret", "v1").decode_error == "illegal base64 data at input byte 4"
    assert check({"data": {"a": "aGVsbG8="}}, "io.k8s.api.core.v1.Secret", "Secret", "v1").decode_error is None


def test_a_later_unmarshaler_error_wins_over_an_earlier_type_error() -> None:
    obj = deployment(replicas="2")
    container(obj)["resources"]["limits"]["cpu"] = "x"
    message = check(obj).decode_error
    assert message is not None and message.startswith("quantities must match")


def test_micro_time_needs_microseconds() -> None:
    event = {"eventTime": "2024-01-02T03:04:05Z"}
    assert check(event, "io.k8s.api.events.v1.Event", "Event", "events.k8s.io/v1").decode_error == (
        'parsing time "2024-01-02T03:04:05Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"'
    )
    event = {"eventTime": "2024-01-02T03:04:05.123456Z"}
    assert check(event, "io.k8s.api.events.v1.Event", "Event", "events.k8s.io/v1").decode_error is None


# --- unknown fields and pruning --------------------------------------------------------------


def test_unknown_fields_are_reported_with_strict_paths_and_pruned() -> None:
    obj = deployment(foo=1)
    container(obj)["bar"] = {"deep": 1}
    obj["metadata"]["extra"] = "x"
    obj["top"] = True
    result = check(obj)
    assert result.decode_error is None
    assert result.unknown == ["metadata.extra", "spec.template.spec.containers[0].bar", "spec.foo", "top"]
    assert "foo" not in obj["spec"] and "bar" not in container(obj) and "top" not in obj
    assert "extra" not in obj["metadata"]


def test_prune_can_be_disabled_and_nulls_are_dropped() -> None:
    obj = deployment(foo=1, paused=None)
    check_object(obj, node(DEPLOYMENT), "Deployment", "apps/v1", prune=False)
    assert obj["spec"]["foo"] == 1 and obj["spec"]["paused"] is None
    check_object(obj, node(DEPLOYMENT), "Deployment", "apps/v1")
    assert "foo" not in obj["spec"] and "paused" not in obj["spec"]


def test_free_form_values_are_neither_checked_nor_pruned() -> None:
    revision = {"metadata": {"name": "r"}, "revision": 1, "data": {"spec": {"anything": [1, {"x": None}]}}}
    result = check(revision, "io.k8s.api.apps.v1.ControllerRevision", "ControllerRevision")
    assert result.unknown == [] and result.decode_error is None
    assert revision["data"] == {"spec": {"anything": [1, {"x": None}]}}
    managed = deployment()
    managed["metadata"]["managedFields"] = [{"manager": "m", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]
    assert check(managed).unknown == []


def test_metadata_checked_on_its_own_uses_a_prefix() -> None:
    meta = {"name": "x", "bogus": 1}
    result = check_object(meta, node(OBJECT_META), "CronTab", "stable.example.com/v1", path="metadata")
    assert result.unknown == ["metadata.bogus"] and "bogus" not in meta
    bad = {"labels": {"a": 1}}
    result = check_object(bad, node(OBJECT_META), "CronTab", "stable.example.com/v1", path="metadata")
    assert result.decode_error == "json: cannot unmarshal number into Go struct field ObjectMeta.labels of type string"
    err = result.error()
    assert err is not None and err.message.startswith('CronTab in version "v1" cannot be handled as a CronTab: ')


# --- duplicates ------------------------------------------------------------------------------

DUPLICATED = (
    b'{"kind":"Deployment","metadata":{"name":"a","name":"b","labels":{"x":"1","x":"2"}},'
    b'"spec":{"replicas":1,"replicas":2,"foo":{"a":1,"a":2},'
    b'"template":{"spec":{"containers":[{"name":"a","name":"b"}]}}}}'
)


def test_duplicate_json_fields_in_document_order() -> None:
    assert find_duplicate_fields(DUPLICATED, node=node(DEPLOYMENT)) == [
        'duplicate field "metadata.name"',
        'duplicate field "metadata.labels.x"',
        'duplicate field "spec.replicas"',
        'duplicate field "spec.template.spec.containers[0].name"',
    ]
    # without a typed node (custom resources) every object counts, unknown ones included
    assert 'duplicate field "spec.foo.a"' in find_duplicate_fields(DUPLICATED)
    assert find_duplicate_fields(b'{"a":{"b":1},"c":[{"d":1}]}') == []


def test_duplicate_yaml_keys() -> None:
    body = b"metadata:\n  name: a\n  name: b\nspec:\n  replicas: 1\n  replicas:\n    2\n"
    assert find_duplicate_fields(body, yaml=True) == [
        'yaml: unmarshal errors:\n  line 3: key "name" already set in map\n  line 7: key "replicas" already set in map'
    ]
    assert find_duplicate_fields(b"a: 1\nb: 2\n", yaml=True) == []


# --- fieldValidation -------------------------------------------------------------------------


def test_strict_raises_the_decode_error_with_all_strict_errors() -> None:
    with pytest.raises(StatusError) as info:
        apply_field_validation(
            "Strict", ["spec.foo", "spec.template.spec.containers[0].bar"], ['duplicate field "spec.replicas"'],
            kind="Deployment", api_version="apps/v1",
        )
    assert info.value.code == 400 and info.value.reason == "BadRequest"
    assert info.value.message == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.foo", unknown field "spec.template.spec.containers[0].bar", duplicate field "spec.replicas"'
    )


def test_strict_order_for_custom_resources_and_patches() -> None:
    with pytest.raises(StatusError) as info:
        apply_field_validation("Strict", ["spec.foo"], ['duplicate field "spec.a"'], kind="CronTab", api_version="v1", custom_resource=True)
    assert info.value.message.endswith('strict decoding error: duplicate field "spec.a", unknown field "spec.foo"')
    with pytest.raises(StatusError) as info:
        apply_field_validation("Strict", ["spec.foo"], [], patched='{"spec":{"foo":1}}')
    assert info.value.code == 422
    assert info.value.message == ' "" is invalid: patch: Invalid value: "{\\"spec\\":{\\"foo\\":1}}": strict decoding error: unknown field "spec.foo"'


def test_warn_returns_one_warning_per_error_and_ignore_nothing() -> None:
    yaml_error = 'yaml: unmarshal errors:\n  line 3: key "name" already set in map\n  line 7: key "replicas" already set in map'
    assert apply_field_validation("Warn", ["spec.foo"], [yaml_error]) == [
        'unknown field "spec.foo"',
        'line 3: key "name" already set in map',
        'line 7: key "replicas" already set in map',
    ]
    assert apply_field_validation("Ignore", ["spec.foo"], ['duplicate field "a"']) == []
    assert apply_field_validation("Strict", [], []) == []


def test_field_validation_parameter() -> None:
    assert parse_field_validation(None) == "Warn"
    assert parse_field_validation("") == "Warn"
    assert parse_field_validation("Strict") == "Strict"
    with pytest.raises(StatusError) as info:
        parse_field_validation("strict")
    assert info.value.code == 422
    assert info.value.message == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": '
        'supported values: "", "Ignore", "Strict", "Warn"'
    )


# --- Go parsers and formatting ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("1", None), ("100m", None), ("1.5Gi", None), ("1e3", None), ("-2", None), ("1E", None),
        ("abc", "format"), ("5Gx", "format"), ("12Q", "format"), ("", "format"),
        ("5ii", "suffix"), ("1e", "suffix"), ("1Ki5", "suffix"),
    ],
)
def test_quantity_errors(text: str, error: str | None) -> None:
    message = quantity_error(text)
    if error is None:
        assert message is None
    else:
        assert message is not None and (("regular expression" in message) if error == "format" else message == "unable to parse quantity's suffix")


@pytest.mark.parametrize(
    ("text", "offset"),
    [("aGVsbG8=", None), ("aGVsbG8", 4), ("aGVs*G8=", 4), ("a", 0), ("ab=", 3), ("ab==x", 4), ("a\nGVsbG8=", None), ("", None)],
)
def test_go_base64_offsets(text: str, offset: int | None) -> None:
    assert go_base64_error(text) == offset


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024-01-02T03:04:05Z", None),
        ("2024-01-02T03:04:05.5+01:00", None),
        ("2024-13-01T00:00:00Z", 'parsing time "2024-13-01T00:00:00Z": month out of range'),
        ("2024-02-30T00:00:00Z", 'parsing time "2024-02-30T00:00:00Z": day out of range'),
        ("2024-01-02 03:04:05Z", 'parsing time "2024-01-02 03:04:05Z" as "2006-01-02T15:04:05Z07:00": cannot parse " 03:04:05Z" as "T"'),
        ("2024-01-02T03:04:05", 'parsing time "2024-01-02T03:04:05" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00"'),
        ("2024-01-02T03:04:05Zx", 'parsing time "2024-01-02T03:04:05Zx": extra text: "x"'),
    ],
)
def test_go_time_errors(text: str, message: str | None) -> None:
    assert go_time_error(text) == message

