"""The fallback certificate nginx presents for HTTPS hosts without a usable TLS Secret (and on the
default server), as ingress-nginx's "Kubernetes Ingress Controller Fake Certificate": a
self-signed P-256 certificate for `ingress.local`, kept in one PEM file (certificate then key,
mode 0600) and made again when missing, unreadable or close to expiry.

Must not know about Ingresses or nginx.conf; must not touch any file but the one it is given.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FAKE_COMMON_NAME = "Kubernetes Ingress Controller Fake Certificate"
FAKE_ORGANIZATION = "Acme Co"
FAKE_DNS_NAME = "ingress.local"
VALIDITY = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=30)


def fake_certificate_pem(now: datetime.datetime | None = None) -> bytes:
    moment = now or datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, FAKE_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, FAKE_COMMON_NAME),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - datetime.timedelta(minutes=5))
        .not_valid_after(moment + VALIDITY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(FAKE_DNS_NAME)]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM) + key_pem


def _still_good(path: Path, now: datetime.datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return False
    return cert.not_valid_after_utc - RENEW_BEFORE > now


def write_private(path: Path, content: bytes) -> None:
    """Write `content` to `path` readable by its owner only (atomically: a temp file renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, content)
    finally:
        os.close(fd)
    os.replace(temp, path)


def ensure_fake_certificate(path: Path, now: datetime.datetime | None = None) -> bool:
    """Make the fallback certificate file unless a good one is there; True when it was made."""
    moment = now or datetime.datetime.now(datetime.UTC)
    if _still_good(path, moment):
        return False
    write_private(path, fake_certificate_pem(moment))
    return True
