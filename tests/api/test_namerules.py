"""util/validation's qualified names, label values and DNS-1123 subdomains."""

from __future__ import annotations

from kubelite.api.namerules import (
    go_len,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    regex_error,
)

SUBDOMAIN_REGEX = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
    "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def test_lengths_are_go_lengths() -> None:
    assert go_len("abc") == 3
    assert go_len("\u00e9") == 2
    # 32 two-byte characters are 64 bytes: too long for a label value, as upstream counts
    assert is_valid_label_value("\u00e9" * 32)[0] == "must be no more than 63 characters"
    assert is_qualified_name("\u00e9" * 32)[0] == "name part must be no more than 63 characters"


def test_dns1123_subdomain() -> None:
    assert is_dns1123_subdomain("example.com") == []
    assert is_dns1123_subdomain("Example.com") == [SUBDOMAIN_REGEX]
    assert is_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]
    assert is_dns1123_subdomain("x.\n") == [SUBDOMAIN_REGEX]  # the whole string must match


def test_qualified_name() -> None:
    assert is_qualified_name("example.com/My_Key.1") == []
    assert is_qualified_name("/key") == ["prefix part must be non-empty"]
    assert is_qualified_name("Bad.Prefix/key") == ["prefix part " + SUBDOMAIN_REGEX]
    assert is_qualified_name("a/b/c")[0].startswith("a qualified name must consist of alphanumeric characters")
    assert is_qualified_name("key/")[0] == "name part must be non-empty"


def test_label_value() -> None:
    assert is_valid_label_value("") == []
    assert is_valid_label_value("My.value_1") == []
    assert is_valid_label_value("-x") == [
        regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character",
            "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?",
            "MyValue",
            "my_value",
            "12345",
        )
    ]
