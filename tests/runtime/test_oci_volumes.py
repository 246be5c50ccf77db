"""volumeMounts as bind mounts: resolver answers, subPath checks, the local fallback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubelite.runtime.oci.errors import ContainerStartError
from kubelite.runtime.oci.spec import BindMount
from kubelite.runtime.oci.volumes import LocalVolumePaths, bind_mounts

Obj = dict[str, Any]


def test_local_volume_paths_and_binds(tmp_path: Path) -> None:
    host_dir = tmp_path / "host" / "made"
    pod: Obj = {
        "metadata": {"uid": "u1"},
        "spec": {
            "volumes": [
                {"name": "cache", "emptyDir": {}},
                {"name": "host", "hostPath": {"path": str(host_dir), "type": "DirectoryOrCreate"}},
                {"name": "config", "configMap": {"name": "c"}},
            ]
        },
    }
    paths = LocalVolumePaths(lambda uid: tmp_path / "pods" / uid / "volumes")
    container: Obj = {
        "name": "app",
        "volumeMounts": [
            {"name": "cache", "mountPath": "/cache"},
            {"name": "host", "mountPath": "/host", "readOnly": True},
            {"name": "cache", "mountPath": "/sub", "subPath": "a/b"},
        ],
    }
    mounts = bind_mounts(pod, container, paths)
    empty_dir = tmp_path / "pods" / "u1" / "volumes" / "kubernetes.io~empty-dir" / "cache"
    assert mounts == [
        BindMount("/cache", str(empty_dir)),
        BindMount("/host", str(host_dir), True),
        BindMount("/sub", str(empty_dir / "a" / "b")),
    ]
    assert host_dir.is_dir() and (empty_dir / "a" / "b").is_dir()
    assert paths(pod, "config") is None  # the kubelet's volume manager answers those

    with pytest.raises(ContainerStartError) as error:
        bind_mounts(pod, {"name": "app", "volumeMounts": [{"name": "config", "mountPath": "/c"}]}, paths)
    assert (error.value.reason, error.value.message) == (
        "CreateContainerConfigError",
        'cannot find volume "config" to mount into container "app"',
    )
    for bad in ("../escape", "/abs"):
        with pytest.raises(ContainerStartError):
            bind_mounts(pod, {"name": "app", "volumeMounts": [{"name": "cache", "mountPath": "/x", "subPath": bad}]}, paths)
    (empty_dir / "link").symlink_to("/etc")
    with pytest.raises(ContainerStartError, match="not within volume path"):
        bind_mounts(pod, {"name": "app", "volumeMounts": [{"name": "cache", "mountPath": "/x", "subPath": "link"}]}, paths)


def test_a_read_only_claim_source_makes_every_mount_of_it_read_only(tmp_path: Path) -> None:
    pod: Any = {
        "metadata": {"uid": "u"},
        "spec": {"volumes": [{"name": "ro", "persistentVolumeClaim": {"claimName": "c", "readOnly": True}}, {"name": "rw", "persistentVolumeClaim": {"claimName": "d"}}]},
    }
    container = {"name": "c", "volumeMounts": [{"name": "ro", "mountPath": "/a"}, {"name": "rw", "mountPath": "/b"}, {"name": "rw", "mountPath": "/c", "readOnly": True}]}
    mounts = bind_mounts(pod, container, lambda _pod, name: str(tmp_path / name))
    assert [(m.destination, m.read_only) for m in mounts] == [("/a", True), ("/b", False), ("/c", True)]
