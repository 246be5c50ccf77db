"""Kubernetes `resource.Quantity` ("500m", "1.5Gi", "1e3"): parsing into an exact value with the
suffix family it was written in, comparing, rounding, and the canonical string the apiserver stores
and returns ("1000m" -> "1", "1.5Gi" -> "1536Mi", "0.1" -> "100m").

Follows k8s.io/apimachinery/pkg/api/resource: values are rounded up (away from zero) to nano units,
BinarySI values are capped at 2^63-1, an `e`/`E` exponent is an int64 truncated to int32, and a
string that is already in canonical form is kept verbatim as the quantity's String() (so "+5" stays
"+5", as upstream keeps its cached string). Values are Decimals, so a huge exponent stays cheap.
Must not know which fields hold quantities or what a valid amount for a resource is; callers decide.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

# Upstream's error texts (resource.ErrFormatWrong / ErrNumeric / ErrSuffix).
FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
NUMERIC = "unable to parse numeric part of quantity"
SUFFIX = "unable to parse quantity's suffix"

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

_DIGITS = frozenset("0123456789")
_SUFFIX_LETTERS = frozenset("eEinumkKMGTP")
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_NAMES = {exponent: name for name, exponent in _DECIMAL_SUFFIXES.items()}
_BINARY_NAMES = {exponent // 10: name for name, exponent in _BINARY_SUFFIXES.items()}
_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)
_NANO = -9
_MILLI = -3


class QuantityError(ValueError):
    """A value that is not a quantity; the message is upstream's."""


class Quantity(NamedTuple):
    """A parsed quantity: its exact value, its suffix family, and the string upstream caches for it
    at parse time (the input, when that is already canonical; otherwise None)."""

    amount: Decimal
    format: str
    text: str | None = None

    def __str__(self) -> str:
        return format_quantity(self)

    def sign(self) -> int:
        return (self.amount > 0) - (self.amount < 0)

    def is_integer(self) -> bool:
        return self.amount == self.amount.to_integral_value()


_ZERO = Quantity(Decimal(0), DECIMAL_SI, "0")


