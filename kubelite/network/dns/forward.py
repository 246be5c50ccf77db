"""Forwarding to upstream resolvers (CoreDNS's `forward . /etc/resolv.conf`): a query is sent as
it came, under a fresh random ID from a fresh random source port, to each upstream in turn until
one answers within `timeout`; a truncated UDP answer is asked again over TCP. The reply goes
back with the client's ID. No answer from any upstream: None (the server answers SERVFAIL).

Upstreams are "host" or "host:port" ("[v6]:port"); the nameservers of the host's resolv.conf
(resolvconf.py parses it) are the usual ones. Must not cache, rewrite answers or decide which
names are forwarded (table.py does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import struct
from collections.abc import Sequence

log = logging.getLogger(__name__)

DEFAULT_PORT = 53
DEFAULT_TIMEOUT = 1.5
_TC = 0x0200


def parse_upstream(value: str) -> tuple[str, int]:
    """"1.1.1.1" -> ("1.1.1.1", 53); "127.0.0.1:5353"; "[::1]:53"; "::1" -> ("::1", 53)."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else DEFAULT_PORT
    if value.count(":") == 1:
        host, _, port = value.partition(":")
        return host, int(port)
    return value, DEFAULT_PORT


class _Exchange(asyncio.DatagramProtocol):
    def __init__(self, query_id: bytes):
        self.query_id = query_id
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if data[:2] == self.query_id and len(data) >= 12 and not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc or ConnectionError("closed"))


class Forwarder:
    def __init__(self, upstreams: Sequence[str | tuple[str, int]], *, timeout: float = DEFAULT_TIMEOUT):
        self.upstreams = [parse_upstream(u) if isinstance(u, str) else (u[0], int(u[1])) for u in upstreams]
        self.timeout = timeout

    async def exchange(self, query: bytes, *, tcp: bool = False) -> bytes | None:
        """The upstream reply to `query` (a whole DNS message), with the query's own ID."""
        if len(query) < 12:
            return None
        query = bytes(query)
        client_id, fresh_id = query[:2], secrets.token_bytes(2)
        outgoing = fresh_id + query[2:]
        for host, port in self.upstreams:
            try:
                async with asyncio.timeout(self.timeout):
                    reply = await (self._tcp(host, port, outgoing) if tcp else self._udp(host, port, outgoing))
                    if not tcp and struct.unpack_from("!H", reply, 2)[0] & _TC:
                        reply = await self._tcp(host, port, outgoing)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, struct.error) as err:
                log.debug("upstream %s:%d did not answer: %r", host, port, err)
                continue
            if reply[:2] != fresh_id:
                continue
            return client_id + reply[2:]
        return None

    @staticmethod
    async def _udp(host: str, port: int, message: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Exchange(message[:2]), remote_addr=(host, port)
        )
        try:
            transport.sendto(message)
            return await protocol.reply
        finally:
            transport.close()

    @staticmethod
    async def _tcp(host: str, port: int, message: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(struct.pack("!H", len(message)) + message)
            await writer.drain()
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            return await reader.readexactly(length)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
