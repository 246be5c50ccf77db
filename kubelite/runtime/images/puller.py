"""Pulling images over the OCI distribution API (aiohttp) into the image store.

Resolve: `GET /v2/<repo>/manifests/<tag|digest>` on each endpoint in turn (registries.py),
accepting OCI and Docker indexes and manifests; an index is followed to linux/amd64. Then the
config and the layers the store lacks are fetched from the endpoint that answered, each
checked against its digest and size, unpacked (in a worker thread) and committed to the store.
Auth answers the registry's `WWW-Authenticate` challenge: Bearer (a token from the realm,
anonymous or with credentials) or Basic; credentials come from registries.yaml and from
imagePullSecrets, tried in turn. Concurrent pulls of one reference share one download.

Errors are ImagePullError with containerd's wording (`failed to pull and unpack image "X":
failed to resolve reference "X": X: not found`), which a kubelet shows as ErrImagePull.

Must not decide pull policy or back-off (ensure.py and the kubelet do) or write the store other
than through its methods.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import re
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp
import orjson

from kubelite.runtime.images import oci
from kubelite.runtime.images.progress import ProgressCallback, PullProgress
from kubelite.runtime.images.reference import ImageReference, InvalidReference, parse_reference
from kubelite.runtime.images.registries import Credentials, Endpoint, RegistryConfig, pull_secret_credentials
from kubelite.runtime.images.store import ImageRecord, ImageStore, MissingLayers
from kubelite.runtime.images.unpack import LayerError

log = logging.getLogger(__name__)

USER_AGENT = "kubelite/0.1"
DOWNLOAD_CHUNK = 256 * 1024
MAX_REDIRECTS = 5
MAX_CONCURRENT_LAYERS = 3
PROGRESS_INTERVAL = 0.1
DEFAULT_TOKEN_SECONDS = 60
COMMIT_ATTEMPTS = 3

_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


class ImagePullError(Exception):
    """A pull that failed. `kind` is NotFound, Unauthorized, Unavailable, Invalid or Failed."""

    def __init__(self, message: str, kind: str = "Failed") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


class _EndpointError(Exception):
    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind




def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _CHALLENGE_PARAM.finditer(rest)}
    return scheme.lower(), params


def _describe(exc: BaseException) -> str:
    """A connection failure in Go's words where we can (`dial tcp H:P: connection refused`)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        error = exc.os_error
        if isinstance(error, OSError) and error.errno and not isinstance(exc, aiohttp.ClientSSLError):
            return f"dial tcp {exc.host}:{exc.port}: connect: {os.strerror(error.errno).lower()}"
        return f"dial tcp {exc.host}:{exc.port}: {error}"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "i/o timeout"
    return str(exc) or type(exc).__name__


def _status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


