"""pods/eviction against a real Registry: PodDisruptionBudgets guard running pods (429 with
upstream's causes when no disruption is allowed, 500 with two budgets, 429 while a budget's
status is stale), an allowed eviction takes the disruption in the budget's status and marks the
pod DisruptionTarget before deleting it, unready pods follow unhealthyPodEvictionPolicy, terminal
and Pending pods go freely, dry runs change nothing, and concurrent evictions never take more
disruptions than allowed."""

from __future__ import annotations

import asyncio
from typing import Any

from registry_harness import ctx, expect_status, pod, store_of

from kubelite.api.errors import StatusError
from kubelite.registry import subresources
from kubelite.registry.registry import Registry

Obj = dict[str, Any]
NS = "default"


async def running_pod(registry: Registry, name: str, ready: bool = True, phase: str = "Running") -> Obj:
    pods = store_of(registry, "", "pods")
    created = await pods.create(NS, pod(name, node="node-1", labels={"app": "web"}), ctx())
    created["status"] = {
        **created.get("status", {}),
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": "2025-01-01T00:00:00Z"}],
    }
    updated, _ = await pods.update(NS, name, created, ctx(), subresource="status")
    return updated


async def budget(
    registry: Registry,
    name: str,
    allowed: int,
    *,
    current: int = 2,
    desired: int = 2,
    observed: int = 1,
    policy: str | None = None,
    selector: Obj | None = None,
) -> Obj:
    store = store_of(registry, "policy", "poddisruptionbudgets")
    spec: Obj = {"minAvailable": desired, "selector": selector if selector is not None else {"matchLabels": {"app": "web"}}}
    if policy:
        spec["unhealthyPodEvictionPolicy"] = policy
    created = await store.create(
        NS, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name}, "spec": spec}, ctx()
    )
    created["status"] = {
        "observedGeneration": observed,
        "disruptionsAllowed": allowed,
        "currentHealthy": current,
        "desiredHealthy": desired,
        "expectedPods": current,
    }
    updated, _ = await store.update(NS, name, created, ctx(), subresource="status")
    return updated


async def evict(registry: Registry, name: str, body: Obj | None = None, **context: Any) -> None:
    eviction = body if body is not None else {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}
    await subresources.evict(store_of(registry, "", "pods"), NS, name, eviction, ctx(**context))


async def current(registry: Registry, resource: str, name: str, group: str = "") -> Obj:
    return await store_of(registry, group, resource).get(NS, name)


def condition(obj: Obj, kind: str) -> Obj | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or () if c.get("type") == kind), None)


async def test_without_a_budget_the_pod_is_marked_and_deleted(registry: Registry) -> None:
    await running_pod(registry, "p1")
    await evict(registry, "p1")
    gone = await current(registry, "pods", "p1")
    assert gone["metadata"].get("deletionTimestamp"), "evicted pods are deleted gracefully"
    target = condition(gone, "DisruptionTarget")
    assert target is not None
    assert (target["status"], target["reason"], target["message"]) == ("True", "EvictionByEvictionAPI", "Eviction API: evicting")


async def test_a_budget_allowing_no_disruption_refuses_with_429(registry: Registry) -> None:
    await running_pod(registry, "p1")
    await budget(registry, "web", allowed=0, current=2, desired=2)
    error = await expect_status(evict(registry, "p1"), 429, "TooManyRequests")
    assert error.message == "Cannot evict pod as it would violate the pod's disruption budget."
    assert error.details == {
        "causes": [{"reason": "DisruptionBudget", "message": "The disruption budget web needs 2 healthy pods and has 2 currently"}]
    }
    untouched = await current(registry, "pods", "p1")
    assert not untouched["metadata"].get("deletionTimestamp")
    assert condition(untouched, "DisruptionTarget") is None


async def test_an_allowed_eviction_takes_the_disruption_then_deletes(registry: Registry) -> None:
    await running_pod(registry, "p1")
    await budget(registry, "web", allowed=1, current=3, desired=2)
    await evict(registry, "p1")
    status = (await current(registry, "poddisruptionbudgets", "web", "policy"))["status"]
    assert status["disruptionsAllowed"] == 0
    assert set(status["disruptedPods"]) == {"p1"}
    allowed = condition({"status": status}, "DisruptionAllowed")
    assert allowed is not None and (allowed["status"], allowed["reason"]) == ("False", "InsufficientPods")
    gone = await current(registry, "pods", "p1")
    assert gone["metadata"].get("deletionTimestamp")
    assert condition(gone, "DisruptionTarget") is not None


async def test_two_budgets_are_a_500(registry: Registry) -> None:
    await running_pod(registry, "p1")
    await budget(registry, "a", allowed=1)
    await budget(registry, "b", allowed=1, selector={})
    error = await expect_status(evict(registry, "p1"), 500)
    assert error.message == "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    assert error.status().get("reason") is None


