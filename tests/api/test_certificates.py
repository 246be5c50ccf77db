"""CSR helpers: request decoding with signature checks, and the kubelet request shapes."""

from __future__ import annotations

import base64

import pytest

from kubelite.api import certificates as csrs
from tests.api.csrfake import csr_object, request_pem


def test_parse_request_reads_subject_and_sans() -> None:
    csr = csr_object("x", request_pem("system:node:a", dns=("a.local",), ips=("10.0.0.5",)))
    subject = csrs.subject_of(csrs.parse_request(csr))
    assert subject.common_name == "system:node:a"
    assert subject.organizations == ("system:nodes",)
    assert subject.dns_names == ("a.local",) and subject.ip_addresses == ("10.0.0.5",)


def test_parse_request_refuses_other_pem_and_bad_signatures() -> None:
    with pytest.raises(ValueError, match="CERTIFICATE REQUEST"):
        csrs.parse_request({"spec": {"request": base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()}})
    with pytest.raises(ValueError, match="base64"):
        csrs.parse_request({"spec": {"request": "%%%"}})
    pem = request_pem("system:node:a")
    lines = pem.split(b"\n")
    body = bytearray(base64.b64decode(b"".join(lines[1:-2])))
    body[-3] ^= 0x01  # inside the signature
    encoded = base64.b64encode(bytes(body))
    tampered = b"-----BEGIN CERTIFICATE REQUEST-----\n" + encoded + b"\n-----END CERTIFICATE REQUEST-----\n"
    with pytest.raises(ValueError):
        csrs.parse_request({"spec": {"request": base64.b64encode(tampered).decode()}})


def _subject(cn: str, orgs: tuple[str, ...] = ("system:nodes",), dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()) -> csrs.RequestSubject:
    return csrs.subject_of(csrs.parse_request(csr_object("x", request_pem(cn, orgs, dns, ips))))


def test_kubelet_client_shape() -> None:
    ok = _subject("system:node:a")
    assert csrs.kubelet_client_problem(ok, ["client auth", "digital signature", "key encipherment"]) == ""
    assert csrs.kubelet_client_problem(ok, ["client auth"]) == ""
    assert "server auth" in csrs.kubelet_client_problem(ok, ["client auth", "server auth"])
    assert "client auth" in csrs.kubelet_client_problem(ok, ["digital signature"])
    assert csrs.kubelet_client_problem(_subject("system:node:a", ("system:masters",)), ["client auth"])
    assert csrs.kubelet_client_problem(_subject("admin"), ["client auth"])
    assert csrs.kubelet_client_problem(_subject("system:node:a", dns=("a",)), ["client auth"])


def test_kubelet_serving_shape() -> None:
    ok = _subject("system:node:a", dns=("a",), ips=("10.0.0.5",))
    assert csrs.kubelet_serving_problem(ok, ["server auth", "digital signature"]) == ""
    assert csrs.kubelet_serving_problem(_subject("system:node:a"), ["server auth"]) == "DNS or IP subjectAltName is required"
    assert csrs.kubelet_serving_problem(ok, ["client auth", "server auth"])
