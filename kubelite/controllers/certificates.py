"""The CSR controllers of the controller manager: the approver (upstream's csrapproving, with
kubelite's rules) and the signer (upstream's csrsigning, with the cluster CA).

Approver: a pending request for kubernetes.io/kube-apiserver-client-kubelet shaped as a kubelet
client certificate (CN system:node:<name>, O system:nodes, no SANs, client auth plus at most
digital signature and key encipherment) is approved when its requester is a bootstrapper
(group system:bootstrappers) or that same node renewing; a kubernetes.io/kubelet-serving
request from system:node:<name> for its own name with DNS/IP SANs and server auth is approved
too (k3s-like convenience; upstream leaves those to an admin). Anything else stays pending.

Signer: an Approved request of the three kubernetes.io signers without a certificate gets one
from the cluster CA (spec.expirationSeconds honoured, at least 10 minutes, at most and by
default one year), or a Failed condition when the request does not suit its signer.

Must not deny requests (upstream's approver never does) nor change anything but the approval
conditions and the status.
"""

from __future__ import annotations

import base64
import copy
import datetime
import logging
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from kubelite.api import certificates as csrs
from kubelite.api.errors import StatusError
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller

log = logging.getLogger(__name__)

Obj = dict[str, Any]

GROUP, VERSION, RESOURCE = "certificates.k8s.io", "v1", "certificatesigningrequests"
MANAGER = "kube-controller-manager"
BOOTSTRAPPERS_GROUP = "system:bootstrappers"
AUTO_APPROVED = "AutoApproved"
SIGNER_VALIDATION_FAILURE = "SignerValidationFailure"
NODE_CLIENT_MESSAGE = "Auto approving kubelet client certificate after SubjectAccessReview."
SELF_NODE_CLIENT_MESSAGE = "Auto approving self kubelet client certificate after SubjectAccessReview."
SERVING_MESSAGE = "Auto approving kubelet serving certificate of the requesting node."

MIN_DURATION = 600.0
MAX_DURATION = 365 * 24 * 3600.0  # upstream's --cluster-signing-duration default
BACKDATE = 300.0  # upstream backdates notBefore by five minutes for clock skew
SIGNABLE = (csrs.KUBE_APISERVER_CLIENT, csrs.KUBELET_CLIENT, csrs.KUBELET_SERVING)
API_CLIENT_USAGES = frozenset({csrs.CLIENT_AUTH, csrs.DIGITAL_SIGNATURE, csrs.KEY_ENCIPHERMENT})

