"""Store.get and Store.list: resourceVersion semantics, label and field selectors, limit/continue
paging over a consistent snapshot, expired continue tokens and remainingItemCount."""

from __future__ import annotations

import orjson
from registry_harness import configmap, ctx, expect_status, pod, revision_of, store_of

from kubelite.registry.registry import Registry
from kubelite.registry.store import DeleteOptions, ListOptions, Store


async def _fill(cms: Store, count: int, namespace: str = "default") -> list[str]:
    names = [f"cm-{i:02d}" for i in range(count)]
    for name in names:
        await cms.create(namespace, configmap(name, {"v": "0"}), ctx())
    return names


def _names(items: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [o["metadata"]["name"] for o in items]


# ---------------------------------------------------------------- get


async def test_get_missing_is_not_found(registry: Registry) -> None:
    error = await expect_status(store_of(registry, "", "configmaps").get("default", "nope"), 404, "NotFound")
    assert error.message == 'configmaps "nope" not found'
    assert error.details == {"name": "nope", "kind": "configmaps"}


async def test_objects_returned_by_get_and_list_belong_to_the_caller(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("c", {"v": "1"}, labels={"a": "b"}), ctx())
    got = await cms.get("default", "c")
    got["data"]["v"] = "tampered"
    got["metadata"]["labels"]["a"] = "tampered"
    listed = (await cms.list("default", ListOptions())).items[0]
    listed["data"]["v"] = "tampered-too"
    fresh = await cms.get("default", "c")
    assert fresh["data"] == {"v": "1"}
    assert fresh["metadata"]["labels"] == {"a": "b"}


async def test_get_with_empty_resource_version_is_consistent(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("c", {"v": "1"}), ctx())
    # a write straight to storage, as another API server would make it
    stored = {**created, "data": {"v": "2"}}
    revision = await registry.backend.update(cms.key("default", "c"), orjson.dumps(stored), 0)
    got = await cms.get("default", "c", "")
    assert got["data"] == {"v": "2"}
    assert got["metadata"]["resourceVersion"] == str(revision)


async def test_list_with_empty_resource_version_sees_writes_made_outside_the_store(
    registry: Registry,
) -> None:
    cms = store_of(registry, "", "configmaps")
    raw = configmap(
        "direct", {"a": "b"}, namespace="default", uid="u-1", creationTimestamp="2024-01-01T00:00:00Z"
    )
    revision = await registry.backend.create(cms.key("default", "direct"), orjson.dumps(raw))
    listed = await cms.list("default", ListOptions())
    assert _names(listed.items) == ["direct"]
    assert int(listed.resource_version) >= revision


async def test_get_with_resource_version_zero_serves_the_cache(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("c", {"v": "1"}), ctx())
    got = await cms.get("default", "c", "0")
    assert got["data"] == {"v": "1"}
    listed = await cms.list("default", ListOptions(resource_version="0"))
    assert _names(listed.items) == ["c"]


async def test_list_at_a_known_resource_version_waits_for_it(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    created = await cms.create("default", configmap("c"), ctx())
    listed = await cms.list("default", ListOptions(resource_version=created["metadata"]["resourceVersion"]))
    assert _names(listed.items) == ["c"]
    assert int(listed.resource_version) >= int(created["metadata"]["resourceVersion"])


async def test_list_exact_resource_version_reads_the_past(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    first = await cms.create("default", configmap("a", {"v": "old"}), ctx())
    at = first["metadata"]["resourceVersion"]
    await cms.create("default", configmap("b"), ctx())
    current = await cms.get("default", "a")
    current["data"] = {"v": "new"}
    await cms.update("default", "a", current, ctx())
    listed = await cms.list("default", ListOptions(resource_version=at, resource_version_match="Exact"))
    assert _names(listed.items) == ["a"]
    assert listed.items[0]["data"] == {"v": "old"}
    assert listed.resource_version == at


async def test_invalid_resource_version_is_bad_request(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await expect_status(cms.list("default", ListOptions(resource_version="abc")), 400, "BadRequest")


async def test_list_at_future_resource_version_times_out(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    future = await revision_of(registry) + 1000
    error = await expect_status(
        cms.list("default", ListOptions(resource_version=str(future))), 504, "Timeout"
    )
    assert error.message.startswith(f"Too large resource version: {future}, current: ")


async def test_list_resource_version_is_the_store_revision(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("a"), ctx())
    # a write to another resource also moves the list's resourceVersion (one global revision, as etcd)
    await store_of(registry, "", "secrets").create(
        "default", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}, ctx()
    )
    listed = await cms.list("default", ListOptions())
    assert listed.resource_version == str(await revision_of(registry))


async def test_list_is_sorted_by_name_and_scoped_to_namespace(registry: Registry) -> None:
    await store_of(registry, "", "namespaces").create("", {"metadata": {"name": "other"}}, ctx())
    cms = store_of(registry, "", "configmaps")
    for name in ("zeta", "alpha", "mid"):
        await cms.create("default", configmap(name), ctx())
    await cms.create("other", configmap("beta"), ctx())
    assert _names((await cms.list("default", ListOptions())).items) == ["alpha", "mid", "zeta"]
    everywhere = (await cms.list(None, ListOptions())).items
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in everywhere] == [
        ("default", "alpha"),
        ("default", "mid"),
        ("default", "zeta"),
        ("other", "beta"),
    ]
    assert all(o["apiVersion"] == "v1" and o["kind"] == "ConfigMap" for o in everywhere)


# ---------------------------------------------------------------- selectors


async def test_label_selectors(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("web-a", labels={"app": "web", "tier": "front"}), ctx())
    await cms.create("default", configmap("web-b", labels={"app": "web", "tier": "back"}), ctx())
    await cms.create("default", configmap("db", labels={"app": "db"}), ctx())
    await cms.create("default", configmap("plain"), ctx())

    async def names(selector: str) -> list[str]:
        return _names((await cms.list("default", ListOptions(label_selector=selector))).items)

    assert await names("app=web") == ["web-a", "web-b"]
    assert await names("app!=web") == ["db", "plain"]
    assert await names("tier in (front,side)") == ["web-a"]
    assert await names("tier notin (front)") == ["db", "plain", "web-b"]
    assert await names("tier") == ["web-a", "web-b"]
    assert await names("!tier") == ["db", "plain"]
    assert await names("app=web,tier=back") == ["web-b"]
    assert await names("") == ["db", "plain", "web-a", "web-b"]


async def test_invalid_label_selector_is_bad_request(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await expect_status(cms.list("default", ListOptions(label_selector="app in (")), 400, "BadRequest")


async def test_field_selectors_on_metadata(registry: Registry) -> None:
    await store_of(registry, "", "namespaces").create("", {"metadata": {"name": "other"}}, ctx())
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("a"), ctx())
    await cms.create("default", configmap("b"), ctx())
    await cms.create("other", configmap("a"), ctx())
    by_name = await cms.list(None, ListOptions(field_selector="metadata.name=a"))
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in by_name.items] == [
        ("default", "a"),
        ("other", "a"),
    ]
    by_ns = await cms.list(None, ListOptions(field_selector="metadata.namespace=other"))
    assert _names(by_ns.items) == ["a"]
    not_a = await cms.list("default", ListOptions(field_selector="metadata.name!=a"))
    assert _names(not_a.items) == ["b"]


async def test_pod_field_selectors(registry: Registry) -> None:
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("on-n1", node="n1"), ctx())
    await pods.create("default", pod("on-n2", node="n2"), ctx())
    await pods.create("default", pod("pending"), ctx())
    on_n1 = await pods.list("default", ListOptions(field_selector="spec.nodeName=n1"))
    assert _names(on_n1.items) == ["on-n1"]
    unscheduled = await pods.list("default", ListOptions(field_selector="spec.nodeName="))
    assert _names(unscheduled.items) == ["pending"]
    pending = await pods.list("default", ListOptions(field_selector="status.phase=Pending,spec.nodeName!=n2"))
    assert _names(pending.items) == ["on-n1", "pending"]


async def test_unsupported_field_selector_is_bad_request(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    error = await expect_status(
        cms.list("default", ListOptions(field_selector="data.key=x")), 400, "BadRequest"
    )
    # upstream's DefaultMetaV1FieldSelectorConversion wording
    assert (
        error.message
        == '"data.key" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


async def test_unsupported_pod_field_selector_uses_the_pod_wording(registry: Registry) -> None:
    pods = store_of(registry, "", "pods")
    error = await expect_status(
        pods.list("default", ListOptions(field_selector="spec.bogus=x")), 400, "BadRequest"
    )
    # pods (and nodes, events, ...) have their own conversion func upstream
    assert error.message == "field label not supported: spec.bogus"


async def test_selectors_combine(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await cms.create("default", configmap("a", labels={"x": "1"}), ctx())
    await cms.create("default", configmap("b", labels={"x": "1"}), ctx())
    listed = await cms.list("default", ListOptions(label_selector="x=1", field_selector="metadata.name=b"))
    assert _names(listed.items) == ["b"]


# ---------------------------------------------------------------- paging


async def test_limit_and_continue_walk_every_object_once(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    names = await _fill(cms, 10)
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await cms.list("default", ListOptions(limit=3, continue_token=token))
        pages += 1
        assert len(page.items) <= 3
        seen.extend(_names(page.items))
        token = page.continue_token
        if not token:
            break
        assert pages < 10, "paging does not end"
    assert seen == names
    assert pages == 4


async def test_first_page_reports_remaining_item_count(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await _fill(cms, 10)
    first = await cms.list("default", ListOptions(limit=3))
    assert _names(first.items) == ["cm-00", "cm-01", "cm-02"]
    assert first.continue_token
    assert first.remaining == 7


async def test_continued_pages_report_remaining_item_count(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await _fill(cms, 10)
    first = await cms.list("default", ListOptions(limit=3))
    second = await cms.list("default", ListOptions(limit=3, continue_token=first.continue_token))
    assert _names(second.items) == ["cm-03", "cm-04", "cm-05"]
    # upstream's etcd3 store sets remainingItemCount on every non-final page of an unfiltered list
    assert second.remaining == 4
    last = await cms.list("default", ListOptions(limit=10, continue_token=second.continue_token))
    assert last.continue_token == ""
    assert last.remaining is None


async def test_filtered_list_has_no_remaining_item_count(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    for i in range(6):
        await cms.create("default", configmap(f"c{i}", labels={"even": str(i % 2 == 0).lower()}), ctx())
    first = await cms.list("default", ListOptions(limit=2, label_selector="even=true"))
    assert _names(first.items) == ["c0", "c2"]
    assert first.continue_token
    assert first.remaining is None
    rest = await cms.list(
        "default", ListOptions(limit=2, label_selector="even=true", continue_token=first.continue_token)
    )
    assert _names(rest.items) == ["c4"]
    assert rest.continue_token == ""


async def test_paging_uses_a_consistent_snapshot(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await _fill(cms, 9)
    first = await cms.list("default", ListOptions(limit=3))
    snapshot_rv = first.resource_version
    # writes after the first page: a new object that sorts into a later page, an update and a delete
    await cms.create("default", configmap("cm-05a", {"v": "new"}), ctx())
    changed = await cms.get("default", "cm-04")
    changed["data"] = {"v": "changed"}
    await cms.update("default", "cm-04", changed, ctx())
    await cms.delete("default", "cm-07", DeleteOptions(), ctx())

    second = await cms.list("default", ListOptions(limit=3, continue_token=first.continue_token))
    third = await cms.list("default", ListOptions(limit=3, continue_token=second.continue_token))
    assert _names(second.items) == ["cm-03", "cm-04", "cm-05"]
    assert _names(third.items) == ["cm-06", "cm-07", "cm-08"]
    assert second.items[1]["data"] == {"v": "0"}
    assert second.resource_version == snapshot_rv == third.resource_version
    assert third.continue_token == ""
    # a fresh list sees the present
    assert "cm-05a" in _names((await cms.list("default", ListOptions())).items)


async def test_paging_across_namespaces_whose_names_prefix_each_other(registry: Registry) -> None:
    namespaces = store_of(registry, "", "namespaces")
    for ns in ("a", "a-b", "ab"):
        await namespaces.create("", {"metadata": {"name": ns}}, ctx())
    cms = store_of(registry, "", "configmaps")
    expected = set()
    for ns in ("a", "a-b", "ab", "default"):
        for name in ("x", "y"):
            await cms.create(ns, configmap(name), ctx())
            expected.add((ns, name))
    for limit in (1, 2, 3):
        seen: list[tuple[str, str]] = []
        token = ""
        while True:
            page = await cms.list(None, ListOptions(limit=limit, continue_token=token))
            seen.extend((o["metadata"]["namespace"], o["metadata"]["name"]) for o in page.items)
            token = page.continue_token
            if not token:
                break
        assert sorted(seen) == sorted(expected), f"limit={limit}: {seen}"
        assert len(seen) == len(expected), f"limit={limit}: duplicates in {seen}"


async def test_limit_is_ignored_for_resource_version_zero(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await _fill(cms, 5)
    listed = await cms.list("default", ListOptions(limit=2, resource_version="0"))
    assert len(listed.items) == 5
    assert listed.continue_token == ""


async def test_continue_after_compaction_is_expired(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await _fill(cms, 5)
    first = await cms.list("default", ListOptions(limit=2))
    await cms.create("default", configmap("later"), ctx())
    await registry.backend.compact(await revision_of(registry))
    error = await expect_status(
        cms.list("default", ListOptions(limit=2, continue_token=first.continue_token)), 410, "Expired"
    )
    assert error.message.startswith(
        "The provided continue parameter is too old to display a consistent list result."
    )


async def test_malformed_continue_token_is_bad_request(registry: Registry) -> None:
    cms = store_of(registry, "", "configmaps")
    await expect_status(
        cms.list("default", ListOptions(limit=2, continue_token="!!not-a-token")), 400, "BadRequest"
    )
