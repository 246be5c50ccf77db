"""The DNS server: UDP and TCP on one address and port (cluster DNS listens where the kube-dns
Service sends its traffic; tests use 127.0.0.1 and a free port). Each query is parsed with
dnslib, answered from the answer table (table.py) — names outside the cluster zone and unknown
reverse names go to the Forwarder (SERVFAIL when no upstream answers), an ExternalName CNAME is
completed by an upstream lookup of its target — and the reply is encoded with dnslib.

Replies are authoritative for the zone and always say recursion is available (as CoreDNS's);
address records of one answer are shuffled (CoreDNS's `loadbalance`); a UDP reply larger than
the client's limit (512 bytes, or its EDNS0 payload size) is sent truncated with the question
kept, so the client asks again over TCP. A query that is itself a response is dropped; a
malformed one gets FORMERR, another opcode NOTIMP, a class other than IN REFUSED.

Answers that need no upstream are made synchronously in the datagram callback (no task per
query). Must not decide what a name holds (table.py) nor how upstreams are reached
(forward.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
from collections.abc import Awaitable
from typing import Any, Protocol

from dnslib import AAAA as AAAA_RD
from dnslib import CNAME as CNAME_RD
from dnslib import EDNS0, RR, DNSError, DNSHeader, DNSLabel, DNSQuestion, DNSRecord
from dnslib import NS as NS_RD
from dnslib import PTR as PTR_RD
from dnslib import SOA as SOA_RD
from dnslib import SRV as SRV_RD
from dnslib import TXT as TXT_RD
from dnslib import A as A_RD

from kubelite.network.dns.forward import Forwarder
from kubelite.network.dns.table import (
    AAAA,
    CNAME,
    FORMERR,
    NOTIMP,
    NS,
    PTR,
    REFUSED,
    SERVFAIL,
    SOA,
    SRV,
    TXT,
    A,
    Answer,
    Record,
)

log = logging.getLogger(__name__)

OPT = 41
CLASS_IN, CLASS_ANY = 1, 255
UDP_LIMIT = 512
EDNS_PAYLOAD = 1232  # what this server advertises (the DNS flag day 2020 size)
MAX_PENDING = 1024  # queries waiting on upstreams at once; more are refused
_RDATA_CACHE_LIMIT = 20000


class Zone(Protocol):
    def lookup(self, qname: str, qtype: int) -> Answer: ...


def _header_id(data: bytes) -> int | None:
    return struct.unpack_from("!H", data)[0] if len(data) >= 12 else None


class DNSServer:
    def __init__(
        self,
        zone: Zone,
        *,
        host: str = "10.43.0.10",
        port: int = 53,
        forwarder: Forwarder | None = None,
        tcp_idle_timeout: float = 10.0,
        shuffle: bool = True,
    ):
        self.zone = zone
        self.host = host
        self.port = port  # 0 until start() picks one, when asked for 0
        self.forwarder = forwarder
        self.tcp_idle_timeout = tcp_idle_timeout
        self.shuffle = shuffle
        self.queries = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._pending: set[asyncio.Task[Any]] = set()
        self._rdata: dict[tuple[int, Any], Any] = {}

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Bind UDP and TCP on (host, port); port 0 picks a port free for both."""
        if self._udp is not None:
            return
        loop = asyncio.get_running_loop()
        attempts = 20 if self.port == 0 else 1
        for attempt in range(attempts):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UDPProtocol(self), local_addr=(self.host, self.port)
            )
            port = int(transport.get_extra_info("sockname")[1])
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port, reuse_address=True)
            except OSError:
                transport.close()
                if attempt == attempts - 1:
                    raise
                continue
            self._udp = transport  # type: ignore[assignment]
            self.port = port
            return

    async def stop(self) -> None:
        """Close both sockets and cancel queries still waiting on upstreams; idempotent."""
        udp, self._udp = self._udp, None
        tcp, self._tcp = self._tcp, None
        if udp is not None:
            udp.close()
        if tcp is not None:
            tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(tcp.wait_closed(), 2.0)
        pending, self._pending = self._pending, set()
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ------------------------------------------------------------------ answering
    async def handle(self, data: bytes, *, tcp: bool = False) -> bytes | None:
        """The reply to one DNS message (None: no reply is due)."""
        result = self.respond(data, tcp=tcp)
        if isinstance(result, bytes) or result is None:
            return result
        return await result

    def respond(self, data: bytes, *, tcp: bool) -> bytes | None | Awaitable[bytes | None]:
        """The reply now, when it needs no upstream; else an awaitable of it."""
        self.queries += 1
        try:
            request = DNSRecord.parse(data)
        except (DNSError, IndexError, ValueError, struct.error, UnicodeError):
            return self._header_only(data, FORMERR)
        header = request.header
        if header.qr:
            return None
        if header.opcode != 0:
            return self._error(request, NOTIMP)
        if len(request.questions) != 1:
            return self._error(request, FORMERR)
        question = request.q
        if question.qclass not in (CLASS_IN, CLASS_ANY):
            return self._error(request, REFUSED)
        answer = self.zone.lookup(str(question.qname), question.qtype)
        if answer.forward:
            return self._forwarded(request, data, tcp)
        if answer.chase:
            return self._chased(request, answer, tcp)
        return self._encode(request, answer, tcp)

    def _encode(self, request: DNSRecord, answer: Answer, tcp: bool, upstream: list[RR] | None = None) -> bytes:
        reply = DNSRecord(
            DNSHeader(
                id=request.header.id,
                qr=1,
                aa=int(answer.authoritative),
                rd=request.header.rd,
                ra=1,
                rcode=answer.rcode,
            ),
            q=request.q,
        )
        records = answer.answer
        if self.shuffle and len(records) > 1:
            records = _shuffled(records)
        reply.rr = [self._rr(record) for record in records]
        if upstream:
            reply.rr.extend(upstream)
        reply.auth = [self._rr(record) for record in answer.authority]
        reply.ar = [self._rr(record) for record in answer.additional]
        if _opt_of(request) is not None:
            reply.ar.append(EDNS0(udp_len=EDNS_PAYLOAD))
        packed = bytes(reply.pack())
        if not tcp and len(packed) > _udp_limit(request):
            return self._truncated(request, answer.rcode, int(answer.authoritative))
        return packed

    @staticmethod
    def _truncated(request: DNSRecord, rcode: int, aa: int) -> bytes:
        """TC set, the question kept (resolvers match it), no records but our OPT."""
        header = DNSHeader(id=request.header.id, qr=1, aa=aa, tc=1, rd=request.header.rd, ra=1, rcode=rcode)
        reply = DNSRecord(header, q=request.q)
        if _opt_of(request) is not None:
            reply.ar.append(EDNS0(udp_len=EDNS_PAYLOAD))
        return bytes(reply.pack())

    def _rr(self, record: Record) -> RR:
        key = (record.rtype, record.data)
        rdata = self._rdata.get(key)
        if rdata is None:
            if len(self._rdata) >= _RDATA_CACHE_LIMIT:
                self._rdata.clear()
            rdata = self._rdata[key] = _rdata(record.rtype, record.data)
        return RR(record.name, record.rtype, ttl=record.ttl, rdata=rdata)

    def _error(self, request: DNSRecord, rcode: int) -> bytes:
        question = request.questions[0] if len(request.questions) == 1 else None
        reply = DNSRecord(DNSHeader(id=request.header.id, qr=1, rd=request.header.rd, ra=1, rcode=rcode), q=question)
        return bytes(reply.pack())

    @staticmethod
    def _header_only(data: bytes, rcode: int) -> bytes | None:
        query_id = _header_id(data)
        if query_id is None or data[2] & 0x80:  # too short, or a response: stay silent
            return None
        return bytes(DNSRecord(DNSHeader(id=query_id, qr=1, ra=1, rcode=rcode)).pack())

    def _servfail(self, request: DNSRecord) -> bytes:
        return self._error(request, SERVFAIL)

    def _forwarded(self, request: DNSRecord, data: bytes, tcp: bool) -> Awaitable[bytes | None] | bytes:
        if self.forwarder is None or len(self._pending) >= MAX_PENDING:
            return self._servfail(request) if self.forwarder is None else self._error(request, REFUSED)

        async def ask() -> bytes | None:
            assert self.forwarder is not None
            reply = await self.forwarder.exchange(data, tcp=tcp)
            if reply is None:
                return self._servfail(request)
            if not tcp and len(reply) > _udp_limit(request):  # the upstream answered over TCP
                return self._truncated(request, reply[3] & 0x0F, 0)
            return reply

        return ask()

    def _chased(self, request: DNSRecord, answer: Answer, tcp: bool) -> Awaitable[bytes | None] | bytes:
        if self.forwarder is None or len(self._pending) >= MAX_PENDING:
            return self._encode(request, answer, tcp)

        async def chase() -> bytes | None:
            assert self.forwarder is not None
            query = DNSRecord(DNSHeader(id=random.getrandbits(16), rd=1), q=_question(answer.chase, request.q.qtype))
            found: list[RR] = []
            reply = await self.forwarder.exchange(query.pack(), tcp=tcp)
            if reply is not None:
                with contextlib.suppress(DNSError, IndexError, ValueError, struct.error, UnicodeError):
                    found = list(DNSRecord.parse(reply).rr)
            return self._encode(request, answer, tcp, found)

        return chase()

    def track(self, work: Awaitable[bytes | None], send: Any) -> None:
        """Run `work` as a task and hand its reply to `send` (used by both transports)."""

        async def run() -> None:
            try:
                reply = await work
            except Exception:
                log.exception("dns: answering failed")
                return
            if reply is not None:
                send(reply)

        task = asyncio.get_running_loop().create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    # ------------------------------------------------------------------ TCP
    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    async with asyncio.timeout(self.tcp_idle_timeout):
                        (length,) = struct.unpack("!H", await reader.readexactly(2))
                        data = await reader.readexactly(length)
                except (TimeoutError, asyncio.IncompleteReadError):
                    return
                reply = await self.handle(data, tcp=True)
                if reply is None:
                    continue
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        except Exception:
            log.exception("dns: TCP connection failed")
        finally:
            writer.close()


