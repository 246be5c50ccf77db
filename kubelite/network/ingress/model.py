"""The routing model of the Ingresses we serve, as ingress-nginx builds it: one server per host
(plus the default server for rules without a host and for Ingresses made only of a
defaultBackend), each with its locations, and one upstream per (Service, port) listing the ready
endpoints (pod addresses straight from the EndpointSlices, not the ClusterIP).

Path semantics (networking.k8s.io/v1):
- Exact `/p`: the request path equals `/p` (`location = /p`).
- Prefix `/p` (a trailing `/` ignored): element-wise, so `/p` and `/p/...` but not `/px`
  (`location = /p` plus `location /p/`); Prefix `/` matches everything.
- ImplementationSpecific `/p`: nginx's own string prefix (`location /p`, so `/px` matches too); an
  empty path is `/`.
nginx picks an exact location first, then the longest prefix, which is upstream's "longest
matching path wins, Exact before Prefix on a tie". When two paths render to the same location,
the one from the Exact path wins, then the oldest Ingress (creationTimestamp, then
namespace/name), then the first path; a defaultBackend only fills `/` where no rule did.
TLS: a host gets the certificate of the first `tls` entry (oldest Ingress first) listing it (or
a wildcard covering it) whose Secret holds a usable pair; an entry without hosts is for the
default server; otherwise the fallback certificate serves.

Pure functions over wire-shaped dicts. Must not render nginx syntax (config.py does), read
files, or talk to the API.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SSL_REDIRECT_ANNOTATION = "nginx.ingress.kubernetes.io/ssl-redirect"
DEFAULT_SERVER = ""  # the server name of the catch-all server

NOT_FOUND = 404
UNAVAILABLE = 503

_KIND_RANK = {"Exact": 0, "Prefix": 1, "ImplementationSpecific": 2}
_FROM_RULE, _FROM_DEFAULT_BACKEND = 0, 1


@dataclass(frozen=True, slots=True)
class TLSPair:
    """A certificate chain and its key (PEM), as a kubernetes.io/tls Secret holds them."""

    namespace: str
    secret: str
    cert: bytes
    key: bytes

    @property
    def file_name(self) -> str:
        """Named by content, so a changed Secret never overwrites a file nginx is serving from."""
        digest = hashlib.sha256(self.cert + b"\0" + self.key).hexdigest()[:16]
        return f"{self.namespace}_{self.secret}_{digest}.pem"

    @property
    def pem(self) -> bytes:
        cert = self.cert if self.cert.endswith(b"\n") else self.cert + b"\n"
        return cert + self.key


@dataclass(frozen=True, slots=True)
class IngressSource:
    """One Ingress with the TLS pairs of the Secrets it names (None: missing or unusable)."""

    ingress: Obj
    tls: Mapping[str, TLSPair | None] = field(default_factory=dict)

    @property
    def key(self) -> str:
        meta = self.ingress.get("metadata") or {}
        return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


@dataclass(frozen=True, slots=True)
class Upstream:
    name: str
    endpoints: tuple[tuple[str, int], ...]  # (ip, port), sorted


@dataclass(frozen=True, slots=True)
class Location:
    exact: bool
    path: str
    upstream: str = ""  # the upstream to proxy to; "" when `status` answers instead
    status: int = 0  # a fixed answer (404 nothing matched, 503 no endpoints)
    owner: str = ""  # "namespace/name" of the Ingress it came from ("" for the built-in 404)
    ssl_redirect: bool = False  # plain-HTTP requests get a 308 to https


@dataclass(slots=True)
class Server:
    name: str  # a host, "*.domain" or DEFAULT_SERVER
    tls: TLSPair | None = None  # None: the fallback certificate
    tls_owner: str = ""
    locations: list[Location] = field(default_factory=list)


@dataclass(slots=True)
class Routes:
    servers: list[Server]  # the default server first, then hosts in name order
    upstreams: list[Upstream]  # in name order


@dataclass(frozen=True, slots=True)
class Lookup:
    """The objects a backend resolves against: a Service by (namespace, name), the EndpointSlices
    of a Service by (namespace, service name)."""

    service: Callable[[str, str], Obj | None]
    slices: Callable[[str, str], Iterable[Obj]]


# ---------------------------------------------------------------------------- inputs
def ingress_order(ingress: Obj) -> tuple[str, str, str]:
    meta = ingress.get("metadata") or {}
    return (str(meta.get("creationTimestamp") or ""), str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _decode(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def tls_pair(secret: Obj | None) -> TLSPair | None:
    """The pair in a Secret's tls.crt and tls.key, or None when either is missing."""
    if secret is None:
        return None
    data = secret.get("data") or {}
    cert, key = _decode(data.get("tls.crt")), _decode(data.get("tls.key"))
    if not cert or not key:
        return None
    meta = secret.get("metadata") or {}
    return TLSPair(str(meta.get("namespace") or ""), str(meta.get("name") or ""), cert, key)


