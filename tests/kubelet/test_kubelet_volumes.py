"""The kubelet's volume manager against a real in-process API: configMap, secret, projected and
downwardAPI contents, file modes (defaultMode, per-item mode), items with paths, optional and
missing sources with upstream's messages, the `..data` swap when a source changes, service
account tokens refreshed at 80 % of their life, emptyDir (a tmpfs for medium Memory), hostPath
type checks, the VolumePaths answers, and teardown."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from kubelite.client.client import Client
from kubelite.kubelet.objects import KubeletObjects
from kubelite.kubelet.volumes import VolumeError, VolumeManager, needs_refresh
from kubelite.runtime.oci import rootfs

Obj = dict[str, Any]
UID = "7c4a1f0e-0000-4000-8000-000000000001"


class TokenIssuer(KubeletObjects):
    """The real API for ConfigMaps and Secrets; TokenRequests answered here (counted), with the
    expiry the test sets."""

    def __init__(self, client: Client):
        super().__init__(client)
        self.issued: list[tuple[str, list[str], int]] = []
        self.now = 1_000_000.0

    async def token(self, pod: Obj, audiences: list[str], expiration_seconds: int) -> tuple[str, float]:
        self.issued.append((str(pod["metadata"]["name"]), audiences, expiration_seconds))
        return f"token-{len(self.issued)}", self.now + expiration_seconds


@pytest.fixture
def objects(client: Client) -> TokenIssuer:
    return TokenIssuer(client)


@pytest.fixture
def manager(tmp_path: Path, objects: TokenIssuer) -> VolumeManager:
    return VolumeManager(
        tmp_path / "pods",
        objects,
        host_ip=lambda: "192.0.2.7",
        allocatable=lambda: {"cpu": "4", "memory": "8Gi"},
        wall_clock=lambda: objects.now,
    )


def pod_with(*volumes: Obj, **extra: Any) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": UID, "labels": {"app": "web", "tier": "front"}, "annotations": {"note": 'say "hi"'}},
        "spec": {
            "nodeName": "node-a",
            "serviceAccountName": "default",
            "containers": [{"name": "app", "image": "x", "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "250m"}}}],
            "volumes": list(volumes),
            **extra,
        },
    }


async def put_config_map(client: Client, name: str, data: dict[str, str], binary: dict[str, bytes] | None = None) -> None:
    body: Obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    if binary:
        body["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
    resource = client.resource("", "v1", "configmaps").namespace("default")
    try:
        current = await resource.get(name)
    except Exception:
        await resource.create(body)
        return
    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    await resource.update(body)


async def put_secret(client: Client, name: str, data: dict[str, bytes]) -> None:
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": {k: base64.b64encode(v).decode() for k, v in data.items()}}
    await client.resource("", "v1", "secrets").namespace("default").create(body)


def files(directory: Path) -> dict[str, tuple[bytes, int]]:
    """What a container sees: every visible name (through the links), its content and mode."""
    seen: dict[str, tuple[bytes, int]] = {}
    for root, dirs, names in os.walk(directory, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith("..")]
        for name in names:
            if name.startswith(".."):
                continue
            path = Path(root) / name
            seen[str(path.relative_to(directory))] = (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    return seen


async def test_config_map_all_keys_with_the_default_mode(client: Client, manager: VolumeManager) -> None:
    await put_config_map(client, "cfg", {"color": "blue", "app.ini": "[x]\n"}, {"logo.bin": b"\x00\xff"})
    pod = pod_with({"name": "cfg", "configMap": {"name": "cfg"}})
    await manager.set_up(pod)
    directory = manager.volume_dir(UID, "configMap", "cfg")
    assert files(directory) == {"color": (b"blue", 0o644), "app.ini": (b"[x]\n", 0o644), "logo.bin": (b"\x00\xff", 0o644)}
    assert manager(pod, "cfg") == str(directory) and directory.parts[-2] == "kubernetes.io~configmap"
    assert needs_refresh(pod)


async def test_config_map_items_paths_and_modes(client: Client, manager: VolumeManager) -> None:
    await put_config_map(client, "cfg", {"color": "blue", "size": "L", "unused": "-"})
    items = [{"key": "color", "path": "conf/color.txt"}, {"key": "size", "path": "size", "mode": 0o600}]
    pod = pod_with({"name": "cfg", "configMap": {"name": "cfg", "items": items, "defaultMode": 0o440}})
    await manager.set_up(pod)
    directory = manager.volume_dir(UID, "configMap", "cfg")
    assert files(directory) == {"conf/color.txt": (b"blue", 0o440), "size": (b"L", 0o600)}
    assert sorted(e for e in os.listdir(directory) if not e.startswith("..")) == ["conf", "size"]


async def test_missing_sources_and_keys(client: Client, manager: VolumeManager) -> None:
    with pytest.raises(VolumeError) as missing:
        await manager.set_up(pod_with({"name": "cfg", "configMap": {"name": "absent"}}))
    assert missing.value.message == 'MountVolume.SetUp failed for volume "cfg" : configmap "absent" not found'
    with pytest.raises(VolumeError) as missing_secret:
        await manager.set_up(pod_with({"name": "sec", "secret": {"secretName": "absent"}}))
    assert missing_secret.value.message == 'MountVolume.SetUp failed for volume "sec" : secret "absent" not found'
    await put_config_map(client, "cfg", {"color": "blue"})
    with pytest.raises(VolumeError) as no_key:
        await manager.set_up(pod_with({"name": "cfg", "configMap": {"name": "cfg", "items": [{"key": "nope", "path": "n"}]}}))
    assert no_key.value.message == 'MountVolume.SetUp failed for volume "cfg" : configmap references non-existent config key: nope'
    optional = pod_with({"name": "opt", "configMap": {"name": "absent", "optional": True}})
    await manager.set_up(optional)
    assert files(manager.volume_dir(UID, "configMap", "opt")) == {}


async def test_secret_contents_are_decoded_with_modes(client: Client, manager: VolumeManager) -> None:
    await put_secret(client, "sec", {"password": b"s3cret", "tls.key": b"-----KEY-----\n"})
    pod = pod_with({"name": "sec", "secret": {"secretName": "sec", "defaultMode": 0o400, "items": [{"key": "password", "path": "pw"}, {"key": "tls.key", "path": "tls/key", "mode": 0o600}]}})
    await manager.set_up(pod)
    directory = manager.volume_dir(UID, "secret", "sec")
    assert files(directory) == {"pw": (b"s3cret", 0o400), "tls/key": (b"-----KEY-----\n", 0o600)}
    assert directory.parts[-2] == "kubernetes.io~secret"


async def test_downward_api_fields_and_resources(manager: VolumeManager) -> None:
    items = [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
        {"path": "meta/name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o400},
        {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}},
        {"path": "tier", "fieldRef": {"fieldPath": "metadata.labels['tier']"}},
        {"path": "mem_limit_mi", "resourceFieldRef": {"containerName": "app", "resource": "limits.memory", "divisor": "1Mi"}},
        {"path": "cpu_request_m", "resourceFieldRef": {"containerName": "app", "resource": "requests.cpu", "divisor": "1m"}},
        {"path": "cpu_limit", "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu"}},
    ]
    pod = pod_with({"name": "info", "downwardAPI": {"items": items}})
    await manager.set_up(pod)
    assert files(manager.volume_dir(UID, "downwardAPI", "info")) == {
        "labels": (b'app="web"\ntier="front"', 0o644),
        "annotations": (b'note="say \\"hi\\""', 0o644),
        "meta/name": (b"web", 0o400),
        "uid": (UID.encode(), 0o644),
        "tier": (b"front", 0o644),
        "mem_limit_mi": (b"64", 0o644),
        "cpu_request_m": (b"250", 0o644),
        "cpu_limit": (b"4", 0o644),  # no limit: the node's allocatable
    }


async def test_projected_sources_together(client: Client, manager: VolumeManager, objects: TokenIssuer) -> None:
    await put_config_map(client, "kube-root-ca.crt", {"ca.crt": "CA PEM"})
    await put_secret(client, "extra", {"k": b"v"})
    sources = [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        {"secret": {"name": "extra", "items": [{"key": "k", "path": "sub/k"}]}},
        {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 600, "path": "vault-token"}},
    ]
    pod = pod_with({"name": "kube-api-access-abcde", "projected": {"sources": sources, "defaultMode": 0o420}})
    await manager.set_up(pod)
    directory = manager.volume_dir(UID, "projected", "kube-api-access-abcde")
    assert directory.parts[-2] == "kubernetes.io~projected"
    assert files(directory) == {
        "token": (b"token-1", 0o420),
        "ca.crt": (b"CA PEM", 0o420),
        "namespace": (b"default", 0o420),
        "sub/k": (b"v", 0o420),
        "vault-token": (b"token-2", 0o420),
    }
    assert objects.issued == [("web", [], 3607), ("web", ["vault"], 600)]


async def test_tokens_are_kept_until_80_percent_of_their_life(manager: VolumeManager, objects: TokenIssuer) -> None:
    pod = pod_with({"name": "tok", "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 1000, "path": "token"}}]}})
    directory = manager.volume_dir(UID, "projected", "tok")
    await manager.set_up(pod)
    objects.now += 799
    await manager.set_up(pod)
    assert len(objects.issued) == 1 and (directory / "token").read_bytes() == b"token-1"
    objects.now += 1
    await manager.set_up(pod)
    assert len(objects.issued) == 2 and (directory / "token").read_bytes() == b"token-2"


async def test_a_changed_source_swaps_the_data_link_and_drops_removed_keys(client: Client, manager: VolumeManager) -> None:
    await put_config_map(client, "cfg", {"color": "blue", "old": "1"})
    pod = pod_with({"name": "cfg", "configMap": {"name": "cfg"}})
    await manager.set_up(pod)
    directory = manager.volume_dir(UID, "configMap", "cfg")
    first = os.readlink(directory / "..data")
    with open(directory / "color", "rb") as held:  # a reader that opened the old file keeps its content
        await manager.set_up(pod)  # unchanged: nothing rewritten
        assert os.readlink(directory / "..data") == first
        await put_config_map(client, "cfg", {"color": "green", "new": "2"})
        await manager.set_up(pod)
        second = os.readlink(directory / "..data")
        assert second != first and not (directory / first).exists()
        assert files(directory) == {"color": (b"green", 0o644), "new": (b"2", 0o644)}
        assert held.read() == b"blue"


async def test_empty_dirs_host_paths_and_teardown(tmp_path: Path, manager: VolumeManager, objects: TokenIssuer) -> None:
    host_dir = tmp_path / "host" / "made"
    pod = pod_with(
        {"name": "scratch", "emptyDir": {}},
        {"name": "fast", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        {"name": "made", "hostPath": {"path": str(host_dir), "type": "DirectoryOrCreate"}},
        {"name": "tok", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
    )
    try:
        await manager.set_up(pod)
        scratch = Path(str(manager(pod, "scratch")))
        fast = Path(str(manager(pod, "fast")))
        assert scratch.is_dir() and stat.S_IMODE(scratch.stat().st_mode) == 0o777
        assert os.path.ismount(fast)
        assert host_dir.is_dir() and manager(pod, "made") == str(host_dir)
        assert manager(pod, "nope") is None
        (scratch / "f").write_text("x")
        await manager.set_up(pod)  # again (a resync): the emptyDir keeps its data, no second mount
        assert (scratch / "f").read_text() == "x"
        assert sum(1 for point in rootfs.mounts_under(manager.root / UID) if point == fast) == 1
        assert manager.known_pods() == [UID]
        await manager.tear_down(UID)
        assert not (manager.root / UID).exists() and not rootfs.mounts_under(manager.root / UID)
        assert host_dir.is_dir()  # a hostPath is the node's, never removed
        assert manager.known_pods() == []
        await manager.set_up(pod)  # a token is asked for again after teardown
        assert len(objects.issued) == 2
        await manager.tear_down(UID)
    finally:
        for point in rootfs.mounts_under(manager.root):
            rootfs.unmount(point)


async def test_host_path_type_checks(tmp_path: Path, manager: VolumeManager) -> None:
    (tmp_path / "file").write_text("x")
    await manager.set_up(pod_with({"name": "f", "hostPath": {"path": str(tmp_path / "file"), "type": "File"}}))
    with pytest.raises(VolumeError) as wrong:
        await manager.set_up(pod_with({"name": "d", "hostPath": {"path": str(tmp_path / "file"), "type": "Directory"}}))
    assert wrong.value.message == f'MountVolume.SetUp failed for volume "d" : hostPath type check failed: {tmp_path / "file"} is not a directory'
    await manager.set_up(pod_with({"name": "c", "hostPath": {"path": str(tmp_path / "new" / "file"), "type": "FileOrCreate"}}))
    assert (tmp_path / "new" / "file").is_file()
