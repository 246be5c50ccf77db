"""Authentication: bearer tokens and verified client certificates become a UserInfo; a request
with neither is system:anonymous (group system:unauthenticated), which the authorizer then treats
like any user (the bootstrap policy lets it read health, version and kube-public/cluster-info).
Also reads the Impersonate-* headers into the user asked for and the checks (`impersonate` on
users, groups, serviceaccounts, uids, userextras) the requester must pass first, as upstream.

Must not decide what a user may do (authorization.py and rbac.py do).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubelite.api import errors
from kubelite.apiserver.authorization import RequestAttributes
from kubelite.registry.context import UserInfo


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


ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
IMPERSONATE_USER = "Impersonate-User"
IMPERSONATE_GROUP = "Impersonate-Group"
IMPERSONATE_UID = "Impersonate-Uid"
IMPERSONATE_EXTRA_PREFIX = "impersonate-extra-"


@dataclass(frozen=True, slots=True)
class ImpersonationRequest:
    user: str
    groups: tuple[str, ...]
    groups_given: bool
    uid: str
    checks: tuple[RequestAttributes, ...]  # each must be allowed for the requester (verb impersonate)


def impersonation_requests(headers: Mapping[str, str]) -> ImpersonationRequest | None:
    """What Impersonate-User/-Group/-Uid/-Extra-* ask for (None without them); a group, uid or
    extra without a user is an error, as upstream."""
    user = headers.get(IMPERSONATE_USER, "")
    getall = getattr(headers, "getall", None)
    groups = tuple(getall(IMPERSONATE_GROUP, ())) if getall is not None else tuple(
        v for k, v in headers.items() if k.lower() == IMPERSONATE_GROUP.lower()
    )
    uid = headers.get(IMPERSONATE_UID, "")
    extras = [(k[len(IMPERSONATE_EXTRA_PREFIX):].lower(), v) for k, v in headers.items() if k.lower().startswith(IMPERSONATE_EXTRA_PREFIX)]
    if not user:
        if groups or uid or extras:
            raise errors.internal("requested impersonation of groups, a uid or user extras without impersonating a user")
        return None
    checks: list[RequestAttributes] = []
    implied: tuple[str, ...] = ()
    namespace, _, name = user[len(SERVICE_ACCOUNT_PREFIX):].partition(":") if user.startswith(SERVICE_ACCOUNT_PREFIX) else ("", "", "")
    if namespace and name and ":" not in name:
        checks.append(RequestAttributes("impersonate", "", "serviceaccounts", namespace=namespace, name=name))
        implied = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")
    else:
        checks.append(RequestAttributes("impersonate", "", "users", name=user))
    checks.extend(RequestAttributes("impersonate", "", "groups", name=group) for group in groups)
    if uid:
        checks.append(RequestAttributes("impersonate", "authentication.k8s.io", "uids", name=uid))
    checks.extend(RequestAttributes("impersonate", "authentication.k8s.io", "userextras", key, name=value) for key, value in extras)
    return ImpersonationRequest(user, groups if groups else implied, bool(groups), uid, tuple(checks))


def impersonated_user(wanted: ImpersonationRequest) -> UserInfo:
    """The user a permitted impersonation becomes: given groups are the authority; otherwise a
    non-anonymous user also gets system:authenticated. (User extras are checked, not kept.)"""
    groups = list(wanted.groups)
    if not wanted.groups_given and wanted.user != ANONYMOUS.name and AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
        groups.append(AUTHENTICATED)
    return UserInfo(wanted.user, tuple(groups), wanted.uid)
