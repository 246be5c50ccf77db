"""ResourceQuota admission against a real registry: usage is checked against every matching quota
and charged to its status.used before the object is stored, with upstream's refusals."""

from __future__ import annotations

import asyncio
from typing import Any

from registry_harness import configmap, ctx, deployment, expect_status, pod, service, store_of

from kubelite.api.errors import StatusError
from kubelite.registry.registry import Registry

Obj = dict[str, Any]


async def make_quota(
    registry: Registry, name: str, hard: dict[str, str], used: dict[str, str] | None = None, **spec: Any
) -> None:
    """A quota whose status is what the controller would write: hard = spec.hard, used as given
    (zero for every hard name by default)."""
    quotas = store_of(registry, "", "resourcequotas")
    await quotas.create("default", {"metadata": {"name": name}, "spec": {"hard": hard, **spec}}, ctx())
    current = await quotas.get("default", name)
    current["status"] = {"hard": dict(hard), "used": used if used is not None else dict.fromkeys(hard, "0")}
    await quotas.update("default", name, current, ctx(), subresource="status")


async def used(registry: Registry, name: str) -> dict[str, str]:
    quota = await store_of(registry, "", "resourcequotas").get("default", name)
    return dict(quota["status"]["used"])


def pod_asking(
    name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None, **spec: Any
) -> Obj:
    obj = pod(name)
    resources: Obj = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    obj["spec"]["containers"][0]["resources"] = resources
    obj["spec"].update(spec)
    return obj


async def test_creates_are_charged_until_the_limit(registry: Registry) -> None:
    await make_quota(registry, "q", {"pods": "2", "requests.cpu": "1"})
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod_asking("a", {"cpu": "300m"}), ctx())
    assert await used(registry, "q") == {"pods": "1", "requests.cpu": "300m"}
    await pods.create("default", pod_asking("b", {"cpu": "700m"}), ctx())
    assert await used(registry, "q") == {"pods": "2", "requests.cpu": "1"}
    err = await expect_status(pods.create("default", pod_asking("c", {"cpu": "1m"}), ctx()), 403, "Forbidden")
    assert err.message == (
        'pods "c" is forbidden: exceeded quota: q, requested: pods=1,requests.cpu=1m, '
        "used: pods=2,requests.cpu=1, limited: pods=2,requests.cpu=1"
    )
    assert err.details == {"name": "c", "kind": "pods"}
    await expect_status(pods.get("default", "c"), 404)
    assert await used(registry, "q") == {"pods": "2", "requests.cpu": "1"}


async def test_only_the_exceeded_names_are_reported(registry: Registry) -> None:
    await make_quota(
        registry, "q", {"pods": "1", "requests.memory": "1Gi"}, {"pods": "1", "requests.memory": "0"}
    )
    err = await expect_status(
        store_of(registry, "", "pods").create("default", pod_asking("x", {"memory": "64Mi"}), ctx()), 403
    )
    assert err.message.endswith("exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1")


async def test_cpu_quota_requires_every_container_to_ask(registry: Registry) -> None:
    await make_quota(registry, "compute", {"requests.cpu": "2", "limits.memory": "1Gi"})
    obj = pod_asking("p", {"cpu": "100m"})
    obj["spec"]["containers"].append({"name": "side", "image": "busybox"})
    err = await expect_status(store_of(registry, "", "pods").create("default", obj, ctx()), 403)
    assert err.message == (
        'pods "p" is forbidden: failed quota: compute: must specify limits.memory for: main,side; '
        "requests.cpu for: side"
    )


async def test_a_quota_without_usage_refuses_until_it_is_computed(registry: Registry) -> None:
    await make_quota(registry, "q", {"pods": "5", "count/configmaps": "5"}, used={"count/configmaps": "0"})
    err = await expect_status(store_of(registry, "", "pods").create("default", pod("p"), ctx()), 403)
    assert err.message == 'pods "p" is forbidden: status unknown for quota: q, resources: pods'
    # configmaps are known: they are charged
    await store_of(registry, "", "configmaps").create("default", configmap("c"), ctx())
    assert await used(registry, "q") == {"count/configmaps": "1"}


async def test_a_quota_the_controller_has_not_seen_is_not_enforced(registry: Registry) -> None:
    """As upstream: admission reads status.hard, which is empty until the controller fills it."""
    await store_of(registry, "", "resourcequotas").create(
        "default", {"metadata": {"name": "new"}, "spec": {"hard": {"pods": "0"}}}, ctx()
    )
    await store_of(registry, "", "pods").create("default", pod("p"), ctx())


async def test_concurrent_creates_never_overrun_the_quota(registry: Registry) -> None:
    await make_quota(registry, "q", {"pods": "3"})
    pods = store_of(registry, "", "pods")
    results = await asyncio.gather(
        *(pods.create("default", pod(f"p{i}"), ctx()) for i in range(8)), return_exceptions=True
    )
    created = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, StatusError)]
    assert len(created) == 3, results
    assert len(refused) == 5 and all(r.code == 403 and "exceeded quota: q" in r.message for r in refused)
    assert await used(registry, "q") == {"pods": "3"}


async def test_dry_runs_are_checked_but_not_charged(registry: Registry) -> None:
    await make_quota(registry, "q", {"pods": "1"})
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("dry"), ctx(dry_run=True))
    assert await used(registry, "q") == {"pods": "0"}
    await make_quota(registry, "full", {"count/pods": "0"})
    await expect_status(pods.create("default", pod("dry2"), ctx(dry_run=True)), 403)


