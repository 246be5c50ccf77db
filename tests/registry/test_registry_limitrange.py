"""LimitRanger admission against a real registry: container defaults and the annotation noting
them, then Container / Pod / PersistentVolumeClaim bounds refused with upstream's messages."""

from __future__ import annotations

from typing import Any

from registry_harness import ctx, expect_status, pod, store_of

from kubelite.registry.registry import Registry

Obj = dict[str, Any]


async def limit_range(registry: Registry, *items: Obj, name: str = "limits") -> None:
    await store_of(registry, "", "limitranges").create(
        "default", {"metadata": {"name": name}, "spec": {"limits": list(items)}}, ctx()
    )


def with_resources(
    obj: Obj, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None
) -> Obj:
    resources: Obj = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    obj["spec"]["containers"][0]["resources"] = resources
    return obj


async def test_defaults_fill_missing_requests_and_limits(registry: Registry) -> None:
    await limit_range(
        registry,
        {
            "type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "100m"},
        },
    )
    obj = pod("p")
    obj["spec"]["initContainers"] = [
        {"name": "init", "image": "busybox", "resources": {"limits": {"cpu": "1"}}}
    ]
    created = await store_of(registry, "", "pods").create("default", obj, ctx())
    assert created["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "256Mi"},
        # the LimitRange defaulted defaultRequest.memory from default.memory
        "requests": {"cpu": "100m", "memory": "256Mi"},
    }
    assert created["spec"]["initContainers"][0]["resources"] == {
        "limits": {"cpu": "1", "memory": "256Mi"},
        "requests": {"cpu": "1", "memory": "256Mi"},
    }
    assert created["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container main; cpu, memory limit for container main; "
        "memory request for init container init; memory limit for init container init"
    )
    assert created["status"]["qosClass"] == "Burstable"


