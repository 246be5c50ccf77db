"""CertificateSigningRequest helpers on plain dicts: the well-known signer names, condition
lookups, decoding spec.request (base64 of a PEM PKCS#10 request) and status.certificate, and
the shape checks upstream applies to kubelet client and serving requests.

Must not sign, approve or store anything; it only reads requests.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"

APPROVED = "Approved"
DENIED = "Denied"
FAILED = "Failed"

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"

CLIENT_AUTH = "client auth"
SERVER_AUTH = "server auth"
DIGITAL_SIGNATURE = "digital signature"
KEY_ENCIPHERMENT = "key encipherment"
KUBELET_CLIENT_USAGES = frozenset({CLIENT_AUTH, DIGITAL_SIGNATURE, KEY_ENCIPHERMENT})
KUBELET_SERVING_USAGES = frozenset({SERVER_AUTH, DIGITAL_SIGNATURE, KEY_ENCIPHERMENT})

VALID_USAGES = (
    "any",
    "cert sign",
    "client auth",
    "code signing",
    "content commitment",
    "crl sign",
    "data encipherment",
    "decipher only",
    "digital signature",
    "email protection",
    "encipher only",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "key agreement",
    "key encipherment",
    "microsoft sgc",
    "netscape sgc",
    "ocsp signing",
    "s/mime",
    "server auth",
    "signing",
    "timestamping",
)

Obj = dict[str, Any]


def conditions_of(csr: Obj, condition_type: str) -> list[Obj]:
    return [c for c in ((csr.get("status") or {}).get("conditions") or []) if c.get("type") == condition_type]


def has_condition(csr: Obj, condition_type: str) -> bool:
    return bool(conditions_of(csr, condition_type))


def certificate_pem(csr: Obj) -> bytes:
    """status.certificate decoded (empty when not issued)."""
    encoded = (csr.get("status") or {}).get("certificate") or ""
    return base64.b64decode(encoded) if encoded else b""


def request_pem(csr: Obj) -> bytes:
    return base64.b64decode((csr.get("spec") or {}).get("request") or "", validate=True)


def parse_request(csr: Obj) -> x509.CertificateSigningRequest:
    """spec.request as a PKCS#10 request whose signature checks out (ValueError otherwise)."""
    try:
        pem = request_pem(csr)
    except (ValueError, TypeError) as exc:
        raise ValueError("the request is not base64") from exc
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    try:
        request = x509.load_pem_x509_csr(pem)
    except ValueError as exc:
        raise ValueError(f"x509: malformed certificate request: {exc}") from exc
    if not request.is_signature_valid:
        raise ValueError("x509: signature of the certificate request does not verify")
    return request


@dataclass(frozen=True, slots=True)
class RequestSubject:
    common_name: str
    organizations: tuple[str, ...]
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    emails: tuple[str, ...]
    uris: tuple[str, ...]


def subject_of(request: x509.CertificateSigningRequest) -> RequestSubject:
    names = request.subject
    common = [str(a.value) for a in names.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = tuple(str(a.value) for a in names.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    try:
        sans = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return RequestSubject(common[0] if common else "", orgs, (), (), (), ())
    return RequestSubject(
        common[0] if common else "",
        orgs,
        tuple(sans.get_values_for_type(x509.DNSName)),
        tuple(str(ip) for ip in sans.get_values_for_type(x509.IPAddress)),
        tuple(sans.get_values_for_type(x509.RFC822Name)),
        tuple(sans.get_values_for_type(x509.UniformResourceIdentifier)),
    )


def kubelet_client_problem(subject: RequestSubject, usages: list[str]) -> str:
    """Why a request is not a kubelet client certificate request ("" when it is one)."""
    if subject.organizations != (NODES_GROUP,):
        return f"subject organization is not {NODES_GROUP}"
    if not subject.common_name.startswith(NODE_USER_PREFIX) or subject.common_name == NODE_USER_PREFIX:
        return f'subject common name does not begin with "{NODE_USER_PREFIX}"'
    if subject.dns_names or subject.ip_addresses or subject.emails or subject.uris:
        return "subject alternative names are not allowed"
    return _usage_problem(usages, CLIENT_AUTH, KUBELET_CLIENT_USAGES)


def kubelet_serving_problem(subject: RequestSubject, usages: list[str]) -> str:
    """Why a request is not a kubelet serving certificate request ("" when it is one)."""
    if subject.organizations != (NODES_GROUP,):
        return f"subject organization is not {NODES_GROUP}"
    if not subject.common_name.startswith(NODE_USER_PREFIX) or subject.common_name == NODE_USER_PREFIX:
        return f'subject common name does not begin with "{NODE_USER_PREFIX}"'
    if subject.emails or subject.uris:
        return "email and URI subject alternative names are not allowed"
    if not subject.dns_names and not subject.ip_addresses:
        return "DNS or IP subjectAltName is required"
    return _usage_problem(usages, SERVER_AUTH, KUBELET_SERVING_USAGES)


def _usage_problem(usages: list[str], required: str, allowed: frozenset[str]) -> str:
    if required not in usages:
        return f"usages do not include {required!r}"
    extra = sorted(set(usages) - allowed)
    if extra:
        return f"usages {extra} are not allowed"
    return ""