async def test_a_budget_not_yet_observed_is_a_429_to_retry(registry: Registry) -> None:
    await running_pod(registry, "p1")
    await budget(registry, "web", allowed=5, observed=0)
    error = await expect_status(evict(registry, "p1"), 429, "TooManyRequests")
    assert error.details == {
        "causes": [{"reason": "DisruptionBudget", "message": "The disruption budget web is still being processed by the server."}],
        "retryAfterSeconds": 10,
    }


async def test_budgets_selecting_nothing_or_other_pods_do_not_apply(registry: Registry) -> None:
    await running_pod(registry, "p1")
    store = store_of(registry, "policy", "poddisruptionbudgets")
    await store.create(
        NS,
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "other"},
         "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "db"}}}},
        ctx(),
    )
    await evict(registry, "p1")
    assert (await current(registry, "pods", "p1"))["metadata"].get("deletionTimestamp")


async def test_pending_and_terminal_pods_go_whatever_the_budget(registry: Registry) -> None:
    await running_pod(registry, "pending", phase="Pending", ready=False)
    await running_pod(registry, "done", phase="Succeeded", ready=False)
    await budget(registry, "web", allowed=0)
    await evict(registry, "pending")
    await evict(registry, "done")
    assert (await current(registry, "pods", "pending"))["metadata"].get("deletionTimestamp")
    await expect_status(current(registry, "pods", "done"), 404)  # a finished pod has nothing to stop
    status = (await current(registry, "poddisruptionbudgets", "web", "policy"))["status"]
    assert status["disruptionsAllowed"] == 0 and "disruptedPods" not in status


async def test_unready_pods_of_a_healthy_budget_go_without_taking_a_disruption(registry: Registry) -> None:
    await running_pod(registry, "sick", ready=False)
    await budget(registry, "web", allowed=0, current=2, desired=2)
    await evict(registry, "sick")
    assert (await current(registry, "pods", "sick"))["metadata"].get("deletionTimestamp")
    assert (await current(registry, "poddisruptionbudgets", "web", "policy"))["status"]["disruptionsAllowed"] == 0


async def test_unready_pods_of_an_unhealthy_budget_follow_the_policy(registry: Registry) -> None:
    await running_pod(registry, "sick", ready=False)
    await budget(registry, "web", allowed=0, current=1, desired=2)
    await expect_status(evict(registry, "sick"), 429, "TooManyRequests")
    await store_of(registry, "policy", "poddisruptionbudgets").patch(
        NS, "web", "merge", {"spec": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}}, ctx()
    )
    store = store_of(registry, "policy", "poddisruptionbudgets")
    pdb = await store.get(NS, "web")
    pdb["status"]["observedGeneration"] = pdb["metadata"]["generation"]
    await store.update(NS, "web", pdb, ctx(), subresource="status")
    await evict(registry, "sick")
    assert (await current(registry, "pods", "sick"))["metadata"].get("deletionTimestamp")


async def test_dry_run_changes_nothing(registry: Registry) -> None:
    await running_pod(registry, "p1")
    await budget(registry, "web", allowed=1, current=3, desired=2)
    await evict(registry, "p1", dry_run=True)
    body = {"metadata": {"name": "p1"}, "deleteOptions": {"dryRun": ["All"]}}
    await evict(registry, "p1", body)
    untouched = await current(registry, "pods", "p1")
    assert not untouched["metadata"].get("deletionTimestamp") and condition(untouched, "DisruptionTarget") is None
    assert (await current(registry, "poddisruptionbudgets", "web", "policy"))["status"]["disruptionsAllowed"] == 1


async def test_concurrent_evictions_never_exceed_the_budget(registry: Registry) -> None:
    for index in range(4):
        await running_pod(registry, f"p{index}")
    await budget(registry, "web", allowed=2, current=4, desired=2)
    results = await asyncio.gather(*(evict(registry, f"p{index}") for index in range(4)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, StatusError)]
    assert len(refused) == 2 and all(r.code == 429 for r in refused), results
    status = (await current(registry, "poddisruptionbudgets", "web", "policy"))["status"]
    assert status["disruptionsAllowed"] == 0 and len(status["disruptedPods"]) == 2


async def test_a_uid_precondition_that_does_not_match_is_a_conflict(registry: Registry) -> None:
    await running_pod(registry, "p1")
    body = {"metadata": {"name": "p1"}, "deleteOptions": {"preconditions": {"uid": "not-the-uid"}}}
    error = await expect_status(evict(registry, "p1", body), 409, "Conflict")
    assert error.message.startswith('Operation cannot be fulfilled on Pod "p1": the UID in the precondition (not-the-uid)')


async def test_the_body_must_name_the_pod_of_the_url(registry: Registry) -> None:
    await running_pod(registry, "p1")
    error = await expect_status(evict(registry, "p1", {"metadata": {"name": "p2"}}), 400, "BadRequest")
    assert error.message == "name in URL does not match name in Eviction object"
    await expect_status(evict(registry, "nope"), 404, "NotFound")
