"""Authorization's vocabulary: request attributes (verb, group, resource, subresource, namespace,
name, or a non-resource path) as upstream's RequestInfo derives them, the Authorizer protocol, and
the 403 Forbidden an API request gets when the authorizer does not allow it (upstream's message,
with the authorizer's reason appended after ": " when it gave one).

Must not authenticate (auth.py does), decide anything itself (rbac.py does) nor touch the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kubelite.api import errors
from kubelite.registry.context import UserInfo

MASTERS = "system:masters"


@dataclass(frozen=True, slots=True)
class RequestAttributes:
    """A resource request (group, resource, ...) or, with `resource_request=False`, a request for
    the non-resource URL `path`."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    resource_request: bool = True
    path: str = ""


def non_resource(verb: str, path: str) -> RequestAttributes:
    return RequestAttributes(verb, resource_request=False, path=path)


class Authorizer(Protocol):
    def authorize(self, user: UserInfo, attrs: RequestAttributes) -> tuple[bool, str]:
        """(allowed, reason): the reason says what allowed it, or why resolving rules failed."""
        ...


def request_verb(method: str, named: bool, watch: bool) -> str:
    """upstream RequestInfo's verb for a resource request."""
    method = method.upper()
    if method in ("GET", "HEAD"):
        if watch:
            return "watch"
        return "get" if named else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if named else "deletecollection"
    return method.lower()


def name_from_field_selector(selector: str) -> str:
    """The name a list or watch is confined to by `metadata.name=<name>` in its field selector
    (upstream's RequestInfo then authorizes it as a request for that name), else ""."""
    if "metadata.name" not in selector:
        return ""
    for term in _split_unescaped(selector, ","):
        key, op, value = term.partition("=")
        if op and key.strip() == "metadata.name" and not key.endswith("!"):
            value = value[1:] if value.startswith("=") else value
            value = value.replace("\\,", ",").replace("\\=", "=").replace("\\\\", "\\")
            if value and value not in (".", "..") and "/" not in value and "%" not in value:
                return value
    return ""


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == separator:
            parts.append(text[start:index])
            start = index + 1
        index += 1
    parts.append(text[start:])
    return parts


def forbidden_message(user: UserInfo, attrs: RequestAttributes, reason: str = "") -> str:
    """upstream's `<resource>[.<group>] ["name"] is forbidden: User "u" cannot <verb> resource ...`
    (or `forbidden: User "u" cannot get path "/x"`), then `: <reason>` when there is one."""
    if not attrs.resource_request:
        message = f'forbidden: User "{user.name}" cannot {attrs.verb} path "{attrs.path}"'
    else:
        what = errors.qualified_resource(attrs.resource, attrs.group)
        if attrs.name:
            what += f' "{attrs.name}"'
        resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
        scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
        message = (
            f'{what} is forbidden: User "{user.name}" cannot {attrs.verb} resource "{resource}" '
            f'in API group "{attrs.group}" {scope}'
        )
    message = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # upstream's sanitizer
    return f"{message}: {reason}" if reason else message


def forbidden(user: UserInfo, attrs: RequestAttributes, reason: str = "") -> errors.StatusError:
    details = {key: value for key, value in (("name", attrs.name), ("group", attrs.group), ("kind", attrs.resource)) if value}
    return errors.StatusError(403, "Forbidden", forbidden_message(user, attrs, reason), details)


def authorize(authorizer: Authorizer, user: UserInfo, attrs: RequestAttributes) -> None:
    """Raise 403 Forbidden unless `authorizer` allows the request (system:masters always may)."""
    if MASTERS in user.groups:
        return
    allowed, reason = authorizer.authorize(user, attrs)
    if not allowed:
        raise forbidden(user, attrs, reason)
