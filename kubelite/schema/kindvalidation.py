"""Per-kind semantic validation of built-in objects: one table from (group, resource) to the
validator upstream's registry strategy runs, plus the ObjectMeta checks upstream's generic
registry adds around it (rest.BeforeCreate / rest.BeforeUpdate):

- on update, generic ObjectMeta checks (path-segment names) run before the kind's own;
- on create, kinds whose strategy does not validate ObjectMeta (PodDisruptionBudgets, core/v1
  Events, and any kind not in the table) get the generic checks when their own pass.

Identical causes are reported once, as upstream's error message lists them. CustomResource-
Definitions return nothing: the registry validates them itself.

Must not default, mutate or store objects, and must not hold any kind's rules itself; those live
in workloadvalidation, networkvalidation, corekindvalidation and groupkindvalidation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple

from kubelite.schema import corekindvalidation as core
from kubelite.schema import groupkindvalidation as groups
from kubelite.schema import names
from kubelite.schema import networkvalidation as network
from kubelite.schema import workloadvalidation as workloads
from kubelite.schema.fielderrors import Cause
from kubelite.schema.metavalidation import validate_object_meta, validate_object_meta_update

Obj = dict[str, Any]
Validator = Callable[[Obj, Obj | None], list[Cause]]


class KindRules(NamedTuple):
    validate: Validator
    namespaced: bool
    checks_meta: bool = True  # False: the strategy leaves ObjectMeta to the generic checks


def _no_rules(obj: Obj, old: Obj | None) -> list[Cause]:
    return []


def _core_event(obj: Obj, old: Obj | None) -> list[Cause]:
    return core.validate_event(obj, old, "")


def _events_event(obj: Obj, old: Obj | None) -> list[Cause]:
    return core.validate_event(obj, old, "events.k8s.io")


_RULES: dict[tuple[str, str], KindRules] = {
    ("", "pods"): KindRules(core.validate_pod, True),
    ("", "podtemplates"): KindRules(workloads.validate_pod_template, True),
    ("", "replicationcontrollers"): KindRules(workloads.validate_replication_controller, True),
    ("", "services"): KindRules(network.validate_service, True),
    ("", "endpoints"): KindRules(network.validate_endpoints, True),
    ("", "configmaps"): KindRules(core.validate_config_map, True),
    ("", "secrets"): KindRules(core.validate_secret, True),
    ("", "namespaces"): KindRules(core.validate_namespace, False),
    ("", "nodes"): KindRules(core.validate_node, False),
    ("", "serviceaccounts"): KindRules(core.validate_service_account, True),
    ("", "events"): KindRules(_core_event, True, checks_meta=False),
    ("", "resourcequotas"): KindRules(core.validate_resource_quota, True),
    ("", "limitranges"): KindRules(core.validate_limit_range, True),
    ("", "persistentvolumes"): KindRules(core.validate_persistent_volume, False),
    ("", "persistentvolumeclaims"): KindRules(core.validate_persistent_volume_claim, True),
    ("apps", "deployments"): KindRules(workloads.validate_deployment, True),
    ("apps", "replicasets"): KindRules(workloads.validate_replica_set, True),
    ("apps", "statefulsets"): KindRules(workloads.validate_stateful_set, True),
    ("apps", "daemonsets"): KindRules(workloads.validate_daemon_set, True),
    ("apps", "controllerrevisions"): KindRules(workloads.validate_controller_revision, True),
    ("batch", "jobs"): KindRules(workloads.validate_job, True),
    ("batch", "cronjobs"): KindRules(workloads.validate_cron_job, True),
    ("autoscaling", "horizontalpodautoscalers"): KindRules(groups.validate_horizontal_pod_autoscaler, True),
    ("policy", "poddisruptionbudgets"): KindRules(groups.validate_pod_disruption_budget, True, checks_meta=False),
    ("networking.k8s.io", "ingresses"): KindRules(network.validate_ingress, True),
    ("networking.k8s.io", "ingressclasses"): KindRules(network.validate_ingress_class, False),
    ("networking.k8s.io", "networkpolicies"): KindRules(network.validate_network_policy, True),
    ("discovery.k8s.io", "endpointslices"): KindRules(network.validate_endpoint_slice, True),
    ("rbac.authorization.k8s.io", "roles"): KindRules(groups.validate_role, True),
    ("rbac.authorization.k8s.io", "clusterroles"): KindRules(groups.validate_cluster_role, False),
    ("rbac.authorization.k8s.io", "rolebindings"): KindRules(groups.validate_role_binding, True),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): KindRules(groups.validate_cluster_role_binding, False),
    ("scheduling.k8s.io", "priorityclasses"): KindRules(groups.validate_priority_class, False),
    ("storage.k8s.io", "storageclasses"): KindRules(groups.validate_storage_class, False),
    ("coordination.k8s.io", "leases"): KindRules(groups.validate_lease, True),
    ("events.k8s.io", "events"): KindRules(_events_event, True),
}

_SKIPPED = frozenset({("apiextensions.k8s.io", "customresourcedefinitions")})


@cache
def _builtin_scopes() -> dict[tuple[str, str], bool]:
    """Whether each built-in resource is namespaced (for kinds without rules of their own)."""
    from kubelite.schema.builtins import builtin_resources

    return {(info.group, info.resource): info.namespaced for info in builtin_resources()}


def _generic_rules(group: str, resource: str) -> tuple[KindRules, bool | None]:
    """No rules of its own; the scope when it is a built-in resource, else unknown (None)."""
    namespaced = _builtin_scopes().get((group, resource))
    return KindRules(_no_rules, bool(namespaced), checks_meta=False), namespaced


def _generic_meta(obj: Obj, old: Obj | None, namespaced: bool | None) -> list[Cause]:
    """rest.BeforeCreate's / validateCommonFields' ObjectMeta checks (path-segment names)."""
    causes = validate_object_meta(obj.get("metadata"), namespaced, names.name_is_path_segment, kube_finalizers=False)
    if old is not None:
        causes.extend(validate_object_meta_update(obj.get("metadata"), old.get("metadata"), kube_finalizers=False))
    return causes


def _dedupe(causes: list[Cause]) -> list[Cause]:
    if len(causes) < 2:
        return causes
    seen: set[tuple[str, str]] = set()
    unique: list[Cause] = []
    for item in causes:
        marker = (item.get("field", ""), item.get("message", ""))
        if marker not in seen:
            seen.add(marker)
            unique.append(item)
    return unique


def validate_object(resource: str, group: str, obj: dict[str, Any], old: dict[str, Any] | None) -> list[dict[str, str]]:
    """Status causes for `obj` (a create when `old` is None, else an update of `old`).

    `resource` is the plural resource name and `group` the API group ("" for core). Unknown
    resources (custom resources included) get ObjectMeta validation only."""
    if (group, resource) in _SKIPPED or not isinstance(obj, dict):
        return []
    rules = _RULES.get((group, resource))
    namespaced: bool | None
    if rules is None:
        rules, namespaced = _generic_rules(group, resource)
    else:
        namespaced = rules.namespaced
    if old is None:
        causes = rules.validate(obj, None)
        if not causes and not rules.checks_meta:
            causes = _generic_meta(obj, None, namespaced)
        return _dedupe(causes)
    causes = _generic_meta(obj, old, namespaced)
    causes.extend(rules.validate(obj, old))
    return _dedupe(causes)
