"""Shared informers, as client-go's SharedInformerFactory: the components built on one Client
share one informer (one watch, one cache) per resource, so N controllers watching pods cost one
copy of every pod, not N.

Users `acquire` an informer (its indexes are added to the shared cache) and `release` it when they
stop; the last release stops the informer and forgets it, so a later user starts from a fresh
list. A user that stops while others go on leaves its handlers behind: they enqueue into its shut
down work queue, which ignores them (components of one Client start and stop together).

Must not filter (no selectors: a component that needs a filtered view builds its own Informer)
and must not write to the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kubelite.client.cache import IndexFunc
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.client.informer import Informer

InformerKey = tuple[str, str, str]


@dataclass
class _Shared:
    informer: Informer
    users: int = 0


class SharedInformers:
    def __init__(self, client: Client, clock: Clock | None = None):
        self.client = client
        self.clock = clock
        self._shared: dict[InformerKey, _Shared] = {}

    def acquire(
        self,
        group: str,
        version: str,
        resource: str,
        *,
        indexers: Mapping[str, IndexFunc] | None = None,
        namespaced: bool | None = None,
    ) -> Informer:
        """The shared informer of one resource across all namespaces (not started here: the caller
        starts it, which is idempotent)."""
        key = (group, version, resource)
        shared = self._shared.get(key)
        if shared is None:
            informer = Informer(
                self.client.resource(group, version, resource, namespaced=namespaced),
                clock=self.clock,
                name=f"shared/{resource}",
            )
            shared = self._shared[key] = _Shared(informer)
        if indexers:
            shared.informer.cache.add_indexers(indexers)
        shared.users += 1
        return shared.informer

    async def release(self, informer: Informer) -> None:
        """One user is done; the last one stops the informer."""
        for key, shared in list(self._shared.items()):
            if shared.informer is not informer:
                continue
            shared.users -= 1
            if shared.users <= 0:
                del self._shared[key]
                await informer.stop()
            return
        await informer.stop()  # not ours: a private informer

    def __len__(self) -> int:
        return len(self._shared)
