"""`kubelite image import`: load image tarballs into the store. Two formats:

- `docker save`: manifest.json (Config, RepoTags, Layers) plus the older `repositories` file;
  layers are plain or compressed tars. The store gets a Docker schema-2 manifest built from
  what the tarball holds, so every image in the store has one.
- OCI image layout (`oci-layout`, index.json, blobs/sha256/…): each entry of index.json is an
  image (an index is followed to linux/amd64); its name comes from `io.containerd.image.name`
  or `org.opencontainers.image.ref.name` (a full reference, or a tag joined to `base_name`).

The tarball itself may be gzip-compressed. Every blob is checked against its digest.

Must not talk to registries or write anywhere but through the store.
"""

from __future__ import annotations

import hashlib
import posixpath
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from kubelite.runtime.images import oci
from kubelite.runtime.images.reference import ImageReference, InvalidReference, parse_reference
from kubelite.runtime.images.store import ImageRecord, ImageStore, MissingLayers
from kubelite.runtime.images.unpack import LayerError

COMMIT_ATTEMPTS = 3


class ImageImportError(ValueError):
    """The tarball is not an image archive this importer understands, or is damaged."""


@dataclass(frozen=True, slots=True)
class _Layer:
    member: str
    diff_id: str
    digest: str | None
    size: int | None


@dataclass(frozen=True, slots=True)
class _Image:
    names: list[ImageReference]
    manifest: bytes
    config: bytes
    layers: list[_Layer]
    target_digest: str | None


class _Archive:
    """Random access to the members of an image tarball by normalized path."""

    def __init__(self, path: Path) -> None:
        try:
            self.tar = tarfile.open(path, mode="r:*")  # noqa: SIM115 - closed by close()
        except (tarfile.TarError, OSError) as exc:
            raise ImageImportError(f"{path}: not a readable tar archive: {exc}") from None
        self.members: dict[str, tarfile.TarInfo] = {}
        for member in self.tar.getmembers():
            name = posixpath.normpath(member.name.lstrip("/"))
            if member.isreg():
                self.members[name] = member
            elif member.islnk() or member.issym():
                self.members.setdefault(name, member)

    def has(self, name: str) -> bool:
        return posixpath.normpath(name) in self.members

    def open(self, name: str) -> IO[bytes]:
        member = self.members.get(posixpath.normpath(name.lstrip("/")))
        stream = self.tar.extractfile(member) if member is not None else None
        if stream is None:
            raise ImageImportError(f"archive has no file {name!r}")
        return stream

    def read(self, name: str, limit: int = oci.MAX_MANIFEST_BYTES) -> bytes:
        data = self.open(name).read(limit + 1)
        if len(data) > limit:
            raise ImageImportError(f"{name!r} is larger than {limit} bytes")
        return data

    def blob(self, digest: str, size: int | None = None) -> bytes:
        data = self.read("blobs/sha256/" + oci.check_digest(digest).split(":", 1)[1])
        try:
            oci.verify_content(data, digest, size)
        except oci.ImageFormatError as exc:
            raise ImageImportError(str(exc)) from None
        return data

    def close(self) -> None:
        self.tar.close()


def import_archive(store: ImageStore, path: Path, *, base_name: str | None = None) -> list[ImageRecord]:
    """Load every image of the tarball at `path` into `store`; returns their records."""
    archive = _Archive(Path(path))
    try:
        if archive.has("oci-layout") and archive.has("index.json"):
            images = _oci_images(archive, base_name)
        elif archive.has("manifest.json"):
            images = _docker_images(archive)
        else:
            raise ImageImportError(f"{path}: neither an OCI image layout nor a `docker save` archive")
        return [_load(store, archive, image) for image in images]
    except (oci.ImageFormatError, LayerError) as exc:
        raise ImageImportError(f"{path}: {exc}") from None
    finally:
        archive.close()


def _load(store: ImageStore, archive: _Archive, image: _Image) -> ImageRecord:
    for _ in range(COMMIT_ATTEMPTS):
        for layer in image.layers:
            if not store.has_layer(layer.diff_id):
                store.unpack_layer(archive.open(layer.member), layer.diff_id, digest=layer.digest, size=layer.size)
        try:
            return store.commit(image.manifest, image.config, image.names, target_digest=image.target_digest)
        except MissingLayers:
            continue  # removed by a concurrent `rm` or garbage collection between unpack and commit
    raise ImageImportError("layers kept disappearing while importing; is something removing images?")


# ---- OCI image layout --------------------------------------------------------------------------


def _oci_images(archive: _Archive, base_name: str | None) -> list[_Image]:
    layout = oci.load_json(archive.read("oci-layout"), "oci-layout")
    if not isinstance(layout.get("imageLayoutVersion"), str):
        raise ImageImportError("oci-layout has no imageLayoutVersion")
    index = oci.load_json(archive.read("index.json"), "index.json")
    images: list[_Image] = []
    for descriptor in index.get("manifests") or []:
        if not isinstance(descriptor, dict):
            raise ImageImportError("index.json lists a manifest that is not an object")
        names = _oci_names(descriptor.get("annotations") or {}, base_name)
        manifest, manifest_digest = _oci_manifest(archive, descriptor)
        config_desc, layer_descs = oci.image_layers(manifest)
        config = archive.blob(config_desc["digest"], config_desc.get("size"))
        ids = oci.diff_ids(oci.load_json(config, "image config"), len(layer_descs))
        layers = [
            _Layer("blobs/sha256/" + desc["digest"].split(":", 1)[1], diff_id, desc["digest"], desc.get("size"))
            for desc, diff_id in zip(layer_descs, ids, strict=True)
        ]
        images.append(
            _Image(
                names=names,
                manifest=archive.blob(manifest_digest),
                config=config,
                layers=layers,
                target_digest=descriptor["digest"],
            )
        )
    if not images:
        raise ImageImportError("index.json lists no images")
    return images


