"""RFC 6902 JSON Patch (`application/json-patch+json`) with the status codes kube-apiserver uses.

Semantics follow the library the apiserver uses (gopkg.in/evanphx/json-patch.v4), including its
extensions: negative array indices count from the end, `test` of a missing member against `null`
passes, and a member holding `null` counts as present. Errors map as in
k8s.io/apiserver/pkg/endpoints/handlers/patch.go (`jsonPatcher.applyJSPatch`):
  * a body that is not a list of operation objects -> 400 BadRequest (json decode message);
  * more than 10000 operations -> 413 RequestEntityTooLarge (NewRequestEntityTooLargeError);
  * any operation that fails to apply -> 422 Invalid "the server rejected our request due to an
    error in our request" with empty details (NewGenericServerResponse hides the reason).
Must not mutate its inputs; the result shares no dict or list with them.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import StatusError, bad_request, too_large
from kubelite.api.jsonvalue import copy_json, go_json_kind, json_equal

MAX_OPERATIONS = 10000  # maxJSONPatchOperations in the apiserver's patch handler
NOT_APPLIED_MESSAGE = "the server rejected our request due to an error in our request"


class JSONPatchError(ValueError):
    """Why an operation could not be applied (upstream hides this text from clients)."""


def not_applied() -> StatusError:
    """The 422 the apiserver answers for any operation that fails to apply."""
    return StatusError(422, "Invalid", NOT_APPLIED_MESSAGE, {})


def decode_pointer(pointer: str) -> list[str]:
    """RFC 6901: `/a~1b/c~0d` -> ["a/b", "c~d"]; "" is the whole document."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise JSONPatchError(f"JSON pointer must start with '/': {pointer}")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _array_index(token: str, length: int, *, inserting: bool) -> int:
    """An array index the way Go's strconv.Atoi reads it, negatives counting from the end."""
    body = token[1:] if token[:1] in ("+", "-") else token
    if not body or not body.isascii() or not body.isdigit():
        raise JSONPatchError(f"value was not a proper array index: '{token}'")
    index = int(token)
    size = length + 1 if inserting else length
    if index >= size or index < -size:
        raise JSONPatchError(f"Unable to access invalid index: {index}")
    return index + size if index < 0 else index


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    """The container holding the last reference token, and that token."""
    node = doc
    for part in parts[:-1]:
        if type(node) is dict:
            if part not in node:
                raise JSONPatchError(f"doc is missing path: {part}")
            node = node[part]
        elif type(node) is list:
            node = node[_array_index(part, len(node), inserting=False)]
        else:
            raise JSONPatchError(f"doc is missing path: {part}")
        if type(node) is not dict and type(node) is not list:
            raise JSONPatchError(f"doc is missing path: {part}")
    return node, parts[-1]


def _get(doc: Any, pointer: str) -> Any:
    parts = decode_pointer(pointer)
    if not parts:
        return doc
    container, key = _parent(doc, parts)
    if type(container) is dict:
        if key not in container:
            raise JSONPatchError(f"unable to get nonexistent key: {key}: missing value")
        return container[key]
    return container[_array_index(key, len(container), inserting=False)]


def _add(doc: Any, pointer: str, value: Any) -> Any:
    parts = decode_pointer(pointer)
    if not parts:
        raise JSONPatchError(f'add operation does not apply: doc is missing path: "{pointer}"')
    container, key = _parent(doc, parts)
    if type(container) is dict:
        container[key] = value
    elif key == "-":
        container.append(value)
    else:
        container.insert(_array_index(key, len(container), inserting=True), value)
    return doc


def _remove(doc: Any, pointer: str) -> Any:
    parts = decode_pointer(pointer)
    if not parts:
        raise JSONPatchError(f'remove operation does not apply: doc is missing path: "{pointer}"')
    container, key = _parent(doc, parts)
    if type(container) is dict:
        if key not in container:
            raise JSONPatchError(f"Unable to remove nonexistent key: {key}: missing value")
        del container[key]
    else:
        del container[_array_index(key, len(container), inserting=False)]
    return doc


