"""Bootstrap tokens and join tokens, as plain data: the `<id>.<secret>` token format, the
kube-system Secret that stores one (upstream's bootstrap.kubernetes.io/token layout), the user a
token authenticates as, and the join token `K10<sha256 of the CA PEM>::<id>.<secret>` that pins
the cluster CA (k3s's secure format).

Must not read or write the cluster, files or the network; callers do.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

SECRET_TYPE = "bootstrap.kubernetes.io/token"
SECRET_NAMESPACE = "kube-system"
SECRET_NAME_PREFIX = "bootstrap-token-"
USER_PREFIX = "system:bootstrap:"
BOOTSTRAPPERS_GROUP = "system:bootstrappers"
DEFAULT_EXTRA_GROUP = "system:bootstrappers:kubelite:default-node-token"
USAGE_AUTHENTICATION = "usage-bootstrap-authentication"
USAGE_SIGNING = "usage-bootstrap-signing"
JOIN_TOKEN_PREFIX = "K10"

TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
TOKEN_ID_LENGTH = 6
TOKEN_SECRET_LENGTH = 16
TOKEN_PATTERN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
_EXTRA_GROUP_PATTERN = re.compile(r"^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$")


@dataclass(frozen=True, slots=True)
class JoinToken:
    token_id: str
    token_secret: str
    ca_hash: str = ""  # sha256 hex of the cluster CA PEM; empty: trust the CA on first use

    @property
    def bearer(self) -> str:
        return f"{self.token_id}.{self.token_secret}"


def generate_token() -> tuple[str, str]:
    """A fresh (token id, token secret) from the token alphabet."""
    pick = secrets.choice
    token_id = "".join(pick(TOKEN_ALPHABET) for _ in range(TOKEN_ID_LENGTH))
    token_secret = "".join(pick(TOKEN_ALPHABET) for _ in range(TOKEN_SECRET_LENGTH))
    return token_id, token_secret


def secret_name(token_id: str) -> str:
    return SECRET_NAME_PREFIX + token_id


def ca_hash(ca_pem: bytes) -> str:
    """What a join token pins: the sha256 hex digest of the CA certificate's PEM bytes."""
    return hashlib.sha256(ca_pem).hexdigest()


def join_token(ca_pem: bytes, token_id: str, token_secret: str) -> str:
    return f"{JOIN_TOKEN_PREFIX}{ca_hash(ca_pem)}::{token_id}.{token_secret}"


def parse_join_token(text: str) -> JoinToken:
    """`K10<hash>::<id>.<secret>` or a bare `<id>.<secret>` (ValueError otherwise)."""
    text = text.strip()
    pinned = ""
    if text.startswith(JOIN_TOKEN_PREFIX) and "::" in text:
        pinned, _, text = text[len(JOIN_TOKEN_PREFIX) :].partition("::")
        if not re.fullmatch(r"[0-9a-f]{64}", pinned):
            raise ValueError("the join token's CA hash is not a sha256 hex digest")
    match = TOKEN_PATTERN.match(text)
    if match is None:
        raise ValueError("a join token is K10<sha256>::<id>.<secret> or <id>.<secret> (id: 6, secret: 16 of [a-z0-9])")
    return JoinToken(match.group(1), match.group(2), pinned)


def rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time with a Z or numeric offset (ValueError otherwise)."""
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})", text.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    zone = match.group(7)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return float(seconds)


def token_secret_object(
    token_id: str,
    token_secret: str,
    *,
    ttl_seconds: float,
    description: str = "",
    extra_groups: tuple[str, ...] = (DEFAULT_EXTRA_GROUP,),
    now: float | None = None,
) -> dict[str, Any]:
    """The kube-system Secret holding a token (ttl_seconds 0: it never expires)."""
    data = {
        "token-id": token_id,
        "token-secret": token_secret,
        USAGE_AUTHENTICATION: "true",
        USAGE_SIGNING: "true",
        "auth-extra-groups": ",".join(extra_groups),
    }
    if ttl_seconds > 0:
        data["expiration"] = rfc3339((time.time() if now is None else now) + ttl_seconds)
    if description:
        data["description"] = description
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name(token_id), "namespace": SECRET_NAMESPACE},
        "type": SECRET_TYPE,
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    """A Secret's data decoded to text (undecodable entries are left out)."""
    decoded: dict[str, str] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            decoded[key] = base64.b64decode(value, validate=True).decode()
        except (ValueError, TypeError):
            continue
    return decoded


def extra_groups(data: dict[str, str]) -> tuple[str, ...] | None:
    """The auth-extra-groups of a token's decoded data; None when one is not a system:bootstrappers: group."""
    groups = tuple(g.strip() for g in data.get("auth-extra-groups", "").split(",") if g.strip())
    if any(not _EXTRA_GROUP_PATTERN.match(group) for group in groups):
        return None
    return groups


def expired(data: dict[str, str], now: float) -> bool:
    """Whether a token's decoded data says it has expired (an unreadable expiration counts as expired)."""
    expiration = data.get("expiration")
    if not expiration:
        return False
    try:
        return parse_rfc3339(expiration) <= now
    except ValueError:
        return True
