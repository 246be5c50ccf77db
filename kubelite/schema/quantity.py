"""Resource quantities ("500m", "1Gi", "1e3") as upstream's k8s.io/apimachinery resource.Quantity
parses, compares and prints them: exact values (Fractions) with the suffix family they were
written in, rendered in canonical form ("0.5" -> "500m", "1.5Gi" -> "1536Mi").

Must not know about objects or fields; it only converts quantity strings.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

ERR_FORMAT_WRONG = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {exp: suffix for suffix, exp in _DECIMAL.items()}
_BINARY_SUFFIX = {exp // 10: suffix for suffix, exp in _BINARY.items()}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_NANO = Fraction(1, 10**9)
_MAX_INT64 = 2**63 - 1


class QuantityError(ValueError):
    """A string that is not a quantity; the message is upstream's."""


class Quantity(NamedTuple):
    amount: Fraction
    format: str

    def __str__(self) -> str:
        return format_quantity(self)

    def sign(self) -> int:
        return (self.amount > 0) - (self.amount < 0)


def _split(text: str) -> tuple[bool, str, str, str]:
    """(positive, numerator digits, denominator digits, suffix), as parseQuantityString."""
    positive, pos, end = True, 0, len(text)
    if pos < end and text[0] in "+-":
        positive = text[0] == "+"
        pos += 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "", ""
    start = pos
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos].isdigit() and text[pos].isascii():
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT_WRONG)
    return positive, num, denom, text[suffix_start:]


def _round_up(amount: Fraction, unit: Fraction) -> Fraction:
    """Round away from zero to a multiple of `unit`."""
    steps = amount / unit
    whole = -((-abs(steps)) // 1)
    return unit * whole * (1 if amount >= 0 else -1)


def parse_quantity(value: str | int | float) -> Quantity:
    """Parse a quantity from its JSON form (a string, or a bare number)."""
    if isinstance(value, bool):
        raise QuantityError(ERR_FORMAT_WRONG)
    text = repr(value) if isinstance(value, float) else str(value)
    text = text.strip()
    if not text:
        raise QuantityError(ERR_FORMAT_WRONG)
    positive, num, denom, suffix = _split(text)
    if suffix in _BINARY:
        fmt, base, exponent = BINARY_SI, 2, _BINARY[suffix]
    elif suffix in _DECIMAL:
        fmt, base, exponent = DECIMAL_SI, 10, _DECIMAL[suffix]
    elif len(suffix) > 1 and suffix[0] in "eE":
        try:
            exponent = int(suffix[1:], 10)
        except ValueError:
            raise QuantityError(ERR_SUFFIX) from None
        fmt, base = DECIMAL_EXPONENT, 10
    else:
        raise QuantityError(ERR_SUFFIX)
    amount = Fraction(int(num + denom), 10 ** len(denom)) * Fraction(base) ** exponent
    if not positive:
        amount = -amount
    if amount:
        amount = _round_up(amount, _NANO)
    if fmt == BINARY_SI:
        if abs(amount) > _MAX_INT64:
            amount = Fraction(_MAX_INT64) if amount > 0 else -Fraction(_MAX_INT64)
        if 0 < abs(amount) < 1:
            fmt = DECIMAL_SI
    return Quantity(amount, fmt)


def _decimal_parts(amount: Fraction) -> tuple[int, int]:
    """(mantissa, exponent) with exponent a multiple of 3, as AsCanonicalBytes."""
    exponent = 0
    value = amount
    while value.denominator != 1:
        value *= 10
        exponent -= 1
    mantissa = value.numerator
    while mantissa and mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3
    return mantissa * 10**shift, exponent - shift


def format_quantity(q: Quantity) -> str:
    """Upstream's canonical String() of a quantity."""
    amount = q.amount
    if amount == 0:
        return "0"
    fmt = q.format
    if fmt == BINARY_SI and (-1024 < amount < 1024 or amount.denominator != 1):
        fmt = DECIMAL_SI
    if fmt == BINARY_SI:
        mantissa, power = amount.numerator, 0
        while mantissa % 1024 == 0 and power < 6:
            mantissa //= 1024
            power += 1
        return f"{mantissa}{_BINARY_SUFFIX.get(power, '')}" if power else str(mantissa)
    mantissa, exponent = _decimal_parts(amount)
    if fmt == DECIMAL_EXPONENT:
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    suffix = _DECIMAL_SUFFIX.get(exponent)
    if suffix is None:
        return f"{mantissa}e{exponent}"
    return f"{mantissa}{suffix}"


def canonical_quantity(value: str | int | float) -> str:
    return format_quantity(parse_quantity(value))


def round_up_to_milli(q: Quantity) -> Quantity:
    """SetDefaults_ResourceList: values finer than a milli-unit round up to it."""
    return Quantity(_round_up(q.amount, Fraction(1, 1000)), q.format) if q.amount else q


def is_integer(q: Quantity) -> bool:
    return q.amount.denominator == 1
