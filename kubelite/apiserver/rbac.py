"""RBAC authorization as upstream's RBACAuthorizer: a request is allowed when a rule of a Role or
ClusterRole bound to the user allows it — ClusterRoleBindings anywhere, RoleBindings in the
request's namespace — with upstream's matching (`*` verbs, groups and resources, `resource/sub`
and `*/sub`, resourceNames, nonResourceURLs with a trailing `*`) and subjects (User, Group,
ServiceAccount as system:serviceaccount:<ns>:<name>). system:masters is always allowed, as
upstream's privileged-groups authorizer allows it ahead of RBAC.

Speed: the roles and bindings are read from the registry's watch cache into an index of compiled
rules by subject (user name, group), rebuilt only after an RBAC object changed; a request then
costs a few dict lookups and set tests.

Must not write objects, authenticate, or know about HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubelite.apiserver.authorization import MASTERS, RequestAttributes
from kubelite.registry.context import UserInfo
from kubelite.registry.registry import Registry
from kubelite.registry.watchcache import CachedEvent

Obj = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
RESOURCES = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One PolicyRule, prepared for matching (`rule` is the PolicyRule as stored)."""

    rule: Obj
    verbs: frozenset[str]
    groups: frozenset[str]
    resources: frozenset[str]
    subresource_wildcards: frozenset[str]  # "x" for each "*/x"
    names: frozenset[str]
    urls: frozenset[str]
    url_prefixes: tuple[str, ...]  # "/apis/" for "/apis/*"

    @classmethod
    def of(cls, rule: Obj) -> CompiledRule:
        resources = _strings(rule.get("resources"))
        urls = _strings(rule.get("nonResourceURLs"))
        return cls(
            rule,
            frozenset(_strings(rule.get("verbs"))),
            frozenset(_strings(rule.get("apiGroups"))),
            frozenset(resources),
            frozenset(r[2:] for r in resources if r.startswith("*/") and len(r) > 2),
            frozenset(_strings(rule.get("resourceNames"))),
            frozenset(urls),
            tuple(u.rstrip("*") for u in urls if u.endswith("*") and u != "*"),
        )

    def allows(self, attrs: RequestAttributes) -> bool:
        """upstream's RuleAllows."""
        verbs = self.verbs
        if attrs.verb not in verbs and "*" not in verbs:
            return False
        if not attrs.resource_request:
            return self.allows_url(attrs.path)
        groups = self.groups
        if attrs.group not in groups and "*" not in groups:
            return False
        resources = self.resources
        if "*" not in resources:
            subresource = attrs.subresource
            combined = f"{attrs.resource}/{subresource}" if subresource else attrs.resource
            if combined not in resources and not (subresource and subresource in self.subresource_wildcards):
                return False
        return not self.names or attrs.name in self.names

    def allows_url(self, path: str) -> bool:
        urls = self.urls
        if "*" in urls or path in urls:
            return True
        return any(path.startswith(prefix) for prefix in self.url_prefixes)


@dataclass(frozen=True, slots=True)
class Grant:
    """What one binding gives one subject: the compiled rules of its role, or why they could not
    be resolved. `binding` identifies the binding (errors are reported once per binding)."""

    binding: tuple[str, str, str]  # (kind, namespace, name)
    source: str  # upstream's description, e.g. `ClusterRoleBinding "x" of ClusterRole "y" to Group "z"`
    rules: tuple[CompiledRule, ...]
    error: str = ""


@dataclass(slots=True)
class _Index:
    cluster: dict[str, list[Grant]]  # "u:<name>" / "g:<name>" -> grants of ClusterRoleBindings
    namespaced: dict[str, dict[str, list[Grant]]]  # namespace -> "u:"/"g:" key -> grants of RoleBindings


def describe_subject(subject: Obj, binding_namespace: str) -> str:
    kind, name = str(subject.get("kind", "")), str(subject.get("name", ""))
    if kind == "ServiceAccount":
        namespace = str(subject.get("namespace") or binding_namespace)
        return f'{kind} "{name}/{namespace}"'
    return f'{kind} "{name}"'


def subject_key(subject: Obj, binding_namespace: str) -> str | None:
    """The index key of a binding subject: "u:<user name>" or "g:<group>"; None when it can never
    match (unknown kind, a ServiceAccount without a namespace in a ClusterRoleBinding)."""
    kind = subject.get("kind")
    name = str(subject.get("name", ""))
    if kind == "User":
        return "u:" + name
    if kind == "Group":
        return "g:" + name
    if kind == "ServiceAccount":
        namespace = str(subject.get("namespace") or binding_namespace)
        if not namespace or not name:
            return None
        return f"u:{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"
    return None


def user_keys(user: UserInfo) -> Iterator[str]:
    yield "u:" + user.name
    for group in user.groups:
        yield "g:" + group


def compile_rules(rules: Any) -> tuple[CompiledRule, ...]:
    return tuple(CompiledRule.of(rule) for rule in rules if isinstance(rule, dict)) if isinstance(rules, list) else ()


