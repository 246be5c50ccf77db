"""The DNS server over real UDP and TCP sockets on 127.0.0.1, queried with dnslib's client. The
upstream resolver it forwards to is a second tiny DNS server the test runs on loopback (never a
real resolver)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSHeader, DNSRecord

from kubelite.network.dns.forward import Forwarder, parse_upstream
from kubelite.network.dns.records import service_records
from kubelite.network.dns.server import DNSServer
from kubelite.network.dns.table import AnswerTable
from tests.network.dns_harness import FakeUpstream

Obj = dict[str, Any]
ZONE = "cluster.local"


# ---------------------------------------------------------------------- fixtures
def _table() -> AnswerTable:
    table = AnswerTable(ZONE)
    table.set_namespace("default", True)
    web = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5"], "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
    }
    table.set_service("default/web", service_records(web, [], ZONE))
    many = {"metadata": {"name": "many", "namespace": "default"}, "spec": {"clusterIP": "None", "ports": []}}
    slice_ = {
        "metadata": {"name": "many-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "many"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [f"10.42.1.{i}"], "conditions": {"ready": True}} for i in range(1, 101)],
        "ports": [],
    }
    table.set_service("default/many", service_records(many, [slice_], ZONE))
    ext = {"metadata": {"name": "ext", "namespace": "default"}, "spec": {"type": "ExternalName", "externalName": "www.example.test"}}
    table.set_service("default/ext", service_records(ext, [], ZONE))
    return table


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    big = [f"192.0.2.{i}" for i in range(1, 61)]
    made = FakeUpstream({"www.example.test": "192.0.2.53", "other.test": "192.0.2.7", "big.test": big})
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


@pytest.fixture
async def server(upstream: FakeUpstream) -> AsyncIterator[DNSServer]:
    made = DNSServer(_table(), host="127.0.0.1", port=0, forwarder=Forwarder([upstream.address], timeout=0.3))
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


async def ask(port: int, name: str, qtype: str = "A", *, tcp: bool = False, edns: int = 0, timeout: float = 3.0) -> DNSRecord:
    query = DNSRecord.question(name, qtype)
    if edns:
        query.add_ar(EDNS0(udp_len=edns))
    raw = await asyncio.to_thread(query.send, "127.0.0.1", port, tcp=tcp, timeout=timeout)
    reply = DNSRecord.parse(raw)
    assert reply.header.id == query.header.id
    return reply


def addresses(reply: DNSRecord) -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype in (QTYPE.A, QTYPE.AAAA))


# ---------------------------------------------------------------------- cluster names
@pytest.mark.parametrize("tcp", [False, True])
async def test_service_answer_over_udp_and_tcp(server: DNSServer, tcp: bool) -> None:
    reply = await ask(server.port, "Web.Default.svc.cluster.local", tcp=tcp)
    assert reply.header.rcode == RCODE.NOERROR
    assert reply.header.aa == 1 and reply.header.ra == 1 and reply.header.qr == 1
    [answer] = reply.rr
    assert str(answer.rname) == "Web.Default.svc.cluster.local." and answer.ttl == 5
    assert str(answer.rdata) == "10.43.0.5"
    assert str(reply.q.qname) == "Web.Default.svc.cluster.local."


async def test_srv_answer_carries_the_address(server: DNSServer) -> None:
    reply = await ask(server.port, "_http._tcp.web.default.svc.cluster.local", "SRV")
    [srv] = reply.rr
    assert (srv.rdata.priority, srv.rdata.weight, srv.rdata.port, str(srv.rdata.target)) == (0, 100, 80, "web.default.svc.cluster.local.")
    assert [(str(rr.rname), str(rr.rdata)) for rr in reply.ar] == [("web.default.svc.cluster.local.", "10.43.0.5")]


async def test_nxdomain_and_nodata_carry_the_soa(server: DNSServer) -> None:
    reply = await ask(server.port, "nope.default.svc.cluster.local")
    assert reply.header.rcode == RCODE.NXDOMAIN and reply.header.aa == 1 and not reply.rr
    [soa] = reply.auth
    assert soa.rtype == QTYPE.SOA and str(soa.rname) == "cluster.local." and soa.ttl == 5
    assert str(soa.rdata.mname) == "ns.dns.cluster.local." and str(soa.rdata.rname) == "hostmaster.cluster.local."
    reply = await ask(server.port, "web.default.svc.cluster.local", "AAAA")
    assert reply.header.rcode == RCODE.NOERROR and not reply.rr and reply.auth[0].rtype == QTYPE.SOA


async def test_address_answers_are_shuffled(server: DNSServer) -> None:
    orders = set()
    for _ in range(15):
        reply = await ask(server.port, "many.default.svc.cluster.local", tcp=True)
        assert len(reply.rr) == 100
        orders.add(tuple(str(rr.rdata) for rr in reply.rr))
    assert len(orders) > 1


async def test_large_udp_answer_is_truncated_and_complete_over_tcp(server: DNSServer) -> None:
    reply = await ask(server.port, "many.default.svc.cluster.local")
    assert reply.header.tc == 1 and not reply.rr
    assert str(reply.q.qname) == "many.default.svc.cluster.local."  # the question is kept
    reply = await ask(server.port, "many.default.svc.cluster.local", tcp=True)
    assert reply.header.tc == 0 and len(addresses(reply)) == 100
    reply = await ask(server.port, "many.default.svc.cluster.local", edns=4096)
    assert reply.header.tc == 0 and len(addresses(reply)) == 100
    assert any(rr.rtype == QTYPE.OPT for rr in reply.ar)


# ---------------------------------------------------------------------- forwarding
async def test_other_names_are_forwarded(server: DNSServer, upstream: FakeUpstream) -> None:
    query = DNSRecord.question("other.test", "A")
    raw = await asyncio.to_thread(query.send, "127.0.0.1", server.port, timeout=3)
    reply = DNSRecord.parse(raw)
    assert reply.header.id == query.header.id
    assert addresses(reply) == ["192.0.2.7"] and reply.rr[0].ttl == 60
    assert [(t, name) for t, _id, name in upstream.seen] == [("udp", "other.test")]
    reply = await ask(server.port, "missing.test", tcp=True)
    assert reply.header.rcode == RCODE.NXDOMAIN
    assert upstream.seen[-1][0] == "tcp"  # a TCP question goes upstream over TCP
    reply = await ask(server.port, "9.9.9.10.in-addr.arpa", "PTR")  # unknown reverse name
    assert upstream.seen[-1][2] == "9.9.9.10.in-addr.arpa"


async def test_truncated_upstream_answer_is_asked_again_over_tcp(server: DNSServer, upstream: FakeUpstream) -> None:
    upstream.truncate_udp = True
    reply = await ask(server.port, "other.test")
    assert addresses(reply) == ["192.0.2.7"]
    assert [t for t, _id, _name in upstream.seen] == ["udp", "tcp"]


async def test_large_upstream_answer_is_truncated_for_a_small_udp_client(server: DNSServer, upstream: FakeUpstream) -> None:
    upstream.truncate_udp = True  # the forwarder gets the 60 records over TCP
    reply = await ask(server.port, "big.test")
    assert reply.header.tc == 1 and not reply.rr and str(reply.q.qname) == "big.test."
    assert len(addresses(await ask(server.port, "big.test", tcp=True))) == 60
    assert len(addresses(await ask(server.port, "big.test", edns=4096))) == 60


async def test_silent_upstream_gives_servfail(server: DNSServer, upstream: FakeUpstream) -> None:
    upstream.silent = True
    loop = asyncio.get_running_loop()
    started = loop.time()
    reply = await ask(server.port, "other.test")
    assert reply.header.rcode == RCODE.SERVFAIL
    assert loop.time() - started < 2.0
    # cluster names still answer while the upstream is down
    assert addresses(await ask(server.port, "web.default.svc.cluster.local")) == ["10.43.0.5"]


async def test_no_upstream_gives_servfail() -> None:
    made = DNSServer(_table(), host="127.0.0.1", port=0, forwarder=None)
    await made.start()
    try:
        assert (await ask(made.port, "other.test")).header.rcode == RCODE.SERVFAIL
    finally:
        await made.stop()


async def test_external_name_is_completed_upstream(server: DNSServer, upstream: FakeUpstream) -> None:
    reply = await ask(server.port, "ext.default.svc.cluster.local")
    assert [(str(rr.rname), QTYPE[rr.rtype], str(rr.rdata)) for rr in reply.rr] == [
        ("ext.default.svc.cluster.local.", "CNAME", "www.example.test."),
        ("www.example.test.", "A", "192.0.2.53"),
    ]
    assert upstream.seen[-1][2] == "www.example.test"
    upstream.silent = True  # no upstream: the CNAME alone
    reply = await ask(server.port, "ext.default.svc.cluster.local")
    assert reply.header.rcode == RCODE.NOERROR and [QTYPE[rr.rtype] for rr in reply.rr] == ["CNAME"]


# ---------------------------------------------------------------------- odd queries
def _raw_udp(port: int, data: bytes, timeout: float = 0.5) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(data, ("127.0.0.1", port))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


async def test_malformed_queries(server: DNSServer) -> None:
    garbage = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff\xff"
    reply = await asyncio.to_thread(_raw_udp, server.port, garbage)
    assert reply is not None
    parsed = DNSRecord.parse(reply)
    assert parsed.header.id == 0x1234 and parsed.header.rcode == RCODE.FORMERR
    assert await asyncio.to_thread(_raw_udp, server.port, b"\x01\x02") is None  # not even a header
    response = DNSRecord.question("web.default.svc.cluster.local").reply().pack()
    assert await asyncio.to_thread(_raw_udp, server.port, response) is None  # responses are ignored
    status = DNSRecord(DNSHeader(opcode=2), q=DNSRecord.question("x").q).pack()
    reply = await asyncio.to_thread(_raw_udp, server.port, status)
    assert reply is not None and DNSRecord.parse(reply).header.rcode == RCODE.NOTIMP
    no_question = DNSRecord(DNSHeader(id=0x4321)).pack()
    reply = await asyncio.to_thread(_raw_udp, server.port, no_question)
    assert reply is not None
    parsed = DNSRecord.parse(reply)
    assert parsed.header.rcode == RCODE.FORMERR and parsed.header.id == 0x4321 and not parsed.questions
    chaos = DNSRecord.question("version.bind", "TXT", "CH").pack()
    reply = await asyncio.to_thread(_raw_udp, server.port, chaos)
    assert reply is not None and DNSRecord.parse(reply).header.rcode == RCODE.REFUSED


async def test_tcp_connection_answers_several_queries(server: DNSServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        for name, expected in (("web.default.svc.cluster.local", "10.43.0.5"), ("other.test", "192.0.2.7")):
            query = DNSRecord.question(name).pack()
            writer.write(struct.pack("!H", len(query)) + query)
            await writer.drain()
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            assert addresses(DNSRecord.parse(await reader.readexactly(length))) == [expected]
    finally:
        writer.close()


async def test_stop_closes_both_sockets() -> None:
    made = DNSServer(_table(), host="127.0.0.1", port=0)
    await made.start()
    port = made.port
    await made.stop()
    await made.stop()  # idempotent
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", port))
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


def test_parse_upstream() -> None:
    assert parse_upstream("10.0.0.2") == ("10.0.0.2", 53)
    assert parse_upstream("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert parse_upstream("[::1]:5300") == ("::1", 5300)
    assert parse_upstream("fd00::53") == ("fd00::53", 53)
