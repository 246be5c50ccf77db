"""HTTPTransport: the Transport over HTTPS to a Kubernetes API server, with one aiohttp session
(keep-alive connections), JSON bodies, and watch streams parsed line by line as they arrive.
Paths are built as kubectl builds them: /api/v1/namespaces/<ns>/pods/<name>/<subresource>,
/apis/<group>/<version>/....

Must not interpret objects beyond the Status of an error and the type of a watch event.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import tempfile
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from kubelite.api.errors import StatusError
from kubelite.client.kubeconfig import ClusterAccess, load_kubeconfig
from kubelite.client.transport import (
    PATCH_CONTENT_TYPES,
    DeleteOptions,
    ListOptions,
    Obj,
    PatchType,
    ResourceRef,
    TransportError,
    WatchEvent,
    WatchOptions,
    WriteOptions,
    status_error,
)

DEFAULT_USER_AGENT = "kubelite-client/0.1"
REQUEST_TIMEOUT = 60.0
CONNECT_TIMEOUT = 10.0
MAX_CONNECTIONS = 256  # each open watch holds one


def collection_path(ref: ResourceRef, namespace: str | None) -> str:
    base = f"/api/{ref.version}" if not ref.group else f"/apis/{ref.group}/{ref.version}"
    if ref.namespaced and namespace:
        base += f"/namespaces/{quote(namespace, safe='')}"
    return f"{base}/{ref.resource}"


def object_path(ref: ResourceRef, namespace: str | None, name: str, subresource: str = "") -> str:
    path = f"{collection_path(ref, namespace)}/{quote(name, safe='')}"
    return f"{path}/{subresource}" if subresource else path


def _write_params(opts: WriteOptions, force: bool = False) -> dict[str, str]:
    params: dict[str, str] = {}
    if opts.field_manager:
        params["fieldManager"] = opts.field_manager
    if opts.dry_run:
        params["dryRun"] = "All"
    if opts.field_validation:
        params["fieldValidation"] = opts.field_validation
    if force:
        params["force"] = "true"
    return params


def _list_params(opts: ListOptions) -> dict[str, str]:
    params: dict[str, str] = {}
    if opts.label_selector:
        params["labelSelector"] = opts.label_selector
    if opts.field_selector:
        params["fieldSelector"] = opts.field_selector
    if opts.limit:
        params["limit"] = str(opts.limit)
    if opts.continue_token:
        params["continue"] = opts.continue_token
    if opts.resource_version:
        params["resourceVersion"] = opts.resource_version
    if opts.resource_version_match:
        params["resourceVersionMatch"] = opts.resource_version_match
    return params


def _watch_params(opts: WatchOptions) -> dict[str, str]:
    params = {"watch": "true"}
    if opts.label_selector:
        params["labelSelector"] = opts.label_selector
    if opts.field_selector:
        params["fieldSelector"] = opts.field_selector
    if opts.resource_version:
        params["resourceVersion"] = opts.resource_version
    if opts.allow_bookmarks:
        params["allowWatchBookmarks"] = "true"
    if opts.timeout_seconds:
        params["timeoutSeconds"] = str(max(1, int(opts.timeout_seconds)))
    return params


def _error_from(code: int, reason: str, raw: bytes) -> StatusError:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return status_error(body, code)
    text = raw.decode(errors="replace").strip()
    return StatusError(code, reason.replace(" ", ""), text or reason)


def tls_context(
    ca_pem: bytes | None = None,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    insecure: bool = False,
) -> ssl.SSLContext:
    """A client TLS context trusting `ca_pem` (else the system store), presenting a client
    certificate when given."""
    context = ssl.create_default_context(cadata=ca_pem.decode() if ca_pem else None)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert_pem is not None:
        # the ssl module loads certificate chains from files only: write them privately, briefly
        with tempfile.TemporaryDirectory(prefix="kubelite-client-") as tmp:
            cert_file = Path(tmp) / "client.crt"
            key_file = Path(tmp) / "client.key"
            for path, data in ((cert_file, client_cert_pem), (key_file, client_key_pem or client_cert_pem)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            context.load_cert_chain(str(cert_file), str(key_file))
    return context


class HTTPTransport:
    """The Transport over HTTP(S). Create it anywhere; the aiohttp session opens on first use in the
    running loop. `close()` when done."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str = "",
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        request_timeout: float = REQUEST_TIMEOUT,
    ):
        self.base_url = base_url.rstrip("/")
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._headers = {"Accept": "application/json", "User-Agent": user_agent}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._timeout = aiohttp.ClientTimeout(total=request_timeout, connect=CONNECT_TIMEOUT)
        self._watch_timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_read=None)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_access(cls, access: ClusterAccess, *, user_agent: str = DEFAULT_USER_AGENT) -> HTTPTransport:
        context = None
        if access.server.startswith("https:"):
            context = tls_context(access.ca_pem, access.client_cert_pem, access.client_key_pem, access.insecure)
        return cls(access.server, token=access.token, ssl_context=context, user_agent=user_agent)

    def _session_(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl, limit=MAX_CONNECTIONS)
            self._session = aiohttp.ClientSession(connector=connector, headers=self._headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(
        self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None, content_type: str = ""
    ) -> Obj:
        headers = None
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers = {"Content-Type": content_type or "application/json"}
        try:
            async with self._session_().request(
                method, self.base_url + path, params=params, data=data, headers=headers, timeout=self._timeout
            ) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise _error_from(response.status, response.reason or "", raw)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"{method} {path}: {exc!r}") from exc
        try:
            result = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError as exc:
            raise TransportError(f"{method} {path}: the answer is not JSON") from exc
        if not isinstance(result, dict):
            raise TransportError(f"{method} {path}: the answer is not a JSON object")
        return result

    # ------------------------------------------------------------------ Transport
    async def get(
        self, ref: ResourceRef, namespace: str, name: str, *, subresource: str = "", resource_version: str = ""
    ) -> Obj:
        params = {"resourceVersion": resource_version} if resource_version else None
        return await self._request("GET", object_path(ref, namespace, name, subresource), params)

    async def list(self, ref: ResourceRef, namespace: str | None, opts: ListOptions) -> Obj:
        return await self._request("GET", collection_path(ref, namespace), _list_params(opts))

    async def watch(self, ref: ResourceRef, namespace: str | None, opts: WatchOptions) -> AsyncGenerator[WatchEvent, None]:
        path = collection_path(ref, namespace)
        try:
            response = await self._session_().get(
                self.base_url + path, params=_watch_params(opts), timeout=self._watch_timeout
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"watch {path}: {exc!r}") from exc
        try:
            if response.status != 200:
                raise _error_from(response.status, response.reason or "", await response.read())
            buffer = bytearray()
            scanned = 0
            with contextlib.suppress(aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, asyncio.TimeoutError):
                async for chunk in response.content.iter_any():
                    buffer += chunk
                    while (end := buffer.find(b"\n", scanned)) >= 0:
                        line = bytes(buffer[:end])
                        del buffer[: end + 1]
                        scanned = 0
                        if line.strip():
                            yield _event(line)
                    scanned = len(buffer)
        finally:
            response.close()  # an unfinished stream must not go back to the pool

    async def create(
        self, ref: ResourceRef, namespace: str, obj: Obj, opts: WriteOptions, *, name: str = "", subresource: str = ""
    ) -> Obj:
        path = object_path(ref, namespace, name, subresource) if subresource else collection_path(ref, namespace)
        return await self._request("POST", path, _write_params(opts), obj)

    async def update(self, ref: ResourceRef, namespace: str, obj: Obj, opts: WriteOptions, *, subresource: str = "") -> Obj:
        name = (obj.get("metadata") or {}).get("name") or ""
        return await self._request("PUT", object_path(ref, namespace, name, subresource), _write_params(opts), obj)

    async def patch(
        self,
        ref: ResourceRef,
        namespace: str,
        name: str,
        patch_type: PatchType,
        patch: Any,
        opts: WriteOptions,
        *,
        force: bool = False,
        subresource: str = "",
    ) -> Obj:
        return await self._request(
            "PATCH",
            object_path(ref, namespace, name, subresource),
            _write_params(opts, force),
            patch,
            PATCH_CONTENT_TYPES[patch_type],
        )

    async def delete(self, ref: ResourceRef, namespace: str, name: str, opts: DeleteOptions) -> None:
        params = {"dryRun": "All"} if opts.dry_run else None
        await self._request("DELETE", object_path(ref, namespace, name), params, opts.body())

    async def delete_collection(
        self, ref: ResourceRef, namespace: str | None, list_opts: ListOptions, opts: DeleteOptions
    ) -> None:
        params = _list_params(list_opts)
        if opts.dry_run:
            params["dryRun"] = "All"
        await self._request("DELETE", collection_path(ref, namespace), params, opts.body())


def _event(line: bytes) -> WatchEvent:
    try:
        event = orjson.loads(line)
        event_type, obj = event["type"], event["object"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise TransportError(f"malformed watch event: {line[:200]!r}") from exc
    if event_type == "ERROR":
        raise status_error(obj)
    return WatchEvent(event_type, obj)


def from_kubeconfig(path: str | Path, context: str = "", *, user_agent: str = DEFAULT_USER_AGENT) -> HTTPTransport:
    """An HTTPTransport for a kubeconfig's (current) context."""
    return HTTPTransport.from_access(load_kubeconfig(path, context), user_agent=user_agent)
