"""The remote-command and port-forward protocols' pure parts, shared by the API server and the
kubelet: subprotocol names and negotiation, the one-byte channel framing of `vN.channel.k8s.io`
WebSocket messages, exec/attach options as the API (stdin=true) and the kubelet (input=1) spell
them, the Status objects that carry an exit code, terminal-resize JSON, and the two-byte port
prefix of WebSocket port-forward channels.

Must not do I/O or know about HTTP frameworks, processes or SPDY framing (kubelite/api/spdy.py).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# ---------------------------------------------------------------------- protocol names
CHANNEL_V5 = "v5.channel.k8s.io"  # v4 plus channel 255: "close this channel" (stdin EOF)
CHANNEL_V4 = "v4.channel.k8s.io"  # Status JSON on the error channel
WEBSOCKET_EXEC_PROTOCOLS = (CHANNEL_V5, CHANNEL_V4)  # preference order for WebSocket exec/attach
SPDY_EXEC_PROTOCOLS = (CHANNEL_V4,)  # what we answer in X-Stream-Protocol-Version over SPDY
PORT_FORWARD_SPDY = "portforward.k8s.io"  # X-Stream-Protocol-Version of raw SPDY port-forward
PORT_FORWARD_TUNNEL = "SPDY/3.1+portforward.k8s.io"  # WebSocket subprotocol whose messages carry SPDY
PORT_FORWARD_WEBSOCKET = (CHANNEL_V4,)  # upstream's WebSocket port-forward (channels per port)
SPDY_UPGRADE = "SPDY/3.1"
STREAM_PROTOCOL_HEADER = "X-Stream-Protocol-Version"

# ---------------------------------------------------------------------- channels / SPDY streams
STDIN = 0
STDOUT = 1
STDERR = 2
ERROR = 3
RESIZE = 4
CLOSE = 255

STREAM_TYPE_HEADER = "streamtype"
PORT_HEADER = "port"
REQUEST_ID_HEADER = "requestid"
STREAM_TYPE_CHANNELS = {"stdin": STDIN, "stdout": STDOUT, "stderr": STDERR, "error": ERROR, "resize": RESIZE}
PORT_FORWARD_DATA = "data"
PORT_FORWARD_ERROR = "error"

NON_ZERO_EXIT_REASON = "NonZeroExitCode"
EXIT_CODE_CAUSE = "ExitCode"

_TRUE = frozenset(("1", "t", "T", "true", "TRUE", "True"))


def channel_message(channel: int, data: bytes = b"") -> bytes:
    """A binary WebSocket message on `channel`."""
    return bytes((channel,)) + data


def close_message(channel: int) -> bytes:
    """v5: the sender will write no more on `channel` (stdin EOF)."""
    return bytes((CLOSE, channel))


def split_message(message: bytes) -> tuple[int, bytes]:
    """(channel, payload) of a binary message; an empty message is (-1, b"")."""
    if not message:
        return -1, b""
    return message[0], message[1:]


def parse_protocols(values: Iterable[str]) -> list[str]:
    """Protocol names from (possibly repeated) comma-separated header values, in offer order."""
    offered: list[str] = []
    for value in values:
        offered.extend(p.strip() for p in value.split(",") if p.strip())
    return offered


def negotiate(offered: Sequence[str], supported: Sequence[str]) -> str | None:
    """The first protocol the client offered that we support (httpstream.Handshake's rule)."""
    for protocol in offered:
        if protocol in supported:
            return protocol
    return None


def parse_bool(value: str | None) -> bool:
    return value is not None and value in _TRUE


# ---------------------------------------------------------------------- exec / attach options
@dataclass(frozen=True, slots=True)
class ExecOptions:
    """One exec (command non-empty) or attach (command empty) request."""

    container: str
    command: tuple[str, ...] = ()
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False

    @classmethod
    def from_api_query(cls, query: Mapping[str, Sequence[str]], *, attach: bool = False) -> ExecOptions:
        """From pods/exec or pods/attach query parameters; raises ValueError with upstream's text."""

        def flag(name: str) -> bool:
            values = query.get(name) or []
            return parse_bool(values[-1]) if values else False

        command = tuple(query.get("command") or ())
        if not attach and not command:
            raise ValueError("you must specify at least 1 command")
        options = cls(
            container=(query.get("container") or [""])[-1],
            command=() if attach else command,
            stdin=flag("stdin"),
            stdout=flag("stdout"),
            stderr=flag("stderr"),
            tty=flag("tty"),
        )
        return options.checked()

    @classmethod
    def from_kubelet_query(cls, container: str, query: Mapping[str, Sequence[str]], *, attach: bool = False) -> ExecOptions:
        """From the kubelet's /exec and /attach query (`command`, `input`, `output`, `error`, `tty`)."""

        def flag(name: str) -> bool:
            values = query.get(name) or []
            return parse_bool(values[-1]) if values else False

        command = () if attach else tuple(query.get("command") or ())
        if not attach and not command:
            raise ValueError("you must specify at least 1 command")
        return cls(container, command, flag("input"), flag("output"), flag("error"), flag("tty")).checked()

    def checked(self) -> ExecOptions:
        stderr = self.stderr and not self.tty  # a terminal merges stderr into stdout
        if not (self.stdin or self.stdout or stderr):
            raise ValueError("you must specify at least 1 of stdin, stdout, stderr")
        if stderr == self.stderr:
            return self
        return ExecOptions(self.container, self.command, self.stdin, self.stdout, stderr, self.tty)

    def kubelet_query(self) -> list[tuple[str, str]]:
        params = [("command", part) for part in self.command]
        for name, enabled in (("input", self.stdin), ("output", self.stdout), ("error", self.stderr), ("tty", self.tty)):
            if enabled:
                params.append((name, "1"))
        return params


# ---------------------------------------------------------------------- Status on the error channel
def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_code_status(command: Sequence[str], exit_code: int) -> dict[str, Any]:
    """A command that ran and exited non-zero (kubectl exits with that code)."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command [{' '.join(command)}], exit code {exit_code}",
        "reason": NON_ZERO_EXIT_REASON,
        "details": {"causes": [{"reason": EXIT_CODE_CAUSE, "message": str(exit_code)}]},
    }


def failure_status(message: str, code: int = 500, reason: str = "InternalError") -> dict[str, Any]:
    """The operation itself failed (could not start the command, no such container, ...)."""
    text = f"Internal error occurred: {message}" if reason == "InternalError" else message
    return {"metadata": {}, "status": "Failure", "message": text, "reason": reason, "code": code}


def encode_status(status: Mapping[str, Any]) -> bytes:
    return json.dumps(status, separators=(",", ":")).encode()


def status_exit_code(status: Mapping[str, Any]) -> int | None:
    """0 for Success, the exit code of a NonZeroExitCode failure, None for other failures."""
    if status.get("status") == "Success":
        return 0
    if status.get("reason") != NON_ZERO_EXIT_REASON:
        return None
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == EXIT_CODE_CAUSE:
            try:
                return int(cause.get("message", ""))
            except ValueError:
                return None
    return None


# ---------------------------------------------------------------------- terminal size
@dataclass(frozen=True, slots=True)
class TerminalSize:
    width: int
    height: int

    def encode(self) -> bytes:
        return json.dumps({"Width": self.width, "Height": self.height}, separators=(",", ":")).encode()


class ResizeDecoder:
    """TerminalSize values from a byte stream of concatenated JSON objects (a SPDY resize stream,
    or WebSocket resize messages, which each hold one)."""

    def __init__(self) -> None:
        self._pending = ""
        self._decoder = json.JSONDecoder()

    def feed(self, data: bytes) -> list[TerminalSize]:
        self._pending += data.decode(errors="replace")
        sizes: list[TerminalSize] = []
        while True:
            text = self._pending.lstrip()
            if not text:
                self._pending = ""
                return sizes
            try:
                value, end = self._decoder.raw_decode(text)
            except json.JSONDecodeError:
                self._pending = text
                if len(text) > 4096:  # not JSON at all: drop it rather than grow forever
                    self._pending = ""
                return sizes
            self._pending = text[end:]
            if isinstance(value, dict):
                try:
                    sizes.append(TerminalSize(int(value.get("Width") or 0), int(value.get("Height") or 0)))
                except (TypeError, ValueError):
                    continue


# ---------------------------------------------------------------------- port-forward
def port_prefix(port: int) -> bytes:
    """The first payload on each WebSocket port-forward channel: the port, little-endian uint16."""
    return struct.pack("<H", port)


def parse_ports(values: Iterable[str]) -> list[int]:
    """Ports from repeated and/or comma-separated query values; raises ValueError with upstream's text."""
    ports: list[int] = []
    for value in values:
        if not value:
            raise ValueError('query parameter "port" cannot be empty')
        for part in value.split(","):
            try:
                port = int(part)
            except ValueError:
                raise ValueError(f'unable to parse "{value}" as a port') from None
            if not 0 < port < 65536:
                raise ValueError(f'port "{value}" must be > 0 and < 65536')
            ports.append(port)
    return ports
