"""Writing images, byte for byte reproducibly: layer tars (sorted entries, fixed mtimes, root
ownership, gzip without a timestamp), image configs and manifests, indexes, and OCI image-layout
tarballs that `kubelite image import` and `skopeo copy oci-archive:FILE …` both read. Used by
tools/build_test_images.py and by tests that need small images.

Must not read the image store or talk to registries.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import posixpath
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kubelite.runtime.images import oci

FIXED_MTIME = 1704067200  # 2024-01-01T00:00:00Z
FIXED_CREATED = "2024-01-01T00:00:00Z"
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a layer tar."""

    path: str
    type: bytes = tarfile.REGTYPE
    data: bytes = b""
    link: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


def file(path: str, data: bytes | str, mode: int = 0o644) -> Entry:
    return Entry(path, tarfile.REGTYPE, data.encode() if isinstance(data, str) else data, mode=mode)


def directory(path: str, mode: int = 0o755) -> Entry:
    return Entry(path, tarfile.DIRTYPE, mode=mode)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, tarfile.SYMTYPE, link=target, mode=0o777)


def hardlink(path: str, target: str) -> Entry:
    return Entry(path, tarfile.LNKTYPE, link=target)


def whiteout(path: str) -> Entry:
    """Deletes `path` of the layers below."""
    parent, base = posixpath.split(path.strip("/"))
    return file(posixpath.join(parent, ".wh." + base), b"")


def opaque(directory_path: str) -> Entry:
    """Hides everything the layers below have in `directory_path`."""
    return file(posixpath.join(directory_path.strip("/"), ".wh..wh..opq"), b"")


def layer_tar(entries: Iterable[Entry], *, mtime: int = FIXED_MTIME) -> bytes:
    """An uncompressed layer tar of `entries`, sorted by path, missing parent directories added."""
    by_path: dict[str, Entry] = {}
    for entry in entries:
        path = entry.path.strip("/")
        by_path[path] = entry
        parent = posixpath.dirname(path)
        while parent and parent not in by_path:
            by_path[parent] = directory(parent)
            parent = posixpath.dirname(parent)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(by_path):
            entry = by_path[path]
            info = tarfile.TarInfo(path + "/" if entry.type == tarfile.DIRTYPE else path)
            info.type, info.mode, info.uid, info.gid = entry.type, entry.mode, entry.uid, entry.gid
            info.mtime, info.uname, info.gname, info.linkname = mtime, "", "", entry.link
            if entry.type == tarfile.REGTYPE:
                info.size = len(entry.data)
                archive.addfile(info, io.BytesIO(entry.data))
            else:
                archive.addfile(info)
    return buffer.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


@dataclass(frozen=True, slots=True)
class Artifact:
    """A manifest or index: its descriptor and every blob it needs (itself included)."""

    descriptor: dict[str, Any]
    blobs: dict[str, bytes] = field(default_factory=dict)


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def build_image(
    layers: Sequence[bytes],
    container_config: dict[str, Any],
    *,
    compress: bool = True,
    docker_media_types: bool = False,
    architecture: str = "amd64",
    os_name: str = "linux",
    created: str = FIXED_CREATED,
    history: Sequence[str] = (),
) -> Artifact:
    """An image of these uncompressed layer tars (bottom first) and config section (`Env`,
    `Cmd`, `Entrypoint`, `ExposedPorts`, `WorkingDir`, `User`)."""
    config = {
        "architecture": architecture,
        "os": os_name,
        "created": created,
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": [oci.sha256_digest(layer) for layer in layers]},
        "history": [{"created": created, "created_by": line} for line in history]
        or [{"created": created, "created_by": "kubelite layout"} for _ in layers],
    }
    config_bytes = _json(config)
    if docker_media_types:
        layer_type = oci.DOCKER_LAYER_GZIP if compress else oci.DOCKER_LAYER
        manifest_type, config_type = oci.DOCKER_MANIFEST, oci.DOCKER_CONFIG
    else:
        layer_type = oci.OCI_LAYER_GZIP if compress else oci.OCI_LAYER
        manifest_type, config_type = oci.OCI_MANIFEST, oci.OCI_CONFIG
    blobs = {oci.sha256_digest(config_bytes): config_bytes}
    layer_descriptors = []
    for layer in layers:
        blob = gzip_bytes(layer) if compress else layer
        digest = oci.sha256_digest(blob)
        blobs[digest] = blob
        layer_descriptors.append({"mediaType": layer_type, "digest": digest, "size": len(blob)})
    manifest = {
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {"mediaType": config_type, "digest": oci.sha256_digest(config_bytes), "size": len(config_bytes)},
        "layers": layer_descriptors,
    }
    manifest_bytes = _json(manifest)
    digest = oci.sha256_digest(manifest_bytes)
    blobs[digest] = manifest_bytes
    descriptor = {"mediaType": manifest_type, "digest": digest, "size": len(manifest_bytes)}
    return Artifact(descriptor, blobs)


def build_index(children: Sequence[tuple[Artifact, dict[str, str]]]) -> Artifact:
    """An OCI index of images, each with its platform (`{"os": …, "architecture": …}`)."""
    blobs: dict[str, bytes] = {}
    manifests = []
    for child, platform in children:
        blobs.update(child.blobs)
        manifests.append({**child.descriptor, "platform": platform})
    index_bytes = _json({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": manifests})
    digest = oci.sha256_digest(index_bytes)
    blobs[digest] = index_bytes
    return Artifact({"mediaType": oci.OCI_INDEX, "digest": digest, "size": len(index_bytes)}, blobs)


def oci_archive(images: Sequence[tuple[str | None, Artifact]], *, mtime: int = FIXED_MTIME) -> bytes:
    """An OCI image-layout tarball holding `images`, each named (when a name is given) by the
    `org.opencontainers.image.ref.name` annotation."""
    blobs: dict[str, bytes] = {}
    manifests = []
    for name, artifact in images:
        blobs.update(artifact.blobs)
        descriptor = dict(artifact.descriptor)
        if name:
            descriptor["annotations"] = {oci.REF_NAME_ANNOTATION: name}
        manifests.append(descriptor)
    files = {
        "oci-layout": _json({"imageLayoutVersion": "1.0.0"}),
        "index.json": _json({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": manifests}),
    }
    for digest in sorted(blobs):
        files["blobs/sha256/" + digest.split(":", 1)[1]] = blobs[digest]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for directory_path in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(directory_path + "/")
            info.type, info.mode, info.mtime, info.uname, info.gname = tarfile.DIRTYPE, 0o755, mtime, "", ""
            archive.addfile(info)
        for name in sorted(files):
            data = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime, info.uname, info.gname = len(data), 0o644, mtime, "", ""
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_oci_archive(path: Path, images: Sequence[tuple[str | None, Artifact]]) -> bool:
    """Write oci_archive(images) to `path` (via a temporary file and a rename) unless the file
    already holds exactly those bytes. Returns whether it wrote."""
    data = oci_archive(images)
    path = Path(path)
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    temp = path.with_name(path.name + ".tmp")
    temp.write_bytes(data)
    temp.replace(path)
    return True
