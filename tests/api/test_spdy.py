"""The SPDY/3.1 codec: the dictionary, frame round trips fed in any split, header compression
contexts that span blocks, a frame sequence captured from kubectl 1.27, and receive windows."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest

from kubelite.api import spdy

# kubectl 1.27.16 `exec -i p1 -c app -- cat` with "in\n" on stdin, as its bytes reached a server
# that answered each stream with SYN_REPLY: SYN_STREAMs 1 (error), 3 (stdin), 5 (stdout),
# 7 (stderr), then DATA "in\n" and a FIN on stream 3. Header blocks share Go's zlib context.
KUBECTL_127_EXEC = bytes.fromhex(
    "80030001000000290000000100000000000078f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a6800000000ffff"
    "800300010000001700000003000000000000c22e555c92929907000000ffff"
    "800300010000001900000005000000000000c22ac5565c92925f5a02000000ffff"
    "800300010000001500000007000000000000c229975a5404000000ffff"
    "0000000300000003696e0a"
    "0000000301000000"
)


def feed_bytewise(decoder: spdy.FrameDecoder, data: bytes) -> list[spdy.Frame]:
    frames: list[spdy.Frame] = []
    for index in range(len(data)):
        frames.extend(decoder.feed(data[index : index + 1]))
    return frames


def test_the_dictionary_is_the_spdy3_one() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"utf-,*,enq=0.")
    # digest of an independently taken copy of the draft-3 dictionary
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest() == "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"


def test_a_captured_kubectl_exec_decodes() -> None:
    frames = feed_bytewise(spdy.FrameDecoder(), KUBECTL_127_EXEC)
    syns = [f for f in frames if f.type == spdy.SYN_STREAM]
    assert [(f.stream_id, f.header("streamtype")) for f in syns] == [(1, "error"), (3, "stdin"), (5, "stdout"), (7, "stderr")]
    data = [f for f in frames if f.type == spdy.DATA]
    assert [(f.stream_id, f.data, f.fin) for f in data] == [(3, b"in\n", False), (3, b"", True)]


def test_the_capture_needs_one_context_across_blocks() -> None:
    """The second block only decodes with the state the first left behind."""
    first_frame_end = 8 + (struct.unpack(">I", KUBECTL_127_EXEC[4:8])[0] & 0xFFFFFF)
    with pytest.raises(spdy.SpdyProtocolError, match="decompress"):
        spdy.FrameDecoder().feed(KUBECTL_127_EXEC[first_frame_end:])


def test_header_blocks_use_zlib_with_the_dictionary() -> None:
    block = spdy.HeaderCompressor().compress([("streamtype", "error")])
    cmf, flg = block[0], block[1]
    assert cmf & 0x0F == zlib.DEFLATED and flg & 0x20, "FDICT must be set"
    assert struct.unpack(">I", block[2:6])[0] == zlib.adler32(spdy.DICTIONARY)
    assert block.endswith(b"\x00\x00\xff\xff"), "every block ends in a sync flush"


def test_our_header_blocks_share_one_context() -> None:
    compressor, decompressor = spdy.HeaderCompressor(), spdy.HeaderDecompressor()
    first = compressor.compress([("streamtype", "data"), ("port", "8080"), ("requestid", "0")])
    second = compressor.compress([("streamtype", "data"), ("port", "8080"), ("requestid", "1")])
    assert len(second) < len(first)
    assert decompressor.decompress(first) == (("streamtype", "data"), ("port", "8080"), ("requestid", "0"))
    assert decompressor.decompress(second) == (("streamtype", "data"), ("port", "8080"), ("requestid", "1"))


def test_repeated_names_travel_nul_joined() -> None:
    raw = spdy.encode_header_block([("Accept", "a"), ("accept", "b"), ("x", "")])
    assert raw == struct.pack(">I", 2) + struct.pack(">I", 6) + b"accept" + struct.pack(">I", 3) + b"a\x00b" + struct.pack(">I", 1) + b"x" + struct.pack(">I", 0)
    assert spdy.decode_header_block(raw) == (("accept", "a"), ("accept", "b"), ("x", ""))


def test_every_frame_type_round_trips_in_any_split() -> None:
    encoder = spdy.FrameEncoder()
    wire = b"".join(
        [
            encoder.syn_stream(1, [("streamtype", "error")], fin=True, associated_id=0, priority=3),
            encoder.syn_reply(1, [("status", "200")]),
            encoder.headers(1, [("trailer", "x")], fin=True),
            encoder.data(3, b"payload", fin=True),
            encoder.rst_stream(5, spdy.CANCEL),
            encoder.settings([(0, spdy.SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20)], clear=True),
            encoder.ping(7),
            encoder.goaway(9, spdy.GOAWAY_INTERNAL_ERROR),
            encoder.window_update(3, 4096),
        ]
    )
    frames = feed_bytewise(spdy.FrameDecoder(), wire)
    assert [f.type for f in frames] == [
        spdy.SYN_STREAM, spdy.SYN_REPLY, spdy.HEADERS, spdy.DATA, spdy.RST_STREAM,
        spdy.SETTINGS, spdy.PING, spdy.GOAWAY, spdy.WINDOW_UPDATE,
    ]  # fmt: skip
    syn, reply, headers, data, rst, settings, ping, goaway, window = frames
    assert (syn.stream_id, syn.fin, syn.priority, syn.headers) == (1, True, 3, (("streamtype", "error"),))
    assert (reply.stream_id, reply.fin, reply.header("status")) == (1, False, "200")
    assert (headers.fin, headers.header("trailer")) == (True, "x")
    assert (data.stream_id, data.data, data.fin) == (3, b"payload", True)
    assert (rst.stream_id, rst.status) == (5, spdy.CANCEL)
    assert settings.settings == ((0, spdy.SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20),) and settings.flags == spdy.FLAG_SETTINGS_CLEAR
    assert ping.ping_id == 7
    assert (goaway.last_good_stream_id, goaway.status) == (9, spdy.GOAWAY_INTERNAL_ERROR)
    assert (window.stream_id, window.delta) == (3, 4096)


def test_large_data_is_split_with_fin_on_the_last_frame() -> None:
    payload = bytes(range(256)) * 300  # 76800 bytes: three frames
    frames = spdy.FrameDecoder().feed(spdy.FrameEncoder.data(5, payload, fin=True))
    assert [len(f.data) for f in frames] == [spdy.DATA_CHUNK, spdy.DATA_CHUNK, len(payload) - 2 * spdy.DATA_CHUNK]
    assert [f.fin for f in frames] == [False, False, True]
    assert b"".join(f.data for f in frames) == payload


def test_unknown_control_frames_are_passed_over() -> None:
    noop = struct.pack(">HHI", 0x8003, 5, 0)  # NOOP, gone from SPDY/3
    frames = spdy.FrameDecoder().feed(noop + spdy.FrameEncoder.ping(1))
    assert [f.type for f in frames] == [5, spdy.PING]


def test_bad_input_is_a_protocol_error() -> None:
    with pytest.raises(spdy.SpdyProtocolError, match="version 2"):
        spdy.FrameDecoder().feed(struct.pack(">HHI", 0x8002, spdy.PING, 4) + b"\x00\x00\x00\x01")
    with pytest.raises(spdy.SpdyProtocolError, match="exceeds"):
        spdy.FrameDecoder(max_payload=16).feed(struct.pack(">II", 1, 17))
    with pytest.raises(spdy.SpdyProtocolError, match="truncated"):
        spdy.FrameDecoder().feed(struct.pack(">HHI", 0x8003, spdy.RST_STREAM, 2) + b"\x00\x01")
    with pytest.raises(spdy.SpdyProtocolError, match="decompress"):
        spdy.FrameDecoder().feed(struct.pack(">HHI", 0x8003, spdy.SYN_REPLY, 8) + b"\x00\x00\x00\x01garb")


def test_partial_frames_wait_for_their_remainder() -> None:
    decoder = spdy.FrameDecoder()
    wire = spdy.FrameEncoder.data(1, b"abcdef")
    assert decoder.feed(wire[:9]) == []
    assert decoder.buffered == 9
    assert [f.data for f in decoder.feed(wire[9:])] == [b"abcdef"]
    assert decoder.buffered == 0


def test_the_receive_window_announces_after_half_is_used() -> None:
    window = spdy.ReceiveWindow(1000)
    assert window.consumed(300) == 0
    assert window.consumed(199) == 0
    assert window.consumed(1) == 500
    assert window.consumed(499) == 0
    assert window.consumed(600) == 1099
