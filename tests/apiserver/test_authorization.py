"""Authorization's vocabulary: verbs as upstream's RequestInfo derives them, names from
`metadata.name` field selectors, and upstream's 403 Forbidden (message, details, the reason
appended) raised when the authorizer does not allow a request."""

from __future__ import annotations

import pytest

from kubelite.api.errors import StatusError
from kubelite.apiserver.authorization import (
    RequestAttributes,
    authorize,
    forbidden_message,
    name_from_field_selector,
    non_resource,
    request_verb,
)
from kubelite.registry.context import UserInfo

BOOTSTRAP = UserInfo("system:bootstrap:abcdef", ("system:bootstrappers", "system:authenticated"))
ADMIN = UserInfo("system:admin", ("system:masters", "system:authenticated"))
CSRS = ("certificates.k8s.io", "certificatesigningrequests")


class Fixed:
    """An authorizer with a fixed answer that records what it was asked."""

    def __init__(self, allowed: bool, reason: str = ""):
        self.answer = (allowed, reason)
        self.asked: list[RequestAttributes] = []

    def authorize(self, user: UserInfo, attrs: RequestAttributes) -> tuple[bool, str]:
        self.asked.append(attrs)
        return self.answer


@pytest.mark.parametrize(
    ("method", "named", "watch", "verb"),
    [
        ("GET", False, False, "list"),
        ("GET", True, False, "get"),
        ("GET", False, True, "watch"),
        ("POST", False, False, "create"),
        ("PUT", True, False, "update"),
        ("PATCH", True, False, "patch"),
        ("DELETE", True, False, "delete"),
        ("DELETE", False, False, "deletecollection"),
    ],
)
def test_request_verbs(method: str, named: bool, watch: bool, verb: str) -> None:
    assert request_verb(method, named, watch) == verb


@pytest.mark.parametrize(
    ("selector", "name"),
    [
        ("metadata.name=n1", "n1"),
        ("metadata.name==n1", "n1"),
        ("spec.nodeName=x,metadata.name=n1", "n1"),
        ("metadata.name!=n1", ""),
        ("metadata.namespace=n1", ""),
        ("spec.nodeName=n1", ""),
        ("metadata.name=a/b", ""),
        ("", ""),
    ],
)
def test_names_from_field_selectors(selector: str, name: str) -> None:
    assert name_from_field_selector(selector) == name


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        (
            RequestAttributes("delete", *CSRS, name="node-csr"),
            'certificatesigningrequests.certificates.k8s.io "node-csr" is forbidden: User "system:bootstrap:abcdef" cannot delete '
            'resource "certificatesigningrequests" in API group "certificates.k8s.io" at the cluster scope',
        ),
        (
            RequestAttributes("update", *CSRS, subresource="approval", name="node-csr"),
            'certificatesigningrequests.certificates.k8s.io "node-csr" is forbidden: User "system:bootstrap:abcdef" cannot update '
            'resource "certificatesigningrequests/approval" in API group "certificates.k8s.io" at the cluster scope',
        ),
        (
            RequestAttributes("list", "", "pods", namespace="default"),
            'pods is forbidden: User "system:bootstrap:abcdef" cannot list resource "pods" in API group "" in the namespace "default"',
        ),
        (non_resource("get", "/metrics"), 'forbidden: User "system:bootstrap:abcdef" cannot get path "/metrics"'),
    ],
)
def test_denials_are_upstreams_forbidden(attrs: RequestAttributes, message: str) -> None:
    with pytest.raises(StatusError) as caught:
        authorize(Fixed(False), BOOTSTRAP, attrs)
    error = caught.value
    assert (error.code, error.reason, error.message) == (403, "Forbidden", message)
    assert error.details == {k: v for k, v in (("name", attrs.name), ("group", attrs.group), ("kind", attrs.resource)) if v}


def test_the_reason_follows_the_message() -> None:
    attrs = RequestAttributes("get", "", "pods", namespace="team", name="p")
    with pytest.raises(StatusError) as caught:
        authorize(Fixed(False, 'RBAC: role.rbac.authorization.k8s.io "x" not found'), BOOTSTRAP, attrs)
    assert caught.value.message == (
        'pods "p" is forbidden: User "system:bootstrap:abcdef" cannot get resource "pods" in API group "" in the namespace '
        '"team": RBAC: role.rbac.authorization.k8s.io "x" not found'
    )


def test_markup_in_the_message_is_escaped() -> None:
    assert forbidden_message(UserInfo("<b>"), non_resource("get", "/a&b")) == 'forbidden: User "&lt;b&gt;" cannot get path "/a&amp;b"'


def test_allowed_requests_pass_and_masters_skip_the_authorizer() -> None:
    allowing = Fixed(True)
    authorize(allowing, BOOTSTRAP, RequestAttributes("get", "", "pods"))
    assert len(allowing.asked) == 1
    denying = Fixed(False)
    authorize(denying, ADMIN, RequestAttributes("delete", "", "nodes", name="n"))
    assert denying.asked == []
