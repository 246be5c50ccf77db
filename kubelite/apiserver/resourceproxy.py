"""pods/proxy and services/proxy: the API server relays one HTTP request to a pod, as upstream's
ResourceLocation + UpgradeAwareHandler do.

- `…/pods/{[scheme:]name[:port]}/proxy/{path}`: the pod's IP, on the given port (else the first
  port the pod's containers declare, else the scheme's default);
- `…/services/{[scheme:]name[:port]}/proxy/{path}`: a random ready address of the Service's
  Endpoints on the port named `port` (a port *number* is first turned into the name of the
  Service port that has it).

The path after `proxy` is cleaned (a trailing slash kept), the query string passed as it is; a
GET or HEAD with an empty path is redirected to the same URL plus `/`. The request goes out
without the caller's Authorization and hop-by-hop headers, with X-Forwarded-* added; the answer
comes back streamed, without hop-by-hop and CORS headers, a redirect to the backend itself turned
into one through the proxy path. HTTPS backends are not verified (as upstream's proxy transport).

Must not hold connections between requests nor rewrite bodies (upstream rewrites links in HTML
pages; this does not), and does not relay protocol upgrades (WebSocket through the proxy).
"""

from __future__ import annotations

import asyncio
import ipaddress
import posixpath
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from kubelite.api import errors
from kubelite.registry.registry import Registry
from kubelite.registry.store import Store

Obj = dict[str, Any]
T = TypeVar("T")

SCHEMES = ("", "http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
        "Te", "Trailer", "Transfer-Encoding", "Upgrade",
    )
)  # fmt: skip
CORS_HEADERS = frozenset(
    h.lower()
    for h in (
        "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers", "Access-Control-Allow-Methods",
        "Access-Control-Allow-Origin",
    )
)  # fmt: skip
RESPONSE_DROPPED = HOP_BY_HOP | CORS_HEADERS | {"content-length"}
REQUEST_DROPPED = HOP_BY_HOP | {"authorization", "host", "content-length"}


@dataclass(frozen=True, slots=True)
class Backend:
    """Where a proxied request goes: scheme, host (an IP) and port ("" = the scheme's default)."""

    scheme: str
    host: str
    port: str

    def url(self, path: str, query_string: str) -> URL:
        port = self.port or str(DEFAULT_PORTS[self.scheme])
        if not port.isdigit():
            raise errors.service_unavailable(
                f"error trying to reach service: dial tcp: address {self.host}:{self.port}: unknown port"
            )
        return URL.build(scheme=self.scheme, host=self.host, port=int(port), path=path or "/", query_string=query_string, encoded=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port or DEFAULT_PORTS[self.scheme]}"


def split_scheme_name_port(id_: str) -> tuple[str, str, str] | None:
    """`name`, `name:port` or `scheme:name:port` -> (scheme, name, port); None when malformed."""
    parts = id_.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in SCHEMES:
        return None
    return scheme, name, port


def proxy_subpath(request_path: str, resource: str, id_: str) -> tuple[str, str]:
    """(the prefix up to and including the `proxy` segment, the path after it) for a decoded
    request path `…/{resource}/{id}/proxy/…`; the path is cleaned as upstream joins it (`..` and
    `//` resolved, a trailing slash kept) and is "" when nothing follows `proxy`."""
    parts = request_path.strip("/").split("/")
    index = next(
        i for i in range(2, len(parts)) if parts[i] == "proxy" and parts[i - 1] == id_ and parts[i - 2] == resource
    )
    rest = "/".join(parts[index + 1 :])
    wanted = "/" + rest if rest else ""
    if request_path.endswith("/") and not wanted.endswith("/"):
        wanted += "/"
    prefix = "/" + "/".join(parts[: index + 1])
    if not wanted:
        return prefix, ""
    cleaned = "/" + posixpath.normpath(wanted).lstrip("/")
    if wanted.endswith("/") and not cleaned.endswith("/"):
        cleaned += "/"
    return prefix, cleaned