def _replace(doc: Any, pointer: str, value: Any) -> Any:
    parts = decode_pointer(pointer)
    if not parts:
        if type(value) is not dict and type(value) is not list:
            raise JSONPatchError("replace operation value must be object or array")
        return value
    container, key = _parent(doc, parts)
    if type(container) is dict:
        if key not in container:
            raise JSONPatchError(f"replace operation does not apply: doc is missing key: {pointer}")
        container[key] = value
    else:
        container[_array_index(key, len(container), inserting=False)] = value
    return doc


def _test(doc: Any, pointer: str, operation: dict[str, Any]) -> None:
    parts = decode_pointer(pointer)
    if parts:
        container, key = _parent(doc, parts)
        if type(container) is dict:
            current = container.get(key)  # absent and null are the same to the library
        else:
            current = container[_array_index(key, len(container), inserting=False)]
    else:
        current = doc
    if "value" not in operation:
        raise JSONPatchError(f"testing value {pointer} failed: test failed")
    if not json_equal(current, operation["value"]):
        raise JSONPatchError(f"testing value {pointer} failed: test failed")


def _string_member(operation: dict[str, Any], name: str) -> str:
    member = operation.get(name)
    if not isinstance(member, str):
        raise JSONPatchError(f"operation missing {name} field")
    return member


def _apply_one(doc: Any, operation: Any) -> Any:
    if operation is None:
        raise JSONPatchError("Unexpected kind: unknown")
    kind = operation.get("op")
    if not isinstance(kind, str):
        kind = "unknown"
    if kind == "add":
        return _add(doc, _string_member(operation, "path"), copy_json(operation.get("value")))
    if kind == "remove":
        return _remove(doc, _string_member(operation, "path"))
    if kind == "replace":
        return _replace(doc, _string_member(operation, "path"), copy_json(operation.get("value")))
    if kind == "move":
        source = _string_member(operation, "from")
        target = _string_member(operation, "path")
        if target != source and target.startswith(source + "/"):
            raise JSONPatchError(
                f"move operation does not apply: cannot move {source} into its child {target}"
            )
        value = _get(doc, source)
        doc = _remove(doc, source)
        return _add(doc, target, value)
    if kind == "copy":
        value = copy_json(_get(doc, _string_member(operation, "from")))
        return _add(doc, _string_member(operation, "path"), value)
    if kind == "test":
        _test(doc, _string_member(operation, "path"), operation)
        return doc
    raise JSONPatchError(f"Unexpected kind: {kind}")


def check_operations(operations: Any) -> list[Any]:
    """Validate the decoded request body's shape as the apiserver does before applying anything."""
    if operations is None:
        return []  # `null` decodes to an empty patch
    if not isinstance(operations, list):
        raise bad_request(
            f"json: cannot unmarshal {go_json_kind(operations)} into Go value of type jsonpatch.Patch"
        )
    for operation in operations:
        if operation is not None and not isinstance(operation, dict):
            raise bad_request(
                f"json: cannot unmarshal {go_json_kind(operation)} into Go value of type jsonpatch.Operation"
            )
    if len(operations) > MAX_OPERATIONS:
        raise too_large(
            f"Request entity too large: The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, "
            f"got {len(operations)}"
        )
    return operations


def apply_json_patch(doc: Any, operations: Any) -> Any:
    """Apply RFC 6902 `operations` to `doc` and return the new document; inputs are left untouched.

    Raises StatusError: 400 for a malformed body, 413 for too many operations, 422 when an
    operation does not apply (a failed `test`, a missing path, a bad index...)."""
    ops = check_operations(operations)
    result = copy_json(doc)
    for operation in ops:
        try:
            result = _apply_one(result, operation)
        except JSONPatchError as err:
            raise not_applied() from err
    return result
