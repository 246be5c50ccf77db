"""JSONPath as client-go's `util/jsonpath` understands it, for CRD additionalPrinterColumns.

`compile_path(".status.conditions[?(@.type==\"Ready\")].status")` parses once (cached) and
`JSONPath.find(obj)` returns the matching values in order. Semantics follow client-go with
`AllowMissingKeys(true)`: a missing key yields no result; a type mismatch (indexing a map,
filtering a map, comparing a number with a string, ...) raises `JSONPathError`, which callers
such as the Table printer turn into an empty cell. `format_value` prints one result the way
`JSONPath.PrintResults` does (maps and lists as compact JSON, floats like Go's `%v`).

Supported: `.field` (with `\\.` escapes), `['key']`, `[n]`, `[-n]`, `[a:b:c]`, `[*]`, `.*`, `..field`,
unions `[0,2]`, filters `[?(@.x == "y")]` with == != < > <= >= and `[?(@.x)]` for existence.
Not supported: templates with text or `{range}`/`{end}` (printer columns never use them).

Must not know about Kubernetes kinds or Tables; it only walks JSON-shaped data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from kubelite.api.gofmt import go_float, go_json


class JSONPathError(ValueError):
    """An expression that does not parse, or one that cannot be evaluated on the given data."""


Step = Callable[[list[Any]], list[Any]]

_SLICE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_DICT_KEY = re.compile(r"^'([^']*)'$")
_FILTER = re.compile(r"^([^!<>=]+)([!<>=]+)(.+?)$", re.DOTALL)
_TERMINATORS = frozenset(" \t\r\n.,[]$@{}")
_MISSING = object()


class JSONPath:
    """A compiled expression: a chain of steps, each mapping the current values to new ones."""

    __slots__ = ("expression", "_steps")

    def __init__(self, expression: str, steps: list[Step]):
        self.expression = expression
        self._steps = steps

    def find(self, data: Any) -> list[Any]:
        values = [data]
        for step in self._steps:
            values = step(values)
        return values

    def __repr__(self) -> str:
        return f"JSONPath({self.expression!r})"


@lru_cache(maxsize=1024)
def compile_path(expression: str) -> JSONPath:
    """Parse an expression, with or without the surrounding `{}`; raises JSONPathError."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    return JSONPath(expression, _Parser(text).parse())