_EXTENDED_USAGES = {
    "any": x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
}
_KEY_USAGE_FLAGS = {
    "signing": "digital_signature",
    "digital signature": "digital_signature",
    "content commitment": "content_commitment",
    "key encipherment": "key_encipherment",
    "key agreement": "key_agreement",
    "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign",
    "crl sign": "crl_sign",
    "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}


class SigningError(Exception):
    """The request does not suit its signer (the CSR gets a Failed condition)."""


# ---------------------------------------------------------------------- rules
def pending(csr: Obj) -> bool:
    return not (
        csrs.has_condition(csr, csrs.APPROVED)
        or csrs.has_condition(csr, csrs.DENIED)
        or csrs.has_condition(csr, csrs.FAILED)
        or (csr.get("status") or {}).get("certificate")
    )


def approval_message(csr: Obj) -> str:
    """The AutoApproved message when kubelite approves this request by itself, else ""."""
    spec = csr.get("spec") or {}
    signer = spec.get("signerName")
    if signer not in (csrs.KUBELET_CLIENT, csrs.KUBELET_SERVING):
        return ""
    try:
        subject = csrs.subject_of(csrs.parse_request(csr))
    except ValueError:
        return ""
    usages = list(spec.get("usages") or [])
    username = spec.get("username") or ""
    groups = spec.get("groups") or []
    if signer == csrs.KUBELET_CLIENT:
        if csrs.kubelet_client_problem(subject, usages):
            return ""
        if username == subject.common_name:
            return SELF_NODE_CLIENT_MESSAGE
        return NODE_CLIENT_MESSAGE if BOOTSTRAPPERS_GROUP in groups else ""
    if csrs.kubelet_serving_problem(subject, usages) or username != subject.common_name or csrs.NODES_GROUP not in groups:
        return ""
    return SERVING_MESSAGE


def signer_problem(signer: str, request: x509.CertificateSigningRequest, usages: list[str]) -> str:
    """Why the signer refuses a request ("" when it signs it)."""
    subject = csrs.subject_of(request)
    if signer == csrs.KUBELET_CLIENT:
        return csrs.kubelet_client_problem(subject, usages)
    if signer == csrs.KUBELET_SERVING:
        return csrs.kubelet_serving_problem(subject, usages)
    if csrs.CLIENT_AUTH not in usages:
        return "usages do not include 'client auth'"
    extra = sorted(set(usages) - API_CLIENT_USAGES)
    return f"usages {extra} are not allowed" if extra else ""


def duration_of(csr: Obj) -> float:
    requested = (csr.get("spec") or {}).get("expirationSeconds")
    if not isinstance(requested, int) or isinstance(requested, bool):
        return MAX_DURATION
    return min(max(float(requested), MIN_DURATION), MAX_DURATION)


def sign_request(csr: Obj, ca_cert: x509.Certificate, ca_key: Any, now: float) -> bytes:
    """The PEM certificate the signer issues for an approved CSR (SigningError when it may not)."""
    spec = csr.get("spec") or {}
    signer = spec.get("signerName") or ""
    usages = list(spec.get("usages") or [])
    try:
        request = csrs.parse_request(csr)
    except ValueError as exc:
        raise SigningError(str(exc)) from exc
    problem = signer_problem(signer, request, usages)
    if problem:
        raise SigningError(f"invalid request for signer {signer}: {problem}")
    public_key = request.public_key()
    if not isinstance(public_key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey)):
        raise SigningError("only ECDSA and RSA keys are signed")
    start = datetime.datetime.fromtimestamp(now - BACKDATE, datetime.UTC)
    end = min(datetime.datetime.fromtimestamp(now + duration_of(csr), datetime.UTC), ca_cert.not_valid_after_utc)
    flags = {flag: False for flag in set(_KEY_USAGE_FLAGS.values())}
    for usage in usages:
        if usage in _KEY_USAGE_FLAGS:
            flags[_KEY_USAGE_FLAGS[usage]] = True
    builder = (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if any(flags.values()):
        builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
    extended = [_EXTENDED_USAGES[u] for u in dict.fromkeys(usages) if u in _EXTENDED_USAGES]
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
    try:
        sans = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        builder = builder.add_extension(sans, critical=False)
    except x509.ExtensionNotFound:
        pass
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _condition(kind: str, reason: str, message: str, now: float) -> Obj:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return {"type": kind, "status": "True", "reason": reason, "message": message, "lastUpdateTime": stamp, "lastTransitionTime": stamp}


# ---------------------------------------------------------------------- controllers
class _CSRController(Controller):
    def __init__(self, client: Client, *, name: str, workers: int, clock: Clock | None):
        super().__init__(client, name=name, workers=workers, clock=clock)
        self.csr_informer = self.informer(GROUP, VERSION, RESOURCE)
        self.csr_informer.add_handler(self._changed, lambda _old, new: self._changed(new))
        self.csrs = client.resource(GROUP, VERSION, RESOURCE)

    def _changed(self, csr: Obj) -> None:
        if self.wants(csr):
            self.enqueue(csr)

    def wants(self, csr: Obj) -> bool:
        raise NotImplementedError

    def current(self, key: str) -> Obj | None:
        csr = self.csr_informer.cache.get(key)
        return copy.deepcopy(csr) if csr is not None and self.wants(csr) else None


class CSRApprovingController(_CSRController):
    def __init__(self, client: Client, *, workers: int = 1, clock: Clock | None = None):
        super().__init__(client, name="csrapproving", workers=workers, clock=clock)

    def wants(self, csr: Obj) -> bool:
        return pending(csr)

    async def sync(self, key: str) -> None:
        csr = self.current(key)
        if csr is None:
            return
        message = approval_message(csr)
        if not message:
            return
        status = csr.setdefault("status", {})
        status["conditions"] = [*(status.get("conditions") or []), _condition(csrs.APPROVED, AUTO_APPROVED, message, self.clock.time())]
        try:
            await self.csrs.update(csr, field_manager=MANAGER, subresource="approval")
        except StatusError as err:
            if err.code != 404:
                raise


class CSRSigningController(_CSRController):
    def __init__(self, client: Client, ca_pem: str, ca_key_pem: str, *, workers: int = 1, clock: Clock | None = None):
        super().__init__(client, name="csrsigning", workers=workers, clock=clock)
        self.ca_cert = x509.load_pem_x509_certificate(ca_pem.encode())
        self.ca_key = serialization.load_pem_private_key(ca_key_pem.encode(), None)

    def wants(self, csr: Obj) -> bool:
        return (
            (csr.get("spec") or {}).get("signerName") in SIGNABLE
            and csrs.has_condition(csr, csrs.APPROVED)
            and not csrs.has_condition(csr, csrs.DENIED)
            and not csrs.has_condition(csr, csrs.FAILED)
            and not (csr.get("status") or {}).get("certificate")
        )

    async def sync(self, key: str) -> None:
        csr = self.current(key)
        if csr is None:
            return
        now = self.clock.time()
        status = csr.setdefault("status", {})
        try:
            status["certificate"] = base64.b64encode(sign_request(csr, self.ca_cert, self.ca_key, now)).decode()
        except SigningError as exc:
            log.info("csrsigning: %s: %s", key, exc)
            status["conditions"] = [*(status.get("conditions") or []), _condition(csrs.FAILED, SIGNER_VALIDATION_FAILURE, str(exc), now)]
        try:
            await self.csrs.update_status(csr, field_manager=MANAGER)
        except StatusError as err:
            if err.code != 404:
                raise


def certificate_controllers(client: Client, ca_pem: str, ca_key_pem: str) -> list[Controller]:
    """The approver and the signer, for the controller manager."""
    return [CSRApprovingController(client), CSRSigningController(client, ca_pem, ca_key_pem)]
