"""Label selectors as upstream apimachinery `labels` defines them: the `?labelSelector=` string
syntax (`k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>1`, `k<1`, comma = AND)
and the `metav1.LabelSelector` object form (`matchLabels` / `matchExpressions`).

Parse errors carry upstream's exact wording (k8s.io/apimachinery/pkg/labels/selector.go and
pkg/util/validation), because kubectl prints the server's message verbatim.

Must not know where labels come from (objects, requests) and must not do I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from kubelite.api.errors import bad_request
from kubelite.api.gofmt import go_quote, go_string_slice
from kubelite.api.namerules import is_qualified_name, is_valid_label_value

# Operators, spelled as upstream's selection.Operator values.
IN = "in"
NOT_IN = "notin"
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER_THAN = "gt"
LESS_THAN = "lt"

_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_EXPECTED_OPERATORS = ", ".join(_BINARY_OPERATORS)

_INT64_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def _aggregate(messages: list[str]) -> str:
    """utilerrors.Aggregate's message: duplicates dropped, several wrapped in [..., ...]."""
    unique = list(dict.fromkeys(messages))
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def _parse_int64(text: str) -> int | None:
    if not _INT64_RE.fullmatch(text):
        return None
    number = int(text)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


class LabelSelectorError(ValueError):
    """A label selector that does not parse or validate; the message is upstream's."""


# ---- requirements and selectors ----


class Requirement:
    """One `key <operator> values` term. Values keep their given order; `str()` sorts them."""

    __slots__ = ("key", "operator", "values", "_value_set")

    def __init__(self, key: str, operator: str, values: Iterable[str] = ()):
        self.key = key
        self.operator = operator
        self.values: tuple[str, ...] = tuple(values)
        self._value_set = frozenset(self.values)

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (EQUALS, DOUBLE_EQUALS, IN):
            value = labels.get(self.key)
            return value is not None and value in self._value_set
        if op in (NOT_EQUALS, NOT_IN):
            value = labels.get(self.key)
            return value is None or value not in self._value_set
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            value = labels.get(self.key)
            if value is None or len(self.values) != 1:
                return False
            have = _parse_int64(value)
            want = _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        values = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({values})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        return f"{self.key}{symbol}{values}"

    def __repr__(self) -> str:
        return f"Requirement({self.key!r}, {self.operator!r}, {list(self.values)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Requirement):
            return NotImplemented
        return (self.key, self.operator, self.values) == (other.key, other.operator, other.values)

    def __hash__(self) -> int:
        return hash((self.key, self.operator, self.values))


def new_requirement(
    key: str, operator: str, values: list[str] | None, path: str | None = None
) -> Requirement:
    """Build a validated requirement like upstream `labels.NewRequirement`; `path` prefixes field
    paths in messages (None prints as upstream's nil path does: `key`, `values[0]`)."""
    errors: list[str] = []
    base = f"{path}." if path else ""
    key_errors = is_qualified_name(key)
    if key_errors:
        errors.append(f"{base}key: Invalid value: {go_quote(key)}: {'; '.join(key_errors)}")
    given = values or []
    values_path = f"{base}values"
    if operator in (IN, NOT_IN):
        if not given:
            errors.append(
                f"{values_path}: Invalid value: {go_string_slice(values)}: "
                "for 'in', 'notin' operators, values set can't be empty"
            )
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(given) != 1:
            errors.append(
                f"{values_path}: Invalid value: {go_string_slice(values)}: exact-match compatibility requires one single value"
            )
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if given:
            errors.append(
                f"{values_path}: Invalid value: {go_string_slice(values)}: "
                "values set must be empty for exists and does not exist"
            )
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(given) != 1:
            errors.append(
                f"{values_path}: Invalid value: {go_string_slice(values)}: "
                "for 'Gt', 'Lt' operators, exactly one value is required"
            )
        for index, value in enumerate(given):
            if _parse_int64(value) is None:
                errors.append(
                    f"{values_path}[{index}]: Invalid value: {go_quote(value)}: "
                    "for 'Gt', 'Lt' operators, the value must be an integer"
                )
    else:
        supported = ", ".join(go_quote(op) for op in (*_BINARY_OPERATORS, EXISTS, DOES_NOT_EXIST))
        errors.append(
            f"{base}operator: Unsupported value: {go_quote(operator)}: supported values: {supported}"
        )
    for index, value in enumerate(given):
        value_errors = is_valid_label_value(value)
        if value_errors:
            errors.append(
                f"{values_path}[{index}][{key}]: Invalid value: {go_quote(value)}: {'; '.join(value_errors)}"
            )
    if errors:
        raise LabelSelectorError(_aggregate(errors))
    return Requirement(key, operator, given)


