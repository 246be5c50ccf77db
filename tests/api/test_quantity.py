from __future__ import annotations

from decimal import Decimal

import pytest

from kubelite.api.quantity import (
    FORMAT_WRONG,
    SUFFIX,
    canonical_quantity,
    format_quantity,
    is_valid_quantity,
    parse_quantity,
    quantity_format,
)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("0", "0"),
        ("00", "0"),
        ("0Ki", "0"),
        ("-0.0", "0"),
        ("1000m", "1"),
        ("-5000m", "-5"),
        ("100m", "100m"),
        ("0.1", "100m"),
        ("0.5", "500m"),
        ("1.5", "1500m"),
        ("1.08", "1080m"),
        ("1000", "1k"),
        ("1024", "1024"),
        ("128974848", "128974848"),
        ("129M", "129M"),
        ("1000u", "1m"),
        ("1u", "1u"),
        ("1n", "1n"),
        ("5000000000n", "5"),
        ("0.0000000001", "1n"),
        ("-0.0000000001", "-1n"),
        ("1.0000000001", "1000000001n"),
        ("1e3", "1e3"),
        ("12e6", "12e6"),
        ("1e-3", "1e-3"),
        ("1.0e-3", "1e-3"),
        ("1.5e3", "1500"),
        ("1E", "1E"),
        ("100E", "100E"),
        ("1000E", "1e21"),
        ("1Ki", "1Ki"),
        ("100Mi", "100Mi"),
        ("128Mi", "128Mi"),
        ("1024Ki", "1Mi"),
        ("2048Mi", "2Gi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Gi", "512Mi"),
        ("1.5Ki", "1536"),
        ("-1.5Ki", "-1536"),
        ("1.1Ki", "1126400m"),
        ("0.5Ki", "512"),
        ("1Ei", "1Ei"),
        ("8Ei", "9223372036854775807"),
        # upstream keeps an input it already considers canonical verbatim
        ("+5", "+5"),
        ("05", "05"),
        ("+1Ki", "+1Ki"),
        ("1.500", "1.500"),
        # white space around a JSON string value is trimmed by the decoder
        (" 1Gi ", "1Gi"),
    ],
)
def test_canonical_form(text: str, canonical: str) -> None:
    assert canonical_quantity(text) == canonical
    assert is_valid_quantity(text)


# Strings upstream's own tests (resource/quantity_test.go) expect to be kept verbatim when parsed.
UPSTREAM_CANONICAL = [
    "1Gi",
    "300Mi",
    "6Ki",
    "1001Gi",
    "1Ti",
    "5",
    "500m",
    "1G",
    "1m",
    "80m",
    "1080m",
    "300M",
    "1T",
    "1234567M",
    "1234567m",
    "3k",
    "1025",
    "0",
    "1e9",
    "1e-3",
    "1e-9",
    "80e-3",
    "300e6",
    "1e12",
    "1e3",
    "3e3",
    "1n",
    "80n",
    "1080n",
    "1u",
    "80u",
    "1080u",
]

# (input, canonical) pairs from the same tests.
UPSTREAM_ALTERNATES = [
    ("1024Mi", "1Gi"),
    ("307200Ki", "300Mi"),
    ("1025024Mi", "1001Gi"),
    ("1024Gi", "1Ti"),
    ("5000m", "5"),
    ("0.5", "500m"),
    ("1000M", "1G"),
    ("0.001T", "1G"),
    ("1000u", "1m"),
    ("1.08", "1080m"),
    ("1080000000n", "1080m"),
    (".001e12", "1e9"),
    ("0.001e0", "1e-3"),
    ("1000e-12", "1e-9"),
    ("00", "0"),
    (".001Ki", "1024m"),
    (".000001Ki", "1024u"),
    (".000000001Ki", "1024n"),
    (".000000000001Ki", "2n"),
    ("-.000000000001Ki", "-2n"),
    ("-1024Mi", "-1Gi"),
]


@pytest.mark.parametrize("text", UPSTREAM_CANONICAL)
def test_upstream_canonical_strings_are_kept(text: str) -> None:
    assert canonical_quantity(text) == text


@pytest.mark.parametrize(("text", "canonical"), UPSTREAM_ALTERNATES)
def test_upstream_alternate_spellings(text: str, canonical: str) -> None:
    assert canonical_quantity(text) == canonical


def test_numbers_from_json() -> None:
    assert canonical_quantity(2) == "2"
    assert canonical_quantity(0.5) == "500m"
    assert canonical_quantity(1500) == "1500"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", FORMAT_WRONG),
        ("abc", FORMAT_WRONG),
        ("1.5.5", FORMAT_WRONG),
        ("1 Gi", FORMAT_WRONG),
        ("1e1.5", FORMAT_WRONG),
        ("1ki", SUFFIX),
        ("1KiB", FORMAT_WRONG),
        ("1e", SUFFIX),
        ("--1", SUFFIX),
        ("1e99999999999", SUFFIX),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        canonical_quantity(text)
    assert str(caught.value) == message
    assert not is_valid_quantity(text)


def test_invalid_types() -> None:
    assert not is_valid_quantity(None)
    assert not is_valid_quantity(True)
    assert not is_valid_quantity(float("nan"))


def test_values_and_formats() -> None:
    assert parse_quantity("1.5Gi") == Decimal(1610612736)
    assert parse_quantity("100m") == Decimal("0.1")
    assert parse_quantity("-2k") == Decimal(-2000)
    assert parse_quantity("0.1n") == Decimal("1e-9")
    assert parse_quantity("1e1000000") == Decimal("1e1000000")
    assert quantity_format("1Gi") == "BinarySI"
    assert quantity_format("1G") == "DecimalSI"
    assert quantity_format("1e9") == "DecimalExponent"


def test_format_quantity_for_computed_amounts() -> None:
    assert format_quantity(Decimal("1.5")) == "1500m"
    assert format_quantity(3 * 1024**3, "BinarySI") == "3Gi"
    assert format_quantity(Decimal("0.25"), "BinarySI") == "250m"
    assert format_quantity(0) == "0"