def _oci_manifest(archive: _Archive, descriptor: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Follow a descriptor (through nested indexes, choosing linux/amd64) to an image manifest."""
    for _ in range(4):
        digest = oci.check_digest(descriptor.get("digest"))
        document = oci.load_json(archive.blob(digest, descriptor.get("size")), f"blob {digest}")
        media_type = oci.manifest_media_type(document, descriptor.get("mediaType", ""))
        if media_type in oci.MANIFEST_TYPES:
            return document, digest
        if media_type not in oci.INDEX_TYPES:
            raise ImageImportError(f"unsupported manifest media type {media_type!r}")
        chosen = oci.select_platform(document)
        if chosen is None:
            raise ImageImportError(f"no match for platform linux/amd64 in manifest {digest}: not found")
        descriptor = chosen
    raise ImageImportError("indexes nested too deeply")


def _oci_names(annotations: dict[str, Any], base_name: str | None) -> list[ImageReference]:
    full = annotations.get(oci.CONTAINERD_NAME_ANNOTATION)
    ref_name = annotations.get(oci.REF_NAME_ANNOTATION)
    try:
        if isinstance(full, str) and full:
            return [parse_reference(full)]
        if not isinstance(ref_name, str) or not ref_name:
            return _with_base(base_name, None)
        if any(c in ref_name for c in "/:@"):
            return [parse_reference(ref_name)]
        return _with_base(base_name, ref_name)
    except InvalidReference as exc:
        raise ImageImportError(f"image name {full or ref_name!r}: {exc}") from None


def _with_base(base_name: str | None, tag: str | None) -> list[ImageReference]:
    if base_name is None:
        if tag is None:
            return []  # an unnamed image: kept, addressable by its id
        raise ImageImportError(
            f"the archive names its image only by the tag {tag!r}; give the repository with --base-name"
        )
    return [parse_reference(f"{base_name}:{tag}" if tag else base_name)]


# ---- docker save -------------------------------------------------------------------------------


def _docker_images(archive: _Archive) -> list[_Image]:
    try:
        entries = orjson.loads(archive.read("manifest.json"))
    except orjson.JSONDecodeError as exc:
        raise ImageImportError(f"manifest.json is not valid JSON: {exc}") from None
    if not isinstance(entries, list) or not entries:
        raise ImageImportError("manifest.json lists no images")
    legacy = _legacy_repositories(archive)
    images = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ImageImportError("manifest.json entry has no Config")
        layer_paths = entry.get("Layers") or []
        if not isinstance(layer_paths, list) or not all(isinstance(p, str) for p in layer_paths):
            raise ImageImportError("manifest.json entry has bad Layers")
        config = archive.read(entry["Config"])
        ids = oci.diff_ids(oci.load_json(config, "image config"), len(layer_paths))
        tags = entry.get("RepoTags") or []
        if not tags and layer_paths:
            tags = legacy.get(posixpath.dirname(posixpath.normpath(layer_paths[-1])), [])
        try:
            names = [parse_reference(tag) for tag in tags]
        except InvalidReference as exc:
            raise ImageImportError(f"RepoTags {tags!r}: {exc}") from None
        layers, descriptors = [], []
        for member, diff_id in zip(layer_paths, ids, strict=True):
            digest, size, media_type = _describe_layer(archive.open(member))
            layers.append(_Layer(member, diff_id, digest, size))
            descriptors.append({"mediaType": media_type, "size": size, "digest": digest})
        manifest = {
            "schemaVersion": 2,
            "mediaType": oci.DOCKER_MANIFEST,
            "config": {"mediaType": oci.DOCKER_CONFIG, "size": len(config), "digest": oci.sha256_digest(config)},
            "layers": descriptors,
        }
        images.append(_Image(names, orjson.dumps(manifest), config, layers, None))
    return images


def _describe_layer(stream: IO[bytes]) -> tuple[str, int, str]:
    """(digest, size, media type) of a layer file as stored in a `docker save` tarball."""
    digest = hashlib.sha256()
    head = stream.read(1 << 20)
    size = 0
    chunk = head
    while chunk:
        digest.update(chunk)
        size += len(chunk)
        chunk = stream.read(1 << 20)
    media_type = oci.DOCKER_LAYER_GZIP if head[:2] == b"\x1f\x8b" else oci.DOCKER_LAYER
    return "sha256:" + digest.hexdigest(), size, media_type


def _legacy_repositories(archive: _Archive) -> dict[str, list[str]]:
    """The old `repositories` file: {repo: {tag: top layer id}} -> {top layer id: ["repo:tag"]}."""
    if not archive.has("repositories"):
        return {}
    try:
        data = orjson.loads(archive.read("repositories"))
    except orjson.JSONDecodeError:
        return {}
    found: dict[str, list[str]] = {}
    if isinstance(data, dict):
        for repo, tags in data.items():
            if isinstance(tags, dict):
                for tag, layer_id in tags.items():
                    found.setdefault(str(layer_id), []).append(f"{repo}:{tag}")
    return found
