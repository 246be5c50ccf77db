"""Unpacking one image layer (a tar stream) into a directory that overlayfs can use as a lower
layer: whiteout files `.wh.NAME` become 0/0 character devices and `.wh..wh..opq` makes its
directory opaque (`trusted.overlay.opaque=y`), as overlayfs expects. Without the privileges for
that (no CAP_MKNOD / CAP_SYS_ADMIN) the AUFS-style marker files are kept instead and the result
says so.

Entries may not escape the directory: `..` components are refused, and no entry is written
through a symlink or a non-directory. Ownership is kept when running as root.

Must not decide where layers live, verify digests, or know about images: the store does that.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import lzma
import os
import shutil
import stat
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
XATTR_PAX_PREFIX = "SCHILY.xattr."
COPY_CHUNK = 1 << 20

WhiteoutFormat = Literal["overlay", "aufs"]


class Readable(Protocol):
    """Anything with read(size) -> bytes: files, HTTP bodies, decompressors."""

    def read(self, size: int = -1, /) -> bytes: ...


class LayerError(ValueError):
    """A layer that cannot be unpacked safely or is not a tar stream."""


@dataclass(frozen=True, slots=True)
class LayerStats:
    size: int  # bytes of regular file content
    entries: int
    whiteouts: WhiteoutFormat


class _Prefixed:
    """A reader that first returns `head` (bytes already read to sniff the format)."""

    def __init__(self, head: bytes, rest: Readable) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            if len(data) < size:
                data += self._rest.read(size - len(data))
            return data
        return self._rest.read(size)


def decompressed(stream: Readable) -> Readable:
    """`stream` unwrapped from gzip, bzip2 or xz when its first bytes say so (plain tar as is)."""
    head = stream.read(6)
    source: Any = _Prefixed(head, stream)  # the stdlib decompressors take any reader
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=source, mode="rb")
    if head[:3] == b"BZh":
        return bz2.BZ2File(source, mode="rb")
    if head[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(source, mode="rb")
    if head[:4] == b"\x28\xb5\x2f\xfd":
        raise LayerError("zstd-compressed layers are not supported")
    return source


def extract_layer(tar_stream: Readable, dest: Path) -> LayerStats:
    """Unpack the (uncompressed) tar stream into the existing, empty directory `dest`."""
    return _Extractor(dest).run(tar_stream)


def _clean_name(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerError(f"layer entry {name!r} leaves the layer")
    return "/".join(parts)


class _Extractor:
    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.as_root = os.geteuid() == 0
        self.known_dirs: set[str] = {""}
        self.dir_attrs: list[tuple[str, tarfile.TarInfo]] = []
        self.size = 0
        self.entries = 0
        self.whiteouts: WhiteoutFormat = "overlay"

    def run(self, tar_stream: Readable) -> LayerStats:
        try:
            with tarfile.open(fileobj=tar_stream, mode="r|") as archive:  # type: ignore[call-overload]
                for member in archive:
                    self.entries += 1
                    self._member(archive, member)
        except (tarfile.TarError, EOFError, gzip.BadGzipFile, lzma.LZMAError, zlib.error) as exc:
            raise LayerError(f"layer is not a readable tar stream: {exc}") from None
        for rel, member in sorted(self.dir_attrs, key=lambda item: item[0].count("/"), reverse=True):
            self._set_attrs(self.dest / rel if rel else self.dest, member, is_dir=True)
        return LayerStats(size=self.size, entries=self.entries, whiteouts=self.whiteouts)

    def _member(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        rel = _clean_name(member.name)
        if not rel:
            if member.isdir():
                self.dir_attrs.append(("", member))
            return
        parent, _, base = rel.rpartition("/")
        if base == OPAQUE_MARKER:
            self._ensure_dir(parent)
            self._opaque(parent)
            return
        if base.startswith(WHITEOUT_PREFIX):
            self._ensure_dir(parent)
            self._whiteout(parent, base[len(WHITEOUT_PREFIX) :])
            return
        self._ensure_dir(parent)
        path = self.dest / rel
        if member.isdir():
            self._clear(path, keep_dir=True)
            if not path.is_dir():
                os.mkdir(path, 0o755)
            self.known_dirs.add(rel)
            self.dir_attrs.append((rel, member))
            return
        self._clear(path, keep_dir=False)
        self._forget_dirs(rel)
        if member.isreg():
            source = archive.extractfile(member)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as out:
                if source is not None:
                    shutil.copyfileobj(source, out, COPY_CHUNK)
            self.size += member.size
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            target = _clean_name(member.linkname)
            target_parent = target.rpartition("/")[0]
            if target_parent not in self.known_dirs or not os.path.lexists(self.dest / target):
                raise LayerError(f"hard link {rel!r} points at {member.linkname!r}, which is not in this layer")
            os.link(self.dest / target, path, follow_symlinks=False)
            return  # a hard link shares its target's attributes
        elif member.ischr() or member.isblk():
            if not self.as_root:
                return  # device nodes need root; containers get /dev from the runtime anyway
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | (member.mode & 0o7777), os.makedev(member.devmajor, member.devminor))
        elif member.isfifo():
            os.mkfifo(path, member.mode & 0o7777)
        else:
            return  # other entry types (sparse/contiguous are regular files above) carry nothing
        self._set_attrs(path, member, is_dir=False)

    def _ensure_dir(self, rel: str) -> None:
        """Make sure `rel` is a real directory inside dest, creating missing ones, never
        following a symlink."""
        if rel in self.known_dirs:
            return
        current = ""
        for part in rel.split("/"):
            current = f"{current}/{part}" if current else part
            if current in self.known_dirs:
                continue
            path = self.dest / current
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                os.mkdir(path, 0o755)
            else:
                if not stat.S_ISDIR(info.st_mode):
                    raise LayerError(f"layer entry under {current!r} goes through a non-directory")
            self.known_dirs.add(current)

    def _forget_dirs(self, rel: str) -> None:
        if rel in self.known_dirs:
            prefix = rel + "/"
            self.known_dirs = {d for d in self.known_dirs if d != rel and not d.startswith(prefix)}

    @staticmethod
    def _clear(path: Path, keep_dir: bool) -> None:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(info.st_mode):
            if not keep_dir:
                shutil.rmtree(path)
        else:
            os.unlink(path)

    def _whiteout(self, parent: str, name: str) -> None:
        if not name or name == "..":
            raise LayerError(f"bad whiteout entry in {parent!r}")
        rel = f"{parent}/{name}" if parent else name
        path = self.dest / rel
        self._clear(path, keep_dir=False)
        self._forget_dirs(rel)
        try:
            os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))
        except PermissionError:
            self.whiteouts = "aufs"
            ((self.dest / parent if parent else self.dest) / (WHITEOUT_PREFIX + name)).touch()

    def _opaque(self, rel: str) -> None:
        path = self.dest / rel if rel else self.dest
        try:
            os.setxattr(path, OPAQUE_XATTR, b"y")
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EACCES, errno.ENOTSUP):
                raise
            self.whiteouts = "aufs"
            (path / OPAQUE_MARKER).touch()

    def _set_attrs(self, path: Path, member: tarfile.TarInfo, *, is_dir: bool) -> None:
        if self.as_root:
            os.chown(path, member.uid, member.gid, follow_symlinks=False)
        for key, value in member.pax_headers.items():
            if key.startswith(XATTR_PAX_PREFIX):
                try:
                    os.setxattr(
                        path, key[len(XATTR_PAX_PREFIX) :], value.encode("utf-8", "surrogateescape"), follow_symlinks=False
                    )
                except OSError:
                    pass  # xattrs the filesystem or our privileges do not allow are dropped
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
