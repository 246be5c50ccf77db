from __future__ import annotations

from decimal import Decimal

import pytest

from kubelite.api.quantity import (
    FORMAT_WRONG,
    NUMERIC,
    SUFFIX,
    Quantity,
    QuantityError,
    canonical_quantity,
    format_quantity,
    is_multiple_of,
    is_valid_quantity,
    parse_quantity,
    quantity_error,
    quantity_format,
    quantity_from_amount,
    round_up_to_milli,
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
        ("1e99999999999999999999", SUFFIX),  # the exponent must fit an int64
        ("e-10", NUMERIC),  # the slow path's inf.Dec needs a digit
        (".e-10", NUMERIC),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as caught:
        canonical_quantity(text)
    assert str(caught.value) == message
    assert not is_valid_quantity(text)
    assert quantity_error(text) == message


def test_exponent_is_truncated_to_int32_as_upstream() -> None:
    # strconv.ParseInt accepts 99999999999; int32() keeps its low 32 bits: 1215752191
    assert canonical_quantity("1e99999999999") == "10e1215752190"
    assert canonical_quantity("1e2147483648") == "1e-9"  # wraps to -2^31, then rounds up to nanos
    assert quantity_error("1e99999999999") is None


def test_numberless_values_are_zero_on_the_fast_path() -> None:
    for text in ("+", "-", ".", "Ki", "e-9"):
        assert canonical_quantity(text) == "0"
        assert quantity_error(text) is None


def test_invalid_types() -> None:
    assert not is_valid_quantity(None)
    assert not is_valid_quantity(True)
    assert not is_valid_quantity(float("nan"))


def test_values_and_formats() -> None:
    assert parse_quantity("1.5Gi").amount == Decimal(1610612736)
    assert parse_quantity("100m").amount == Decimal("0.1")
    assert parse_quantity("-2k").amount == Decimal(-2000)
    assert parse_quantity("0.1n").amount == Decimal("1e-9")
    assert parse_quantity("-0.1n").amount == Decimal("-1e-9")
    assert parse_quantity("1e1000000").amount == Decimal("1e1000000")
    assert parse_quantity("9Ei").amount == Decimal(2**63 - 1)
    assert parse_quantity("-9Ei").amount == Decimal(-(2**63 - 1))
    assert quantity_format("1Gi") == "BinarySI"
    assert quantity_format("1G") == "DecimalSI"
    assert quantity_format("1e9") == "DecimalExponent"
    # upstream: a BinarySI value strictly between 0 and 1 becomes DecimalSI
    assert quantity_format("0.0001Ki") == "DecimalSI"
    assert quantity_format("0.5Ki") == "BinarySI"


def test_quantity_helpers() -> None:
    assert parse_quantity("-1").sign() == -1
    assert parse_quantity("0").sign() == 0
    assert parse_quantity("2Gi").is_integer()
    assert not parse_quantity("1500m").is_integer()
    assert parse_quantity("1e40").is_integer()
    assert str(parse_quantity("1.5Gi")) == "1536Mi"
    assert str(parse_quantity("+5")) == "+5"


def test_format_quantity_for_computed_amounts() -> None:
    assert format_quantity(quantity_from_amount(Decimal("1.5"))) == "1500m"
    assert format_quantity(quantity_from_amount(3 * 1024**3, "BinarySI")) == "3Gi"
    assert format_quantity(quantity_from_amount(Decimal("0.25"), "BinarySI")) == "250m"
    assert format_quantity(quantity_from_amount(0)) == "0"
    assert format_quantity(quantity_from_amount(Decimal("1e-12"))) == "1n"
    assert format_quantity(quantity_from_amount(2**70, "BinarySI")) == "9223372036854775807"


@pytest.mark.parametrize(
    ("text", "rounded"),
    [
        ("1.5m", "2m"),
        ("100u", "1m"),
        ("-100u", "-1m"),
        ("1n", "1m"),
        ("1000u", "1m"),
        ("500m", "500m"),
        ("+5", "+5"),  # RoundUp keeps the cached string when no rounding is needed
        ("1.500", "1.500"),
        ("0", "0"),
        ("1.1Ki", "1126400m"),
        ("0.0001Ki", "103m"),
    ],
)
def test_round_up_to_milli(text: str, rounded: str) -> None:
    assert format_quantity(round_up_to_milli(parse_quantity(text))) == rounded


def test_is_multiple_of() -> None:
    page = parse_quantity("2Mi")
    assert is_multiple_of(parse_quantity("4Mi"), page)
    assert is_multiple_of(parse_quantity("0"), page)
    assert not is_multiple_of(parse_quantity("3Mi"), page)
    assert not is_multiple_of(parse_quantity("1Mi"), page)
    assert not is_multiple_of(parse_quantity("2097152.5"), page)
    assert is_multiple_of(parse_quantity("1e40"), parse_quantity("1e-3"))
    assert is_multiple_of(parse_quantity("1e40"), page)
    assert not is_multiple_of(parse_quantity("1e20"), page)  # 10^20 has only twenty factors of 2
    assert is_multiple_of(parse_quantity("2e2000000000"), parse_quantity("2"))
    assert is_multiple_of(parse_quantity("6m"), Quantity(Decimal("0.002"), "DecimalSI"))
