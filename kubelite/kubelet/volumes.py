"""The kubelet's volume manager: before a pod's containers start it sets up every volume of the
pod under DATA/kubelet/pods/<uid>/volumes/<plugin>/<name> — emptyDir (a directory, or a tmpfs for
medium Memory), configMap, secret, downwardAPI and projected (service account tokens from the
TokenRequest API, refreshed at 80 % of their life, kube-root-ca.crt, the namespace) written
atomically (atomicwriter.py) and rewritten when their sources change — and answers the runtime's
VolumePaths question (pod, volume name -> host path), including hostPath and a
persistentVolumeClaim's bound PV (hostPath or local path).

Must not start containers or talk to the runtime; its only state is what it wrote (rebuilt by
the next set_up) and the tokens it holds.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
import os
import shutil
import stat
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kubelite.api.quantity import parse_quantity
from kubelite.kubelet.atomicwriter import Payload, write_payload
from kubelite.kubelet.envresolve import EnvError, field_value, resource_value
from kubelite.kubelet.objects import KubeletObjects
from kubelite.runtime.oci import rootfs

Obj = dict[str, Any]

DEFAULT_MODE = 0o644
TOKEN_REFRESH_FRACTION = 0.8
TOKEN_MAX_AGE = 24 * 3600.0
PLUGINS = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}
WRITTEN_KINDS = ("configMap", "secret", "downwardAPI", "projected")


class VolumeError(Exception):
    """A volume cannot be set up; `message` follows upstream's FailedMount text."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {message}')
        self.volume = volume
        self.message = str(self)


def _kind(volume: Obj) -> str:
    for kind in ("hostPath", "emptyDir", "configMap", "secret", "downwardAPI", "projected", "persistentVolumeClaim"):
        if kind in volume:
            return kind
    return ""


def needs_refresh(pod: Obj) -> bool:
    """Whether the pod has volumes whose contents come from the API (resynced periodically)."""
    return any(_kind(v) in WRITTEN_KINDS for v in (pod.get("spec") or {}).get("volumes") or [])


def _check_host_path(path: Path, kind: str) -> None:
    if kind == "DirectoryOrCreate":
        if not path.exists():
            path.mkdir(parents=True, mode=0o755)
        return
    if kind == "FileOrCreate":
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o644)
        return
    checks: dict[str, tuple[Callable[[int], bool], str]] = {
        "Directory": (stat.S_ISDIR, "a directory"),
        "File": (stat.S_ISREG, "a file"),
        "Socket": (stat.S_ISSOCK, "a socket"),
        "CharDevice": (stat.S_ISCHR, "a character device"),
        "BlockDevice": (stat.S_ISBLK, "a block device"),
    }
    if kind not in checks:
        return
    test, what = checks[kind]
    try:
        mode = path.stat().st_mode
    except OSError:
        raise ValueError(f"hostPath type check failed: {path} is not {what}") from None
    if not test(mode):
        raise ValueError(f"hostPath type check failed: {path} is not {what}")


def _items(values: Mapping[str, bytes], items: list[Obj] | None, mode: int, what: str) -> Payload:
    if not items:
        return {key: (value, mode) for key, value in values.items()}
    out: Payload = {}
    for item in items:
        key = str(item.get("key") or "")
        if key not in values:
            raise ValueError(f"{what} references non-existent config key: {key}")
        out[str(item.get("path") or key)] = (values[key], int(item["mode"]) if item.get("mode") is not None else mode)
    return out


def _config_map_values(obj: Obj) -> dict[str, bytes]:
    values = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    for key, value in (obj.get("binaryData") or {}).items():
        values[key] = base64.b64decode(value)
    return values


def _secret_values(obj: Obj) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}


