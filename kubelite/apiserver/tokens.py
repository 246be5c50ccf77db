"""Service account tokens: the TokenRequest API issues ES256-signed JWTs bound to a service account
(and optionally a pod or secret), and the authenticator accepts them while the account (and the
bound object) still exists with the same uid.

Must not store tokens: they are verified by signature and claims alone, as upstream's are.
"""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from kubelite.api import errors
from kubelite.registry.context import UserInfo
from kubelite.registry.registry import Registry

ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_AUDIENCES = [ISSUER, "k3s"]
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 2**32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return key


class TokenIssuer:
    def __init__(self, key: ec.EllipticCurvePrivateKey, registry: Registry):
        self.key = key
        self.public = key.public_key()
        self.registry = registry
        digest = hashes.Hash(hashes.SHA256())
        digest.update(self.public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        self.key_id = _b64(digest.finalize())

    # ------------------------------------------------------------------ issuing
    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "ES256", "kid": self.key_id}
        signing_input = _b64(orjson.dumps(header)) + "." + _b64(orjson.dumps(claims))
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def token_request(self, service_account: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        spec = (request or {}).get("spec") or {}
        expiration = spec.get("expirationSeconds") or DEFAULT_EXPIRATION
        if not isinstance(expiration, int) or expiration < MIN_EXPIRATION or expiration > MAX_EXPIRATION:
            raise errors.invalid(
                "TokenRequest",
                "authentication.k8s.io",
                service_account["metadata"]["name"],
                [errors.cause("spec.expirationSeconds", "may not specify a duration less than 10 minutes")],
            )
        audiences = spec.get("audiences") or DEFAULT_AUDIENCES
        meta = service_account["metadata"]
        now = int(time.time())
        kube: dict[str, Any] = {
            "namespace": meta["namespace"],
            "serviceaccount": {"name": meta["name"], "uid": meta["uid"]},
        }
        bound = spec.get("boundObjectRef")
        if bound:
            kube[bound.get("kind", "").lower()] = {"name": bound.get("name", ""), "uid": bound.get("uid", "")}
        claims = {
            "aud": audiences,
            "exp": now + expiration,
            "iat": now,
            "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": kube,
            "nbf": now,
            "sub": f"system:serviceaccount:{meta['namespace']}:{meta['name']}",
        }
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + expiration))
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "creationTimestamp": None},
            "spec": {"audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": bound},
            "status": {"token": self.sign(claims), "expirationTimestamp": expires},
        }

    # ------------------------------------------------------------------ verifying
    def verify(self, token: str) -> UserInfo | None:
        """The service account a token names, if the signature, times and bound objects check out."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = orjson.loads(_unb64(parts[0]))
            if header.get("alg") != "ES256":
                return None
            raw = _unb64(parts[2])
            if len(raw) != 64:
                return None
            signature = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            self.public.verify(signature, (parts[0] + "." + parts[1]).encode(), ec.ECDSA(hashes.SHA256()))
            claims = orjson.loads(_unb64(parts[1]))
        except (InvalidSignature, ValueError, orjson.JSONDecodeError):
            return None
        now = time.time()
        if claims.get("iss") != ISSUER or claims.get("exp", 0) < now or claims.get("nbf", 0) > now + 60:
            return None
        kube = claims.get("kubernetes.io") or {}
        namespace = kube.get("namespace", "")
        account = kube.get("serviceaccount") or {}
        store = self.registry.store("", "v1", "serviceaccounts")
        if store is None:
            return None
        current = store.cache.get(namespace, account.get("name", ""))
        if current is None or current["metadata"].get("uid") != account.get("uid"):
            return None
        for kind, resource in (("pod", "pods"), ("secret", "secrets")):
            ref = kube.get(kind)
            if ref:
                bound_store = self.registry.store("", "v1", resource)
                obj = bound_store.cache.get(namespace, ref.get("name", "")) if bound_store else None
                if obj is None or obj["metadata"].get("uid") != ref.get("uid"):
                    return None
        return UserInfo(
            f"system:serviceaccount:{namespace}:{account.get('name', '')}",
            ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
            uid=account.get("uid", ""),
        )
