"""ControllerRevisions as the DaemonSet and StatefulSet controllers keep them (upstream
pkg/controller/history and the controllers' getPatch / Match / snapshot): a revision's `data` is
the strategic merge patch `{"spec": {"template": {..., "$patch": "replace"}}}` that puts the owner's
pod template back (what `kubectl rollout undo` sends); its name is `<owner>-<hash>` and the hash,
FNV-32a of the patch's canonical JSON and the collision count, is also its
`controller-revision-hash` label. It finds the revision for an owner's current template (an older
equal revision is renumbered to the next number, which is how a rollback shows up in `kubectl
rollout history`), creates one otherwise (a name taken by different data raises the collision
count), applies a revision back to an owner, and truncates history beyond revisionHistoryLimit.

Must not decide which revisions an owner controls (the caller claims them) nor know anything
that differs between DaemonSets and StatefulSets; must not mutate the objects it is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from kubelite.api.errors import StatusError
from kubelite.client.client import ResourceClient
from kubelite.controllers.deploymentutil import fnv32a, safe_encode
from kubelite.controllers.podutil import creation_time

Obj = dict[str, Any]

CONTROLLER_REVISION_HASH = "controller-revision-hash"
API_VERSION = "apps/v1"
KIND = "ControllerRevision"
MAX_NAME_PREFIX = 223  # upstream ControllerRevisionName keeps names within 253 characters
PATCH_DIRECTIVE = "$patch"


def template_patch(owner: Obj) -> Obj:
    """The revision data restoring owner's pod template (upstream getPatch), shaped as Go marshals
    it: keys sorted, the template's `creationTimestamp: null` and each container's `resources: {}`
    present. kubectl compares these bytes with its own rendering of the owner to tell that a
    `rollout undo` would change nothing."""
    template = go_shaped_template(((owner.get("spec") or {}).get("template")) or {})
    return {"spec": {"template": {PATCH_DIRECTIVE: "replace", **template}}}


def go_shaped_template(template: Obj) -> Obj:
    """A copy of a pod template with the fields Go always emits and every map's keys sorted."""
    shaped = _sorted_copy(template)
    metadata = shaped.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    shaped["metadata"] = _sorted_copy({"creationTimestamp": None, **metadata})
    spec = shaped.get("spec")
    if isinstance(spec, dict):
        for field in _CONTAINER_LISTS:
            for index, container in enumerate(spec.get(field) or ()):
                if isinstance(container, dict) and "resources" not in container:
                    spec[field][index] = _sorted_copy({**container, "resources": {}})
    return _sorted_copy(shaped)


_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _sorted_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted_copy(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_copy(item) for item in value]
    return value


def canonical(data: Any) -> bytes:
    """Compact JSON with sorted keys, as Go marshals a map."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def revision_hash(data: Obj, collision_count: int) -> str:
    value = fnv32a(canonical(data))
    value = fnv32a(str(collision_count).encode(), value)
    return safe_encode(str(value))


def revision_name(owner_name: str, hash_value: str) -> str:
    return f"{owner_name[:MAX_NAME_PREFIX]}-{hash_value}"


def revision_number(revision: Obj) -> int:
    return int(revision.get("revision") or 0)


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """Oldest first: by revision number, then creation time, then name (upstream byRevision)."""
    return sorted(
        revisions,
        key=lambda r: (revision_number(r), creation_time(r), (r.get("metadata") or {}).get("name", "")),
    )


def next_revision_number(ordered: list[Obj]) -> int:
    return revision_number(ordered[-1]) + 1 if ordered else 1


def equal_revision(a: Obj, b: Obj) -> bool:
    return a.get("data") == b.get("data")


def revision_label(revision: Obj) -> str:
    return str(((revision.get("metadata") or {}).get("labels") or {}).get(CONTROLLER_REVISION_HASH, ""))


def new_revision(owner: Obj, ref: Obj, number: int, collision_count: int) -> Obj:
    """The ControllerRevision snapshotting owner's template (upstream NewControllerRevision plus the
    owner's annotations, which `kubectl rollout history` shows as the change cause)."""
    meta = owner["metadata"]
    data = template_patch(owner)
    hash_value = revision_hash(data, collision_count)
    template_labels = ((owner["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    metadata: Obj = {
        "name": revision_name(meta["name"], hash_value),
        "namespace": meta.get("namespace", ""),
        "labels": {**template_labels, CONTROLLER_REVISION_HASH: hash_value},
        "ownerReferences": [ref],
    }
    if meta.get("annotations"):
        metadata["annotations"] = dict(meta["annotations"])
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "data": data, "revision": number}


def apply_revision(owner: Obj, revision: Obj) -> Obj:
    """A copy of owner whose spec.template is the one the revision restores (upstream
    ApplyRevision; the patch replaces the template whole, so this is that replacement)."""
    template = dict((((revision.get("data") or {}).get("spec") or {}).get("template")) or {})
    template.pop(PATCH_DIRECTIVE, None)
    return {**owner, "spec": {**(owner.get("spec") or {}), "template": template}}


async def update_revision(
    revisions: ResourceClient, owner: Obj, ref: Obj, owned: list[Obj], collision_count: int
) -> tuple[Obj, int]:
    """The revision of owner's current template and the collision count to keep in its status
    (upstream getStatefulSetRevisions / constructHistory): the newest equal revision, renumbered
    past every other one when it is not already the newest; otherwise a new revision."""
    ordered = sort_revisions(owned)
    number = next_revision_number(ordered)
    data = template_patch(owner)
    equal = [revision for revision in ordered if revision.get("data") == data]
    if equal:
        found = equal[-1]
        if found is ordered[-1]:
            return found, collision_count
        renumbered = {**found, "revision": number}
        namespace = found["metadata"].get("namespace") or ""
        return await revisions.namespace(namespace).update(renumbered), collision_count
    return await create_revision(revisions, owner, ref, number, collision_count)


async def create_revision(
    revisions: ResourceClient, owner: Obj, ref: Obj, number: int, collision_count: int
) -> tuple[Obj, int]:
    """Create the revision, raising the collision count while its name is taken by a revision
    holding other data (upstream CreateControllerRevision)."""
    namespace = owner["metadata"].get("namespace") or ""
    target = revisions.namespace(namespace)
    while True:
        body = new_revision(owner, ref, number, collision_count)
        try:
            return await target.create(body), collision_count
        except StatusError as err:
            if err.code != 409:
                raise
        existing = await target.get(body["metadata"]["name"])
        if existing.get("data") == body["data"]:
            return existing, collision_count
        collision_count += 1


async def truncate_history(
    revisions: ResourceClient, owned: list[Obj], live: set[str], limit: int | None
) -> list[str]:
    """Delete the oldest revisions whose names are not live until at most `limit` non-live ones
    remain (upstream truncateHistory / cleanupHistory). Returns the names deleted."""
    if limit is None or limit < 0:
        return []
    history = [r for r in sort_revisions(owned) if r["metadata"]["name"] not in live]
    surplus = len(history) - limit
    deleted: list[str] = []
    for revision in history[: max(surplus, 0)]:
        meta = revision["metadata"]
        try:
            await revisions.namespace(meta.get("namespace") or "").delete(
                meta["name"], uid=meta.get("uid", "")
            )
        except StatusError as err:
            if err.code not in (404, 409):
                raise
        deleted.append(meta["name"])
    return deleted
