"""Virtual, create-only resources that answer a question instead of storing an object:
SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectRulesReview,
TokenReview and SelfSubjectReview.

Authorization is not enforced yet (every authenticated user may do everything), so access reviews
answer allowed; this module must change together with the RBAC authorizer when it lands.
Must not store anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubelite.api import errors
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


def _user_info(user: UserInfo) -> Obj:
    info: Obj = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    return info


def answer(resource: str, body: Any, user: UserInfo, authenticate: Callable[[str], UserInfo | None]) -> Obj:
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    result = dict(body)
    result.setdefault("metadata", {})
    result["metadata"].setdefault("creationTimestamp", None)
    spec = result.get("spec") or {}
    if resource in ("selfsubjectaccessreviews", "subjectaccessreviews", "localsubjectaccessreviews"):
        if not spec.get("resourceAttributes") and not spec.get("nonResourceAttributes"):
            raise errors.invalid(
                body.get("kind", "SubjectAccessReview"),
                "authorization.k8s.io",
                "",
                [errors.cause("spec.resourceAttributes", "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified")],
            )
        result["status"] = {"allowed": True, "reason": "kubelite does not enforce authorization yet"}
    elif resource == "selfsubjectrulesreviews":
        result["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    elif resource == "tokenreviews":
        token = spec.get("token") or ""
        reviewed = authenticate(token) if token else None
        result["status"] = {"authenticated": True, "user": _user_info(reviewed)} if reviewed else {"authenticated": False}
    elif resource == "selfsubjectreviews":
        result["status"] = {"userInfo": _user_info(user)}
    return result
