"""Store.delete and Store.delete_collection: immediate deletes, finalizers, preconditions,
graceful deletion of scheduled pods, dry run and selectors."""

from __future__ import annotations

import copy
import re

from registry_harness import configmap, ctx, expect_status, pod, revision_of, store_of

from kubelite.registry.registry import Registry
from kubelite.registry.store import DeleteOptions, ListOptions

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def test_delete_removes_at_once(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("c", {"a": "1"}), ctx())
    deleted, now = await cms.delete("default", "c", DeleteOptions(), ctx())
    assert now is True
    assert deleted["metadata"]["uid"] == created["metadata"]["uid"]
    assert deleted["data"] == {"a": "1"}
    await expect_status(cms.get("default", "c"), 404, "NotFound")
    assert (await cms.list("default", ListOptions())).items == []
    assert await registry.backend.get(cms.key("default", "c")) is None


async def test_delete_missing_is_not_found(registry: Registry) -> None:
    error = await expect_status(
        store_of(registry, "", "configmaps").delete("default", "ghost", DeleteOptions(), ctx()),
        404,
        "NotFound",
    )
    assert error.message == 'configmaps "ghost" not found'


async def test_recreate_after_delete_gets_a_new_uid(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    first = await cms.create("default", configmap("c"), ctx())
    await cms.delete("default", "c", DeleteOptions(), ctx())
    second = await cms.create("default", configmap("c"), ctx())
    assert second["metadata"]["uid"] != first["metadata"]["uid"]


async def test_finalizers_hold_the_object_until_removed(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("held", finalizers=["example.com/a", "example.com/b"]), ctx())
    terminating, now = await cms.delete("default", "held", DeleteOptions(), ctx())
    assert now is False
    meta = terminating["metadata"]
    assert RFC3339.match(meta["deletionTimestamp"])
    assert meta["deletionGracePeriodSeconds"] == 0
    assert meta["finalizers"] == ["example.com/a", "example.com/b"]

    stored = await cms.get("default", "held")
    assert stored["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]

    # deleting again changes nothing
    before = await revision_of(registry)
    again, now = await cms.delete("default", "held", DeleteOptions(), ctx())
    assert now is False and again["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
    assert await revision_of(registry) == before

    # removing one finalizer keeps it
    stored["metadata"]["finalizers"] = ["example.com/b"]
    stored, _ = await cms.update("default", "held", stored, ctx())
    assert stored["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
    assert (await cms.get("default", "held"))["metadata"]["finalizers"] == ["example.com/b"]

    # removing the last one makes it go away
    stored["metadata"]["finalizers"] = []
    await cms.update("default", "held", stored, ctx())
    await expect_status(cms.get("default", "held"), 404, "NotFound")
    assert await registry.backend.get(cms.key("default", "held")) is None


async def test_finalizer_removal_by_patch_deletes(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("held", finalizers=["example.com/a"]), ctx())
    await cms.delete("default", "held", DeleteOptions(), ctx())
    await cms.patch("default", "held", "merge", {"metadata": {"finalizers": None}}, ctx())
    await expect_status(cms.get("default", "held"), 404, "NotFound")


async def test_deletion_timestamp_cannot_be_cleared_by_update(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("held", finalizers=["example.com/a"]), ctx())
    terminating, _ = await cms.delete("default", "held", DeleteOptions(), ctx())
    revived = copy.deepcopy(terminating)
    del revived["metadata"]["deletionTimestamp"]
    del revived["metadata"]["deletionGracePeriodSeconds"]
    revived["data"] = {"x": "y"}
    updated, _ = await cms.update("default", "held", revived, ctx())
    assert updated["metadata"]["deletionTimestamp"] == terminating["metadata"]["deletionTimestamp"]


async def test_uid_precondition(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("c"), ctx())
    uid = created["metadata"]["uid"]
    error = await expect_status(
        cms.delete("default", "c", DeleteOptions(precondition_uid="wrong-uid"), ctx()), 409, "Conflict"
    )
    assert error.message.startswith('Operation cannot be fulfilled on configmaps "c": ')
    assert error.message.endswith(
        f"Precondition failed: UID in precondition: wrong-uid, UID in object meta: {uid}"
    )
    assert (await cms.get("default", "c"))["metadata"]["uid"] == uid
    _, now = await cms.delete("default", "c", DeleteOptions(precondition_uid=uid), ctx())
    assert now is True
    await expect_status(cms.get("default", "c"), 404, "NotFound")


async def test_uid_precondition_message_has_upstream_storage_error_form(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("c"), ctx())
    error = await expect_status(
        cms.delete("default", "c", DeleteOptions(precondition_uid="u"), ctx()), 409, "Conflict"
    )
    # upstream wraps the precondition failure in a storage error (clients match on this text)
    assert re.fullmatch(
        r'Operation cannot be fulfilled on configmaps "c": StorageError: invalid object, Code: 4, '
        r"Key: \S+, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: u, "
        rf"UID in object meta: {created['metadata']['uid']}",
        error.message,
    ), error.message


async def test_resource_version_precondition(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("c", {"v": "1"}), ctx())
    old_rv = created["metadata"]["resourceVersion"]
    created["data"] = {"v": "2"}
    updated, _ = await cms.update("default", "c", created, ctx())
    error = await expect_status(
        cms.delete("default", "c", DeleteOptions(precondition_rv=old_rv), ctx()), 409, "Conflict"
    )
    assert (
        f"Precondition failed: ResourceVersion in precondition: {old_rv}, "
        f"ResourceVersion in object meta: {updated['metadata']['resourceVersion']}"
    ) in error.message
    await cms.get("default", "c")
    _, now = await cms.delete(
        "default", "c", DeleteOptions(precondition_rv=updated["metadata"]["resourceVersion"]), ctx()
    )
    assert now is True


async def test_dry_run_delete_keeps_the_object(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("c"), ctx())
    before = await revision_of(registry)
    _, now = await cms.delete("default", "c", DeleteOptions(), ctx(dry_run=True))
    assert now is True
    assert await revision_of(registry) == before
    await cms.get("default", "c")


async def test_scheduled_pod_deletes_gracefully(registry: Registry) -> None:
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("running", node="node-1"), ctx())
    terminating, now = await pods.delete("default", "running", DeleteOptions(), ctx())
    assert now is False
    meta = terminating["metadata"]
    assert RFC3339.match(meta["deletionTimestamp"])
    assert meta["deletionGracePeriodSeconds"] == 30  # the pod's terminationGracePeriodSeconds default
    stored = await pods.get("default", "running")
    assert stored["metadata"]["deletionGracePeriodSeconds"] == 30
    # the kubelet's final delete with grace 0 removes it
    _, now = await pods.delete("default", "running", DeleteOptions(grace_period_seconds=0), ctx())
    assert now is True
    await expect_status(pods.get("default", "running"), 404, "NotFound")


async def test_updates_during_the_grace_period_keep_the_pod(registry: Registry) -> None:
    """upstream ShouldDeleteDuringUpdate: only removing the last finalizer (or a zero grace
    period) deletes on update; a label or status write while the pod terminates does not."""
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("going", node="node-1"), ctx())
    await pods.delete("default", "going", DeleteOptions(grace_period_seconds=30), ctx())
    stored = await pods.get("default", "going")
    stored["metadata"].setdefault("labels", {})["tier"] = "web"
    relabelled, _ = await pods.update("default", "going", stored, ctx())
    assert relabelled["metadata"]["labels"]["tier"] == "web"
    relabelled["status"] = {**(relabelled.get("status") or {}), "phase": "Running"}
    await pods.update("default", "going", relabelled, ctx(), subresource="status")
    still = await pods.get("default", "going")
    assert still["metadata"]["deletionTimestamp"] and still["status"]["phase"] == "Running"


async def test_requested_grace_period_is_used(registry: Registry) -> None:
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("p", node="node-1"), ctx())
    terminating, now = await pods.delete("default", "p", DeleteOptions(grace_period_seconds=5), ctx())
    assert now is False
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 5


async def test_grace_period_may_shorten_but_not_lengthen(registry: Registry) -> None:
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("p", node="node-1"), ctx())
    await pods.delete("default", "p", DeleteOptions(grace_period_seconds=20), ctx())
    shorter, _ = await pods.delete("default", "p", DeleteOptions(grace_period_seconds=10), ctx())
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 10
    assert (await pods.get("default", "p"))["metadata"]["deletionGracePeriodSeconds"] == 10
    longer, _ = await pods.delete("default", "p", DeleteOptions(grace_period_seconds=60), ctx())
    assert longer["metadata"]["deletionGracePeriodSeconds"] == 10


