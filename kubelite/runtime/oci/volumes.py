"""A container's volumeMounts as bind mounts. Where a volume lives on the node is the kubelet's
volume manager's answer (a `VolumePaths` callable: pod, volume name -> host path or None); this
module joins subPath (refusing ones that leave the volume), creates a missing subPath directory,
and keeps readOnly (the mount's, or a persistentVolumeClaim source's). `LocalVolumePaths` is the
fallback when the kubelet gives none: hostPath volumes as they are, emptyDir as a directory under
the pod's state dir.

Must not fetch volume contents (configMap, secret, projected, PVC): the kubelet writes those and
answers their paths.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubelite.runtime.oci.errors import ContainerStartError
from kubelite.runtime.oci.spec import BindMount

Obj = dict[str, Any]
VolumePaths = Callable[[Obj, str], str | None]
EMPTY_DIR = "kubernetes.io~empty-dir"


def _volume(pod: Obj, name: str) -> Obj | None:
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if volume.get("name") == name:
            return dict(volume)
    return None


class LocalVolumePaths:
    """hostPath and emptyDir only (DirectoryOrCreate/FileOrCreate honoured)."""

    def __init__(self, volumes_dir: Callable[[str], Path]) -> None:
        self.volumes_dir = volumes_dir

    def __call__(self, pod: Obj, name: str) -> str | None:
        volume = _volume(pod, name)
        if volume is None:
            return None
        if "hostPath" in volume:
            source = volume["hostPath"] or {}
            path = Path(str(source.get("path") or ""))
            kind = source.get("type") or ""
            if kind == "DirectoryOrCreate":
                path.mkdir(parents=True, exist_ok=True, mode=0o755)
            elif kind == "FileOrCreate" and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch(mode=0o644)
            return str(path)
        if "emptyDir" in volume:
            directory = self.volumes_dir(str(pod["metadata"]["uid"])) / EMPTY_DIR / name
            if not directory.exists():
                directory.mkdir(parents=True, exist_ok=True)
                os.chmod(directory, 0o777)
            return str(directory)
        return None


def _config_error(message: str) -> ContainerStartError:
    return ContainerStartError("CreateContainerConfigError", message)


def bind_mounts(pod: Obj, container: Obj, volume_paths: VolumePaths) -> list[BindMount]:
    """The container's volumeMounts resolved to bind mounts (CreateContainerConfigError when a
    volume is unknown or a subPath is invalid)."""
    mounts = []
    name = str(container.get("name") or "")
    for mount in container.get("volumeMounts") or []:
        volume = str(mount.get("name") or "")
        source = volume_paths(pod, volume)
        if source is None:
            raise _config_error(f'cannot find volume "{volume}" to mount into container "{name}"')
        sub_path = str(mount.get("subPath") or "")
        if sub_path:
            if os.path.isabs(sub_path) or ".." in Path(sub_path).parts:
                raise _config_error(f"subPath {sub_path!r} must be a relative path without '..'")
            joined = Path(source) / sub_path
            real_base = os.path.realpath(source)
            if not os.path.realpath(joined).startswith(real_base.rstrip("/") + "/"):
                raise _config_error(f"subpath {sub_path!r} not within volume path {source!r}")
            if not joined.exists():
                joined.mkdir(parents=True, exist_ok=True)
            source = str(joined)
        claim = (_volume(pod, volume) or {}).get("persistentVolumeClaim") or {}
        read_only = bool(mount.get("readOnly")) or bool(claim.get("readOnly"))
        mounts.append(BindMount(str(mount.get("mountPath") or ""), source, read_only))
    return mounts
