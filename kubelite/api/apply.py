"""Server-side apply and managedFields tracking (upstream k8s.io/apimachinery managedfields and
sigs.k8s.io/structured-merge-diff merge/typed), on plain JSON-shaped objects.

- `apply_patch`: merge an applied configuration into the live object, prune what the applier
  stopped applying, detect conflicts with other managers and record the applier's field set.
- `track_update`: after a create/update/patch, give the changed fields to the writer
  (operation "Update") and take them away from everybody else.
- `validate_managed_fields` / `managed_fields_causes`: the ObjectMeta checks upstream runs on
  managedFields (kubelite.schema's ObjectMeta validation uses them too).

Objects passed in are never mutated. The managedFields of `live`/`old` are trusted to be in the
canonical spelling this module writes; managedFields sent by a client are re-read and
canonicalised. Returned objects may share unchanged `fieldsV1` subtrees with the input objects:
treat managedFields as read-only.

This module must not know HTTP, storage, defaulting or validation of the object itself, and must
not load schemas: the caller passes the kind's SchemaNode.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from kubelite.api.errors import StatusError, bad_request, cause
from kubelite.api.fieldpath import (
    DOT,
    LEAF,
    LISTLIKE,
    MAPLIKE,
    MISSING,
    STRUCT,
    FieldSet,
    SchemaError,
    Shape,
    Shapes,
    container_form,
    difference_children,
    encode_tree,
    ensure_named_fields_are_members,
    field_set_of,
    intersection_children,
    is_member,
    list_item_pe,
    make_node,
    path_string,
    recursive_difference_children,
    union_children,
)
from kubelite.api.gofmt import go_json, go_quote
from kubelite.api.schematypes import SchemaNode

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES_MANAGER = "ancient-changes"
BEFORE_FIRST_APPLY_MANAGER = "before-first-apply"
_KUBECTL = "kubectl"
_TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
_FIELD_MANAGER_MAX_LENGTH = 128
_MAX_SUBRESOURCE_NAME_LENGTH = 256

# Fields never recorded in managedFields (upstream stripMetaManager).
_STRIP: dict[str, Any] = {
    "f:apiVersion": {},
    "f:kind": {},
    "f:metadata": {
        "f:name": {},
        "f:namespace": {},
        "f:creationTimestamp": {},
        "f:selfLink": {},
        "f:uid": {},
        "f:clusterName": {},
        "f:generation": {},
        "f:managedFields": {},
        "f:resourceVersion": {},
        DOT: {},
    },
}


def default_reset_fields(subresource: str = "") -> FieldSet:
    """The fields a write through the main resource (status) or the status subresource (spec)
    may not own, as most upstream strategies reset them. Resources whose strategy differs (no
    status subresource, or extra reset fields) pass their own set."""
    if subresource == "status":
        return FieldSet({"f:spec": {}})
    if subresource:
        return FieldSet()
    return FieldSet({"f:status": {}})


# ---------------------------------------------------------------------------------------------
# managedFields entries
# ---------------------------------------------------------------------------------------------


class _Entry:
    """One managedFields entry; `fields` is a set tree. `source` is the wire dict it was read from,
    reused as is while nothing changes; `origin` is the stored fieldsV1 tree, whose unchanged
    subtrees are reused when the entry is written again."""

    __slots__ = ("manager", "operation", "api_version", "subresource", "fields", "time", "source", "origin")

    def __init__(
        self,
        manager: str,
        operation: str,
        api_version: str,
        subresource: str,
        fields: dict[str, Any],
        time: str | None,
        source: dict[str, Any] | None = None,
        origin: dict[str, Any] | None = None,
    ):
        self.manager = manager
        self.operation = operation
        self.api_version = api_version
        self.subresource = subresource
        self.fields = fields
        self.time = time
        self.source = source
        self.origin = origin

    def key(self) -> tuple[str, str, str, str]:
        return _key(self.manager, self.operation, self.api_version, self.subresource)

    def copy(self) -> _Entry:
        return _Entry(
            self.manager,
            self.operation,
            self.api_version,
            self.subresource,
            self.fields,
            self.time,
            self.source,
            self.origin,
        )

    def set_fields(self, fields: dict[str, Any]) -> None:
        if fields is not self.fields:
            self.fields = fields
            self.source = None

    def set_time(self, time: str | None) -> None:
        if time != self.time:
            self.time = time
            self.source = None

    def wire(self) -> dict[str, Any]:
        if self.source is not None:
            return self.source
        out: dict[str, Any] = {}
        if self.manager:
            out["manager"] = self.manager
        out["operation"] = self.operation
        out["apiVersion"] = self.api_version
        if self.time is not None:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = encode_tree(self.fields, self.origin)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


_Key = tuple[str, str, str, str]
_Managed = dict[_Key, _Entry]


def _key(manager: str, operation: str, api_version: str, subresource: str) -> _Key:
    # Upstream BuildManagerIdentifier: appliers are identified without their apiVersion.
    return (manager, operation, "" if operation == "Apply" else api_version, subresource)


def _identifier(key: _Key) -> str:
    """Upstream's manager identifier (the JSON of the identifying fields), used for ordering."""
    manager, operation, api_version, subresource = key
    parts = []
    if manager:
        parts.append('"manager":' + go_json(manager))
    parts.append('"operation":' + go_json(operation))
    if api_version:
        parts.append('"apiVersion":' + go_json(api_version))
    if subresource:
        parts.append('"subresource":' + go_json(subresource))
    return "{" + ",".join(parts) + "}"


