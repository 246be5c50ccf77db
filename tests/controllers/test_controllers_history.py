"""ControllerRevision helpers: the patch and hash, names, ordering, applying a revision back, and
finding / creating / renumbering / truncating revisions against a real in-process registry."""

from __future__ import annotations

from typing import Any

import orjson

from kubelite.client.client import ResourceClient
from kubelite.controllers import history
from kubelite.controllers.ownership import new_controller_ref
from tests.controllers.controllers_harness import ControllerCluster

Obj = dict[str, Any]


def owner(image: str = "img:1", **meta: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "ctl", "uid": "u1", **meta},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    }


def test_patch_replaces_the_template_whole_shaped_as_go_marshals_it() -> None:
    ds = owner()
    ds["spec"]["template"]["spec"]["initContainers"] = [
        {"name": "i", "image": "x", "resources": {"limits": {"cpu": "1"}}}
    ]
    patch = history.template_patch(ds)
    # the bytes kubectl renders for this owner (encoding/json: sorted map keys, a zero Time as
    # null, a struct field always present)
    assert orjson.dumps(patch) == (
        b'{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,"labels":{"app":"agent"}},'
        b'"spec":{"containers":[{"image":"img:1","name":"c","resources":{}}],'
        b'"initContainers":[{"image":"x","name":"i","resources":{"limits":{"cpu":"1"}}}]}}}}'
    )
    assert "$patch" not in ds["spec"]["template"]  # the owner is not touched
    assert "resources" not in ds["spec"]["template"]["spec"]["containers"][0]
    assert "creationTimestamp" not in ds["spec"]["template"]["metadata"]
    assert history.template_patch(history.apply_revision(ds, {"data": patch})) == patch


def test_hash_is_stable_and_moves_with_data_and_collisions() -> None:
    data = history.template_patch(owner())
    reordered = {"spec": {"template": dict(reversed(list(data["spec"]["template"].items())))}}
    assert history.revision_hash(data, 0) == history.revision_hash(reordered, 0)
    assert history.revision_hash(data, 0) != history.revision_hash(data, 1)
    assert history.revision_hash(data, 0) != history.revision_hash(history.template_patch(owner("img:2")), 0)
    assert set(history.revision_hash(data, 0)) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert history.revision_name("x" * 300, "h") == "x" * 223 + "-h"


def test_new_revision_carries_labels_annotations_and_owner() -> None:
    ds = owner(annotations={"kubernetes.io/change-cause": "first"})
    ref = new_controller_ref(ds, "apps/v1", "DaemonSet")
    revision = history.new_revision(ds, ref, 4, 0)
    hash_value = history.revision_hash(revision["data"], 0)
    assert revision["metadata"] == {
        "name": f"agent-{hash_value}",
        "namespace": "ctl",
        "labels": {"app": "agent", "controller-revision-hash": hash_value},
        "ownerReferences": [ref],
        "annotations": {"kubernetes.io/change-cause": "first"},
    }
    assert revision["revision"] == 4 and revision["kind"] == "ControllerRevision"
    assert history.revision_label(revision) == hash_value


def test_sort_apply_and_next_number() -> None:
    def rev(name: str, number: int, created: str) -> Obj:
        return {"metadata": {"name": name, "creationTimestamp": created}, "revision": number}

    ordered = history.sort_revisions(
        [
            rev("c", 3, "2024-01-01T00:00:00Z"),
            rev("b", 1, "2024-01-02T00:00:00Z"),
            rev("a", 1, "2024-01-01T00:00:00Z"),
        ]
    )
    assert [r["metadata"]["name"] for r in ordered] == ["a", "b", "c"]
    assert history.next_revision_number(ordered) == 4 and history.next_revision_number([]) == 1
    old = history.new_revision(owner("img:1"), {}, 1, 0)
    restored = history.apply_revision(owner("img:9"), old)
    assert restored["spec"]["template"] == history.go_shaped_template(owner("img:1")["spec"]["template"])
    assert restored["spec"]["template"]["spec"]["containers"][0]["image"] == "img:1"
    assert restored["spec"]["selector"] == {"matchLabels": {"app": "agent"}}


def revisions(cluster: ControllerCluster) -> ResourceClient:
    return cluster.client.resource("apps", "v1", "controllerrevisions")


async def listed(cluster: ControllerCluster) -> list[Obj]:
    return history.sort_revisions((await revisions(cluster).namespace("ctl").list())["items"])


async def test_update_revision_creates_reuses_and_renumbers(cluster: ControllerCluster) -> None:
    ref = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "u1", "controller": True}
    first, count = await history.update_revision(revisions(cluster), owner("img:1"), ref, [], 0)
    assert count == 0 and first["revision"] == 1
    again, _ = await history.update_revision(
        revisions(cluster), owner("img:1"), ref, await listed(cluster), 0
    )
    assert again["metadata"]["uid"] == first["metadata"]["uid"] and again["revision"] == 1
    second, _ = await history.update_revision(
        revisions(cluster), owner("img:2"), ref, await listed(cluster), 0
    )
    assert second["revision"] == 2 and second["metadata"]["name"] != first["metadata"]["name"]
    back, _ = await history.update_revision(revisions(cluster), owner("img:1"), ref, await listed(cluster), 0)
    assert back["metadata"]["uid"] == first["metadata"]["uid"] and back["revision"] == 3
    assert [(r["metadata"]["name"], r["revision"]) for r in await listed(cluster)] == [
        (second["metadata"]["name"], 2),
        (first["metadata"]["name"], 3),
    ]


async def test_a_taken_name_raises_the_collision_count(cluster: ControllerCluster) -> None:
    ref = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "u1", "controller": True}
    squatter = history.new_revision(owner("img:1"), ref, 1, 0)
    squatter["data"] = {"spec": {"template": {"$patch": "replace", "metadata": {"labels": {"other": "x"}}}}}
    await revisions(cluster).namespace("ctl").create(squatter)
    made, count = await history.update_revision(revisions(cluster), owner("img:1"), ref, [], 0)
    assert count == 1
    assert made["metadata"]["name"] == f"agent-{history.revision_hash(made['data'], 1)}"
    assert made["data"] == history.template_patch(owner("img:1"))


async def test_truncate_keeps_live_and_the_newest(cluster: ControllerCluster) -> None:
    ref = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "u1", "controller": True}
    for number, image in enumerate(("img:1", "img:2", "img:3", "img:4"), start=1):
        await revisions(cluster).namespace("ctl").create(history.new_revision(owner(image), ref, number, 0))
    made = await listed(cluster)
    live = {made[0]["metadata"]["name"], made[3]["metadata"]["name"]}
    deleted = await history.truncate_history(revisions(cluster), made, live, 1)
    assert deleted == [made[1]["metadata"]["name"]]
    assert [r["revision"] for r in await listed(cluster)] == [1, 3, 4]
    assert await history.truncate_history(revisions(cluster), await listed(cluster), set(), None) == []
