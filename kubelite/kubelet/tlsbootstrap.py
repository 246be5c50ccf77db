"""TLS bootstrap of a joining node: from a join token to the node's own credentials.

1. The cluster CA comes from kube-public/cluster-info (read anonymously, the only unverified
   request) and must match the join token's sha256 pin (a bare `<id>.<secret>` token trusts it
   on first use, with a warning; later runs hold it to the CA saved then).
2. With the bootstrap token, a CSR for a kubelet client certificate (CN system:node:<name>,
   O system:nodes) is created and awaited until the control plane approves and signs it.
3. With that client certificate, a CSR for the kubelet serving certificate (SANs: the node's
   addresses and name) is created and awaited.
Keys are EC P-256 made here; they never leave the node. Files are written 0600, atomically.
Credentials already in the directory are reused while they chain to the CA and the client
certificate has more than 10% of its life left (a restarted agent does not bootstrap again).

Must not run the kubelet or rotate certificates while it runs; it only obtains the files.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import ipaddress
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubelite.api import bootstraptoken as bt
from kubelite.api import certificates as csrs
from kubelite.api.errors import StatusError
from kubelite.client.client import Client
from kubelite.client.http import HTTPTransport, tls_context
from kubelite.client.transport import TransportError

USER_AGENT = "kubelite-agent/tls-bootstrap"
RENEW_FRACTION = 0.1  # re-bootstrap when less than this part of the client certificate's life is left
POLL_FIRST, POLL_MAX = 0.1, 1.0
CLIENT_USAGES = [csrs.DIGITAL_SIGNATURE, csrs.CLIENT_AUTH]
SERVING_USAGES = [csrs.DIGITAL_SIGNATURE, csrs.SERVER_AUTH]


class TLSBootstrapError(Exception):
    """Why the node could not get its credentials (the message is meant for the user)."""


@dataclass(frozen=True)
class NodeCredentials:
    kubeconfig: Path  # server URL + CA + client cert/key of system:node:<name>
    ca_cert: Path
    client_cert: Path
    client_key: Path
    serving_cert: Path  # kubelet serving certificate (SANs: node IPs + hostname), signed by the cluster CA
    serving_key: Path


def credential_paths(directory: Path) -> NodeCredentials:
    return NodeCredentials(
        kubeconfig=directory / "kubeconfig.yaml",
        ca_cert=directory / "ca.crt",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
        serving_cert=directory / "serving.crt",
        serving_key=directory / "serving.key",
    )


async def bootstrap_credentials(
    server_url: str,
    join_token: str,
    node_name: str,
    node_addresses: list[str],
    directory: Path,
    timeout: float = 60.0,
) -> NodeCredentials:
    """The node's credentials in `directory`: reused when still good, else obtained from the server."""
    try:
        token = bt.parse_join_token(join_token)
    except ValueError as exc:
        raise TLSBootstrapError(f"kubelite: invalid join token: {exc}") from None
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    paths = credential_paths(directory)
    deadline = time.monotonic() + timeout
    server_url = server_url.rstrip("/")
    user = csrs.NODE_USER_PREFIX + node_name
    now = time.time()
    saved_ca = paths.ca_cert.read_bytes() if paths.ca_cert.exists() else b""
    ca_pem = saved_ca if saved_ca and (not token.ca_hash or bt.ca_hash(saved_ca) == token.ca_hash) else b""
    client_ok = bool(ca_pem) and _usable(paths.client_cert, paths.client_key, ca_pem, user, now, RENEW_FRACTION)
    if not client_ok:
        ca_pem = await _verified_ca(server_url, token, saved_ca)
        _write_private(paths.ca_cert, ca_pem)
        key_pem, cert_pem = await _obtain(
            server_url, tls_context(ca_pem), token.bearer, csrs.KUBELET_CLIENT, CLIENT_USAGES, user, [], deadline, timeout
        )
        _write_private(paths.client_key, key_pem)
        _write_private(paths.client_cert, cert_pem)
    _write_kubeconfig(paths, server_url, user)
    wanted = serving_names(node_name, node_addresses)
    if not client_ok or not _usable(paths.serving_cert, paths.serving_key, ca_pem, user, now, 0.0, wanted):
        context = tls_context(ca_pem, paths.client_cert.read_bytes(), paths.client_key.read_bytes())
        key_pem, cert_pem = await _obtain(
            server_url, context, "", csrs.KUBELET_SERVING, SERVING_USAGES, user, wanted, deadline, timeout
        )
        _write_private(paths.serving_key, key_pem)
        _write_private(paths.serving_cert, cert_pem)
    return paths


def serving_names(node_name: str, node_addresses: list[str]) -> list[x509.GeneralName]:
    """The serving certificate's SANs: each address (IP or DNS name) and the node name."""
    names: list[x509.GeneralName] = []
    for entry in dict.fromkeys([*node_addresses, node_name]):
        if not entry:
            continue
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(entry)))
        except ValueError:
            names.append(x509.DNSName(entry))
    return names


