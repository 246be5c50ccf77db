"""Prefix bounds and paging starts."""

from __future__ import annotations

from kubelite.storage.keys import prefix_end, prefix_end_bytes, range_start


def test_prefix_end_bounds_exactly_the_prefixed_keys() -> None:
    end = prefix_end("/a/b/")
    assert end == "/a/b0"
    for inside in ("/a/b/", "/a/b/x", "/a/b/\U0010ffff"):
        assert "/a/b/" <= inside < end
    for outside in ("/a/b0", "/a/bc", "/a/c"):
        assert not outside < end or not outside.startswith("/a/b/")
    assert prefix_end("") is None
    assert prefix_end("\U0010ffff") is None
    assert prefix_end("a\U0010ffff") == "b"


def test_prefix_end_bytes_follows_etcd() -> None:
    assert prefix_end_bytes(b"/a/") == b"/a0"
    assert prefix_end_bytes(b"a\xff") == b"b"
    assert prefix_end_bytes(b"") == b"\x00"
    assert prefix_end_bytes(b"\xff\xff") == b"\x00"


def test_range_start() -> None:
    assert range_start("/p/", "") == ("/p/", True)
    assert range_start("/p/", "/p/k1") == ("/p/k1", False)
    assert range_start("/p/", "/a") == ("/p/", True)
