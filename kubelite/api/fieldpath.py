"""Field sets as server-side apply tracks them, their `fieldsV1` wire form, and the schema shapes
that decide how an object's fields are named.

A field path is a tuple of path-element strings in the `fieldsV1` spelling (upstream
sigs.k8s.io/structured-merge-diff/fieldpath):

- ``f:<name>``                a struct field or map key
- ``k:{"key":<json>,...}``    an element of a map-list, by its list-map keys (sorted by name)
- ``v:<json>``                an element of a set-list, by its value
- ``i:<n>``                   an element of a list, by index

A `FieldSet` is a tree kept in the `fieldsV1` shape itself: a node is a dict from path element to
child node; a node that is a member of the set is either ``{}`` (no children) or carries the key
``"."``.  Keeping the wire shape means managedFields decode and encode without rebuilding trees.
The root is a plain children map (the whole object is never a member).

`Shape` classifies `SchemaNode`s the way upstream's schema conversion does (struct, granular map,
deduced/untyped, map-list, set-list, or atomic leaf); `field_set_of` is upstream's ToFieldSet.

This module must not merge objects, compare objects or touch managedFields entries (that is
`kubelite.api.apply`), and must not load or know any concrete schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from kubelite.api.gofmt import go_float, go_json, go_quote
from kubelite.api.schematypes import SchemaNode

DOT = "."

# ---------------------------------------------------------------------------------------------
# Path elements: canonical spelling, order and human-readable form
# ---------------------------------------------------------------------------------------------

def field_pe(name: str) -> str:
    return "f:" + name


def key_pe(keys: dict[str, Any]) -> str:
    """The element of a map-list whose list-map keys have these values."""
    if len(keys) == 1:
        ((name, value),) = keys.items()
        return "k:{" + go_json(name) + ":" + go_json(value) + "}"
    return "k:{" + ",".join(go_json(name) + ":" + go_json(keys[name]) for name in sorted(keys)) + "}"


def value_pe(value: Any) -> str:
    return "v:" + go_json(value)


def index_pe(index: int) -> str:
    return "i:" + str(index)


def canonical_pe(pe: str) -> str | None:
    """The canonical spelling of a path element read from a client, None for an element type
    this version does not know (upstream drops those). Raises ValueError when malformed."""
    if len(pe) < 2:
        raise ValueError("key must be 2 characters long:")
    if pe[1] != ":":
        raise ValueError(f"missing colon: {pe}")
    kind = pe[0]
    if kind == "f":
        return pe
    if kind == "k":
        try:
            keys = json.loads(pe[2:])
        except ValueError as exc:
            raise ValueError(f"parsing key as path element: {exc}") from None
        if keys is None:
            keys = {}
        if not isinstance(keys, dict):
            raise ValueError("parsing key as path element: expect { or n")
        return key_pe(keys)
    if kind == "v":
        try:
            return value_pe(json.loads(pe[2:]))
        except ValueError as exc:
            raise ValueError(f"parsing key as path element: {exc}") from None
    if kind == "i":
        try:
            return index_pe(int(pe[2:]))
        except ValueError:
            raise ValueError(f'strconv.Atoi: parsing "{pe[2:]}": invalid syntax') from None
    return None


def _value_order(value: Any) -> tuple[Any, ...]:
    """Upstream's total order of values: numbers < strings < booleans < lists < maps < null."""
    if value is None:
        return (5,)
    if value is True or value is False:
        return (2, value)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(_value_order(v) for v in value))
    if isinstance(value, dict):
        return (4, tuple((k, _value_order(value[k])) for k in sorted(value)))
    return (6,)


def pe_order(pe: str) -> tuple[Any, ...]:
    """Sort key giving upstream's PathElement order: fields, then keys, then values, then indexes."""
    kind = pe[0]
    if kind == "f":
        return (0, pe[2:])
    if kind == "k":
        body = pe[2:]
        if body.count('"') == 4 and "\\" not in body and body.endswith('"}'):
            # the usual one string-valued key, e.g. {"name":"nginx"}
            split = body.find('":"')
            if split > 0:
                return (1, ((body[2:split], (1, body[split + 3 : -2])),))
        keys = json.loads(body)
        return (1, tuple((name, _value_order(keys[name])) for name in sorted(keys)))
    if kind == "v":
        return (2, _value_order(json.loads(pe[2:])))
    return (3, int(pe[2:]))


