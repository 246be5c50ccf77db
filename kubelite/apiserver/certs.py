"""The cluster's PKI under the data dir: a CA, the API server's serving certificate, and the admin
client certificate. Created once, reused on later starts (the serving certificate is renewed when
its SANs no longer cover this host).

Must not configure servers or clients; it only makes and loads files.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY_DAYS = 3650


@dataclass(frozen=True)
class ClusterPKI:
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
    )


def serving_sans(service_ip: str = "10.43.0.1", extra_ips: Sequence[str] = ()) -> list[x509.GeneralName]:
    hostname = socket.gethostname()
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.DNSName("kubernetes"),
        x509.DNSName("kubernetes.default"),
        x509.DNSName("kubernetes.default.svc"),
        x509.DNSName("kubernetes.default.svc.cluster.local"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address(service_ip)),
    ]
    for address in dict.fromkeys(extra_ips):  # the addresses agents on other machines reach it at
        ip = x509.IPAddress(ipaddress.ip_address(address))
        if ip not in names:
            names.append(ip)
    if hostname and hostname != "localhost":
        names.append(x509.DNSName(hostname))
    return names


def ensure_pki(directory: Path, extra_ips: Sequence[str] = ()) -> ClusterPKI:
    """Create (or load) the CA, serving and admin certificates in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = ClusterPKI(
        directory / "ca.crt",
        directory / "ca.key",
        directory / "serving.crt",
        directory / "serving.key",
        directory / "admin.crt",
        directory / "admin.key",
    )
    if pki.ca_cert.exists() and pki.ca_key.exists():
        ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name("kubelite-ca")
        ca_cert = (
            _builder(ca_name, ca_name, ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(pki.ca_key, _key_pem(ca_key))  # type: ignore[arg-type]
        pki.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        for stale in (pki.serving_cert, pki.admin_cert):
            stale.unlink(missing_ok=True)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    wanted = serving_sans(extra_ips=extra_ips)
    if not _covers(pki.serving_cert, wanted):
        _issue(pki.serving_cert, pki.serving_key, ca_cert, ca_key, _name("kube-apiserver"), wanted, server=True)
    if not pki.admin_cert.exists():
        _issue(pki.admin_cert, pki.admin_key, ca_cert, ca_key, _name("kubelite-admin", "system:masters"), [], server=False)
    return pki


def _covers(cert_path: Path, wanted: list[x509.GeneralName]) -> bool:
    if not cert_path.exists():
        return False
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return all(name in sans for name in wanted)


def issue_client_certificate(pki: ClusterPKI, user: str, groups: list[str], cert_path: Path, key_path: Path) -> None:
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    _issue(cert_path, key_path, ca_cert, ca_key, _name(user, ",".join(groups) if groups else None), [], server=False)


def issue_serving_certificate(
    pki: ClusterPKI, common_name: str, ips: list[str], dns_names: list[str], cert_path: Path, key_path: Path
) -> None:
    """A serving certificate from the cluster CA (a kubelet's, for its node IP and hostname)."""
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in dict.fromkeys(ips)]
    sans += [x509.DNSName(name) for name in dict.fromkeys(dns_names)]
    _issue(cert_path, key_path, ca_cert, ca_key, _name(common_name, "system:nodes"), sans, server=True)


def _issue(
    cert_path: Path,
    key_path: Path,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    sans: list[x509.GeneralName],
    server: bool,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(subject, ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
