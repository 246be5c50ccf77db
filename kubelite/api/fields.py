"""Field selectors as upstream apimachinery `fields.ParseSelector` defines them: `a=b`, `a==b`,
`a!=b`, comma = AND, and `\\`, `,` and `=` in values escaped with a backslash.

Must not decide which fields a resource supports or how to read them from an object: callers pass
the already extracted `{field: value}` map (a missing field reads as "", as upstream's does).
"""

from __future__ import annotations

from collections.abc import Mapping

from kubelite.api.errors import bad_request

EQUALS = "="
NOT_EQUALS = "!="

# Checked at each position in this order, so "==" is not read as "=" followed by "=value".
_TERM_OPERATORS = ("!=", "==", "=")


class FieldSelectorError(ValueError):
    """A field selector that does not parse; the message is upstream's."""


def escape_value(value: str) -> str:
    """upstream `fields.EscapeValue`: backslash-escape `\\`, `,` and `=`."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_value(text: str) -> str:
    """upstream `fields.UnescapeValue`; raises FieldSelectorError on a bad escape or a bare `,`/`=`."""
    if "\\" not in text and "," not in text and "=" not in text:
        return text
    out: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            if ch not in "\\,=":
                raise FieldSelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "," or ch == "=":
            # upstream prints the rune with %v, i.e. as its code point number
            raise FieldSelectorError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if escaped:
        raise FieldSelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    if not text:
        return []
    terms: list[str] = []
    start = 0
    escaped = False
    for index, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:index])
            start = index + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for index in range(len(term)):
        for operator in _TERM_OPERATORS:
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator) :]
    return None


class FieldSelector:
    """AND of `(field, operator, value)` requirements; operator is "=" or "!=" ("==" reads as "=")."""

    __slots__ = ("requirements",)

    def __init__(self, requirements: list[tuple[str, str, str]] | None = None):
        self.requirements: list[tuple[str, str, str]] = list(requirements or [])

    @property
    def is_empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        for field, operator, value in self.requirements:
            have = fields.get(field, "")
            if (have == value) != (operator == EQUALS):
                return False
        return True

    def requires_exact_match(self, field: str) -> str | None:
        """The value `field` must equal for a match, if the selector pins one."""
        for name, operator, value in self.requirements:
            if name == field and operator == EQUALS:
                return value
        return None

    def __str__(self) -> str:
        return ",".join(
            f"{field}{operator}{escape_value(value)}" for field, operator, value in self.requirements
        )

    def __repr__(self) -> str:
        return f"FieldSelector({self.requirements!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSelector):
            return NotImplemented
        return self.requirements == other.requirements

    def __hash__(self) -> int:
        return hash(tuple(self.requirements))


def parse_field_selector_requirements(text: str) -> FieldSelector:
    """Parse the string syntax; raises FieldSelectorError with upstream's message."""
    requirements: list[tuple[str, str, str]] = []
    for term in sorted(_split_terms(text)):
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise FieldSelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, operator, raw_value = split
        value = unescape_value(raw_value)
        requirements.append((field, NOT_EQUALS if operator == NOT_EQUALS else EQUALS, value))
    return FieldSelector(requirements)


def parse_field_selector(text: str) -> FieldSelector:
    """Parse a `?fieldSelector=` value; invalid syntax is a 400 BadRequest with upstream's message."""
    try:
        return parse_field_selector_requirements(text)
    except FieldSelectorError as err:
        raise bad_request(str(err)) from None
