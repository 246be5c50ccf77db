"""Admission plugins and the chain that runs them, as the apiserver's admission phase: on every
create and update the Store hands the chain an `AdmissionRequest`; mutating plugins run before
the object is validated (they may change it), validating plugins after validation and the
strategy's own admission hooks, right before the write (they may only refuse, or charge
something outside the object, as quota does).

Plugins are registered on the Registry (`registry.admission`); each says which resources it
cares about, and the chain remembers that per resource so a write no plugin cares about costs
one dict lookup. Must not know any particular plugin, nor store anything itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from kubelite.api import errors
from kubelite.registry.context import RequestContext
from kubelite.schema.catalogue import ResourceInfo

if TYPE_CHECKING:
    from kubelite.registry.registry import Registry

Obj = dict[str, Any]

CREATE = "CREATE"
UPDATE = "UPDATE"


@dataclass(slots=True)
class AdmissionRequest:
    """One write as admission sees it: `old` is None on create, the stored object on update."""

    info: ResourceInfo
    obj: Obj
    old: Obj | None
    ctx: RequestContext
    registry: Registry
    subresource: str = ""

    @property
    def operation(self) -> str:
        return CREATE if self.old is None else UPDATE

    @property
    def namespace(self) -> str:
        return str((self.obj.get("metadata") or {}).get("namespace") or "")

    @property
    def name(self) -> str:
        """The object's name, else its generateName (upstream's admission errors use either)."""
        meta = self.obj.get("metadata") or {}
        return str(meta.get("name") or meta.get("generateName") or "")

    def forbidden(self, why: str) -> errors.StatusError:
        """403 as upstream admission.NewForbidden: `pods "x" is forbidden: <why>`."""
        qualified = self.info.group_resource
        name = self.name
        message = f'{qualified} "{name}" is forbidden: {why}' if name else f"{qualified} is forbidden: {why}"
        details: dict[str, Any] = {"name": name} if name else {}
        if self.info.group:
            details["group"] = self.info.group
        details["kind"] = self.info.resource
        return errors.StatusError(403, "Forbidden", message, details)


class AdmissionPlugin(Protocol):
    name: str

    def handles(self, group: str, resource: str) -> bool:
        """Whether writes of this resource may concern the plugin at all (asked once per resource)."""
        ...

    async def mutate(self, request: AdmissionRequest) -> None:
        """Change request.obj before validation (may raise StatusError)."""
        ...

    async def validate(self, request: AdmissionRequest) -> None:
        """Refuse the write by raising StatusError; must not change request.obj."""
        ...


class AdmissionChain:
    """The registered plugins, run in registration order."""

    def __init__(self, plugins: list[AdmissionPlugin] | None = None):
        self.plugins: list[AdmissionPlugin] = list(plugins or [])
        self._by_resource: dict[tuple[str, str], tuple[AdmissionPlugin, ...]] = {}

    def register(self, plugin: AdmissionPlugin) -> None:
        self.plugins.append(plugin)
        self._by_resource.clear()

    def plugins_for(self, group: str, resource: str) -> tuple[AdmissionPlugin, ...]:
        key = (group, resource)
        found = self._by_resource.get(key)
        if found is None:
            found = self._by_resource[key] = tuple(p for p in self.plugins if p.handles(group, resource))
        return found

    async def mutate(self, request: AdmissionRequest) -> None:
        for plugin in self.plugins_for(request.info.group, request.info.resource):
            await plugin.mutate(request)

    async def validate(self, request: AdmissionRequest) -> None:
        for plugin in self.plugins_for(request.info.group, request.info.resource):
            await plugin.validate(request)
