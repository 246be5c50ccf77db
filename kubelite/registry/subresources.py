"""Subresources that speak another kind than their parent: scale (autoscaling/v1 Scale),
binding (pods to nodes) and eviction. Each is a view over the parent's Store.

Must not bypass the parent Store: every write goes through its update path.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from kubelite.api import errors
from kubelite.api.disruption import (
    ALWAYS_ALLOW,
    DISRUPTION_BUDGET_CAUSE,
    budgets_for_pod,
    disruption_target,
    pod_is_ready,
    set_pod_condition,
    update_disruption_allowed_condition,
)
from kubelite.api.jsonpatch import apply_json_patch
from kubelite.api.jsonvalue import copy_json
from kubelite.api.labels import selector_to_string
from kubelite.api.mergepatch import apply_merge_patch
from kubelite.registry.context import RequestContext, UserInfo
from kubelite.registry.store import DeleteOptions, ListOptions, Store
from kubelite.registry.strategy import now_rfc3339

Obj = dict[str, Any]


def _path_get(obj: Obj, path: str) -> Any:
    cur: Any = obj
    for part in path.lstrip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _path_set(obj: Obj, path: str, value: Any) -> None:
    parts = path.lstrip(".").split(".")
    cur = obj
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def _scale_paths(store: Store) -> tuple[str, str, str | None]:
    scale = store.info.extra.get("scale") if store.info.crd else None
    if isinstance(scale, dict):
        return scale.get("specReplicasPath", ".spec.replicas"), scale.get("statusReplicasPath", ".status.replicas"), scale.get(
            "labelSelectorPath"
        )
    return ".spec.replicas", ".status.replicas", None


def scale_of(store: Store, obj: Obj) -> Obj:
    spec_path, status_path, selector_path = _scale_paths(store)
    meta = obj["metadata"]
    status: Obj = {"replicas": _path_get(obj, status_path) or 0}
    if selector_path:
        selector = _path_get(obj, selector_path)
        if selector:
            status["selector"] = selector
    else:
        spec_selector = (obj.get("spec") or {}).get("selector")
        if isinstance(spec_selector, dict):
            if "matchLabels" in spec_selector or "matchExpressions" in spec_selector:
                status["selector"] = selector_to_string(spec_selector)
            else:  # ReplicationController: a plain map
                status["selector"] = ",".join(f"{k}={v}" for k, v in sorted(spec_selector.items()))
    scale_meta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": _path_get(obj, spec_path) or 0},
        "status": status,
    }


async def get_scale(store: Store, namespace: str, name: str) -> Obj:
    return scale_of(store, await store.get(namespace, name))


async def write_scale(
    store: Store, namespace: str, name: str, ctx: RequestContext, scale: Obj | None = None, patch: tuple[str, Any] | None = None
) -> Obj:
    """Update the parent's replicas from a Scale (PUT) or a patch of the Scale (PATCH)."""
    current = await store.get(namespace, name)
    current_scale = scale_of(store, current)
    if patch is not None:
        patch_type, document = patch
        if patch_type == "json":
            new_scale = apply_json_patch(current_scale, document)
        elif patch_type in ("merge", "strategic"):
            new_scale = apply_merge_patch(current_scale, document)
        else:
            raise errors.StatusError(415, "UnsupportedMediaType", f"patch type {patch_type} is not supported for scale")
    else:
        new_scale = scale or {}
    replicas = (new_scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.invalid(
            "Scale",
            "autoscaling",
            name,
            [errors.cause("spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0")],
        )
    rv = (new_scale.get("metadata") or {}).get("resourceVersion", "")
    if rv and rv != current["metadata"]["resourceVersion"]:
        raise errors.stale_conflict(store.info.resource, store.info.group, name)
    updated = copy.deepcopy(current)
    spec_path, _, _ = _scale_paths(store)
    _path_set(updated, spec_path, replicas)
    result, _ = await store.update(namespace, name, updated, ctx, subresource="scale")
    return scale_of(store, result)


async def bind(pods: Store, namespace: str, name: str, binding: Obj, ctx: RequestContext) -> None:
    """pods/binding: set spec.nodeName once and PodScheduled=True, in one write that (as upstream's)
    skips admission and managedFields."""
    target = (binding or {}).get("target") or {}
    node = target.get("name")
    if not node:
        raise errors.invalid("Binding", "", name, [errors.cause("target.name", "Required value", "FieldValueRequired")])

    def assign(pod: Obj) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.conflict("pods", "", name, "pod is being deleted, cannot be assigned to a host")
        if (pod.get("spec") or {}).get("nodeName"):
            raise errors.conflict("pods", "", name, f'pod {name} is already assigned to node "{pod["spec"]["nodeName"]}"')
        pod["spec"]["nodeName"] = node
        status = pod.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now_rfc3339()})
        status["conditions"] = conditions

    await pods.guaranteed_update(namespace, name, assign, ctx)