def _int32(value: int) -> int:
    """Go's int32(value): wraps around."""
    return ((value + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _scan(text: str) -> tuple[bool, str, str, str, bool]:
    """upstream parseQuantityString: (positive, numerator digits without leading zeros, denominator
    digits, suffix, whether the numeric part holds any digit at all)."""
    positive = True
    pos = 0
    end = len(text)
    if pos < end and text[0] in "+-":
        positive = text[0] == "+"
        pos += 1
    sign_end = pos
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "", "", True
    any_digit = pos > sign_end
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    numerator = text[start:pos]
    denominator = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denominator = text[start:pos]
    any_digit = any_digit or bool(numerator) or bool(denominator)
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_LETTERS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(FORMAT_WRONG)
    return positive, numerator or "0", denominator, text[suffix_start:end], any_digit


def _interpret_suffix(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) of a suffix, as upstream's suffixer interprets it."""
    exponent = _DECIMAL_SUFFIXES.get(suffix)
    if exponent is not None:
        return 10, exponent, DECIMAL_SI
    exponent = _BINARY_SUFFIXES.get(suffix)
    if exponent is not None:
        return 2, exponent, BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[0] in "+-" else digits
        if body and all(ch in _DIGITS for ch in body):
            value = int(digits)
            if _INT64_MIN <= value <= _INT64_MAX:  # strconv.ParseInt(..., 10, 64), then int32(...)
                return 10, _int32(value), DECIMAL_EXPONENT
    raise QuantityError(SUFFIX)


def _round_up(mantissa: int, exponent: int, scale: int) -> tuple[int, int]:
    """|value| = mantissa * 10**exponent rounded up to a multiple of 10**scale."""
    if mantissa == 0:
        return 0, 0
    if exponent >= scale:
        return mantissa, exponent
    shift = scale - exponent
    if shift > len(str(mantissa)):
        return 1, scale
    return -(-mantissa // 10**shift), scale


def _decimal(negative: bool, mantissa: int, exponent: int) -> Decimal:
    if mantissa == 0:
        return Decimal(0)
    return Decimal(f"{'-' if negative else ''}{mantissa}E{exponent}")


def _parts(amount: Decimal) -> tuple[bool, int, int]:
    """(negative, magnitude mantissa, exponent) of a finite Decimal."""
    sign, digits, exponent = amount.as_tuple()
    if not isinstance(exponent, int):
        raise QuantityError(NUMERIC)
    return bool(sign), int("".join(map(str, digits)) or "0"), exponent


def _text(value: object) -> str:
    """The quantity string of a JSON value (a string, or a bare number)."""
    if isinstance(value, str):
        return value.strip()  # the JSON decoder trims surrounding white space
    if isinstance(value, bool):
        raise QuantityError(FORMAT_WRONG)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else ""
    raise QuantityError(FORMAT_WRONG)


def _parse_text(text: str) -> Quantity:
    if not text:
        raise QuantityError(FORMAT_WRONG)
    if text == "0":
        return _ZERO
    positive, numerator, denominator, suffix, any_digit = _scan(text)
    base, exponent, fmt = _interpret_suffix(suffix)
    digits = numerator + denominator
    value = int(digits)
    verbatim: str | None = None
    if base == 2:
        # upstream's int64 fast path keeps the input when no multiple of 8 was written
        precision = 15 - len(numerator) - exponent * 3 // 10 - 1
        if not denominator and precision >= 0 and value << exponent <= _INT64_MAX and value & 0x07:
            verbatim = text
        mantissa, power = _round_up(value << exponent, -len(denominator), _NANO)
        if mantissa * 10 ** (power - _NANO) > _INT64_MAX * 10**-_NANO:
            mantissa, power = _INT64_MAX, 0
        elif mantissa and power < 0 and mantissa < 10**-power:
            fmt = DECIMAL_SI  # 0 < |value| < 1 is shown in decimal, "to avoid rounding"
    else:
        power = _int32(exponent - len(denominator))
        if 18 - len(digits) >= 0 and power >= _NANO:
            # upstream's int64 fast path, which keeps an input already in canonical form
            if power % 3 == 0 and not digits.endswith("000") and digits[0] != "0":
                verbatim = text
        elif not any_digit:
            raise QuantityError(NUMERIC)  # inf.Dec cannot read a number without digits
        mantissa, power = _round_up(value, power, _NANO)
    return Quantity(_decimal(not positive, mantissa, power), fmt, verbatim)


def parse_quantity(value: str | int | float) -> Quantity:
    """upstream ParseQuantity of a quantity's JSON form (a string, trimmed, or a bare number).
    Raises QuantityError (a ValueError) with upstream's message."""
    return _parse_text(_text(value))


def quantity_error(text: str) -> str | None:
    """The error ParseQuantity returns for `text`, or None when it parses (without building it)."""
    if not text:
        return FORMAT_WRONG
    try:
        _, _, denominator, suffix, any_digit = _scan(text)
        base, exponent, _ = _interpret_suffix(suffix)
    except QuantityError as err:
        return str(err)
    if base == 10 and not any_digit and _int32(exponent - len(denominator)) < _NANO:
        return NUMERIC
    return None


def is_valid_quantity(value: object) -> bool:
    try:
        _parse_text(_text(value))
    except QuantityError:
        return False
    return True


def quantity_format(value: str | int | float) -> str:
    """ "DecimalSI", "BinarySI" or "DecimalExponent": the suffix family a quantity keeps."""
    return parse_quantity(value).format


def canonical_quantity(value: str | int | float) -> str:
    """The string the apiserver stores for this quantity. Raises QuantityError (upstream's message)."""
    return format_quantity(parse_quantity(value))


def quantity_from_amount(amount: Decimal | int, fmt: str = DECIMAL_SI) -> Quantity:
    """A quantity for a computed number (e.g. a sum of requests): rounded up to nanos, BinarySI capped."""
    negative, mantissa, exponent = _parts(Decimal(amount))
    mantissa, exponent = _round_up(mantissa, exponent, _NANO)
    if fmt == BINARY_SI and mantissa * 10 ** (exponent - _NANO) > _INT64_MAX * 10**-_NANO:
        mantissa, exponent = _INT64_MAX, 0
    return Quantity(_decimal(negative, mantissa, exponent), fmt)


def round_up_to_milli(q: Quantity) -> Quantity:
    """upstream Quantity.RoundUp(-3) (SetDefaults_ResourceList): values finer than a milli-unit round
    up (away from zero) to one; a value already whole in milli-units keeps its cached string."""
    negative, mantissa, exponent = _parts(q.amount)
    rounded, scale = _round_up(mantissa, exponent, _MILLI)
    if scale == exponent or rounded * 10 ** (scale - exponent) == mantissa:
        return q
    return Quantity(_decimal(negative, rounded, scale), q.format)


def is_multiple_of(q: Quantity, unit: Quantity) -> bool:
    """Whether q is a whole multiple of a positive unit (exact, even for huge exponents)."""
    _, mantissa, exponent = _parts(q.amount)
    _, unit_mantissa, unit_exponent = _parts(unit.amount)
    if mantissa == 0:
        return True
    if q.amount.copy_abs() < unit.amount:
        return False
    # |q| >= unit bounds 10**(unit_exponent - exponent) by the mantissa, so this stays small
    low = min(exponent, unit_exponent)
    modulus = unit_mantissa * 10 ** (unit_exponent - low)
    return mantissa % modulus * pow(10, exponent - low, modulus) % modulus == 0


def format_quantity(q: Quantity) -> str:
    """upstream Quantity.String(): the cached input string, else the canonical form."""
    if q.text is not None:
        return q.text
    negative, mantissa, exponent = _parts(q.amount)
    if mantissa == 0:
        return "0"
    sign = "-" if negative else ""
    fmt = q.format
    if fmt == BINARY_SI:
        if q.amount.copy_abs() < 1024 or (exponent < 0 and mantissa % 10**-exponent):
            fmt = DECIMAL_SI  # small or fractional binary values are shown in decimal, unrounded
        else:
            whole = mantissa * 10**exponent if exponent >= 0 else mantissa // 10**-exponent
            times = 0
            while whole >= 1024 and whole % 1024 == 0:
                whole //= 1024
                times += 1
            return f"{sign}{whole}{_BINARY_NAMES.get(times, '')}"
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    remainder = exponent % 3
    if remainder:
        mantissa *= 10**remainder
        exponent -= remainder
    if fmt == DECIMAL_SI:
        name = _DECIMAL_NAMES.get(exponent)
        if name is not None:
            return f"{sign}{mantissa}{name}"
        # beyond "E" upstream v1.33 dropped the magnitude; later releases print an exponent instead
    return f"{sign}{mantissa}" if exponent == 0 else f"{sign}{mantissa}e{exponent}"
