"""Authentication: bearer tokens and verified client certificates become a UserInfo; anything
else is anonymous (allowed only on the public health and version endpoints, as upstream's
system:public-info-viewer role allows).

Must not decide what a user may do with objects (authorization is a later layer).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from kubelite.registry.context import UserInfo

PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")


class Authenticator:
    def __init__(self, tokens: dict[str, UserInfo], verifiers: list[Callable[[str], UserInfo | None]] | None = None):
        self._tokens = dict(tokens)
        self._verifiers = list(verifiers or [])

    def add_token(self, token: str, user: UserInfo) -> None:
        self._tokens[token] = user

    def from_token(self, token: str) -> UserInfo | None:
        for known, user in self._tokens.items():
            if hmac.compare_digest(known, token):
                return user
        for verify in self._verifiers:
            found = verify(token)
            if found is not None:
                return found
        return None

    @staticmethod
    def from_peer_certificate(peercert: dict[str, Any] | None) -> UserInfo | None:
        """`ssl.SSLSocket.getpeercert()` of a certificate the TLS layer verified against our CA."""
        if not peercert:
            return None
        common_name = ""
        groups: list[str] = []
        for rdn in peercert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    common_name = value
                elif key == "organizationName":
                    groups.extend(g for g in value.split(",") if g)
        if not common_name:
            return None
        return UserInfo(common_name, tuple(groups) + ("system:authenticated",))


def is_public(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PUBLIC_PATHS)
