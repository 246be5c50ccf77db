"""How Go renders decoded JSON values in the texts upstream sends: strconv.Quote (`%q`) of a string,
`%v` of a float64, and encoding/json's Marshal (compact, map keys sorted, HTML-sensitive characters
escaped, float64 in Go's spelling). Error messages, field paths and annotations embed these, and
clients compare them byte for byte.

Must not know about Kubernetes objects, errors or field paths; it only spells values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
_HTML_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})
_INF = float("inf")


def go_quote(text: str) -> str:
    """strconv.Quote (what `%q` prints): double quotes, Go escapes, printable Unicode kept."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return '"' + text + '"'
    out = ['"']
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        else:
            code = ord(ch)
            if code < 0x80:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def go_float(value: float) -> str:
    """`%v` of a float64 (strconv 'g', shortest): exponent form when the decimal exponent is below
    -4 or at least 6 (`1e+06`, `0.0001`, `1.5e-05`, `123456`)."""
    if value != value:
        return "NaN"
    if value in (_INF, -_INF):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if repr(value)[0] == "-" else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # digits before the decimal point
    neg = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mantissa}e{'+' if point >= 1 else '-'}{abs(point - 1):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return neg + digits + "0" * (point - len(digits))
    return f"{neg}{digits[:point]}.{digits[point:]}"


def _json_float(value: float) -> str:
    """encoding/json's float64: 'f' format in [1e-6, 1e21), else 'e' with `e-07` cleaned to `e-7`."""
    if value != value or value in (_INF, -_INF):
        raise ValueError(f"json: unsupported value: {go_float(value)}")
    text = repr(value)
    if value == 0:
        return "-0" if text[0] == "-" else "0"
    if 1e-6 <= abs(value) < 1e21:
        if text.endswith(".0"):
            return text[:-2]
        return format(Decimal(text), "f") if "e" in text else text
    if len(text) >= 4 and text[-4] == "e" and text[-3] == "-" and text[-2] == "0":
        return text[:-2] + text[-1]
    return text


def _has_float(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return True
    if kind is dict:
        for item in value.values():
            if _has_float(item):
                return True
    elif kind is list or kind is tuple:
        for item in value:
            if _has_float(item):
                return True
    return False


def _encode(value: Any) -> str:
    """go_json without the HTML pass, for values holding floats (json.dumps spells them as Python)."""
    if isinstance(value, str):
        return encode_basestring(value)  # type: ignore[no-any-return]
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, dict):
        return "{" + ",".join(encode_basestring(key) + ":" + _encode(value[key]) for key in sorted(value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    raise TypeError(f"json: unsupported type: {type(value).__name__}")


def go_json(value: Any) -> str:
    """json.Marshal of a decoded JSON value: compact, map keys sorted, `<`, `>`, `&`, U+2028 and
    U+2029 escaped, non-ASCII kept, floats as Go spells them (`100`, `0.00001`, `1e-7`, `1e+21`)."""
    kind = type(value)
    if kind is str:
        text = encode_basestring(value)
    elif value is None:
        return "null"
    elif value is True:
        return "true"
    elif value is False:
        return "false"
    elif kind is int:
        return str(value)
    elif kind is float:
        return _json_float(value)
    elif _has_float(value):
        text = _encode(value)
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if "<" in text or ">" in text or "&" in text or "\u2028" in text or "\u2029" in text:
        return text.translate(_HTML_ESCAPES)
    return text  # type: ignore[no-any-return]


def go_string_slice(values: Iterable[Any] | None, type_name: str = "string") -> str:
    """`%#v` of a []string (or of a slice of another string-kinded type): `[]string{"a", "b"}`."""
    if values is None:
        return f"[]{type_name}(nil)"
    return f"[]{type_name}{{" + ", ".join(go_quote(str(v)) for v in values) + "}"
