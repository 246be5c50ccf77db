"""The one interface every component talks to the API through: a `Transport` (HTTP to a remote
server, or in-process calls into a local registry) addressed by `ResourceRef`, with the request
options, watch events and errors both implementations share.

Objects are wire-shaped dicts. Every object a transport returns belongs to the caller (it shares
nothing with the transport or the server), and a transport never mutates what it is given.

Must not perform I/O itself, and must not know how either transport is built.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

from kubelite.api.errors import StatusError

Obj = dict[str, Any]
PatchType = Literal["json", "merge", "strategic", "apply"]

PATCH_CONTENT_TYPES: dict[str, str] = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """Where a resource lives: group ("" for core), version, plural resource name, and whether its
    objects live in namespaces."""

    group: str
    version: str
    resource: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        return f"{self.resource}.{self.version}.{self.group}" if self.group else f"{self.resource}.{self.version}"


@dataclass(frozen=True, slots=True)
class ListOptions:
    label_selector: str = ""
    field_selector: str = ""
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""  # "", "NotOlderThan" or "Exact"


@dataclass(frozen=True, slots=True)
class WatchOptions:
    label_selector: str = ""
    field_selector: str = ""
    resource_version: str = ""  # "" or "0": the current objects as ADDED first; else events after it
    allow_bookmarks: bool = False
    timeout_seconds: float | None = None  # the server ends the stream after this long


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """Options of create, update and patch."""

    field_manager: str = ""
    dry_run: bool = False
    field_validation: str = ""  # "" (server default: Warn), "Ignore", "Warn" or "Strict"


@dataclass(frozen=True, slots=True)
class DeleteOptions:
    propagation_policy: str = ""  # "", "Orphan", "Background" or "Foreground"
    grace_period_seconds: int | None = None
    precondition_uid: str = ""
    precondition_resource_version: str = ""
    dry_run: bool = False

    def body(self) -> Obj:
        """The wire `DeleteOptions` object (dryRun travels as a query parameter)."""
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if self.propagation_policy:
            body["propagationPolicy"] = self.propagation_policy
        if self.grace_period_seconds is not None:
            body["gracePeriodSeconds"] = self.grace_period_seconds
        preconditions: Obj = {}
        if self.precondition_uid:
            preconditions["uid"] = self.precondition_uid
        if self.precondition_resource_version:
            preconditions["resourceVersion"] = self.precondition_resource_version
        if preconditions:
            body["preconditions"] = preconditions
        return body


class WatchEvent(NamedTuple):
    """One watch event: type is ADDED, MODIFIED, DELETED or BOOKMARK (a BOOKMARK's object carries
    only metadata.resourceVersion). ERROR events never surface: they are raised as StatusError."""

    type: str
    object: Obj


class Gone(StatusError):
    """410: the requested resourceVersion (or continue token) is older than the server keeps;
    the caller must list again."""


class TransportError(Exception):
    """The server could not be reached or answered something that is not the Kubernetes API."""


def status_error(status: Any, code: int = 0) -> StatusError:
    """The exception for a wire `Status` (Gone for 410); `code` is used when the Status has none."""
    if not isinstance(status, dict):
        status = {}
    code = int(status.get("code") or code or 500)
    reason = str(status.get("reason") or "")
    message = str(status.get("message") or f"the server answered {code}")
    details = status.get("details")
    cls = Gone if code == 410 else StatusError
    return cls(code, reason, message, details if isinstance(details, dict) else None)


def as_gone(error: StatusError) -> StatusError:
    """`error` as a Gone when it is a 410, else unchanged."""
    if error.code == 410 and not isinstance(error, Gone):
        return Gone(error.code, error.reason, error.message, error.details)
    return error


class Transport(Protocol):
    """Requests against the API. `namespace` is ignored for cluster-scoped resources; for a
    namespaced resource, list/watch/delete_collection with namespace None (or "") mean all
    namespaces. `subresource` names status, scale, binding, eviction, token, finalize."""

    async def get(
        self, ref: ResourceRef, namespace: str, name: str, *, subresource: str = "", resource_version: str = ""
    ) -> Obj: ...

    async def list(self, ref: ResourceRef, namespace: str | None, opts: ListOptions) -> Obj:
        """The list object: {"kind": "<Kind>List", "metadata": {"resourceVersion", "continue"...}, "items"}."""
        ...

    def watch(self, ref: ResourceRef, namespace: str | None, opts: WatchOptions) -> AsyncGenerator[WatchEvent, None]:
        """An async generator of events; close it (`contextlib.aclosing`) when done. Raises Gone when
        opts.resource_version is too old, StatusError for an ERROR event. The stream may simply end
        (server timeout, a watcher that fell behind): resume from the last seen resourceVersion."""
        ...

    async def create(
        self, ref: ResourceRef, namespace: str, obj: Obj, opts: WriteOptions, *, name: str = "", subresource: str = ""
    ) -> Obj:
        """POST; with `subresource` (binding, eviction, token) POSTs to that subresource of `name`
        and returns the server's answer (a Status or the subresource's object)."""
        ...

    async def update(self, ref: ResourceRef, namespace: str, obj: Obj, opts: WriteOptions, *, subresource: str = "") -> Obj:
        """PUT of obj (its metadata.name names the object); subresource "status" is an update_status."""
        ...

    async def patch(
        self,
        ref: ResourceRef,
        namespace: str,
        name: str,
        patch_type: PatchType,
        patch: Any,
        opts: WriteOptions,
        *,
        force: bool = False,
        subresource: str = "",
    ) -> Obj:
        """PATCH; `force` only for apply patches (which need opts.field_manager)."""
        ...

    async def delete(self, ref: ResourceRef, namespace: str, name: str, opts: DeleteOptions) -> None: ...

    async def delete_collection(
        self, ref: ResourceRef, namespace: str | None, list_opts: ListOptions, opts: DeleteOptions
    ) -> None: ...

    async def close(self) -> None: ...