class LabelSelector:
    """AND of requirements, sorted by key. `LabelSelector.nothing()` matches no labels at all."""

    __slots__ = ("requirements", "_nothing")

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False):
        self.requirements: tuple[Requirement, ...] = tuple(sorted(requirements, key=_by_key))
        self._nothing = nothing

    @classmethod
    def everything(cls) -> LabelSelector:
        return cls()

    @classmethod
    def nothing(cls) -> LabelSelector:
        return cls(nothing=True)

    @property
    def is_empty(self) -> bool:
        """True when the selector does not restrict anything (upstream `Empty()`; false for nothing)."""
        return not self._nothing and not self.requirements

    @property
    def matches_nothing(self) -> bool:
        return self._nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        if labels is None:
            labels = {}
        return all(requirement.matches(labels) for requirement in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The single value `key` must have for a match, if the selector pins one."""
        for requirement in self.requirements:
            if requirement.key == key:
                if requirement.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(requirement.values) == 1:
                    return requirement.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)

    def __repr__(self) -> str:
        if self._nothing:
            return "LabelSelector.nothing()"
        return f"LabelSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelSelector):
            return NotImplemented
        return self._nothing == other._nothing and self.requirements == other.requirements

    def __hash__(self) -> int:
        return hash((self._nothing, self.requirements))


def _by_key(requirement: Requirement) -> str:
    return requirement.key


# ---- the string syntax: lexer and parser shaped like upstream's, for identical errors ----

_ERROR, _EOS, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _ID, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(14)
_TOKENS = {
    ")": _CLOSE,
    ",": _COMMA,
    "!": _NOT,
    "==": _DEQ,
    "=": _EQ,
    ">": _GT,
    "in": _IN,
    "<": _LT,
    "!=": _NEQ,
    "notin": _NOTIN,
    "(": _OPEN,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_OPERATOR_TOKENS = {
    _IN: IN,
    _EQ: EQUALS,
    _DEQ: DOUBLE_EQUALS,
    _GT: GREATER_THAN,
    _LT: LESS_THAN,
    _NOTIN: NOT_IN,
    _NEQ: NOT_EQUALS,
}


def _scan(text: str) -> list[tuple[int, str]]:
    end = text.find("\x00")  # upstream's lexer reads a NUL byte as the end of the string
    if end < 0:
        end = len(text)
    items: list[tuple[int, str]] = []
    pos = 0
    while True:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= end:
            items.append((_EOS, ""))
            return items
        if text[pos] in _SPECIAL:
            start = pos
            best: tuple[int, str] | None = None
            while pos < end and text[pos] in _SPECIAL:
                token = _TOKENS.get(text[start : pos + 1])
                if token is not None:
                    best = (token, text[start : pos + 1])
                    pos += 1
                elif best is not None:
                    break
                else:
                    pos += 1
            items.append(
                best if best is not None else (_ERROR, f"error expected: keyword found '{text[start:pos]}'")
            )
        else:
            start = pos
            while pos < end and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
                pos += 1
            word = text[start:pos]
            items.append((_TOKENS.get(word, _ID), word))


class _Parser:
    __slots__ = ("items", "position")

    def __init__(self, text: str):
        self.items = _scan(text)
        self.position = 0

    def lookahead(self, values: bool) -> tuple[int, str]:
        token, literal = self.items[self.position]
        if values and (token in (_IN, _NOTIN)):
            token = _ID
        return token, literal

    def consume(self, values: bool) -> tuple[int, str]:
        token, literal = self.lookahead(values)
        self.position += 1
        return token, literal

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token, literal = self.lookahead(True)
            if token in (_ID, _NOT):
                try:
                    requirements.append(self.requirement())
                except LabelSelectorError as err:
                    raise LabelSelectorError(f"unable to parse requirement: {err}") from None
                token, literal = self.consume(True)
                if token == _EOS:
                    return requirements
                if token != _COMMA:
                    raise LabelSelectorError(f"found '{literal}', expected: ',' or 'end of string'")
                token, literal = self.lookahead(True)
                if token != _ID and token != _NOT:
                    raise LabelSelectorError(f"found '{literal}', expected: identifier after ','")
            elif token == _EOS:
                return requirements
            else:
                raise LabelSelectorError(f"found '{literal}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        operator = ""
        token, key = self.consume(True)
        if token == _NOT:
            operator = DOES_NOT_EXIST
            token, key = self.consume(True)
        if token != _ID:
            raise LabelSelectorError(f"found '{key}', expected: identifier")
        key_errors = is_qualified_name(key)
        if key_errors:
            raise LabelSelectorError(f"<nil>: Invalid value: {go_quote(key)}: {'; '.join(key_errors)}")
        following, _ = self.lookahead(True)
        if (following in (_EOS, _COMMA)) and operator != DOES_NOT_EXIST:
            operator = EXISTS
        if operator in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, operator, [])
        token, literal = self.consume(False)
        operator = _OPERATOR_TOKENS.get(token, "")
        if not operator:
            raise LabelSelectorError(f"found '{literal}', expected: {_EXPECTED_OPERATORS}")
        values = self.value_set() if operator in (IN, NOT_IN) else self.exact_value()
        return new_requirement(key, operator, sorted(values))

    def value_set(self) -> set[str]:
        token, literal = self.consume(True)
        if token != _OPEN:
            raise LabelSelectorError(f"found '{literal}' expected: '('")
        token, literal = self.lookahead(True)
        if token in (_ID, _COMMA):
            values = self.identifiers()
            if self.consume(True)[0] != _CLOSE:
                raise LabelSelectorError(f"found '{literal}', expected: ')'")
            return values
        if token == _CLOSE:
            self.consume(True)
            return {""}
        raise LabelSelectorError(f"found '{literal}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            token, literal = self.consume(True)
            if token == _ID:
                values.add(literal)
                following, following_literal = self.lookahead(True)
                if following == _COMMA:
                    continue
                if following == _CLOSE:
                    return values
                raise LabelSelectorError(f"found '{following_literal}', expected: ',' or ')'")
            if token == _COMMA:
                if not values:
                    values.add("")  # "(," starts with an empty value
                following, _ = self.lookahead(True)
                if following in (_CLOSE, _COMMA):
                    values.add("")  # ",)" and ",," hold an empty value
                if following == _CLOSE:
                    return values
                continue
            raise LabelSelectorError(f"found '{literal}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        token, _ = self.lookahead(True)
        if token in (_EOS, _COMMA):
            return {""}
        token, literal = self.consume(True)
        if token == _ID:
            return {literal}
        raise LabelSelectorError(f"found '{literal}', expected: identifier")


def parse_label_selector_requirements(text: str) -> LabelSelector:
    """Parse the string syntax; raises LabelSelectorError with upstream's message."""
    return LabelSelector(_Parser(text).parse())


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a `?labelSelector=` value; invalid syntax is a 400 BadRequest with upstream's message
    (what kubectl shows after `Unable to find "/v1, Resource=pods" that match label selector ...: `)."""
    try:
        return parse_label_selector_requirements(text)
    except LabelSelectorError as err:
        raise bad_request(str(err)) from None


# ---- metav1.LabelSelector objects ----

_SPEC_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def selector_from_spec(spec: Mapping[str, Any] | None) -> LabelSelector:
    """upstream `metav1.LabelSelectorAsSelector`: None selects nothing, `{}` selects everything.
    Invalid keys, values or operators raise LabelSelectorError (a ValueError) with upstream's message."""
    if spec is None:
        return LabelSelector.nothing()
    match_labels = spec.get("matchLabels") or {}
    match_expressions = spec.get("matchExpressions") or []
    if not match_labels and not match_expressions:
        return LabelSelector.everything()
    requirements = [new_requirement(key, EQUALS, [value]) for key, value in match_labels.items()]
    for expression in match_expressions:
        operator = _SPEC_OPERATORS.get(expression.get("operator", ""))
        if operator is None:
            raise LabelSelectorError(
                f"{go_quote(str(expression.get('operator', '')))} is not a valid label selector operator"
            )
        values = expression.get("values")
        requirements.append(
            new_requirement(expression.get("key", ""), operator, list(values) if values else None)
        )
    return LabelSelector(requirements)


def selector_to_string(spec: Mapping[str, Any] | None) -> str:
    """upstream `metav1.FormatLabelSelector`, as kubectl describe and wide output print selectors."""
    try:
        text = str(selector_from_spec(spec))
    except (LabelSelectorError, AttributeError, TypeError):
        return "<error>"
    return text or "<none>"


def selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """Equality requirements for every pair (upstream `SelectorFromSet`); empty or None selects everything."""
    if not labels:
        return LabelSelector.everything()
    return LabelSelector(Requirement(key, EQUALS, (value,)) for key, value in labels.items())