async def test_nothing_to_default_leaves_the_pod_alone(registry: Registry) -> None:
    await limit_range(registry, {"type": "Container", "defaultRequest": {"cpu": "100m"}})
    created = await store_of(registry, "", "pods").create(
        "default", with_resources(pod("p"), {"cpu": "1"}), ctx()
    )
    assert "kubernetes.io/limit-ranger" not in (created["metadata"].get("annotations") or {})
    assert created["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "1"}}


async def test_defaults_are_validated_like_user_input(registry: Registry) -> None:
    """Mutation runs before validation: a default limit below the pod's request is a 422."""
    await limit_range(registry, {"type": "Container", "default": {"memory": "128Mi"}})
    err = await expect_status(
        store_of(registry, "", "pods").create("default", with_resources(pod("p"), {"memory": "1Gi"}), ctx()),
        422,
    )
    assert "must be less than or equal to memory limit" in err.message


async def test_container_minimum_and_maximum(registry: Registry) -> None:
    await limit_range(
        registry, {"type": "Container", "min": {"cpu": "100m", "memory": "64Mi"}, "max": {"cpu": "1"}}
    )
    pods = store_of(registry, "", "pods")
    err = await expect_status(
        pods.create("default", with_resources(pod("small"), {"cpu": "50m"}, {"cpu": "2"}), ctx()),
        403,
        "Forbidden",
    )
    assert err.message == (
        'pods "small" is forbidden: [minimum cpu usage per Container is 100m, but request is 50m, '
        "maximum cpu usage per Container is 1, but limit is 2]"
    )
    assert err.details == {"name": "small", "kind": "pods"}
    # a Container max is also the default limit, so a container without one gets it
    fits = await pods.create("default", with_resources(pod("fits"), {"cpu": "200m"}), ctx())
    assert fits["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "1"},
        "requests": {"cpu": "200m", "memory": "64Mi"},
    }


async def test_limit_to_request_ratio(registry: Registry) -> None:
    await limit_range(registry, {"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}})
    pods = store_of(registry, "", "pods")
    err = await expect_status(
        pods.create("default", with_resources(pod("r"), {"cpu": "100m"}, {"cpu": "300m"}), ctx()), 403
    )
    assert err.message == (
        'pods "r" is forbidden: cpu max limit to request ratio per Container is 2, but provided ratio is 3.000000'
    )
    err = await expect_status(pods.create("default", pod("none"), ctx()), 403)
    assert err.message == (
        'pods "none" is forbidden: cpu max limit to request ratio per Container is 2, '
        "but no request is specified or request is 0"
    )
    await pods.create("default", with_resources(pod("ok"), {"cpu": "100m"}, {"cpu": "200m"}), ctx())


async def test_pod_bounds_apply_to_the_sum_of_containers(registry: Registry) -> None:
    await limit_range(registry, {"type": "Pod", "max": {"memory": "1Gi"}})
    obj = with_resources(pod("p"), {"memory": "512Mi"}, {"memory": "768Mi"})
    obj["spec"]["containers"].append(
        {
            "name": "b",
            "image": "busybox",
            "resources": {"limits": {"memory": "768Mi"}, "requests": {"memory": "512Mi"}},
        }
    )
    err = await expect_status(store_of(registry, "", "pods").create("default", obj, ctx()), 403)
    assert err.message == 'pods "p" is forbidden: maximum memory usage per Pod is 1Gi, but limit is 1536Mi'


async def test_pod_minimum_without_requests(registry: Registry) -> None:
    """Pod items have no defaults (unlike Container items, whose min becomes a default request)."""
    await limit_range(registry, {"type": "Pod", "min": {"cpu": "10m"}, "max": {"memory": "1Gi"}})
    err = await expect_status(store_of(registry, "", "pods").create("default", pod("p"), ctx()), 403)
    assert err.message == (
        'pods "p" is forbidden: [minimum cpu usage per Pod is 10m.  No request is specified, '
        "maximum memory usage per Pod is 1Gi.  No limit is specified]"
    )


async def test_the_first_offending_limit_range_is_reported(registry: Registry) -> None:
    await limit_range(registry, {"type": "Container", "max": {"cpu": "2"}}, name="a")
    await limit_range(registry, {"type": "Container", "max": {"cpu": "1"}}, name="b")
    err = await expect_status(
        store_of(registry, "", "pods").create(
            "default", with_resources(pod("p"), limits={"cpu": "1500m"}), ctx()
        ),
        403,
    )
    assert err.message == 'pods "p" is forbidden: maximum cpu usage per Container is 1, but limit is 1500m'


async def test_pod_updates_are_not_checked(registry: Registry) -> None:
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("early"), ctx())
    await limit_range(registry, {"type": "Container", "min": {"cpu": "1"}})
    updated, _ = await pods.patch("default", "early", "merge", {"metadata": {"labels": {"x": "y"}}}, ctx())
    assert updated["metadata"]["labels"] == {"x": "y"}
    assert "kubernetes.io/limit-ranger" not in (updated["metadata"].get("annotations") or {})


def claim(name: str, size: str) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }


async def test_claim_storage_bounds_on_create_and_resize(registry: Registry) -> None:
    await limit_range(
        registry, {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}
    )
    claims = store_of(registry, "", "persistentvolumeclaims")
    err = await expect_status(claims.create("default", claim("tiny", "500Mi"), ctx()), 403)
    assert err.message == (
        'persistentvolumeclaims "tiny" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, '
        "but request is 500Mi"
    )
    await claims.create("default", claim("fine", "5Gi"), ctx())
    bound = await claims.get("default", "fine")
    bound["status"] = {"phase": "Bound"}
    await claims.update("default", "fine", bound, ctx(), subresource="status")
    err = await expect_status(
        claims.patch(
            "default", "fine", "merge", {"spec": {"resources": {"requests": {"storage": "20Gi"}}}}, ctx()
        ),
        403,
    )
    assert err.message == (
        'persistentvolumeclaims "fine" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, '
        "but request is 20Gi"
    )


async def test_other_namespaces_are_unaffected(registry: Registry) -> None:
    await limit_range(registry, {"type": "Container", "default": {"cpu": "1"}})
    await store_of(registry, "", "namespaces").create("", {"metadata": {"name": "free"}}, ctx())
    created = await store_of(registry, "", "pods").create("free", pod("p"), ctx())
    assert not created["spec"]["containers"][0].get("resources")
