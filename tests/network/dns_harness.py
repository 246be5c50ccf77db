"""Helpers for the DNS tests: a fake upstream resolver on loopback (UDP and TCP) that the cluster
DNS server forwards to, so no test ever reaches a real resolver.

Must not listen anywhere but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from typing import Any

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from kubelite.network.dns.server import free_port


@dataclass
class FakeUpstream:
    """Answers A questions from `names` over UDP and TCP (NXDOMAIN otherwise); `silent` drops every
    query; `truncate_udp` answers UDP with TC set and no records."""

    names: dict[str, str | list[str]]
    silent: bool = False
    truncate_udp: bool = False
    seen: list[tuple[str, int, str]] = field(default_factory=list)  # (transport, id, name)
    port: int = 0
    _udp: Any = None
    _tcp: Any = None

    def answer(self, data: bytes, transport: str) -> bytes | None:
        query = DNSRecord.parse(data)
        name = str(query.q.qname).rstrip(".").lower()
        self.seen.append((transport, query.header.id, name))
        if self.silent:
            return None
        reply = query.reply()
        if transport == "udp" and self.truncate_udp:
            reply.header.tc = 1
            return reply.pack()
        if name in self.names and query.q.qtype == QTYPE.A:
            found = self.names[name]
            for address in [found] if isinstance(found, str) else found:
                reply.add_answer(RR(query.q.qname, QTYPE.A, ttl=60, rdata=A(address)))
        else:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply.pack()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        upstream = self

        class Protocol(asyncio.DatagramProtocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: Any) -> None:
                reply = upstream.answer(data, "udp")
                if reply is not None:
                    self.transport.sendto(reply, addr)

        async def serve_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = self.answer(await reader.readexactly(length), "tcp")
                if reply is not None:
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
            finally:
                writer.close()

        self.port = free_port()
        self._udp, _ = await loop.create_datagram_endpoint(Protocol, local_addr=("127.0.0.1", self.port))
        self._tcp = await asyncio.start_server(serve_tcp, "127.0.0.1", self.port)

    async def stop(self) -> None:
        self._udp.close()
        self._tcp.close()
        await self._tcp.wait_closed()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"
