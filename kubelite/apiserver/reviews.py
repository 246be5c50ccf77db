"""Virtual, create-only resources that answer a question instead of storing an object:
SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectRulesReview
(answered by the authorizer, as upstream's REST handlers answer them), TokenReview and
SelfSubjectReview.

Access reviews: system:masters is allowed with no reason (upstream's privileged-groups authorizer);
anyone else as the RBAC authorizer decides (`RBAC: allowed by ...`, or a denial with the errors met
resolving roles). Without an authorizer (the in-process transport passes none) only
system:masters is allowed.

Must not store anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubelite.api import errors
from kubelite.apiserver.authorization import MASTERS, RequestAttributes, non_resource
from kubelite.apiserver.rbac import RBACAuthorizer
from kubelite.registry.context import UserInfo

Obj = dict[str, Any]

REVIEW_RESOURCES = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
    ("authorization.k8s.io", "localsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "tokenreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
}
ACCESS_REVIEWS = {"selfsubjectaccessreviews", "subjectaccessreviews", "localsubjectaccessreviews"}
KINDS = {
    "selfsubjectaccessreviews": "SelfSubjectAccessReview",
    "subjectaccessreviews": "SubjectAccessReview",
    "localsubjectaccessreviews": "LocalSubjectAccessReview",
}
NO_AUTHORIZER = "no authorizer is configured for this connection"


def _user_info(user: UserInfo) -> Obj:
    info: Obj = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    return info


def _invalid(resource: str, field: str, message: str) -> errors.StatusError:
    return errors.invalid(KINDS[resource], "authorization.k8s.io", "", [errors.cause(field, message)])


def review_attributes(resource: str, spec: Obj, namespace: str = "") -> RequestAttributes:
    """The request an access review's spec asks about (validated as upstream validates it)."""
    resource_attrs, url_attrs = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if not resource_attrs and not url_attrs:
        raise _invalid(
            resource, "spec.resourceAttributes", 'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified'
        )
    if resource_attrs and url_attrs:
        raise _invalid(
            resource, "spec.nonResourceAttributes", "Invalid value: \"\": cannot be specified in combination with resourceAttributes"
        )
    if resource == "subjectaccessreviews" and not spec.get("user") and not spec.get("groups"):
        raise _invalid(resource, "spec.user", 'Invalid value: "": at least one of user or group must be specified')
    if url_attrs:
        if resource == "localsubjectaccessreviews":
            raise _invalid(resource, "spec.nonResourceAttributes", "Invalid value: \"\": disallowed on this kind of request")
        return non_resource(str(url_attrs.get("verb") or ""), str(url_attrs.get("path") or ""))
    assert isinstance(resource_attrs, dict)
    if resource == "localsubjectaccessreviews" and str(resource_attrs.get("namespace") or "") != namespace:
        raise errors.bad_request(f"spec.resourceAttributes.namespace must match namespace: {namespace}")
    return RequestAttributes(
        str(resource_attrs.get("verb") or ""),
        str(resource_attrs.get("group") or ""),
        str(resource_attrs.get("resource") or ""),
        str(resource_attrs.get("subresource") or ""),
        str(resource_attrs.get("namespace") or ""),
        str(resource_attrs.get("name") or ""),
    )


def decide(authorizer: RBACAuthorizer | None, user: UserInfo, attrs: RequestAttributes) -> tuple[bool, str]:
    if MASTERS in user.groups:
        return True, ""
    if authorizer is None:
        return False, NO_AUTHORIZER
    return authorizer.authorize(user, attrs)


def _subject(resource: str, spec: Obj, requester: UserInfo) -> UserInfo:
    if resource != "subjectaccessreviews" and resource != "localsubjectaccessreviews":
        return requester
    groups = spec.get("groups") or []
    return UserInfo(str(spec.get("user") or ""), tuple(str(g) for g in groups), str(spec.get("uid") or ""))


def rules_review(authorizer: RBACAuthorizer | None, user: UserInfo, namespace: str) -> Obj:
    """A SubjectRulesReviewStatus: system:masters' everything, then the RBAC rules that apply."""
    resource_rules: list[Obj] = []
    url_rules: list[Obj] = []
    if MASTERS in user.groups:
        resource_rules.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
        url_rules.append({"verbs": ["*"], "nonResourceURLs": ["*"]})
    problems: list[str] = []
    if authorizer is not None:
        rules, problems = authorizer.rules_for(user, namespace)
        for rule in rules:
            verbs = list(rule.get("verbs") or [])
            if rule.get("resources"):
                entry: Obj = {"verbs": verbs}
                for field in ("apiGroups", "resources", "resourceNames"):
                    if rule.get(field):
                        entry[field] = list(rule[field])
                resource_rules.append(entry)
            if rule.get("nonResourceURLs"):
                url_rules.append({"verbs": verbs, "nonResourceURLs": list(rule["nonResourceURLs"])})
    status: Obj = {"resourceRules": resource_rules, "nonResourceRules": url_rules, "incomplete": False}
    if problems:
        status["evaluationError"] = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
    return status


def answer(
    resource: str,
    body: Any,
    user: UserInfo,
    authenticate: Callable[[str], UserInfo | None],
    authorizer: RBACAuthorizer | None = None,
    namespace: str = "",
) -> Obj:
    """The review `body` answered for `user`; `namespace` is the request's (LocalSubjectAccessReview)."""
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    result = dict(body)
    result["metadata"] = dict(result.get("metadata") or {})
    result["metadata"].setdefault("creationTimestamp", None)
    spec = result.get("spec") or {}
    if not isinstance(spec, dict):
        raise errors.bad_request("spec must be an object")
    if resource in ACCESS_REVIEWS:
        attrs = review_attributes(resource, spec, namespace)
        allowed, reason = decide(authorizer, _subject(resource, spec, user), attrs)
        status: Obj = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        result["status"] = status
    elif resource == "selfsubjectrulesreviews":
        review_namespace = str(spec.get("namespace") or "")
        if not review_namespace:
            raise errors.bad_request("no namespace on request")
        result["status"] = rules_review(authorizer, user, review_namespace)
    elif resource == "tokenreviews":
        token = spec.get("token") or ""
        reviewed = authenticate(token) if token else None
        result["status"] = {"authenticated": True, "user": _user_info(reviewed)} if reviewed else {"authenticated": False}
    elif resource == "selfsubjectreviews":
        result["status"] = {"userInfo": _user_info(user)}
    return result
