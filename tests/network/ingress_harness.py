"""Helpers for the ingress tests: builders of Ingresses, Services, EndpointSlices and TLS Secrets
(a real self-signed pair made with `cryptography`), a routing simulator of nginx's location choice
(exact match first, then the longest prefix: how nginx picks among the locations we render),
tiny HTTP backends (on an address the test made) that answer with their own name, and an
HTTP/HTTPS client that sends any Host header (and SNI) to a loopback port.

Requests go only to 127.0.0.1. Must not reach into the controller beyond its public API.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import shutil
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubelite.network.ingress.model import Location

Obj = dict[str, Any]


def require_nginx() -> None:
    if shutil.which("nginx") is None:
        pytest.skip("needs nginx (make system-packages)")


# ---------------------------------------------------------------------------- objects
def http_path(path: str, service: str, port: int | str = 80, path_type: str = "Prefix") -> Obj:
    port_ref = {"number": port} if isinstance(port, int) else {"name": port}
    entry: Obj = {"pathType": path_type, "backend": {"service": {"name": service, "port": port_ref}}}
    if path:
        entry["path"] = path
    return entry


def rule(host: str, *paths: Obj) -> Obj:
    found: Obj = {"http": {"paths": list(paths)}}
    if host:
        found["host"] = host
    return found


def ingress(
    name: str,
    *rules: Obj,
    namespace: str = "default",
    class_name: str | None = None,
    default_backend: Obj | None = None,
    tls: list[Obj] | None = None,
    annotations: dict[str, str] | None = None,
    created: str = "2025-01-01T00:00:00Z",
) -> Obj:
    spec: Obj = {}
    if rules:
        spec["rules"] = list(rules)
    if class_name is not None:
        spec["ingressClassName"] = class_name
    if default_backend is not None:
        spec["defaultBackend"] = default_backend
    if tls is not None:
        spec["tls"] = tls
    meta: Obj = {"name": name, "namespace": namespace, "creationTimestamp": created, "uid": f"uid-{name}", "generation": 1}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


def backend(service: str, port: int | str = 80) -> Obj:
    return {"service": {"name": service, "port": {"number": port} if isinstance(port, int) else {"name": port}}}


def service(name: str, port: int = 80, port_name: str = "http", namespace: str = "default", target: int = 8080) -> Obj:
    entry: Obj = {"port": port, "protocol": "TCP", "targetPort": target}
    if port_name:
        entry["name"] = port_name
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ports": [entry], "selector": {"app": name}},
    }


def endpoint_slice(
    service_name: str,
    endpoints: list[tuple[str, bool]],
    port: int,
    port_name: str = "http",
    namespace: str = "default",
    name: str = "",
) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name or f"{service_name}-abc",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ip], "conditions": {"ready": ready}} for ip, ready in endpoints],
    }


def self_signed(host: str) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for `host`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def tls_secret(name: str, cert: bytes, key: bytes, namespace: str = "default") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()},
    }


# ---------------------------------------------------------------------------- nginx's choice
def nginx_choice(locations: list[Location], uri: str) -> Location | None:
    """The location nginx serves `uri` from: an exact match, else the longest matching prefix."""
    for location in locations:
        if location.exact and location.path == uri:
            return location
    prefixes = [loc for loc in locations if not loc.exact and uri.startswith(loc.path)]
    return max(prefixes, key=lambda loc: len(loc.path), default=None)


# ---------------------------------------------------------------------------- HTTP
@dataclass
class Backend:
    name: str
    port: int
    server: asyncio.base_events.Server


@contextlib.asynccontextmanager
async def backends(address: str, *names: str) -> AsyncIterator[dict[str, Backend]]:
    """HTTP servers on `address` (free ports) answering `<name> <path>` with the request's Host
    echoed in an `X-Seen-Host` header."""

    def handler(name: str) -> Any:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    lines = head.decode(errors="replace").split("\r\n")
                    path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "?"
                    host = next((ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("host:")), "")
                    body = f"{name} {path}".encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Seen-Host: %s\r\n\r\n%s"
                        % (len(body), host.encode(), body)
                    )
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                pass
            finally:
                writer.close()

        return answer

    started: dict[str, Backend] = {}
    try:
        for name in names:
            server = await asyncio.start_server(handler(name), address, 0)
            port = server.sockets[0].getsockname()[1]
            started[name] = Backend(name, port, server)
        yield started
    finally:
        for found in started.values():
            found.server.close()
            with contextlib.suppress(Exception):
                await found.server.wait_closed()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


async def request(
    port: int, host: str, path: str = "/", *, https: bool = False, timeout: float = 3.0
) -> tuple[Reply, x509.Certificate | None]:
    """GET `path` from 127.0.0.1:`port` with `Host: host` (and SNI `host` over TLS, not verified);
    the reply and, over TLS, the certificate the server presented."""
    context: ssl.SSLContext | None = None
    if https:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname=host if https else None
        )
        try:
            peer: x509.Certificate | None = None
            if https:
                der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
                peer = x509.load_der_x509_certificate(der)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return Reply(int(lines[0].split(" ")[1]), headers, body.decode(errors="replace")), peer


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return out
