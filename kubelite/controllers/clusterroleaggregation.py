"""The ClusterRole aggregation controller as upstream's pkg/controller/clusterroleaggregation: a
ClusterRole with an aggregationRule gets as its rules the union (first occurrence kept, in order)
of the rules of every other ClusterRole its selectors match, roles taken by name within each
selector; written by server-side apply as field manager clusterrole-aggregation-controller when
they differ. Any ClusterRole change re-syncs every aggregated ClusterRole.

Must not touch ClusterRoles without an aggregationRule, nor anything but their rules.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.labels import selector_from_spec
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller

Obj = dict[str, Any]

COMPONENT = "clusterrole-aggregation-controller"
GROUP = "rbac.authorization.k8s.io"


def _same_rule(a: Obj, b: Obj) -> bool:
    """Semantic equality of two PolicyRules (an empty list equals a missing one)."""
    fields = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")
    return all((a.get(field) or []) == (b.get(field) or []) for field in fields)


def aggregated_rules(role: Obj, cluster_roles: list[Obj]) -> list[Obj]:
    """The rules `role`'s aggregationRule collects from `cluster_roles` (raises LabelSelectorError
    on an invalid selector, as upstream's sync fails)."""
    name = role["metadata"]["name"]
    by_name = sorted(cluster_roles, key=lambda r: r["metadata"]["name"])
    rules: list[Obj] = []
    for selector_spec in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        selector = selector_from_spec(selector_spec)
        for other in by_name:
            if other["metadata"]["name"] == name or not selector.matches(other["metadata"].get("labels") or {}):
                continue
            for rule in other.get("rules") or []:
                if not any(_same_rule(rule, kept) for kept in rules):
                    rules.append(rule)
    return rules


def rules_equal(a: list[Obj], b: list[Obj]) -> bool:
    return len(a) == len(b) and all(_same_rule(x, y) for x, y in zip(a, b, strict=True))


class ClusterRoleAggregationController(Controller):
    def __init__(self, client: Client, *, workers: int = 1, clock: Clock | None = None):
        super().__init__(client, name=COMPONENT, workers=workers, clock=clock)
        self.roles_client = client.resource(GROUP, "v1", "clusterroles")
        self.roles = self.informer(GROUP, "v1", "clusterroles")
        self.roles.add_handler(
            lambda _obj: self._enqueue_all(), lambda _old, _new: self._enqueue_all(), lambda _obj: self._enqueue_all()
        )

    def _enqueue_all(self) -> None:
        for role in self.roles.cache.list():
            if role.get("aggregationRule") is not None:
                self.enqueue(role)

    async def sync(self, key: str) -> None:
        role = self.roles.cache.get(key)
        if role is None or role.get("aggregationRule") is None:
            return
        rules = aggregated_rules(role, self.roles.cache.list())  # an invalid selector fails the sync
        if rules_equal(rules, list(role.get("rules") or [])):
            return
        await self.roles_client.apply(
            {"apiVersion": f"{GROUP}/v1", "kind": "ClusterRole", "metadata": {"name": role["metadata"]["name"]}, "rules": rules},
            field_manager=COMPONENT,
            force=True,
        )
