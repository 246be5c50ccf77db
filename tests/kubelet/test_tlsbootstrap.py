"""The TLS bootstrap library without a server: saved credentials are reused while good (and
not once the client certificate nears its end), serving SANs, and the waiting on a CSR."""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubelite.api import bootstraptoken as bt
from kubelite.kubelet import tlsbootstrap
from kubelite.kubelet.tlsbootstrap import (
    TLSBootstrapError,
    bootstrap_credentials,
    credential_paths,
    serving_names,
)
from tests.api.csrfake import make_ca

UNREACHABLE = "https://127.0.0.1:1"
NODE = "node-x"


def _issue(
    ca_pem: str, ca_key_pem: str, cn: str, *, days_left: float, days_lived: float = 1.0, sans: tuple[str, ...] = ()
) -> tuple[bytes, bytes]:
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    ca_key = serialization.load_pem_private_key(ca_key_pem.encode(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=days_lived))
        .not_valid_after(now + datetime.timedelta(days=days_left))
    )
    names: list[x509.GeneralName] = []
    for entry in sans:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(entry)))
        except ValueError:
            names.append(x509.DNSName(entry))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _saved(directory: Path, *, client_days_left: float, client_days_lived: float = 1.0) -> tuple[str, str]:
    ca_pem, ca_key = make_ca()
    paths = credential_paths(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths.ca_cert.write_bytes(ca_pem.encode())
    cert, key = _issue(ca_pem, ca_key, f"system:node:{NODE}", days_left=client_days_left, days_lived=client_days_lived)
    paths.client_cert.write_bytes(cert)
    paths.client_key.write_bytes(key)
    cert, key = _issue(ca_pem, ca_key, f"system:node:{NODE}", days_left=300, sans=("10.1.2.3", NODE))
    paths.serving_cert.write_bytes(cert)
    paths.serving_key.write_bytes(key)
    return ca_pem, bt.join_token(ca_pem.encode(), "abcdef", "0123456789abcdef")


async def test_good_saved_credentials_are_reused_without_the_server(tmp_path: Path) -> None:
    _ca, token = _saved(tmp_path, client_days_left=300)
    creds = await bootstrap_credentials(UNREACHABLE, token, NODE, ["10.1.2.3"], tmp_path, timeout=2)
    assert creds == credential_paths(tmp_path)
    assert os.stat(creds.kubeconfig).st_mode & 0o777 == 0o600
    assert "https://127.0.0.1:1" in creds.kubeconfig.read_text()


async def test_a_client_certificate_in_its_last_tenth_is_not_reused(tmp_path: Path) -> None:
    _ca, token = _saved(tmp_path, client_days_left=5, client_days_lived=95)  # 5% of its life left
    with pytest.raises(TLSBootstrapError, match="cannot reach https://127.0.0.1:1"):
        await bootstrap_credentials(UNREACHABLE, token, NODE, ["10.1.2.3"], tmp_path, timeout=2)


async def test_credentials_for_another_ca_or_node_are_not_reused(tmp_path: Path) -> None:
    _saved(tmp_path, client_days_left=300)
    other_pin = bt.join_token(b"another CA", "abcdef", "0123456789abcdef")
    with pytest.raises(TLSBootstrapError, match="cannot reach"):
        await bootstrap_credentials(UNREACHABLE, other_pin, NODE, ["10.1.2.3"], tmp_path, timeout=2)
    _ca, token = _saved(tmp_path / "b", client_days_left=300)
    with pytest.raises(TLSBootstrapError, match="cannot reach"):
        await bootstrap_credentials(UNREACHABLE, token, "another-node", [], tmp_path / "b", timeout=2)


async def test_a_serving_certificate_missing_an_address_is_requested_again(tmp_path: Path) -> None:
    _ca, token = _saved(tmp_path, client_days_left=300)
    with pytest.raises(TLSBootstrapError, match="cannot reach"):
        await bootstrap_credentials(UNREACHABLE, token, NODE, ["10.1.2.3", "10.9.9.9"], tmp_path, timeout=2)


async def test_invalid_join_tokens_are_reported(tmp_path: Path) -> None:
    with pytest.raises(TLSBootstrapError, match="invalid join token"):
        await bootstrap_credentials(UNREACHABLE, "not-a-token", NODE, [], tmp_path, timeout=2)


def test_serving_names_are_ips_and_dns_names_once() -> None:
    names = serving_names("node-x", ["10.0.0.1", "node-x", "fd00::1", "node-x.example"])
    assert names == [
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
        x509.DNSName("node-x"),
        x509.IPAddress(ipaddress.ip_address("fd00::1")),
        x509.DNSName("node-x.example"),
    ]


class FakeRequests:
    def __init__(self, *answers: dict[str, Any]):
        self.answers = list(answers)

    async def get(self, name: str) -> dict[str, Any]:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def test_waiting_ends_with_the_certificate_or_says_why_not() -> None:
    import base64
    import time

    issued = {"status": {"conditions": [{"type": "Approved"}], "certificate": base64.b64encode(b"PEM").decode()}}
    got = await tlsbootstrap._await_certificate(FakeRequests({}, {}, issued), "c1", time.monotonic() + 5, 5)
    assert got == b"PEM"
    with pytest.raises(TLSBootstrapError, match=r"c2 stayed pending for 0.3s .*kubectl certificate approve c2"):
        await tlsbootstrap._await_certificate(FakeRequests({}), "c2", time.monotonic() + 0.3, 0.3)
    approved_only = {"status": {"conditions": [{"type": "Approved"}]}}
    with pytest.raises(TLSBootstrapError, match="c3 stayed approved but not signed"):
        await tlsbootstrap._await_certificate(FakeRequests(approved_only), "c3", time.monotonic() + 0.2, 0.2)
    denied = {"status": {"conditions": [{"type": "Denied", "reason": "Nope", "message": "not this node"}]}}
    with pytest.raises(TLSBootstrapError, match="c4 was denied: not this node"):
        await tlsbootstrap._await_certificate(FakeRequests(denied), "c4", time.monotonic() + 5, 5)
