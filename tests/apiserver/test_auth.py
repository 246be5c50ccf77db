"""Reading Impersonate-* headers: what each asks the requester to be allowed (`impersonate` on
users, serviceaccounts, groups, uids, userextras) and the user that results, as upstream."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from kubelite.api.errors import StatusError
from kubelite.apiserver.auth import impersonated_user, impersonation_requests
from kubelite.apiserver.authorization import RequestAttributes


def headers(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(pairs))


def test_no_headers_no_impersonation() -> None:
    assert impersonation_requests(headers(("Authorization", "Bearer x"))) is None


def test_a_user_with_groups_and_extras() -> None:
    wanted = impersonation_requests(
        headers(("Impersonate-User", "bob"), ("Impersonate-Group", "devs"), ("impersonate-group", "ops"), ("Impersonate-Extra-Scopes", "view"))
    )
    assert wanted is not None
    assert wanted.checks == (
        RequestAttributes("impersonate", "", "users", name="bob"),
        RequestAttributes("impersonate", "", "groups", name="devs"),
        RequestAttributes("impersonate", "", "groups", name="ops"),
        RequestAttributes("impersonate", "authentication.k8s.io", "userextras", "scopes", name="view"),
    )
    user = impersonated_user(wanted)
    assert (user.name, user.groups) == ("bob", ("devs", "ops"))  # given groups are the authority


def test_a_service_account_gets_its_groups() -> None:
    wanted = impersonation_requests(headers(("Impersonate-User", "system:serviceaccount:team:robot"), ("Impersonate-Uid", "u1")))
    assert wanted is not None
    assert wanted.checks == (
        RequestAttributes("impersonate", "", "serviceaccounts", namespace="team", name="robot"),
        RequestAttributes("impersonate", "authentication.k8s.io", "uids", name="u1"),
    )
    user = impersonated_user(wanted)
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated")
    assert user.uid == "u1"


def test_plain_users_become_authenticated_but_anonymous_does_not() -> None:
    bob = impersonation_requests(headers(("Impersonate-User", "bob")))
    anonymous = impersonation_requests(headers(("Impersonate-User", "system:anonymous")))
    assert bob is not None and anonymous is not None
    assert impersonated_user(bob).groups == ("system:authenticated",)
    assert impersonated_user(anonymous).groups == ()


def test_groups_without_a_user_are_an_error() -> None:
    with pytest.raises(StatusError) as caught:
        impersonation_requests(headers(("Impersonate-Group", "devs")))
    assert caught.value.code == 500
