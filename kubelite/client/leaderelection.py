"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection: candidates
try to take the Lease every retry period (jittered); one whose holder has not renewed it for
leaseDurationSeconds (timed by this candidate's own clock from when it last saw the Lease
change) may be replaced. The leader renews every retry period and gives up leadership when it
cannot renew within the renew deadline. A cancelled leader releases the Lease (holder "",
duration 1s) so another takes over at once.

Must not decide what leading means: `on_started_leading` runs while leading and is cancelled
when leadership ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.client import Client, ResourceClient
from kubelite.client.clock import Clock, RealClock
from kubelite.client.transport import TransportError

log = logging.getLogger(__name__)

Obj = dict[str, Any]

LEASE_DURATION = 15.0
RENEW_DEADLINE = 10.0
RETRY_PERIOD = 2.0
JITTER_FACTOR = 1.2


def micro_time(seconds: float) -> str:
    """A MicroTime: RFC 3339 with microseconds, in UTC."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        client: Client,
        namespace: str,
        name: str,
        identity: str,
        *,
        on_started_leading: Callable[[], Awaitable[None]],
        on_stopped_leading: Callable[[], None] | None = None,
        on_new_leader: Callable[[str], None] | None = None,
        lease_duration: float = LEASE_DURATION,
        renew_deadline: float = RENEW_DEADLINE,
        retry_period: float = RETRY_PERIOD,
        jitter: float = JITTER_FACTOR,
        release_on_cancel: bool = True,
        clock: Clock | None = None,
    ):
        if not identity:
            raise ValueError("leader election needs an identity")
        if not lease_duration > renew_deadline > 0:
            raise ValueError("lease_duration must be greater than renew_deadline (> 0)")
        if not renew_deadline > retry_period * max(jitter, 1.0) > 0:
            raise ValueError("renew_deadline must be greater than retry_period * jitter (> 0)")
        self.leases: ResourceClient = client.resource("coordination.k8s.io", "v1", "leases").namespace(namespace)
        self.name = name
        self.identity = identity
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.jitter = jitter
        self.release_on_cancel = release_on_cancel
        self.clock = clock or RealClock()
        self._lease: Obj | None = None  # the Lease as last read or written
        self._observed_spec: Obj | None = None
        self._observed_at = 0.0  # our monotonic time when the spec last changed
        self._reported_leader = ""
        self._leading = False

    def is_leader(self) -> bool:
        """Whether this candidate is leading right now."""
        return self._leading

    def leader(self) -> str:
        """The holder identity last observed on the Lease ("" when none)."""
        return str((self._observed_spec or {}).get("holderIdentity") or "")

    async def run(self) -> None:
        """Campaign until leading, lead until the Lease cannot be renewed, then return; when
        cancelled, stop leading (releasing the Lease if configured) and re-raise."""
        await self._acquire()
        self._leading = True
        leading = asyncio.create_task(self._lead(), name=f"leading {self.name}")
        try:
            await self._renew()
            log.warning("%s: failed to renew lease %s, leadership lost", self.identity, self.name)
        finally:
            self._leading = False
            leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await leading
            if self.release_on_cancel:
                await self._release()
            if self.on_stopped_leading is not None:
                self.on_stopped_leading()

    async def _lead(self) -> None:
        try:
            await self.on_started_leading()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: on_started_leading failed", self.identity)

    async def _acquire(self) -> None:
        while True:
            if await self._try_acquire_or_renew():
                log.info("%s: acquired lease %s", self.identity, self.name)
                return
            await self.clock.sleep(self.retry_period * (1 + random.random() * self.jitter))

    async def _renew(self) -> None:
        """Renew every retry period; return once a renewal has failed for the whole deadline."""
        while True:
            deadline = self.clock.monotonic() + self.renew_deadline
            while not await self._try_acquire_or_renew():
                left = deadline - self.clock.monotonic()
                if left <= 0:
                    return
                await self.clock.sleep(min(self.retry_period, left))
                if self.clock.monotonic() >= deadline:
                    return
            await self.clock.sleep(self.retry_period)

    # ------------------------------------------------------------------ one attempt
    async def _try_acquire_or_renew(self) -> bool:
        now = self.clock.monotonic()
        stamp = micro_time(self.clock.time())
        try:
            async with asyncio.timeout(self.renew_deadline):
                return await self._attempt(now, stamp)
        except (StatusError, TransportError, TimeoutError) as exc:
            log.info("%s: lease %s: %s", self.identity, self.name, exc)
            return False

    async def _attempt(self, now: float, stamp: str) -> bool:
        if self._holds_observed() and self._lease is not None:
            # fast path: the leader renews what it last wrote, without reading first
            try:
                self._observe(await self.leases.update(self._renewed(self._lease, stamp, keep=True)), now)
                return True
            except StatusError as exc:
                if exc.code not in (404, 409):
                    raise
        try:
            lease = await self.leases.get(self.name)
        except StatusError as exc:
            if exc.code != 404:
                raise
            created = await self.leases.create(self._new_lease(stamp))
            self._observe(created, now)
            return True
        self._observe(lease, now)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or 0)
        if holder and holder != self.identity and self._observed_at + duration > now:
            return False  # held by another, and renewed recently enough as far as we have seen
        self._observe(await self.leases.update(self._renewed(lease, stamp, keep=holder == self.identity)), now)
        return True

    def _new_lease(self, stamp: str) -> Obj:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.lease_duration),
                "acquireTime": stamp,
                "renewTime": stamp,
                "leaseTransitions": 0,
            },
        }

    def _renewed(self, lease: Obj, stamp: str, keep: bool) -> Obj:
        """`lease` held by us as of `stamp`; `keep`: we held it already (same acquire time and
        transitions), else this is a transition."""
        old = lease.get("spec") or {}
        spec = dict(old)
        spec["holderIdentity"] = self.identity
        spec["leaseDurationSeconds"] = int(self.lease_duration)
        spec["renewTime"] = stamp
        if not keep or not old.get("acquireTime"):
            spec["acquireTime"] = stamp
        if not keep:
            spec["leaseTransitions"] = int(old.get("leaseTransitions") or 0) + 1
        spec.setdefault("leaseTransitions", 0)
        return {**lease, "spec": spec}

    def _observe(self, lease: Obj, now: float) -> None:
        spec = lease.get("spec") or {}
        if spec != self._observed_spec:
            self._observed_spec = spec
            self._observed_at = now
        self._lease = lease
        holder = str(spec.get("holderIdentity") or "")
        if holder and holder != self._reported_leader:
            self._reported_leader = holder
            if self.on_new_leader is not None:
                try:
                    self.on_new_leader(holder)
                except Exception:
                    log.exception("%s: on_new_leader failed", self.identity)

    def _holds_observed(self) -> bool:
        return self._observed_spec is not None and self._observed_spec.get("holderIdentity") == self.identity

    async def _release(self) -> None:
        """Give the Lease up so another candidate need not wait for it to expire."""
        if not self._holds_observed() or self._lease is None:
            return
        stamp = micro_time(self.clock.time())
        spec = dict(self._lease.get("spec") or {})
        spec.update(holderIdentity="", leaseDurationSeconds=1, acquireTime=stamp, renewTime=stamp)
        try:
            async with asyncio.timeout(self.renew_deadline):
                self._observe(await self.leases.update({**self._lease, "spec": spec}), self.clock.monotonic())
        except (StatusError, TransportError, TimeoutError) as exc:
            log.warning("%s: could not release lease %s: %s", self.identity, self.name, exc)
