"""Shared informers: users of one Client share one informer (one cache) per resource, indexes
from every user are served, the last release stops and forgets it; controllers built on a client
with SharedInformers use them."""

from __future__ import annotations

import pytest

from kubelite.client.cache import OWNER_UID_INDEX, index_by_node_name, index_by_owner_uid
from kubelite.client.sharedinformers import SharedInformers
from kubelite.controllers.base import Controller
from tests.client.client_harness import Cluster, configmap, eventually


def index_by_data_key(obj: dict) -> list[str]:
    return sorted(obj.get("data") or {})


async def test_one_informer_per_resource_with_every_users_indexes(cluster: Cluster) -> None:
    shared = SharedInformers(cluster.client)
    first = shared.acquire("", "v1", "configmaps", indexers={"dataKey": index_by_data_key})
    second = shared.acquire("", "v1", "configmaps", indexers={OWNER_UID_INDEX: index_by_owner_uid})
    assert first is second and len(shared) == 1
    await cluster.client.resource("", "v1", "configmaps").namespace(cluster.namespace).create(
        configmap("shared-a", {"alpha": "1"})
    )
    first.start()
    second.start()  # idempotent: still one watch
    assert await first.wait_for_sync(10)
    await eventually(lambda: [o["metadata"]["name"] for o in first.cache.by_index("dataKey", "alpha")] == ["shared-a"])
    assert second.cache.by_index(OWNER_UID_INDEX, "nobody") == []

    await shared.release(first)
    assert len(shared) == 1 and second.has_synced()
    await shared.release(second)
    assert len(shared) == 0
    third = shared.acquire("", "v1", "configmaps")
    assert third is not first and not third.has_synced()
    await shared.release(third)


async def test_an_index_name_cannot_mean_two_functions(cluster: Cluster) -> None:
    shared = SharedInformers(cluster.client)
    informer = shared.acquire("", "v1", "pods", indexers={"byKey": index_by_data_key})
    with pytest.raises(ValueError, match="byKey"):
        shared.acquire("", "v1", "pods", indexers={"byKey": index_by_node_name})
    await shared.release(informer)


class PodWatcher(Controller):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.pods = self.informer("", "v1", "pods")

    async def sync(self, key: str) -> None:
        return None


async def test_controllers_on_a_shared_client_share_their_informers(cluster: Cluster) -> None:
    cluster.client.informers = SharedInformers(cluster.client)
    try:
        one = PodWatcher(cluster.client, name="one")
        two = PodWatcher(cluster.client, name="two")
        assert one.pods is two.pods
        await one.start()
        await two.start()
        await one.stop()
        assert len(cluster.client.informers) == 1 and two.pods.has_synced()
        await two.stop()
        assert len(cluster.client.informers) == 0
    finally:
        cluster.client.informers = None
