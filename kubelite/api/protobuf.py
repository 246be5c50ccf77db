"""Kubernetes protobuf bodies (`application/vnd.kubernetes.protobuf`) <-> JSON-shaped dicts.

A body is the magic `k8s\\x00` followed by a `runtime.Unknown` envelope
{1: TypeMeta{1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType}; `raw` is the
object encoded per the `k8s.io/api` generated.proto messages. The message tables live in
`protobuf_messages.json` (written by tools/gen_protobuf_messages.py).

JSON mapping, following what Go's encoding/json makes of the decoded Go struct:
- a scalar of a non-pointer Go field ("opt") is dropped when zero/empty (omitempty); a pointer
  field ("ptr") keeps whatever value is on the wire, zero included (`replicas: 0`, `optional: false`),
  and so does a required non-pointer field without omitempty ("req": `containerPort`, `allowed`);
- repeated strings and map values keep empty strings; bytes become base64 strings;
- meta/v1 Time -> RFC3339 (seconds), MicroTime -> RFC3339 with 6 fraction digits, zero -> None;
  Duration -> Go duration string; IntOrString -> int or str; Quantity -> str;
  RawExtension / FieldsV1 / apiextensions JSON -> parsed JSON; ExtraValue / Verbs -> list;
- fields embedded with `json:",inline"` (Probe.handler, Volume.volumeSource, ...) are merged into
  the parent object.

Must not know about HTTP, storage, or validation/defaulting: it only converts bytes and dicts.
"""

from __future__ import annotations

import base64
import functools
import re
import struct
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

import orjson

from kubelite.api.errors import StatusError, bad_request

PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# Field kinds.
_STRING, _BYTES, _INT, _UINT, _BOOL, _DOUBLE, _FLOAT, _MESSAGE = range(8)
_SCALAR_KINDS = {
    "string": _STRING,
    "bytes": _BYTES,
    "int32": _INT,
    "int64": _INT,
    "uint32": _UINT,
    "uint64": _UINT,
    "bool": _BOOL,
    "double": _DOUBLE,
    "float": _FLOAT,
}
_WIRE_TYPES = {_STRING: 2, _BYTES: 2, _MESSAGE: 2, _INT: 0, _UINT: 0, _BOOL: 0, _DOUBLE: 1, _FLOAT: 5}
# Field modes.
_OPT, _REQ, _PTR, _REP, _MAP, _INLINE = range(6)
_MODES = {"opt": _OPT, "req": _REQ, "ptr": _PTR, "rep": _REP, "map": _MAP, "inline": _INLINE}
_ZERO: dict[int, Any] = {_STRING: "", _INT: 0, _UINT: 0, _BOOL: False, _DOUBLE: 0.0, _FLOAT: 0.0}
_MAX_DEPTH = 100


class _Malformed(Exception):
    """Bytes that do not parse as the expected message."""


class _Field:
    __slots__ = ("number", "name", "kind", "mode", "message", "wire")

    def __init__(self, number: int, name: str, kind: int, mode: int, wire: int):
        self.number = number
        self.name = name
        self.kind = kind
        self.mode = mode
        self.wire = wire
        self.message: _Message | None = None


class _Message:
    __slots__ = ("name", "special", "fields", "by_key", "by_number", "decode_special", "encode_special")

    def __init__(self, name: str, special: str | None):
        self.name = name
        self.special = special
        self.fields: list[_Field] = []  # in field-number order, for encoding
        self.by_key: dict[int, _Field] = {}  # wire key (number << 3 | wire type) -> field
        self.by_number: dict[int, _Field] = {}
        self.decode_special: Callable[[_Message, bytes, int, int, int], Any] | None = None
        self.encode_special: Callable[[_Message, Any, bytearray], None] | None = None

    def field(self, number: int) -> _Field:
        return self.by_number[number]


