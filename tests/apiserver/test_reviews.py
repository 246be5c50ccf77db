"""Access and rules reviews answered by the RBAC authorizer over a registry holding the bootstrap
policy, with upstream's validation errors; token and self-subject reviews."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.api.errors import StatusError
from kubelite.apiserver.rbac import RBACAuthorizer
from kubelite.apiserver.rbacpolicy import reconcile
from kubelite.apiserver.reviews import NO_AUTHORIZER, answer
from kubelite.registry.context import UserInfo
from tests.registry.registry_harness import start_registry

Obj = dict[str, Any]
ADMIN = UserInfo("system:admin", ("system:masters", "system:authenticated"))
SA = UserInfo("system:serviceaccount:default:robot", ("system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"))


@pytest.fixture
async def authorizer() -> AsyncIterator[RBACAuthorizer]:
    registry = await start_registry(namespaces=("default", "kube-public"))
    await reconcile(registry)
    try:
        yield RBACAuthorizer(registry)
    finally:
        await asyncio.wait_for(registry.stop(), 5.0)


def review(kind: str, spec: Obj) -> Obj:
    return {"apiVersion": "authorization.k8s.io/v1", "kind": kind, "spec": spec}


def no_token(_token: str) -> UserInfo | None:
    return None


async def test_self_subject_access_review(authorizer: RBACAuthorizer) -> None:
    pods = {"resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"}}
    denied = answer("selfsubjectaccessreviews", review("SelfSubjectAccessReview", pods), SA, no_token, authorizer)
    assert denied["status"] == {"allowed": False}
    assert denied["metadata"] == {"creationTimestamp": None} and denied["spec"] == pods
    assert answer("selfsubjectaccessreviews", review("SelfSubjectAccessReview", pods), ADMIN, no_token, authorizer)["status"] == {"allowed": True}
    discovery = {"nonResourceAttributes": {"verb": "get", "path": "/apis"}}
    allowed = answer("selfsubjectaccessreviews", review("SelfSubjectAccessReview", discovery), SA, no_token, authorizer)
    assert allowed["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"',
    }


async def test_subject_access_review_asks_about_the_named_subject(authorizer: RBACAuthorizer) -> None:
    spec = {"user": "system:node:n1", "groups": ["system:nodes"], "resourceAttributes": {"verb": "update", "resource": "nodes", "subresource": "status"}}
    assert answer("subjectaccessreviews", review("SubjectAccessReview", spec), SA, no_token, authorizer)["status"]["allowed"] is True
    spec["groups"] = []
    assert answer("subjectaccessreviews", review("SubjectAccessReview", spec), SA, no_token, authorizer)["status"]["allowed"] is False
    masters = {"user": "x", "groups": ["system:masters"], "resourceAttributes": {"verb": "delete", "resource": "nodes"}}
    assert answer("subjectaccessreviews", review("SubjectAccessReview", masters), SA, no_token, authorizer)["status"] == {"allowed": True}


@pytest.mark.parametrize(
    ("resource", "spec", "message"),
    [
        (
            "selfsubjectaccessreviews",
            {},
            'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": '
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ),
        (
            "subjectaccessreviews",
            {"resourceAttributes": {"verb": "get"}},
            'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least one of user or group must be specified',
        ),
        (
            "localsubjectaccessreviews",
            {"user": "u", "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "other"}},
            "spec.resourceAttributes.namespace must match namespace: default",
        ),
    ],
)
async def test_invalid_access_reviews(authorizer: RBACAuthorizer, resource: str, spec: Obj, message: str) -> None:
    with pytest.raises(StatusError) as caught:
        answer(resource, review("X", spec), SA, no_token, authorizer, "default")
    assert caught.value.message == message


async def test_without_an_authorizer_only_masters_are_allowed() -> None:
    spec = {"resourceAttributes": {"verb": "get", "resource": "pods"}}
    assert answer("selfsubjectaccessreviews", review("SelfSubjectAccessReview", spec), ADMIN, no_token)["status"] == {"allowed": True}
    assert answer("selfsubjectaccessreviews", review("SelfSubjectAccessReview", spec), SA, no_token)["status"] == {
        "allowed": False,
        "reason": NO_AUTHORIZER,
    }


async def test_self_subject_rules_review(authorizer: RBACAuthorizer) -> None:
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "default"}}
    status = answer("selfsubjectrulesreviews", body, SA, no_token, authorizer)["status"]
    assert status["incomplete"] is False and "evaluationError" not in status
    assert {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]} in (
        status["resourceRules"]
    )
    assert {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]} in status["nonResourceRules"]
    assert not any(rule["verbs"] == ["*"] for rule in status["resourceRules"])
    admin = answer("selfsubjectrulesreviews", body, ADMIN, no_token, authorizer)["status"]
    assert admin["resourceRules"][0] == {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
    with pytest.raises(StatusError) as caught:
        answer("selfsubjectrulesreviews", {"spec": {}}, SA, no_token, authorizer)
    assert (caught.value.code, caught.value.message) == (400, "no namespace on request")


async def test_token_and_self_subject_reviews() -> None:
    reviewed = answer("tokenreviews", {"spec": {"token": "t"}}, SA, lambda token: SA if token == "t" else None)
    assert reviewed["status"]["authenticated"] is True and reviewed["status"]["user"]["username"] == SA.name
    assert answer("tokenreviews", {"spec": {"token": "bad"}}, SA, no_token)["status"] == {"authenticated": False}
    assert answer("selfsubjectreviews", {}, SA, no_token)["status"]["userInfo"]["groups"] == list(SA.groups)


async def test_in_process_clients_get_the_same_answers() -> None:
    """An in-process client (a component inside `kubelite server`) asks the registry's shared
    authorizer, as an HTTP client's review would be answered."""
    from kubelite.apiserver.inprocess import InProcessTransport
    from kubelite.apiserver.rbac import shared_authorizer
    from kubelite.client.client import Client

    registry = await start_registry(namespaces=("default", "kube-public"))
    await reconcile(registry)
    try:
        sa_client = Client(InProcessTransport(registry, SA, "test"))
        reviews = sa_client.resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews")
        pods = {"resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"}}
        assert (await reviews.create(review("SelfSubjectAccessReview", pods)))["status"] == {"allowed": False}
        admin = Client(InProcessTransport(registry, ADMIN, "test"))
        await admin.resource("rbac.authorization.k8s.io", "v1", "roles").namespace("default").create(
            {"metadata": {"name": "pod-reader"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]}
        )
        await admin.resource("rbac.authorization.k8s.io", "v1", "rolebindings").namespace("default").create(
            {
                "metadata": {"name": "robot-reads"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "default"}],
            }
        )
        allowed = (await reviews.create(review("SelfSubjectAccessReview", pods)))["status"]
        assert allowed["allowed"] is True and allowed["reason"] == 'RBAC: allowed by RoleBinding "robot-reads/default" of Role "pod-reader" to ServiceAccount "robot/default"'
        assert shared_authorizer(registry) is shared_authorizer(registry)
    finally:
        await asyncio.wait_for(registry.stop(), 5.0)
