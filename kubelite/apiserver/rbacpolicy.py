"""The bootstrap RBAC policy: upstream's default ClusterRoles and ClusterRoleBindings (cluster-admin,
admin/edit/view aggregated through `rbac.authorization.k8s.io/aggregate-to-*` labels, discovery,
basic-user, public-info-viewer, monitoring, node, node-bootstrapper, node-proxier, the CSR roles,
the control-plane components' roles), kubeadm's node-joining bindings and cluster-info Role, and
kubelite's own bindings for its nodes, reconciled at every start as upstream's auto-reconcile does:
missing objects are created; an object whose `rbac.authorization.kubernetes.io/autoupdate`
annotation is not "false" gets the rules, subjects, labels, annotations and aggregation selectors
it lacks added; nothing a user added is ever removed.

Differences from upstream, on purpose: nodes are authorized by RBAC alone (no Node authorizer),
through kubelite's bindings of `system:node` and `system:node-proxier` to the group system:nodes,
plus `kubelite:node-agent` for what a kubelite agent runs with the node's credential (network
policy, local-path volumes). The per-controller `system:controller:*` roles are not created:
kubelite's controllers run inside the server on the trusted in-process transport.

Must not decide requests (rbac.py does) nor delete anything.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kubelite.api import errors
from kubelite.apiserver.authorization import RequestAttributes, non_resource
from kubelite.apiserver.rbac import GROUP, compile_rules
from kubelite.registry.context import RequestContext
from kubelite.registry.registry import Registry

log = logging.getLogger(__name__)

Obj = dict[str, Any]

AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAPPING = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"
READ = "get list watch"
WRITE = "create delete deletecollection patch update"
ALL = "create delete deletecollection get list patch update watch"


def rule(verbs: str, groups: list[str], resources: str, names: str = "") -> Obj:
    """A PolicyRule from space-separated verbs and resources."""
    found: Obj = {"verbs": verbs.split(), "apiGroups": list(groups), "resources": resources.split()}
    if names:
        found["resourceNames"] = names.split()
    return found


def url_rule(verbs: str, urls: str) -> Obj:
    return {"verbs": verbs.split(), "nonResourceURLs": urls.split()}


def cluster_role(name: str, rules: list[Obj], labels: dict[str, str] | None = None, aggregate_from: str = "") -> Obj:
    role: Obj = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {**BOOTSTRAPPING, **(labels or {})}, "annotations": {AUTOUPDATE: "true"}},
        "rules": rules,
    }
    if aggregate_from:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {AGGREGATE_TO + aggregate_from: "true"}}]}
    return role


def subject(kind: str, name: str, namespace: str = "") -> Obj:
    if kind == "ServiceAccount":
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"kind": kind, "apiGroup": GROUP, "name": name}


def binding(kind: str, name: str, role_kind: str, role: str, subjects: list[Obj], namespace: str = "") -> Obj:
    meta: Obj = {"name": name, "labels": dict(BOOTSTRAPPING), "annotations": {AUTOUPDATE: "true"}}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": GROUP, "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def _aggregate(to: str) -> dict[str, str]:
    return {AGGREGATE_TO + to: "true"}


def _events() -> Obj:
    return rule("create patch update", ["", "events.k8s.io"], "events")


def cluster_roles() -> list[Obj]:
    """upstream's bootstrap ClusterRoles (v1.33) and kubelite's node-agent role."""
    return [
        cluster_role("cluster-admin", [rule("*", ["*"], "*"), url_rule("*", "*")]),
        cluster_role("admin", [], aggregate_from="admin"),
        cluster_role("edit", [], _aggregate("admin"), aggregate_from="edit"),
        cluster_role("view", [], _aggregate("edit"), aggregate_from="view"),
        cluster_role(
            "system:aggregate-to-admin",
            [
                rule("create", ["authorization.k8s.io"], "localsubjectaccessreviews"),
                rule(ALL, [GROUP], "rolebindings roles"),
            ],
            _aggregate("admin"),
        ),
        cluster_role(
            "system:aggregate-to-edit",
            [
                rule(READ, [""], "pods/attach pods/exec pods/portforward pods/proxy secrets services/proxy"),
                rule("impersonate", [""], "serviceaccounts"),
                rule(WRITE, [""], "pods pods/attach pods/exec pods/portforward pods/proxy"),
                rule("create", [""], "pods/eviction"),
                rule(
                    WRITE,
                    [""],
                    "configmaps events persistentvolumeclaims replicationcontrollers replicationcontrollers/scale "
                    "secrets serviceaccounts services services/proxy",
                ),
                rule("create", [""], "serviceaccounts/token"),
                rule(
                    WRITE,
                    ["apps"],
                    "daemonsets deployments deployments/rollback deployments/scale replicasets replicasets/scale "
                    "statefulsets statefulsets/scale",
                ),
                rule(WRITE, ["autoscaling"], "horizontalpodautoscalers"),
                rule(WRITE, ["batch"], "cronjobs jobs"),
                rule(
                    WRITE,
                    ["extensions"],
                    "daemonsets deployments deployments/rollback deployments/scale ingresses networkpolicies "
                    "replicasets replicasets/scale replicationcontrollers/scale",
                ),
                rule(WRITE, ["policy"], "poddisruptionbudgets"),
                rule(WRITE, ["networking.k8s.io"], "ingresses networkpolicies"),
                rule(ALL, ["coordination.k8s.io"], "leases"),
            ],
            _aggregate("edit"),
        ),
        cluster_role(
            "system:aggregate-to-view",
            [
                rule(
                    READ,
                    [""],
                    "configmaps endpoints persistentvolumeclaims persistentvolumeclaims/status pods "
                    "replicationcontrollers replicationcontrollers/scale serviceaccounts services services/status",
                ),
                rule(
                    READ,
                    [""],
                    "bindings events limitranges namespaces/status pods/log pods/status replicationcontrollers/status "
                    "resourcequotas resourcequotas/status",
                ),
                rule(READ, [""], "namespaces"),
                rule(READ, ["discovery.k8s.io"], "endpointslices"),
                rule(
                    READ,
                    ["apps"],
                    "controllerrevisions daemonsets daemonsets/status deployments deployments/scale deployments/status "
                    "replicasets replicasets/scale replicasets/status statefulsets statefulsets/scale statefulsets/status",
                ),
                rule(READ, ["autoscaling"], "horizontalpodautoscalers horizontalpodautoscalers/status"),
                rule(READ, ["batch"], "cronjobs cronjobs/status jobs jobs/status"),
                rule(
                    READ,
                    ["extensions"],
                    "daemonsets daemonsets/status deployments deployments/scale deployments/status ingresses "
                    "ingresses/status networkpolicies replicasets replicasets/scale replicasets/status "
                    "replicationcontrollers/scale",
                ),
                rule(READ, ["policy"], "poddisruptionbudgets poddisruptionbudgets/status"),
                rule(READ, ["networking.k8s.io"], "ingresses ingresses/status networkpolicies"),
            ],
            _aggregate("view"),
        ),
        cluster_role(
            "system:auth-delegator",
            [
                rule("create", ["authentication.k8s.io"], "tokenreviews"),
                rule("create", ["authorization.k8s.io"], "subjectaccessreviews"),
            ],
        ),
        cluster_role(
            "system:basic-user",
            [
                rule("create", ["authorization.k8s.io"], "selfsubjectaccessreviews selfsubjectrulesreviews"),
                rule("create", ["authentication.k8s.io"], "selfsubjectreviews"),
            ],
        ),
        cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            [rule("create", ["certificates.k8s.io"], "certificatesigningrequests/nodeclient")],
        ),
        cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            [rule("create", ["certificates.k8s.io"], "certificatesigningrequests/selfnodeclient")],
        ),
        *(
            cluster_role(
                f"system:certificates.k8s.io:{signer}-approver",
                [rule("approve", ["certificates.k8s.io"], "signers", f"kubernetes.io/{signer}")],
            )
            for signer in ("kube-apiserver-client", "kube-apiserver-client-kubelet", "kubelet-serving", "legacy-unknown")
        ),
        cluster_role(
            "system:discovery",
            [url_rule("get", "/api /api/* /apis /apis/* /healthz /livez /openapi /openapi/* /readyz /version /version/")],
        ),
        cluster_role(
            "system:heapster",
            [rule(READ, [""], "events namespaces nodes pods"), rule(READ, ["extensions"], "deployments")],
        ),
        cluster_role("system:kube-aggregator", [rule(READ, [""], "endpoints services")]),
        cluster_role(
            "system:kube-controller-manager",
            [
                _events(),
                rule("create", ["coordination.k8s.io"], "leases"),
                rule("get update", ["coordination.k8s.io"], "leases", "kube-controller-manager"),
                rule("create", [""], "secrets serviceaccounts"),
                rule("delete", [""], "secrets"),
                rule("get", [""], "configmaps namespaces secrets serviceaccounts"),
                rule("update", [""], "secrets serviceaccounts"),
                rule("create", ["authentication.k8s.io"], "tokenreviews"),
                rule("create", ["authorization.k8s.io"], "subjectaccessreviews"),
                rule("list watch", ["*"], "*"),
                rule("create", [""], "serviceaccounts/token"),
            ],
        ),
        cluster_role("system:kube-dns", [rule("list watch", [""], "endpoints services")]),
        cluster_role(
            "system:kube-scheduler",
            [
                _events(),
                rule("create", ["coordination.k8s.io"], "leases"),
                rule("get update", ["coordination.k8s.io"], "leases", "kube-scheduler"),
                rule(READ, [""], "nodes"),
                rule("delete get list watch", [""], "pods"),
                rule("create", [""], "bindings pods/binding"),
                rule("patch update", [""], "pods/status"),
                rule(READ, [""], "replicationcontrollers services"),
                rule(READ, ["apps", "extensions"], "replicasets"),
                rule(READ, ["apps"], "statefulsets"),
                rule(READ, ["policy"], "poddisruptionbudgets"),
                rule(READ, [""], "persistentvolumeclaims persistentvolumes"),
                rule("create", ["authentication.k8s.io"], "tokenreviews"),
                rule("create", ["authorization.k8s.io"], "subjectaccessreviews"),
                rule(READ, ["storage.k8s.io"], "csinodes"),
                rule(READ, [""], "namespaces"),
                rule(READ, ["storage.k8s.io"], "csidrivers"),
                rule(READ, ["storage.k8s.io"], "csistoragecapacities"),
            ],
        ),
        cluster_role(
            "system:kubelet-api-admin",
            [
                rule(READ, [""], "nodes"),
                rule("proxy", [""], "nodes"),
                rule("*", [""], "nodes/log nodes/metrics nodes/proxy nodes/stats"),
            ],
        ),
        cluster_role(
            "system:monitoring",
            [url_rule("get", "/healthz /healthz/* /livez /livez/* /metrics /metrics/slis /readyz /readyz/*")],
        ),
        cluster_role(
            "system:node",
            [
                rule("create", ["authentication.k8s.io"], "tokenreviews"),
                rule("create", ["authorization.k8s.io"], "localsubjectaccessreviews subjectaccessreviews"),
                rule(READ, [""], "services"),
                rule("create get list watch", [""], "nodes"),
                rule("patch update", [""], "nodes/status"),
                rule("patch update", [""], "nodes"),
                rule("create patch update", [""], "events"),
                rule(READ, [""], "pods"),
                rule("create delete", [""], "pods"),
                rule("patch update", [""], "pods/status"),
                rule("create", [""], "pods/eviction"),
                rule(READ, [""], "configmaps secrets"),
                rule("get", [""], "persistentvolumeclaims persistentvolumes"),
                rule("get", [""], "endpoints"),
                rule("create get list watch", ["certificates.k8s.io"], "certificatesigningrequests"),
                rule("create delete get patch update", ["coordination.k8s.io"], "leases"),
                rule("get", ["storage.k8s.io"], "volumeattachments"),
                rule("create", [""], "serviceaccounts/token"),
                rule("get patch update", [""], "persistentvolumeclaims/status"),
                rule(READ, ["storage.k8s.io"], "csidrivers"),
                rule("create delete get patch update", ["storage.k8s.io"], "csinodes"),
                rule(READ, ["node.k8s.io"], "runtimeclasses"),
            ],
        ),
        cluster_role(
            "system:node-bootstrapper",
            [rule("create get list watch", ["certificates.k8s.io"], "certificatesigningrequests")],
        ),
        cluster_role(
            "system:node-problem-detector",
            [rule("get", [""], "nodes"), rule("patch", [""], "nodes/status"), _events()],
        ),
        cluster_role(
            "system:node-proxier",
            [
                rule("list watch", [""], "endpoints services"),
                rule(READ, [""], "nodes"),
                _events(),
                rule("list watch", ["discovery.k8s.io"], "endpointslices"),
            ],
        ),
        cluster_role(
            "system:persistent-volume-provisioner",
            [
                rule("create delete get list watch", [""], "persistentvolumes"),
                rule("get list update watch", [""], "persistentvolumeclaims"),
                rule(READ, ["storage.k8s.io"], "storageclasses"),
                rule("watch", [""], "events"),
                _events(),
            ],
        ),
        cluster_role("system:public-info-viewer", [url_rule("get", "/healthz /livez /readyz /version /version/")]),
        cluster_role(
            "system:service-account-issuer-discovery", [url_rule("get", "/.well-known/openid-configuration /openid/v1/jwks")]
        ),
        cluster_role(
            "system:volume-scheduler",
            [
                rule("get list patch update watch", [""], "persistentvolumes"),
                rule(READ, ["storage.k8s.io"], "storageclasses"),
                rule("get list patch update watch", [""], "persistentvolumeclaims"),
            ],
        ),
        # kubeadm's: joining nodes may look up their Node object
        cluster_role("kubeadm:get-nodes", [rule("get", [""], "nodes")]),
        # kubelite's: what its agents run with the node credential besides kubelet and kube-proxy
        cluster_role(
            "kubelite:node-agent",
            [
                rule("list watch", ["networking.k8s.io"], "networkpolicies"),
                rule("list watch", [""], "pods namespaces"),
                rule("create delete get list watch", [""], "persistentvolumes"),
                rule("get list patch update watch", [""], "persistentvolumeclaims"),
                rule(READ, ["storage.k8s.io"], "storageclasses"),
            ],
        ),
    ]


def cluster_role_bindings() -> list[Obj]:
    """upstream's bootstrap ClusterRoleBindings, kubeadm's for joining nodes (to every bootstrap
    token: the group system:bootstrappers), and kubelite's for its nodes."""
    crb = "ClusterRoleBinding"
    group, user = "Group", "User"
    return [
        binding(crb, "cluster-admin", "ClusterRole", "cluster-admin", [subject(group, "system:masters")]),
        binding(crb, "system:basic-user", "ClusterRole", "system:basic-user", [subject(group, "system:authenticated")]),
        binding(crb, "system:discovery", "ClusterRole", "system:discovery", [subject(group, "system:authenticated")]),
        binding(
            crb,
            "system:public-info-viewer",
            "ClusterRole",
            "system:public-info-viewer",
            [subject(group, "system:authenticated"), subject(group, "system:unauthenticated")],
        ),
        binding(crb, "system:monitoring", "ClusterRole", "system:monitoring", [subject(group, "system:monitoring")]),
        binding(
            crb, "system:kube-controller-manager", "ClusterRole", "system:kube-controller-manager", [subject(user, "system:kube-controller-manager")]
        ),
        binding(crb, "system:kube-dns", "ClusterRole", "system:kube-dns", [subject("ServiceAccount", "kube-dns", "kube-system")]),
        binding(crb, "system:kube-scheduler", "ClusterRole", "system:kube-scheduler", [subject(user, "system:kube-scheduler")]),
        binding(crb, "system:volume-scheduler", "ClusterRole", "system:volume-scheduler", [subject(user, "system:kube-scheduler")]),
        binding(crb, "system:node", "ClusterRole", "system:node", []),
        binding(crb, "system:node-proxier", "ClusterRole", "system:node-proxier", [subject(user, "system:kube-proxy")]),
        binding(
            crb,
            "system:service-account-issuer-discovery",
            "ClusterRole",
            "system:service-account-issuer-discovery",
            [subject(group, "system:serviceaccounts")],
        ),
        binding(crb, "kubeadm:kubelet-bootstrap", "ClusterRole", "system:node-bootstrapper", [subject(group, "system:bootstrappers")]),
        binding(
            crb,
            "kubeadm:node-autoapprove-bootstrap",
            "ClusterRole",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            [subject(group, "system:bootstrappers")],
        ),
        binding(
            crb,
            "kubeadm:node-autoapprove-certificate-rotation",
            "ClusterRole",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            [subject(group, "system:nodes")],
        ),
        binding(crb, "kubeadm:get-nodes", "ClusterRole", "kubeadm:get-nodes", [subject(group, "system:bootstrappers")]),
        binding(crb, "kubelite:node", "ClusterRole", "system:node", [subject(group, "system:nodes")]),
        binding(crb, "kubelite:node-proxier", "ClusterRole", "system:node-proxier", [subject(group, "system:nodes")]),
        binding(crb, "kubelite:node-agent", "ClusterRole", "kubelite:node-agent", [subject(group, "system:nodes")]),
    ]


