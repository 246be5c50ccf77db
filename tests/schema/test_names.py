"""Name and value format checks return upstream's messages."""

from __future__ import annotations

from kubelite.schema import names


def test_dns1123_label_and_subdomain() -> None:
    assert names.is_dns1123_label("my-name") == []
    assert names.is_dns1123_label("a.b") == ["must not contain dots"]
    assert names.is_dns1123_label("X" * 64) == [
        "must be no more than 63 characters",
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
        "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ]
    assert names.is_dns1123_subdomain("example.com") == []
    assert names.is_dns1123_subdomain("Example.com") == [
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
        "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    ]


def test_generate_name_prefixes_may_end_with_a_dash() -> None:
    assert names.name_is_dns_subdomain("web-", prefix=True) == []
    assert names.name_is_dns_subdomain("web-", prefix=False) != []
    assert names.name_is_dns1035_label("1web", prefix=False) != []


def test_qualified_names() -> None:
    assert names.is_qualified_name("example.com/My_Key.1") == []
    assert names.is_qualified_name("/key") == ["prefix part must be non-empty"]
    assert names.is_qualified_name("a/b/c") == [
        "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. "
        "'example.com/MyName')"
    ]
    assert names.is_qualified_name("") == [
        "name part must be non-empty",
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ]


def test_label_values_ports_and_ips() -> None:
    assert names.is_valid_label_value("") == []
    assert names.is_valid_label_value("-x")[0].startswith("a valid label must be an empty string or consist of")
    assert names.is_valid_port_name("http") == []
    assert names.is_valid_port_name("a--b") == ["must not contain consecutive hyphens"]
    assert names.is_valid_port_name("8080") == ["must contain at least one letter (a-z)"]
    assert names.is_valid_port_num(0) == ["must be between 1 and 65535, inclusive"]
    assert names.is_valid_ip("010.001.002.003") == [], "legacy leading zeros are accepted"
    assert names.is_valid_ip("1.2.3") == ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    assert names.is_config_map_key("..x") == ["must not start with '..'"]
    assert names.is_valid_path_segment_name("..") == ["may not be '..'"]