EVICTION_ATTEMPTS = 20  # upstream EvictionsRetry steps
MAX_DISRUPTED_PODS = 2000
EVICTION_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_BUDGETS = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."


async def evict(pods: Store, namespace: str, name: str, eviction: Obj, ctx: RequestContext) -> None:
    """pods/eviction as upstream's EvictionREST: a pod that is terminal, Pending or already being
    deleted is deleted at once; otherwise the one PodDisruptionBudget selecting it must allow a
    disruption, which is taken (disruptionsAllowed decremented, the pod recorded in disruptedPods)
    in one compare-and-swap write of the budget's status before the pod gets its DisruptionTarget
    condition and is deleted. Unready pods pass without taking a disruption when the budget is
    healthy anyway or its unhealthyPodEvictionPolicy is AlwaysAllow."""
    eviction = eviction or {}
    body_name = (eviction.get("metadata") or {}).get("name")
    if body_name and body_name != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    options = eviction.get("deleteOptions") or {}
    if options.get("dryRun") and not ctx.dry_run:
        ctx = dataclasses.replace(ctx, dry_run=True)
    preconditions = options.get("preconditions") or {}
    requested = DeleteOptions(
        propagation_policy=options.get("propagationPolicy") or "",
        grace_period_seconds=options.get("gracePeriodSeconds"),
        precondition_uid=preconditions.get("uid") or "",
        precondition_rv=preconditions.get("resourceVersion") or "",
    )
    caller_pinned_version = bool(requested.precondition_rv)

    pod: Obj = {}
    conflict: errors.StatusError | None = None
    for _ in range(EVICTION_ATTEMPTS):
        pod = await pods.get(namespace, name)
        if not _budgets_do_not_apply(pod):
            break
        opts = requested
        if _pin_version(pod) and not caller_pinned_version:
            opts = dataclasses.replace(requested, precondition_rv=pod["metadata"]["resourceVersion"])
        try:
            await _mark_and_delete(pods, namespace, name, opts, ctx)
            return
        except errors.StatusError as exc:
            if exc.code != 409 or caller_pinned_version:
                raise
            conflict = exc
    else:
        assert conflict is not None
        raise conflict

    budgets = await _budgets_selecting(pods, pod)
    if len(budgets) > 1:
        raise errors.StatusError(500, "", MULTIPLE_BUDGETS)
    unhealthy_pass = False
    budget_name = ""
    if budgets:
        budget = budgets[0]
        budget_name = budget["metadata"]["name"]
        if not pod_is_ready(pod):
            status = budget.get("status") or {}
            desired = int(status.get("desiredHealthy") or 0)
            always = (budget.get("spec") or {}).get("unhealthyPodEvictionPolicy") == ALWAYS_ALLOW
            healthy_enough = desired > 0 and int(status.get("currentHealthy") or 0) >= desired
            unhealthy_pass = always or healthy_enough
        if not unhealthy_pass:
            await _take_disruption(pods, budget, name, ctx.dry_run)
    opts = requested
    if unhealthy_pass:
        opts = dataclasses.replace(requested, precondition_rv=pod["metadata"]["resourceVersion"])
    try:
        await _mark_and_delete(pods, namespace, name, opts, ctx)
    except errors.StatusError as exc:
        if exc.code == 409 and unhealthy_pass and not caller_pinned_version:
            raise _budget_in_progress(budget_name) from None
        raise


def _budget_writer() -> RequestContext:
    """Who writes a budget's status for an eviction: the API server itself (a fresh context, since
    a write may add warnings to it)."""
    return RequestContext(user=UserInfo("system:apiserver", ("system:masters",)), field_manager="kube-apiserver")


def _budgets_do_not_apply(pod: Obj) -> bool:
    """upstream canIgnorePDB: finished, not yet running, or already going."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def _pin_version(pod: Obj) -> bool:
    """upstream shouldEnforceResourceVersion: delete only the version judged (unless it is done or going)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def _too_many_requests(budget_message: str, retry_after: int) -> errors.StatusError:
    details: Obj = {"causes": [{"reason": DISRUPTION_BUDGET_CAUSE, "message": budget_message}]}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    return errors.StatusError(429, "TooManyRequests", EVICTION_REFUSED, details)


