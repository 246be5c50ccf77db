"""OCI and Docker image-format facts shared by the importer and the puller: media types, digests,
reading a manifest or index, and picking the linux/amd64 entry of an index.

Must not do any I/O: callers hand in bytes and get plain dicts back.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
# What a puller sends as Accept: without it a registry answers 404 or a schema 1 manifest.
MANIFEST_ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])
MAX_MANIFEST_BYTES = 4 * 1024 * 1024

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name"

_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")

Descriptor = dict[str, Any]


class ImageFormatError(ValueError):
    """Content that is not a usable image (bad JSON, unknown media type, missing fields)."""


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: object) -> str:
    """`digest` if it is a well-formed sha256 digest (the only algorithm the store keeps)."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ImageFormatError(f"unsupported or malformed digest {digest!r}")
    return digest


def verify_content(data: bytes, digest: str, size: int | None = None) -> None:
    """Raise ImageFormatError unless `data` has this digest (and size, when given)."""
    if size is not None and len(data) != size:
        raise ImageFormatError(f"size mismatch for {digest}: expected {size} bytes, got {len(data)}")
    actual = sha256_digest(data)
    if actual != digest:
        raise ImageFormatError(f"unexpected commit digest {actual}, expected {digest}: failed precondition")


def load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ImageFormatError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ImageFormatError(f"{what} is not a JSON object")
    return value


def manifest_media_type(document: dict[str, Any], header_type: str = "") -> str:
    """The media type of a manifest or index: its own `mediaType`, else the HTTP Content-Type,
    else guessed from its shape (OCI allows omitting mediaType)."""
    declared = document.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    header_type = header_type.split(";", 1)[0].strip()
    if header_type in INDEX_TYPES or header_type in MANIFEST_TYPES:
        return header_type
    if "manifests" in document:
        return OCI_INDEX
    if "layers" in document and "config" in document:
        return OCI_MANIFEST
    if document.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1
    raise ImageFormatError("cannot tell the manifest's media type")


def select_platform(index: dict[str, Any], os_name: str = "linux", architecture: str = "amd64") -> Descriptor | None:
    """The entry of an index for os/architecture (an entry without a platform counts as a match
    only when nothing names the platform), or None."""
    entries = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
    untagged: Descriptor | None = None
    for entry in entries:
        platform = entry.get("platform")
        if not isinstance(platform, dict):
            if untagged is None and entry.get("mediaType", OCI_MANIFEST) in MANIFEST_TYPES | INDEX_TYPES:
                untagged = entry
            continue
        if platform.get("os") == os_name and platform.get("architecture") == architecture:
            return entry
    return untagged


def image_layers(manifest: dict[str, Any]) -> tuple[Descriptor, list[Descriptor]]:
    """(config descriptor, layer descriptors) of an image manifest, checked for shape."""
    config = manifest.get("config")
    layers = manifest.get("layers")
    if not isinstance(config, dict) or not isinstance(layers, list):
        raise ImageFormatError("manifest has no config or layers")
    check_digest(config.get("digest"))
    for layer in layers:
        if not isinstance(layer, dict):
            raise ImageFormatError("manifest layer is not an object")
        check_digest(layer.get("digest"))
        if layer.get("mediaType") == OCI_LAYER_ZSTD:
            raise ImageFormatError("zstd-compressed layers are not supported")
    return config, layers


def diff_ids(config: dict[str, Any], layer_count: int) -> list[str]:
    """The uncompressed-layer digests an image config lists, one per manifest layer."""
    rootfs = config.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or len(ids) != layer_count:
        raise ImageFormatError(
            f"image config lists {len(ids) if isinstance(ids, list) else 'no'} diff_ids for {layer_count} layers"
        )
    return [check_digest(d) for d in ids]