class VolumeManager:
    def __init__(
        self,
        root: Path,
        objects: KubeletObjects,
        *,
        host_ip: Callable[[], str] = lambda: "",
        allocatable: Callable[[], Mapping[str, str]] = dict,
        wall_clock: Callable[[], float] = time.time,
    ):
        """`root`: DATA/kubelet/pods."""
        self.root = root
        self.objects = objects
        self.host_ip = host_ip
        self.allocatable = allocatable
        self.wall_clock = wall_clock
        self._tokens: dict[tuple[str, str, str], tuple[str, float, float]] = {}  # (uid, volume, path) -> token, issued, expiry
        self._claims: dict[tuple[str, str], str] = {}  # (uid, volume) -> the bound PV's path

    def volume_dir(self, uid: str, kind: str, name: str) -> Path:
        return self.root / uid / "volumes" / PLUGINS[kind] / name

    # ------------------------------------------------------------------ VolumePaths
    def __call__(self, pod: Obj, name: str) -> str | None:
        uid = str(pod["metadata"]["uid"])
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            if volume.get("name") != name:
                continue
            kind = _kind(volume)
            if kind == "hostPath":
                return str((volume["hostPath"] or {}).get("path") or "")
            if kind == "persistentVolumeClaim":
                return self._claims.get((uid, name))
            if kind in PLUGINS:
                return str(self.volume_dir(uid, kind, name))
        return None

    # ------------------------------------------------------------------ set up
    async def set_up(self, pod: Obj, pod_ip: str = "") -> None:
        """Set up (or refresh) every volume of the pod; VolumeError for the first that fails."""
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            name = str(volume.get("name") or "")
            try:
                await self._set_up_one(pod, volume, pod_ip)
            except (ValueError, EnvError, OSError) as exc:
                raise VolumeError(name, getattr(exc, "message", None) or str(exc)) from None

    async def _set_up_one(self, pod: Obj, volume: Obj, pod_ip: str) -> None:
        uid = str(pod["metadata"]["uid"])
        name = str(volume["name"])
        kind = _kind(volume)
        if kind == "hostPath":
            source = volume["hostPath"] or {}
            _check_host_path(Path(str(source.get("path") or "")), str(source.get("type") or ""))
        elif kind == "emptyDir":
            directory = self.volume_dir(uid, kind, name)
            if (volume["emptyDir"] or {}).get("medium") == "Memory":
                if not os.path.ismount(directory):
                    limit = (volume["emptyDir"] or {}).get("sizeLimit")
                    size = math.ceil(parse_quantity(limit).amount) if limit else 0  # 0: tmpfs without a size limit
                    await asyncio.to_thread(rootfs.mount_tmpfs, directory, size, 0o777)
            elif not directory.exists():
                directory.mkdir(parents=True)
                os.chmod(directory, 0o777)
        elif kind == "persistentVolumeClaim":
            await self._claim_path(pod, name, str((volume[kind] or {}).get("claimName") or ""))
        elif kind in WRITTEN_KINDS:
            payload = await self._payload(pod, kind, volume[kind] or {}, name, pod_ip)
            if payload is not None:
                await asyncio.to_thread(write_payload, self.volume_dir(uid, kind, name), payload)

    async def _claim_path(self, pod: Obj, name: str, claim_name: str) -> None:
        if (str(pod["metadata"]["uid"]), name) in self._claims:
            return  # set up already: a running pod keeps its volume (even once the claim is deleted)
        namespace = str(pod["metadata"].get("namespace") or "")
        claim = await self.objects.claim(namespace, claim_name)
        where = f"error processing PVC {namespace}/{claim_name}"  # upstream's desired-state populator
        if claim is None:
            raise ValueError(f'{where}: failed to fetch PVC from API server: persistentvolumeclaims "{claim_name}" not found')
        if (claim.get("metadata") or {}).get("deletionTimestamp"):
            raise ValueError(f"{where}: PVC is being deleted")
        volume_name = str((claim.get("spec") or {}).get("volumeName") or "")
        if not volume_name or (claim.get("status") or {}).get("phase") != "Bound":
            raise ValueError(f"{where}: PVC is not bound")
        pv = await self.objects.volume(volume_name)
        if pv is None:
            raise ValueError(f'persistentvolume "{volume_name}" not found')
        spec = pv.get("spec") or {}
        if "hostPath" in spec:
            path = Path(str((spec["hostPath"] or {}).get("path") or ""))
            _check_host_path(path, str((spec["hostPath"] or {}).get("type") or ""))
        elif "local" in spec:
            path = Path(str((spec["local"] or {}).get("path") or ""))
            _check_host_path(path, "Directory")
        else:
            raise ValueError(f"persistentvolume {volume_name}: only hostPath and local volumes are supported")
        self._claims[(str(pod["metadata"]["uid"]), name)] = str(path)

    async def _payload(self, pod: Obj, kind: str, source: Obj, volume: str, pod_ip: str) -> Payload | None:
        namespace = str(pod["metadata"].get("namespace") or "")
        mode = int(source["defaultMode"]) if source.get("defaultMode") is not None else DEFAULT_MODE
        if kind == "configMap":
            return await self._config_map(namespace, source, mode)
        if kind == "secret":
            return await self._secret(namespace, source, mode)
        if kind == "downwardAPI":
            return self._downward(pod, source.get("items") or [], mode, pod_ip)
        payload: Payload = {}
        for entry in source.get("sources") or []:
            if "configMap" in entry:
                part = await self._config_map(namespace, entry["configMap"] or {}, mode)
            elif "secret" in entry:
                part = await self._secret(namespace, {**(entry["secret"] or {}), "secretName": (entry["secret"] or {}).get("name")}, mode)
            elif "downwardAPI" in entry:
                part = self._downward(pod, (entry["downwardAPI"] or {}).get("items") or [], mode, pod_ip)
            elif "serviceAccountToken" in entry:
                part = await self._token(pod, volume, entry["serviceAccountToken"] or {}, mode)
            else:
                part = {}
            payload.update(part or {})
        return payload

    async def _config_map(self, namespace: str, source: Obj, mode: int) -> Payload:
        name = str(source.get("name") or "")
        obj = await self.objects.config_map(namespace, name)
        if obj is None:
            if source.get("optional"):
                return {}
            raise ValueError(f'configmap "{name}" not found')
        return _items(_config_map_values(obj), source.get("items"), mode, "configmap")

    async def _secret(self, namespace: str, source: Obj, mode: int) -> Payload:
        name = str(source.get("secretName") or "")
        obj = await self.objects.secret(namespace, name)
        if obj is None:
            if source.get("optional"):
                return {}
            raise ValueError(f'secret "{name}" not found')
        return _items(_secret_values(obj), source.get("items"), mode, "secret")

    def _downward(self, pod: Obj, items: list[Obj], mode: int, pod_ip: str) -> Payload:
        payload: Payload = {}
        for item in items:
            item_mode = int(item["mode"]) if item.get("mode") is not None else mode
            if item.get("fieldRef"):
                value = field_value(pod, str(item["fieldRef"].get("fieldPath") or ""), host_ip=self.host_ip(), pod_ip=pod_ip)
            else:
                ref = item.get("resourceFieldRef") or {}
                value = resource_value(pod, str(ref.get("containerName") or ""), ref, self.allocatable())
            payload[str(item.get("path") or "")] = (value.encode(), item_mode)
        return payload

    async def _token(self, pod: Obj, volume: str, source: Obj, mode: int) -> Payload:
        uid = str(pod["metadata"]["uid"])
        path = str(source.get("path") or "token")
        audience = str(source.get("audience") or "")
        expiration = int(source.get("expirationSeconds") or 3600)
        key = (uid, volume, path)
        now = self.wall_clock()
        held = self._tokens.get(key)
        if held is None or now >= held[1] + TOKEN_REFRESH_FRACTION * (held[2] - held[1]) or now - held[1] > TOKEN_MAX_AGE:
            token, expiry = await self.objects.token(pod, [audience] if audience else [], expiration)
            held = (token, now, expiry)
            self._tokens[key] = held
        return {path: (held[0].encode(), mode)}

    # ------------------------------------------------------------------ tear down
    async def tear_down(self, uid: str) -> None:
        """Unmount and remove everything set up for the pod (after its containers are gone)."""
        directory = self.root / uid
        for key in [k for k in self._tokens if k[0] == uid]:
            del self._tokens[key]
        for claim in [k for k in self._claims if k[0] == uid]:
            del self._claims[claim]
        if not directory.exists():
            return

        def remove() -> None:
            for point in sorted(rootfs.mounts_under(directory), key=lambda p: len(str(p)), reverse=True):
                rootfs.unmount(point)
            shutil.rmtree(directory, ignore_errors=True)

        await asyncio.to_thread(remove)

    def known_pods(self) -> list[str]:
        """Uids with a volume directory (a restarted kubelet removes those of gone pods)."""
        with contextlib.suppress(OSError):
            return [entry for entry in os.listdir(self.root) if not entry.startswith(".")]
        return []
