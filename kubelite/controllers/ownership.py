"""Controller ownerReferences as upstream's ControllerRefManager: find an object's controller,
build a controllerRef, adopt an orphan (strategic patch adding the ref, with the object's uid as a
precondition), release an object that stopped matching, and claim a set of candidates.

Must not decide which objects are candidates (the caller lists them) nor cache anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.api.labels import LabelSelector, LabelSelectorError, selector_from_spec
from kubelite.client.cache import Indexer
from kubelite.client.client import ResourceClient

Obj = dict[str, Any]


def controller_ref(obj: Obj) -> Obj | None:
    """The ownerReference with controller=true, if any (upstream metav1.GetControllerOf)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref  # type: ignore[no-any-return]
    return None


def new_controller_ref(owner: Obj, api_version: str, kind: str) -> Obj:
    meta = owner["metadata"]
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def resolve_controller(cache: Indexer, namespace: str, ref: Obj | None, kind: str) -> Obj | None:
    """The cached owner a controllerRef names: kind, name and uid must all match (a recreated owner
    of the same name is someone else)."""
    if ref is None or ref.get("kind") != kind:
        return None
    owner = cache.get_by_name(namespace, ref.get("name", ""))
    if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
        return None
    return owner


def spec_selector(owner: Obj) -> LabelSelector:
    return selector_from_spec((owner.get("spec") or {}).get("selector"))


def owners_selecting(
    cache: Indexer, obj: Obj, selector_of: Callable[[Obj], LabelSelector] = spec_selector
) -> list[Obj]:
    """The cached owners in obj's namespace whose (valid, non-empty) selector matches its labels:
    the candidates to adopt an orphan."""
    labels = obj["metadata"].get("labels")
    if not labels:
        return []
    found = []
    for owner in cache.list_namespace(obj["metadata"].get("namespace") or ""):
        try:
            selector = selector_of(owner)
        except LabelSelectorError:
            continue
        if not selector.is_empty and selector.matches(labels):
            found.append(owner)
    return found


def owners_to_sync_on_update(
    old: Obj,
    new: Obj,
    resolve: Callable[[str, Obj | None], Obj | None],
    candidates: Callable[[Obj], list[Obj]],
    ready: Callable[[Obj], bool],
) -> list[tuple[Obj, bool]]:
    """Upstream's updatePod, the owner side: (owner, again_after_min_ready) pairs — the previous
    controller when the controllerRef changed; the current one (flagged to be synced again after
    its minReadySeconds when the object just became ready); or, for an orphan whose labels or
    controllerRef changed, every owner that could adopt it."""
    namespace = new["metadata"].get("namespace") or ""
    old_ref, new_ref = controller_ref(old), controller_ref(new)
    found: list[tuple[Obj, bool]] = []
    if old_ref != new_ref and old_ref is not None:
        previous = resolve(namespace, old_ref)
        if previous is not None:
            found.append((previous, False))
    if new_ref is not None:
        owner = resolve(namespace, new_ref)
        if owner is not None:
            min_ready = (owner.get("spec") or {}).get("minReadySeconds") or 0
            found.append((owner, min_ready > 0 and not ready(old) and ready(new)))
        return found
    if old_ref != new_ref or old["metadata"].get("labels") != new["metadata"].get("labels"):
        found.extend((owner, False) for owner in candidates(new))
    return found


def is_deleting(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


async def adopt(resource: ResourceClient, obj: Obj, ref: Obj) -> Obj:
    """Add `ref` as obj's controller; fails if obj was replaced (uid) or already has one."""
    meta = obj["metadata"]
    patch = {"metadata": {"ownerReferences": [ref], "uid": meta["uid"]}}
    return await resource.namespace(meta.get("namespace") or "").patch(meta["name"], patch, "strategic")


async def release(resource: ResourceClient, obj: Obj, owner_uid: str) -> None:
    """Drop the owner's reference from obj; an object that is gone or changed is left alone."""
    meta = obj["metadata"]
    patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}], "uid": meta["uid"]}}
    try:
        await resource.namespace(meta.get("namespace") or "").patch(meta["name"], patch, "strategic")
    except StatusError as err:
        if err.code not in (404, 422):
            raise


async def claim(
    resource: ResourceClient,
    owner: Obj,
    ref: Obj,
    selector: LabelSelector,
    candidates: list[Obj],
    can_adopt: Callable[[], Awaitable[None]],
) -> list[Obj]:
    """The candidates `owner` controls after adopting matching orphans and releasing owned objects
    that no longer match (upstream ClaimObject). `can_adopt` raises when the owner may not adopt
    (upstream RecheckDeletionTimestamp); it is called at most once. The first write error is
    raised after every candidate was handled."""
    owner_uid = owner["metadata"]["uid"]
    owner_deleting = is_deleting(owner)
    claimed: list[Obj] = []
    failure: Exception | None = None
    adoption_checked = False
    for obj in candidates:
        labels = (obj.get("metadata") or {}).get("labels")
        current = controller_ref(obj)
        try:
            if current is not None:
                if current.get("uid") != owner_uid:
                    continue
                if selector.matches(labels):
                    claimed.append(obj)
                elif not owner_deleting:
                    await release(resource, obj, owner_uid)
                continue
            if owner_deleting or is_deleting(obj) or not selector.matches(labels):
                continue
            if not adoption_checked:
                await can_adopt()
                adoption_checked = True
            claimed.append(await adopt(resource, obj, ref))
        except StatusError as err:
            if err.code == 404:
                continue
            failure = failure or err
    if failure is not None:
        raise failure
    return claimed


def fresh_owner_check(resource: ResourceClient, owner: Obj) -> Callable[[], Awaitable[None]]:
    """A `can_adopt` that re-reads the owner uncached: it must still be the same object and not
    being deleted (upstream RecheckDeletionTimestamp)."""
    meta = owner["metadata"]

    async def check() -> None:
        fresh = await resource.namespace(meta.get("namespace") or "").get(meta["name"])
        if fresh["metadata"].get("uid") != meta["uid"]:
            raise RuntimeError(f"original {meta['name']} is gone: got uid {fresh['metadata'].get('uid')}")
        if is_deleting(fresh):
            raise RuntimeError(f"{meta['name']} has just been deleted")

    return check