def _global_unicast(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not (address.is_loopback or address.is_link_local or address.is_multicast or address.is_unspecified) and not (
        isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address("255.255.255.255")
    )


def pod_backend(pod: Obj, scheme: str, port: str) -> Backend:
    """Upstream's pod ResourceLocation: the pod IP (a global unicast address) and the port asked
    for, else the first containerPort of the first container that declares one."""
    if not port:
        for container in (pod.get("spec") or {}).get("containers") or []:
            declared = container.get("ports") or []
            if declared:
                port = str(declared[0].get("containerPort") or "")
                break
    status = pod.get("status") or {}
    ip = str(status.get("podIP") or next((str(p.get("ip") or "") for p in status.get("podIPs") or []), ""))
    if not _global_unicast(ip):
        raise errors.bad_request("address not allowed")
    return Backend(scheme or "http", ip, port)


def service_port_name(service: Obj, port: str) -> str:
    """The Endpoints port name a request means: a port number becomes the name of the Service port
    with that number (503 when there is none); anything else is a name already."""
    if not port.lstrip("-").isdigit():
        return port
    number = int(port)
    for entry in (service.get("spec") or {}).get("ports") or []:
        if entry.get("port") == number:
            return str(entry.get("name") or "")
    name = (service.get("metadata") or {}).get("name", "")
    raise errors.service_unavailable(f'no service port {number} found for service "{name}"')


def _shuffled_from(items: Sequence[T], pick: Callable[[int], int]) -> list[T]:
    """The items starting at a random index, wrapping around (upstream's seeded scan)."""
    if not items:
        return []
    start = pick(len(items))
    return [items[(start + i) % len(items)] for i in range(len(items))]


def service_backend(endpoints: Obj, scheme: str, port_name: str, id_: str, pick: Callable[[int], int] = random.randrange) -> Backend:
    """Upstream's service ResourceLocation over the Service's Endpoints: a random subset that has
    ready addresses and the named port, and a random ready address in it."""
    subsets = endpoints.get("subsets") or []
    name = (endpoints.get("metadata") or {}).get("name", "")
    if not subsets:
        raise errors.service_unavailable(f'no endpoints available for service "{name}"')
    for subset in _shuffled_from(subsets, pick):
        addresses = subset.get("addresses") or []
        if not addresses:
            continue
        for port in subset.get("ports") or []:
            if str(port.get("name") or "") == port_name:
                for address in _shuffled_from(addresses, pick):
                    ip = str(address.get("ip") or "")
                    if ip:
                        return Backend(scheme or "http", ip, str(port.get("port")))
    raise errors.service_unavailable(f'no endpoints available for service "{id_}"')


def _dial_error(backend: Backend, err: BaseException) -> errors.StatusError:
    """503 with Go's wording for the usual dial failures."""
    cause: BaseException = getattr(err, "os_error", None) or err
    if isinstance(cause, ConnectionRefusedError):
        reason = "connect: connection refused"
    elif isinstance(cause, (TimeoutError, asyncio.TimeoutError)):
        reason = "i/o timeout"
    elif isinstance(cause, OSError) and cause.strerror:
        reason = f"connect: {cause.strerror[0].lower()}{cause.strerror[1:]}"
    else:
        reason = str(cause) or type(cause).__name__
    return errors.service_unavailable(f"error trying to reach service: dial tcp {backend.address}: {reason}")


def _outgoing_headers(request: web.Request) -> CIMultiDict[str]:
    named_in_connection = {
        token.strip().lower() for value in request.headers.getall("Connection", []) for token in value.split(",")
    }
    headers: CIMultiDict[str] = CIMultiDict()
    for key, value in request.headers.items():
        lowered = key.lower()
        if lowered in REQUEST_DROPPED or lowered in named_in_connection:
            continue
        headers.add(key, value)
    peer = request.remote or ""
    if peer:
        prior = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
    headers["X-Forwarded-Host"] = request.host
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Uri"] = request.rel_url.raw_path_qs
    return headers


def rewrite_location(location: str, backend: URL, prefix: str) -> str:
    """A redirect the backend sends to itself (or to a bare path) goes through the proxy path."""
    target = URL(location)
    if target.is_absolute():
        if (target.host, target.port) != (backend.host, backend.port):
            return location
    elif not location.startswith("/"):
        return location
    rebuilt = URL.build(path=prefix.rstrip("/") + (target.raw_path or "/"), query_string=target.raw_query_string, encoded=True)
    return str(rebuilt.with_fragment(target.fragment or None))


class ResourceProxy:
    """Serves pods/proxy and services/proxy for one API server."""

    def __init__(self, registry: Registry, *, connect_timeout: float = 30.0, pick: Callable[[int], int] = random.randrange):
        self.registry = registry
        self.connect_timeout = connect_timeout
        self.pick = pick

    async def serve(self, request: web.Request, store: Store, namespace: str, id_: str) -> web.StreamResponse:
        resource = store.info.resource
        parsed = split_scheme_name_port(id_)
        if parsed is None:
            kind = "pod" if resource == "pods" else "service"
            raise errors.bad_request(f'invalid {kind} request "{id_}"')
        scheme, name, port = parsed
        if resource == "pods":
            backend = pod_backend(await store.get(namespace, name), scheme, port)
        else:
            if port.lstrip("-").isdigit():
                port = service_port_name(await store.get(namespace, name), port)
            endpoints_store = self.registry.store("", "v1", "endpoints")
            if endpoints_store is None:
                raise errors.service_unavailable(f'no endpoints available for service "{id_}"')
            endpoints = await endpoints_store.get(namespace, name)
            backend = service_backend(endpoints, scheme, port, id_, self.pick)
        prefix, path = proxy_subpath(request.path, resource, id_)
        if not path and request.method in ("GET", "HEAD"):
            query = request.rel_url.raw_query_string
            location = request.rel_url.raw_path + "/" + (f"?{query}" if query else "")
            return web.Response(status=301, headers={"Location": location})
        return await self.relay(request, backend, backend.url(path, request.rel_url.raw_query_string), prefix)

    async def relay(self, request: web.Request, backend: Backend, url: URL, prefix: str) -> web.StreamResponse:
        """Send the request on to `url` and stream the answer back."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout)
        connector = aiohttp.TCPConnector(ssl=False, force_close=True)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:
            body = request.content if request.body_exists else None
            try:
                upstream = await session.request(
                    request.method, url, headers=_outgoing_headers(request), data=body, allow_redirects=False
                )
            except (aiohttp.ClientConnectorError, aiohttp.ServerTimeoutError, TimeoutError, OSError) as err:
                raise _dial_error(backend, err) from None
            except aiohttp.ClientError as err:
                raise errors.service_unavailable(f"error trying to reach service: {err}") from None
            async with upstream:
                headers: CIMultiDict[str] = CIMultiDict()
                for key, value in upstream.headers.items():
                    if key.lower() not in RESPONSE_DROPPED:
                        headers.add(key, value)
                if "Location" in headers:
                    headers["Location"] = rewrite_location(headers["Location"], url, prefix)
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
                length = upstream.content_length
                if length is not None and "Transfer-Encoding" not in upstream.headers:
                    response.content_length = length
                await response.prepare(request)
                try:
                    async for chunk in upstream.content.iter_any():
                        await response.write(chunk)
                except (TimeoutError, aiohttp.ClientError):
                    pass  # the backend went away mid-answer: end it where it stopped
                await response.write_eof()
                return response
