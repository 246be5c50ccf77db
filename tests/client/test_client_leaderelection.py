"""Leader election on a Lease: over both transports with short durations (one of two candidates
leads; the other takes over once the leader stops renewing, or at once when it releases), and
in fake time with upstream's durations (15s lease, 10s renew deadline, 2s retry)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from kubelite.client.client import Client
from kubelite.client.clock import Clock, FakeClock
from kubelite.client.http import HTTPTransport
from kubelite.client.leaderelection import LeaderElector, micro_time
from tests.client.client_harness import Cluster, eventually

MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@dataclass
class Candidate:
    identity: str
    elector: LeaderElector
    started: int = 0
    stopped: int = 0
    leading_cancelled: bool = False
    task: asyncio.Task[None] | None = None
    leaders_seen: list[str] = field(default_factory=list)

    def run(self) -> None:
        self.task = asyncio.create_task(self.elector.run())

    async def crash(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def candidate(client: Client, namespace: str, identity: str, clock: Clock | None = None, **timing: object) -> Candidate:
    holder: list[Candidate] = []

    async def lead() -> None:
        holder[0].started += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            holder[0].leading_cancelled = True
            raise

    def stopped() -> None:
        holder[0].stopped += 1

    elector = LeaderElector(
        client,
        namespace,
        "lock",
        identity,
        on_started_leading=lead,
        on_stopped_leading=stopped,
        on_new_leader=lambda who: holder[0].leaders_seen.append(who),
        clock=clock,
        **timing,  # type: ignore[arg-type]
    )
    holder.append(Candidate(identity, elector))
    return holder[0]


SHORT = {"lease_duration": 2.0, "renew_deadline": 1.5, "retry_period": 0.2, "jitter": 0.2}


@pytest.fixture
def candidates() -> Iterator[list[Candidate]]:
    made: list[Candidate] = []
    yield made
    for c in made:
        if c.task is not None:
            c.task.cancel()


async def lease_spec(cluster: Cluster) -> dict[str, object]:
    lease = await cluster.client.resource("coordination.k8s.io", "v1", "leases").namespace(cluster.namespace).get("lock")
    spec: dict[str, object] = lease["spec"]
    return spec


async def test_one_leads_and_the_other_takes_over_when_it_stops_renewing(cluster: Cluster, candidates: list[Candidate]) -> None:
    a = candidate(cluster.client, cluster.namespace, "a", release_on_cancel=False, **SHORT)
    b = candidate(cluster.new_client(), cluster.namespace, "b", release_on_cancel=False, **SHORT)
    candidates += [a, b]
    a.run()
    b.run()
    await eventually(lambda: a.elector.is_leader() or b.elector.is_leader(), what="a leader")
    await asyncio.sleep(1.0)  # several renewals and retries later, still exactly one
    assert [c.elector.is_leader() for c in (a, b)].count(True) == 1
    leader, other = (a, b) if a.elector.is_leader() else (b, a)
    assert (leader.started, other.started) == (1, 0)
    spec = await lease_spec(cluster)
    assert spec["holderIdentity"] == leader.identity and spec["leaseDurationSeconds"] == 2
    assert spec["leaseTransitions"] == 0
    assert MICRO_TIME.match(str(spec["acquireTime"])) and MICRO_TIME.match(str(spec["renewTime"]))
    assert other.elector.leader() == leader.identity and other.leaders_seen == [leader.identity]

    await leader.crash()  # stops renewing without releasing
    crashed_at = time.monotonic()
    assert leader.leading_cancelled and leader.stopped == 1
    await eventually(other.elector.is_leader, timeout=10, what="the takeover")
    waited = time.monotonic() - crashed_at
    assert waited >= 1.5, f"took over after {waited:.2f}s, before the 2s lease could have expired"
    spec = await lease_spec(cluster)
    assert spec["holderIdentity"] == other.identity and spec["leaseTransitions"] == 1
    assert other.started == 1 and other.leaders_seen == [leader.identity, other.identity]


async def test_a_released_lease_is_taken_over_at_once(cluster: Cluster, candidates: list[Candidate]) -> None:
    timing = {**SHORT, "lease_duration": 10.0}
    a = candidate(cluster.client, cluster.namespace, "a", **timing)
    candidates.append(a)
    a.run()
    await eventually(a.elector.is_leader, what="a to lead")
    b = candidate(cluster.new_client(), cluster.namespace, "b", **timing)
    candidates.append(b)
    b.run()
    await asyncio.sleep(0.5)
    assert not b.elector.is_leader()
    await a.crash()  # cancelled with release_on_cancel (the default)
    released_at = time.monotonic()
    assert a.stopped == 1
    await eventually(b.elector.is_leader, timeout=5, what="the takeover")
    assert time.monotonic() - released_at < 2.0, "a released lease must not wait for the 10s lease to expire"
    spec = await lease_spec(cluster)
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1 and spec["leaseDurationSeconds"] == 10


# ---------------------------------------------------------------------- fake time, in-process
async def run_for(clock: FakeClock, seconds: float, step: float = 0.25) -> None:
    """Advance fake time in steps, letting in-process requests finish after each."""
    for _ in range(round(seconds / step)):
        clock.advance(step)
        for _ in range(30):  # in-process requests need only turns of the loop, not real time
            await asyncio.sleep(0)
        await asyncio.sleep(0.001)


async def test_takeover_waits_for_the_lease_duration_in_fake_time(inprocess_cluster: Cluster, candidates: list[Candidate]) -> None:
    cluster = inprocess_cluster
    clock = FakeClock()
    a = candidate(cluster.client, cluster.namespace, "a", clock, release_on_cancel=False, jitter=0.0)
    b = candidate(cluster.new_client(), cluster.namespace, "b", clock, release_on_cancel=False, jitter=0.0)
    candidates += [a, b]
    a.run()
    await eventually(a.elector.is_leader, what="a to lead")
    b.run()
    await run_for(clock, 10)
    assert a.elector.is_leader() and not b.elector.is_leader()
    await a.crash()
    crashed_at = clock.time()
    await run_for(clock, 12.5)  # b saw a's last renewal at most 2s before the crash
    assert not b.elector.is_leader(), "took over before the 15s lease expired"
    await run_for(clock, 5)
    assert b.elector.is_leader()
    spec = await lease_spec(cluster)
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    # timestamps come from the injected clock
    assert micro_time(crashed_at + 12.5) < str(spec["acquireTime"]) <= str(spec["renewTime"]) <= micro_time(clock.time())


async def test_a_leader_that_cannot_renew_steps_down_after_the_renew_deadline(
    inprocess_cluster: Cluster, candidates: list[Candidate]
) -> None:
    cluster = inprocess_cluster
    clock = FakeClock()
    a = candidate(cluster.client, cluster.namespace, "a", clock, jitter=0.0)
    candidates.append(a)
    a.run()
    await eventually(a.elector.is_leader, what="a to lead")
    await run_for(clock, 3)
    leases = cluster.client.resource("coordination.k8s.io", "v1", "leases").namespace(cluster.namespace)
    lease = await leases.get("lock")
    lease["spec"].update(holderIdentity="intruder", renewTime=micro_time(clock.time()))
    await leases.update(lease)
    await run_for(clock, 9.5)
    assert a.elector.is_leader() and a.stopped == 0, "stepped down before the 10s renew deadline"
    await run_for(clock, 3)
    assert not a.elector.is_leader() and a.stopped == 1 and a.leading_cancelled
    assert a.task is not None and a.task.done() and a.task.exception() is None
    assert (await leases.get("lock"))["spec"]["holderIdentity"] == "intruder", "it must not release a lease it lost"


def test_durations_must_nest() -> None:
    async def lead() -> None:
        return None

    client = Client(HTTPTransport("http://127.0.0.1:1"))  # never contacted

    with pytest.raises(ValueError):
        LeaderElector(client, "ns", "lock", "me", on_started_leading=lead, lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError):
        LeaderElector(client, "ns", "lock", "me", on_started_leading=lead, renew_deadline=2, retry_period=2)
    with pytest.raises(ValueError):
        LeaderElector(client, "ns", "lock", "", on_started_leading=lead)
