"""Creating and deleting a controller's pods as upstream's PodControl does: the write, then the
owner's SuccessfulCreate / SuccessfulDelete event, or FailedCreate / FailedDelete with the API's
message. A create refused because the namespace is terminating is no failure (no event, None).

Must not keep expectations or decide what to create: callers (ReplicaSet, DaemonSet, Job) do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.client import ResourceClient
from kubelite.controllers.events import NORMAL, WARNING

Obj = dict[str, Any]
RecordEvent = Callable[[Obj, str, str, str], None]  # (owner, type, reason, message)


def namespace_terminating(err: Exception) -> bool:
    """A create refused with the NamespaceTerminating cause."""
    if not isinstance(err, StatusError) or not err.details:
        return False
    return any(cause.get("reason") == "NamespaceTerminating" for cause in err.details.get("causes") or ())


class PodControl:
    def __init__(self, pods: ResourceClient, record: RecordEvent):
        self.pods = pods
        self.record = record

    async def create(self, owner: Obj, pod: Obj) -> Obj | None:
        """The created pod; None when its namespace is terminating. Other errors are recorded
        and raised."""
        namespace = pod["metadata"].get("namespace") or owner["metadata"].get("namespace") or ""
        try:
            created: Obj = await self.pods.namespace(namespace).create(pod)
        except Exception as err:
            if namespace_terminating(err):
                return None
            message = err.message if isinstance(err, StatusError) else str(err)
            self.record(owner, WARNING, "FailedCreate", f"Error creating: {message}")
            raise
        self.record(owner, NORMAL, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
        return created

    async def delete(self, owner: Obj, pod: Obj) -> None:
        """Delete the pod; a StatusError is raised (a 404 without a FailedDelete event)."""
        meta = pod["metadata"]
        try:
            await self.pods.namespace(meta.get("namespace") or "").delete(meta["name"])
        except StatusError as err:
            if err.code != 404:
                self.record(owner, WARNING, "FailedDelete", f"Error deleting: {err.message}")
            raise
        self.record(owner, NORMAL, "SuccessfulDelete", f"Deleted pod: {meta['name']}")
