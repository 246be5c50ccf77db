"""The storage Backend protocol: an etcd-shaped, revisioned key -> bytes store.

Semantics every backend must keep (the conformance suite in tests/storage checks them):
- one global revision counter; every successful create/update/delete is a new revision (+1); an
  empty store is at revision 1 (as etcd), so the first write gets revision 2;
- `mod_revision` of a key is the revision of its last write; `create_revision` of its creation;
- deletes are tombstones at a new revision (visible to watchers as DELETE events);
- `range` at a past `revision` sees the keyspace as it was then; after `compact(C)`, a range at a
  revision < C raises CompactedError (as etcd);
- `watch(prefix, after)` yields every event with revision > after, in revision order, then live
  ones; after `compact(C)`, a watch whose first wanted revision (after + 1) is < C raises
  CompactedError (as etcd's watch with start_revision < compact revision);
- writes are durable when the call returns (sqlite/etcd).

Must not interpret values: no JSON, no Kubernetes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol


class StorageError(Exception):
    """Base of backend errors."""


class KeyExistsError(StorageError):
    def __init__(self, key: str):
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFoundError(StorageError):
    def __init__(self, key: str):
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionMismatchError(StorageError):
    """An update/delete's expected mod_revision did not match; `current` is what is stored now."""

    def __init__(self, key: str, current: KeyValue):
        super().__init__(f"revision mismatch on {key}: now at {current.mod_revision}")
        self.key = key
        self.current = current


class CompactedError(StorageError):
    """The requested revision is older than the compacted revision (a range at a revision < C, or a
    watch whose first wanted revision is < C). `requested` is the revision the caller passed."""

    def __init__(self, requested: int, compacted: int):
        super().__init__(f"required revision {requested} has been compacted (compacted revision {compacted})")
        self.requested = requested
        self.compacted = compacted


class FutureRevisionError(StorageError):
    """The requested revision is newer than the store's current revision."""

    def __init__(self, requested: int, current: int):
        super().__init__(f"required revision {requested} is a future revision (current {current})")
        self.requested = requested
        self.current = current


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class Event:
    """A change at `revision`. For PUT, `kv` is the new value; for DELETE, `kv` is the deleted
    value with mod_revision set to the delete revision. `prev` is the value before (None on create)."""

    type: Literal["PUT", "DELETE"]
    kv: KeyValue
    prev: KeyValue | None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True, slots=True)
class RangeResult:
    items: list[KeyValue]
    revision: int  # the store revision the range was read at
    more: bool  # True when `limit` cut the result


class Backend(Protocol):
    """An etcd-shaped store. All methods are coroutines except `watch`, an async iterator factory."""

    async def start(self) -> None:
        """Open connections/files; create schema. Idempotent."""

    async def close(self) -> None:
        """Release resources; pending watches end."""

    async def current_revision(self) -> int: ...

    async def compacted_revision(self) -> int: ...

    async def create(self, key: str, value: bytes) -> int:
        """Store a new key; returns its revision. KeyExistsError if it exists."""

    async def update(self, key: str, value: bytes, expected_mod_revision: int) -> int:
        """Replace iff the key's mod_revision equals expected (0 = unconditional); returns the new
        revision. KeyNotFoundError / RevisionMismatchError."""

    async def delete(self, key: str, expected_mod_revision: int = 0) -> KeyValue:
        """Delete iff mod_revision matches (0 = unconditional); returns the deleted value with
        mod_revision = the delete's revision. KeyNotFoundError / RevisionMismatchError."""

    async def get(self, key: str) -> KeyValue | None: ...

    async def range(
        self, prefix: str, *, start_after: str = "", limit: int = 0, revision: int = 0
    ) -> RangeResult:
        """Keys starting with `prefix`, sorted, strictly after `start_after` if given, at most
        `limit` (0 = all), as of `revision` (0 = now). CompactedError / FutureRevisionError."""

    def watch(self, prefix: str, after_revision: int) -> AsyncIterator[list[Event]]:
        """Batches of events for keys under `prefix` with revision > after_revision, in order,
        forever (until close or the consumer stops iterating). Raises CompactedError (on first
        iteration) if after_revision + 1 < compacted revision. after_revision may be in the future:
        the watch then waits for it."""

    async def compact(self, revision: int) -> None:
        """Forget history older than `revision` (as etcd's compact): values superseded before it and
        tombstones before it go; the latest value of every live key is kept. Does nothing when
        `revision` is at or below the compacted revision; FutureRevisionError above the current one."""