class _Client:
    """Requests to one endpoint for one repository, answering auth challenges."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        endpoint: Endpoint,
        repository: str,
        credentials: Sequence[Credentials],
        tokens: dict[tuple[str, str, str], tuple[str, float]],
        ssl_setting: ssl.SSLContext | bool,
    ) -> None:
        self.http = http
        self.endpoint = endpoint
        self.repository = repository
        self.credentials: list[Credentials | None] = list(credentials) or [None]
        self.tokens = tokens
        self.ssl = ssl_setting
        self.authorization = ""

    async def get(self, url: str, accept: str = "") -> aiohttp.ClientResponse:
        """GET `url` (following redirects), authorizing as the registry asks. The caller reads
        and releases the response. 401/403 after every credential was tried raise."""
        headers = {"Accept": accept} if accept else {}
        attempt = 0
        response = await self._send(url, headers)
        while response.status == 401:
            challenge = response.headers.get("WWW-Authenticate", "")
            response.release()
            authorized = False
            while attempt < len(self.credentials) and not authorized:
                authorized = await self._authorize(challenge, self.credentials[attempt])
                attempt += 1
            if not authorized:
                raise _EndpointError(f"unexpected status from GET request to {url}: {_status_text(401)}", "Unauthorized")
            response = await self._send(url, headers)
        return response

    async def _send(self, url: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
        origin = urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            request_headers = dict(headers)
            if self.authorization and urlsplit(url).netloc == origin:
                request_headers["Authorization"] = self.authorization
            try:
                response = await self.http.get(url, headers=request_headers, allow_redirects=False, ssl=self.ssl)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise _EndpointError(f'failed to do request: GET "{url}": {_describe(exc)}', "Unavailable") from None
            if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                url = urljoin(url, response.headers["Location"])
                response.release()
                continue
            return response
        raise _EndpointError(f"too many redirects fetching {url}", "Failed")

    async def _authorize(self, challenge: str, credentials: Credentials | None) -> bool:
        scheme, params = _parse_challenge(challenge)
        if scheme == "basic":
            if credentials is None or not credentials.username:
                return False
            pair = f"{credentials.username}:{credentials.password}".encode()
            self.authorization = "Basic " + base64.b64encode(pair).decode()
            return True
        if scheme != "bearer":
            return False
        if credentials is not None and credentials.registry_token:
            self.authorization = "Bearer " + credentials.registry_token
            return True
        realm = params.get("realm", "")
        scope = params.get("scope") or f"repository:{self.endpoint.repository(self.repository)}:pull"
        key = (realm, scope, credentials.username if credentials else "")
        cached = self.tokens.get(key)
        if cached is not None and cached[1] > time.monotonic():
            self.authorization = "Bearer " + cached[0]
            return True
        token, lifetime = await self._fetch_token(realm, params.get("service", ""), scope, credentials)
        if not token:
            return False
        self.tokens[key] = (token, time.monotonic() + max(lifetime - 5, 1))
        self.authorization = "Bearer " + token
        return True

    async def _fetch_token(
        self, realm: str, service: str, scope: str, credentials: Credentials | None
    ) -> tuple[str, float]:
        if not realm.startswith(("http://", "https://")):
            return "", 0
        query = {"scope": scope}
        if service:
            query["service"] = service
        try:
            if credentials is not None and credentials.identity_token:
                form = {**query, "grant_type": "refresh_token", "refresh_token": credentials.identity_token}
                form["client_id"] = "kubelite"
                response = await self.http.post(realm, data=form, ssl=self.ssl)
            else:
                headers = {}
                if credentials is not None and credentials.username:
                    pair = f"{credentials.username}:{credentials.password}".encode()
                    headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
                response = await self.http.get(f"{realm}?{urlencode(query)}", headers=headers, ssl=self.ssl)
            async with response:
                if response.status != 200:
                    return "", 0
                body = orjson.loads(await response.read())
        except (TimeoutError, aiohttp.ClientError, OSError, orjson.JSONDecodeError):
            return "", 0
        if not isinstance(body, dict):
            return "", 0
        token = body.get("token") or body.get("access_token") or ""
        lifetime = body.get("expires_in")
        return str(token), float(lifetime) if isinstance(lifetime, int | float) else DEFAULT_TOKEN_SECONDS


@dataclass
class _Resolved:
    client: _Client
    target_digest: str  # what the reference resolved to (an index's digest when there is one)
    manifest: bytes
    manifest_doc: dict[str, Any]


class Puller:
    """Pulls images into `store`. One instance per node; `await close()` when done."""

    def __init__(
        self,
        store: ImageStore,
        config: RegistryConfig | None = None,
        *,
        max_concurrent_layers: int = MAX_CONCURRENT_LAYERS,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
    ) -> None:
        self.store = store
        self.config = config or RegistryConfig()
        self.max_concurrent_layers = max_concurrent_layers
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        self._http: aiohttp.ClientSession | None = None
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._ssl: dict[str, ssl.SSLContext | bool] = {}
        self._inflight: dict[str, asyncio.Future[ImageRecord]] = {}  # pulls under way, by reference

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=self._timeout, headers={"User-Agent": USER_AGENT})
        return self._http

    def _ssl_for(self, endpoint: Endpoint) -> ssl.SSLContext | bool:
        if not endpoint.base.startswith("https://"):
            return True
        setting = self._ssl.get(endpoint.base)
        if setting is None:
            setting = endpoint.tls.context()
            self._ssl[endpoint.base] = setting
        return setting

    async def pull(
        self,
        image: str,
        *,
        pull_secrets: Sequence[dict[str, Any]] = (),
        progress: ProgressCallback | None = None,
    ) -> ImageRecord:
        """Pull `image` (any reference form) and return its store record. Concurrent calls for
        the same reference share one pull. Raises ImagePullError."""
        try:
            ref = parse_reference(image)
        except InvalidReference as exc:
            raise ImagePullError(f'failed to pull and unpack image "{image}": {exc}', "Invalid") from None
        key = str(ref)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._pull(ref, pull_secrets, progress))
            self._inflight[key] = task

            def finished(done: asyncio.Future[ImageRecord]) -> None:
                self._inflight.pop(key, None)
                if not done.cancelled():
                    done.exception()  # retrieved here too: no warning when every waiter went away

            task.add_done_callback(finished)
        return await asyncio.shield(task)

    async def _pull(
        self, ref: ImageReference, pull_secrets: Sequence[dict[str, Any]], progress: ProgressCallback | None
    ) -> ImageRecord:
        name = str(ref)
        try:
            resolved = await self._resolve(ref, pull_secrets)
            return await self._fetch(ref, resolved, progress)
        except _EndpointError as exc:
            raise ImagePullError(f'failed to pull and unpack image "{name}": {exc.message}', exc.kind) from None
        except (oci.ImageFormatError, LayerError) as exc:
            raise ImagePullError(f'failed to pull and unpack image "{name}": {exc}', "Invalid") from None

    async def _resolve(self, ref: ImageReference, pull_secrets: Sequence[dict[str, Any]]) -> _Resolved:
        """Find the manifest on the first endpoint that has it (containerd's order and errors)."""
        name = str(ref)
        secret_credentials = pull_secret_credentials(pull_secrets, ref)
        first_error: _EndpointError | None = None
        for endpoint in self.config.endpoints(ref.registry):
            credentials = ([endpoint.credentials] if endpoint.credentials else []) + secret_credentials
            client = _Client(self._session(), endpoint, ref.repository, credentials, self._tokens, self._ssl_for(endpoint))
            try:
                found = await self._manifest(client, ref.target, ref.digest)
            except _EndpointError as exc:
                log.debug("resolving %s on %s: %s", name, endpoint.base, exc.message)
                if not (endpoint.probe and exc.kind == "Unavailable"):
                    first_error = first_error or exc
                continue
            if found is None:
                continue
            data, document, digest = found
            target_digest = digest
            for _ in range(3):
                media_type = oci.manifest_media_type(document)
                if media_type in oci.MANIFEST_TYPES:
                    return _Resolved(client, target_digest, data, document)
                if media_type in (oci.DOCKER_SCHEMA1, oci.DOCKER_SCHEMA1_SIGNED):
                    raise _EndpointError("Docker schema 1 manifests are not supported", "Invalid")
                if media_type not in oci.INDEX_TYPES:
                    raise _EndpointError(f"unsupported manifest media type {media_type!r}", "Invalid")
                chosen = oci.select_platform(document)
                if chosen is None:
                    raise _EndpointError(f"no match for platform in manifest {digest}: not found", "NotFound")
                child_digest = oci.check_digest(chosen.get("digest"))
                child = await self._manifest(client, child_digest, child_digest)
                if child is None:
                    raise _EndpointError(f"{ref.with_digest(child_digest)}: not found", "NotFound")
                data, document, digest = child
            raise _EndpointError("indexes nested too deeply", "Invalid")
        if first_error is not None:
            if first_error.kind == "Unauthorized":
                message = (
                    f'failed to resolve reference "{name}": pull access denied, repository does not exist or '
                    f"may require authorization: {first_error.message}"
                )
            else:
                message = f'failed to resolve reference "{name}": {first_error.message}'
            raise _EndpointError(message, first_error.kind)
        raise _EndpointError(f'failed to resolve reference "{name}": {name}: not found', "NotFound")

    async def _manifest(
        self, client: _Client, target: str, expected_digest: str | None
    ) -> tuple[bytes, dict[str, Any], str] | None:
        """(bytes, document, digest) of a manifest or index, or None when the endpoint says 404."""
        url = client.endpoint.url(client.repository, "manifests", target)
        response = await client.get(url, accept=oci.MANIFEST_ACCEPT)
        async with response:
            if response.status == 404:
                return None
            if response.status != 200:
                raise _EndpointError(
                    f"unexpected status from GET request to {url}: {_status_text(response.status)}",
                    "Unavailable" if response.status >= 500 else "Failed",
                )
            data = await response.content.read(oci.MAX_MANIFEST_BYTES + 1)
            if len(data) > oci.MAX_MANIFEST_BYTES:
                raise _EndpointError(f"manifest {url} is larger than {oci.MAX_MANIFEST_BYTES} bytes", "Invalid")
            content_type = response.headers.get("Content-Type", "")
        digest = oci.sha256_digest(data)
        if expected_digest is not None and digest != expected_digest:
            raise _EndpointError(f"unexpected commit digest {digest}, expected {expected_digest}: failed precondition", "Invalid")
        document = oci.load_json(data, f"manifest {url}")
        if "mediaType" not in document:
            document = {**document, "mediaType": oci.manifest_media_type(document, content_type)}
        return data, document, digest

    async def _fetch(self, ref: ImageReference, resolved: _Resolved, progress: ProgressCallback | None) -> ImageRecord:
        client = resolved.client
        config_desc, layer_descs = oci.image_layers(resolved.manifest_doc)
        config = await self._blob_bytes(client, config_desc)
        layer_ids = oci.diff_ids(oci.load_json(config, "image config"), len(layer_descs))
        pairs = list(zip(layer_descs, layer_ids, strict=True))
        for _ in range(COMMIT_ATTEMPTS):
            wanted = {diff_id: desc for desc, diff_id in pairs if not self.store.has_layer(diff_id)}
            if wanted:
                await self._fetch_layers(client, str(ref), wanted, progress)
            try:
                return await asyncio.to_thread(
                    self.store.commit, resolved.manifest, config, [ref], target_digest=resolved.target_digest
                )
            except MissingLayers:
                continue  # removed meanwhile by a concurrent rm / garbage collection: fetch again
        raise _EndpointError("layers kept disappearing from the image store during the pull", "Failed")

    async def _blob_bytes(self, client: _Client, descriptor: dict[str, Any]) -> bytes:
        digest = oci.check_digest(descriptor.get("digest"))
        size = descriptor.get("size")
        url = client.endpoint.url(client.repository, "blobs", digest)
        response = await client.get(url)
        async with response:
            if response.status != 200:
                raise _EndpointError(
                    f"failed to copy: unexpected status from GET request to {url}: {_status_text(response.status)}",
                    "NotFound" if response.status == 404 else "Failed",
                )
            data = await response.content.read(oci.MAX_MANIFEST_BYTES + 1)
        if len(data) > oci.MAX_MANIFEST_BYTES:
            raise _EndpointError(f"config blob {digest} is too large", "Invalid")
        oci.verify_content(data, digest, size if isinstance(size, int) else None)
        return data

    async def _fetch_layers(
        self, client: _Client, reference: str, wanted: dict[str, dict[str, Any]], progress: ProgressCallback | None
    ) -> None:
        total = sum(int(desc.get("size") or 0) for desc in wanted.values())
        state = {"bytes": 0, "layers": 0, "emitted": 0.0}

        def report(force: bool = False) -> None:
            if progress is None:
                return
            now = time.monotonic()
            if force or now - state["emitted"] >= PROGRESS_INTERVAL:
                state["emitted"] = now
                progress(PullProgress(reference, len(wanted), int(state["layers"]), total, int(state["bytes"])))

        def on_bytes(count: int) -> None:
            state["bytes"] += count
            report()

        limit = asyncio.Semaphore(self.max_concurrent_layers)

        async def one(diff_id: str, descriptor: dict[str, Any]) -> None:
            async with limit:
                path = self.store.temp_path("-layer")
                try:
                    await self._download(client, descriptor, path, on_bytes)
                    unpacking = asyncio.ensure_future(asyncio.to_thread(self._unpack_file, path, diff_id, descriptor))
                    try:
                        await asyncio.shield(unpacking)
                    except asyncio.CancelledError:
                        # A thread cannot be stopped: let it finish (or clean up) before going.
                        await asyncio.gather(unpacking, return_exceptions=True)
                        raise
                finally:
                    path.unlink(missing_ok=True)
            state["layers"] += 1
            report(force=True)

        report(force=True)
        tasks = [asyncio.ensure_future(one(diff_id, desc)) for diff_id, desc in wanted.items()]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    def _unpack_file(self, path: Path, diff_id: str, descriptor: dict[str, Any]) -> None:
        with open(path, "rb") as source:
            self.store.unpack_layer(source, diff_id, digest=descriptor["digest"], size=descriptor.get("size"))

    async def _download(
        self, client: _Client, descriptor: dict[str, Any], path: Path, on_bytes: Callable[[int], None]
    ) -> None:
        digest = oci.check_digest(descriptor.get("digest"))
        size = descriptor.get("size")
        url = client.endpoint.url(client.repository, "blobs", digest)
        response = await client.get(url)
        hasher = hashlib.sha256()
        received = 0
        async with response:
            if response.status != 200:
                raise _EndpointError(
                    f"failed to copy: unexpected status from GET request to {url}: {_status_text(response.status)}",
                    "NotFound" if response.status == 404 else "Failed",
                )
            with open(path, "wb") as out:
                try:
                    async for chunk in response.content.iter_chunked(DOWNLOAD_CHUNK):
                        received += len(chunk)
                        if isinstance(size, int) and received > size:
                            raise _EndpointError(f"failed to copy: layer {digest} is larger than {size} bytes", "Invalid")
                        hasher.update(chunk)
                        out.write(chunk)
                        on_bytes(len(chunk))
                except (TimeoutError, aiohttp.ClientError) as exc:
                    raise _EndpointError(f"failed to copy: reading {url}: {_describe(exc)}", "Unavailable") from None
        if isinstance(size, int) and received != size:
            raise _EndpointError(f"failed to copy: layer {digest}: expected {size} bytes, got {received}", "Invalid")
        actual = "sha256:" + hasher.hexdigest()
        if actual != digest:
            raise _EndpointError(
                f"failed to copy: unexpected commit digest {actual}, expected {digest}: failed precondition", "Invalid"
            )