def _sorted_pes(keys: Iterable[str]) -> list[str]:
    pes = sorted(keys)  # "." sorts first, "f:" before "i:", "k:", "v:"
    if pes and pes[0] == DOT:
        del pes[0]
    if pes and pes[-1][0] != "f":
        pes.sort(key=pe_order)
    return pes


def _go_value_string(value: Any) -> str:
    """Upstream value.ToString: the human-readable form used in path strings."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return go_float(value)  # %v
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list):
        return "[" + ",".join(_go_value_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={_go_value_string(value[k])}" for k in sorted(value))
    return "{{undefined}}"


def pe_string(pe: str) -> str:
    """One path element as upstream's PathElement.String() writes it: `.name`,
    `[name="x",port=80]`, `[=value]`, `[3]`."""
    kind = pe[0]
    if kind == "f":
        return "." + pe[2:]
    if kind == "k":
        keys = json.loads(pe[2:])
        return "[" + ",".join(f"{name}={_go_value_string(keys[name])}" for name in sorted(keys)) + "]"
    if kind == "v":
        return "[=" + _go_value_string(json.loads(pe[2:])) + "]"
    if kind == "i":
        return "[" + pe[2:] + "]"
    return "{{invalid path element}}"


def path_string(path: Sequence[str]) -> str:
    """A path as upstream's Path.String() writes it, e.g. `.spec.containers[name="x"].image`."""
    return "".join(pe_string(pe) for pe in path)


# ---------------------------------------------------------------------------------------------
# Set trees (wire shape). A node is {} (member leaf), {...,".": {}} (member with children) or
# {...} (children only). A children map is a node without member semantics (the root).
# ---------------------------------------------------------------------------------------------


def is_member(node: dict[str, Any]) -> bool:
    return not node or DOT in node


def has_children(node: dict[str, Any]) -> bool:
    return len(node) > (1 if DOT in node else 0)


def make_node(children: dict[str, Any], member: bool) -> dict[str, Any] | None:
    """A node from a fresh children map (without "."): None when it would be empty."""
    if member:
        if children:
            children[DOT] = {}
        return children
    return children if children else None


