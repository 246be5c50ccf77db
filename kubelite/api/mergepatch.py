"""RFC 7386 JSON Merge Patch (`application/merge-patch+json`) as kube-apiserver applies it
(gopkg.in/evanphx/json-patch.v4 `MergePatch`), plus `create_merge_patch` to compute one.

Apply rules: objects merge recursively, `null` deletes a member, anything else (arrays included)
replaces. Like the library, nulls are pruned from values that are added rather than merged.
A patch that is `null` or a scalar is a 400 BadRequest "Invalid JSON Patch" (the handler maps
jsonpatch.ErrBadJSONPatch so); an array patch replaces the whole document, as upstream does.
Must not mutate its inputs; the result shares no dict or list with them.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import bad_request
from kubelite.api.jsonvalue import copy_json, json_equal

INVALID_PATCH_MESSAGE = "Invalid JSON Patch"


def _pruned(value: Any) -> Any:
    """A copy of `value` with null object members removed at every depth (null array items stay)."""
    if type(value) is dict:
        return {key: _pruned(item) for key, item in value.items() if item is not None}
    if type(value) is list:
        return [_pruned(item) for item in value]
    return value


def _merge_into(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
            continue
        current = target.get(key)
        if type(current) is dict:
            if type(value) is dict:
                _merge_into(current, value)
            else:
                target[key] = copy_json(value)  # the library replaces without pruning here
        else:
            target[key] = _pruned(value)


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """Apply a JSON merge patch to `doc` and return the new document."""
    if type(patch) is dict:
        result = copy_json(doc) if type(doc) is dict else {}
        _merge_into(result, patch)
        return result
    if type(patch) is list:
        return _pruned(patch)
    raise bad_request(INVALID_PATCH_MESSAGE)


def create_merge_patch(original: Any, modified: Any) -> Any:
    """A merge patch that turns `original` into `modified` (members removed become null)."""
    if type(original) is not dict or type(modified) is not dict:
        return copy_json(modified)
    patch: dict[str, Any] = {}
    for key in original:
        if key not in modified:
            patch[key] = None
    for key, value in modified.items():
        if key not in original:
            patch[key] = copy_json(value)
            continue
        old = original[key]
        if type(old) is dict and type(value) is dict:
            nested = create_merge_patch(old, value)
            if nested:
                patch[key] = nested
        elif not json_equal(old, value):
            patch[key] = copy_json(value)
    return patch
