"""The TTL-after-finished controller as upstream's pkg/controller/ttlafterfinished: a finished Job
(Complete or Failed) with spec.ttlSecondsAfterFinished is deleted that many seconds after its
terminal condition's lastTransitionTime. Before deleting, the Job is read again uncached and the
expiry checked on that fresh copy; the delete cascades in the foreground (as upstream) with the
fresh uid as a precondition. Until then the Job is requeued for the moment it expires.

Must not touch unfinished Jobs or Jobs without a TTL, nor write anything but that delete.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.cache import split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller
from kubelite.controllers.jobutil import finish_time, is_finished

Obj = dict[str, Any]

COMPONENT = "ttl-after-finished-controller"
DELETE_PROPAGATION = "Foreground"


def needs_cleanup(job: Obj) -> bool:
    """A TTL is set and the Job finished (and is not already being deleted)."""
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and is_finished(job)


def expires_at(job: Obj) -> float:
    """Epoch seconds when the finished Job's TTL runs out."""
    return finish_time(job) + float((job.get("spec") or {}).get("ttlSecondsAfterFinished") or 0)


class TTLAfterFinishedController(Controller):
    def __init__(self, client: Client, *, workers: int = 5, clock: Clock | None = None):
        super().__init__(client, name=COMPONENT, workers=workers, clock=clock)
        self.jobs_client = client.resource("batch", "v1", "jobs")
        self.jobs = self.informer("batch", "v1", "jobs")
        self.jobs.add_handler(self._job_changed, lambda _old, new: self._job_changed(new))

    def _job_changed(self, job: Obj) -> None:
        if needs_cleanup(job):
            self.enqueue(job)

    def _remaining(self, job: Obj) -> float | None:
        """Seconds until expiry (<= 0 when expired), or None when the Job needs no cleanup."""
        if not needs_cleanup(job) or not finish_time(job):
            return None
        return expires_at(job) - self.clock.time()

    async def sync(self, key: str) -> None:
        job = self.jobs.cache.get(key)
        if job is None:
            return
        remaining = self._remaining(job)
        if remaining is None:
            return
        if remaining > 0:
            self.queue.add_after(key, remaining)
            return
        namespace, name = split_key(key)
        resource = self.jobs_client.namespace(namespace)
        try:
            fresh = await resource.get(name)
        except StatusError as err:
            if err.code == 404:
                return
            raise
        remaining = self._remaining(fresh)
        if remaining is None:
            return
        if remaining > 0:
            self.queue.add_after(key, remaining)
            return
        try:
            await resource.delete(name, propagation_policy=DELETE_PROPAGATION, uid=fresh["metadata"]["uid"])
        except StatusError as err:
            if err.code != 404:
                raise