CLUSTER_INFO_ROLE = "kubeadm:bootstrap-signer-clusterinfo"


def roles() -> list[Obj]:
    """kubeadm's Role letting anyone read kube-public/cluster-info."""
    role = cluster_role(CLUSTER_INFO_ROLE, [rule("get", [""], "configmaps", "cluster-info")])
    role["kind"] = "Role"
    role["metadata"]["namespace"] = "kube-public"
    return [role]


def role_bindings() -> list[Obj]:
    return [
        binding("RoleBinding", CLUSTER_INFO_ROLE, "Role", CLUSTER_INFO_ROLE, [subject("User", "system:anonymous")], "kube-public")
    ]


# ---------------------------------------------------------------------------- reconciling
def _atoms(policy_rule: Obj) -> list[RequestAttributes]:
    """A rule broken into single requests (wildcards kept as literals), for coverage checks."""
    verbs = policy_rule.get("verbs") or []
    urls = policy_rule.get("nonResourceURLs") or []
    if urls:
        return [non_resource(verb, url) for verb in verbs for url in urls]
    names = policy_rule.get("resourceNames") or [""]
    atoms: list[RequestAttributes] = []
    for verb in verbs:
        for group in policy_rule.get("apiGroups") or []:
            for resource in policy_rule.get("resources") or []:
                base, _, sub = str(resource).partition("/")
                atoms.extend(RequestAttributes(verb, group, base, sub, name=name) for name in names)
    return atoms