async def test_scoped_quotas_charge_only_matching_pods(registry: Registry) -> None:
    await make_quota(registry, "besteffort", {"pods": "1"}, scopes=["BestEffort"])
    await make_quota(registry, "burstable", {"pods": "5"}, scopes=["NotBestEffort"])
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("be"), ctx())
    await pods.create("default", pod_asking("bu", {"memory": "1Mi"}), ctx())
    assert await used(registry, "besteffort") == {"pods": "1"}
    assert await used(registry, "burstable") == {"pods": "1"}
    err = await expect_status(pods.create("default", pod("be2"), ctx()), 403)
    assert "exceeded quota: besteffort" in err.message


async def test_priority_class_scope_selector(registry: Registry) -> None:
    await store_of(registry, "scheduling.k8s.io", "priorityclasses").create(
        "", {"metadata": {"name": "high"}, "value": 1000}, ctx()
    )
    selector = {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}
    await make_quota(registry, "high", {"pods": "1"}, scopeSelector=selector)
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("plain"), ctx())
    await pods.create("default", pod_asking("h1", priorityClassName="high"), ctx())
    await expect_status(pods.create("default", pod_asking("h2", priorityClassName="high"), ctx()), 403)
    assert await used(registry, "high") == {"pods": "1"}


async def test_service_updates_charge_new_node_ports(registry: Registry) -> None:
    await make_quota(
        registry, "svc", {"services": "5", "services.nodeports": "1", "services.loadbalancers": "0"}
    )
    services = store_of(registry, "", "services")
    await services.create("default", service("web"), ctx())
    assert await used(registry, "svc") == {
        "services": "1",
        "services.nodeports": "0",
        "services.loadbalancers": "0",
    }
    await services.patch("default", "web", "merge", {"spec": {"type": "NodePort"}}, ctx())
    assert await used(registry, "svc") == {
        "services": "1",
        "services.nodeports": "1",
        "services.loadbalancers": "0",
    }
    err = await expect_status(
        services.patch("default", "web", "merge", {"spec": {"type": "LoadBalancer"}}, ctx()), 403
    )
    assert err.message == (
        'services "web" is forbidden: exceeded quota: svc, requested: services.loadbalancers=1, '
        "used: services.loadbalancers=0, limited: services.loadbalancers=0"
    )
    assert (await services.get("default", "web"))["spec"]["type"] == "NodePort"


async def test_object_counts_of_any_resource_and_legacy_names(registry: Registry) -> None:
    await make_quota(registry, "counts", {"count/deployments.apps": "1", "configmaps": "1", "secrets": "0"})
    await store_of(registry, "apps", "deployments").create("default", deployment("d1"), ctx())
    err = await expect_status(
        store_of(registry, "apps", "deployments").create("default", deployment("d2"), ctx()), 403
    )
    assert err.message == (
        'deployments.apps "d2" is forbidden: exceeded quota: counts, requested: count/deployments.apps=1, '
        "used: count/deployments.apps=1, limited: count/deployments.apps=1"
    )
    await store_of(registry, "", "configmaps").create("default", configmap("c1"), ctx())
    await expect_status(store_of(registry, "", "configmaps").create("default", configmap("c2"), ctx()), 403)
    await expect_status(
        store_of(registry, "", "secrets").create("default", {"metadata": {"name": "s"}}, ctx()), 403
    )
    assert await used(registry, "counts") == {
        "count/deployments.apps": "1",
        "configmaps": "1",
        "secrets": "0",
    }


async def test_claims_by_storage_class_and_resize(registry: Registry) -> None:
    await make_quota(
        registry,
        "storage",
        {"requests.storage": "10Gi", "gold.storageclass.storage.k8s.io/requests.storage": "3Gi"},
    )
    claims = store_of(registry, "", "persistentvolumeclaims")

    def claim(name: str, size: str, storage_class: str) -> Obj:
        return {
            "metadata": {"name": name},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": storage_class,
                "resources": {"requests": {"storage": size}},
            },
        }

    await claims.create("default", claim("a", "2Gi", "gold"), ctx())
    await claims.create("default", claim("b", "5Gi", "silver"), ctx())
    assert await used(registry, "storage") == {
        "requests.storage": "7Gi",
        "gold.storageclass.storage.k8s.io/requests.storage": "2Gi",
    }
    err = await expect_status(claims.create("default", claim("c", "2Gi", "gold"), ctx()), 403)
    assert "requested: gold.storageclass.storage.k8s.io/requests.storage=2Gi" in err.message


async def test_pod_updates_are_not_charged(registry: Registry) -> None:
    await make_quota(registry, "q", {"pods": "1"})
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("p"), ctx())
    await pods.patch("default", "p", "merge", {"metadata": {"labels": {"x": "y"}}}, ctx())
    assert await used(registry, "q") == {"pods": "1"}


async def test_other_namespaces_and_events_are_not_charged(registry: Registry) -> None:
    await store_of(registry, "", "namespaces").create("", {"metadata": {"name": "other"}}, ctx())
    await make_quota(registry, "q", {"pods": "0", "count/events": "0"})
    await store_of(registry, "", "pods").create("other", pod("p"), ctx())
    event = {
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        "reason": "R",
        "message": "m",
    }
    await store_of(registry, "", "events").create("default", event, ctx())
