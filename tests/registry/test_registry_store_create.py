"""Store.create: server-set metadata, generateName, generation, conflicts, namespace checks,
dry run and the status reset of kinds with a status subresource."""

from __future__ import annotations

import re

from registry_harness import configmap, ctx, deployment, expect_status, revision_of, store_of

from kubelite.registry.registry import Registry
from kubelite.registry.store import DeleteOptions, ListOptions

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def test_create_sets_uid_timestamp_and_resource_version(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    before = await revision_of(registry)
    created = await cms.create("default", configmap("one", {"k": "v"}), ctx())
    meta = created["metadata"]
    assert UUID.match(meta["uid"])
    assert RFC3339.match(meta["creationTimestamp"])
    assert meta["resourceVersion"] == str(before + 1)
    assert meta["namespace"] == "default"
    assert created["apiVersion"] == "v1" and created["kind"] == "ConfigMap"
    fetched = await cms.get("default", "one")
    assert fetched["metadata"]["uid"] == meta["uid"]
    assert fetched["metadata"]["resourceVersion"] == meta["resourceVersion"]
    assert fetched["data"] == {"k": "v"}


async def test_create_ignores_client_set_uid_and_resource_version(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    obj = configmap("one", uid="11111111-1111-1111-1111-111111111111", resourceVersion="999")
    created = await cms.create("default", obj, ctx())
    assert created["metadata"]["uid"] != "11111111-1111-1111-1111-111111111111"
    assert created["metadata"]["resourceVersion"] != "999"


async def test_two_objects_get_distinct_uids(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    a = await cms.create("default", configmap("a"), ctx())
    b = await cms.create("default", configmap("b"), ctx())
    assert a["metadata"]["uid"] != b["metadata"]["uid"]
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])


async def test_generate_name(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    names = set()
    for _ in range(5):
        created = await cms.create("default", configmap(generateName="web-"), ctx())
        name = created["metadata"]["name"]
        assert re.match(r"^web-[a-z0-9]{5}$", name), name
        assert created["metadata"]["generateName"] == "web-"
        names.add(name)
    assert len(names) == 5
    listed = await cms.list("default", ListOptions())
    assert {o["metadata"]["name"] for o in listed.items} == names


async def test_explicit_name_wins_over_generate_name(registry: Registry) -> None:
    created = await store_of(registry, "", "configmaps").create(
        "default", configmap("fixed", generateName="web-"), ctx()
    )
    assert created["metadata"]["name"] == "fixed"


async def test_generation_is_one_for_deployments_and_absent_for_configmaps(registry: Registry) -> None:
    dep = await store_of(registry, "apps", "deployments").create("default", deployment("web"), ctx())
    assert dep["metadata"]["generation"] == 1
    cm = await store_of(registry, "", "configmaps").create("default", configmap("c", generation=7), ctx())
    assert "generation" not in cm["metadata"]


async def test_client_generation_is_replaced_on_create(registry: Registry) -> None:
    obj = deployment("web")
    obj["metadata"]["generation"] = 9
    dep = await store_of(registry, "apps", "deployments").create("default", obj, ctx())
    assert dep["metadata"]["generation"] == 1


async def test_create_existing_name_is_already_exists(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("dup"), ctx())
    error = await expect_status(cms.create("default", configmap("dup"), ctx()), 409, "AlreadyExists")
    assert error.message == 'configmaps "dup" already exists'
    assert error.details == {"name": "dup", "kind": "configmaps"}


async def test_already_exists_names_the_group(registry: Registry) -> None:
    deps = store_of(registry, "apps", "deployments")
    await deps.create("default", deployment("web"), ctx())
    error = await expect_status(deps.create("default", deployment("web"), ctx()), 409, "AlreadyExists")
    assert error.message == 'deployments.apps "web" already exists'


async def test_same_name_in_other_namespace_is_fine(registry: Registry) -> None:
    await store_of(registry, "", "namespaces").create("", {"metadata": {"name": "other"}}, ctx())
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("same"), ctx())
    await cms.create("other", configmap("same"), ctx())
    assert len((await cms.list(None, ListOptions())).items) == 2


async def test_create_in_missing_namespace_is_not_found(registry: Registry) -> None:
    error = await expect_status(
        store_of(registry, "", "configmaps").create("nowhere", configmap("x"), ctx()), 404, "NotFound"
    )
    assert error.message == 'namespaces "nowhere" not found'


async def test_create_in_terminating_namespace_is_forbidden(registry: Registry) -> None:
    namespaces = store_of(registry, "", "namespaces")
    cms = store_of(registry, "", "configmaps")
    await namespaces.create("", {"metadata": {"name": "closing"}}, ctx())
    # a finalizer on content keeps the namespace Terminating for the whole test
    await cms.create("closing", configmap("held", finalizers=["example.com/hold"]), ctx())
    await namespaces.delete("", "closing", DeleteOptions(), ctx())
    error = await expect_status(cms.create("closing", configmap("new"), ctx()), 403, "Forbidden")
    assert error.message == (
        'configmaps "new" is forbidden: unable to create new content in namespace closing because it is being terminated'
    )
    assert error.details is not None and error.details.get("kind") == "configmaps"
    assert error.details.get("name") == "new"


async def test_namespace_in_body_must_match_request(registry: Registry) -> None:
    obj = configmap("x", namespace="elsewhere")
    error = await expect_status(
        store_of(registry, "", "configmaps").create("default", obj, ctx()), 400, "BadRequest"
    )
    assert "does not match the namespace" in error.message


async def test_cluster_scoped_objects_have_no_namespace(registry: Registry) -> None:
    created = await store_of(registry, "", "namespaces").create("", {"metadata": {"name": "solo"}}, ctx())
    assert "namespace" not in created["metadata"]
    assert created["status"] == {"phase": "Active"}
    assert created["spec"] == {"finalizers": ["kubernetes"]}


async def test_dry_run_create_stores_nothing(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    before = await revision_of(registry)
    result = await cms.create("default", configmap("ghost", {"a": "b"}), ctx(dry_run=True))
    assert result["metadata"]["name"] == "ghost"
    assert result["metadata"]["uid"]
    assert await revision_of(registry) == before
    await expect_status(cms.get("default", "ghost"), 404, "NotFound")
    assert (await cms.list("default", ListOptions())).items == []


async def test_dry_run_create_still_reports_conflicts(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("taken"), ctx())
    await expect_status(cms.create("default", configmap("taken"), ctx(dry_run=True)), 409, "AlreadyExists")


async def test_status_is_dropped_on_create_for_kinds_with_status_subresource(registry: Registry) -> None:
    obj = deployment("web")
    obj["status"] = {"replicas": 5, "readyReplicas": 5, "availableReplicas": 5}
    dep = await store_of(registry, "apps", "deployments").create("default", obj, ctx())
    status = dep.get("status") or {}
    assert "replicas" not in status and "readyReplicas" not in status
    stored = await store_of(registry, "apps", "deployments").get("default", "web")
    assert "readyReplicas" not in (stored.get("status") or {})


async def test_pod_status_starts_pending(registry: Registry) -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
        "status": {"phase": "Running", "podIP": "10.0.0.9"},
    }
    created = await store_of(registry, "", "pods").create("default", obj, ctx())
    assert created["status"]["phase"] == "Pending"
    assert "podIP" not in created["status"]
    assert created["status"]["qosClass"] == "BestEffort"


async def test_invalid_object_is_rejected_with_422(registry: Registry) -> None:
    obj = deployment("web")
    obj["spec"]["replicas"] = -1
    error = await expect_status(
        store_of(registry, "apps", "deployments").create("default", obj, ctx()), 422, "Invalid"
    )
    assert error.message.startswith('Deployment.apps "web" is invalid: ')
    assert "spec.replicas" in error.message


async def test_missing_name_is_invalid(registry: Registry) -> None:
    error = await expect_status(
        store_of(registry, "", "configmaps").create("default", configmap(), ctx()), 422, "Invalid"
    )
    assert "metadata.name" in error.message


async def test_wrong_kind_in_body_is_bad_request(registry: Registry) -> None:
    obj = configmap("x")
    obj["kind"] = "Secret"
    await expect_status(store_of(registry, "", "configmaps").create("default", obj, ctx()), 400, "BadRequest")


async def test_create_records_managed_fields(registry: Registry) -> None:
    created = await store_of(registry, "", "configmaps").create(
        "default", configmap("m", {"a": "1"}), ctx(field_manager="kubectl-create")
    )
    managers = created["metadata"]["managedFields"]
    assert [(m["manager"], m["operation"]) for m in managers] == [("kubectl-create", "Update")]
    assert "f:data" in managers[0]["fieldsV1"]


async def test_pod_disruption_budget_starts_with_zero_counters(registry: Registry) -> None:
    pdbs = store_of(registry, "policy", "poddisruptionbudgets")
    body = {"metadata": {"name": "budget"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "x"}}}}
    body["status"] = {"disruptionsAllowed": 5}  # a client's status is dropped on create
    created = await pdbs.create("default", body, ctx())
    assert created["status"] == {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
