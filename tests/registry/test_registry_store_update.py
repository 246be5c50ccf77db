"""Store.update and Store.patch: optimistic concurrency, generation, status subresource, no-op
updates, merge/json/strategic/apply patches, retries on conflicts and apply conflicts."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from registry_harness import configmap, ctx, deployment, expect_status, revision_of, store_of

from kubelite.registry.registry import Registry
from kubelite.storage.memory import MemoryBackend

STALE = "the object has been modified; please apply your changes to the latest version and try again"


# ---------------------------------------------------------------- update


async def test_update_with_current_resource_version(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("c", {"v": "1"}), ctx())
    created["data"] = {"v": "2"}
    updated, was_created = await cms.update("default", "c", created, ctx())
    assert was_created is False
    assert updated["data"] == {"v": "2"}
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert updated["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    assert (await cms.get("default", "c"))["data"] == {"v": "2"}


async def test_update_with_stale_resource_version_is_conflict(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("c", {"v": "1"}), ctx())
    first = copy.deepcopy(created)
    first["data"] = {"v": "2"}
    await cms.update("default", "c", first, ctx())
    stale = copy.deepcopy(created)
    stale["data"] = {"v": "3"}
    error = await expect_status(cms.update("default", "c", stale, ctx()), 409, "Conflict")
    assert error.message == f'Operation cannot be fulfilled on configmaps "c": {STALE}'
    assert error.details == {"name": "c", "kind": "configmaps"}
    assert (await cms.get("default", "c"))["data"] == {"v": "2"}


async def test_stale_conflict_names_the_group(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    created = await deps.create("default", deployment("web"), ctx())
    fresh = copy.deepcopy(created)
    fresh["spec"]["replicas"] = 2
    await deps.update("default", "web", fresh, ctx())
    created["spec"]["replicas"] = 3
    error = await expect_status(deps.update("default", "web", created, ctx()), 409, "Conflict")
    assert error.message == f'Operation cannot be fulfilled on deployments.apps "web": {STALE}'


async def test_update_without_resource_version_is_unconditional(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("c", {"v": "1"}), ctx())
    other = await cms.get("default", "c")
    other["data"] = {"v": "2"}
    await cms.update("default", "c", other, ctx())
    blind = configmap("c", {"v": "blind"})
    updated, _ = await cms.update("default", "c", blind, ctx())
    assert updated["data"] == {"v": "blind"}


async def test_update_of_missing_object_is_not_found(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    error = await expect_status(cms.update("default", "ghost", configmap("ghost"), ctx()), 404, "NotFound")
    assert error.message == 'configmaps "ghost" not found'


async def test_update_name_mismatch_is_bad_request(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("c"), ctx())
    await expect_status(cms.update("default", "c", configmap("d"), ctx()), 400, "BadRequest")


async def test_update_keeps_server_owned_metadata(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("c"), ctx())
    changed = copy.deepcopy(created)
    changed["metadata"]["uid"] = "00000000-0000-0000-0000-000000000000"
    changed["metadata"]["creationTimestamp"] = "2000-01-01T00:00:00Z"
    changed["metadata"]["labels"] = {"new": "label"}
    updated, _ = await cms.update("default", "c", changed, ctx())
    assert updated["metadata"]["labels"] == {"new": "label"}
    # upstream rejects a changed uid/creationTimestamp as immutable, or keeps the stored one; never stores it
    stored = await cms.get("default", "c")
    assert stored["metadata"]["uid"] == created["metadata"]["uid"]
    assert stored["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]


async def test_generation_bumps_only_on_spec_change(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    dep = await deps.create("default", deployment("web"), ctx())
    dep["metadata"]["labels"] = {"app": "web", "extra": "yes"}
    dep["metadata"]["annotations"] = {"note": "metadata only"}
    dep, _ = await deps.update("default", "web", dep, ctx())
    assert dep["metadata"]["generation"] == 1
    dep["spec"]["replicas"] = 4
    dep, _ = await deps.update("default", "web", dep, ctx())
    assert dep["metadata"]["generation"] == 2
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    dep, _ = await deps.update("default", "web", dep, ctx())
    assert dep["metadata"]["generation"] == 3
    assert (await deps.get("default", "web"))["metadata"]["generation"] == 3


async def test_client_cannot_set_generation(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    dep = await deps.create("default", deployment("web"), ctx())
    dep["metadata"]["generation"] = 42
    dep, _ = await deps.update("default", "web", dep, ctx())
    assert dep["metadata"]["generation"] == 1


async def test_status_update_changes_only_status(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    dep = await deps.create("default", deployment("web", replicas=1), ctx())
    dep["status"] = {"replicas": 1, "readyReplicas": 1, "observedGeneration": 1}
    dep["spec"]["replicas"] = 9  # ignored by a status write
    dep["metadata"]["labels"] = {"sneaky": "yes"}  # ignored by a status write
    updated, _ = await deps.update("default", "web", dep, ctx(), subresource="status")
    assert updated["status"]["readyReplicas"] == 1
    assert updated["spec"]["replicas"] == 1
    assert updated["metadata"]["labels"] == {"app": "web"}
    assert updated["metadata"]["generation"] == 1
    stored = await deps.get("default", "web")
    assert stored["status"]["readyReplicas"] == 1 and stored["spec"]["replicas"] == 1


async def test_main_update_does_not_change_status(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    dep = await deps.create("default", deployment("web"), ctx())
    dep["status"] = {"replicas": 1, "readyReplicas": 1}
    dep, _ = await deps.update("default", "web", dep, ctx(), subresource="status")
    dep["status"] = {"replicas": 99, "readyReplicas": 99}
    dep["spec"]["replicas"] = 3
    updated, _ = await deps.update("default", "web", dep, ctx())
    assert updated["spec"]["replicas"] == 3
    assert updated["status"]["readyReplicas"] == 1
    assert (await deps.get("default", "web"))["status"]["readyReplicas"] == 1


async def test_status_update_with_stale_resource_version_is_conflict(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    dep = await deps.create("default", deployment("web"), ctx())
    fresh = copy.deepcopy(dep)
    fresh["spec"]["replicas"] = 2
    await deps.update("default", "web", fresh, ctx())
    dep["status"] = {"replicas": 1}
    await expect_status(deps.update("default", "web", dep, ctx(), subresource="status"), 409, "Conflict")


async def test_no_op_update_makes_no_revision(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("c", {"v": "1"}), ctx())
    before = await revision_of(registry)
    same, _ = await cms.update("default", "c", copy.deepcopy(created), ctx())
    assert await revision_of(registry) == before
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    blind, _ = await cms.update("default", "c", configmap("c", {"v": "1"}), ctx())
    assert await revision_of(registry) == before
    assert blind["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_no_op_update_of_a_deployment_makes_no_revision(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    created = await deps.create("default", deployment("web"), ctx())
    before = await revision_of(registry)
    same, _ = await deps.update("default", "web", copy.deepcopy(created), ctx())
    assert await revision_of(registry) == before
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_dry_run_update_changes_nothing(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("c", {"v": "1"}), ctx())
    before = await revision_of(registry)
    created["data"] = {"v": "2"}
    result, _ = await cms.update("default", "c", created, ctx(dry_run=True))
    assert result["data"] == {"v": "2"}
    assert await revision_of(registry) == before
    assert (await cms.get("default", "c"))["data"] == {"v": "1"}


async def test_update_validates(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    dep = await deps.create("default", deployment("web"), ctx())
    dep["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    await expect_status(deps.update("default", "web", dep, ctx()), 422, "Invalid")


async def test_endpoints_update_may_create(registry: Registry) -> None:
    endpoints = store_of(registry, "", "endpoints")
    obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "svc"}, "subsets": []}
    created_obj, created = await endpoints.update("default", "svc", obj, ctx())
    assert created is True
    assert created_obj["metadata"]["uid"]


# ---------------------------------------------------------------- patch


async def test_merge_patch_configmap(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("c", {"a": "1", "b": "2"}), ctx())
    patched, created = await cms.patch("default", "c", "merge", {"data": {"a": None, "c": "3"}}, ctx())
    assert created is False
    assert patched["data"] == {"b": "2", "c": "3"}
    assert (await cms.get("default", "c"))["data"] == {"b": "2", "c": "3"}


async def test_json_patch_deployment(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    await deps.create("default", deployment("web", replicas=1), ctx())
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 5},
        {"op": "add", "path": "/metadata/labels/extra", "value": "x"},
    ]
    patched, _ = await deps.patch("default", "web", "json", ops, ctx())
    assert patched["spec"]["replicas"] == 5
    assert patched["metadata"]["labels"]["extra"] == "x"
    assert patched["metadata"]["generation"] == 2


async def test_failing_json_patch_test_op_changes_nothing(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    await deps.create("default", deployment("web", replicas=1), ctx())
    before = await revision_of(registry)
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 7},
        {"op": "replace", "path": "/spec/replicas", "value": 5},
    ]
    with pytest.raises(Exception):  # noqa: B017 - the json-patch layer chooses the Status (422 upstream)
        await deps.patch("default", "web", "json", ops, ctx())
    assert await revision_of(registry) == before


async def test_json_patch_configmap(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("c", {"a": "1"}), ctx())
    ops = [{"op": "add", "path": "/data/b", "value": "2"}, {"op": "remove", "path": "/data/a"}]
    patched, _ = await cms.patch("default", "c", "json", ops, ctx())
    assert patched["data"] == {"b": "2"}
    assert (await cms.get("default", "c"))["data"] == {"b": "2"}


async def test_strategic_merge_patch_merges_containers_by_name(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    dep = deployment("web")
    dep["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    await deps.create("default", dep, ctx())
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "main", "image": "nginx:1.29", "env": [{"name": "X", "value": "1"}]}
                    ]
                }
            }
        }
    }
    patched, _ = await deps.patch("default", "web", "strategic", patch, ctx())
    containers = patched["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["main", "sidecar"]
    assert containers[0]["image"] == "nginx:1.29"
    assert containers[0]["env"] == [{"name": "X", "value": "1"}]
    assert containers[1]["image"] == "busybox"


async def test_strategic_merge_patch_configmap(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("c", {"a": "1"}), ctx())
    patched, _ = await cms.patch("default", "c", "strategic", {"data": {"b": "2"}}, ctx())
    assert patched["data"] == {"a": "1", "b": "2"}


async def test_merge_patch_deployment_replaces_lists(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    dep = deployment("web")
    dep["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    await deps.create("default", dep, ctx())
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "nginx"}]}}}}
    patched, _ = await deps.patch("default", "web", "merge", patch, ctx())
    assert [c["name"] for c in patched["spec"]["template"]["spec"]["containers"]] == ["only"]


async def test_patch_missing_object_is_not_found(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await expect_status(cms.patch("default", "ghost", "merge", {"data": {"a": "1"}}, ctx()), 404, "NotFound")


async def test_patch_with_stale_resource_version_is_conflict(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("c", {"a": "1"}), ctx())
    await cms.patch("default", "c", "merge", {"data": {"a": "2"}}, ctx())
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "data": {"a": "3"}}
    error = await expect_status(cms.patch("default", "c", "merge", stale, ctx()), 409, "Conflict")
    assert error.message == f'Operation cannot be fulfilled on configmaps "c": {STALE}'
    assert (await cms.get("default", "c"))["data"] == {"a": "2"}


async def test_patch_retries_when_another_writer_wins_the_race(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("c", {"mine": "0"}), ctx())
    backend = registry.backend
    assert isinstance(backend, MemoryBackend)
    real_update = backend.update
    raced: list[int] = []

    async def racing_update(key: str, value: bytes, expected: int) -> int:
        if key == cms.key("default", "c") and not raced:
            # another API server writes between our read and our write
            current = await backend.get(key)
            assert current is not None
            other = orjson.loads(current.value)
            other["data"]["theirs"] = "1"
            raced.append(await real_update(key, orjson.dumps(other), 0))
        return await real_update(key, value, expected)

    monkeypatch.setattr(backend, "update", racing_update)
    patched, _ = await cms.patch("default", "c", "merge", {"data": {"mine": "1"}}, ctx())
    assert raced, "the racing write did not happen"
    assert patched["data"] == {"mine": "1", "theirs": "1"}
    assert (await cms.get("default", "c"))["data"] == {"mine": "1", "theirs": "1"}


async def test_update_loses_the_race_with_conflict(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("c", {"v": "0"}), ctx())
    backend = registry.backend
    real_update = backend.update

    async def racing_update(key: str, value: bytes, expected: int) -> int:
        current = await backend.get(key)
        assert current is not None
        await real_update(key, current.value, 0)  # someone else bumps the revision first
        return await real_update(key, value, expected)

    monkeypatch.setattr(backend, "update", racing_update)
    created["data"] = {"v": "1"}
    error = await expect_status(cms.update("default", "c", created, ctx()), 409, "Conflict")
    assert STALE in error.message


async def test_apply_creates_the_object(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"k": "v"}}
    obj, created = await cms.patch("default", "applied", "apply", config, ctx(field_manager="alice"))
    assert created is True
    assert obj["data"] == {"k": "v"}
    assert obj["metadata"]["uid"] and obj["metadata"]["resourceVersion"]
    managers = [(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]]
    assert managers == [("alice", "Apply")]
    assert (await cms.get("default", "applied"))["data"] == {"k": "v"}


async def test_reapplying_the_same_config_is_a_no_op(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"k": "v"}}
    obj, _ = await cms.patch("default", "applied", "apply", config, ctx(field_manager="alice"))
    before = await revision_of(registry)
    again, created_again = await cms.patch("default", "applied", "apply", config, ctx(field_manager="alice"))
    assert created_again is False
    assert await revision_of(registry) == before
    assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]


async def test_apply_deployment_creates_with_generation_one(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    obj, created = await deps.patch(
        "default", "web", "apply", deployment("web", replicas=2), ctx(field_manager="alice")
    )
    assert created is True
    assert obj["metadata"]["generation"] == 1
    assert obj["spec"]["replicas"] == 2
    # defaults were applied as on create
    assert obj["spec"]["strategy"]["type"] == "RollingUpdate"
    changed = deployment("web", replicas=3)
    obj, created = await deps.patch("default", "web", "apply", changed, ctx(field_manager="alice"))
    assert created is False
    assert obj["spec"]["replicas"] == 3
    assert obj["metadata"]["generation"] == 2


async def test_apply_removes_fields_the_manager_stops_applying(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    full = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}
    await cms.patch("default", "c", "apply", full, ctx(field_manager="alice"))
    less = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    obj, _ = await cms.patch("default", "c", "apply", less, ctx(field_manager="alice"))
    assert obj["data"] == {"a": "1"}


async def test_apply_conflict_between_managers(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")

    def config(value: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"key": value}}

    await cms.patch("default", "c", "apply", config("1"), ctx(field_manager="alice"))
    error = await expect_status(
        cms.patch("default", "c", "apply", config("2"), ctx(field_manager="bob")), 409, "Conflict"
    )
    assert error.message == 'Apply failed with 1 conflict: conflict with "alice": .data.key'
    assert (await cms.get("default", "c"))["data"] == {"key": "1"}
    forced, _ = await cms.patch("default", "c", "apply", config("2"), ctx(field_manager="bob"), force=True)
    assert forced["data"] == {"key": "2"}
    owners = {m["manager"] for m in forced["metadata"]["managedFields"] if "f:key" in str(m.get("fieldsV1"))}
    assert owners == {"bob"}


async def test_apply_without_field_manager_is_invalid_patch_options(registry: Registry) -> None:
    # upstream: 422 PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch
    cms = store_of(registry, "", "configmaps")
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    await expect_status(cms.patch("default", "c", "apply", config, ctx(field_manager="")), 422, "Invalid")


async def test_apply_with_mismatched_name_is_bad_request(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}}
    await expect_status(cms.patch("default", "c", "apply", config, ctx(field_manager="a")), 400, "BadRequest")


async def test_no_op_patch_makes_no_revision(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("c", {"a": "1"}), ctx())
    before = await revision_of(registry)
    patched, _ = await cms.patch("default", "c", "merge", {"data": {"a": "1"}}, ctx())
    assert await revision_of(registry) == before
    assert patched["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_status_patch(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    await deps.create("default", deployment("web"), ctx())
    patched, _ = await deps.patch(
        "default",
        "web",
        "merge",
        {"status": {"replicas": 1}, "spec": {"replicas": 7}},
        ctx(),
        subresource="status",
    )
    assert patched["status"]["replicas"] == 1
    assert patched["spec"]["replicas"] == 1


async def test_unknown_patch_type_is_unsupported_media_type(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("c"), ctx())
    await expect_status(cms.patch("default", "c", "bogus", {}, ctx()), 415, "UnsupportedMediaType")


async def test_daemonset_template_generation_annotation_follows_template_changes(registry: Registry) -> None:
    dss = store_of(registry, "apps", "daemonsets")
    template = {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "busybox:1"}]}}
    body = {"metadata": {"name": "agent"}, "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template}}
    created = await dss.create("default", body, ctx())
    key = "deprecated.daemonset.template.generation"
    assert created["metadata"]["annotations"][key] == "1"
    created["metadata"]["annotations"][key] = "41"  # users cannot set it
    created["spec"]["minReadySeconds"] = 5  # not a template change
    same, _ = await dss.update("default", "agent", created, ctx())
    assert same["metadata"]["annotations"][key] == "1"
    same = copy.deepcopy(same)  # what update returns is what the store keeps
    same["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:2"
    changed, _ = await dss.update("default", "agent", same, ctx())
    assert changed["metadata"]["annotations"][key] == "2"