def _union_node(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """a ∪ b for nodes at the same path; returns `a` itself when b adds nothing."""
    if a is b:
        return a
    if not b:  # b is a member leaf
        if not a or DOT in a:
            return a
        out = dict(a)
        out[DOT] = {}
        return out
    if not a:  # a is a member leaf, b has children
        if DOT in b:
            return b
        out = dict(b)
        out[DOT] = {}
        return out
    changed: dict[str, Any] | None = None
    for pe, bn in b.items():
        if pe == DOT:
            if DOT not in a:
                if changed is None:
                    changed = dict(a)
                changed[DOT] = {}
            continue
        an = a.get(pe)
        rn = bn if an is None else _union_node(an, bn)
        if rn is not an:
            if changed is None:
                changed = dict(a)
            changed[pe] = rn
    return a if changed is None else changed


def union_children(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """a ∪ b for children maps; returns `a` itself when b adds nothing."""
    if not b or a is b:
        return a
    if not a:
        return b
    changed: dict[str, Any] | None = None
    for pe, bn in b.items():
        an = a.get(pe)
        rn = bn if an is None else _union_node(an, bn)
        if rn is not an:
            if changed is None:
                changed = dict(a)
            changed[pe] = rn
    return a if changed is None else changed


def _normalized(node: dict[str, Any], member: bool) -> dict[str, Any] | None:
    """`node` (a fresh dict) with its membership set to `member`, or None when empty."""
    if member:
        if not has_children(node):
            return {}
        if DOT not in node:
            node[DOT] = {}
        return node
    node.pop(DOT, None)
    return node if node else None


def _difference_node(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    if a is b:
        return None
    member = is_member(a) and not is_member(b)
    if not a:
        return a if member else None
    if not b:
        # b is a member leaf: it takes a's membership, never a's children.
        if DOT in a:
            out = dict(a)
            del out[DOT]
            return out
        return a
    out = _difference_map(a, b)
    if out is a and member == is_member(a):
        return a
    return _normalized(dict(out) if out is a else out, member)


def _difference_map(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """a's entries minus b's (structurally); "." entries are left alone. Returns `a` when unchanged."""
    out: dict[str, Any] | None = None
    if len(b) > len(a):
        for pe, an in a.items():
            bn = b.get(pe)
            if bn is None or pe == DOT:
                continue
            rn = _difference_node(an, bn)
            if rn is not an:
                if out is None:
                    out = dict(a)
                if rn is None:
                    del out[pe]
                else:
                    out[pe] = rn
    else:
        for pe, bn in b.items():
            an = a.get(pe)
            if an is None or pe == DOT:
                continue
            rn = _difference_node(an, bn)
            if rn is not an:
                if out is None:
                    out = dict(a)
                if rn is None:
                    del out[pe]
                else:
                    out[pe] = rn
    return a if out is None else out


def difference_children(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    if not a or not b:
        return a
    return _difference_map(a, b)


def _recursive_difference_map(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] | None = None
    for pe, bn in b.items():
        if pe == DOT:
            continue
        an = a.get(pe)
        if an is None:
            continue
        if is_member(bn):
            rn: dict[str, Any] | None = None
        elif not an:
            continue
        else:
            sub = _recursive_difference_map(an, bn)
            if sub is an:
                continue
            rn = _normalized(sub, DOT in an)
        if out is None:
            out = dict(a)
        if rn is None:
            del out[pe]
        else:
            out[pe] = rn
    return a if out is None else out


def recursive_difference_children(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    if not a or not b:
        return a
    return _recursive_difference_map(a, b)


def _intersection_node(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    if a is b:
        return a
    member = is_member(a) and is_member(b)
    children = intersection_children(a, b) if a and b else {}
    children.pop(DOT, None)
    return make_node(children, member)


def intersection_children(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    if len(a) > len(b):
        a, b = b, a
    out: dict[str, Any] = {}
    for pe, an in a.items():
        if pe == DOT:
            continue
        bn = b.get(pe)
        if bn is None:
            continue
        rn = _intersection_node(an, bn)
        if rn is not None:
            out[pe] = rn
    return out


def _sorted_copy(children: dict[str, Any], member: bool, origin: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pe in _sorted_pes(children):
        node = children[pe]
        before = origin.get(pe) if origin else None
        if node is before:
            out[pe] = before  # unchanged since read from a canonical source: already in order
        else:
            out[pe] = _sorted_copy(node, DOT in node, before) if node else {}
    if member and out:
        out[DOT] = {}
    return out


def encode_tree(children: dict[str, Any], origin: dict[str, Any] | None = None) -> dict[str, Any]:
    """The wire form of a children map, keys in upstream's order ("." after the children).
    Subtrees shared with `origin` (a tree read from canonical stored managedFields) are reused."""
    if children is origin:
        return children
    return _sorted_copy(children, False, origin)


def _read_node(raw: Any, where: str) -> dict[str, Any]:
    """A node read from a client's fieldsV1, in canonical spelling (see upstream readIterV1)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected an object")
    out: dict[str, Any] = {}
    member = False
    for key, value in raw.items():
        if key == DOT:
            member = True
            continue
        pe = canonical_pe(key)
        if pe is None:
            continue
        child = _read_node(value, key)
        previous = out.get(pe)
        out[pe] = child if previous is None else _union_node(previous, child)
    if not out:
        return {}
    if member:
        out[DOT] = {}
    return out


class FieldSet:
    """A set of field paths (upstream fieldpath.Set). Immutable by convention: operations return
    new sets that may share unchanged subtrees with their inputs."""

    __slots__ = ("root",)

    def __init__(self, root: dict[str, Any] | None = None):
        # `root` is a children map in canonical wire shape; it is trusted, not checked.
        self.root: dict[str, Any] = root if root is not None else {}

    @classmethod
    def from_fields_v1(cls, fields: Any) -> FieldSet:
        """Read a client's `fieldsV1`; raises ValueError when malformed."""
        if fields is None:
            return cls()
        if not isinstance(fields, dict):
            raise ValueError("fieldsV1: expected an object")
        node = _read_node(fields, "fieldsV1")
        node.pop(DOT, None)
        return cls(node)

    @classmethod
    def from_paths(cls, paths: Iterable[Sequence[str]]) -> FieldSet:
        s = cls()
        for path in paths:
            s.insert(path)
        return s

    def to_fields_v1(self) -> dict[str, Any]:
        """The wire form, with keys in upstream's order ("." after the children)."""
        return encode_tree(self.root)

    def insert(self, path: Sequence[str]) -> None:
        """Add a path (in place: only for sets under construction, never shared ones)."""
        if not path:
            return
        node = self.root
        for pe in path[:-1]:
            child = node.get(pe)
            if child is None:
                child = node[pe] = {}  # a fresh non-member: it gets a child right below
            elif not child:
                child[DOT] = {}  # a member leaf keeps its membership while gaining children
            node = child
        last = path[-1]
        existing = node.get(last)
        if existing is None:
            node[last] = {}
        elif existing and DOT not in existing:
            existing[DOT] = {}

    def empty(self) -> bool:
        return not self.root

    def has(self, path: Sequence[str]) -> bool:
        if not path:
            return False
        node: dict[str, Any] | None = self.root
        for pe in path[:-1]:
            assert node is not None
            node = node.get(pe)
            if not node:
                return False
        assert node is not None
        last = node.get(path[-1])
        return last is not None and is_member(last)

    def union(self, other: FieldSet) -> FieldSet:
        return FieldSet(union_children(self.root, other.root))

    def difference(self, other: FieldSet) -> FieldSet:
        return FieldSet(difference_children(self.root, other.root))

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        return FieldSet(recursive_difference_children(self.root, other.root))

    def intersection(self, other: FieldSet) -> FieldSet:
        return FieldSet(intersection_children(self.root, other.root))

    def paths(self) -> list[tuple[str, ...]]:
        """Member paths in upstream's iteration order (at each level: members, then subtrees)."""
        return list(_iterate(self.root, ()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSet) and self.to_fields_v1() == other.to_fields_v1()

    def __hash__(self) -> int:  # pragma: no cover - sets are not hashed
        raise TypeError("FieldSet is unhashable")

    def __repr__(self) -> str:
        return "FieldSet(" + ", ".join(path_string(p) for p in self.paths()) + ")"


def _iterate(children: dict[str, Any], prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    pes = _sorted_pes(children)
    for pe in pes:
        if is_member(children[pe]):
            yield prefix + (pe,)
    for pe in pes:
        node = children[pe]
        if has_children(node):
            yield from _iterate(node, prefix + (pe,))


# ---------------------------------------------------------------------------------------------
# Schema shapes
# ---------------------------------------------------------------------------------------------

LEAF = 0  # scalar, atomic list/map, untyped atomic value
STRUCT = 1  # object with declared properties
MAP = 2  # granular map (additionalProperties)
DEDUCED = 3  # preserve-unknown-fields: maps are granular, lists atomic, scalars leaves
LIST_MAP = 4  # associative list keyed by list-map keys
LIST_SET = 5  # associative list of scalars

MAPLIKE = frozenset({STRUCT, MAP, DEDUCED})
LISTLIKE = frozenset({LIST_MAP, LIST_SET})

# Built-in list-map key fields whose value the server defaults (upstream takes these from the
# schema's `default`, which the packaged JSON schemas do not carry).
BUILTIN_KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}


class SchemaError(Exception):
    """The object does not fit its schema (upstream typed-conversion errors)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
        self.reversed_path: list[str] = []

    def text(self) -> str:
        path = path_string(list(reversed(self.reversed_path)))
        return f"{path}: {self.message}" if path else self.message


class Shape:
    """How one schema node shapes field paths; child shapes are resolved lazily and memoised."""

    __slots__ = ("kind", "node", "keys", "preserve", "_fields", "_elem", "_resolver")

    def __init__(
        self, kind: int, node: SchemaNode | None, resolver: Shapes | None, keys: tuple[str, ...] = ()
    ):
        self.kind = kind
        self.node = node
        self.keys = keys
        self.preserve = bool(node is not None and kind == STRUCT and node.preserve_unknown_fields)
        self._fields: dict[str, tuple[Shape, bool]] = {}
        self._elem: Shape | None = None
        self._resolver = resolver

    def _lookup(self, name: str) -> tuple[Shape, bool]:
        found = self._fields.get(name)
        if found is not None:
            return found
        kind = self.kind
        resolver = self._resolver
        if resolver is None or self.node is None:
            return (DEDUCED_SHAPE, False)
        if kind == MAP:
            # every key shares the additionalProperties schema: one memo, however many keys
            if self._elem is None:
                child = self.node.field(name)
                self._elem = resolver.of(child) if child is not None else DEDUCED_SHAPE
            return (self._elem, False)
        if kind != STRUCT:
            return (DEDUCED_SHAPE, False)
        child = self.node.field(name)
        if child is None:
            # not memoised: unknown names come from clients and must not grow the memo
            return (DEDUCED_SHAPE if self.preserve else UNKNOWN_SHAPE, False)
        found = (resolver.of(child), True)
        self._fields[name] = found
        return found

    def field(self, name: str) -> Shape:
        """The shape of a field or map entry (deduced under preserve-unknown-fields, an atomic leaf
        for a field the schema does not know)."""
        found = self._fields.get(name)
        return found[0] if found is not None else self._lookup(name)[0]

    def declares(self, name: str) -> bool:
        """True for a declared struct field (upstream FindField), not a map key."""
        return self._lookup(name)[1]

    def elem(self) -> Shape:
        if self._elem is None:
            items = self.node.items() if self.node is not None else None
            self._elem = self._resolver.of(items) if (items is not None and self._resolver) else UNKNOWN_SHAPE
        return self._elem

    def key_default(self, key: str) -> Any:
        """Default of a list-map key field of this (element) shape, or None."""
        if self.node is not None:
            child = self.node.field(key)
            default = getattr(child, "default", None) if child is not None else None
            if default is not None:
                return default
        if self._resolver is not None and self._resolver.builtin:
            return BUILTIN_KEY_DEFAULTS.get(key)
        return None


DEDUCED_SHAPE = Shape(DEDUCED, None, None)
UNKNOWN_SHAPE = Shape(LEAF, None, None)


class Shapes:
    """A schema prepared for field-set work: resolves SchemaNodes to Shapes, memoising as it goes.
    Build one per kind and keep it (the memo is bounded by the schema, not by the objects seen)."""

    __slots__ = ("_memo", "builtin", "root")

    def __init__(self, schema: SchemaNode, builtin: bool = True):
        self._memo: dict[int, tuple[SchemaNode, Shape]] = {}
        self.builtin = builtin
        self.root = self.of(schema)

    def of(self, node: SchemaNode) -> Shape:
        hit = self._memo.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        shape = self._classify(node)
        self._memo[id(node)] = (node, shape)
        return shape

    def _classify(self, node: SchemaNode) -> Shape:
        kind = node.type
        if kind == "object":
            if node.map_type == "atomic":
                return Shape(LEAF, node, self)
            if node.is_map:
                return Shape(MAP, node, self)
            return Shape(STRUCT, node, self)
        if kind == "array":
            list_type = node.list_type
            if list_type == "map":
                keys = tuple(node.list_map_keys)
                return Shape(LIST_MAP, node, self, keys) if keys else Shape(LEAF, node, self)
            if list_type == "set":
                return Shape(LIST_SET, node, self)
            if list_type is None:
                strategy = node.patch_strategy or ""
                if "merge" in strategy.split(","):
                    key = node.patch_merge_key
                    return Shape(LIST_MAP, node, self, (key,)) if key else Shape(LIST_SET, node, self)
            return Shape(LEAF, node, self)
        if kind is None and node.preserve_unknown_fields:
            return Shape(DEDUCED, node, self)
        return Shape(LEAF, node, self)


def container_form(value: Any, kind: int) -> int:
    """1 when `value` is the container the shape kind expects, 0 when null/absent-like (None),
    -1 when it is some other value (then it is handled as a leaf)."""
    if value is None:
        return 0
    if kind in MAPLIKE:
        return 1 if type(value) is dict else -1
    if kind in LISTLIKE:
        return 1 if type(value) is list else -1
    return -1


def list_item_pe(item: Any, shape: Shape, index: int) -> str:
    """The path element of one element of a map-list or set-list; raises SchemaError."""
    if shape.kind == LIST_MAP:
        if item is None:
            raise SchemaError(f"element {index}: associative list with keys may not have a null element")
        if type(item) is not dict:
            raise SchemaError(f"element {index}: associative list with keys may not have non-map elements")
        keys = shape.keys
        if len(keys) == 1:
            key = keys[0]
            value = item.get(key, _MISSING)
            if value is _MISSING:
                value = _key_default(shape, key, index)
            return "k:{" + go_json(key) + ":" + go_json(value) + "}"
        values: dict[str, Any] = {}
        for key in keys:
            value = item.get(key, _MISSING)
            values[key] = _key_default(shape, key, index) if value is _MISSING else value
        return key_pe(values)
    if type(item) is dict:
        raise SchemaError(f"element {index}: associative list without keys has an element that's a map type")
    if type(item) is list:
        raise SchemaError(f"element {index}: not supported: associative list with lists as elements")
    if item is None:
        raise SchemaError(
            f"element {index}: associative list without keys has an element that's an explicit null"
        )
    return "v:" + go_json(item)


def _key_default(shape: Shape, key: str, index: int) -> Any:
    default = shape.elem().key_default(key)
    if default is None:
        raise SchemaError(
            f"element {index}: associative list with keys has an element that omits key field "
            f"{go_quote(key)} (and doesn't have default value)"
        )
    return default


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()
MISSING: Any = _MISSING


# ---------------------------------------------------------------------------------------------
# ToFieldSet
# ---------------------------------------------------------------------------------------------


def field_set_of(
    obj: dict[str, Any], schema: SchemaNode | Shape, *, allow_duplicates: bool = False
) -> FieldSet:
    """The fields set in `obj` (upstream TypedValue.ToFieldSet): leaves, atomic values, list
    elements, map entries and null/empty struct fields are members. Raises SchemaError for list
    elements without keys and (unless `allow_duplicates`) duplicate list elements."""
    shape = schema if isinstance(schema, Shape) else Shapes(schema).root
    out: dict[str, Any] = {}
    if type(obj) is dict:
        collect_map(obj, shape, out, allow_duplicates)
    return FieldSet(out)


def collect_map(value: dict[str, Any], shape: Shape, out: dict[str, Any], allow_duplicates: bool) -> None:
    struct = shape.kind == STRUCT
    for key, child in value.items():
        cshape = shape.field(key)
        pe = "f:" + key
        try:
            node = _field_node(child, cshape, (not struct) or not shape.declares(key), allow_duplicates)
        except SchemaError as err:
            err.reversed_path.append(pe)
            raise
        if node is not None:
            out[pe] = node


def _field_node(value: Any, shape: Shape, undeclared: bool, allow_duplicates: bool) -> dict[str, Any] | None:
    kind = shape.kind
    form = container_form(value, kind) if kind != LEAF else -1
    if form < 0:
        return {}
    if form == 0:
        return {}
    children: dict[str, Any] = {}
    if kind in MAPLIKE:
        collect_map(value, shape, children, allow_duplicates)
        return make_node(children, undeclared or not value)
    collect_list(value, shape, children, allow_duplicates)
    return make_node(children, undeclared)


def collect_list(value: list[Any], shape: Shape, out: dict[str, Any], allow_duplicates: bool) -> None:
    elem = shape.elem()
    pes = [list_item_pe(item, shape, i) for i, item in enumerate(value)]
    duplicates: set[str] = set()
    if len(set(pes)) != len(pes):
        seen: set[str] = set()
        for pe in pes:
            if pe in seen:
                if not allow_duplicates:
                    err = SchemaError(f"duplicate entries for key {pe_string(pe)}")
                    raise err
                duplicates.add(pe)
            seen.add(pe)
    for pe, item in zip(pes, value, strict=True):
        if pe in duplicates:
            out[pe] = {}
            continue
        if elem.kind == LEAF or container_form(item, elem.kind) != 1:
            out[pe] = {}
            continue
        children: dict[str, Any] = {}
        try:
            if elem.kind in MAPLIKE:
                collect_map(item, elem, children, allow_duplicates)
            else:
                collect_list(item, elem, children, allow_duplicates)
        except SchemaError as err:
            err.reversed_path.append(pe)
            raise
        out[pe] = make_node(children, True) or {}


def ensure_named_fields_are_members(children: dict[str, Any], shape: Shape) -> dict[str, Any]:
    """Upstream EnsureNamedFieldsAreMembers: declared struct fields that have members below them
    become members themselves (map keys and list elements do not)."""
    out: dict[str, Any] | None = None
    for pe, node in children.items():
        if pe == DOT or not has_children(node):
            continue
        if pe[0] == "f":
            name = pe[2:]
            cshape = shape.field(name) if shape.kind in MAPLIKE else UNKNOWN_SHAPE
            named = shape.declares(name)
        elif pe[0] == "k":
            cshape = shape.elem() if shape.kind in LISTLIKE else UNKNOWN_SHAPE
            named = False
        else:
            cshape = UNKNOWN_SHAPE
            named = False
        sub = ensure_named_fields_are_members(node, cshape)
        if named and DOT not in sub:
            sub = dict(sub)
            sub[DOT] = {}
        if sub is not node:
            if out is None:
                out = dict(children)
            out[pe] = sub
    return children if out is None else out
