"""Strategic merge patch (`application/strategic-merge-patch+json`), applied server side as upstream
k8s.io/apimachinery/pkg/util/strategicpatch/patch.go `StrategicMergeMapPatch` does.

Driven by a `SchemaNode`: maps merge recursively and `null` deletes; lists whose
x-kubernetes-patch-strategy is `merge` merge by x-kubernetes-patch-merge-key (lists of scalars are
unioned); other lists are replaced. Directives: `$patch: replace|delete` on maps and list items,
`$retainKeys`, `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`. List order follows
upstream, including where it depends on Go slices sharing a backing array. Where the schema does
not know a field, the subtree is merged like a JSON merge patch (maps merge, lists replace).
Values added from the patch have nulls and directives removed (what upstream's typed decoding
ends up storing).

Errors map as in k8s.io/apiserver/pkg/endpoints/handlers/patch.go `interpretStrategicMergePatchError`:
  * invalid patch format of primitive list / retainKeys / setElementOrder list -> 400 BadRequest;
  * lists of lists -> 422 Invalid "the server rejected our request due to an error in our request";
  * anything else (missing merge key, unknown `$patch` value, type mismatches) is a plain Go error
    there, which the apiserver answers as 500 with an empty reason and the error text as message.
Must not mutate its inputs; the result shares no dict or list with them.
"""

from __future__ import annotations

from typing import Any

import orjson

from kubelite.api.errors import StatusError, bad_request
from kubelite.api.gofmt import go_float
from kubelite.api.jsonvalue import copy_json, go_json_kind
from kubelite.api.schematypes import SchemaNode

DIRECTIVE = "$patch"
DELETE = "delete"
REPLACE = "replace"
MERGE = "merge"
RETAIN_KEYS_STRATEGY = "retainKeys"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER = "$setElementOrder"

BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
NOT_APPLIED_MESSAGE = "the server rejected our request due to an error in our request"

_MAP = "map"
_DROP = object()  # a value that must not be kept (a map carrying `$patch`)
_DICT = dict
_LIST = list


# ---- errors -------------------------------------------------------------------------------------


def _unknown(message: str) -> StatusError:
    """A plain Go error reaching the apiserver: 500 with StatusReasonUnknown (empty reason)."""
    return StatusError(500, "", message)


def _not_applied() -> StatusError:
    return StatusError(422, "Invalid", NOT_APPLIED_MESSAGE, {})


def _go_value(value: Any) -> str:
    """Go's %v of decoded JSON, as upstream's error messages print maps and lists."""
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{_go_value(value[key])}" for key in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_value(item) for item in value) + "]"
    return str(value)


def _go_type(value: Any) -> str:
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}"


