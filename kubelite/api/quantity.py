"""Kubernetes `resource.Quantity`: parsing (`500m`, `1.5Gi`, `1e3`, ...) and the canonical string
the apiserver stores and returns (`1000m` -> `1`, `1.5Gi` -> `1536Mi`, `0.1` -> `100m`).

Follows k8s.io/apimachinery/pkg/api/resource/quantity.go: values are rounded up (away from zero) to
nano units, BinarySI values are capped at 2^63-1, and a string that is already in canonical form
is kept verbatim (so `+5` stays `+5`, as upstream keeps its cached string).
Must not know which fields hold quantities; callers decide that.
"""

from __future__ import annotations

from decimal import Decimal

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
_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1


class _Parsed:
    """A parsed quantity: |value| = mantissa * 10**exponent (already rounded up to nanos)."""

    __slots__ = ("negative", "mantissa", "exponent", "format", "verbatim")

    def __init__(self, negative: bool, mantissa: int, exponent: int, fmt: str, verbatim: str | None):
        self.negative = negative
        self.mantissa = mantissa
        self.exponent = exponent
        self.format = fmt
        self.verbatim = verbatim  # the input, when upstream would keep it as the canonical string


def _scan(text: str) -> tuple[bool, str, str, str]:
    """upstream parseQuantityString: (positive, numerator digits, denominator digits, suffix)."""
    positive = True
    pos = 0
    end = len(text)
    if pos < end and text[0] in "+-":
        positive = text[0] == "+"
        pos += 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    numerator = text[start:pos] or "0"
    denominator = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denominator = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_LETTERS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise ValueError(FORMAT_WRONG)
    return positive, numerator, denominator, text[suffix_start:end]


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
            # upstream truncates to int32; wrapping silently changes the value, so refuse instead
            if _INT32_MIN <= value <= _INT32_MAX:
                return 10, value, DECIMAL_EXPONENT
    raise ValueError(SUFFIX)


def _round_up_to_nanos(mantissa: int, exponent: int) -> tuple[int, int]:
    if exponent >= -9 or mantissa == 0:
        return mantissa, exponent
    shift = -9 - exponent
    if shift > len(str(mantissa)):
        return 1, -9
    divisor = 10**shift
    return -(-mantissa // divisor), -9


def _parse(text: str) -> _Parsed:
    if not text:
        raise ValueError(FORMAT_WRONG)
    if text == "0":
        return _Parsed(False, 0, 0, DECIMAL_SI, text)
    positive, numerator, denominator, suffix = _scan(text)
    base, exponent, fmt = _interpret_suffix(suffix)

    # upstream's int64 fast path, which also decides whether the input is kept as the canonical form
    verbatim: str | None = None
    if fmt == BINARY_SI:
        precision = 15 - len(numerator) - int(exponent * 3 / 10) - 1 if not denominator else -1
        scale = 0
    else:
        precision = 18 - len(numerator) - len(denominator)
        scale = exponent
    if precision >= 0 and scale - len(denominator) >= -9:
        shifted = numerator + denominator
        value = int(shifted)
        multiplied = value << exponent if fmt == BINARY_SI else value
        if multiplied <= _INT64_MAX:
            if fmt == BINARY_SI:
                if value & 0x07:
                    verbatim = text
            elif (scale - len(denominator)) % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0":
                verbatim = text

    mantissa = int(numerator + denominator)
    if base == 2:
        mantissa <<= exponent
        mantissa, power = _round_up_to_nanos(mantissa, -len(denominator))
        if mantissa * 10 ** (power + 9) > _INT64_MAX * 10**9:
            mantissa, power = _INT64_MAX, 0
    else:
        mantissa, power = _round_up_to_nanos(mantissa, exponent - len(denominator))
    return _Parsed(not positive and mantissa != 0, mantissa, power, fmt, verbatim)


def _strip_tens(mantissa: int, exponent: int) -> tuple[int, int]:
    if mantissa == 0:
        return 0, 0
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    return mantissa, exponent


def _canonical(parsed: _Parsed) -> str:
    if parsed.verbatim is not None:
        return parsed.verbatim
    if parsed.mantissa == 0:
        return "0"
    sign = "-" if parsed.negative else ""
    fmt = parsed.format
    if fmt == BINARY_SI:
        nanos = parsed.mantissa * 10 ** (parsed.exponent + 9)
        if nanos < 1024 * 10**9 or nanos % 10**9:
            fmt = DECIMAL_SI  # small or fractional binary values are shown in decimal, unrounded
        else:
            whole = nanos // 10**9
            times = 0
            while whole >= 1024 and whole % 1024 == 0:
                whole //= 1024
                times += 1
            return f"{sign}{whole}{_BINARY_NAMES.get(times, '')}"
    mantissa, exponent = _strip_tens(parsed.mantissa, parsed.exponent)
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


def _text(value: str | int | float) -> str:
    if isinstance(value, bool):
        raise ValueError(FORMAT_WRONG)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else ""
    if not isinstance(value, str):
        raise ValueError(FORMAT_WRONG)
    return value.strip()  # the JSON decoder trims surrounding white space


def parse_quantity(value: str | int | float) -> Decimal:
    """The exact value of a quantity (after upstream's rounding up to nano units). Raises ValueError."""
    parsed = _parse(_text(value))
    digits = tuple(int(d) for d in str(parsed.mantissa))
    return Decimal((1 if parsed.negative else 0, digits, parsed.exponent))


def quantity_format(value: str | int | float) -> str:
    """ "DecimalSI", "BinarySI" or "DecimalExponent": the suffix family a quantity was written in."""
    return _parse(_text(value)).format


def canonical_quantity(value: str | int | float) -> str:
    """The string the apiserver stores for this quantity. Raises ValueError (upstream's message)."""
    return _canonical(_parse(_text(value)))


def is_valid_quantity(value: object) -> bool:
    try:
        _parse(_text(value))  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def format_quantity(amount: Decimal | int, fmt: str = DECIMAL_SI) -> str:
    """The canonical string for a number in the given suffix family (e.g. sums of requests)."""
    sign, digits, exponent = Decimal(amount).as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(NUMERIC)
    mantissa = int("".join(map(str, digits)) or "0")
    mantissa, exponent = _round_up_to_nanos(mantissa, exponent)
    if fmt == BINARY_SI and mantissa * 10 ** (exponent + 9) > _INT64_MAX * 10**9:
        mantissa, exponent = _INT64_MAX, 0
    return _canonical(_Parsed(bool(sign) and mantissa != 0, mantissa, exponent, fmt, None))