def _decode(raw: Any, trusted: bool) -> _Managed:
    """Read managedFields (upstream DecodeManagedFields); raises ValueError when malformed."""
    out: _Managed = {}
    if raw is None:
        return out
    if not isinstance(raw, list):
        raise ValueError("managedFields must be a list")
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise ValueError(f"managed fields entry {i} must be an object")
        operation = entry.get("operation")
        if operation not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion") or ""
        if not api_version:
            raise ValueError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType") or ""
        if fields_type != "FieldsV1":
            if not fields_type:
                raise ValueError(f"missing fieldsType in managed fields entry {i}")
            raise ValueError(f"invalid fieldsType {go_quote(str(fields_type))} in managed fields entry {i}")
        raw_fields = entry.get("fieldsV1")
        if trusted and (raw_fields is None or type(raw_fields) is dict):
            fields: dict[str, Any] = raw_fields or {}
        else:
            try:
                fields = FieldSet.from_fields_v1(raw_fields).root
            except ValueError as exc:
                raise ValueError(
                    f"error decoding versioned set from {entry}: error decoding set: {exc}"
                ) from None
        manager = entry.get("manager") or ""
        subresource = entry.get("subresource") or ""
        time = entry.get("time")
        decoded = _Entry(
            manager,
            operation,
            api_version,
            subresource,
            fields,
            time,
            entry if trusted else None,
            fields if trusted else None,
        )
        out[decoded.key()] = decoded
    return out


def _seconds(time: str | None) -> float:
    if not time:
        return 0.0
    try:
        return float(int(datetime.fromisoformat(time).timestamp()))
    except ValueError:
        return 0.0


def _encode(managed: _Managed) -> list[dict[str, Any]] | None:
    """The managedFields list (upstream encodeManagedFields): empty sets dropped, entries ordered by
    operation, time, manager, apiVersion, subresource."""
    entries = [e for e in managed.values() if e.fields]
    if not entries:
        return None
    entries.sort(key=lambda e: (e.operation, _seconds(e.time), e.manager, e.api_version, e.subresource))
    return [e.wire() for e in entries]


def _is_reset(raw: Any) -> bool:
    """Upstream isResetManagedFields: `[]` or `[{}]` asks to clear managedFields."""
    if not isinstance(raw, list):
        return False
    if not raw:
        return True
    if len(raw) == 1 and isinstance(raw[0], dict):
        return all(v is None or v == "" for v in raw[0].values())
    return False


def _cap_update_managers(managed: _Managed) -> None:
    """Merge the oldest Update entries into per-version "ancient-changes" entries until at most
    MAX_UPDATE_MANAGERS Update entries are left (upstream capManagersManager)."""
    updaters = [k for k, e in managed.items() if e.operation == "Update" and e.fields]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda k: (_seconds(managed[k].time), _identifier(k)))
    first_of_version: dict[str, _Key] = {}
    length = len(updaters)
    for key in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        entry = managed[key]
        version = entry.api_version
        bucket_key = _key(ANCIENT_CHANGES_MANAGER, "Update", version, "")
        if version not in first_of_version:
            first_of_version[version] = key
            continue
        if key == bucket_key:
            continue  # upstream would merge the bucket into itself and then delete it
        if bucket_key not in managed:
            first = managed.pop(first_of_version[version])
            managed[bucket_key] = _Entry(
                ANCIENT_CHANGES_MANAGER, "Update", version, "", first.fields, first.time
            )
        bucket = managed[bucket_key]
        bucket.set_fields(union_children(entry.fields, bucket.fields))
        bucket.set_time(entry.time)
        del managed[key]
        length -= 1


# ---------------------------------------------------------------------------------------------
# Object walks: compare, merge, remove
# ---------------------------------------------------------------------------------------------