# ---------------------------------------------------------------------- the CA
async def _verified_ca(server_url: str, token: bt.JoinToken, saved_ca: bytes) -> bytes:
    """The CA from cluster-info, checked against the token's pin (or the CA trusted before)."""
    client = Client(HTTPTransport(server_url, ssl_context=tls_context(insecure=True), user_agent=USER_AGENT))
    try:
        info = await client.resource("", "v1", "configmaps").namespace("kube-public").get("cluster-info")
    except StatusError as exc:
        raise TLSBootstrapError(f"kubelite: cannot read kube-public/cluster-info from {server_url} ({exc.code}): {exc}") from None
    except TransportError as exc:
        raise TLSBootstrapError(f"kubelite: cannot reach {server_url}: {exc}") from None
    finally:
        await client.close()
    try:
        config = yaml.safe_load((info.get("data") or {}).get("kubeconfig") or "") or {}
        ca_pem = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
        x509.load_pem_x509_certificate(ca_pem)
    except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise TLSBootstrapError(f"kubelite: {server_url} published no usable CA in kube-public/cluster-info ({exc})") from None
    found = bt.ca_hash(ca_pem)
    if token.ca_hash:
        if found != token.ca_hash:
            raise TLSBootstrapError(
                f"kubelite: the server's CA has sha256 {found}, but the join token pins {token.ca_hash}: "
                "refusing to trust this server"
            )
    elif saved_ca:
        if found != bt.ca_hash(saved_ca):
            raise TLSBootstrapError(
                f"kubelite: the server's CA has sha256 {found}, but the CA trusted before has sha256 {bt.ca_hash(saved_ca)}; "
                "use a K10 join token, or remove the saved ca.crt to trust the new CA"
            )
    else:
        print(
            f"kubelite: warning: the join token pins no CA; trusting the server's CA (sha256 {found}) on first use",
            file=sys.stderr,
            flush=True,
        )
    return ca_pem


# ---------------------------------------------------------------------- CSRs
async def _obtain(
    server_url: str,
    context: Any,
    bearer: str,
    signer: str,
    usages: list[str],
    user: str,
    sans: list[x509.GeneralName],
    deadline: float,
    timeout: float,
) -> tuple[bytes, bytes]:
    """(key PEM, certificate PEM) from a CSR created, then awaited, on the server."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, csrs.NODES_GROUP), x509.NameAttribute(NameOID.COMMON_NAME, user)])
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    request_pem = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    prefix = "node-csr" if signer == csrs.KUBELET_CLIENT else "node-serving"
    name = f"{prefix}-{hashlib.sha256(request_pem).hexdigest()[:20]}"
    body = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"request": base64.b64encode(request_pem).decode(), "signerName": signer, "usages": usages},
    }
    client = Client(HTTPTransport(server_url, token=bearer, ssl_context=context, user_agent=USER_AGENT))
    requests = client.resource("certificates.k8s.io", "v1", "certificatesigningrequests")
    try:
        try:
            await requests.create(body, field_manager="kubelite-agent")
        except StatusError as exc:
            if exc.code == 401:
                raise TLSBootstrapError(
                    "kubelite: the join token was rejected (401)" if bearer else "kubelite: the node's client certificate was rejected (401)"
                ) from None
            raise TLSBootstrapError(f"kubelite: cannot create the certificate signing request ({exc.code}): {exc}") from None
        cert_pem = await _await_certificate(requests, name, deadline, timeout)
    except TransportError as exc:
        raise TLSBootstrapError(f"kubelite: cannot reach {server_url}: {exc}") from None
    finally:
        await client.close()
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise TLSBootstrapError(f"kubelite: the certificate issued for {name} is unreadable: {exc}") from None
    if cert.public_key() != key.public_key():
        raise TLSBootstrapError(f"kubelite: the certificate issued for {name} is not for the key it was requested with")
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, cert_pem


async def _await_certificate(requests: Any, name: str, deadline: float, timeout: float) -> bytes:
    delay = POLL_FIRST
    while True:
        csr = await requests.get(name)
        for kind in (csrs.DENIED, csrs.FAILED):
            found = csrs.conditions_of(csr, kind)
            if found:
                why = found[0].get("message") or found[0].get("reason") or ""
                raise TLSBootstrapError(f"kubelite: the certificate signing request {name} was {kind.lower()}: {why}")
        issued = csrs.certificate_pem(csr)
        if issued:
            return issued
        left = deadline - time.monotonic()
        if left <= 0:
            state = "approved but not signed" if csrs.has_condition(csr, csrs.APPROVED) else "pending"
            raise TLSBootstrapError(
                f"kubelite: the certificate signing request {name} stayed {state} for {timeout:g}s "
                f"(approve it with `kubectl certificate approve {name}`, or check the controller manager)"
            )
        await asyncio.sleep(min(delay, left))
        delay = min(delay * 2, POLL_MAX)


# ---------------------------------------------------------------------- files
def _usable(
    cert_path: Path,
    key_path: Path,
    ca_pem: bytes,
    user: str,
    now: float,
    renew_fraction: float,
    wanted_sans: list[x509.GeneralName] | None = None,
) -> bool:
    """Whether a saved certificate and key still serve: readable, a pair, issued by the CA to
    `user`, in its validity with more than `renew_fraction` of its life left, covering the SANs."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        ca = x509.load_pem_x509_certificate(ca_pem)
        cert.verify_directly_issued_by(ca)
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    if cert.public_key() != key.public_key():
        return False
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not common or common[0].value != user:
        return False
    start, end = cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()
    if now < start or now >= end - renew_fraction * (end - start):
        return False
    if wanted_sans:
        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return False
        if any(name not in sans for name in wanted_sans):
            return False
    return True


def expires_at(cert_path: Path) -> datetime.datetime:
    """When a saved certificate expires (for the agent's logs)."""
    return x509.load_pem_x509_certificate(cert_path.read_bytes()).not_valid_after_utc


def _write_private(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        os.chmod(path, 0o600)
        return
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_kubeconfig(paths: NodeCredentials, server_url: str, user: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default", "cluster": {"server": server_url, "certificate-authority": str(paths.ca_cert.resolve())}}],
        "users": [
            {"name": user, "user": {"client-certificate": str(paths.client_cert.resolve()), "client-key": str(paths.client_key.resolve())}}
        ],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": user}}],
        "current-context": "default",
        "preferences": {},
    }
    _write_private(paths.kubeconfig, yaml.safe_dump(config, sort_keys=False).encode())