# ---------------------------------------------------------------------------------------------
# Parsing


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def parse(self) -> list[Step]:
        steps: list[Step] = []
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if text.startswith("[?(", self.pos):
                steps.append(self._filter())
            elif text.startswith("..", self.pos):
                if steps and steps[-1] is _recursive_step:
                    raise JSONPathError("invalid multiple recursive descent")
                self.pos += 2
                steps.append(_recursive_step)
                if self.pos < len(text) and (text[self.pos].isalnum() or text[self.pos] == "_"):
                    steps.append(self._field())
            elif ch in " \t@$":
                self.pos += 1  # blanks, and the root/current markers, which change nothing
            elif ch == "[":
                steps.extend(self._bracket())
            elif ch == ".":
                self.pos += 1
                steps.append(self._field())
            elif ch in "\"'":
                steps.append(self._quoted(ch))
            elif ch in "+-" or ch.isdigit():
                steps.append(self._number())
            elif ch.isalnum() or ch == "_":
                steps.append(self._identifier())
            else:
                raise JSONPathError(f"unrecognized character in action: {ch!r}")
        return steps

    def _field(self) -> Step:
        text = self.text
        start = self.pos
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\\":
                self.pos += 2
                continue
            if ch in _TERMINATORS:
                break
            self.pos += 1
        name = text[start : self.pos].replace("\\", "")
        if name == "*":
            return _wildcard_step
        return _field_step(name)

    def _identifier(self) -> Step:
        text = self.text
        start = self.pos
        while self.pos < len(text) and text[self.pos] not in _TERMINATORS:
            self.pos += 1
        word = text[start : self.pos]
        if word in ("true", "false"):
            return _constant_step(word == "true")
        raise JSONPathError(f"unrecognized identifier {word}")

    def _number(self) -> Step:
        text = self.text
        start = self.pos
        if text[self.pos] in "+-":
            self.pos += 1
        while self.pos < len(text) and (text[self.pos] == "." or text[self.pos].isdigit()):
            self.pos += 1
        literal = text[start : self.pos]
        try:
            return _constant_step(int(literal))
        except ValueError:
            pass
        try:
            return _constant_step(float(literal))
        except ValueError:
            raise JSONPathError(f"cannot parse number {literal}") from None

    def _quoted(self, quote: str) -> Step:
        text = self.text
        start = self.pos
        self.pos += 1
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                raise JSONPathError("unterminated quoted string")
            if text[self.pos] == quote and text[self.pos - 1] != "\\":
                self.pos += 1
                break
            self.pos += 1
        return _constant_step(_unquote(text[start : self.pos]))

    def _bracket(self) -> list[Step]:
        text = self.text
        end = self.pos
        while True:
            end += 1
            if end >= len(text) or text[end] == "\n":
                raise JSONPathError("unterminated array")
            if text[end] == "]":
                break
        inner = text[self.pos + 1 : end]
        self.pos = end + 1
        if inner == "*":
            inner = ":"
        parts = inner.split(",")
        if len(parts) > 1:
            branches = [_Parser(f"[{part.strip(' ')}]").parse() for part in parts]
            return [_union_step(branches)]
        key = _DICT_KEY.match(inner)
        if key:
            return _Parser("." + key.group(1)).parse()
        return [_slice_step(inner)]

    def _filter(self) -> Step:
        text = self.text
        self.pos += 3
        start = self.pos
        begin = end = False
        pair = ""
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                raise JSONPathError("unterminated filter")
            ch = text[self.pos]
            self.pos += 1
            if ch in "\"'":
                if not begin:
                    begin, pair = True, ch
                    continue
                if text[self.pos - 2] != "\\" and ch == pair:
                    end = True
            elif ch == ")" and begin == end:
                break
        if self.pos >= len(text) or text[self.pos] != "]":
            raise JSONPathError("unclosed array expect ]")
        self.pos += 1
        body = text[start : self.pos - 2]
        match = _FILTER.match(body)
        if match is None:
            return _filter_step(_Parser(body).parse(), "exists", [])
        left = _Parser(match.group(1)).parse()
        right = _Parser(match.group(3)).parse()
        operator = match.group(2)
        if operator not in _COMPARATORS:
            raise JSONPathError(f"unrecognized filter operator {operator}")
        return _filter_step(left, operator, right)


_ESCAPE = re.compile(
    r"\\(?:([abfnrtv\\'\"])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3}))"
)
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unquote(literal: str) -> str:
    """Go's strconv-style unquoting of a single- or double-quoted literal."""
    body = literal[1:-1]
    if "\\" not in body:
        return body

    def replace(match: re.Match[str]) -> str:
        simple, hex2, hex4, hex8, octal = match.groups()
        if simple is not None:
            return _SIMPLE_ESCAPES.get(simple, simple)
        code = hex2 or hex4 or hex8
        return chr(int(code, 16)) if code else chr(int(octal, 8))

    unescaped = _ESCAPE.sub(replace, body)
    if "\\" in _ESCAPE.sub("", body):
        raise JSONPathError(f"unquote string {literal} error")
    return unescaped


# ---------------------------------------------------------------------------------------------
# Steps


def _field_step(name: str) -> Step:
    def step(values: list[Any]) -> list[Any]:
        out = []
        for value in values:
            if isinstance(value, dict):
                found = value.get(name, _MISSING)
                if found is not _MISSING:
                    out.append(found)
        return out

    return step