class _Tables:
    """The compiled message tables and the kinds served under each apiVersion."""

    def __init__(self, data: dict[str, Any]):
        self.messages: dict[str, _Message] = {}
        for name, entry in data["messages"].items():
            self.messages[name] = _Message(name, entry.get("special"))
        for name, entry in data["messages"].items():
            message = self.messages[name]
            for number, json_name, type_name, mode_name in sorted(entry["fields"]):
                kind = _SCALAR_KINDS.get(type_name, _MESSAGE)
                mode = _MODES[mode_name]
                wire = 2 if mode == _MAP else _WIRE_TYPES[kind]
                field = _Field(number, json_name, kind, mode, wire)
                if kind == _MESSAGE:
                    field.message = self.messages[type_name]
                elif mode == _MAP and kind not in (_STRING, _BYTES):
                    raise ValueError(f"{name}.{json_name}: map<string, {type_name}> is not supported")
                message.fields.append(field)
                message.by_key[number << 3 | wire] = field
                message.by_number[number] = field
            if message.special:
                message.decode_special, message.encode_special = _SPECIALS[message.special]
        self.kinds: dict[str, dict[str, _Message]] = {
            api_version: {kind: self.messages[name] for kind, name in kinds.items()}
            for api_version, kinds in data["kinds"].items()
        }
        self.meta_kinds = {name.rsplit(".", 1)[1]: self.messages[name] for name in data["meta_kinds"]}

    def message_for(self, api_version: str, kind: str) -> _Message:
        kinds = self.kinds.get(api_version)
        message = (kinds or {}).get(kind) or self.meta_kinds.get(kind)
        if message is not None:
            return message
        if kinds is None:  # custom resources have no protobuf form
            raise StatusError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json, application/yaml",
            )
        raise bad_request(f'no kind "{kind}" is registered for version "{api_version}"')


@functools.cache
def _tables() -> _Tables:
    raw = resources.files("kubelite.api").joinpath("protobuf_messages.json").read_bytes()
    return _Tables(orjson.loads(raw))


# --- public API -----------------------------------------------------------------------------------


