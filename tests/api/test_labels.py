from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.api.labels import (
    LabelSelector,
    LabelSelectorError,
    parse_label_selector,
    selector_from_set,
    selector_from_spec,
    selector_to_string,
)

NAME_RULE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("app=web", "app=web"),
        ("app==web", "app==web"),
        ("  b=2 , a==1,!c,  d!=3  ", "a==1,b=2,!c,d!=3"),
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("tier in (b, a, b)", "tier in (a,b)"),
        ("env notin(prod)", "env notin (prod)"),
        ("in in (in, notin)", "in in (in,notin)"),
        ("example.com/role", "example.com/role"),
        ("a=", "a="),
        ("replicas>2,replicas<10", "replicas>2,replicas<10"),
        ("a=b\x00,garbage(", "a=b"),
    ],
)
def test_parse_and_canonical_string(text: str, canonical: str) -> None:
    assert str(parse_label_selector(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a===b", "unable to parse requirement: found '=', expected: identifier"),
        (
            "type=app,versionv1.0.1)",
            "unable to parse requirement: found ')', expected: in, notin, =, ==, !=, gt, lt",
        ),
        (
            "component not in (x)",
            "unable to parse requirement: found 'not', expected: in, notin, =, ==, !=, gt, lt",
        ),
        ("app:monolith", f'unable to parse requirement: <nil>: Invalid value: "app:monolith": {NAME_RULE}'),
        (
            "app.kubernetes_io/name=x",
            'unable to parse requirement: <nil>: Invalid value: "app.kubernetes_io/name": prefix part a lowercase '
            "RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end "
            "with an alphanumeric character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
        (
            "a/b/c=d",
            'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
            "(e.g. 'example.com/MyName')",
        ),
        ("/a", 'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty'),
        ("a=b,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("x in a", "unable to parse requirement: found 'a' expected: '('"),
        ("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"),
        ("x in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        (
            "a>b",
            "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer",
        ),
        ("a=-b", f'unable to parse requirement: values[0][a]: Invalid value: "-b": {VALUE_RULE}'),
        (
            "a>-b",
            "unable to parse requirement: [values[0]: Invalid value: \"-b\": for 'Gt', 'Lt' operators, the value must "
            f'be an integer, values[0][a]: Invalid value: "-b": {VALUE_RULE}]',
        ),
        (
            "k=" + "v" * 64,
            f'unable to parse requirement: values[0][k]: Invalid value: "{"v" * 64}": must be no more than 63 characters',
        ),
    ],
)
def test_invalid_selectors_are_bad_requests_with_upstream_wording(text: str, message: str) -> None:
    with pytest.raises(StatusError) as caught:
        parse_label_selector(text)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (400, "BadRequest", message)


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("", {"a": "1"}, True),
        ("", None, True),
        ("app=web", {"app": "web", "x": "y"}, True),
        ("app=web", {"app": "db"}, False),
        ("app=web", {}, False),
        ("app!=web", {}, True),
        ("app!=web", {"app": "web"}, False),
        ("tier in (a,b)", {"tier": "b"}, True),
        ("tier in (a,b)", {}, False),
        ("tier notin (a,b)", {}, True),
        ("tier notin (a,b)", {"tier": "a"}, False),
        ("app", {"app": ""}, True),
        ("!app", {"app": ""}, False),
        ("!app", {"other": "x"}, True),
        ("a=", {"a": ""}, True),
        ("a=", {}, False),
        ("n>5", {"n": "6"}, True),
        ("n>5", {"n": "5"}, False),
        ("n<5", {"n": "-1"}, True),
        ("n<5", {"n": "x"}, False),
        ("n<5", {}, False),
        ("app=web,tier in (a)", {"app": "web", "tier": "a"}, True),
        ("app=web,tier in (a)", {"app": "web", "tier": "b"}, False),
    ],
)
def test_matching(text: str, labels: dict[str, str] | None, expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


def test_selector_properties() -> None:
    assert parse_label_selector("").is_empty
    assert not parse_label_selector("a").is_empty
    assert not LabelSelector.nothing().is_empty
    assert not LabelSelector.nothing().matches({})
    assert parse_label_selector("b=1,a in (x)").requires_exact_match("a") == "x"
    assert parse_label_selector("a!=x").requires_exact_match("a") is None
    assert parse_label_selector("a=1,b=2") == parse_label_selector("b=2, a=1")
    assert str(selector_from_set({"b": "2", "a": "1"})) == "a=1,b=2"
    assert selector_from_set(None).is_empty


def test_selector_from_spec() -> None:
    spec = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},
            {"key": "zone", "operator": "Exists"},
        ],
    }
    selector = selector_from_spec(spec)
    assert str(selector) == "app=web,!canary,env notin (prod),tier in (a,b),zone"
    assert selector.matches({"app": "web", "tier": "a", "zone": "z1"})
    assert not selector.matches({"app": "web", "tier": "a", "zone": "z1", "canary": "1"})
    assert selector_from_spec(None).matches_nothing and not selector_from_spec(None).matches({})
    assert selector_from_spec({}).is_empty and selector_from_spec({"matchLabels": {}}).matches({"x": "y"})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"matchExpressions": [{"key": "a", "operator": "Foo"}]},
            '"Foo" is not a valid label selector operator',
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            'values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist',
        ),
        ({"matchLabels": {"-a": "x"}}, f'key: Invalid value: "-a": {NAME_RULE}'),
        ({"matchLabels": {"a": "x y"}}, f'values[0][a]: Invalid value: "x y": {VALUE_RULE}'),
    ],
)
def test_invalid_specs_raise_value_errors(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(LabelSelectorError) as caught:
        selector_from_spec(spec)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == message


def test_selector_to_string_like_kubectl_describe() -> None:
    assert selector_to_string(None) == "<none>"
    assert selector_to_string({}) == "<none>"
    assert selector_to_string({"matchLabels": {"app": "web", "a": "b"}}) == "a=b,app=web"
    assert selector_to_string({"matchExpressions": [{"key": "a", "operator": "Bad"}]}) == "<error>"
