"""The indexed cache behind an informer, as client-go's Indexer: objects by key ("namespace/name",
or "name" when cluster-scoped), plus named indexes (an index function maps an object to the
values it is filed under; by namespace always, by node name or owner uid when asked).

Objects in the cache are shared with every reader: never mutate them (copy first).
Must not fetch anything; the informer fills it.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]

NAMESPACE_INDEX = "namespace"
NODE_NAME_INDEX = "nodeName"
OWNER_UID_INDEX = "ownerUID"


def object_key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    return f"{namespace}/{meta.get('name', '')}" if namespace else str(meta.get("name", ""))


def key_of(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def split_key(key: str) -> tuple[str, str]:
    """'ns/name' -> ('ns', 'name'); 'name' -> ('', 'name')."""
    namespace, sep, name = key.partition("/")
    return (namespace, name) if sep else ("", namespace)


def index_by_namespace(obj: Obj) -> list[str]:
    return [(obj.get("metadata") or {}).get("namespace") or ""]


def index_by_node_name(obj: Obj) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


def index_by_owner_uid(obj: Obj) -> list[str]:
    return [ref["uid"] for ref in (obj.get("metadata") or {}).get("ownerReferences") or [] if ref.get("uid")]


class Indexer:
    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None):
        self._items: dict[str, Obj] = {}
        self._funcs: dict[str, IndexFunc] = {NAMESPACE_INDEX: index_by_namespace, **(indexers or {})}
        self._indices: dict[str, dict[str, set[str]]] = {name: {} for name in self._funcs}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def get_by_name(self, namespace: str, name: str) -> Obj | None:
        return self._items.get(key_of(namespace, name))

    def list_keys(self) -> builtins.list[str]:
        return list(self._items)

    def list(self) -> list[Obj]:
        return list(self._items.values())

    def index_keys(self, index: str, value: str) -> builtins.list[str]:
        return sorted(self._index(index).get(value, ()))

    def by_index(self, index: str, value: str) -> builtins.list[Obj]:
        return [self._items[key] for key in self.index_keys(index, value)]

    def list_namespace(self, namespace: str) -> builtins.list[Obj]:
        return self.by_index(NAMESPACE_INDEX, namespace)

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """Add indexes (built at once over the items held); a name already taken by another function
        is an error, since two users would then read different indexes under one name."""
        for name, func in indexers.items():
            known = self._funcs.get(name)
            if known is func:
                continue
            if known is not None:
                raise ValueError(f"index {name!r} is already defined by another function")
            self._funcs[name] = func
            index: dict[str, set[str]] = {}
            for key, obj in self._items.items():
                for value in set(func(obj)):
                    index.setdefault(value, set()).add(key)
            self._indices[name] = index

    def _index(self, index: str) -> dict[str, set[str]]:
        try:
            return self._indices[index]
        except KeyError:
            raise KeyError(f"no index named {index!r}") from None

    # ------------------------------------------------------------------ filled by the informer
    def upsert(self, obj: Obj) -> Obj | None:
        """Store obj under its key; returns the object it replaced."""
        key = object_key(obj)
        old = self._items.get(key)
        self._items[key] = obj
        for name, func in self._funcs.items():
            new_values = set(func(obj))
            old_values = set(func(old)) if old is not None else set()
            if new_values == old_values:
                continue
            index = self._indices[name]
            for value in old_values - new_values:
                self._unfile(index, value, key)
            for value in new_values - old_values:
                index.setdefault(value, set()).add(key)
        return old

    def remove(self, key: str) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None:
            for name, func in self._funcs.items():
                index = self._indices[name]
                for value in set(func(old)):
                    self._unfile(index, value, key)
        return old

    @staticmethod
    def _unfile(index: dict[str, set[str]], value: str, key: str) -> None:
        keys = index.get(value)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del index[value]
