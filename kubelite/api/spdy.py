"""SPDY/3.1 framing, as kubectl (through moby/spdystream) speaks it for exec, attach and
port-forward: frame encoding and decoding, name/value header blocks compressed with zlib and the
SPDY/3 dictionary (one compression context per direction, each block ending in a sync flush), and
the receive-side flow-control window that decides when to send WINDOW_UPDATE.

Must not do I/O, keep per-connection state beyond the two zlib contexts and the windows, or know
what the streams carry (kubelite/api/remotecommand.py and the API server do).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3

# frame types (DATA is not a control type: it is our tag for data frames)
DATA = 0
SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9
CONTROL_TYPES = frozenset((SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE))

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
FLAG_SETTINGS_CLEAR = 0x01

# RST_STREAM status codes
PROTOCOL_ERROR = 1
INVALID_STREAM = 2
REFUSED_STREAM = 3
UNSUPPORTED_VERSION = 4
CANCEL = 5
INTERNAL_ERROR = 6
FLOW_CONTROL_ERROR = 7
STREAM_IN_USE = 8
STREAM_ALREADY_CLOSED = 9
FRAME_TOO_LARGE = 11

# GOAWAY status codes
GOAWAY_OK = 0
GOAWAY_PROTOCOL_ERROR = 1
GOAWAY_INTERNAL_ERROR = 2

SETTINGS_INITIAL_WINDOW_SIZE = 7
DEFAULT_WINDOW = 64 * 1024
MAX_FRAME_PAYLOAD = (1 << 24) - 1
DATA_CHUNK = 32 * 1024  # how much one DATA frame we write carries at most
_STREAM_ID_MASK = 0x7FFFFFFF

Headers = tuple[tuple[str, str], ...]


_DICTIONARY_WORDS = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
    "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
    "content-base", "content-encoding", "content-language", "content-length", "content-location",
    "content-md5", "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host",
    "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified",
    "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
    "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via",
    "warning", "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url",
    "public", "set-cookie", "keep-alive", "origin",
)
_DICTIONARY_TEXT = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)


def _dictionary() -> bytes:
    """The SPDY/3 header-compression dictionary (draft 3, section 2.6.10.1): length-prefixed
    words, then a run of common value text; 1423 bytes."""
    prefixed = b"".join(struct.pack(">I", len(word)) + word.encode() for word in _DICTIONARY_WORDS)
    return prefixed + _DICTIONARY_TEXT.encode()


DICTIONARY = _dictionary()


class SpdyProtocolError(Exception):
    """The peer sent bytes that are not valid SPDY/3 (the session should GOAWAY and close)."""


@dataclass(slots=True)
class Frame:
    """One decoded frame. Fields a frame type does not use keep their defaults."""

    type: int
    flags: int = 0
    stream_id: int = 0
    data: bytes = b""  # DATA payload
    headers: Headers = ()  # SYN_STREAM, SYN_REPLY, HEADERS
    associated_id: int = 0  # SYN_STREAM
    priority: int = 0  # SYN_STREAM (0 highest .. 7)
    status: int = 0  # RST_STREAM, GOAWAY
    ping_id: int = 0  # PING
    last_good_stream_id: int = 0  # GOAWAY
    delta: int = 0  # WINDOW_UPDATE
    settings: tuple[tuple[int, int, int], ...] = field(default=())  # SETTINGS: (flags, id, value)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN) and self.type in (DATA, SYN_STREAM, SYN_REPLY, HEADERS)

    def header(self, name: str, default: str = "") -> str:
        for key, value in self.headers:
            if key == name:
                return value
        return default


# ---------------------------------------------------------------------- header blocks
def encode_header_block(headers: Headers | list[tuple[str, str]]) -> bytes:
    """The uncompressed name/value block: a count, then length-prefixed lowercase names and values
    (repeated names are joined into one value with NUL separators, as SPDY/3 requires)."""
    merged: dict[str, list[str]] = {}
    for name, value in headers:
        merged.setdefault(name.lower(), []).append(value)
    out = bytearray(struct.pack(">I", len(merged)))
    for name, values in merged.items():
        raw_name = name.encode()
        raw_value = "\x00".join(values).encode()
        out += struct.pack(">I", len(raw_name)) + raw_name + struct.pack(">I", len(raw_value)) + raw_value
    return bytes(out)


def decode_header_block(block: bytes) -> Headers:
    """Pairs in block order; a NUL-joined value becomes one pair per value."""
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        offset = 4
        pairs: list[tuple[str, str]] = []
        for _ in range(count):
            (name_len,) = struct.unpack_from(">I", block, offset)
            offset += 4
            name = block[offset : offset + name_len]
            offset += name_len
            (value_len,) = struct.unpack_from(">I", block, offset)
            offset += 4
            value = block[offset : offset + value_len]
            offset += value_len
            if len(name) != name_len or len(value) != value_len or not name_len:
                raise SpdyProtocolError("truncated or empty header name/value")
            text_name = name.decode()
            for part in value.decode().split("\x00"):
                pairs.append((text_name, part))
    except (struct.error, UnicodeDecodeError) as exc:
        raise SpdyProtocolError(f"malformed header block: {exc}") from None
    return tuple(pairs)


class HeaderCompressor:
    """The sending direction's zlib stream: every block is sync-flushed so the peer can decode it
    at once, and the context carries over from block to block."""

    def __init__(self) -> None:
        self._zlib = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)

    def compress(self, headers: Headers | list[tuple[str, str]]) -> bytes:
        raw = encode_header_block(headers)
        return self._zlib.compress(raw) + self._zlib.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    """The receiving direction's zlib stream (the dictionary is supplied when zlib asks for it)."""

    def __init__(self) -> None:
        self._zlib = zlib.decompressobj(zdict=DICTIONARY)

    def decompress(self, block: bytes) -> Headers:
        try:
            raw = self._zlib.decompress(block)
        except zlib.error as exc:
            raise SpdyProtocolError(f"header block does not decompress: {exc}") from None
        return decode_header_block(raw)