def missing_rules(existing: list[Obj], expected: list[Obj]) -> list[Obj]:
    """The expected rules the existing ones do not fully cover (each whole)."""
    have = compile_rules(existing)
    return [
        wanted
        for wanted in expected
        if not all(any(rule.allows(atom) for rule in have) for atom in _atoms(wanted))
    ]


def _merge_meta(current: Obj, expected: Obj) -> bool:
    changed = False
    meta, wanted = current.setdefault("metadata", {}), expected["metadata"]
    for field in ("labels", "annotations"):
        have = meta.get(field) or {}
        extra = {k: v for k, v in (wanted.get(field) or {}).items() if k not in have}
        if extra:
            meta[field] = {**have, **extra}
            changed = True
    return changed


def reconcile_role(current: Obj, expected: Obj) -> Obj | None:
    """The role with what it lacks added, or None when nothing is missing."""
    updated = copy.deepcopy(current)
    changed = _merge_meta(updated, expected)
    wanted_aggregation = expected.get("aggregationRule")
    if wanted_aggregation:
        selectors = list((updated.get("aggregationRule") or {}).get("clusterRoleSelectors") or [])
        extra = [s for s in wanted_aggregation["clusterRoleSelectors"] if s not in selectors]
        if extra or "aggregationRule" not in updated:
            updated["aggregationRule"] = {"clusterRoleSelectors": selectors + extra}
            changed = True
    else:  # an aggregated role's rules belong to the aggregation controller
        missing = missing_rules(list(updated.get("rules") or []), expected["rules"])
        if missing:
            updated["rules"] = list(updated.get("rules") or []) + missing
            changed = True
    return updated if changed else None


