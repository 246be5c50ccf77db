"""VolumeBinding in the scheduler component, with the PV controller and a (hollow) local-path
provisioner on a real in-process registry: WaitForFirstConsumer claims provisioned on the chosen
node before the pod is bound, static volumes bound by PreBind, bound volumes' node affinity
steering the pod, and upstream's reasons for unbound immediate or missing claims."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubelite.api import volumebinding as vb
from kubelite.apiserver.bootstrap import LOCAL_PATH_CLASS
from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client
from kubelite.controllers.persistentvolume import PersistentVolumeController
from kubelite.kubelet.localpath import LocalPathProvisioner
from kubelite.scheduler.plugins import volumebinding as plugin
from kubelite.scheduler.scheduler import SchedulerComponent
from tests.registry.registry_harness import start_registry

Obj = dict[str, Any]


def node(name: str) -> Obj:
    allocatable = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": allocatable, "capacity": allocatable},
    }


def claim(name: str, cls: str | None = None) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return {"metadata": {"name": name}, "spec": spec}


def pod(name: str, *claims: str) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {
            "containers": [{"name": "c", "image": "pause"}],
            "volumes": [{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}} for i, c in enumerate(claims)],
        },
    }


def static_volume(name: str, cls: str, on: str = "") -> Obj:
    spec: Obj = {
        "capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteOnce"],
        "hostPath": {"path": f"/tmp/{name}"},
        "storageClassName": cls,
    }
    if on:
        spec["nodeAffinity"] = {
            "required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [on]}]}]}
        }
    return {"metadata": {"name": name}, "spec": spec}


class Env:
    def __init__(self, client: Client):
        self.client = client
        self.pods = client.resource("", "v1", "pods").namespace("default")
        self.claims = client.resource("", "v1", "persistentvolumeclaims").namespace("default")
        self.volumes = client.resource("", "v1", "persistentvolumes")
        self.nodes = client.resource("", "v1", "nodes")
        self.classes = client.resource("storage.k8s.io", "v1", "storageclasses")
        self.events = client.resource("", "v1", "events").namespace("default")

    async def add_node(self, name: str) -> None:
        created = await self.nodes.create(node(name))
        created["status"] = node(name)["status"]
        await self.nodes.update_status(created)

    async def until(self, check: Any, what: str, timeout: float = 10.0) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = await check()
            if found:
                return found
            if loop.time() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            await asyncio.sleep(0.02)

    async def bound_to(self, name: str) -> str:
        async def check() -> str:
            return str((await self.pods.get(name))["spec"].get("nodeName") or "")

        return str(await self.until(check, f"{name} bound"))

    async def failure(self, name: str) -> str:
        async def check() -> str:
            items = (await self.events.list())["items"]
            found = [e["message"] for e in items if e["involvedObject"]["name"] == name and e["reason"] == "FailedScheduling"]
            return found[-1] if found else ""

        return str(await self.until(check, f"FailedScheduling for {name}"))


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    registry = await start_registry()
    client = Client(InProcessTransport(registry))
    made = Env(client)
    await made.classes.create(dict(LOCAL_PATH_CLASS))
    await made.add_node("n1")
    await made.add_node("n2")
    components = [
        PersistentVolumeController(client),
        SchedulerComponent(client, rng=random.Random(0)),
        LocalPathProvisioner(client, {"n1", "n2"}, tmp_path / "storage", hollow=True),
    ]
    for component in components:
        await component.start()
    try:
        yield made
    finally:
        for component in reversed(components):
            await component.stop()
        await asyncio.wait_for(registry.stop(), 5)


async def test_wait_for_first_consumer_claim_is_provisioned_on_the_chosen_node(env: Env) -> None:
    await env.claims.create(claim("data"))  # the default class: local-path
    await env.pods.create(pod("user", "data"))
    chosen = await env.bound_to("user")
    bound = await env.claims.get("data")
    assert vb.is_fully_bound(bound) and bound["status"]["phase"] == "Bound", "the pod is bound only after its claim"
    assert bound["metadata"]["annotations"][vb.SELECTED_NODE] == chosen
    assert bound["metadata"]["annotations"][vb.STORAGE_PROVISIONER] == "rancher.io/local-path"
    pv = await env.volumes.get(bound["spec"]["volumeName"])
    assert pv["metadata"]["name"] == f"pvc-{bound['metadata']['uid']}"
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [chosen]
    assert pv["spec"]["hostPath"]["type"] == "DirectoryOrCreate"
    assert pv["metadata"]["annotations"][vb.PROVISIONED_BY] == "rancher.io/local-path"
    # a second pod using the claim follows the volume's node affinity
    await env.pods.create(pod("second", "data"))
    assert await env.bound_to("second") == chosen


async def test_static_volume_is_bound_by_pre_bind_and_its_node_is_honoured(env: Env) -> None:
    await env.classes.create({"metadata": {"name": "static"}, "provisioner": vb.NO_PROVISIONER, "volumeBindingMode": "WaitForFirstConsumer"})
    await env.volumes.create(static_volume("disk-on-n2", "static", on="n2"))
    await env.claims.create(claim("fixed", cls="static"))
    await env.pods.create(pod("p", "fixed"))
    assert await env.bound_to("p") == "n2"
    assert (await env.claims.get("fixed"))["spec"]["volumeName"] == "disk-on-n2"
    # no volume left and no provisioner: the next one fits nowhere
    await env.claims.create(claim("another", cls="static"))
    await env.pods.create(pod("q", "another"))
    message = await env.failure("q")
    assert message.startswith("0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind.")


async def test_unbound_immediate_and_missing_claims_are_reported(env: Env) -> None:
    await env.claims.create(claim("now", cls=""))  # no class: Immediate, and no volume to bind
    await env.pods.create(pod("waits", "now"))
    assert (await env.failure("waits")).startswith("0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.")
    await env.pods.create(pod("orphan", "nothing"))
    assert (await env.failure("orphan")).startswith('0/2 nodes are available: persistentvolumeclaim "nothing" not found.')
    await env.volumes.create(static_volume("late", ""))
    assert await env.bound_to("waits") in ("n1", "n2"), "a new volume brings the pod back"


def test_pods_without_claims_skip_the_plugin() -> None:
    state: dict[str, Any] = {}
    binding = plugin.VolumeBinding.__new__(plugin.VolumeBinding)
    assert binding.pre_filter(state, {"spec": {"volumes": [{"name": "x", "emptyDir": {}}]}}, None) is plugin.SKIP  # type: ignore[arg-type]
    assert state == {}


async def test_failed_provisioning_fails_pre_bind_and_leaves_the_pod_pending(env: Env) -> None:
    shared = claim("shared")
    shared["spec"]["accessModes"] = ["ReadWriteMany"]  # local-path refuses it
    await env.claims.create(shared)
    await env.pods.create(pod("many", "shared"))
    message = await env.failure("many")
    assert message == 'running PreBind plugin "VolumeBinding": binding volumes: provisioning failed for PVC "shared"'
    assert not (await env.pods.get("many"))["spec"].get("nodeName")
