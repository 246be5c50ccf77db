"""Key-range arithmetic shared by the backends: the exclusive upper bound of a prefix and the first
key a paged range starts at.

Keys are compared by code point, which for UTF-8 is the same order as etcd's byte order.
Must not touch any store.
"""

from __future__ import annotations

_MAX_CODE_POINT = 0x10FFFF


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix`; None = no bound
    (empty prefix, or a prefix made only of U+10FFFF)."""
    trimmed = prefix
    while trimmed and ord(trimmed[-1]) == _MAX_CODE_POINT:
        trimmed = trimmed[:-1]
    if not trimmed:
        return None
    return trimmed[:-1] + chr(ord(trimmed[-1]) + 1)


def prefix_end_bytes(prefix: bytes) -> bytes:
    """etcd's range_end for a byte prefix; b"\\x00" (= to the end of the keyspace) when unbounded."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\x00"


def range_start(prefix: str, start_after: str) -> tuple[str, bool]:
    """Where a range begins: (key, inclusive). Paging resumes strictly after `start_after` when it
    lies at or past the prefix; otherwise the range starts at the prefix itself."""
    if start_after and start_after >= prefix:
        return start_after, False
    return prefix, True