def _equal(a: Any, b: Any) -> bool:
    """Upstream value.Equals: numbers compare numerically, booleans are not numbers."""
    if a is b:
        return True
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is dict:
            return len(a) == len(b) and all(k in b and _equal(v, b[k]) for k, v in a.items())
        if ta is list:
            return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
        return bool(a == b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return bool(a == b)
    return False


def _same(a: Any, b: Any) -> bool:
    """Cheap subtree check used to skip unchanged parts (C-level ==; types must agree at the top)."""
    return a is b or (type(a) is type(b) and a == b)


def _compare(old: dict[str, Any], new: dict[str, Any], shape: Shape) -> tuple[dict[str, Any], ...]:
    """Upstream TypedValue.Compare: the (added, removed, modified) set trees from old to new."""
    added: dict[str, Any] = {}
    removed: dict[str, Any] = {}
    modified: dict[str, Any] = {}
    _compare_map(old, new, shape, added, removed, modified)
    return added, removed, modified


def _compare_map(
    old: dict[str, Any],
    new: dict[str, Any],
    shape: Shape,
    a: dict[str, Any],
    r: dict[str, Any],
    m: dict[str, Any],
) -> None:
    for key, nv in new.items():
        ov = old.get(key, MISSING)
        if ov is not MISSING and _same(ov, nv):
            continue
        pe = "f:" + key
        try:
            _compare_node(ov, nv, shape.field(key), pe, a, r, m)
        except SchemaError as err:
            err.reversed_path.append(pe)
            raise
    for key, ov in old.items():
        if key not in new:
            _compare_node(ov, MISSING, shape.field(key), "f:" + key, a, r, m)


def _compare_list(
    old: list[Any], new: list[Any], shape: Shape, a: dict[str, Any], r: dict[str, Any], m: dict[str, Any]
) -> None:
    old_items = _index(old, shape)
    new_items = _index(new, shape)
    elem = shape.elem()
    for pe, nv in new_items.items():
        ov = old_items.get(pe, MISSING)
        if ov is not MISSING and _same(ov, nv):
            continue
        try:
            _compare_node(ov, nv, elem, pe, a, r, m)
        except SchemaError as err:
            err.reversed_path.append(pe)
            raise
    for pe, ov in old_items.items():
        if pe not in new_items:
            _compare_node(ov, MISSING, elem, pe, a, r, m)


def _index(items: list[Any], shape: Shape) -> dict[str, Any]:
    """Elements by path element; the first of duplicated elements wins (upstream compare)."""
    out: dict[str, Any] = {}
    for i, item in enumerate(items):
        pe = list_item_pe(item, shape, i)
        if pe not in out:
            out[pe] = item
    return out


def _compare_children(
    old: Any, new: Any, shape: Shape, a: dict[str, Any], r: dict[str, Any], m: dict[str, Any]
) -> None:
    if shape.kind in MAPLIKE:
        _compare_map(old, new, shape, a, r, m)
    else:
        _compare_list(old, new, shape, a, r, m)


def _whole(value: Any, shape: Shape) -> dict[str, Any]:
    """The node of a value that exists on one side only: it and everything below it."""
    kind = shape.kind
    if kind in MAPLIKE:
        if type(value) is not dict or not value:
            return {}
        children: dict[str, Any] = {}
        for key, child in value.items():
            pe = "f:" + key
            try:
                children[pe] = _whole(child, shape.field(key))
            except SchemaError as err:
                err.reversed_path.append(pe)
                raise
        children[DOT] = {}
        return children
    if kind in LISTLIKE:
        if type(value) is not list or not value:
            return {}
        children = {}
        elem = shape.elem()
        for pe, item in _index(value, shape).items():
            try:
                children[pe] = _whole(item, elem)
            except SchemaError as err:
                err.reversed_path.append(pe)
                raise
        children[DOT] = {}
        return children
    return {}


def _compare_node(
    ov: Any, nv: Any, shape: Shape, pe: str, a: dict[str, Any], r: dict[str, Any], m: dict[str, Any]
) -> None:
    if ov is MISSING:
        a[pe] = _whole(nv, shape)
        return
    if nv is MISSING:
        r[pe] = _whole(ov, shape)
        return
    kind = shape.kind
    if kind != LEAF:
        old_form = 0 if ov is MISSING else container_form(ov, kind)
        new_form = 0 if nv is MISSING else container_form(nv, kind)
        empty: Any = [] if kind in LISTLIKE else {}
        if old_form >= 0 and new_form >= 0:
            if (old_form == 1 and ov) or (new_form == 1 and nv):
                ca: dict[str, Any] = {}
                cr: dict[str, Any] = {}
                cm: dict[str, Any] = {}
                _compare_children(
                    ov if old_form == 1 else empty, nv if new_form == 1 else empty, shape, ca, cr, cm
                )
                node = make_node(ca, ov is MISSING)
                if node is not None:
                    a[pe] = node
                node = make_node(cr, nv is MISSING)
                if node is not None:
                    r[pe] = node
                if cm:
                    m[pe] = cm
                return
        elif old_form == 1 and ov and nv is not MISSING:
            # A container replaced by another kind of value (deduced fields): the value changed,
            # and everything below the old container went away.
            m[pe] = {}
            cr = {}
            _compare_children(ov, empty, shape, {}, cr, {})
            if cr:
                r[pe] = cr
            return
        elif new_form == 1 and nv and ov is not MISSING:
            m[pe] = {}
            ca = {}
            _compare_children(empty, nv, shape, ca, {}, {})
            if ca:
                a[pe] = ca
            return
    if ov is MISSING:
        a[pe] = {}
    elif nv is MISSING:
        r[pe] = {}
    elif not _equal(ov, nv):
        m[pe] = {}


def _copy(value: Any) -> Any:
    t = type(value)
    if t is dict:
        return {k: _copy(v) for k, v in value.items()}
    if t is list:
        return [_copy(v) for v in value]
    return value


_DUPLICATE: Any = object()


def _merge(lhs: Any, rhs: Any, shape: Shape) -> Any:
    """Upstream TypedValue.Merge with the applied configuration on the right: the configuration's
    values win; maps merge per key, map/set lists per element, atomic values are replaced.
    Returns fresh containers; a null from the configuration yields None (the caller drops it)."""
    kind = shape.kind
    if kind in MAPLIKE and type(rhs) is dict:
        left = lhs if type(lhs) is dict else None
        if not rhs and not left:
            return {}
        out: dict[str, Any] = {}
        if left:
            for key, lv in left.items():
                if key in rhs:
                    value = _merge_child(lv, rhs[key], shape.field(key), "f:" + key)
                    if value is not None:
                        out[key] = value
                else:
                    out[key] = _copy(lv)
        for key, rv in rhs.items():
            if left is None or key not in left:
                value = _merge_child(MISSING, rv, shape.field(key), "f:" + key)
                if value is not None:
                    out[key] = value
        return out
    if kind in LISTLIKE and type(rhs) is list:
        left_list = lhs if type(lhs) is list else None
        if not rhs and not left_list:
            return []
        return _merge_list(left_list or [], rhs, shape)
    return _copy(rhs)


def _merge_child(lhs: Any, rhs: Any, shape: Shape, pe: str) -> Any:
    try:
        return _merge(lhs, rhs, shape)
    except SchemaError as err:
        err.reversed_path.append(pe)
        raise


def _merge_list(left: list[Any], right: list[Any], shape: Shape) -> list[Any]:
    """Upstream's list merge order: the live order, with shared elements in the configuration's
    order and new elements where the configuration puts them."""
    elem = shape.elem()
    right_pes = [list_item_pe(item, shape, i) for i, item in enumerate(right)]
    right_items = dict(zip(right_pes, right, strict=True))
    left_pes = [list_item_pe(item, shape, i) for i, item in enumerate(left)]
    left_items: dict[str, Any] = {}
    for pe, item in zip(left_pes, left, strict=True):
        left_items[pe] = _DUPLICATE if pe in left_items else item
    shared = [pe for pe in right_pes if pe in left_items]
    next_shared = shared[0] if shared else None
    shared_at = 1
    merged: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    left_len, right_len = len(left_pes), len(right_pes)
    while li < left_len or ri < right_len:
        if li < left_len and ri < right_len:
            pe = left_pes[li]
            if pe == right_pes[ri]:
                merged.add(pe)
                lchild = left_items[pe]
                out.append(
                    _merge_child(MISSING if lchild is _DUPLICATE else lchild, right_items[pe], elem, pe)
                )
                li += 1
                ri += 1
                next_shared = shared[shared_at] if shared_at < len(shared) else None
                shared_at += 1
                continue
            if pe in right_items and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < left_len:
            pe = left_pes[li]
            if pe not in right_items:
                out.append(_copy(left[li]))
                li += 1
                continue
            if pe in merged:
                li += 1
                continue
        if ri < right_len:
            pe = right_pes[ri]
            merged.add(pe)
            lchild = left_items.get(pe, MISSING)
            out.append(_merge_child(MISSING if lchild is _DUPLICATE else lchild, right_items[pe], elem, pe))
            ri += 1
            if next_shared == pe:
                next_shared = shared[shared_at] if shared_at < len(shared) else None
                shared_at += 1
    return out


_GONE: Any = object()


def _remove_items(value: Any, remove: dict[str, Any], shape: Shape) -> Any:
    """Upstream RemoveItems: `value` without the members of `remove` (whole subtrees). A container
    emptied by the removal comes back as _GONE (the caller drops it)."""
    if not remove:
        return value
    kind = shape.kind
    if kind in MAPLIKE and type(value) is dict:
        out: dict[str, Any] = {}
        for key, child in value.items():
            node = remove.get("f:" + key)
            if node is None:
                out[key] = child
            elif is_member(node):
                continue
            else:
                kept = _remove_items(child, node, shape.field(key))
                if kept is not _GONE:
                    out[key] = kept
        return out if (out or not value) else _GONE
    if kind in LISTLIKE and type(value) is list:
        items: list[Any] = []
        for i, item in enumerate(value):
            try:
                pe = list_item_pe(item, shape, i)
            except SchemaError:
                items.append(item)
                continue
            node = remove.get(pe)
            if node is None:
                items.append(item)
            elif is_member(node):
                continue
            else:
                kept = _remove_items(item, node, shape.elem())
                if kept is not _GONE:
                    items.append(kept)
        return items if (items or not value) else _GONE
    return value


def _field_set(obj: dict[str, Any], shape: Shape) -> dict[str, Any]:
    return field_set_of(obj, shape, allow_duplicates=True).root


def _prune(merged: dict[str, Any], managers: _Managed, last: dict[str, Any], shape: Shape) -> dict[str, Any]:
    """Upstream Updater.prune: drop what the applier applied last time but not now, unless some
    manager (the applier's new configuration included) still owns it."""
    last_named = ensure_named_fields_are_members(last, shape)
    first_pass = _remove_items(merged, last_named, shape)
    owned: dict[str, Any] = {}
    for entry in managers.values():
        owned = union_children(owned, entry.fields)
    merged_set = ensure_named_fields_are_members(_field_set(merged, shape), shape)
    keep = union_children(
        ensure_named_fields_are_members(_field_set(_as_object(first_pass), shape), shape),
        ensure_named_fields_are_members(owned, shape),
    )
    second_pass = _remove_items(merged, difference_children(merged_set, keep), shape)
    gone = difference_children(
        merged_set, ensure_named_fields_are_members(_field_set(_as_object(second_pass), shape), shape)
    )
    result = _remove_items(merged, intersection_children(gone, last_named), shape)
    return _as_object(result)


def _as_object(value: Any) -> dict[str, Any]:
    return {} if value is _GONE else value


def _exclude(tree: dict[str, Any], ignored: dict[str, Any]) -> dict[str, Any]:
    return recursive_difference_children(tree, ignored) if ignored else tree


def _zero_object(new: dict[str, Any], shape: Shape) -> dict[str, Any]:
    """The baseline of a create for a built-in kind: Go's zero value already holds its non-pointer
    struct fields (metadata, spec, spec.template, ...), so creating them is not owning them. Only
    the struct spine of `new` is kept (the schema does not say which structs are pointers)."""
    out: dict[str, Any] = {}
    for key, value in new.items():
        if type(value) is dict:
            child = shape.field(key)
            if child.kind == STRUCT:
                out[key] = _zero_object(value, child)
    return out


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if type(meta) is dict and "managedFields" in meta:
        meta = dict(meta)
        del meta["managedFields"]
        obj = dict(obj)
        obj["metadata"] = meta
    return obj


def _managed_fields_of(obj: dict[str, Any] | None) -> Any:
    if obj is None:
        return None
    meta = obj.get("metadata")
    return meta.get("managedFields") if type(meta) is dict else None


# ---------------------------------------------------------------------------------------------
# Update tracking
# ---------------------------------------------------------------------------------------------


def _record_update(
    base: dict[str, Any],
    new: dict[str, Any],
    managed: _Managed,
    key: _Key,
    shape: Shape,
    ignored: dict[str, Any],
    now: str,
) -> None:
    """Upstream Updater.Update through the managedFieldsUpdater and stripMeta managers: the fields
    this write changed go to `key`'s entry and are taken from every other entry."""
    if _same(base, new):
        return
    added, removed, modified = _compare(base, new, shape)
    added = _exclude(added, ignored)
    removed = _exclude(removed, ignored)
    modified = _exclude(modified, ignored)
    changed = union_children(modified, added)
    for entry in managed.values():
        fields = difference_children(entry.fields, changed)
        entry.set_fields(difference_children(fields, removed))
    current = difference_children(difference_children(changed, removed), _STRIP)
    if not current:
        return
    manager, operation, api_version, subresource = key
    previous = managed.get(key)
    if previous is None:
        managed[key] = _Entry(manager, operation, api_version, subresource, current, now)
    else:
        previous.set_fields(union_children(previous.fields, current))
        previous.set_time(now)


def track_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    schema: SchemaNode | Shapes,
    api_version: str,
    now: str,
    subresource: str = "",
    reset_fields: FieldSet | None = None,
    builtin_kind: bool = True,
) -> dict[str, Any]:
    """`new` with managedFields updated for a non-apply write by `manager` (create: `old` is None).

    As upstream's FieldManager.UpdateNoErrors: managedFields sent in `new` replace the stored ones
    when they decode (`[]` or `[{}]` clears them); an object stored without managedFields is not
    tracked again until applied to; if the object does not fit the schema the stored managedFields
    are kept. `reset_fields` defaults to `default_reset_fields(subresource)`.

    `schema` is the kind's SchemaNode or, better on hot paths, a `Shapes` prepared once per kind.
    `builtin_kind` (used only with a bare SchemaNode; a `Shapes` carries its own) says whether the
    kind is a Go struct (create baseline, see `_zero_object`; server-defaulted list-map keys) or a
    custom resource.
    """
    meta = new.get("metadata")
    new_meta: dict[str, Any] = dict(meta) if type(meta) is dict else {}
    sent = new_meta.pop("managedFields", None)
    out = dict(new)
    out["metadata"] = new_meta
    stored = _managed_fields_of(old)

    if subresource:
        managed = _decode_or_empty(stored, trusted=True)
    elif _is_reset(sent):
        managed = {}
    else:
        managed = _decode_sent(sent, stored)
    if not managed and old is not None:
        return out  # upstream skipNonAppliedManager: untracked objects stay untracked

    shapes = schema if isinstance(schema, Shapes) else Shapes(schema, builtin_kind)
    ignored = (reset_fields if reset_fields is not None else default_reset_fields(subresource)).root
    if old is None:
        base = _zero_object(out, shapes.root) if shapes.builtin else {}
    else:
        base = _without_managed_fields(old)
    key = _key(manager or "unknown", "Update", api_version, subresource)
    try:
        _record_update(base, out, managed, key, shapes.root, ignored, now)
    except SchemaError:
        if stored is not None:
            new_meta["managedFields"] = stored
        return out
    _cap_update_managers(managed)
    encoded = _encode(managed)
    if encoded is not None:
        new_meta["managedFields"] = encoded
    return out


