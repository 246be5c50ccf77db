"""The resource catalogue: what resources exist, under which group/version/plural, and how they
are shaped for discovery. Built-in kinds are listed as data here; CRDs join at runtime through
`Catalogue.add` / `Catalogue.remove`.

Must not validate, default or store objects; it only describes resources.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

STANDARD_VERBS: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class Subresource:
    name: str  # "status", "scale", "binding", "eviction", "log", "exec", "attach", "portforward", "token", "proxy"
    kind: str  # the kind the subresource speaks, e.g. "Scale", "Binding", "Eviction", "Pod"
    group: str = ""
    version: str = "v1"
    verbs: tuple[str, ...] = ("get", "patch", "update")


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    group: str  # "" for core
    version: str
    resource: str  # plural, lower case
    kind: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    subresources: tuple[Subresource, ...] = ()
    definition: str | None = None  # schema definition name, e.g. "io.k8s.api.apps.v1.Deployment"
    storage_resource: str = ""  # key prefix segment when it differs (e.g. events.k8s.io events share core events)
    storage_group: str | None = None  # group whose storage this shares (None: its own)
    crd: bool = False
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def group_resource(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None

    def storage_prefix(self) -> str:
        """`/registry/<group or core>/<resource>/` — shared by versions (and aliases) of one resource."""
        group = self.group if self.storage_group is None else self.storage_group
        return f"/registry/{group or 'core'}/{self.storage_resource or self.resource}/"


class Catalogue:
    """Resources by (group, version, resource); groups in registration order."""

    def __init__(self, resources: Iterable[ResourceInfo] = ()):
        self._by_gvr: dict[tuple[str, str, str], ResourceInfo] = {}
        self._group_versions: dict[str, list[str]] = {}
        self.generation = 0  # bumped on every change, for discovery caches
        for info in resources:
            self.add(info)

    def add(self, info: ResourceInfo) -> None:
        self._by_gvr[(info.group, info.version, info.resource)] = info
        versions = self._group_versions.setdefault(info.group, [])
        if info.version not in versions:
            versions.append(info.version)
        self.generation += 1

    def remove(self, group: str, version: str, resource: str) -> None:
        self._by_gvr.pop((group, version, resource), None)
        if not any(g == group and v == version for (g, v, _) in self._by_gvr):
            versions = self._group_versions.get(group, [])
            if version in versions:
                versions.remove(version)
            if not versions:
                self._group_versions.pop(group, None)
        self.generation += 1

    def get(self, group: str, version: str, resource: str) -> ResourceInfo | None:
        return self._by_gvr.get((group, version, resource))

    def by_kind(self, group: str, version: str, kind: str) -> ResourceInfo | None:
        for info in self._by_gvr.values():
            if info.group == group and info.version == version and info.kind == kind:
                return info
        return None

    def groups(self) -> list[str]:
        return list(self._group_versions)

    def versions(self, group: str) -> list[str]:
        """Versions of a group, preferred first."""
        return list(self._group_versions.get(group, []))

    def resources(self, group: str | None = None, version: str | None = None) -> Iterator[ResourceInfo]:
        for info in self._by_gvr.values():
            if (group is None or info.group == group) and (version is None or info.version == version):
                yield info

    def __iter__(self) -> Iterator[ResourceInfo]:
        return iter(list(self._by_gvr.values()))