async def test_unscheduled_pod_deletes_at_once(registry: Registry) -> None:
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("pending"), ctx())
    _, now = await pods.delete("default", "pending", DeleteOptions(), ctx())
    assert now is True
    await expect_status(pods.get("default", "pending"), 404, "NotFound")


async def test_delete_collection_with_label_selector(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    for i in range(3):
        await cms.create("default", configmap(f"doomed-{i}", labels={"batch": "old"}), ctx())
    for i in range(2):
        await cms.create("default", configmap(f"kept-{i}", labels={"batch": "new"}), ctx())
    await cms.create("default", configmap("unlabelled"), ctx())
    deleted = await cms.delete_collection(
        "default", ListOptions(label_selector="batch=old"), DeleteOptions(), ctx()
    )
    assert sorted(o["metadata"]["name"] for o in deleted) == ["doomed-0", "doomed-1", "doomed-2"]
    remaining = await cms.list("default", ListOptions())
    assert [o["metadata"]["name"] for o in remaining.items] == ["kept-0", "kept-1", "unlabelled"]


async def test_delete_collection_with_field_selector_stays_in_namespace(registry: Registry) -> None:
    await store_of(registry, "", "namespaces").create("", {"metadata": {"name": "other"}}, ctx())
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("a"), ctx())
    await cms.create("default", configmap("b"), ctx())
    await cms.create("other", configmap("a"), ctx())
    deleted = await cms.delete_collection(
        "default", ListOptions(field_selector="metadata.name=a"), DeleteOptions(), ctx()
    )
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in deleted] == [("default", "a")]
    everywhere = await cms.list(None, ListOptions())
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in everywhere.items] == [
        ("default", "b"),
        ("other", "a"),
    ]


async def test_delete_collection_respects_finalizers(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("held", finalizers=["example.com/x"]), ctx())
    await cms.create("default", configmap("free"), ctx())
    await cms.delete_collection("default", ListOptions(), DeleteOptions(), ctx())
    remaining = await cms.list("default", ListOptions())
    assert [o["metadata"]["name"] for o in remaining.items] == ["held"]
    assert remaining.items[0]["metadata"]["deletionTimestamp"]
