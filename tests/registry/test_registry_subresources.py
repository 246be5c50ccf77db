"""Subresources speaking another kind: scale (autoscaling/v1 Scale) and pods/binding."""

from __future__ import annotations

import copy

from registry_harness import ctx, deployment, expect_status, pod, store_of

from kubelite.registry.registry import Registry
from kubelite.registry.subresources import bind, get_scale, write_scale


async def test_get_scale_of_a_deployment(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    created = await deps.create("default", deployment("web", replicas=3), ctx())
    scale = await get_scale(deps, "default", "web")
    assert scale["apiVersion"] == "autoscaling/v1" and scale["kind"] == "Scale"
    assert scale["metadata"]["name"] == "web" and scale["metadata"]["namespace"] == "default"
    assert scale["metadata"]["uid"] == created["metadata"]["uid"]
    assert scale["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 0, "selector": "app=web"}


async def test_update_scale_changes_replicas_and_generation(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    await deps.create("default", deployment("web", replicas=1), ctx())
    scale = await get_scale(deps, "default", "web")
    scale["spec"]["replicas"] = 5
    result = await write_scale(deps, "default", "web", ctx(), scale=scale)
    assert result["spec"]["replicas"] == 5
    assert int(result["metadata"]["resourceVersion"]) > int(scale["metadata"]["resourceVersion"])
    dep = await deps.get("default", "web")
    assert dep["spec"]["replicas"] == 5
    assert dep["metadata"]["generation"] == 2


async def test_update_scale_with_stale_resource_version_is_conflict(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    await deps.create("default", deployment("web", replicas=1), ctx())
    stale = await get_scale(deps, "default", "web")
    fresh = copy.deepcopy(stale)
    fresh["spec"]["replicas"] = 2
    await write_scale(deps, "default", "web", ctx(), scale=fresh)
    stale["spec"]["replicas"] = 7
    await expect_status(write_scale(deps, "default", "web", ctx(), scale=stale), 409, "Conflict")
    assert (await deps.get("default", "web"))["spec"]["replicas"] == 2


async def test_negative_scale_is_invalid(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    await deps.create("default", deployment("web"), ctx())
    error = await expect_status(
        write_scale(deps, "default", "web", ctx(), scale={"spec": {"replicas": -1}}), 422, "Invalid"
    )
    assert "spec.replicas" in error.message


async def test_patch_scale(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    await deps.create("default", deployment("web", replicas=1), ctx())
    result = await write_scale(deps, "default", "web", ctx(), patch=("merge", {"spec": {"replicas": 4}}))
    assert result["spec"]["replicas"] == 4
    assert (await deps.get("default", "web"))["spec"]["replicas"] == 4


async def test_scale_of_missing_object_is_not_found(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    await expect_status(get_scale(deps, "default", "ghost"), 404, "NotFound")


async def test_bind_sets_node_name_once(registry: Registry) -> None:
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("p"), ctx())
    created = await pods.get("default", "p")
    await bind(pods, "default", "p", {"target": {"kind": "Node", "name": "node-1"}}, ctx())
    bound = await pods.get("default", "p")
    assert bound["spec"]["nodeName"] == "node-1"
    # as upstream, the binding is a system write: the pod's managedFields are left as they were
    assert bound["metadata"]["managedFields"] == created["metadata"]["managedFields"]
    assert int(bound["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    scheduled = [c for c in bound["status"].get("conditions") or [] if c["type"] == "PodScheduled"]
    assert [c["status"] for c in scheduled] == ["True"]
    # the binding is really stored, not only visible in memory
    raw = await registry.backend.get(pods.key("default", "p"))
    assert raw is not None and b'"nodeName":"node-1"' in raw.value

    error = await expect_status(
        bind(pods, "default", "p", {"target": {"kind": "Node", "name": "node-2"}}, ctx()), 409, "Conflict"
    )
    assert (
        error.message
        == 'Operation cannot be fulfilled on pods "p": pod p is already assigned to node "node-1"'
    )
    assert (await pods.get("default", "p"))["spec"]["nodeName"] == "node-1"


async def test_bind_without_target_is_invalid(registry: Registry) -> None:
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("p"), ctx())
    await expect_status(bind(pods, "default", "p", {"target": {}}, ctx()), 422, "Invalid")
    assert "nodeName" not in (await pods.get("default", "p"))["spec"]


async def test_bind_missing_pod_is_not_found(registry: Registry) -> None:
    pods = store_of(registry, "", "pods")
    await expect_status(bind(pods, "default", "ghost", {"target": {"name": "n"}}, ctx()), 404, "NotFound")


async def test_pod_node_name_cannot_be_changed_by_update(registry: Registry) -> None:
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("p"), ctx())
    await bind(pods, "default", "p", {"target": {"name": "node-1"}}, ctx())
    current = copy.deepcopy(await pods.get("default", "p"))
    current["spec"]["nodeName"] = "node-2"
    await expect_status(pods.update("default", "p", current, ctx()), 422, "Invalid")
    assert (await pods.get("default", "p"))["spec"]["nodeName"] == "node-1"