class _UDPProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer):
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        transport = self.transport
        if transport is None:
            return
        try:
            result = self.server.respond(data, tcp=False)
        except Exception:
            log.exception("dns: answering failed")
            return
        if result is None:
            return
        if isinstance(result, bytes):
            transport.sendto(result, addr)
            return
        self.server.track(result, lambda reply: None if transport.is_closing() else transport.sendto(reply, addr))

    def error_received(self, exc: Exception) -> None:  # ICMP errors of earlier replies: nothing to do
        log.debug("dns: UDP error %r", exc)


# ---------------------------------------------------------------------- encoding helpers
def _rdata(rtype: int, data: Any) -> Any:
    if rtype == A:
        return A_RD(data)
    if rtype == AAAA:
        return AAAA_RD(data)
    if rtype == CNAME:
        return CNAME_RD(data)
    if rtype == PTR:
        return PTR_RD(data)
    if rtype == NS:
        return NS_RD(data)
    if rtype == TXT:
        return TXT_RD(data)
    if rtype == SRV:
        priority, weight, port, target = data
        return SRV_RD(priority=priority, weight=weight, port=port, target=target)
    if rtype == SOA:
        mname, rname, *times = data
        return SOA_RD(mname, rname, tuple(times))
    raise ValueError(f"no encoding for record type {rtype}")


def _udp_limit(request: DNSRecord) -> int:
    """The largest UDP reply the client takes: 512 bytes, or its EDNS0 payload size."""
    opt = _opt_of(request)
    return UDP_LIMIT if opt is None else max(UDP_LIMIT, int(opt.rclass))


def _opt_of(request: DNSRecord) -> Any:
    for record in request.ar:
        if record.rtype == OPT:
            return record
    return None


def _question(name: str, qtype: int) -> DNSQuestion:
    return DNSQuestion(DNSLabel(name), qtype, CLASS_IN)


def _shuffled(records: tuple[Record, ...]) -> tuple[Record, ...]:
    """Address records in random order; anything before the first of them (CNAMEs) stays first."""
    first = next((i for i, record in enumerate(records) if record.rtype in (A, AAAA)), len(records))
    addresses = list(records[first:])
    if len(addresses) < 2 or any(record.rtype not in (A, AAAA) for record in addresses):
        return records
    random.shuffle(addresses)
    return (*records[:first], *addresses)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on `host` at the time of asking (for tests and benches)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        with socket.socket(family, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(family, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise OSError("no free port")
