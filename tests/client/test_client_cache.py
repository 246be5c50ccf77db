"""The informer's indexed cache: keys, the namespace index, custom indexes kept right across
updates and removals."""

from __future__ import annotations

import pytest

from kubelite.client.cache import (
    NODE_NAME_INDEX,
    OWNER_UID_INDEX,
    Indexer,
    index_by_node_name,
    index_by_owner_uid,
    key_of,
    object_key,
    split_key,
)


def pod(name: str, namespace: str = "ns", node: str = "", owners: tuple[str, ...] = (), rv: str = "1") -> dict[str, object]:
    meta: dict[str, object] = {"name": name, "namespace": namespace, "resourceVersion": rv}
    if owners:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": o, "uid": o} for o in owners]
    spec = {"nodeName": node} if node else {}
    return {"metadata": meta, "spec": spec}


def test_keys() -> None:
    assert object_key(pod("p")) == "ns/p"
    assert object_key({"metadata": {"name": "n1"}}) == "n1"
    assert key_of("", "n1") == "n1" and key_of("ns", "p") == "ns/p"
    assert split_key("ns/p") == ("ns", "p") and split_key("n1") == ("", "n1")


def test_indexes_follow_updates_and_removals() -> None:
    cache = Indexer({NODE_NAME_INDEX: index_by_node_name, OWNER_UID_INDEX: index_by_owner_uid})
    assert cache.upsert(pod("a", node="n1", owners=("rs1",))) is None
    cache.upsert(pod("b", node="n1", owners=("rs1", "rs2")))
    cache.upsert(pod("c", namespace="other"))
    assert cache.index_keys(NODE_NAME_INDEX, "n1") == ["ns/a", "ns/b"]
    assert cache.index_keys(OWNER_UID_INDEX, "rs2") == ["ns/b"]
    assert [o["metadata"]["name"] for o in cache.list_namespace("ns")] == ["a", "b"]  # type: ignore[index]
    old = cache.upsert(pod("a", node="n2", owners=("rs2",), rv="2"))
    assert old is not None and old["metadata"]["resourceVersion"] == "1"  # type: ignore[index]
    assert cache.index_keys(NODE_NAME_INDEX, "n1") == ["ns/b"]
    assert cache.index_keys(NODE_NAME_INDEX, "n2") == ["ns/a"]
    assert cache.index_keys(OWNER_UID_INDEX, "rs1") == ["ns/b"]
    assert cache.index_keys(OWNER_UID_INDEX, "rs2") == ["ns/a", "ns/b"]
    removed = cache.remove("ns/b")
    assert removed is not None
    assert cache.index_keys(OWNER_UID_INDEX, "rs1") == []
    assert cache.by_index(NODE_NAME_INDEX, "n2")[0]["metadata"]["resourceVersion"] == "2"  # type: ignore[index]
    assert cache.remove("ns/b") is None
    assert sorted(cache.list_keys()) == ["ns/a", "other/c"]
    assert len(cache) == 2 and "other/c" in cache
    assert cache.get_by_name("other", "c") is cache.get("other/c")
    with pytest.raises(KeyError):
        cache.by_index("missing", "x")