def secret_names(ingress: Obj) -> list[str]:
    names = [str(entry.get("secretName")) for entry in (ingress.get("spec") or {}).get("tls") or [] if entry.get("secretName")]
    return list(dict.fromkeys(names))


def references(ingress: Obj) -> tuple[set[str], set[str]]:
    """The "namespace/name" of the Services and of the Secrets the Ingress names."""
    namespace = str((ingress.get("metadata") or {}).get("namespace") or "")
    spec = ingress.get("spec") or {}
    backends = [spec.get("defaultBackend") or {}]
    for rule in spec.get("rules") or []:
        backends.extend(path.get("backend") or {} for path in (rule.get("http") or {}).get("paths") or [])
    services = {f"{namespace}/{b['service']['name']}" for b in backends if (b.get("service") or {}).get("name")}
    return services, {f"{namespace}/{name}" for name in secret_names(ingress)}


def ingress_source(ingress: Obj, secret: Callable[[str, str], Obj | None]) -> IngressSource:
    namespace = str((ingress.get("metadata") or {}).get("namespace") or "")
    return IngressSource(ingress, {name: tls_pair(secret(namespace, name)) for name in secret_names(ingress)})


# ---------------------------------------------------------------------------- paths
def path_locations(path_type: str, path: str) -> list[tuple[bool, str]]:
    """The (exact, path) nginx locations one Ingress path renders to."""
    if path_type == "Exact":
        return [(True, path)]
    if path_type == "Prefix":
        trimmed = path.rstrip("/")
        return [(False, "/")] if not trimmed else [(True, trimmed), (False, trimmed + "/")]
    return [(False, path or "/")]


def _host_covered(tls_host: str, host: str) -> bool:
    if tls_host == host:
        return True
    if tls_host.startswith("*.") and not host.startswith("*."):
        _label, dot, rest = host.partition(".")
        return bool(dot) and rest == tls_host[2:]
    return False


# ---------------------------------------------------------------------------- backends
def _ip_endpoint(address: Any) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except (TypeError, ValueError):
        return ""


def _service_port(service: Obj, port: Obj) -> Obj | None:
    number, name = port.get("number"), port.get("name")
    for entry in (service.get("spec") or {}).get("ports") or []:
        if (number and entry.get("port") == number) or (name and entry.get("name") == name):
            return entry  # type: ignore[no-any-return]
    return None


def ready_endpoints(slices: Iterable[Obj], port_name: str) -> tuple[tuple[str, int], ...]:
    """(ip, port) of every ready endpoint for the named service port (TCP), sorted."""
    found: set[tuple[str, int]] = set()
    for slice_ in slices:
        if slice_.get("addressType") not in ("IPv4", "IPv6"):
            continue
        number = None
        for slice_port in slice_.get("ports") or []:
            if (slice_port.get("name") or "") == port_name and (slice_port.get("protocol") or "TCP") == "TCP":
                number = slice_port.get("port")
                break
        if not isinstance(number, int):
            continue
        for endpoint in slice_.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            addresses = endpoint.get("addresses") or []
            ip = _ip_endpoint(addresses[0]) if addresses else ""
            if ip:
                found.add((ip, number))
    return tuple(sorted(found, key=lambda e: (ipaddress.ip_address(e[0]).version, ipaddress.ip_address(e[0]), e[1])))


