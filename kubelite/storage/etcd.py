"""EtcdBackend: the Backend protocol over a real etcd (v3.4+) through its JSON gRPC gateway.

Calls: POST /v3/kv/range, /v3/kv/txn, /v3/kv/compaction and the streaming POST /v3/watch. Keys and
values travel base64-encoded, int64 fields as strings, and fields with zero values are omitted (a
PUT event carries no "type"). Conditional writes are single transactions:
- create: compare create_revision == 0 -> put;
- update: compare mod_revision == expected (or create_revision > 0 when unconditional) -> put,
  else range the key to tell "not found" from "mismatch";
- delete: the same comparison -> delete_range with prev_kv.

Failover: requests go to the endpoint that last answered; when one cannot be connected to, the next
is tried. A request whose connection broke after it was sent is not retried (it may have been
applied) and raises StorageError. A watch whose stream breaks resumes on the next reachable endpoint
from the revision after the last event it delivered.

Differences from the local backends, all etcd's own: compacted_revision() is not reported by etcd
and is found by bisecting with ranges (rarely needed); a DELETE event whose previous value was
compacted away carries an empty value and no prev; etcd's compact(C) also drops a tombstone written
exactly at C, so a watch starting at C misses that one delete.

Must not interpret values and must not cache the keyspace.
"""

from __future__ import annotations

import asyncio
import binascii
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from kubelite.storage.backend import (
    CompactedError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RangeResult,
    RevisionMismatchError,
    StorageError,
)
from kubelite.storage.keys import prefix_end_bytes, range_start

JSON_HEADERS = {"Content-Type": "application/json"}
REQUEST_TIMEOUT_SECONDS = 15.0
WATCH_RECONNECT_PAUSE_SECONDS = 0.2
COMPACTED_MESSAGE = "required revision has been compacted"
FUTURE_MESSAGE = "required revision is a future revision"
PROBE_KEY = b"\x00"  # read when only the header revision is wanted

Json = dict[str, Any]


class EtcdRequestError(StorageError):
    """etcd answered a request with an error (`code` is the gRPC status code)."""

    def __init__(self, message: str, code: int):
        super().__init__(f"etcd: {message}")
        self.message = message
        self.code = code


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _unb64(text: str) -> bytes:
    return binascii.a2b_base64(text)


def _key_value(raw: Json) -> KeyValue:
    return KeyValue(
        _unb64(raw["key"]).decode(),
        _unb64(raw.get("value", "")),
        int(raw.get("create_revision", 0)),
        int(raw.get("mod_revision", 0)),
    )


def _event(raw: Json) -> Event:
    prev_raw = raw.get("prev_kv")
    prev = _key_value(prev_raw) if prev_raw else None
    if raw.get("type") == "DELETE":
        kv_raw = raw["kv"]
        key = _unb64(kv_raw["key"]).decode()
        revision = int(kv_raw["mod_revision"])
        if prev is None:  # its previous value was compacted away
            return Event("DELETE", KeyValue(key, b"", 0, revision), None)
        return Event("DELETE", KeyValue(key, prev.value, prev.create_revision, revision), prev)
    kv = _key_value(raw["kv"])
    return Event("PUT", kv, None if kv.create_revision == kv.mod_revision else prev)


def _compare(key: str, expected_mod_revision: int) -> Json:
    """The txn guard of update/delete: mod_revision == expected, or just "exists" when 0."""
    if expected_mod_revision:
        return {
            "key": _b64(key.encode()),
            "target": "MOD",
            "result": "EQUAL",
            "mod_revision": expected_mod_revision,
        }
    return {"key": _b64(key.encode()), "target": "CREATE", "result": "GREATER", "create_revision": 0}


