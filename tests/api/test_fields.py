from __future__ import annotations

import pytest

from kubelite.api.errors import StatusError
from kubelite.api.fields import escape_value, parse_field_selector, unescape_value


@pytest.mark.parametrize(
    ("text", "requirements", "canonical"),
    [
        ("", [], ""),
        (",", [], ""),
        ("metadata.name=web", [("metadata.name", "=", "web")], "metadata.name=web"),
        ("metadata.name==web", [("metadata.name", "=", "web")], "metadata.name=web"),
        (
            "status.phase!=Running,spec.nodeName=n1",
            [("spec.nodeName", "=", "n1"), ("status.phase", "!=", "Running")],
            "spec.nodeName=n1,status.phase!=Running",
        ),
        ("spec.nodeName=", [("spec.nodeName", "=", "")], "spec.nodeName="),
        (r"metadata.name=a\,b\=c\\d", [("metadata.name", "=", "a,b=c\\d")], r"metadata.name=a\,b\=c\\d"),
        (r"a!=b\=\=c", [("a", "!=", "b==c")], r"a!=b\=\=c"),
    ],
)
def test_parse(text: str, requirements: list[tuple[str, str, str]], canonical: str) -> None:
    selector = parse_field_selector(text)
    assert selector.requirements == requirements
    assert str(selector) == canonical
    assert selector.is_empty is (not requirements)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
        ("a=b=c", "invalid field selector: unescaped character in value: 61"),
        ("a!==b", "invalid field selector: unescaped character in value: 61"),
        (r"a=b\x", "invalid field selector: invalid escape sequence: \\x"),
        ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_invalid_selectors_are_bad_requests(text: str, message: str) -> None:
    with pytest.raises(StatusError) as caught:
        parse_field_selector(text)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (400, "BadRequest", message)


def test_matching_reads_missing_fields_as_empty() -> None:
    selector = parse_field_selector("spec.nodeName=,status.phase!=Failed")
    assert selector.matches({"status.phase": "Running"})
    assert not selector.matches({"spec.nodeName": "n1", "status.phase": "Running"})
    assert not selector.matches({"status.phase": "Failed"})
    assert parse_field_selector("metadata.name=a").requires_exact_match("metadata.name") == "a"
    assert parse_field_selector("metadata.name!=a").requires_exact_match("metadata.name") is None


def test_escape_round_trip() -> None:
    for value in ["plain", "a,b", "a=b", "a\\b", "\\,=", ""]:
        assert unescape_value(escape_value(value)) == value