def _decode_or_empty(raw: Any, trusted: bool) -> _Managed:
    try:
        return _decode(raw, trusted)
    except ValueError:
        return {}


def _decode_sent(sent: Any, stored: Any) -> _Managed:
    """Upstream decodeLiveOrNew: the client's managedFields when they decode and are not empty,
    else the stored ones."""
    if sent is not None:
        trusted = sent is stored or sent == stored
        try:
            managed = _decode(sent, trusted)
        except ValueError:
            managed = {}
        if managed:
            return managed
    return _decode_or_empty(stored, trusted=True)


# ---------------------------------------------------------------------------------------------
# Apply
# ---------------------------------------------------------------------------------------------


class _Conflicts(Exception):
    def __init__(self, conflicts: list[tuple[_Key, tuple[str, ...]]]):
        super().__init__("conflicts")
        self.conflicts = conflicts


def _print_manager(key: _Key) -> str:
    manager, operation, api_version, subresource = key
    text = go_quote(manager)
    if subresource:
        text += f" with subresource {go_quote(subresource)}"
    if operation == "Update":
        text += f" using {api_version}"
    return text


def conflict_error(conflicts: list[tuple[_Key, tuple[str, ...]]]) -> StatusError:
    """409 Conflict as upstream's NewConflictError writes it."""
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {_print_manager(key)}",
            "field": path_string(path),
        }
        for key, path in conflicts
    ]
    if len(conflicts) == 1:
        key, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {_print_manager(key)}: {path_string(path)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for key, path in conflicts:
            by_manager.setdefault(_identifier(key), []).append(path_string(path))
        printed = {_identifier(key): _print_manager(key) for key, _ in conflicts}
        lines: list[str] = []
        for ident in sorted(by_manager):
            lines.append(f"conflicts with {printed[ident]}:")
            lines.extend(f"- {p}" for p in by_manager[ident])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, {"causes": causes})


