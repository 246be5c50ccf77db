"""Go's spellings of decoded JSON values: %q, %v of a float64, json.Marshal."""

from __future__ import annotations

import pytest

from kubelite.api.gofmt import go_float, go_json, go_quote, go_string_slice


def test_go_quote() -> None:
    assert go_quote('a"b\n') == '"a\\"b\\n"'
    assert go_quote("plain") == '"plain"'
    assert go_quote("back\\slash\ttab") == '"back\\\\slash\\ttab"'
    assert go_quote("\x00\x7f") == '"\\x00\\x7f"'
    assert go_quote("caf\u00e9") == '"caf\u00e9"'  # printable Unicode stays
    assert go_quote("nb\u00a0sp") == '"nb\\u00a0sp"'  # unicode.IsPrint excludes spaces but U+0020
    assert go_quote("\u0085") == '"\\u0085"'
    assert go_quote("\U000e0001") == '"\\U000e0001"'


def test_go_float() -> None:
    assert [go_float(f) for f in (1.0, 1.5, 1e6, 123456.0, 0.0001, 1e-05)] == ["1", "1.5", "1e+06", "123456", "0.0001", "1e-05"]
    assert go_float(-0.5) == "-0.5"
    assert go_float(float("inf")) == "+Inf"
    assert go_float(float("-inf")) == "-Inf"
    assert go_float(float("nan")) == "NaN"
    assert go_float(-0.0) == "-0"
    assert go_float(1234567.0) == "1.234567e+06"
    assert go_float(999999.5) == "999999.5"
    assert go_float(1e21) == "1e+21"
    assert go_float(-1.5e-7) == "-1.5e-07"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"b": 1, "a": [True, None, "x&y"]}, '{"a":[true,null,"x\\u0026y"],"b":1}'),
        ("<tag> \u2028", '"\\u003ctag\\u003e \\u2028"'),
        ("caf\u00e9\n", '"caf\u00e9\\n"'),
        (100.0, "100"),
        (-0.0, "-0"),
        (0.5, "0.5"),
        (1e-05, "0.00001"),
        (1e-06, "0.000001"),
        (1e-07, "1e-7"),
        (1.5e-10, "1.5e-10"),
        (1e20, "100000000000000000000"),
        (1.2345678901234567e19, "12345678901234567000"),  # shortest digits, not the binary value
        (1e21, "1e+21"),
        ({"x": [1.0, 2.5, {"y": 1e-7}], "a&": "b"}, '{"a\\u0026":"b","x":[1,2.5,{"y":1e-7}]}'),
        (2**70, "1180591620717411303424"),
    ],
)
def test_go_json(value: object, text: str) -> None:
    assert go_json(value) == text


def test_go_json_refuses_what_encoding_json_refuses() -> None:
    with pytest.raises(ValueError):
        go_json(float("nan"))


def test_go_string_slice() -> None:
    assert go_string_slice(None) == "[]string(nil)"
    assert go_string_slice(["a", 'b"']) == '[]string{"a", "b\\""}'
    assert go_string_slice([], "core.ResourceName") == "[]core.ResourceName{}"