class _Builder:
    def __init__(self, lookup: Lookup):
        self.lookup = lookup
        self.upstreams: dict[str, Upstream] = {}
        # server name -> location key -> (priority, location)
        self.candidates: dict[str, dict[tuple[bool, str], tuple[tuple[int, int, int, int], Location]]] = {}

    def backend(self, namespace: str, backend: Obj) -> tuple[str, int]:
        """(upstream name, 0) for a Service with ready endpoints, else ("", 503)."""
        service_ref = backend.get("service") or {}
        name = str(service_ref.get("name") or "")
        if not name:
            return "", UNAVAILABLE  # a resource backend: not supported
        service = self.lookup.service(namespace, name)
        if service is None or (service.get("spec") or {}).get("type") == "ExternalName":
            return "", UNAVAILABLE
        port = _service_port(service, service_ref.get("port") or {})
        if port is None:
            return "", UNAVAILABLE
        port_name = str(port.get("name") or "")
        upstream_name = f"{namespace}_{name}_{port_name or port.get('port')}"
        if upstream_name not in self.upstreams:
            endpoints = ready_endpoints(self.lookup.slices(namespace, name), port_name)
            self.upstreams[upstream_name] = Upstream(upstream_name, endpoints)
        if not self.upstreams[upstream_name].endpoints:
            return "", UNAVAILABLE
        return upstream_name, 0

    def offer(self, server: str, priority: tuple[int, int, int, int], location: Location) -> None:
        locations = self.candidates.setdefault(server, {})
        key = (location.exact, location.path)
        held = locations.get(key)
        if held is None or priority < held[0]:
            locations[key] = (priority, location)


def build_routes(sources: Iterable[IngressSource], lookup: Lookup) -> Routes:
    """The servers and upstreams for these Ingresses (all of them ours)."""
    ordered = sorted(sources, key=lambda s: ingress_order(s.ingress))
    builder = _Builder(lookup)
    builder.candidates[DEFAULT_SERVER] = {}
    redirects: dict[str, bool] = {}
    for order, source in enumerate(ordered):
        ingress = source.ingress
        meta = ingress.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        spec = ingress.get("spec") or {}
        owner = source.key
        redirects[owner] = (meta.get("annotations") or {}).get(SSL_REDIRECT_ANNOTATION) != "false"
        hosts: list[str] = []
        for rule in spec.get("rules") or []:
            host = str(rule.get("host") or DEFAULT_SERVER)
            hosts.append(host)
            builder.candidates.setdefault(host, {})
            for index, http_path in enumerate((rule.get("http") or {}).get("paths") or []):
                path_type = str(http_path.get("pathType") or "ImplementationSpecific")
                upstream, status = builder.backend(namespace, http_path.get("backend") or {})
                for exact, path in path_locations(path_type, str(http_path.get("path") or "")):
                    priority = (_FROM_RULE, _KIND_RANK.get(path_type, 2), order, index)
                    builder.offer(host, priority, Location(exact, path, upstream, status, owner))
        default_backend = spec.get("defaultBackend")
        if default_backend:
            upstream, status = builder.backend(namespace, default_backend)
            for host in dict.fromkeys(hosts or [DEFAULT_SERVER]):
                builder.offer(host, (_FROM_DEFAULT_BACKEND, 0, order, 0), Location(False, "/", upstream, status, owner))
    servers = [Server(name) for name in sorted(builder.candidates)]  # DEFAULT_SERVER ("") sorts first
    for server in servers:
        _choose_tls(server, ordered)
        chosen = [location for _priority, location in builder.candidates[server.name].values()]
        if not any(not loc.exact and loc.path == "/" for loc in chosen):
            chosen.append(Location(False, "/", status=NOT_FOUND))
        if server.tls is not None:
            chosen = [_with_redirect(loc, redirects) for loc in chosen]
        server.locations = sorted(chosen, key=lambda loc: (loc.path, not loc.exact))
    upstreams = [builder.upstreams[name] for name in sorted(builder.upstreams) if builder.upstreams[name].endpoints]
    return Routes(servers, upstreams)


def _with_redirect(location: Location, redirects: Mapping[str, bool]) -> Location:
    if not location.owner or not redirects.get(location.owner, False):
        return location
    return Location(location.exact, location.path, location.upstream, location.status, location.owner, True)


def _choose_tls(server: Server, ordered: list[IngressSource]) -> None:
    for source in ordered:
        for entry in (source.ingress.get("spec") or {}).get("tls") or []:
            hosts = [str(h) for h in entry.get("hosts") or []]
            if server.name == DEFAULT_SERVER:
                applies = not hosts
            else:
                applies = any(_host_covered(tls_host, server.name) for tls_host in hosts)
            pair = source.tls.get(str(entry.get("secretName") or "")) if applies else None
            if pair is not None:
                server.tls, server.tls_owner = pair, source.key
                return