def is_protobuf(content_type: str | None) -> bool:
    """True for `application/vnd.kubernetes.protobuf` (parameters ignored)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == PROTOBUF_CONTENT_TYPE


def decode_object(data: bytes) -> dict[str, Any]:
    """The JSON-shaped object of a protobuf request body. StatusError 400 on malformed bytes or an
    unknown kind, 415 for an apiVersion without protobuf messages (custom resources)."""
    if not data.startswith(MAGIC):
        raise bad_request(
            "the object provided is unrecognized: provided data does not appear to be a protobuf message, "
            f'expected prefix "k8s\\x00" ({_summary(data)})'
        )
    tables = _tables()
    try:
        envelope = _decode_raw_fields(data, len(MAGIC), len(data))
        type_meta_bytes = _last_bytes(envelope, 1)
        type_meta = _decode_raw_fields(type_meta_bytes, 0, len(type_meta_bytes))
        api_version = _last_bytes(type_meta, 1).decode()
        kind = _last_bytes(type_meta, 2).decode()
        raw = _last_bytes(envelope, 2)
        encoding = _last_bytes(envelope, 3).decode()
    except (_Malformed, IndexError, UnicodeDecodeError) as err:
        raise bad_request(
            f"the object provided is unrecognized: invalid protobuf envelope: {_reason(err)}"
        ) from None
    if not kind:
        raise bad_request("Object 'Kind' is missing in protobuf envelope")
    if encoding:
        raise bad_request(
            f'{kind} in version "{api_version}" cannot be handled: unsupported content encoding "{encoding}"'
        )
    message = tables.message_for(api_version, kind)
    try:
        body = _decode(message, raw, 0, len(raw), 0)
    except StatusError:
        raise
    except (_Malformed, IndexError, UnicodeDecodeError, ValueError, struct.error) as err:
        version = api_version.rsplit("/", 1)[-1]
        raise bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: {_reason(err)}'
        ) from None
    obj: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    obj.update(body)
    return obj


def encode_object(obj: dict[str, Any]) -> bytes:
    """The protobuf body of a JSON-shaped object (the reverse of decode_object), written as Go
    writes it: fields in number order, zero values of non-pointer fields included, map keys sorted.
    Unknown keys are ignored; a value of the wrong JSON type raises ValueError."""
    api_version = obj.get("apiVersion") or ""
    kind = obj.get("kind") or ""
    message = _tables().message_for(api_version, kind)
    raw = bytearray()
    try:
        _encode_fields(message, obj, raw)
    except (TypeError, AttributeError, KeyError, OverflowError, struct.error) as err:
        raise ValueError(f"cannot encode {kind}: {err}") from None
    type_meta = bytearray()
    _put_len(type_meta, 1, api_version.encode())
    _put_len(type_meta, 2, kind.encode())
    out = bytearray(MAGIC)
    _put_len(out, 1, type_meta)
    _put_len(out, 2, raw)
    _put_len(out, 3, b"")
    _put_len(out, 4, b"")
    return bytes(out)


def _summary(data: bytes) -> str:
    return data[:30].hex()


def _reason(err: BaseException) -> str:
    if isinstance(err, IndexError):
        return "unexpected end of data"
    if isinstance(err, UnicodeDecodeError):
        return "invalid UTF-8 in a string field"
    return str(err) or type(err).__name__


# --- wire reading ----------------------------------------------------------------------------------


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _Malformed("varint too long")


def _skip(buf: bytes, pos: int, end: int, wire: int) -> int:
    if wire == 0:
        _, pos = _varint(buf, pos)
    elif wire == 2:
        size, pos = _varint(buf, pos)
        pos += size
    elif wire == 1:
        pos += 8
    elif wire == 5:
        pos += 4
    else:
        raise _Malformed(f"unsupported wire type {wire}")
    if pos > end:
        raise _Malformed("unexpected end of data")
    return pos


def _decode_raw_fields(buf: bytes, pos: int, end: int) -> dict[int, list[Any]]:
    """Field number -> values (ints for varints, bytes otherwise); for small fixed messages."""
    out: dict[int, list[Any]] = {}
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Malformed("field number 0")
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos)
        else:
            start = pos
            if wire == 2:
                size, start = _varint(buf, pos)
                pos = start + size
            else:
                pos = _skip(buf, pos, end, wire)
            value = buf[start:pos]
        if pos > end:
            raise _Malformed("unexpected end of data")
        out.setdefault(number, []).append(value)
    if pos != end:
        raise _Malformed("unexpected end of data")
    return out


def _last_bytes(fields: dict[int, list[Any]], number: int) -> bytes:
    values = fields.get(number)
    if not values:
        return b""
    value = values[-1]
    if not isinstance(value, bytes):
        raise _Malformed(f"field {number} has the wrong wire type")
    return value


def _last_int(fields: dict[int, list[Any]], number: int) -> int:
    values = fields.get(number)
    if not values:
        return 0
    value = values[-1]
    if not isinstance(value, int):
        raise _Malformed(f"field {number} has the wrong wire type")
    return value - (1 << 64) if value >= 1 << 63 else value


# --- decoding --------------------------------------------------------------------------------------


def _decode(message: _Message, buf: bytes, pos: int, end: int, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise _Malformed("message nesting too deep")
    if message.decode_special is not None:
        return message.decode_special(message, buf, pos, end, depth)
    out: dict[str, Any] = {}
    by_key = message.by_key
    while pos < end:
        key = buf[pos]
        pos += 1
        if key & 0x80:
            key, pos = _varint(buf, pos - 1)
        field = by_key.get(key)
        if field is None:
            pos = _unexpected_field(message, out, buf, pos, end, key)
            continue
        kind = field.kind
        if field.wire == 2:
            size = buf[pos]
            pos += 1
            if size & 0x80:
                size, pos = _varint(buf, pos - 1)
            stop = pos + size
            if stop > end:
                raise _Malformed(f"field {field.name} runs past the end of its message")
            mode = field.mode
            if mode == _MAP:
                key_value, item = _decode_map_entry(field, buf, pos, stop, depth)
                mapping = out.get(field.name)
                if mapping is None:
                    mapping = out[field.name] = {}
                mapping[key_value] = item
                pos = stop
                continue
            if kind == _STRING:
                value: Any = buf[pos:stop].decode()
            elif kind == _MESSAGE:
                assert field.message is not None
                value = _decode(field.message, buf, pos, stop, depth + 1)
                if mode == _INLINE:
                    out.update(value)
                    pos = stop
                    continue
            else:
                value = base64.b64encode(buf[pos:stop]).decode()
            pos = stop
        elif field.wire == 0:
            value = buf[pos]
            pos += 1
            if value & 0x80:
                value, pos = _varint(buf, pos - 1)
            if kind == _INT:
                if value >= 1 << 63:
                    value -= 1 << 64
            elif kind == _BOOL:
                value = value != 0
        elif field.wire == 1:
            if pos + 8 > end:
                raise _Malformed(f"field {field.name} runs past the end of its message")
            value = _number(struct.unpack_from("<d", buf, pos)[0])
            pos += 8
        else:
            if pos + 4 > end:
                raise _Malformed(f"field {field.name} runs past the end of its message")
            value = _number(struct.unpack_from("<f", buf, pos)[0])
            pos += 4
        mode = field.mode
        if mode == _REP:
            items = out.get(field.name)
            if items is None:
                out[field.name] = [value]
            else:
                items.append(value)
        elif mode == _OPT and kind != _MESSAGE and not value:
            out.pop(field.name, None)  # omitempty; a later zero also replaces an earlier value
        else:
            out[field.name] = value
    if pos != end:
        raise _Malformed(f"truncated {message.name.rsplit('.', 1)[-1]}")
    return out


def _unexpected_field(
    message: _Message, out: dict[str, Any], buf: bytes, pos: int, end: int, key: int
) -> int:
    """Skips an unknown field; decodes packed repeated numbers; rejects a known field of the wrong wire type."""
    number, wire = key >> 3, key & 7
    if number == 0:
        raise _Malformed("field number 0")
    field = message.by_number.get(number)
    if field is None:
        return _skip(buf, pos, end, wire)
    if wire == 2 and field.mode == _REP and field.wire != 2:
        size, pos = _varint(buf, pos)
        stop = pos + size
        if stop > end:
            raise _Malformed(f"field {field.name} runs past the end of its message")
        items = out.setdefault(field.name, [])
        while pos < stop:
            if field.wire == 0:
                value, pos = _varint(buf, pos)
                items.append(value - (1 << 64) if field.kind == _INT and value >= 1 << 63 else value)
            else:
                fmt, width = ("<d", 8) if field.wire == 1 else ("<f", 4)
                items.append(_number(struct.unpack_from(fmt, buf, pos)[0]))
                pos += width
        if pos != stop:
            raise _Malformed(f"field {field.name} runs past the end of its message")
        return stop
    raise _Malformed(f"wrong wire type {wire} for field {field.name}")


def _decode_map_entry(field: _Field, buf: bytes, pos: int, end: int, depth: int) -> tuple[str, Any]:
    """A map entry {1: key, 2: value}; a missing value is the zero value of its type."""
    raw = _decode_raw_fields(buf, pos, end)
    key = _last_bytes(raw, 1).decode()
    value = _last_bytes(raw, 2)
    if field.kind == _MESSAGE:
        assert field.message is not None
        return key, _decode(field.message, value, 0, len(value), depth + 1)
    if field.kind == _STRING:
        return key, value.decode()
    return key, base64.b64encode(value).decode()


def _number(value: float) -> float | int:
    """Integral doubles as ints, as Go's encoding/json writes them (100, not 100.0)."""
    return int(value) if value.is_integer() and abs(value) < 1e21 else value