def reconcile_binding(current: Obj, expected: Obj) -> Obj | None:
    updated = copy.deepcopy(current)
    changed = _merge_meta(updated, expected)
    subjects = list(updated.get("subjects") or [])
    extra = [s for s in expected["subjects"] if s not in subjects]
    if extra:
        updated["subjects"] = subjects + extra
        changed = True
    return updated if changed else None


async def _reconcile(registry: Registry, resource: str, expected: Obj, ctx: RequestContext) -> None:
    store = registry.store_for(GROUP, resource)
    if store is None:
        return
    meta = expected["metadata"]
    namespace, name = meta.get("namespace", ""), meta["name"]
    current = store.cache.get(namespace, name)
    if current is None:
        try:
            await store.create(namespace, copy.deepcopy(expected), ctx)
        except errors.StatusError as exc:
            if exc.code != 409 and not (exc.code == 404 and namespace):  # its namespace may not exist yet
                raise
        return
    if (current.get("metadata", {}).get("annotations") or {}).get(AUTOUPDATE) == "false":
        return
    if resource.endswith("bindings"):
        if current.get("roleRef") != expected["roleRef"]:
            log.warning("%s %s refers to another role than the bootstrap policy's; left as it is", resource, name)
            return
        updated = reconcile_binding(current, expected)
    else:
        updated = reconcile_role(current, expected)
    if updated is not None:
        await store.update(namespace, name, store.to_external(updated), ctx)


async def reconcile(registry: Registry) -> None:
    """Create or top up every object of the bootstrap policy (idempotent; never removes)."""
    ctx = RequestContext(field_manager="kube-apiserver")
    for resource, objects in (
        ("clusterroles", cluster_roles()),
        ("clusterrolebindings", cluster_role_bindings()),
        ("roles", roles()),
        ("rolebindings", role_bindings()),
    ):
        for expected in objects:
            await _reconcile(registry, resource, expected, ctx)