def _budget_in_progress(budget: str) -> errors.StatusError:
    return _too_many_requests(f"The disruption budget {budget} is still being processed by the server.", 10)


def _budget_forbidden(budget: str, why: str) -> errors.StatusError:
    return errors.StatusError(
        403,
        "Forbidden",
        f'poddisruptionbudget.policy "{budget}" is forbidden: {why}',
        {"name": budget, "group": "policy", "kind": "poddisruptionbudget"},
    )


async def _budgets_selecting(pods: Store, pod: Obj) -> list[Obj]:
    store = pods.registry.store_for("policy", "poddisruptionbudgets")
    if store is None:
        return []
    listed = await store.list(pod["metadata"].get("namespace") or "", ListOptions(), copy=False)
    return [dict(budget) for budget in budgets_for_pod(listed.items, pod)]


async def _take_disruption(pods: Store, budget: Obj, pod_name: str, dry_run: bool) -> None:
    """upstream checkAndDecrement, retried on conflict with a fresh read of the budget."""
    store = pods.registry.store_for("policy", "poddisruptionbudgets")
    assert store is not None
    namespace = budget["metadata"].get("namespace") or ""
    name = budget["metadata"]["name"]
    conflict: errors.StatusError | None = None
    for attempt in range(EVICTION_ATTEMPTS):
        if attempt:
            budget = await store.get(namespace, name, copy=False)
        status = budget.get("status") or {}
        if int(status.get("observedGeneration") or 0) < int(budget["metadata"].get("generation") or 0):
            raise _budget_in_progress(name)
        allowed = int(status.get("disruptionsAllowed") or 0)
        if allowed < 0:
            raise _budget_forbidden(name, "pdb disruptions allowed is negative")
        if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
            raise _budget_forbidden(name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller")
        if allowed == 0:
            raise _too_many_requests(
                f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} healthy pods "
                f"and has {int(status.get('currentHealthy') or 0)} currently",
                0,
            )
        if dry_run:
            return
        now = now_rfc3339()
        updated = copy_json(budget)
        new_status = updated.setdefault("status", {})
        new_status["disruptionsAllowed"] = allowed - 1
        if allowed - 1 == 0:
            update_disruption_allowed_condition(new_status, now)
        new_status["disruptedPods"] = {**(new_status.get("disruptedPods") or {}), pod_name: now}
        try:
            await store.update(namespace, name, updated, _budget_writer(), subresource="status")
            return
        except errors.StatusError as exc:
            if exc.code != 409:
                raise
            conflict = exc
    assert conflict is not None
    raise conflict


async def _mark_and_delete(pods: Store, namespace: str, name: str, opts: DeleteOptions, ctx: RequestContext) -> None:
    """upstream addConditionAndDeletePod: the DisruptionTarget condition on the latest pod (checked
    against the delete preconditions; a pinned resourceVersion follows our own write), then delete."""
    if not ctx.dry_run:
        for _ in range(EVICTION_ATTEMPTS):
            current = await pods.get(namespace, name)
            meta = current["metadata"]
            if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
                raise errors.conflict(
                    "Pod",
                    "",
                    name,
                    f"the UID in the precondition ({opts.precondition_uid}) does not match the UID in record "
                    f"({meta.get('uid')}). The object might have been deleted and then recreated",
                )
            if opts.precondition_rv and opts.precondition_rv != meta.get("resourceVersion"):
                raise errors.conflict(
                    "Pod",
                    "",
                    name,
                    f"the ResourceVersion in the precondition ({opts.precondition_rv}) does not match the "
                    f"ResourceVersion in record ({meta.get('resourceVersion')}). The object might have been modified",
                )
            status = current.setdefault("status", {})
            condition = disruption_target("EvictionByEvictionAPI", "Eviction API: evicting")
            if not set_pod_condition(status, condition, now_rfc3339()):
                break
            try:
                updated, _ = await pods.update(namespace, name, current, ctx, subresource="status")
            except errors.StatusError as exc:
                if exc.code == 409 and "modified" in exc.message:
                    continue
                raise
            if opts.precondition_rv:
                opts = dataclasses.replace(opts, precondition_rv=updated["metadata"]["resourceVersion"])
            break
    await pods.delete(namespace, name, opts, ctx)
