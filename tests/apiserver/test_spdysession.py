"""The SPDY server session over an in-memory pipe, driven by a client-side codec: SYN_REPLY for
every stream, data and FIN to readers, our data and FIN, PING echo, WINDOW_UPDATE after reads,
RST and GOAWAY, and protocol errors."""

from __future__ import annotations

import asyncio

from kubelite.api import spdy
from kubelite.apiserver.spdysession import SpdySession, SpdyStream


class Pipe:
    """The client's view: frames the session wrote, decoded with the client's own context."""

    def __init__(self) -> None:
        self.decoder = spdy.FrameDecoder()
        self.frames: list[spdy.Frame] = []

    async def write(self, data: bytes) -> None:
        self.frames.extend(self.decoder.feed(data))

    def of_type(self, kind: int) -> list[spdy.Frame]:
        return [f for f in self.frames if f.type == kind]


def new_session() -> tuple[SpdySession, Pipe, list[SpdyStream], spdy.FrameEncoder]:
    pipe = Pipe()
    opened: list[SpdyStream] = []
    return SpdySession(pipe.write, opened.append), pipe, opened, spdy.FrameEncoder()


async def test_streams_are_replied_to_and_carry_data_both_ways() -> None:
    session, pipe, opened, client = new_session()
    await session.feed(client.syn_stream(1, [("streamtype", "error")]) + client.syn_stream(3, [("streamtype", "stdin")]))
    assert [s.header("streamtype") for s in opened] == ["error", "stdin"]
    assert [f.stream_id for f in pipe.of_type(spdy.SYN_REPLY)] == [1, 3]
    stdin = opened[1]
    await session.feed(client.data(3, b"abc") + client.data(3, b"def", fin=True))
    assert [chunk async for chunk in stdin.chunks()] == [b"abc", b"def"]
    assert await stdin.read() == b""
    await opened[0].write(b'{"status":"Success"}')
    await opened[0].close()
    await opened[0].close()  # FIN only once
    data = pipe.of_type(spdy.DATA)
    assert [(f.stream_id, f.data, f.fin) for f in data] == [(1, b'{"status":"Success"}', False), (1, b"", True)]


async def test_pings_from_the_client_are_echoed() -> None:
    session, pipe, _, client = new_session()
    await session.feed(client.ping(1) + client.ping(2))
    assert [f.ping_id for f in pipe.of_type(spdy.PING)] == [1], "only odd (client) ping ids are echoed"


async def test_reads_are_announced_with_window_updates() -> None:
    session, pipe, opened, client = new_session()
    await session.feed(client.syn_stream(1, [("streamtype", "stdin")]))
    await session.feed(client.data(1, b"x" * 20000) + client.data(1, b"y" * 20000))
    assert await opened[0].read() == b"x" * 20000
    assert pipe.of_type(spdy.WINDOW_UPDATE) == []
    await opened[0].read()
    assert [(f.stream_id, f.delta) for f in pipe.of_type(spdy.WINDOW_UPDATE)] == [(1, 40000)]


async def test_a_slow_reader_holds_the_session_back() -> None:
    session, _, opened, client = new_session()
    await session.feed(client.syn_stream(1, [("streamtype", "data")]))
    flood = b"".join(client.data(1, b"z") for _ in range(200))
    feeding = asyncio.create_task(session.feed(flood))
    await asyncio.sleep(0.01)
    assert not feeding.done(), "more than the inbox holds waits for the reader"
    assert len([await opened[0].read() for _ in range(200)]) == 200
    await asyncio.wait_for(feeding, 1)


async def test_reset_goaway_and_end_of_pipe_end_readers() -> None:
    session, pipe, opened, client = new_session()
    await session.feed(client.syn_stream(1, [("streamtype", "data")]) + client.syn_stream(3, [("streamtype", "data")]))
    await session.feed(client.rst_stream(1, spdy.CANCEL))
    assert await opened[0].read() == b""
    await opened[0].write(b"late")  # a reset stream takes no more writes
    assert pipe.of_type(spdy.DATA) == []
    await session.feed(client.goaway(3))
    assert session.goaway.is_set()
    await session.feed(client.syn_stream(5, [("streamtype", "data")]))
    assert [f.stream_id for f in pipe.of_type(spdy.RST_STREAM)] == [5], "no new streams after GOAWAY"
    session.connection_lost()
    assert await opened[1].read() == b""


async def test_streams_the_client_may_not_open_are_refused() -> None:
    session, pipe, opened, client = new_session()
    await session.feed(client.syn_stream(2, [("streamtype", "data")]))  # even ids are the server's
    await session.feed(client.syn_stream(3, [("streamtype", "data")]) + client.syn_stream(1, [("streamtype", "data")]))
    assert [s.id for s in opened] == [3]
    assert [(f.stream_id, f.status) for f in pipe.of_type(spdy.RST_STREAM)] == [(2, spdy.PROTOCOL_ERROR), (1, spdy.PROTOCOL_ERROR)]


async def test_garbage_ends_the_session_with_goaway() -> None:
    session, pipe, _, _ = new_session()
    await session.feed(b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01")  # SPDY/2
    assert [f.status for f in pipe.of_type(spdy.GOAWAY)] == [spdy.GOAWAY_PROTOCOL_ERROR]
    assert session.closed
