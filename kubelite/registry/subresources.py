"""Subresources that speak another kind than their parent: scale (autoscaling/v1 Scale),
binding (pods to nodes) and eviction. Each is a view over the parent's Store.

Must not bypass the parent Store: every write goes through its update path.
"""

from __future__ import annotations

import copy
from typing import Any

from kubelite.api import errors
from kubelite.api.jsonpatch import apply_json_patch
from kubelite.api.labels import selector_to_string
from kubelite.api.mergepatch import apply_merge_patch
from kubelite.registry.context import RequestContext
from kubelite.registry.store import DeleteOptions, Store
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


async def evict(pods: Store, namespace: str, name: str, eviction: Obj, ctx: RequestContext) -> None:
    """pods/eviction: delete the pod (disruption budgets are checked by a later layer)."""
    options = (eviction or {}).get("deleteOptions") or {}
    await pods.delete(
        namespace,
        name,
        DeleteOptions(
            propagation_policy=options.get("propagationPolicy") or "",
            grace_period_seconds=options.get("gracePeriodSeconds"),
            precondition_uid=(options.get("preconditions") or {}).get("uid") or "",
            precondition_rv=(options.get("preconditions") or {}).get("resourceVersion") or "",
        ),
        ctx,
    )