def _apply_once(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    config_set: dict[str, Any],
    managed: _Managed,
    key: _Key,
    shape: Shape,
    ignored: dict[str, Any],
    force: bool,
    api_version: str,
) -> tuple[dict[str, Any], _Managed, bool]:
    """Upstream Updater.Apply: merge, prune, take ownership; raises _Conflicts."""
    managers = {k: e.copy() for k, e in managed.items()}
    merged = _merge(MISSING if live is None else live, config, shape)
    previous = managers.get(key)
    manager, operation, _, subresource = key
    entry = _Entry(
        manager, operation, api_version, subresource, config_set, previous.time if previous else None
    )
    managers[key] = entry
    if previous is not None and difference_children(previous.fields, config_set):
        merged = _prune(merged, managers, previous.fields, shape)
    others = [k for k in managers if k != key]
    if others:
        added, removed, modified = _compare(live if live is not None else {}, merged, shape)
        added = _exclude(added, ignored)
        removed = _exclude(removed, ignored)
        changed = union_children(_exclude(modified, ignored), added)
        found: list[tuple[_Key, tuple[str, ...]]] = []
        for other in sorted(others, key=_identifier):
            clash = intersection_children(managers[other].fields, changed)
            if clash:
                found.extend((other, path) for path in FieldSet(clash).paths())
        if found and not force:
            raise _Conflicts(found)
        for other in others:
            fields = difference_children(managers[other].fields, changed)
            managers[other].set_fields(difference_children(fields, removed))
    entry.set_fields(difference_children(entry.fields, _STRIP))
    if previous is not None and previous.api_version == api_version and entry.fields == previous.fields:
        entry.fields, entry.source, entry.origin = previous.fields, previous.source, previous.origin
    changed_object = live is None or not _same(live, merged)
    return merged, managers, changed_object


