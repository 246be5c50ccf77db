"""The node's content-addressed image store under DATA_DIR/images:

    lock                        flock(2) taken for every change (kubelet and CLI share the store)
    index.json                  tags -> image id; image id -> manifest, repo digests, layers, times
    blobs/sha256/<hex>          manifests and image configs, by digest
    layers/<diffID hex>/fs      each layer unpacked once (overlayfs whiteouts), shared by images
    layers/<diffID hex>/meta.json   its size and whiteout format
    tmp/<pid>-<token>           work in progress (downloads, unpacking), renamed into place

An image id is its config digest (as containerd and crictl report). Every write is a rename of a
finished file or directory, and index.json is written last, so a crash leaves at most unused
leftovers (removed by `prune`), never an image that is listed but incomplete.

Must not talk to registries, read tarballs or decide what to garbage-collect: importer.py,
puller.py and gc.py do, through this store.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import gzip
import hashlib
import lzma
import os
import secrets
import shutil
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from kubelite.runtime.images import oci
from kubelite.runtime.images.reference import ImageReference, InvalidReference, parse_reference
from kubelite.runtime.images.unpack import LayerError, Readable, decompressed, extract_layer

INDEX_VERSION = 1
USE_RECORD_INTERVAL = 60.0  # seconds: mark_used writes the index at most this often per image
STALE_TEMP_SECONDS = 600.0


class ImageNotFound(LookupError):
    def __init__(self, ref: str) -> None:
        super().__init__(f'no such image "{ref}"')
        self.ref = ref


class MissingLayers(Exception):
    """commit() found layers absent (never unpacked, or removed meanwhile): unpack them, retry."""

    def __init__(self, diff_ids: Sequence[str]) -> None:
        super().__init__("missing layers: " + ", ".join(diff_ids))
        self.diff_ids = tuple(diff_ids)


@dataclass(frozen=True, slots=True)
class ImageRecord:
    id: str  # the config digest
    tags: tuple[str, ...]  # "docker.io/library/busybox:latest"
    repo_digests: tuple[str, ...]  # "docker.io/library/busybox@sha256:..."
    manifest_digest: str
    layers: tuple[str, ...]  # diffIDs, bottom layer first
    size: int  # config + compressed layers, the size registries and crictl report
    created_at: float  # when this store first got it
    last_used: float


@dataclass(frozen=True, slots=True)
class RemovedImage:
    record: ImageRecord
    freed_bytes: int  # unpacked bytes of layers no other image uses, plus blobs


class _HashingReader:
    """Passes reads through while hashing and counting them."""

    def __init__(self, source: Readable) -> None:
        self.source = source
        self.hash = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.hash.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def _hex(digest: str) -> str:
    return oci.check_digest(digest).split(":", 1)[1]


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs" / "sha256"
        self.layers = self.root / "layers"
        self.tmp = self.root / "tmp"
        self.index_path = self.root / "index.json"
        for directory in (self.blobs, self.layers, self.tmp):
            directory.mkdir(parents=True, exist_ok=True)
        self._cached: tuple[tuple[int, int, int], dict[str, Any]] | None = None
        self._configs: dict[str, dict[str, Any]] = {}

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> ImageStore:
        return cls(Path(data_dir) / "images")

    # ---- layers and blobs --------------------------------------------------------------------

    def layer_dir(self, diff_id: str) -> Path:
        """The unpacked layer, usable as an overlayfs lowerdir."""
        return self.layers / _hex(diff_id) / "fs"

    def has_layer(self, diff_id: str) -> bool:
        return (self.layers / _hex(diff_id) / "meta.json").exists()

    def layer_size(self, diff_id: str) -> int:
        try:
            meta = orjson.loads((self.layers / _hex(diff_id) / "meta.json").read_bytes())
        except FileNotFoundError:
            return 0
        return int(meta.get("size", 0))

    def temp_path(self, suffix: str = "") -> Path:
        """A fresh path under tmp/ for work in progress (the caller creates and removes it)."""
        return self.tmp / f"{os.getpid()}-{secrets.token_hex(8)}{suffix}"

    def unpack_layer(self, source: Readable, diff_id: str, *, digest: str | None = None, size: int | None = None) -> int:
        """Unpack a (possibly compressed) layer blob read from `source` unless the layer is
        already present. Verifies the blob's digest and size when given, and always the
        uncompressed content against `diff_id`. Returns the layer's unpacked size."""
        final = self.layers / _hex(diff_id)
        if self.has_layer(diff_id):
            return self.layer_size(diff_id)
        work = self.temp_path()
        (work / "fs").mkdir(parents=True)
        try:
            blob = _HashingReader(source)
            plain = _HashingReader(decompressed(blob))
            stats = extract_layer(plain, work / "fs")
            try:
                plain.drain()  # the tar's trailing padding, and what the decompressor left
                blob.drain()
            except (EOFError, gzip.BadGzipFile, zlib.error, lzma.LZMAError) as exc:
                raise LayerError(f"layer is not a readable tar stream: {exc}") from None
            if digest is not None and blob.digest != digest:
                raise LayerError(f"unexpected commit digest {blob.digest}, expected {digest}: failed precondition")
            if size is not None and blob.count != size:
                raise LayerError(f"layer {digest}: expected {size} bytes, got {blob.count}")
            if plain.digest != diff_id:
                raise LayerError(f"layer content has diffID {plain.digest}, the image config says {diff_id}")
            meta = {"diffID": diff_id, "size": stats.size, "whiteouts": stats.whiteouts}
            (work / "meta.json").write_bytes(orjson.dumps(meta))
            try:
                os.rename(work, final)
            except OSError:
                if not self.has_layer(diff_id):
                    raise
                shutil.rmtree(work, ignore_errors=True)  # another writer finished it first
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return stats.size

    def read_blob(self, digest: str) -> bytes:
        return (self.blobs / _hex(digest)).read_bytes()

    def _write_blob(self, data: bytes) -> str:
        digest = oci.sha256_digest(data)
        path = self.blobs / _hex(digest)
        if not path.exists():
            self._write_atomic(path, data)
        return digest

    def _write_atomic(self, path: Path, data: bytes) -> None:
        temp = self.temp_path()
        with open(temp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)

    # ---- the index ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _index(self) -> dict[str, Any]:
        """The index as last written (re-read only when the file changed). Read-only."""
        try:
            info = os.stat(self.index_path)
        except FileNotFoundError:
            return {"version": INDEX_VERSION, "tags": {}, "images": {}}
        key = (info.st_ino, info.st_mtime_ns, info.st_size)
        cached = self._cached
        if cached is not None and cached[0] == key:
            return cached[1]
        data = orjson.loads(self.index_path.read_bytes())
        self._cached = (key, data)
        return data

    def _fresh_index(self) -> dict[str, Any]:
        """A private, modifiable copy of the index (call with the lock held)."""
        try:
            return orjson.loads(self.index_path.read_bytes())  # type: ignore[no-any-return]
        except FileNotFoundError:
            return {"version": INDEX_VERSION, "tags": {}, "images": {}}

    def _save_index(self, index: dict[str, Any]) -> None:
        self._write_atomic(self.index_path, orjson.dumps(index, option=orjson.OPT_SORT_KEYS))
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    @staticmethod
    def _record(index: dict[str, Any], image_id: str) -> ImageRecord:
        entry = index["images"][image_id]
        tags = tuple(sorted(tag for tag, target in index["tags"].items() if target == image_id))
        return ImageRecord(
            id=image_id,
            tags=tags,
            repo_digests=tuple(entry.get("repoDigests", ())),
            manifest_digest=entry["manifest"],
            layers=tuple(entry["layers"]),
            size=int(entry.get("size", 0)),
            created_at=float(entry.get("created", 0.0)),
            last_used=float(entry.get("lastUsed", 0.0)),
        )

    @staticmethod
    def _find(index: dict[str, Any], ref: str) -> str | None:
        images = index["images"]
        if ref in images:
            return ref
        try:
            parsed = parse_reference(ref)
        except InvalidReference:
            parsed = None
        if parsed is not None:
            if parsed.digest:
                wanted = parsed.with_digest(parsed.digest)
                for image_id, entry in images.items():
                    if wanted in entry.get("repoDigests", ()):
                        return image_id
                return None
            found = index["tags"].get(parsed.tagged)
            if found is not None:
                return str(found)
        prefix = ref.removeprefix("sha256:")
        if len(prefix) >= 4 and all(c in "0123456789abcdef" for c in prefix):
            matches = [i for i in images if i.startswith("sha256:" + prefix)]
            if len(matches) == 1:
                return matches[0]
        return None

    # ---- reading -----------------------------------------------------------------------------

    def get(self, ref: str) -> ImageRecord | None:
        """The image a reference (`busybox`, `name@sha256:…`), an image id or a unique id
        prefix names, or None."""
        index = self._index()
        image_id = self._find(index, ref)
        return self._record(index, image_id) if image_id is not None else None

    def resolve(self, ref: str) -> ImageRecord:
        record = self.get(ref)
        if record is None:
            raise ImageNotFound(ref)
        return record

    def list(self) -> list[ImageRecord]:
        index = self._index()
        records = [self._record(index, image_id) for image_id in index["images"]]
        return sorted(records, key=lambda r: (r.tags[:1] or ("~",), r.repo_digests[:1], r.id))

    def rootfs_layers(self, ref: str) -> builtins.list[Path]:
        """The image's unpacked layers as overlayfs lower dirs, top layer first."""
        record = self.resolve(ref)
        return [self.layer_dir(diff_id) for diff_id in reversed(record.layers)]

    def image_config(self, ref: str) -> dict[str, Any]:
        """The image's config JSON (`config.Entrypoint`, `Cmd`, `Env`, `WorkingDir`, `User`, …).
        Shared and cached: do not modify it."""
        record = self.resolve(ref)
        config = self._configs.get(record.id)
        if config is None:
            config = oci.load_json(self.read_blob(record.id), "image config")
            self._configs[record.id] = config
        return config

    def disk_usage(self) -> int:
        """Bytes the store holds: unpacked layers plus blobs (leftovers in tmp/ not counted)."""
        total = 0
        for entry in os.scandir(self.layers):
            total += self.layer_size("sha256:" + entry.name) if len(entry.name) == 64 else 0
        for entry in os.scandir(self.blobs):
            with contextlib.suppress(OSError):
                total += entry.stat().st_size
        return total

    # ---- writing -----------------------------------------------------------------------------

    def commit(
        self,
        manifest: bytes,
        config: bytes,
        names: Sequence[ImageReference],
        *,
        target_digest: str | None = None,
        now: float | None = None,
    ) -> ImageRecord:
        """Record an image whose layers are all unpacked: store its manifest and config, point
        each tagged name at it and record `name@target_digest` (default: the manifest's digest)
        as repo digests. Raises MissingLayers when a layer is absent."""
        manifest_doc = oci.load_json(manifest, "manifest")
        config_desc, layer_descs = oci.image_layers(manifest_doc)
        oci.verify_content(config, config_desc["digest"], config_desc.get("size"))
        layer_ids = oci.diff_ids(oci.load_json(config, "image config"), len(layer_descs))
        image_id = config_desc["digest"]
        target = target_digest or oci.sha256_digest(manifest)
        size = int(config_desc.get("size", len(config))) + sum(int(d.get("size", 0)) for d in layer_descs)
        stamp = time.time() if now is None else now
        with self._locked():
            missing = [d for d in dict.fromkeys(layer_ids) if not self.has_layer(d)]
            if missing:
                raise MissingLayers(missing)
            manifest_digest = self._write_blob(manifest)
            self._write_blob(config)
            index = self._fresh_index()
            entry = index["images"].setdefault(image_id, {"created": stamp, "repoDigests": []})
            entry.update(manifest=manifest_digest, layers=layer_ids, size=size, lastUsed=stamp)
            for name in names:
                if name.tagged:
                    index["tags"][name.tagged] = image_id
                repo_digest = name.with_digest(target)
                if repo_digest not in entry["repoDigests"]:
                    entry["repoDigests"].append(repo_digest)
            self._save_index(index)
            return self._record(index, image_id)

    def mark_used(self, ref: str, now: float | None = None) -> None:
        """Note that a container started from the image (the LRU order garbage collection
        follows). Writes at most once a minute per image."""
        stamp = time.time() if now is None else now
        record = self.get(ref)
        if record is None or stamp - record.last_used < USE_RECORD_INTERVAL:
            return
        with self._locked():
            index = self._fresh_index()
            entry = index["images"].get(record.id)
            if entry is None:
                return
            entry["lastUsed"] = max(stamp, float(entry.get("lastUsed", 0.0)))
            self._save_index(index)

    def remove(self, ref: str) -> RemovedImage:
        """Remove the image `ref` names, with all its tags (as `crictl rmi`), and the layers and
        blobs no other image uses. Raises ImageNotFound."""
        with self._locked():
            index = self._fresh_index()
            image_id = self._find(index, ref)
            if image_id is None:
                raise ImageNotFound(ref)
            record = self._record(index, image_id)
            del index["images"][image_id]
            index["tags"] = {tag: target for tag, target in index["tags"].items() if target != image_id}
            self._save_index(index)
            still_used_layers = {d for entry in index["images"].values() for d in entry["layers"]}
            still_used_blobs = {d for image_id_, entry in index["images"].items() for d in (image_id_, entry["manifest"])}
            freed = 0
            for diff_id in dict.fromkeys(record.layers):
                if diff_id not in still_used_layers:
                    freed += self._delete_layer(diff_id)
            for digest in (record.id, record.manifest_digest):
                if digest not in still_used_blobs:
                    freed += self._delete_blob(digest)
        self._configs.pop(record.id, None)
        return RemovedImage(record=record, freed_bytes=freed)

    def _delete_layer(self, diff_id: str) -> int:
        """Move the layer out of layers/ first (so it is never seen half-deleted), then delete."""
        size = self.layer_size(diff_id)
        doomed = self.temp_path("-deleted")
        try:
            os.rename(self.layers / _hex(diff_id), doomed)
        except FileNotFoundError:
            return 0
        shutil.rmtree(doomed, ignore_errors=True)
        return size

    def _delete_blob(self, digest: str) -> int:
        path = self.blobs / _hex(digest)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def prune(self, *, min_age: float = STALE_TEMP_SECONDS, now: float | None = None) -> int:
        """Delete what no image references: layers and blobs left by interrupted imports or
        crashes (only those older than min_age seconds, so work in progress survives) and
        stale tmp/ entries of processes that are gone. Returns the bytes freed."""
        stamp = time.time() if now is None else now
        freed = 0
        with self._locked():
            index = self._fresh_index()
            used_layers = {_hex(d) for entry in index["images"].values() for d in entry["layers"]}
            used_blobs = {_hex(d) for i, entry in index["images"].items() for d in (i, entry["manifest"])}
            for entry in os.scandir(self.layers):
                if entry.name not in used_layers and stamp - entry.stat().st_mtime >= min_age:
                    freed += self._delete_layer("sha256:" + entry.name) if len(entry.name) == 64 else 0
            for entry in os.scandir(self.blobs):
                if entry.name not in used_blobs and stamp - entry.stat().st_mtime >= min_age:
                    freed += self._delete_blob("sha256:" + entry.name)
            for entry in os.scandir(self.tmp):
                if self._stale_temp(entry.name, stamp - entry.stat(follow_symlinks=False).st_mtime, min_age):
                    path = Path(entry.path)
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
        return freed

    @staticmethod
    def _stale_temp(name: str, age: float, min_age: float) -> bool:
        pid_text = name.split("-", 1)[0]
        if not pid_text.isdigit():
            return age >= min_age
        pid = int(pid_text)
        if pid == os.getpid():
            return name.endswith("-deleted")
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return age >= min_age and name.endswith("-deleted")
