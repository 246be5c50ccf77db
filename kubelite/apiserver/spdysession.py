"""The server side of a SPDY/3.1 session on asyncio, over any byte pipe: an HTTP connection we
took over after answering its `Upgrade: SPDY/3.1` ourselves (aiohttp only upgrades WebSocket and
raw TCP, so the bytes after our 101 reach us through the request handler's payload-parser hook),
or the binary messages of a WebSocket (kubectl's tunnelled port-forward).

The client opens every stream; we answer each SYN_STREAM with a SYN_REPLY, echo the client's
PINGs, hand stream data to readers (bounded, so a slow reader slows the connection), announce
consumed bytes with WINDOW_UPDATE, and write DATA (we do not throttle our own sends on the peer's
window: Kubernetes' SPDY peers never send WINDOW_UPDATE).

Must not know what the streams carry (streaming.py pairs them with kubelet connections).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from kubelite.api import spdy

INBOX_FRAMES = 64  # DATA frames buffered per stream before the session stops reading
READ_HIGH_WATER = 1 << 20  # bytes buffered from a taken-over connection before pausing it
READ_LOW_WATER = 256 * 1024


class SpdyStream:
    def __init__(self, session: SpdySession, stream_id: int, headers: spdy.Headers, fin: bool):
        self.session = session
        self.id = stream_id
        self.headers = headers
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue(INBOX_FRAMES)
        self._window = spdy.ReceiveWindow()
        self._eof = False
        self._remote_done = False
        self._local_closed = False
        self._discard = False
        self._end_marker: asyncio.Task[None] | None = None
        if fin:
            self._finish()

    def header(self, name: str, default: str = "") -> str:
        for key, value in self.headers:
            if key == name:
                return value
        return default

    # ------------------------------------------------------------------ reading
    async def read(self) -> bytes:
        """The next piece of data the client sent; b"" once it finished (FIN, RST or gone)."""
        if self._eof:
            return b""
        item = await self._inbox.get()
        if item is None:
            self._eof = True
            return b""
        delta = self._window.consumed(len(item))
        if delta and not self._remote_done:
            await self.session.send(lambda encoder: encoder.window_update(self.id, delta))
        return item

    async def chunks(self) -> AsyncIterator[bytes]:
        while data := await self.read():
            yield data

    def discard(self) -> None:
        """Nobody will read this stream any more: drop what is buffered and what still comes."""
        self._discard = True
        while not self._inbox.empty():
            self._inbox.get_nowait()
        self._eof = True

    async def _deliver(self, data: bytes) -> None:
        if not self._discard and not self._remote_done:
            await self._inbox.put(data)

    def _finish(self) -> None:
        if not self._remote_done:
            self._remote_done = True
            if not self._discard:
                try:
                    self._inbox.put_nowait(None)
                except asyncio.QueueFull:  # a full inbox still needs its end marker
                    self._end_marker = asyncio.get_running_loop().create_task(self._inbox.put(None))

    # ------------------------------------------------------------------ writing
    async def write(self, data: bytes) -> None:
        if data and not self._local_closed and not self.session.closed:
            await self.session.send(lambda encoder: encoder.data(self.id, data))

    async def close(self) -> None:
        """Half-close: FIN (an empty DATA frame), once."""
        if not self._local_closed:
            self._local_closed = True
            if not self.session.closed:
                await self.session.send(lambda encoder: encoder.data(self.id, b"", fin=True))


class SpdySession:
    def __init__(self, write: Callable[[bytes], Awaitable[None]], on_stream: Callable[[SpdyStream], None]):
        """`write(bytes)` sends on the pipe; `on_stream(stream)` is told of each new stream (after
        its SYN_REPLY went out) and must not block."""
        self._write = write
        self._on_stream = on_stream
        self._encoder = spdy.FrameEncoder()
        self._decoder = spdy.FrameDecoder()
        self._lock = asyncio.Lock()
        self.streams: dict[int, SpdyStream] = {}
        self.last_stream_id = 0
        self.closed = False  # the pipe is gone (or broke): nothing more is written
        self.goaway = asyncio.Event()  # the client said GOAWAY, or the pipe ended

    async def send(self, build: Callable[[spdy.FrameEncoder], bytes]) -> None:
        """Encode and write under one lock: header compression state must follow write order."""
        async with self._lock:
            if self.closed:
                return
            try:
                await self._write(build(self._encoder))
            except (ConnectionError, RuntimeError, OSError):
                self.connection_lost()

    async def feed(self, data: bytes) -> None:
        """Bytes from the client (any split); handles every complete frame."""
        try:
            frames = self._decoder.feed(data)
        except spdy.SpdyProtocolError:
            await self.send(lambda encoder: encoder.goaway(self.last_stream_id, spdy.GOAWAY_PROTOCOL_ERROR))
            self.connection_lost()
            return
        for frame in frames:
            await self._handle(frame)

    def connection_lost(self) -> None:
        self.closed = True
        for stream in self.streams.values():
            stream._finish()
        self.goaway.set()

    async def _handle(self, frame: spdy.Frame) -> None:
        kind = frame.type
        if kind == spdy.DATA:
            stream = self.streams.get(frame.stream_id)
            if stream is None:
                return
            if frame.data:
                await stream._deliver(frame.data)
            if frame.fin:
                stream._finish()
        elif kind == spdy.SYN_STREAM:
            await self._open(frame)
        elif kind == spdy.RST_STREAM:
            stream = self.streams.pop(frame.stream_id, None)
            if stream is not None:
                stream._local_closed = True
                stream._finish()
        elif kind == spdy.PING:
            if frame.ping_id % 2 == 1:  # the client's ping (ours would be even): echo it
                await self.send(lambda encoder: encoder.ping(frame.ping_id))
        elif kind == spdy.GOAWAY:
            self.goaway.set()
        elif kind == spdy.HEADERS and frame.fin:
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                stream._finish()

    async def _open(self, frame: spdy.Frame) -> None:
        stream_id = frame.stream_id
        if stream_id % 2 == 0 or stream_id <= self.last_stream_id or self.goaway.is_set():
            await self.send(lambda encoder: encoder.rst_stream(stream_id, spdy.PROTOCOL_ERROR))
            return
        self.last_stream_id = stream_id
        stream = SpdyStream(self, stream_id, frame.headers, frame.fin)
        self.streams[stream_id] = stream
        await self.send(lambda encoder: encoder.syn_reply(stream_id))
        self._on_stream(stream)

    async def close(self) -> None:
        """Say GOAWAY (we accept no more streams)."""
        await self.send(lambda encoder: encoder.goaway(self.last_stream_id))


class TakenOverConnection:
    """An HTTP/1.1 connection after our hand-written upgrade: every byte aiohttp receives comes
    to `feed_data` (we stand in for the payload parser) and leaves through `read()`; writes go
    through the 101 response's writer, which honours the transport's flow control."""

    def __init__(self, request: web.Request, response: web.StreamResponse):
        self._transport = request.transport
        self.response = response
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._eof = False
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        request.protocol.set_parser(self)  # type: ignore[arg-type]

    # the payload-parser interface aiohttp calls
    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if data:
            self._chunks.append(bytes(data))
            self._buffered += len(data)
            if self._buffered > READ_HIGH_WATER and self._transport is not None and not self._paused:
                self._paused = True
                self._transport.pause_reading()
            self._wake()
        return False, b""

    def feed_eof(self) -> None:
        self._eof = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def read(self) -> bytes:
        """The next bytes the client sent; b"" at end of connection."""
        while not self._chunks:
            if self._eof or self._transport is None or self._transport.is_closing():
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = self._chunks.popleft()
        self._buffered -= len(data)
        if self._paused and self._buffered < READ_LOW_WATER and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return data

    async def write(self, data: bytes) -> None:
        await self.response.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def upgrade_to_spdy(request: web.Request, protocol_version: str) -> TakenOverConnection:
    """Answer 101 Switching Protocols (Upgrade: SPDY/3.1) and take the connection over."""
    response = web.StreamResponse(
        status=101,
        headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": protocol_version},
    )
    response.force_close()
    connection = TakenOverConnection(request, response)  # before the 101: the client may answer at once
    await response.prepare(request)
    return connection


async def serve_session(session: SpdySession, read: Callable[[], Awaitable[bytes]]) -> None:
    """Feed the session until the pipe ends."""
    try:
        while data := await read():
            await session.feed(data)
    except (ConnectionError, OSError):
        pass
    finally:
        session.connection_lost()
