"""Helpers shared by the storage tests: the per-test Store handle and watch collection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from kubelite.storage.backend import Backend, Event


@dataclass
class Store:
    """A started backend and the key prefix this test owns (keys are built with `key`)."""

    backend: Backend
    root: str

    def key(self, path: str) -> str:
        return self.root + path


async def take(watch: AsyncIterator[list[Event]], count: int, timeout: float = 10.0) -> list[Event]:
    """Events from `watch`, whole batches at a time, until at least `count` arrived (or it ended)."""
    events: list[Event] = []

    async def run() -> None:
        async for batch in watch:
            assert batch, "a watch must not yield empty batches"
            events.extend(batch)
            if len(events) >= count:
                return

    await asyncio.wait_for(run(), timeout)
    return events


def summary(event: Event) -> tuple[str, str, bytes, int, bytes | None, int | None]:
    """(type, key, value, revision, prev value, prev mod_revision) of an event."""
    prev = event.prev
    return (
        event.type,
        event.kv.key,
        event.kv.value,
        event.revision,
        prev.value if prev else None,
        prev.mod_revision if prev else None,
    )
