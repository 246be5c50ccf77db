"""The Client facade over both transports: the same calls give the same answers and the same
Status errors whether the API is reached over HTTP or in-process."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from kubelite.client.client import ResourceClient, resource_ref
from kubelite.client.transport import Gone, ResourceRef, WatchEvent
from tests.client.client_harness import Cluster, configmap, expect_status


def configmaps(cluster: Cluster) -> ResourceClient:
    return cluster.client.resource("", "v1", "configmaps").namespace(cluster.namespace)


def deployment(name: str, replicas: int = 1) -> dict[str, object]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
    }


async def take(events: object, count: int, timeout: float = 5.0) -> list[WatchEvent]:
    got: list[WatchEvent] = []

    async def run() -> None:
        async for event in events:  # type: ignore[attr-defined]
            if event.type != "BOOKMARK":
                got.append(event)
            if len(got) == count:
                return

    await asyncio.wait_for(run(), timeout)
    return got


def test_refs_of_builtins_know_their_scope() -> None:
    assert resource_ref("apps", "v1", "deployments") == ResourceRef("apps", "v1", "deployments", True)
    assert resource_ref("", "v1", "nodes").namespaced is False
    assert resource_ref("coordination.k8s.io", "v1", "leases").api_version == "coordination.k8s.io/v1"
    with pytest.raises(ValueError):
        resource_ref("example.com", "v1", "widgets")
    assert resource_ref("example.com", "v1", "widgets", namespaced=True).namespaced


async def test_crud_round_trip(cluster: Cluster) -> None:
    cms = configmaps(cluster)
    sent = configmap("one", {"a": "1"})
    created = await cms.create(sent)
    assert sent["metadata"] == {"name": "one"}, "the caller's object must not be filled in"
    assert created["metadata"]["namespace"] == cluster.namespace and created["metadata"]["uid"]
    got = await cms.get("one")
    assert got["data"] == {"a": "1"} and got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    got["data"]["a"] = "2"
    updated = await cms.update(got)
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    patched = await cms.patch("one", {"data": {"b": "3"}})
    assert patched["data"] == {"a": "2", "b": "3"}
    patched = await cms.patch("one", [{"op": "remove", "path": "/data/b"}], "json")
    assert patched["data"] == {"a": "2"}
    patched = await cms.patch("one", {"metadata": {"labels": {"x": "y"}}}, "strategic")
    assert patched["metadata"]["labels"] == {"x": "y"}
    await cms.delete("one")
    await expect_status(cms.get("one"), 404, "NotFound")


async def test_errors_carry_the_status(cluster: Cluster) -> None:
    cms = configmaps(cluster)
    created = await cms.create(configmap("dup"))
    error = await expect_status(cms.create(configmap("dup")), 409, "AlreadyExists")
    assert error.message == 'configmaps "dup" already exists'
    assert error.details == {"name": "dup", "kind": "configmaps"}
    stale = dict(created, data={"x": "1"})
    await cms.update(stale)
    await expect_status(cms.update(stale), 409, "Conflict")
    invalid = await expect_status(cms.create(configmap("Bad_Name")), 422, "Invalid")
    assert invalid.details and invalid.details["causes"][0]["field"] == "metadata.name"
    await expect_status(cms.delete("dup", uid="not-the-uid"), 409, "Conflict")
    await expect_status(cluster.client.resource("", "v1", "nopes", namespaced=True).namespace("x").get("y"), 404)
    with pytest.raises(ValueError):
        await cluster.client.resource("", "v1", "configmaps").get("dup")


async def test_list_selectors_and_paging(cluster: Cluster) -> None:
    cms = configmaps(cluster)
    for i in range(5):
        await cms.create(configmap(f"cm{i}", labels={"parity": "even" if i % 2 == 0 else "odd"}))
    listed = await cms.list(label_selector="parity=even")
    assert listed["kind"] == "ConfigMapList"
    assert [o["metadata"]["name"] for o in listed["items"]] == ["cm0", "cm2", "cm4"]
    assert (await cms.list(field_selector="metadata.name=cm3"))["items"][0]["metadata"]["name"] == "cm3"
    names: list[str] = []
    token = ""
    while True:  # (a label selector keeps out kube-root-ca.crt, which a controller may add)
        page = await cms.list(label_selector="parity", limit=2, continue_token=token)
        names += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue", "")
        if not token:
            break
        assert len(page["items"]) == 2
    assert names == [f"cm{i}" for i in range(5)]
    everywhere = await cluster.client.resource("", "v1", "configmaps").list(label_selector="parity=odd")
    assert {o["metadata"]["namespace"] for o in everywhere["items"]} == {cluster.namespace}


async def test_watch_from_a_list(cluster: Cluster) -> None:
    cms = configmaps(cluster)
    await cms.create(configmap("before"))
    listed = await cms.list()
    async with contextlib.aclosing(cms.watch(resource_version=listed["metadata"]["resourceVersion"])) as events:
        created = await cms.create(configmap("w", {"v": "1"}))
        await cms.patch("w", {"data": {"v": "2"}})
        await cms.delete("w")
        got = await take(events, 3)
    assert [(e.type, e.object["metadata"]["name"]) for e in got] == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
    assert got[0].object["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert got[1].object["data"] == {"v": "2"}
    async with contextlib.aclosing(cms.watch()) as events:
        initial = await take(events, 1)
    assert [(e.type, e.object["metadata"]["name"]) for e in initial] == [("ADDED", "before")]


async def test_watch_from_an_expired_version_raises_gone(cluster: Cluster) -> None:
    cms = configmaps(cluster)
    first = await cms.create(configmap("old", {"n": "0"}))
    current = first
    for n in range(1, 25):
        current = await cms.update(dict(current, data={"n": str(n)}))
    await cluster.expire_watch_positions()
    with pytest.raises(Gone) as caught:
        async with contextlib.aclosing(cms.watch(resource_version=first["metadata"]["resourceVersion"])) as events:
            await take(events, 1)
    assert caught.value.code == 410 and caught.value.reason == "Expired"


async def test_status_apply_scale_and_delete_options(cluster: Cluster) -> None:
    deployments = cluster.client.resource("apps", "v1", "deployments").namespace(cluster.namespace)
    created = await deployments.create(deployment("web"))
    with_status = dict(created, status={"replicas": 7, "observedGeneration": 1})
    with_status["spec"] = dict(created["spec"], replicas=5)  # ignored by a status update
    after = await deployments.update_status(with_status)
    assert after["status"]["replicas"] == 7 and after["spec"]["replicas"] == 1
    scale = await deployments.get("web", subresource="scale")
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    scale["spec"]["replicas"] = 3
    await deployments.update(scale, subresource="scale")
    assert (await deployments.get("web"))["spec"]["replicas"] == 3
    applied = await deployments.apply(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"tier": "front"}}},
        field_manager="tests",
    )
    assert applied["metadata"]["labels"] == {"tier": "front"}
    assert "tests" in {m["manager"] for m in applied["metadata"]["managedFields"]}
    await expect_status(deployments.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}, field_manager=""), 422)
    await deployments.delete("web", dry_run=True)
    assert (await deployments.get("web"))["metadata"]["name"] == "web"
    await expect_status(deployments.delete("web", propagation_policy="Sometimes"), 422, "Invalid")
    await deployments.delete("web", propagation_policy="Background", resource_version=applied["metadata"]["resourceVersion"])
    await expect_status(deployments.get("web"), 404)


async def test_binding_and_delete_collection(cluster: Cluster) -> None:
    pods = cluster.client.resource("", "v1", "pods").namespace(cluster.namespace)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    await pods.create(pod)
    answer = await pods.create_subresource(
        "p", "binding", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}}
    )
    assert answer["status"] == "Success"
    assert (await pods.get("p"))["spec"]["nodeName"] == "n1"
    cms = configmaps(cluster)
    for name in ("x1", "x2", "y"):
        await cms.create(configmap(name, labels={"group": name[0]}))
    await cms.delete_collection(label_selector="group=x")
    assert [o["metadata"]["name"] for o in (await cms.list())["items"]] == ["y"]
