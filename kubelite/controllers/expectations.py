"""Expectations as upstream's ControllerExpectations / UIDTrackingControllerExpectations: how many
creations and which deletions a controller still waits to see in its informer, per owner key, so
it does not act twice on a stale cache. Expectations expire after five minutes.

Must not watch anything: the controller reports what its informer observed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kubelite.client.clock import Clock

EXPECTATIONS_TTL = 300.0


@dataclass
class _Expectation:
    adds: int
    deletes: set[str] = field(default_factory=set)
    stamp: float = 0.0


class ControllerExpectations:
    def __init__(self, clock: Clock, ttl: float = EXPECTATIONS_TTL):
        self.clock = clock
        self.ttl = ttl
        self._by_key: dict[str, _Expectation] = {}

    def satisfied(self, key: str) -> bool:
        """True when nothing is outstanding, the expectations expired, or none were ever set."""
        found = self._by_key.get(key)
        if found is None:
            return True
        if found.adds <= 0 and not found.deletes:
            return True
        return self.clock.monotonic() - found.stamp > self.ttl

    def expect_creations(self, key: str, count: int) -> None:
        self._by_key[key] = _Expectation(count, set(), self.clock.monotonic())

    def expect_deletions(self, key: str, object_keys: Iterable[str]) -> None:
        self._by_key[key] = _Expectation(0, set(object_keys), self.clock.monotonic())

    def creation_observed(self, key: str) -> None:
        found = self._by_key.get(key)
        if found is not None:
            found.adds -= 1

    def deletion_observed(self, key: str, object_key: str) -> None:
        found = self._by_key.get(key)
        if found is not None:
            found.deletes.discard(object_key)

    def delete(self, key: str) -> None:
        self._by_key.pop(key, None)

    def pending(self, key: str) -> tuple[int, int]:
        """(creations, deletions) still awaited."""
        found = self._by_key.get(key)
        return (max(found.adds, 0), len(found.deletes)) if found else (0, 0)