# ---------------------------------------------------------------------- frames
def _control(frame_type: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_FRAME_PAYLOAD:
        raise ValueError("control frame too large")
    return struct.pack(">HHI", 0x8000 | VERSION, frame_type, (flags << 24) | len(payload)) + payload


class FrameEncoder:
    """Bytes for frames we send. Frames carrying headers must be written in the order they were
    encoded (they share the compression context)."""

    def __init__(self) -> None:
        self._headers = HeaderCompressor()

    def syn_stream(
        self,
        stream_id: int,
        headers: Headers | list[tuple[str, str]],
        *,
        fin: bool = False,
        unidirectional: bool = False,
        associated_id: int = 0,
        priority: int = 0,
    ) -> bytes:
        flags = (FLAG_FIN if fin else 0) | (FLAG_UNIDIRECTIONAL if unidirectional else 0)
        head = struct.pack(">IIBB", stream_id & _STREAM_ID_MASK, associated_id & _STREAM_ID_MASK, (priority & 7) << 5, 0)
        return _control(SYN_STREAM, flags, head + self._headers.compress(headers))

    def syn_reply(self, stream_id: int, headers: Headers | list[tuple[str, str]] = (), *, fin: bool = False) -> bytes:
        payload = struct.pack(">I", stream_id & _STREAM_ID_MASK) + self._headers.compress(headers)
        return _control(SYN_REPLY, FLAG_FIN if fin else 0, payload)

    def headers(self, stream_id: int, headers: Headers | list[tuple[str, str]], *, fin: bool = False) -> bytes:
        payload = struct.pack(">I", stream_id & _STREAM_ID_MASK) + self._headers.compress(headers)
        return _control(HEADERS, FLAG_FIN if fin else 0, payload)

    @staticmethod
    def data(stream_id: int, payload: bytes, *, fin: bool = False) -> bytes:
        """One or more DATA frames (payloads above DATA_CHUNK are split; FIN goes on the last)."""
        if len(payload) <= DATA_CHUNK:
            return struct.pack(">II", stream_id & _STREAM_ID_MASK, ((FLAG_FIN if fin else 0) << 24) | len(payload)) + payload
        view = memoryview(payload)
        out = bytearray()
        for start in range(0, len(payload), DATA_CHUNK):
            piece = view[start : start + DATA_CHUNK]
            last = start + DATA_CHUNK >= len(payload)
            flags = FLAG_FIN if fin and last else 0
            out += struct.pack(">II", stream_id & _STREAM_ID_MASK, (flags << 24) | len(piece))
            out += piece
        return bytes(out)

    @staticmethod
    def rst_stream(stream_id: int, status: int) -> bytes:
        return _control(RST_STREAM, 0, struct.pack(">II", stream_id & _STREAM_ID_MASK, status))

    @staticmethod
    def settings(entries: list[tuple[int, int, int]] | tuple[tuple[int, int, int], ...], *, clear: bool = False) -> bytes:
        payload = bytearray(struct.pack(">I", len(entries)))
        for flags, setting_id, value in entries:
            payload += struct.pack(">II", (flags << 24) | (setting_id & 0xFFFFFF), value)
        return _control(SETTINGS, FLAG_SETTINGS_CLEAR if clear else 0, bytes(payload))

    @staticmethod
    def ping(ping_id: int) -> bytes:
        return _control(PING, 0, struct.pack(">I", ping_id))

    @staticmethod
    def goaway(last_good_stream_id: int, status: int = GOAWAY_OK) -> bytes:
        return _control(GOAWAY, 0, struct.pack(">II", last_good_stream_id & _STREAM_ID_MASK, status))

    @staticmethod
    def window_update(stream_id: int, delta: int) -> bytes:
        return _control(WINDOW_UPDATE, 0, struct.pack(">II", stream_id & _STREAM_ID_MASK, delta & _STREAM_ID_MASK))


class FrameDecoder:
    """Frames from a byte stream fed in arbitrary pieces (TCP reads, WebSocket messages)."""

    def __init__(self, max_payload: int = MAX_FRAME_PAYLOAD):
        self._buffer = bytearray()
        self._headers = HeaderDecompressor()
        self._max_payload = max_payload

    def feed(self, data: bytes) -> list[Frame]:
        buffer = self._buffer
        buffer += data
        frames: list[Frame] = []
        offset = 0
        while len(buffer) - offset >= 8:
            first, flags_length = struct.unpack_from(">II", buffer, offset)
            length = flags_length & 0xFFFFFF
            if length > self._max_payload:
                raise SpdyProtocolError(f"frame of {length} bytes exceeds the limit of {self._max_payload}")
            end = offset + 8 + length
            if end > len(buffer):
                break
            payload = bytes(buffer[offset + 8 : end])
            flags = flags_length >> 24
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != VERSION:
                    raise SpdyProtocolError(f"unsupported SPDY version {version}")
                frames.append(self._control(first & 0xFFFF, flags, payload))
            else:
                frames.append(Frame(DATA, flags, first & _STREAM_ID_MASK, data=payload))
            offset = end
        if offset:
            del buffer[:offset]
        return frames

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def _control(self, frame_type: int, flags: int, payload: bytes) -> Frame:
        try:
            if frame_type == SYN_STREAM:
                stream_id, associated, priority_byte, _slot = struct.unpack_from(">IIBB", payload, 0)
                return Frame(
                    SYN_STREAM,
                    flags,
                    stream_id & _STREAM_ID_MASK,
                    headers=self._headers.decompress(payload[10:]),
                    associated_id=associated & _STREAM_ID_MASK,
                    priority=priority_byte >> 5,
                )
            if frame_type in (SYN_REPLY, HEADERS):
                (stream_id,) = struct.unpack_from(">I", payload, 0)
                return Frame(frame_type, flags, stream_id & _STREAM_ID_MASK, headers=self._headers.decompress(payload[4:]))
            if frame_type == RST_STREAM:
                stream_id, status = struct.unpack_from(">II", payload, 0)
                return Frame(RST_STREAM, flags, stream_id & _STREAM_ID_MASK, status=status)
            if frame_type == SETTINGS:
                (count,) = struct.unpack_from(">I", payload, 0)
                entries = []
                for index in range(count):
                    flag_id, value = struct.unpack_from(">II", payload, 4 + 8 * index)
                    entries.append((flag_id >> 24, flag_id & 0xFFFFFF, value))
                return Frame(SETTINGS, flags, settings=tuple(entries))
            if frame_type == PING:
                (ping_id,) = struct.unpack_from(">I", payload, 0)
                return Frame(PING, flags, ping_id=ping_id)
            if frame_type == GOAWAY:
                last_good, = struct.unpack_from(">I", payload, 0)
                status = struct.unpack_from(">I", payload, 4)[0] if len(payload) >= 8 else GOAWAY_OK
                return Frame(GOAWAY, flags, last_good_stream_id=last_good & _STREAM_ID_MASK, status=status)
            if frame_type == WINDOW_UPDATE:
                stream_id, delta = struct.unpack_from(">II", payload, 0)
                return Frame(WINDOW_UPDATE, flags, stream_id & _STREAM_ID_MASK, delta=delta & _STREAM_ID_MASK)
        except struct.error:
            raise SpdyProtocolError(f"truncated control frame of type {frame_type}") from None
        # unknown control frames (NOOP, CREDENTIAL) must be ignored, not fail the session
        return Frame(frame_type, flags)


# ---------------------------------------------------------------------- flow control
class ReceiveWindow:
    """How much one stream's peer may still send. The reader reports bytes it has consumed; once
    half the window is used, `consumed` returns the delta to announce in a WINDOW_UPDATE (0 while
    none is due), so a compliant sender never stalls and never runs far ahead of the reader."""

    def __init__(self, size: int = DEFAULT_WINDOW):
        self.size = size
        self._unannounced = 0

    def consumed(self, count: int) -> int:
        self._unannounced += count
        if self._unannounced * 2 < self.size:
            return 0
        delta, self._unannounced = self._unannounced, 0
        return delta
