"""Watch streams: chunked JSON, one event per line, each event's bytes encoded once and shared by
every watcher asking for the same form; bookmarks; the ERROR 410 event for expired versions.

Must not filter or fetch objects itself (the Store's Watcher does).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from kubelite.api import errors
from kubelite.apiserver import tables
from kubelite.registry.store import ListOptions, Store

Obj = dict[str, Any]
BOOKMARK_EVERY = 60.0


def event_line(event_type: str, obj: Obj) -> bytes:
    return b'{"type":"' + event_type.encode() + b'","object":' + orjson.dumps(obj) + b"}\n"


def encoder_for(store: Store, form: str, include_object: str) -> Callable[[str, Obj], bytes]:
    """Encoder of (type, stored object) -> wire line for a response form: json | table | metadata."""
    if form == "table":

        def encode_table(event_type: str, obj: Obj) -> bytes:
            external = store.to_external(obj)
            table = tables.table(store.info, [external], include_object, {"resourceVersion": obj["metadata"].get("resourceVersion", "")})
            return event_line(event_type, table)

        return encode_table
    if form == "metadata":
        return lambda event_type, obj: event_line(event_type, tables.partial_metadata(store.to_external(obj)))
    return lambda event_type, obj: event_line(event_type, store.to_external(obj))


async def serve_watch(
    request: web.Request,
    store: Store,
    namespace: str | None,
    opts: ListOptions,
    *,
    form: str,
    include_object: str,
    timeout_seconds: float | None,
    bookmarks: bool,
    send_initial: bool | None,
) -> web.StreamResponse:
    content_type = "application/json"
    response = web.StreamResponse(status=200, headers={"Content-Type": content_type, "Cache-Control": "no-cache, private"})
    response.enable_chunked_encoding()
    try:
        watcher, initial = store.watch(namespace, opts, send_initial)
    except errors.StatusError as exc:
        if exc.code != 410:
            raise
        await response.prepare(request)
        await response.write(event_line("ERROR", exc.status()))
        await response.write_eof()
        return response
    encode = encoder_for(store, form, include_object)
    fmt_key = f"{form}:{include_object}"
    deadline = time.monotonic() + (timeout_seconds if timeout_seconds else random.uniform(1800, 3600))
    try:
        await response.prepare(request)
        if initial:
            await response.write(b"".join(encode(event_type, obj) for event_type, obj in initial))
        if send_initial and bookmarks:
            await response.write(_bookmark(store, str(store.watch_cache.revision), initial_end=True))
        else:
            await response.write(b"")
        next_bookmark = time.monotonic() + BOOKMARK_EVERY
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            wait = min(deadline, next_bookmark) - now if bookmarks else deadline - now
            batch = await watcher.next_batch(max(wait, 0.0))
            if batch is None:
                break
            if batch:
                await response.write(b"".join(event.encoded(event_type, fmt_key, encode) for event_type, event in batch))
            if bookmarks and time.monotonic() >= next_bookmark:
                await response.write(_bookmark(store, str(store.watch_cache.revision)))
                next_bookmark = time.monotonic() + BOOKMARK_EVERY
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        watcher.close()
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response


def _bookmark(store: Store, resource_version: str, initial_end: bool = False) -> bytes:
    meta: Obj = {"resourceVersion": resource_version}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return event_line("BOOKMARK", {"kind": store.info.kind, "apiVersion": store.info.api_version, "metadata": meta})