# --- special messages ------------------------------------------------------------------------------


def _decode_time(message: _Message, buf: bytes, pos: int, end: int, depth: int) -> str | None:
    raw = _decode_raw_fields(buf, pos, end)
    seconds, nanos = _last_int(raw, 1), _last_int(raw, 2)
    if seconds == 0 and nanos == 0:
        return None
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if message.special == "microtime":
        return f"{stamp}.{nanos // 1000:06d}Z"
    return stamp + "Z"


_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$"
)


def _encode_time(message: _Message, value: Any, out: bytearray) -> None:
    if value is None:
        return
    match = _TIME_RE.match(value)
    if not match:
        raise TypeError(f"invalid RFC3339 time {value!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    if match.group(8):
        offset = int(match.group(9)) * 3600 + int(match.group(10)) * 60
        seconds -= offset if match.group(8) == "+" else -offset
    nanos = int((match.group(7) or "0")[:9].ljust(9, "0"))
    _put_varint_field(out, 1, seconds)
    _put_varint_field(out, 2, nanos)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)")


def _decode_duration(message: _Message, buf: bytes, pos: int, end: int, depth: int) -> str:
    return go_duration(_last_int(_decode_raw_fields(buf, pos, end), 1))


def go_duration(nanoseconds: int) -> str:
    """Go's time.Duration.String(): "1h2m3.5s", "1.5ms", "0s"."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    n = abs(nanoseconds)
    if n < 1_000:
        return f"{sign}{n}ns"
    if n < 1_000_000:
        return f"{sign}{_fraction(n, 1_000)}µs"
    if n < 1_000_000_000:
        return f"{sign}{_fraction(n, 1_000_000)}ms"
    seconds_text = _fraction(n % 60_000_000_000, 1_000_000_000) + "s"
    minutes, hours = (n // 60_000_000_000) % 60, n // 3_600_000_000_000
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds_text}"
    if minutes:
        return f"{sign}{minutes}m{seconds_text}"
    return sign + seconds_text


def _fraction(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = str(rest).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def parse_go_duration(text: str) -> int:
    """Nanoseconds of a Go duration string ("1h30m", "1.5s", "-2ms"); ValueError when invalid."""
    body = text.lstrip("+-")
    negative = text.startswith("-")
    if body == "0":
        return 0
    total = 0
    pos = 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if not match or not (match.group(1) or match.group(2)):
            raise ValueError(f"time: invalid duration {text!r}")
        unit = _DURATION_UNITS[match.group(3)]
        whole, frac = match.group(1) or "0", match.group(2) or ""
        total += int(whole) * unit + (int(frac) * unit // 10 ** len(frac) if frac else 0)
        pos = match.end()
    if not body:
        raise ValueError(f"time: invalid duration {text!r}")
    return -total if negative else total


def _encode_duration(message: _Message, value: Any, out: bytearray) -> None:
    _put_varint_field(out, 1, 0 if value is None else parse_go_duration(value))


def _decode_int_or_string(message: _Message, buf: bytes, pos: int, end: int, depth: int) -> int | str:
    raw = _decode_raw_fields(buf, pos, end)
    if _last_int(raw, 1) == 1:
        return _last_bytes(raw, 3).decode()
    return _last_int(raw, 2)


def _encode_int_or_string(message: _Message, value: Any, out: bytearray) -> None:
    if isinstance(value, str):
        _put_varint_field(out, 1, 1)
        _put_varint_field(out, 2, 0)
        _put_len(out, 3, value.encode())
    elif value is None or isinstance(value, int) and not isinstance(value, bool):
        _put_varint_field(out, 1, 0)
        _put_varint_field(out, 2, value or 0)
        _put_len(out, 3, b"")
    else:
        raise TypeError(f"an int or a string is required, not {value!r}")


def _decode_quantity(message: _Message, buf: bytes, pos: int, end: int, depth: int) -> str:
    return _last_bytes(_decode_raw_fields(buf, pos, end), 1).decode() or "0"


def _encode_quantity(message: _Message, value: Any, out: bytearray) -> None:
    if value is None:
        value = "0"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"a quantity string is required, not {value!r}")
    _put_len(out, 1, str(value).encode())


def _decode_raw_json(message: _Message, buf: bytes, pos: int, end: int, depth: int) -> Any:
    raw = _last_bytes(_decode_raw_fields(buf, pos, end), 1)
    if not raw:
        return None
    if raw.startswith(MAGIC):
        return decode_object(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise _Malformed(f"invalid JSON in {message.name.rsplit('.', 1)[-1]}: {err}") from None


def _encode_raw_json(message: _Message, value: Any, out: bytearray) -> None:
    if value is not None:
        _put_len(out, 1, orjson.dumps(value))


def _decode_items(message: _Message, buf: bytes, pos: int, end: int, depth: int) -> list[str]:
    return [item.decode() for item in _decode_raw_fields(buf, pos, end).get(1, [])]


def _encode_items(message: _Message, value: Any, out: bytearray) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise TypeError(f"a list of strings is required, not {value!r}")
    for item in value:
        _put_len(out, 1, item.encode())


def _decode_schema_variant(message: _Message, buf: bytes, pos: int, end: int, depth: int) -> Any:
    """JSONSchemaPropsOrArray / OrBool / OrStringArray, as their Go MarshalJSON writes them."""
    raw = _decode_raw_fields(buf, pos, end)
    schema_number = 2 if message.special == "schema_or_bool" else 1
    schema_field = message.field(schema_number)
    assert schema_field.message is not None
    schema_message = schema_field.message
    if message.special == "schema_or_array" and raw.get(2):
        return [_decode(schema_message, item, 0, len(item), depth + 1) for item in raw[2]]
    if message.special == "schema_or_strings" and raw.get(2):
        return [item.decode() for item in raw[2]]
    if raw.get(schema_number):
        schema = _last_bytes(raw, schema_number)
        return _decode(schema_message, schema, 0, len(schema), depth + 1)
    if message.special == "schema_or_bool":
        return _last_int(raw, 1) != 0
    return None


def _encode_schema_variant(message: _Message, value: Any, out: bytearray) -> None:
    special = message.special
    if special == "schema_or_bool":
        if isinstance(value, bool):
            _put_varint_field(out, 1, int(value))
            return
        _put_varint_field(out, 1, 1)
        _put_message(out, 2, message.field(2), value)
        return
    if isinstance(value, list):
        for item in value:
            if special == "schema_or_strings":
                _put_len(out, 2, item.encode())
            else:
                _put_message(out, 2, message.field(2), item)
    elif value is not None:
        _put_message(out, 1, message.field(1), value)


_SPECIALS: dict[str, tuple[Callable[..., Any], Callable[..., None]]] = {
    "time": (_decode_time, _encode_time),
    "microtime": (_decode_time, _encode_time),
    "duration": (_decode_duration, _encode_duration),
    "intorstring": (_decode_int_or_string, _encode_int_or_string),
    "quantity": (_decode_quantity, _encode_quantity),
    "rawjson": (_decode_raw_json, _encode_raw_json),
    "items": (_decode_items, _encode_items),
    "schema_or_array": (_decode_schema_variant, _encode_schema_variant),
    "schema_or_bool": (_decode_schema_variant, _encode_schema_variant),
    "schema_or_strings": (_decode_schema_variant, _encode_schema_variant),
}


# --- encoding --------------------------------------------------------------------------------------


def _put_varint(out: bytearray, value: int) -> None:
    if value < 0:
        value += 1 << 64
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _put_varint_field(out: bytearray, number: int, value: int) -> None:
    _put_varint(out, number << 3)
    _put_varint(out, value)


def _put_len(out: bytearray, number: int, payload: bytes | bytearray) -> None:
    _put_varint(out, number << 3 | 2)
    _put_varint(out, len(payload))
    out += payload


def _put_message(out: bytearray, number: int, field: _Field, value: Any) -> None:
    assert field.message is not None
    body = bytearray()
    _encode_value(field.message, value, body)
    _put_len(out, number, body)


def _encode_value(message: _Message, value: Any, out: bytearray) -> None:
    """`value` None is the zero value of the message."""
    if message.encode_special is not None:
        message.encode_special(message, value, out)
    else:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise TypeError(f"an object is required for {message.name.rsplit('.', 1)[-1]}, not {value!r}")
        _encode_fields(message, value, out)


def _encode_fields(message: _Message, obj: dict[str, Any], out: bytearray) -> None:
    for field in message.fields:
        if field.mode == _INLINE:
            _put_message(out, field.number, field, obj)
            continue
        value = obj.get(field.name)
        if value is None:
            if field.mode in (_OPT, _REQ):  # non-pointer Go fields are always written
                if field.kind == _MESSAGE:
                    _put_message(out, field.number, field, None)
                elif field.kind != _BYTES:
                    _encode_scalar(field.number, field.kind, _ZERO[field.kind], out)
            continue
        if field.mode == _REP:
            for item in value:
                _encode_scalar_or_message(field, item, out)
        elif field.mode == _MAP:
            for key in sorted(value):
                entry = bytearray()
                _put_len(entry, 1, key.encode())
                if field.kind == _MESSAGE:
                    _put_message(entry, 2, field, value[key])
                else:
                    _encode_scalar(2, field.kind, value[key], entry)
                _put_len(out, field.number, entry)
        else:
            _encode_scalar_or_message(field, value, out)


def _encode_scalar_or_message(field: _Field, value: Any, out: bytearray) -> None:
    if field.kind == _MESSAGE:
        _put_message(out, field.number, field, value)
    else:
        _encode_scalar(field.number, field.kind, value, out)


def _encode_scalar(number: int, kind: int, value: Any, out: bytearray) -> None:
    if kind == _STRING:
        if not isinstance(value, str):
            raise TypeError(f"a string is required, not {value!r}")
        _put_len(out, number, value.encode())
    elif kind == _BYTES:
        _put_len(out, number, base64.b64decode(value, validate=True))
    elif kind == _BOOL:
        if not isinstance(value, bool):
            raise TypeError(f"a boolean is required, not {value!r}")
        _put_varint_field(out, number, int(value))
    elif kind in (_INT, _UINT):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"an integer is required, not {value!r}")
        _put_varint_field(out, number, value)
    else:
        _put_varint(out, number << 3 | (1 if kind == _DOUBLE else 5))
        out += struct.pack("<d" if kind == _DOUBLE else "<f", float(value))


__all__ = [
    "MAGIC",
    "PROTOBUF_CONTENT_TYPE",
    "decode_object",
    "encode_object",
    "go_duration",
    "is_protobuf",
    "parse_go_duration",
]