def _check_config(config: Any, api_version: str, kind: str | None) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise bad_request("error decoding YAML: the apply configuration must be an object")
    config_version = config.get("apiVersion")
    config_kind = config.get("kind")
    if config_version != api_version or (kind is not None and config_kind != kind):
        raise bad_request(f"invalid object type: {_gvk_string(config_version, config_kind)}")
    meta = config.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("managedFields"), list):
        raise bad_request("metadata.managedFields must be nil")
    return config


def _gvk_string(api_version: Any, kind: Any) -> str:
    version = api_version if isinstance(api_version, str) else ""
    group, _, ver = version.rpartition("/")
    return f"{group}/{ver}, Kind={kind if isinstance(kind, str) else ''}"


def _object_gvknn(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}; {_gvk_string(obj.get('apiVersion'), obj.get('kind'))}"


def _allowed_from_last_applied(live: dict[str, Any], api_version: str, shape: Shape) -> dict[str, Any] | None:
    """Upstream lastAppliedManager: fields of the client-side-apply annotation whose values still
    match the live object may be taken over by `kubectl apply --server-side` without conflict."""
    meta = live.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    text = annotations.get(LAST_APPLIED_ANNOTATION) if isinstance(annotations, dict) else None
    if not isinstance(text, str) or not text:
        return None
    try:
        last_applied = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last_applied, dict) or last_applied.get("apiVersion") != api_version:
        return None
    try:
        fields = field_set_of(last_applied, shape).root
        added, removed, modified = _compare(last_applied, live, shape)
    except SchemaError:
        return None
    for drop in (modified, added, removed):
        fields = difference_children(fields, drop)
    return fields