async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The newline-delimited messages of a streaming gateway response."""
    parts: list[bytes] = []  # the unfinished message, in pieces (a large one spans many chunks)
    async for chunk in response.content.iter_any():
        if b"\n" not in chunk:
            parts.append(chunk)
            continue
        parts.append(chunk)
        *complete, rest = b"".join(parts).split(b"\n")
        parts = [rest] if rest else []
        for line in complete:
            if line.strip():
                yield line
    tail = b"".join(parts)
    if tail.strip():
        yield tail


class EtcdBackend:
    """An etcd cluster reached over HTTP at `endpoints` (e.g. ["http://127.0.0.1:2379"])."""

    def __init__(self, endpoints: list[str], *, request_timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        if not endpoints:
            raise ValueError("EtcdBackend needs at least one endpoint")
        self.endpoints = [endpoint.rstrip("/") for endpoint in endpoints]
        self._request_timeout = request_timeout
        self._active = 0  # index of the endpoint that answered last
        self._session: aiohttp.ClientSession | None = None
        self._watch_session: aiohttp.ClientSession | None = None
        self._streams: set[aiohttp.ClientResponse] = set()
        self._closing = False
        self._known_compacted = 0  # a lower bound of etcd's compacted revision

    # lifecycle

    async def start(self) -> None:
        if self._session is not None:
            return
        self._closing = False
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64),
            timeout=aiohttp.ClientTimeout(total=self._request_timeout),
        )
        self._watch_session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._request_timeout),
        )
        try:
            await self.current_revision()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        self._closing = True
        for response in list(self._streams):
            response.close()
        self._streams.clear()
        for session in (self._session, self._watch_session):
            if session is not None:
                await session.close()
        self._session = self._watch_session = None

    # requests

    async def _call(self, path: str, body: Json) -> Json:
        session = self._session
        if session is None:
            raise StorageError("etcd backend is not started")
        data = orjson.dumps(body)
        failures: list[str] = []
        for attempt in range(len(self.endpoints)):
            index = (self._active + attempt) % len(self.endpoints)
            try:
                async with session.post(
                    self.endpoints[index] + path, data=data, headers=JSON_HEADERS
                ) as response:
                    payload = await response.read()
                    status = response.status
            except aiohttp.ClientConnectorError as exc:  # never reached etcd: safe to try the next one
                failures.append(f"{self.endpoints[index]}: {exc}")
                continue
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise StorageError(f"etcd request {path} to {self.endpoints[index]} failed: {exc!r}") from exc
            self._active = index
            try:
                result: Json = orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                raise StorageError(f"etcd {path}: HTTP {status}: {payload[:200]!r}") from exc
            if status != 200 or "error" in result:
                message = result.get("message") or result.get("error") or f"HTTP {status}"
                raise EtcdRequestError(str(message), int(result.get("code", 0)))
            return result
        raise StorageError("no etcd endpoint reachable: " + "; ".join(failures))

    async def _txn(self, compare: Json, success: Json, failure: Json | None = None) -> Json:
        body: Json = {"compare": [compare], "success": [success]}
        if failure is not None:
            body["failure"] = [failure]
        return await self._call("/v3/kv/txn", body)

    # reads

    async def current_revision(self) -> int:
        result = await self._call("/v3/kv/range", {"key": _b64(PROBE_KEY), "count_only": True})
        return int(result["header"]["revision"])

    async def _readable(self, revision: int) -> bool:
        try:
            await self._call(
                "/v3/kv/range", {"key": _b64(PROBE_KEY), "count_only": True, "revision": revision}
            )
        except EtcdRequestError as exc:
            if COMPACTED_MESSAGE in exc.message:
                return False
            raise
        return True

    async def compacted_revision(self) -> int:
        """etcd does not report it, so find the oldest readable revision by bisection (rarely called)."""
        low = max(self._known_compacted, 1)  # known unreadable below `low`
        if await self._readable(low):
            return self._known_compacted
        high = await self.current_revision()  # always readable
        while high - low > 1:  # invariant: low unreadable, high readable
            middle = (low + high) // 2
            if await self._readable(middle):
                high = middle
            else:
                low = middle
        self._known_compacted = max(self._known_compacted, high)
        return high

    async def get(self, key: str) -> KeyValue | None:
        result = await self._call("/v3/kv/range", {"key": _b64(key.encode())})
        kvs = result.get("kvs")
        return _key_value(kvs[0]) if kvs else None

    async def range(
        self, prefix: str, *, start_after: str = "", limit: int = 0, revision: int = 0
    ) -> RangeResult:
        start, inclusive = range_start(prefix, start_after)
        key = start.encode() if inclusive else start.encode() + b"\x00"
        body: Json = {"key": _b64(key or b"\x00"), "range_end": _b64(prefix_end_bytes(prefix.encode()))}
        if limit:
            body["limit"] = limit
        if revision:
            body["revision"] = revision
        try:
            result = await self._call("/v3/kv/range", body)
        except EtcdRequestError as exc:
            if COMPACTED_MESSAGE in exc.message:
                raise CompactedError(revision, await self.compacted_revision()) from exc
            if FUTURE_MESSAGE in exc.message:
                raise FutureRevisionError(revision, await self.current_revision()) from exc
            raise
        items = [_key_value(raw) for raw in result.get("kvs", ())]
        return RangeResult(items, revision or int(result["header"]["revision"]), bool(result.get("more")))

    # writes

    async def create(self, key: str, value: bytes) -> int:
        encoded = _b64(key.encode())
        result = await self._txn(
            {"key": encoded, "target": "CREATE", "result": "EQUAL", "create_revision": 0},
            {"request_put": {"key": encoded, "value": _b64(value)}},
        )
        if not result.get("succeeded"):
            raise KeyExistsError(key)
        return int(result["header"]["revision"])

    def _refused(self, key: str, result: Json) -> StorageError:
        """Why a guarded txn failed: the failure branch ranged the key."""
        responses = result.get("responses") or [{}]
        kvs = responses[0].get("response_range", {}).get("kvs")
        if not kvs:
            return KeyNotFoundError(key)
        return RevisionMismatchError(key, _key_value(kvs[0]))

    async def update(self, key: str, value: bytes, expected_mod_revision: int) -> int:
        encoded = _b64(key.encode())
        result = await self._txn(
            _compare(key, expected_mod_revision),
            {"request_put": {"key": encoded, "value": _b64(value)}},
            {"request_range": {"key": encoded}},
        )
        if not result.get("succeeded"):
            raise self._refused(key, result)
        return int(result["header"]["revision"])

    async def delete(self, key: str, expected_mod_revision: int = 0) -> KeyValue:
        encoded = _b64(key.encode())
        result = await self._txn(
            _compare(key, expected_mod_revision),
            {"request_delete_range": {"key": encoded, "prev_kv": True}},
            {"request_range": {"key": encoded}},
        )
        if not result.get("succeeded"):
            raise self._refused(key, result)
        prev_kvs = result["responses"][0]["response_delete_range"].get("prev_kvs")
        if not prev_kvs:
            raise KeyNotFoundError(key)
        prev = _key_value(prev_kvs[0])
        return KeyValue(key, prev.value, prev.create_revision, int(result["header"]["revision"]))

    async def compact(self, revision: int) -> None:
        """etcd's compaction (waiting until it is physically done); at or below the compacted
        revision it does nothing."""
        try:
            await self._call("/v3/kv/compaction", {"revision": revision, "physical": True})
        except EtcdRequestError as exc:
            if COMPACTED_MESSAGE in exc.message:
                return
            if FUTURE_MESSAGE in exc.message:
                raise FutureRevisionError(revision, await self.current_revision()) from exc
            raise
        self._known_compacted = max(self._known_compacted, revision)

    # watches

    def watch(self, prefix: str, after_revision: int) -> AsyncIterator[list[Event]]:
        return self._watch(prefix, after_revision)

    async def _open_stream(self, body: bytes) -> aiohttp.ClientResponse:
        session = self._watch_session
        if session is None:
            raise StorageError("etcd backend is not started")
        failures: list[str] = []
        for attempt in range(len(self.endpoints)):
            index = (self._active + attempt) % len(self.endpoints)
            try:
                response = await session.post(
                    self.endpoints[index] + "/v3/watch", data=body, headers=JSON_HEADERS
                )
            except aiohttp.ClientError as exc:
                failures.append(f"{self.endpoints[index]}: {exc}")
                continue
            if response.status != 200:
                payload = await response.read()
                response.close()
                raise StorageError(f"etcd watch: HTTP {response.status}: {payload[:200]!r}")
            self._active = index
            return response
        raise StorageError("no etcd endpoint reachable for a watch: " + "; ".join(failures))

    async def _watch(self, prefix: str, after_revision: int) -> AsyncIterator[list[Event]]:
        prefix_bytes = prefix.encode()
        position = after_revision  # the last revision delivered (or skipped as not asked for)
        while not self._closing:
            request = {
                "create_request": {
                    "key": _b64(prefix_bytes or b"\x00"),
                    "range_end": _b64(prefix_end_bytes(prefix_bytes)),
                    "start_revision": position + 1,
                    "prev_kv": True,
                }
            }
            response = await self._open_stream(orjson.dumps(request))
            self._streams.add(response)
            try:
                async for line in _lines(response):
                    message: Json = orjson.loads(line)
                    result = message.get("result")
                    if result is None:
                        error = message.get("error", message)
                        raise StorageError(f"etcd watch failed: {error}")
                    if result.get("canceled"):
                        compacted = int(result.get("compact_revision", 0))
                        if compacted:
                            self._known_compacted = max(self._known_compacted, compacted)
                            raise CompactedError(position, compacted)
                        raise StorageError(f"etcd canceled the watch: {result.get('cancel_reason', '')}")
                    raw_events = result.get("events")
                    if raw_events:
                        batch = [_event(raw) for raw in raw_events]
                        position = batch[-1].revision
                        yield batch
            except (TimeoutError, aiohttp.ClientError):
                if self._closing:
                    return
            finally:
                self._streams.discard(response)
                response.close()
            if self._closing:
                return
            # The stream ended without being canceled (etcd went away): resume where we are.
            self._active = (self._active + 1) % len(self.endpoints)
            await asyncio.sleep(WATCH_RECONNECT_PAUSE_SECONDS)