def _wildcard_step(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(value, dict):
            out.extend(value.values())
        elif isinstance(value, list):
            out.extend(value)
        elif isinstance(value, str):
            out.extend(value.encode())  # Go indexes a string by bytes
    return out


def _recursive_step(values: list[Any]) -> list[Any]:
    """`..`: every container reachable from each value, the value itself first."""
    out: list[Any] = []
    for value in values:
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, list):
            children = value
        elif isinstance(value, str):
            children = list(value.encode())  # Go indexes a string by bytes
        else:
            children = []
        if children:
            out.append(value)
            out.extend(_recursive_step(children))
    return out


def _constant_step(constant: Any) -> Step:
    def step(values: list[Any]) -> list[Any]:
        return [constant for _ in values]

    return step


def _union_step(branches: list[list[Step]]) -> Step:
    def step(values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for branch in branches:
            current = values
            for inner in branch:
                current = inner(current)
            out.extend(current)
        return out

    return step


def _slice_step(spec: str) -> Step:
    match = _SLICE.match(spec)
    if match is None:
        raise JSONPathError(f"invalid array index {spec}")
    raw = [match.group(1) or "", (match.group(2) or "")[1:], (match.group(3) or "")[1:]]
    try:
        start = int(raw[0]) if raw[0] else None
        end = int(raw[1]) if raw[1] else None
        stride = int(raw[2]) if raw[2] else None
    except ValueError:
        raise JSONPathError(f"array index {spec} is not a number") from None
    single = match.group(2) is None  # `[n]`: end is derived as n+1
    if single:
        end = (start or 0) + 1

    def step(values: list[Any]) -> list[Any]:
        if stride is not None and stride <= 0:
            raise JSONPathError("step must be > 0")
        out: list[Any] = []
        for value in values:
            if value is None:
                continue
            if not isinstance(value, list):
                raise JSONPathError(f"{type(value).__name__} is not array or slice")
            length = len(value)
            lo = start or 0
            if lo < 0:
                lo += length
            hi = length if end is None else end
            if hi < 0 or (single and hi == 0):
                hi += length
            if hi == lo:
                continue
            if lo >= length or lo < 0:
                raise JSONPathError(f"array index out of bounds: index {lo}, length {length}")
            if hi > length or hi < 0:
                raise JSONPathError(f"array index out of bounds: index {hi - 1}, length {length}")
            if lo > hi:
                raise JSONPathError(f"starting index {lo} is greater than ending index {hi}")
            out.extend(value[lo:hi:stride])
        return out

    return step


def _run(steps: list[Step], values: list[Any]) -> list[Any]:
    for step in steps:
        values = step(values)
    return values


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    raise JSONPathError("invalid type for comparison")


def _compare(operator: str, left: Any, right: Any) -> bool:
    kind = _kind(left)
    if kind != _kind(right):
        raise JSONPathError("incompatible types for comparison")
    if operator == "==":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if kind == "bool":
        raise JSONPathError("invalid type for comparison")
    if operator == "<":
        return bool(left < right)
    if operator == ">":
        return bool(left > right)
    if operator == "<=":
        return bool(left <= right)
    return bool(left >= right)


_COMPARATORS = frozenset(("==", "!=", "<", ">", "<=", ">="))


def _filter_step(left: list[Step], operator: str, right: list[Step]) -> Step:
    def step(values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for value in values:
            if not isinstance(value, list):
                raise JSONPathError("value is not array or slice and cannot be filtered")
            for item in value:
                if operator == "exists":
                    try:
                        if _run(left, [item]):
                            out.append(item)
                    except JSONPathError:
                        pass
                    continue
                lefts = _run(left, [item])
                if len(lefts) != 1:
                    raise JSONPathError("can only compare one element at a time")
                rights = _run(right, [item])
                if len(rights) != 1:
                    raise JSONPathError("can only compare one element at a time")
                if _compare(operator, lefts[0], rights[0]):
                    out.append(item)
        return out

    return step


# ---------------------------------------------------------------------------------------------
# Printing one result


def format_value(value: Any) -> str:
    """Text for one result as client-go prints it: scalars via Go's `%v`, maps/lists as JSON."""
    if value is None:
        return "<no value>"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, (dict, list)):
        return go_json(value)
    return str(value)