def _sync_last_applied(result: dict[str, Any], config: dict[str, Any]) -> None:
    """Upstream lastAppliedUpdater: `kubectl` server-side applies keep an existing client-side
    apply annotation in step with what was applied."""
    meta = result.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(annotations, dict) or not annotations.get(LAST_APPLIED_ANNOTATION):
        return
    applied = dict(config)
    applied_meta = applied.get("metadata")
    if isinstance(applied_meta, dict) and isinstance(applied_meta.get("annotations"), dict):
        applied_meta = dict(applied_meta)
        applied_annotations = dict(applied_meta["annotations"])
        applied_annotations.pop(LAST_APPLIED_ANNOTATION, None)
        applied_meta["annotations"] = applied_annotations
        applied["metadata"] = applied_meta
    annotations = dict(annotations)
    annotations[LAST_APPLIED_ANNOTATION] = go_json(applied) + "\n"
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > _TOTAL_ANNOTATION_SIZE_LIMIT:
        del annotations[LAST_APPLIED_ANNOTATION]
    assert isinstance(meta, dict)
    meta["annotations"] = annotations


def apply_patch(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    *,
    manager: str,
    schema: SchemaNode | Shapes,
    force: bool,
    api_version: str,
    now: str,
    subresource: str = "",
    kind: str | None = None,
    reset_fields: FieldSet | None = None,
    builtin_kind: bool = True,
) -> dict[str, Any]:
    """Server-side apply of `config` (a full object in apiVersion/kind form) by `manager` onto
    `live` (None: the object does not exist yet). Returns the new object with managedFields;
    raises StatusError: 400 for a config of the wrong type or with managedFields, 409 Conflict
    with FieldManagerConflict causes unless `force`, 500 (as upstream) when the config or the
    live object does not fit the schema.

    The result is not defaulted (upstream defaults it right after the merge: the caller must).
    `kind`, when given, is checked against the config's kind; `reset_fields` defaults to
    `default_reset_fields(subresource)`; `builtin_kind` as for `track_update`.
    """
    _check_config(config, api_version, kind)
    shapes = schema if isinstance(schema, Shapes) else Shapes(schema, builtin_kind)
    shape = shapes.root
    ignored = (reset_fields if reset_fields is not None else default_reset_fields(subresource)).root
    try:
        managed = _decode(_managed_fields_of(live), trusted=True)
    except ValueError as exc:
        raise StatusError(500, "", f"failed to decode managed fields: {exc}") from None
    live_object = _without_managed_fields(live) if live is not None else None
    config = _without_managed_fields(config)

    try:
        config_set = _exclude(field_set_of(config, shape).root, ignored)
    except SchemaError as err:
        raise StatusError(
            500, "", f"failed to create typed patch object ({_object_gvknn(config)}): {err.text()}"
        ) from None

    key = _key(manager, "Apply", api_version, subresource)
    try:
        if not managed and live_object is not None:
            # upstream skipNonAppliedManager: what exists before the first apply belongs to
            # "before-first-apply".
            before = _key(BEFORE_FIRST_APPLY_MANAGER, "Update", api_version, subresource)
            _record_update(
                _zero_object(live_object, shape) if shapes.builtin else {},
                live_object,
                managed,
                before,
                shape,
                ignored,
                now,
            )
        try:
            merged, managers, changed = _apply_once(
                live_object, config, config_set, managed, key, shape, ignored, force, api_version
            )
        except _Conflicts as conflicts:
            allowed = (
                _allowed_from_last_applied(live_object, api_version, shape)
                if manager == _KUBECTL and live_object is not None
                else None
            )
            if allowed is None:
                raise conflict_error(conflicts.conflicts) from None
            remaining = [(k, p) for k, p in conflicts.conflicts if not FieldSet(allowed).has(p)]
            if remaining:
                raise conflict_error(remaining) from None
            merged, managers, changed = _apply_once(
                live_object, config, config_set, managed, key, shape, ignored, True, api_version
            )
    except SchemaError as err:
        raise StatusError(
            500, "", f"failed to create typed live object ({_object_gvknn(live or config)}): {err.text()}"
        ) from None

    if changed:
        result = merged
        if key in managers:
            managers[key].set_time(now)
    else:
        assert live_object is not None
        result = _copy(live_object)
    meta = result.get("metadata")
    if not isinstance(meta, dict):
        meta = result["metadata"] = {}
    if manager == _KUBECTL:
        _sync_last_applied(result, config)
    encoded = _encode(managers)
    if encoded is None:
        meta.pop("managedFields", None)
    else:
        meta["managedFields"] = encoded
    return result


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def validate_managed_fields(obj: dict[str, Any]) -> list[dict[str, str]]:
    """Upstream ValidateManagedFields (part of ObjectMeta validation, a 422 Invalid) of an object's
    `metadata.managedFields`; see `managed_fields_causes`."""
    raw = _managed_fields_of(obj)
    if not isinstance(raw, list):
        return []
    return managed_fields_causes(raw, "metadata.managedFields")


