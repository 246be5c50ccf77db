"""The local-path provisioner on a real in-process registry with a temporary base dir: a claim
handed to it for its node gets a 0777 directory pvc-<uid>_<ns>_<name> and a PV pointing there;
claims for other nodes or provisioners are left alone; a Released Delete volume loses its
directory and its object; a volume outside the base dir keeps its directory."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubelite.api import volumebinding as vb
from kubelite.api.errors import StatusError
from kubelite.apiserver.bootstrap import LOCAL_PATH_CLASS
from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client
from kubelite.kubelet.localpath import LocalPathProvisioner
from tests.registry.registry_harness import start_registry

Obj = dict[str, Any]


async def until(check: Any, what: str, timeout: float = 10.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = await check()
        if found:
            return found
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def handed_claim(name: str, node: str, provisioner: str = "rancher.io/local-path", modes: tuple[str, ...] = ("ReadWriteOnce",)) -> Obj:
    return {
        "metadata": {
            "name": name,
            "annotations": {vb.STORAGE_PROVISIONER: provisioner, vb.BETA_STORAGE_PROVISIONER: provisioner, vb.SELECTED_NODE: node},
        },
        "spec": {"accessModes": list(modes), "resources": {"requests": {"storage": "2Gi"}}, "storageClassName": "local-path"},
    }


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Client, LocalPathProvisioner]]:
    registry = await start_registry()
    client = Client(InProcessTransport(registry))
    await client.resource("storage.k8s.io", "v1", "storageclasses").create(dict(LOCAL_PATH_CLASS))
    provisioner = LocalPathProvisioner(client, ["n1"], tmp_path / "storage")
    await provisioner.start()
    try:
        yield client, provisioner
    finally:
        await provisioner.stop()
        await asyncio.wait_for(registry.stop(), 5)


async def get_or_none(rc: Any, name: str) -> Obj | None:
    try:
        found: Obj = await rc.get(name)
        return found
    except StatusError as error:
        if error.code == 404:
            return None
        raise


async def test_provisions_a_directory_and_a_volume_then_deletes_both(setup: tuple[Client, LocalPathProvisioner]) -> None:
    client, provisioner = setup
    claims = client.resource("", "v1", "persistentvolumeclaims").namespace("default")
    volumes = client.resource("", "v1", "persistentvolumes")
    made = await claims.create(handed_claim("data", "n1"))
    await claims.create(handed_claim("elsewhere", "n2"))
    await claims.create(handed_claim("foreign", "n1", provisioner="example.com/other"))
    pv_name = f"pvc-{made['metadata']['uid']}"
    pv = await until(lambda: get_or_none(volumes, pv_name), "provisioned volume")
    directory = provisioner.base_dir / f"pvc-{made['metadata']['uid']}_default_data"
    assert directory.is_dir() and stat.S_IMODE(directory.stat().st_mode) == 0o777
    assert pv["spec"]["hostPath"] == {"path": str(directory), "type": "DirectoryOrCreate"}
    assert pv["spec"]["capacity"] == {"storage": "2Gi"} and pv["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete" and pv["spec"]["storageClassName"] == "local-path"
    assert pv["spec"]["claimRef"]["uid"] == made["metadata"]["uid"]
    assert pv["metadata"]["annotations"] == {vb.PROVISIONED_BY: "rancher.io/local-path"}
    async def reasons() -> list[str]:  # the recorder writes asynchronously; a list is ordered by event name
        events = (await client.resource("", "v1", "events").namespace("default").list())["items"]
        found = sorted(e["reason"] for e in events if e["involvedObject"]["name"] == "data")
        return found if len(found) >= 2 else []

    assert await until(reasons, "provisioning events") == ["Provisioning", "ProvisioningSucceeded"]
    assert sorted(p.name for p in provisioner.base_dir.iterdir()) == [directory.name], "only the claim for n1 by local-path"

    (directory / "file").write_text("kept until released")
    pv["status"] = {"phase": "Released"}
    await volumes.update_status(pv)
    await until(lambda: _gone(volumes, pv_name), "volume deleted")
    assert not directory.exists()


async def test_unsupported_access_mode_fails_and_asks_the_scheduler_again(setup: tuple[Client, LocalPathProvisioner]) -> None:
    client, _ = setup
    claims = client.resource("", "v1", "persistentvolumeclaims").namespace("default")
    await claims.create(handed_claim("shared", "n1", modes=("ReadWriteMany",)))

    async def retracted() -> bool:
        return vb.SELECTED_NODE not in ((await claims.get("shared"))["metadata"].get("annotations") or {})

    await until(retracted, "selected-node removed")
    events = (await client.resource("", "v1", "events").namespace("default").list())["items"]
    assert any(e["reason"] == "ProvisioningFailed" and "ReadWriteOnce" in e["message"] for e in events)


async def test_a_volume_outside_the_base_dir_keeps_its_directory(setup: tuple[Client, LocalPathProvisioner], tmp_path: Path) -> None:
    client, _ = setup
    volumes = client.resource("", "v1", "persistentvolumes")
    outside = tmp_path / "precious"
    outside.mkdir()
    body = {
        "metadata": {"name": "odd", "annotations": {vb.PROVISIONED_BY: "rancher.io/local-path"}},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": str(outside)},
            "persistentVolumeReclaimPolicy": "Delete",
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}},
        },
    }
    made = await volumes.create(body)
    made["status"] = {"phase": "Released"}
    await volumes.update_status(made)
    await until(lambda: _gone(volumes, "odd"), "volume deleted")
    assert outside.is_dir()


async def _gone(rc: Any, name: str) -> bool:
    return await get_or_none(rc, name) is None
