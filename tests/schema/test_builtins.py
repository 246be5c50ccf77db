"""The built-in catalogue matches what kube-apiserver 1.33 reports in discovery."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from kubelite.schema.builtins import builtin_resources, default_catalogue
from kubelite.schema.catalogue import STANDARD_VERBS, Catalogue, ResourceInfo


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return default_catalogue()


def info(catalogue: Catalogue, group: str, version: str, resource: str) -> ResourceInfo:
    found = catalogue.get(group, version, resource)
    assert found is not None, f"{resource}.{group}/{version} missing"
    return found


def test_group_order_is_upstream_discovery_order(catalogue: Catalogue) -> None:
    assert catalogue.groups() == [
        "",
        "apps",
        "events.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "networking.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "apiextensions.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
    ]
    assert catalogue.versions("autoscaling") == ["v2", "v1"]


def test_short_names_categories_and_scope(catalogue: Catalogue) -> None:
    deployments = info(catalogue, "apps", "v1", "deployments")
    assert deployments.short_names == ("deploy",)
    assert deployments.categories == ("all",)
    assert deployments.namespaced
    assert info(catalogue, "", "v1", "pods").short_names == ("po",)
    assert info(catalogue, "", "v1", "services").short_names == ("svc",)
    assert info(catalogue, "", "v1", "services").categories == ("all",)
    events = info(catalogue, "", "v1", "events")
    assert events.namespaced and events.short_names == ("ev",)
    assert not info(catalogue, "", "v1", "nodes").namespaced
    assert not info(catalogue, "", "v1", "namespaces").namespaced
    assert info(catalogue, "apiextensions.k8s.io", "v1", "customresourcedefinitions").short_names == (
        "crd",
        "crds",
    )
    assert info(catalogue, "batch", "v1", "cronjobs").short_names == ("cj",)
    assert info(catalogue, "batch", "v1", "jobs").short_names == ()
    # `kubectl get all` kinds, exactly.
    in_all = sorted(i.group_resource for i in catalogue if "all" in i.categories)
    assert in_all == [
        "cronjobs.batch",
        "daemonsets.apps",
        "deployments.apps",
        "horizontalpodautoscalers.autoscaling",
        "horizontalpodautoscalers.autoscaling",
        "jobs.batch",
        "pods",
        "replicasets.apps",
        "replicationcontrollers",
        "services",
        "statefulsets.apps",
    ]


def test_singular_names(catalogue: Catalogue) -> None:
    assert info(catalogue, "", "v1", "endpoints").singular == "endpoints"
    assert info(catalogue, "networking.k8s.io", "v1", "ingresses").singular == "ingress"
    assert info(catalogue, "scheduling.k8s.io", "v1", "priorityclasses").singular == "priorityclass"
    assert info(catalogue, "apps", "v1", "statefulsets").singular == "statefulset"


def test_verbs(catalogue: Catalogue) -> None:
    namespaces = info(catalogue, "", "v1", "namespaces")
    assert "deletecollection" not in namespaces.verbs
    assert set(namespaces.verbs) == set(STANDARD_VERBS) - {"deletecollection"}
    assert info(catalogue, "", "v1", "bindings").verbs == ("create",)
    for resource in ("selfsubjectaccessreviews", "subjectaccessreviews", "selfsubjectrulesreviews"):
        assert info(catalogue, "authorization.k8s.io", "v1", resource).verbs == ("create",)
    assert info(catalogue, "authorization.k8s.io", "v1", "localsubjectaccessreviews").namespaced
    assert info(catalogue, "authentication.k8s.io", "v1", "tokenreviews").verbs == ("create",)
    assert info(catalogue, "authentication.k8s.io", "v1", "selfsubjectreviews").verbs == ("create",)
    assert info(catalogue, "apps", "v1", "deployments").verbs == STANDARD_VERBS


def test_scale_subresources_speak_autoscaling_v1_scale(catalogue: Catalogue) -> None:
    for group, resource in [("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets")]:
        scale = info(catalogue, group, "v1", resource).subresource("scale")
        assert scale is not None
        assert (scale.kind, scale.group, scale.version) == ("Scale", "autoscaling", "v1")
        assert scale.verbs == ("get", "patch", "update")
    assert info(catalogue, "", "v1", "replicationcontrollers").subresource("scale") is not None
    assert info(catalogue, "apps", "v1", "daemonsets").subresource("scale") is None


def test_pod_subresources(catalogue: Catalogue) -> None:
    pods = info(catalogue, "", "v1", "pods")
    names = [s.name for s in pods.subresources]
    assert names == [
        "attach",
        "binding",
        "ephemeralcontainers",
        "eviction",
        "exec",
        "log",
        "portforward",
        "proxy",
        "resize",
        "status",
    ]
    eviction = pods.subresource("eviction")
    assert eviction is not None and (eviction.group, eviction.version, eviction.kind) == (
        "policy",
        "v1",
        "Eviction",
    )
    assert eviction.verbs == ("create",)
    log = pods.subresource("log")
    assert log is not None and log.kind == "Pod" and log.verbs == ("get",)
    exec_ = pods.subresource("exec")
    assert exec_ is not None and exec_.kind == "PodExecOptions" and exec_.verbs == ("create", "get")
    token = info(catalogue, "", "v1", "serviceaccounts").subresource("token")
    assert token is not None and (token.group, token.kind, token.verbs) == (
        "authentication.k8s.io",
        "TokenRequest",
        ("create",),
    )
    finalize = info(catalogue, "", "v1", "namespaces").subresource("finalize")
    assert finalize is not None and finalize.verbs == ("update",)


def test_certificate_signing_requests_have_approval_and_status(catalogue: Catalogue) -> None:
    csrs = info(catalogue, "certificates.k8s.io", "v1", "certificatesigningrequests")
    assert not csrs.namespaced and csrs.short_names == ("csr",)
    assert [s.name for s in csrs.subresources] == ["approval", "status"]
    approval = csrs.subresource("approval")
    assert approval is not None and approval.kind == "CertificateSigningRequest"
    assert approval.verbs == ("get", "patch", "update")


def test_status_subresources_speak_their_parent_kind(catalogue: Catalogue) -> None:
    with_status = 0
    for resource in catalogue:
        status = resource.subresource("status")
        if status is None:
            continue
        with_status += 1
        assert (status.group, status.version, status.kind) == (
            resource.group,
            resource.version,
            resource.kind,
        )
        assert status.verbs == ("get", "patch", "update")
    assert with_status == 20


def test_shared_storage(catalogue: Catalogue) -> None:
    core_events = info(catalogue, "", "v1", "events")
    new_events = info(catalogue, "events.k8s.io", "v1", "events")
    assert new_events.storage_prefix() == core_events.storage_prefix() == "/registry/core/events/"
    v1 = info(catalogue, "autoscaling", "v1", "horizontalpodautoscalers")
    v2 = info(catalogue, "autoscaling", "v2", "horizontalpodautoscalers")
    assert v1.storage_prefix() == v2.storage_prefix() == "/registry/autoscaling/horizontalpodautoscalers/"
    assert info(catalogue, "apps", "v1", "deployments").storage_prefix() == "/registry/apps/deployments/"


def test_every_definition_exists_with_the_resource_gvk() -> None:
    path = (
        resources.files("kubernetes_validate")
        / "kubernetes-json-schema"
        / "v1.33.0-local"
        / "_definitions.json"
    )
    definitions = json.loads(path.read_text())["$defs"]
    for resource in builtin_resources():
        assert resource.definition in definitions, resource.definition
        gvks = definitions[resource.definition]["x-kubernetes-group-version-kind"]
        assert {"group": resource.group, "version": resource.version, "kind": resource.kind} in gvks


def test_resources_are_unique_and_sorted_within_a_group_version() -> None:
    seen: dict[tuple[str, str], list[str]] = {}
    for resource in builtin_resources():
        seen.setdefault((resource.group, resource.version), []).append(resource.resource)
    for names in seen.values():
        assert names == sorted(set(names))


def test_default_catalogue_is_a_fresh_instance() -> None:
    first, second = default_catalogue(), default_catalogue()
    assert first is not second
    first.remove("apps", "v1", "deployments")
    assert second.get("apps", "v1", "deployments") is not None