def managed_fields_causes(entries: list[Any], path: str) -> list[dict[str, str]]:
    """Causes for managedFields entries (at `path`) with a bad operation or fieldsType, a manager
    longer than 128 bytes or with unprintable characters, or a subresource longer than 256 bytes.
    Lengths and positions are in bytes, as Go counts them."""
    causes: list[dict[str, str]] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue  # not an entry at all: decoding reports it
        where = f"{path}[{i}]"
        operation = entry.get("operation") or ""
        if operation not in ("Apply", "Update"):
            causes.append(
                cause(
                    f"{where}.operation",
                    f"Invalid value: {go_quote(str(operation))}: must be `Apply` or `Update`",
                )
            )
        fields_type = entry.get("fieldsType") or ""
        if fields_type and fields_type != "FieldsV1":
            causes.append(
                cause(
                    f"{where}.fieldsType", f"Invalid value: {go_quote(str(fields_type))}: must be `FieldsV1`"
                )
            )
        manager = str(entry.get("manager") or "")
        if len(manager.encode()) > _FIELD_MANAGER_MAX_LENGTH:
            causes.append(
                cause(
                    f"{where}.manager",
                    f"Too long: may not be more than {_FIELD_MANAGER_MAX_LENGTH} bytes",
                    "FieldValueTooLong",
                )
            )
        offset = 0
        for ch in manager:
            if not ch.isprintable():
                causes.append(
                    cause(
                        f"{where}.manager",
                        f"Invalid value: {go_quote(manager)}: invalid character U+{ord(ch):04X} (at position {offset})",
                    )
                )
            offset += len(ch.encode())
        subresource = str(entry.get("subresource") or "")
        if len(subresource.encode()) > _MAX_SUBRESOURCE_NAME_LENGTH:
            causes.append(
                cause(
                    f"{where}.subresource",
                    f"Too long: may not be more than {_MAX_SUBRESOURCE_NAME_LENGTH} bytes",
                    "FieldValueTooLong",
                )
            )
    return causes


__all__ = [
    "ANCIENT_CHANGES_MANAGER",
    "BEFORE_FIRST_APPLY_MANAGER",
    "LAST_APPLIED_ANNOTATION",
    "MAX_UPDATE_MANAGERS",
    "FieldSet",
    "Shapes",
    "apply_patch",
    "conflict_error",
    "default_reset_fields",
    "field_set_of",
    "managed_fields_causes",
    "track_update",
    "validate_managed_fields",
]
