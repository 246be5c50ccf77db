"""Bootstrap-token authentication, as upstream's: a bearer `<id>.<secret>` names the Secret
kube-system/bootstrap-token-<id> of type bootstrap.kubernetes.io/token; when that Secret is not
being deleted, allows authentication, has not expired and holds the same secret (compared in
constant time), the caller is system:bootstrap:<id> in system:bootstrappers, the Secret's
auth-extra-groups and system:authenticated. Anything else is not a bootstrap token (None), so
the request ends as 401.

Must not create, change or delete tokens (`kubelite token` does, through the API).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

from kubelite.api import bootstraptoken as bt
from kubelite.registry.context import UserInfo
from kubelite.registry.registry import Registry


class BootstrapTokenAuthenticator:
    """`verify` is an Authenticator verifier. Decoded Secret data is cached per resourceVersion."""

    def __init__(self, registry: Registry, clock: Callable[[], float] = time.time):
        self.registry = registry
        self.clock = clock
        self._decoded: dict[str, tuple[str, dict[str, str]]] = {}  # token id -> (resourceVersion, data)

    def verify(self, token: str) -> UserInfo | None:
        match = bt.TOKEN_PATTERN.match(token)
        if match is None:
            return None
        token_id, token_secret = match.group(1), match.group(2)
        store = self.registry.store("", "v1", "secrets")
        if store is None:
            return None
        secret = store.cache.get(bt.SECRET_NAMESPACE, bt.secret_name(token_id))
        if secret is None:
            self._decoded.pop(token_id, None)
            return None
        data = self._data(token_id, secret)
        if (
            secret.get("type") != bt.SECRET_TYPE
            or secret["metadata"].get("deletionTimestamp")
            or data.get("token-id") != token_id
            or data.get(bt.USAGE_AUTHENTICATION) != "true"
            or bt.expired(data, self.clock())
        ):
            return None
        if not hmac.compare_digest(data.get("token-secret", "").encode(), token_secret.encode()):
            return None
        groups = bt.extra_groups(data)
        if groups is None:
            return None
        return UserInfo(
            bt.USER_PREFIX + token_id,
            (bt.BOOTSTRAPPERS_GROUP, *(g for g in groups if g != bt.BOOTSTRAPPERS_GROUP), "system:authenticated"),
        )

    def _data(self, token_id: str, secret: dict[str, Any]) -> dict[str, str]:
        version = str(secret["metadata"].get("resourceVersion", ""))
        cached = self._decoded.get(token_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        data = bt.secret_data(secret)
        self._decoded[token_id] = (version, data)
        return data
