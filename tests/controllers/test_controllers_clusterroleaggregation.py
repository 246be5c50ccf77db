"""The ClusterRole aggregation controller against a real in-process registry holding the bootstrap
policy: admin/edit/view collect the aggregate-to-* roles, a new labelled ClusterRole joins them,
changed and removed ones leave, and roles without an aggregationRule are left alone."""

from __future__ import annotations

from typing import Any

from kubelite.apiserver.rbacpolicy import reconcile
from kubelite.client.client import ResourceClient
from kubelite.controllers.clusterroleaggregation import ClusterRoleAggregationController, aggregated_rules
from tests.controllers.controllers_harness import ControllerCluster, eventually

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"
WIDGETS = {"verbs": ["get", "list"], "apiGroups": ["example.com"], "resources": ["widgets"]}


def role(name: str, rules: list[Obj], labels: dict[str, str] | None = None, selectors: list[Obj] | None = None) -> Obj:
    obj: Obj = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": name, "labels": labels or {}}, "rules": rules}
    if selectors is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return obj


def test_rules_are_collected_in_name_order_without_duplicates() -> None:
    a = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
    b = {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}
    target = role("target", [], selectors=[{"matchLabels": {"x": "1"}}, {"matchLabels": {"y": "1"}}])
    roles = [
        role("z", [b], {"x": "1"}),
        role("m", [a], {"x": "1"}),
        role("n", [dict(a, resourceNames=[])], {"y": "1"}),  # semantically the same as `a`
        role("other", [WIDGETS], {"x": "2"}),
        target,
    ]
    assert aggregated_rules(target, roles) == [a, b]


async def rules_of(roles: ResourceClient, name: str) -> list[Obj]:
    return list((await roles.get(name)).get("rules") or [])


async def test_bootstrap_roles_aggregate_and_follow_changes(cluster: ControllerCluster) -> None:
    registry = cluster.client.transport.registry  # type: ignore[attr-defined]
    await reconcile(registry)
    roles = cluster.client.resource(RBAC, "v1", "clusterroles")
    await cluster.run(ClusterRoleAggregationController(cluster.client))

    async def view_reads_pods() -> bool:
        return any("pods" in r.get("resources", []) and "list" in r["verbs"] for r in await rules_of(roles, "view"))

    await eventually(view_reads_pods, what="view aggregated")
    # admin holds edit's and view's rules too (edit is labelled aggregate-to-admin, view aggregate-to-edit)
    admin = await rules_of(roles, "admin")
    assert any("rolebindings" in r.get("resources", []) for r in admin)
    assert any("pods/log" in r.get("resources", []) for r in admin)

    await roles.create(role("widget-viewer", [WIDGETS], {"rbac.authorization.k8s.io/aggregate-to-view": "true"}))

    async def everyone_has_widgets() -> bool:
        return all([WIDGETS in await rules_of(roles, name) for name in ("view", "edit", "admin")])

    await eventually(everyone_has_widgets, what="widgets aggregated into view, edit and admin")
    assert WIDGETS not in await rules_of(roles, "cluster-admin")  # no aggregationRule: untouched

    await roles.delete("widget-viewer")

    async def widgets_gone() -> bool:
        return WIDGETS not in await rules_of(roles, "view")

    await eventually(widgets_gone, what="widgets removed from view")
    managers = {entry["manager"] for entry in (await roles.get("view"))["metadata"]["managedFields"]}
    assert "clusterrole-aggregation-controller" in managers
