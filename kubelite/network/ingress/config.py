"""nginx.conf for a routing model: global settings, one upstream per (Service, port) with the ready
pod endpoints, a default server (`server_name _`, `default_server` on both listeners) and one
server per host (`*.domain` as a one-label regex, as upstream's wildcard covers one DNS label),
each listening for HTTP and HTTPS on the configured addresses and ports. TLS pairs become files
`certs/<namespace>_<secret>_<digest>.pem` (mode 0600, written by the controller).

Every rendered line remembers the Ingress it came from, so that `offenders` can map an error of
`nginx -t` (a line number, or a certificate file it could not load) back to the Ingresses at
fault.

Pure: must not write files, run nginx or talk to the API; must not decide routing (model.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from kubelite.network.ingress.model import DEFAULT_SERVER, Location, Routes, Server, Upstream

CONF_FILE = "conf/nginx.conf"
CERTS_DIR = "certs"
DEFAULT_CERT_FILE = "certs/default.pem"
PID_FILE = "logs/nginx.pid"
ERROR_LOG = "logs/error.log"
ACCESS_LOG = "logs/access.log"
TEMP_DIR = "tmp"
UPSTREAM_KEEPALIVE = 32

_INDENT = "    "


@dataclass(frozen=True, slots=True)
class NginxOptions:
    prefix: str  # absolute: every path in the config lives under it
    http_port: int = 80
    https_port: int = 443  # 0: no HTTPS listener
    listen_addresses: tuple[str, ...] = ()  # empty: every IPv4 address
    worker_processes: str = "auto"
    access_log: bool = False

    def path(self, relative: str) -> str:
        return str(PurePosixPath(self.prefix) / relative)


@dataclass(slots=True)
class RenderedConfig:
    text: str
    files: dict[str, bytes]  # path relative to the prefix -> content (the TLS pairs)
    line_owners: list[str]  # per line (index = line number - 1): the Ingress key, or ""
    file_owners: dict[str, set[str]] = field(default_factory=dict)  # absolute path -> Ingress keys


class _Lines:
    def __init__(self) -> None:
        self.text: list[str] = []
        self.owners: list[str] = []

    def add(self, depth: int, line: str, owner: str = "") -> None:
        self.text.append(_INDENT * depth + line)
        self.owners.append(owner)


def quote(value: str) -> str:
    """An nginx string literal (double quotes, with `\\` and `"` escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def server_name(name: str) -> str:
    if name == DEFAULT_SERVER:
        return "_"
    if name.startswith("*."):
        return "~^[^.]+" + re.escape(name[1:]) + "$"
    return name


def _hash_sizes(servers: Iterable[Server]) -> tuple[int, int]:
    """server_names_hash_bucket_size and _max_size big enough for these names (nginx refuses to
    start when a name does not fit a bucket)."""
    names = [s.name for s in servers if s.name and not s.name.startswith("*.")]
    longest = max((len(n) for n in names), default=0)
    needed = 8 + ((longest + 2 + 7) // 8) * 8 + 8
    bucket = 64
    while bucket < needed:
        bucket *= 2
    max_size = 1024
    while max_size < 4 * len(names):
        max_size *= 2
    return bucket, max_size


def _endpoint(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _listen(address: str, port: int) -> str:
    if not address:
        return str(port)
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _render_upstream(lines: _Lines, upstream: Upstream) -> None:
    lines.add(1, f"upstream {upstream.name} {{")
    for ip, port in upstream.endpoints:
        lines.add(2, f"server {_endpoint(ip, port)} max_fails=0;")
    lines.add(2, f"keepalive {UPSTREAM_KEEPALIVE};")
    lines.add(1, "}")


def _render_location(lines: _Lines, location: Location, options: NginxOptions) -> None:
    owner = location.owner
    match = "= " if location.exact else ""
    lines.add(2, f"location {match}{quote(location.path)} {{", owner)
    if location.ssl_redirect and options.https_port:
        port = "" if options.https_port == 443 else f":{options.https_port}"
        lines.add(3, "if ($scheme = http) {", owner)
        lines.add(4, f"return 308 https://$host{port}$request_uri;", owner)
        lines.add(3, "}", owner)
    if location.upstream:
        lines.add(3, f"proxy_pass http://{location.upstream};", owner)
    else:
        lines.add(3, f"return {location.status};", owner)
    lines.add(2, "}", owner)


def _render_server(lines: _Lines, server: Server, options: NginxOptions, cert_file: str) -> None:
    default = " default_server" if server.name == DEFAULT_SERVER else ""
    lines.add(1, "server {")
    for address in options.listen_addresses or ("",):
        lines.add(2, f"listen {_listen(address, options.http_port)}{default};")
        if options.https_port:
            lines.add(2, f"listen {_listen(address, options.https_port)} ssl http2{default};")
    lines.add(2, f"server_name {server_name(server.name)};")
    if options.https_port:
        lines.add(2, f"ssl_certificate {quote(cert_file)};", server.tls_owner)
        lines.add(2, f"ssl_certificate_key {quote(cert_file)};", server.tls_owner)
    for location in server.locations:
        _render_location(lines, location, options)
    lines.add(1, "}")


def _render_globals(lines: _Lines, routes: Routes, options: NginxOptions) -> None:
    lines.add(0, "# Written by the kubelite ingress controller: every change here is overwritten.")
    lines.add(0, f"worker_processes {options.worker_processes};")
    lines.add(0, f"pid {quote(options.path(PID_FILE))};")
    lines.add(0, f"error_log {quote(options.path(ERROR_LOG))} notice;")
    lines.add(0, "worker_shutdown_timeout 10s;")
    lines.add(0, "events {")
    lines.add(1, "worker_connections 4096;")
    lines.add(0, "}")
    lines.add(0, "http {")
    access = f"{quote(options.path(ACCESS_LOG))}" if options.access_log else "off"
    bucket, max_size = _hash_sizes(routes.servers)
    for directive in (
        "server_tokens off;",
        f"access_log {access};",
        "default_type text/plain;",
        f"server_names_hash_bucket_size {bucket};",
        f"server_names_hash_max_size {max_size};",
        *(
            f"{kind}_temp_path {quote(options.path(f'{TEMP_DIR}/{kind}'))};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        ),
        # workers may not be able to reach the prefix: never spill bodies to temp files
        "proxy_request_buffering off;",
        "proxy_max_temp_file_size 0;",
        "map $http_upgrade $connection_upgrade {",
        f"{_INDENT}default upgrade;",
        f'{_INDENT}"" "";',
        "}",
        "proxy_http_version 1.1;",
        "proxy_set_header Host $host;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Host $host;",
        "proxy_set_header X-Forwarded-Port $server_port;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_connect_timeout 5s;",
        "proxy_send_timeout 60s;",
        "proxy_read_timeout 60s;",
        "proxy_next_upstream error timeout;",
        "proxy_next_upstream_tries 3;",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "ssl_session_cache shared:SSL:10m;",
        "ssl_session_timeout 10m;",
    ):
        lines.add(1, directive)


def render(routes: Routes, options: NginxOptions) -> RenderedConfig:
    lines = _Lines()
    _render_globals(lines, routes, options)
    for upstream in routes.upstreams:
        _render_upstream(lines, upstream)
    files: dict[str, bytes] = {}
    file_owners: dict[str, set[str]] = {}
    for server in routes.servers:
        cert_file = options.path(DEFAULT_CERT_FILE)
        if server.tls is not None:
            relative = f"{CERTS_DIR}/{server.tls.file_name}"
            files[relative] = server.tls.pem
            cert_file = options.path(relative)
            file_owners.setdefault(cert_file, set()).add(server.tls_owner)
        _render_server(lines, server, options, cert_file)
    lines.add(0, "}")
    return RenderedConfig("\n".join(lines.text) + "\n", files, lines.owners, file_owners)


_LINE_REFERENCE = re.compile(r" in (\S+):(\d+)")
_QUOTED = re.compile(r'"([^"]+)"')


def offenders(rendered: RenderedConfig, error_text: str, tested_file: str) -> set[str]:
    """The Ingresses an `nginx -t` error of `tested_file` (rendered from `rendered`) points at:
    the owner of a line it names, and the owners of a certificate file it names."""
    found: set[str] = set()
    for match in _LINE_REFERENCE.finditer(error_text):
        if match.group(1) != tested_file:
            continue
        line = int(match.group(2))
        if 1 <= line <= len(rendered.line_owners) and rendered.line_owners[line - 1]:
            found.add(rendered.line_owners[line - 1])
    for match in _QUOTED.finditer(error_text):
        found.update(rendered.file_owners.get(match.group(1), ()))
    return found
