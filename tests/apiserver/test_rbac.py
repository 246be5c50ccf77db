"""The RBAC authorizer against a real registry holding the bootstrap policy: upstream's rule
matching, subjects, Role/ClusterRole resolution, reasons, the index following changes, and the
bootstrap policy's grants (anonymous cluster-info, discovery, nodes, bootstrap tokens)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.apiserver.authorization import RequestAttributes, non_resource
from kubelite.apiserver.bootstrap import bootstrap
from kubelite.apiserver.rbac import CompiledRule, RBACAuthorizer, subject_key
from kubelite.apiserver.rbacpolicy import reconcile
from kubelite.registry.context import UserInfo
from kubelite.registry.registry import Registry
from tests.registry.registry_harness import ctx, start_registry, store_of

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"

ADMIN = UserInfo("system:admin", ("system:masters", "system:authenticated"))
ALICE = UserInfo("alice", ("devs", "system:authenticated"))
ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))
SA = UserInfo("system:serviceaccount:default:robot", ("system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"))
NODE = UserInfo("system:node:n1", ("system:nodes", "system:authenticated"))
BOOTSTRAP = UserInfo(
    "system:bootstrap:abcdef", ("system:bootstrappers", "system:bootstrappers:kubelite:default-node-token", "system:authenticated")
)


def rule(verbs: list[str], groups: list[str] | None = None, resources: list[str] | None = None, **more: Any) -> Obj:
    found: Obj = {"verbs": verbs}
    if groups is not None:
        found["apiGroups"] = groups
    if resources is not None:
        found["resources"] = resources
    found.update(more)
    return found


def attrs(verb: str, resource: str, group: str = "", namespace: str = "", name: str = "", sub: str = "") -> RequestAttributes:
    return RequestAttributes(verb, group, resource, sub, namespace, name)


# ---------------------------------------------------------------------------- rule matching
@pytest.mark.parametrize(
    ("policy", "request_attrs", "allowed"),
    [
        (rule(["get"], [""], ["pods"]), attrs("get", "pods"), True),
        (rule(["get"], [""], ["pods"]), attrs("list", "pods"), False),
        (rule(["*"], [""], ["pods"]), attrs("deletecollection", "pods"), True),
        (rule(["get"], ["apps"], ["pods"]), attrs("get", "pods"), False),
        (rule(["get"], ["*"], ["deployments"]), attrs("get", "deployments", "apps"), True),
        (rule(["get"], [""], ["pods"]), attrs("get", "pods", sub="log"), False),
        (rule(["get"], [""], ["pods/log"]), attrs("get", "pods", sub="log"), True),
        (rule(["get"], [""], ["pods/log"]), attrs("get", "pods"), False),
        (rule(["get"], [""], ["*/log"]), attrs("get", "pods", sub="log"), True),
        (rule(["get"], [""], ["*/log"]), attrs("get", "pods", sub="status"), False),
        (rule(["get"], [""], ["*/log"]), attrs("get", "log"), False),
        (rule(["get"], [""], ["*"]), attrs("get", "pods", sub="exec"), True),
        (rule(["get"], [""], ["configmaps"], resourceNames=["a"]), attrs("get", "configmaps", name="a"), True),
        (rule(["get"], [""], ["configmaps"], resourceNames=["a"]), attrs("get", "configmaps", name="b"), False),
        (rule(["list"], [""], ["configmaps"], resourceNames=["a"]), attrs("list", "configmaps"), False),
        (rule(["get"], nonResourceURLs=["/healthz"]), non_resource("get", "/healthz"), True),
        (rule(["get"], nonResourceURLs=["/healthz"]), non_resource("get", "/healthz/etcd"), False),
        (rule(["get"], nonResourceURLs=["/apis/*"]), non_resource("get", "/apis/apps/v1"), True),
        (rule(["get"], nonResourceURLs=["/apis/*"]), non_resource("get", "/apis"), False),
        (rule(["get"], nonResourceURLs=["*"]), non_resource("get", "/anything"), True),
        (rule(["get"], nonResourceURLs=["*"]), non_resource("post", "/anything"), False),
        (rule(["get"], [""], ["pods"]), non_resource("get", "/api"), False),
        (rule(["get"], nonResourceURLs=["*"]), attrs("get", "pods"), False),
    ],
)
def test_rule_matching_follows_upstream(policy: Obj, request_attrs: RequestAttributes, allowed: bool) -> None:
    assert CompiledRule.of(policy).allows(request_attrs) is allowed


# ---------------------------------------------------------------------------- the authorizer
@pytest.fixture
async def registry() -> AsyncIterator[Registry]:
    reg = await start_registry(namespaces=("default", "team", "kube-system", "kube-public"))
    await reconcile(reg)
    try:
        yield reg
    finally:
        await asyncio.wait_for(reg.stop(), 5.0)


async def create(registry: Registry, resource: str, obj: Obj, namespace: str = "") -> None:
    obj = {"apiVersion": f"{RBAC}/v1", **obj}
    if namespace:
        obj["metadata"]["namespace"] = namespace
    await store_of(registry, RBAC, resource).create(namespace, obj, ctx())


def role(kind: str, name: str, rules: list[Obj]) -> Obj:
    return {"kind": kind, "metadata": {"name": name}, "rules": rules}


def role_binding(kind: str, name: str, role_kind: str, role_name: str, subjects: list[Obj]) -> Obj:
    return {"kind": kind, "metadata": {"name": name}, "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role_name}, "subjects": subjects}


async def test_masters_are_always_allowed(registry: Registry) -> None:
    assert RBACAuthorizer(registry).authorize(ADMIN, attrs("delete", "nodes", name="x")) == (True, "")


async def test_a_role_binding_grants_in_its_namespace_only(registry: Registry) -> None:
    authorizer = RBACAuthorizer(registry)
    read_pods = attrs("get", "pods", namespace="team", name="p")
    assert authorizer.authorize(ALICE, read_pods) == (False, "")
    await create(registry, "roles", role("Role", "reader", [rule(["get", "list"], [""], ["pods"])]), "team")
    await create(registry, "rolebindings", role_binding("RoleBinding", "read", "Role", "reader", [{"kind": "User", "name": "alice"}]), "team")
    assert authorizer.authorize(ALICE, read_pods) == (True, 'RBAC: allowed by RoleBinding "read/team" of Role "reader" to User "alice"')
    assert authorizer.authorize(ALICE, attrs("get", "pods", namespace="default", name="p"))[0] is False
    assert authorizer.authorize(ALICE, attrs("list", "pods"))[0] is False  # all namespaces needs a cluster grant
    assert authorizer.authorize(ALICE, attrs("delete", "pods", namespace="team", name="p"))[0] is False


async def test_cluster_role_via_role_binding_and_cluster_binding(registry: Registry) -> None:
    authorizer = RBACAuthorizer(registry)
    await create(registry, "clusterroles", role("ClusterRole", "secret-reader", [rule(["get"], [""], ["secrets"])]))
    await create(
        registry, "rolebindings", role_binding("RoleBinding", "devs", "ClusterRole", "secret-reader", [{"kind": "Group", "name": "devs"}]), "team"
    )
    assert authorizer.authorize(ALICE, attrs("get", "secrets", namespace="team", name="s"))[0] is True
    assert authorizer.authorize(ALICE, attrs("get", "secrets", namespace="default", name="s"))[0] is False
    await create(
        registry, "clusterrolebindings", role_binding("ClusterRoleBinding", "all", "ClusterRole", "secret-reader", [{"kind": "Group", "name": "devs"}])
    )
    allowed, reason = authorizer.authorize(ALICE, attrs("get", "secrets", namespace="default", name="s"))
    assert allowed and reason == 'RBAC: allowed by ClusterRoleBinding "all" of ClusterRole "secret-reader" to Group "devs"'


async def test_service_account_subjects(registry: Registry) -> None:
    authorizer = RBACAuthorizer(registry)
    await create(registry, "roles", role("Role", "pods", [rule(["list"], [""], ["pods"])]), "default")
    # a namespace-less ServiceAccount subject of a RoleBinding means the binding's namespace
    await create(
        registry, "rolebindings", role_binding("RoleBinding", "robot", "Role", "pods", [{"kind": "ServiceAccount", "name": "robot"}]), "default"
    )
    allowed, reason = authorizer.authorize(SA, attrs("list", "pods", namespace="default"))
    assert allowed and reason.endswith('to ServiceAccount "robot/default"')
    # ... but in a ClusterRoleBinding it never matches (validation refuses it anyway)
    assert subject_key({"kind": "ServiceAccount", "name": "robot"}, "") is None
    await create(registry, "clusterroles", role("ClusterRole", "nodes", [rule(["list"], [""], ["nodes"])]))
    assert authorizer.authorize(SA, attrs("list", "nodes"))[0] is False
    await create(
        registry,
        "clusterrolebindings",
        role_binding("ClusterRoleBinding", "sas", "ClusterRole", "nodes", [{"kind": "Group", "name": "system:serviceaccounts:default"}]),
    )
    assert authorizer.authorize(SA, attrs("list", "nodes"))[0] is True


async def test_missing_roles_are_reported_in_the_denial_reason(registry: Registry) -> None:
    authorizer = RBACAuthorizer(registry)
    await create(registry, "rolebindings", role_binding("RoleBinding", "dangling", "Role", "nope", [{"kind": "User", "name": "alice"}]), "team")
    assert authorizer.authorize(ALICE, attrs("get", "pods", namespace="team")) == (
        False,
        f'RBAC: role.{RBAC} "nope" not found',
    )
    await create(
        registry, "clusterrolebindings", role_binding("ClusterRoleBinding", "dangling", "ClusterRole", "gone", [{"kind": "User", "name": "alice"}])
    )
    assert authorizer.authorize(ALICE, attrs("get", "pods", namespace="team")) == (
        False,
        f'RBAC: [clusterrole.{RBAC} "gone" not found, role.{RBAC} "nope" not found]',
    )
    # once the role exists the binding works (the index follows role changes too)
    await create(registry, "roles", role("Role", "nope", [rule(["get"], [""], ["pods"])]), "team")
    assert authorizer.authorize(ALICE, attrs("get", "pods", namespace="team"))[0] is True


async def test_the_index_follows_updates_and_deletes(registry: Registry) -> None:
    authorizer = RBACAuthorizer(registry)
    await create(registry, "clusterroles", role("ClusterRole", "r", [rule(["get"], [""], ["pods"])]))
    await create(registry, "clusterrolebindings", role_binding("ClusterRoleBinding", "b", "ClusterRole", "r", [{"kind": "User", "name": "alice"}]))
    assert authorizer.authorize(ALICE, attrs("get", "pods", namespace="x"))[0] is True
    roles = store_of(registry, RBAC, "clusterroles")
    current = await roles.get("", "r")
    current["rules"] = [rule(["list"], [""], ["pods"])]
    await roles.update("", "r", current, ctx())
    assert authorizer.authorize(ALICE, attrs("get", "pods", namespace="x"))[0] is False
    assert authorizer.authorize(ALICE, attrs("list", "pods", namespace="x"))[0] is True
    from kubelite.registry.store import DeleteOptions

    await store_of(registry, RBAC, "clusterrolebindings").delete("", "b", DeleteOptions(), ctx())
    assert authorizer.authorize(ALICE, attrs("list", "pods", namespace="x"))[0] is False


async def test_rules_for_lists_what_applies(registry: Registry) -> None:
    authorizer = RBACAuthorizer(registry)
    rules, problems = authorizer.rules_for(ALICE, "team")
    assert problems == []
    assert {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]} in rules
    assert any("/apis/*" in (r.get("nonResourceURLs") or []) for r in rules)


# ---------------------------------------------------------------------------- the bootstrap policy
async def test_bootstrap_policy_grants_upstream_defaults(registry: Registry) -> None:
    authorizer = RBACAuthorizer(registry)
    cases = [
        (ANONYMOUS, attrs("get", "configmaps", namespace="kube-public", name="cluster-info"), True),
        (ANONYMOUS, attrs("list", "configmaps", namespace="kube-public"), False),
        (ANONYMOUS, attrs("get", "configmaps", namespace="kube-system", name="cluster-info"), False),
        (ANONYMOUS, attrs("update", "configmaps", namespace="kube-public", name="cluster-info"), False),
        (ANONYMOUS, non_resource("get", "/healthz"), True),
        (ANONYMOUS, non_resource("get", "/version"), True),
        (ANONYMOUS, non_resource("get", "/api"), False),
        (ALICE, non_resource("get", "/apis/apps/v1"), True),
        (ALICE, non_resource("get", "/openapi/v3"), True),
        (ALICE, non_resource("get", "/metrics"), False),
        (ALICE, attrs("list", "pods", namespace="default"), False),
        (SA, attrs("create", "selfsubjectaccessreviews", "authorization.k8s.io"), True),
        (BOOTSTRAP, attrs("create", "certificatesigningrequests", "certificates.k8s.io"), True),
        (BOOTSTRAP, attrs("watch", "certificatesigningrequests", "certificates.k8s.io"), True),
        (BOOTSTRAP, attrs("create", "certificatesigningrequests", "certificates.k8s.io", sub="nodeclient"), True),
        (BOOTSTRAP, attrs("list", "secrets", namespace="kube-system"), False),
        (BOOTSTRAP, non_resource("get", "/metrics"), False),
        (NODE, attrs("update", "nodes", sub="status", name="n1"), True),
        (NODE, attrs("update", "leases", "coordination.k8s.io", "kube-node-lease", "n1"), True),
        (NODE, attrs("watch", "endpointslices", "discovery.k8s.io"), True),
        (NODE, attrs("create", "events", namespace="default"), True),
        (NODE, attrs("create", "certificatesigningrequests", "certificates.k8s.io", sub="selfnodeclient"), True),
        (NODE, attrs("create", "serviceaccounts", sub="token", namespace="default", name="default"), True),
        (NODE, attrs("delete", "namespaces", name="default"), False),
        (UserInfo("system:kube-proxy", ("system:authenticated",)), attrs("list", "services"), True),
        (UserInfo("system:monitor", ("system:monitoring", "system:authenticated")), non_resource("get", "/metrics"), True),
    ]
    for user, request_attrs, allowed in cases:
        assert authorizer.authorize(user, request_attrs)[0] is allowed, (user.name, request_attrs)


async def test_reconcile_adds_what_is_missing_and_keeps_additions(registry: Registry) -> None:
    roles = store_of(registry, RBAC, "clusterroles")
    node = await roles.get("", "system:node")
    node["rules"] = [r for r in node["rules"] if "leases" not in r["resources"]] + [rule(["get"], ["example.com"], ["widgets"])]
    await roles.update("", "system:node", node, ctx())
    bindings = store_of(registry, RBAC, "clusterrolebindings")
    discovery = await bindings.get("", "system:discovery")
    discovery["subjects"] = [{"kind": "User", "apiGroup": RBAC, "name": "extra"}]
    await bindings.update("", "system:discovery", discovery, ctx())
    frozen = await roles.get("", "system:kube-dns")
    frozen["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] = "false"
    frozen["rules"] = []
    await roles.update("", "system:kube-dns", frozen, ctx())
    await reconcile(registry)
    node = await roles.get("", "system:node")
    assert any("leases" in r["resources"] for r in node["rules"])
    assert rule(["get"], ["example.com"], ["widgets"]) in node["rules"]
    subjects = (await bindings.get("", "system:discovery"))["subjects"]
    assert {"kind": "User", "apiGroup": RBAC, "name": "extra"} in subjects
    assert {"kind": "Group", "apiGroup": RBAC, "name": "system:authenticated"} in subjects
    assert (await roles.get("", "system:kube-dns"))["rules"] == []
    version = (await roles.get("", "system:node"))["metadata"]["resourceVersion"]
    await reconcile(registry)  # nothing left to add: nothing written
    assert (await roles.get("", "system:node"))["metadata"]["resourceVersion"] == version


async def test_bootstrap_creates_the_policy() -> None:
    reg = await start_registry(namespaces=())
    try:
        await bootstrap(reg, 6443, "10.0.0.1")
        names = {name for _ns, name, _obj in store_of(reg, RBAC, "clusterroles").cache.iter_sorted(None)}
        assert {"cluster-admin", "admin", "edit", "view", "system:node", "system:discovery"} <= names
        assert store_of(reg, RBAC, "roles").cache.get("kube-public", "kubeadm:bootstrap-signer-clusterinfo") is not None
    finally:
        await asyncio.wait_for(reg.stop(), 5.0)


async def test_authorization_is_cheap(registry: Registry) -> None:
    """The micro-benchmark: masters short-circuit, a service account's allowed and denied requests."""
    from kubelite.apiserver import authorization

    authorizer = RBACAuthorizer(registry)
    for n in range(200):  # a cluster with some bindings
        await create(registry, "rolebindings", role_binding("RoleBinding", f"b{n}", "ClusterRole", "view", [{"kind": "User", "name": f"u{n}"}]), "team")
    allowed = attrs("create", "selfsubjectaccessreviews", "authorization.k8s.io")
    denied = attrs("list", "pods", namespace="team")
    authorizer.authorize(SA, denied)  # builds the index
    rounds = 5000
    timings = {}
    for label, user, request_attrs in (("masters", ADMIN, denied), ("sa-allowed", SA, allowed), ("sa-denied", SA, denied)):
        started = time.perf_counter()
        for _ in range(rounds):
            try:
                authorization.authorize(authorizer, user, request_attrs)
            except Exception:
                pass
        timings[label] = (time.perf_counter() - started) / rounds * 1e6
    print("authorization µs per request:", {k: round(v, 2) for k, v in timings.items()})
    assert timings["masters"] < 50
    assert timings["sa-allowed"] < 200 and timings["sa-denied"] < 200