def _go_string_verb(value: Any) -> str:
    """Go's %s of a decoded JSON value."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return _go_value(value)
    if value is None:
        return "%!s(<nil>)"
    return f"%!s({_go_type(value)}={_go_value(value)})"


def _bad_arg_type(expected: str, actual: Any) -> StatusError:
    return _unknown(f"expected a {expected}, but received a {_go_type(actual)}")


def _no_merge_key(item: dict[str, Any], merge_key: str) -> StatusError:
    return _unknown(f"map: {_go_value(item)} does not contain declared merge key: {merge_key}")


def _bad_patch_type(directive: Any, item: dict[str, Any]) -> StatusError:
    return _unknown(f"unknown patch type: {_go_string_verb(directive)} in map: {_go_value(item)}")


# ---- value helpers ------------------------------------------------------------------------------


def _is_directive_key(key: str) -> bool:
    return (
        key == RETAIN_KEYS or key.startswith(SET_ELEMENT_ORDER) or key.startswith(DELETE_FROM_PRIMITIVE_LIST)
    )


def _fresh(value: Any) -> Any:
    """A copy of a patch value about to enter the result: nulls dropped from maps, directive keys
    removed, and maps carrying `$patch` left out altogether (returns _DROP for such a map)."""
    kind = type(value)
    if kind is _DICT:
        if value.get(DIRECTIVE) is not None:
            return _DROP
        out = {}
        for key, item in value.items():
            if item is None or _is_directive_key(key):
                continue
            item_kind = type(item)
            if item_kind is _DICT or item_kind is _LIST:
                item = _fresh(item)
                if item is _DROP:
                    continue
            out[key] = item
        return out
    if kind is _LIST:
        items = []
        for item in value:
            item_kind = type(item)
            if item_kind is _DICT or item_kind is _LIST:
                item = _fresh(item)
                if item is _DROP:
                    continue
            items.append(item)
        return items
    return value


def _map_contents(patch: dict[str, Any]) -> dict[str, Any]:
    """A map patch used whole (`$patch: replace`, replace strategy), without its directives."""
    out = {}
    for key, item in patch.items():
        if key == DIRECTIVE or item is None or _is_directive_key(key):
            continue
        item = _fresh(item)
        if item is not _DROP:
            out[key] = item
    return out


def _identity(value: Any) -> Any:
    """A hashable key equal exactly when Go's interface == would hold (type and value)."""
    kind = type(value)
    if kind is _DICT or kind is _LIST:
        return (kind, orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    return (kind, value)


def _merge_key_value(item: Any, merge_key: str) -> Any:
    return _identity(item.get(merge_key) if type(item) is _DICT else None)


def _positions(items: list[Any], merge_key: str, kind: str) -> dict[Any, int]:
    """First index of each merge key value (maps) or value (scalars) in `items`."""
    positions: dict[Any, int] = {}
    for index, item in enumerate(items):
        key = _merge_key_value(item, merge_key) if kind == _MAP else _identity(item)
        positions.setdefault(key, index)
    return positions


def _element_kind(*lists: list[Any]) -> str:
    """The one element type of the given lists (upstream sliceElementType)."""
    found: type | None = None
    for items in lists:
        for item in items:
            kind = type(item)
            if found is None:
                found = kind
                if kind is _LIST:
                    raise _not_applied()  # mergepatch.ErrNoListOfLists
            elif kind is not found:
                raise _unknown("list element types are not identical: " + _go_value(list(lists)))
    if found is None:
        raise _unknown("no elements in any of the given slices")
    return _MAP if found is _DICT else found.__name__


def _strategy(raw: str | None) -> str:
    """The non-retainKeys part of an x-kubernetes-patch-strategy (upstream extractRetainKeysPatchStrategy)."""
    if not raw:
        return ""
    parts = raw.split(",")
    if len(parts) == 1:
        return "" if parts[0] == RETAIN_KEYS_STRATEGY else parts[0]
    if len(parts) == 2:
        if parts[0] == RETAIN_KEYS_STRATEGY:
            return parts[1]
        if parts[1] == RETAIN_KEYS_STRATEGY:
            return parts[0]
    raise _unknown("unexpected patch strategy: [" + " ".join(parts) + "]")


def _field(schema: SchemaNode | None, key: str) -> tuple[SchemaNode | None, str, str]:
    """(schema of the field, its patch strategy, its merge key); unknown fields merge like JSON."""
    if schema is None:
        return None, "", ""
    sub = schema.field(key)
    if sub is None:
        return None, "", ""
    return sub, _strategy(sub.patch_strategy), sub.patch_merge_key or ""


def _items(schema: SchemaNode | None) -> SchemaNode | None:
    return schema.items() if schema is not None else None


def _extract_key(key: str, prefix: str, error: str) -> str:
    head, slash, rest = key.partition("/")
    if not slash or head != prefix:
        raise bad_request(error)
    return rest


# ---- ordering (upstream normalizeElementOrder and friends) -------------------------------------


def _check_merge_keys(merge_key: str, *lists: list[Any]) -> None:
    for items in lists:
        for item in items:
            if type(item) is not _DICT:
                raise _bad_arg_type("map[string]interface {}", item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)


def _sorted_by(items: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    """A stable sort of `items` by their position in `order` (upstream normalizeSliceOrder)."""
    if len(items) < 2:
        return list(items)
    positions = _positions(order, merge_key, kind)
    keyed = [
        positions.get(_merge_key_value(item, merge_key) if kind == _MAP else _identity(item))
        for item in items
    ]
    if None not in keyed:
        ranks: list[int] = keyed  # type: ignore[assignment]
        return [items[index] for index in sorted(range(len(items)), key=ranks.__getitem__)]
    # Items missing from `order` make upstream's comparator inconsistent; replay its insertion sort.
    pairs = list(zip(keyed, items, strict=True))
    for start in range(1, len(pairs)):
        j = start
        while j > 0:
            here, before = pairs[j][0], pairs[j - 1][0]
            if here is not None and before is not None and not here < before:
                break
            pairs[j], pairs[j - 1] = pairs[j - 1], pairs[j]
            j -= 1
    return [item for _, item in pairs]


def _normalize(items: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    to_delete: list[Any] = []
    if kind == _MAP:
        _check_merge_keys(merge_key, items, order)
        kept: list[Any] = []
        for item in items:
            (to_delete if item.get(DIRECTIVE) == DELETE else kept).append(item)
        items = kept
    return _sorted_by(items, order, merge_key, kind) + to_delete


def _interleave(
    server_only: list[Any], patch_items: list[Any], server_order: list[Any], merge_key: str, kind: str
) -> list[Any]:
    """upstream mergeSortedSlice: keep each list's order, put a server-only item before a patch
    item only when both appear in the live list and it comes first there."""
    positions = _positions(server_order, merge_key, kind)
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) and j < len(patch_items):
        left = positions.get(
            _merge_key_value(server_only[i], merge_key) if kind == _MAP else _identity(server_only[i])
        )
        right = positions.get(
            _merge_key_value(patch_items[j], merge_key) if kind == _MAP else _identity(patch_items[j])
        )
        if left is not None and right is not None and left < right:
            out.append(server_only[i])
            i += 1
        else:
            out.append(patch_items[j])
            j += 1
    out.extend(server_only[i:])
    out.extend(patch_items[j:])
    return out


def _order(
    patch_items: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    kind: str,
) -> list[Any]:
    patch_items = _normalize(patch_items, patch_order, merge_key, kind)
    server_only = _normalize(server_only, server_order, merge_key, kind)
    return _interleave(server_only, patch_items, server_order, merge_key, kind)


def _partition(merged: list[Any], present_in: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split `merged` into (items named in `present_in`, the others)."""
    in_patch: list[Any] = []
    server_only: list[Any] = []
    if not merge_key:
        wanted = {_identity(item) for item in present_in}
        for item in merged:
            (in_patch if _identity(item) in wanted else server_only).append(item)
        return in_patch, server_only
    wanted = set()
    for position, candidate in enumerate(present_in):
        if type(candidate) is not _DICT:
            raise _unknown(f"value for key {position} is not a map")
        if merge_key in candidate:
            wanted.add(_identity(candidate[merge_key]))
    for item in merged:
        if type(item) is not _DICT:
            raise _bad_arg_type("map[string]interface {}", item)
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        (in_patch if _identity(item[merge_key]) in wanted else server_only).append(item)
    return in_patch, server_only


# ---- merging ------------------------------------------------------------------------------------


def _find(items: list[Any], length: int, merge_key: str, value: Any) -> int:
    """Index of the first map in items[:length] whose merge key equals `value`, or -1."""
    wanted = _identity(value)
    for index in range(length):
        item = items[index]
        if type(item) is not _DICT:
            raise _unknown(f"value for key {index} is not a map")
        if merge_key in item and _identity(item[merge_key]) == wanted:
            return index
    return -1


def _merge_map_list(
    original: list[Any], patch: list[Any], item_schema: SchemaNode | None, merge_key: str
) -> tuple[list[Any], list[Any], list[Any]]:
    """Merge a list of maps by key. Returns (merged, patch items without directives, server order).

    `original` is mutated the way Go mutates the backing array of the live slice, because upstream
    later reads that array back (mergePatchIntoOriginal) to order the result."""
    length = len(original)
    kept: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            kept.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == DELETE:
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            while True:
                index = _find(original, length, merge_key, item[merge_key])
                if index < 0:
                    break
                original[index : length - 1] = original[index + 1 : length]
                length -= 1
        elif directive == REPLACE:
            replace = True
        elif directive == MERGE:
            raise _unknown("merging lists cannot yet be specified in the patch")
        else:
            raise _bad_patch_type(directive, item)
    if replace:
        return [_fresh(item) for item in kept], [], kept
    server_order = original[:length]
    current = original
    size = length
    detached = False
    for item in kept:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        index = _find(current, size, merge_key, item[merge_key])
        if index >= 0:
            current[index] = _merge_map(current[index], item, item_schema)
            continue
        added = _fresh(item)
        if not detached and size < len(original):
            original[size] = added  # Go's append reuses room freed by deletions
        else:
            if not detached:
                current = original[:size]
                detached = True
            current.append(added)
        size += 1
    return current[:size], kept, server_order


def _merge_list(
    original: list[Any], patch: list[Any], schema: SchemaNode | None, merge_key: str, delete_list: bool
) -> list[Any]:
    """upstream mergeSlice."""
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    if kind != _MAP:
        if delete_list:
            doomed = {_identity(item) for item in patch}
            return [item for item in original if _identity(item) not in doomed]
        seen: set[Any] = set()
        merged = []
        for item in original + patch:
            identity = _identity(item)
            if identity not in seen:
                seen.add(identity)
                merged.append(item)
        patch_order, server_order = patch, original
    else:
        if not merge_key:
            raise _unknown("cannot merge lists without merge key for type map")
        merged, patch_order, server_order = _merge_map_list(original, patch, _items(schema), merge_key)
    patch_items, server_only = _partition(merged, patch_order, merge_key)
    return _order(patch_items, server_only, patch_order, server_order, merge_key, kind)


def _merge_list_field(
    original: list[Any],
    patch: list[Any],
    schema: SchemaNode | None,
    strategy: str,
    merge_key: str,
    delete_list: bool,
) -> list[Any]:
    """upstream mergeSliceHandler: merge when the strategy says so, replace otherwise."""
    if strategy == MERGE or delete_list:
        return _merge_list(original, patch, schema, merge_key, delete_list)
    replaced: list[Any] = _fresh(patch)
    return replaced


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    keys = patch[RETAIN_KEYS]
    if type(keys) is not _LIST:
        raise bad_request(BAD_RETAIN_KEYS)
    retained = set()
    for key in keys:
        try:
            retained.add(key)
        except TypeError:
            continue
    for key, value in patch.items():
        if key == RETAIN_KEYS or value is None:
            continue
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST) or key.startswith(SET_ELEMENT_ORDER):
            continue
        if key not in retained:
            raise bad_request(BAD_RETAIN_KEYS)
    for key in [key for key in original if key not in retained]:
        del original[key]


def _check_order_list(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """upstream validatePatchWithSetOrderList: patch items must appear in `order`, in that order."""
    if not order or not patch_list:
        return
    if merge_key:
        for item in patch_list:
            if type(item) is not _DICT:
                raise _bad_arg_type("map[string]interface {}", item)
        items = [item for item in patch_list if item.get(DIRECTIVE) != DELETE]
    else:
        items = patch_list
    patch_index = order_index = 0
    while patch_index < len(items) and order_index < len(order):
        item = items[patch_index]
        if type(item) is _DICT and DIRECTIVE in item:
            patch_index += 1
            continue
        if _same_merge_key(item, order[order_index], merge_key):
            patch_index += 1
        order_index += 1
    if patch_index < len(items) and order_index >= len(order):
        raise _unknown(
            f"the order in patch list:\n{_go_value(patch_list)}\n doesn't match {SET_ELEMENT_ORDER} list:\n{_go_value(order)}"
        )


def _same_merge_key(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return bool(_identity(left) == _identity(right))
    if type(left) is not _DICT:
        raise _bad_arg_type("map[string]interface {}", left)
    if type(right) is not _DICT:
        raise _bad_arg_type("map[string]interface {}", right)
    if merge_key not in left:
        raise _no_merge_key(left, merge_key)
    if merge_key not in right:
        raise _no_merge_key(right, merge_key)
    return bool(_identity(left[merge_key]) == _identity(right[merge_key]))


def _apply_element_orders(
    original: dict[str, Any], patch: dict[str, Any], schema: SchemaNode | None
) -> set[str]:
    """upstream mergePatchIntoOriginal: merge each list named by a `$setElementOrder/<list>`
    directive and order it. Returns the list keys it handled."""
    handled: set[str] = set()
    for key, order in patch.items():
        if not key.startswith(SET_ELEMENT_ORDER):
            continue
        if type(order) is not _LIST:
            raise _bad_arg_type("[]interface {}", order)
        name = _extract_key(key, SET_ELEMENT_ORDER, BAD_SET_ELEMENT_ORDER)
        found_original = name in original
        found_patch = name in patch
        original_list = original.get(name)
        patch_list = patch.get(name)
        if found_original and type(original_list) is not _LIST:
            raise _bad_arg_type("[]interface {}", original_list)
        if found_patch and type(patch_list) is not _LIST:
            raise _bad_arg_type("[]interface {}", patch_list)
        sub, strategy, merge_key = _field(schema, name)
        original_items: list[Any] = original_list if found_original else []  # type: ignore[assignment]
        patch_items: list[Any] = patch_list if found_patch else []  # type: ignore[assignment]
        _check_order_list(patch_items, order, merge_key)
        merged: list[Any]
        if found_original and found_patch:
            merged = _merge_list_field(original_items, patch_items, sub, strategy, merge_key, False)
        elif found_original:
            merged = original_items
        elif found_patch:
            merged = _fresh(patch_items)
        else:
            continue
        handled.add(name)
        if not merge_key and any(type(item) is _DICT or type(item) is _LIST for item in merged):
            original[name] = merged  # an unknown field's list of maps: no key to order by
            continue
        # `original_items` may have been rearranged in place by the merge, as Go's backing array is.
        named, server_only = _partition(merged, order, merge_key)
        kind = _element_kind(original_items, patch_items)
        original[name] = _order(named, server_only, order, original_items, merge_key, kind)
    return handled


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: SchemaNode | None) -> dict[str, Any]:
    """upstream mergeMap with MergeParallelList and IgnoreUnmatchedNulls (the server-side options).
    `original` is owned by the caller and merged in place; `patch` is only read."""
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == REPLACE:
            return _map_contents(patch)
        if directive == DELETE:
            return {}
        raise _bad_patch_type(directive, patch)
    if RETAIN_KEYS in patch:
        _apply_retain_keys(original, patch)
    handled: set[str] = set()
    if any(key.startswith(SET_ELEMENT_ORDER) for key in patch):
        handled = _apply_element_orders(original, patch, schema)
    for key, value in patch.items():
        if key in handled:
            continue  # a list already merged with its $setElementOrder
        delete_list = False
        if key[:1] == "$":
            if key == RETAIN_KEYS or key.startswith(SET_ELEMENT_ORDER):
                continue
            delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST)
            if delete_list:
                key = _extract_key(key, DELETE_FROM_PRIMITIVE_LIST, BAD_PRIMITIVE_LIST)
        if value is None:
            original.pop(key, None)
            continue
        current = original.get(key, _DROP)
        if current is _DROP:
            if not delete_list:
                added = _fresh(value)
                if added is not _DROP:
                    original[key] = added
            continue
        kind = type(current)
        if kind is not type(value):
            if not delete_list:
                added = _fresh(value)
                if added is _DROP:
                    del original[key]
                else:
                    original[key] = added
            continue
        if kind is _DICT:
            sub, strategy, _ = _field(schema, key)
            original[key] = _map_contents(value) if strategy == REPLACE else _merge_map(current, value, sub)
        elif kind is _LIST:
            sub, strategy, merge_key = _field(schema, key)
            original[key] = _merge_list_field(current, value, sub, strategy, merge_key, delete_list)
        else:
            original[key] = value
    return original


def apply_strategic_merge_patch(
    original: dict[str, Any] | None, patch: Any, schema: SchemaNode | None
) -> dict[str, Any]:
    """Apply a strategic merge patch to `original` under `schema` (the object's root schema) and
    return the new object. Raises StatusError with the code upstream answers (see module doc)."""
    document = copy_json(original) if type(original) is _DICT else {}
    if patch is None:
        return document  # a `null` body decodes to an empty patch
    if type(patch) is not _DICT:
        raise bad_request(
            f"json: cannot unmarshal {go_json_kind(patch)} into Go value of type map[string]interface {{}}"
        )
    return _merge_map(document, patch, schema)