class RBACAuthorizer:
    """Answers from the registry's RBAC objects; `authorize` is the Authorizer protocol."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self._prefixes: dict[str, str] = {}
        for resource in RESOURCES:
            store = registry.store_for(GROUP, resource)
            if store is not None:
                self._prefixes[resource] = store.prefix
                registry.watch_cache.add_listener(store.prefix, self._changed)
        self._index: _Index | None = None
        self._caches_seen: object = None
        # compiled rules per role, reused while the role object is the same (id -> (obj, rules))
        self._compiled: dict[tuple[str, str, str], tuple[Obj, tuple[CompiledRule, ...]]] = {}

    def _changed(self, _event: CachedEvent) -> None:
        self._index = None

    # ------------------------------------------------------------------ objects
    def _objects(self, resource: str) -> Iterable[tuple[str, str, Obj]]:
        prefix = self._prefixes.get(resource)
        if prefix is None:
            return ()
        return self.registry.watch_cache.cache(prefix).iter_sorted(None)

    def _role(self, kind: str, namespace: str, name: str) -> Obj | None:
        prefix = self._prefixes.get("roles" if kind == "Role" else "clusterroles")
        if prefix is None:
            return None
        return self.registry.watch_cache.cache(prefix).get(namespace if kind == "Role" else "", name)

    def role_rules(self, role_ref: Mapping[str, Any], binding_namespace: str) -> tuple[tuple[CompiledRule, ...], str]:
        """(rules, error) of a binding's roleRef, as upstream's GetRoleReferenceRules."""
        kind, name = str(role_ref.get("kind", "")), str(role_ref.get("name", ""))
        if kind not in ("Role", "ClusterRole"):
            return (), f'unsupported role reference kind: "{kind}"'
        role = self._role(kind, binding_namespace, name)
        if role is None:
            return (), f'{kind.lower()}.{GROUP} "{name}" not found'
        key = (kind, binding_namespace if kind == "Role" else "", name)
        cached = self._compiled.get(key)
        if cached is not None and cached[0] is role:
            return cached[1], ""
        rules = compile_rules(role.get("rules"))
        self._compiled[key] = (role, rules)
        return rules, ""

    # ------------------------------------------------------------------ index
    def _current(self) -> _Index:
        caches = self.registry.watch_cache.caches  # replaced wholesale when the cache reloads
        if self._index is None or caches is not self._caches_seen:
            self._caches_seen = caches
            self._index = self._build()
        return self._index

    def _build(self) -> _Index:
        live: set[tuple[str, str, str]] = set()
        cluster: dict[str, list[Grant]] = {}
        for _ns, name, binding in self._objects("clusterrolebindings"):
            self._add_binding(cluster, "ClusterRoleBinding", "", name, binding, live)
        namespaced: dict[str, dict[str, list[Grant]]] = {}
        for namespace, name, binding in self._objects("rolebindings"):
            self._add_binding(namespaced.setdefault(namespace, {}), "RoleBinding", namespace, name, binding, live)
        for key in [k for k in self._compiled if k not in live]:
            del self._compiled[key]
        return _Index(cluster, namespaced)

    def _add_binding(self, index: dict[str, list[Grant]], kind: str, namespace: str, name: str, binding: Obj, live: set[tuple[str, str, str]]) -> None:
        subjects = binding.get("subjects")
        if not isinstance(subjects, list) or not subjects:
            return
        role_ref = binding.get("roleRef") or {}
        rules, error = self.role_rules(role_ref, namespace)
        ref_kind = str(role_ref.get("kind", ""))
        live.add((ref_kind, namespace if ref_kind == "Role" else "", str(role_ref.get("name", ""))))
        label = f"{name}/{namespace}" if namespace else name
        seen: set[str] = set()
        for subject in subjects:
            if not isinstance(subject, dict):
                continue
            key = subject_key(subject, namespace)
            if key is None or key in seen:
                continue
            seen.add(key)
            source = f'{kind} "{label}" of {ref_kind} "{role_ref.get("name", "")}" to {describe_subject(subject, namespace)}'
            index.setdefault(key, []).append(Grant((kind, namespace, name), source, rules, error))

    def grants(self, user: UserInfo, namespace: str) -> Iterator[Grant]:
        """Every grant that applies to `user` in `namespace` ("" = cluster-wide only): cluster
        bindings first, then the namespace's, each binding once (its first matching subject)."""
        index = self._current()
        seen: set[tuple[str, str, str]] = set()
        tables = [index.cluster]
        if namespace:
            local = index.namespaced.get(namespace)
            if local:
                tables.append(local)
        for table in tables:
            for key in user_keys(user):
                for grant in table.get(key, ()):
                    if grant.binding not in seen:
                        seen.add(grant.binding)
                        yield grant

    # ------------------------------------------------------------------ decisions
    def authorize(self, user: UserInfo, attrs: RequestAttributes) -> tuple[bool, str]:
        """(allowed, reason) as upstream: `RBAC: allowed by <source>`, or on denial the errors met
        resolving roles (`RBAC: role.rbac.authorization.k8s.io "x" not found`) or ""."""
        if MASTERS in user.groups:
            return True, ""
        problems: list[str] = []
        for grant in self.grants(user, attrs.namespace):
            for rule in grant.rules:
                if rule.allows(attrs):
                    return True, f"RBAC: allowed by {grant.source}"
            if grant.error and grant.error not in problems:
                problems.append(grant.error)
        if not problems:
            return False, ""
        return False, "RBAC: " + (problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]")

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Obj], list[str]]:
        """(PolicyRules that apply to `user` in `namespace`, errors met resolving them)."""
        rules: list[Obj] = []
        problems: list[str] = []
        for grant in self.grants(user, namespace):
            rules.extend(rule.rule for rule in grant.rules)
            if grant.error:
                problems.append(grant.error)
        return rules, problems


def shared_authorizer(registry: Registry) -> RBACAuthorizer:
    """The registry's one RBACAuthorizer (one rules index, one set of watch-cache listeners), made
    on first use; the HTTP app and in-process clients' access reviews both answer from it."""
    found = registry.authorizer
    if not isinstance(found, RBACAuthorizer):
        found = RBACAuthorizer(registry)
        registry.authorizer = found
    return found
