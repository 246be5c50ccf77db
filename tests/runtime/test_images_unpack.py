"""Layer unpacking: whiteouts in overlayfs form (checked through a real overlay mount when
root), safety against escaping entries, attributes and compressions."""

from __future__ import annotations

import bz2
import io
import lzma
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from kubelite.runtime.images import layout
from kubelite.runtime.images.unpack import OPAQUE_XATTR, LayerError, decompressed, extract_layer

AS_ROOT = os.geteuid() == 0


def unpack(tmp_path: Path, name: str, entries: list[layout.Entry]) -> Path:
    dest = tmp_path / name
    dest.mkdir()
    extract_layer(io.BytesIO(layout.layer_tar(entries)), dest)
    return dest


def raw_tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def test_files_dirs_links_and_attributes(tmp_path: Path) -> None:
    entries = [
        layout.file("bin/tool", b"#!/bin/sh\n", mode=0o4755),
        layout.directory("var/cache", 0o700),
        layout.symlink("bin/sh", "/bin/tool"),
        layout.hardlink("bin/tool2", "bin/tool"),
        layout.Entry("home/app/file", data=b"x", uid=1000, gid=1001),
    ]
    dest = unpack(tmp_path, "layer", entries)
    tool = dest / "bin/tool"
    assert tool.read_bytes() == b"#!/bin/sh\n"
    assert stat.S_IMODE(tool.stat().st_mode) == 0o4755
    assert tool.stat().st_mtime == layout.FIXED_MTIME
    assert os.readlink(dest / "bin/sh") == "/bin/tool"  # absolute symlinks stay as the image has them
    assert os.stat(dest / "bin/tool2").st_ino == tool.stat().st_ino
    assert stat.S_IMODE((dest / "var/cache").stat().st_mode) == 0o700
    if AS_ROOT:
        owner = (dest / "home/app/file").stat()
        assert (owner.st_uid, owner.st_gid) == (1000, 1001)


@pytest.mark.skipif(not AS_ROOT, reason="overlayfs whiteouts need root (mknod, trusted.* xattrs)")
def test_whiteouts_become_overlay_whiteouts(tmp_path: Path) -> None:
    dest = unpack(tmp_path, "upper", [layout.whiteout("etc/gone"), layout.opaque("data"), layout.file("data/new", "n")])
    gone = os.lstat(dest / "etc/gone")
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == os.makedev(0, 0)
    assert not (dest / "etc/.wh.gone").exists()
    assert os.getxattr(dest / "data", OPAQUE_XATTR) == b"y"
    assert not (dest / "data/.wh..wh..opq").exists()
    assert (dest / "data/new").read_text() == "n"


@pytest.mark.skipif(not AS_ROOT, reason="mounting overlayfs needs root")
def test_whiteouts_hide_lower_layers_in_a_real_overlay_mount(tmp_path: Path) -> None:
    lower = unpack(
        tmp_path,
        "lower",
        [layout.file("etc/gone", "x"), layout.file("etc/kept", "k"), layout.file("data/old", "o"), layout.file("d2/a", "a")],
    )
    upper = unpack(
        tmp_path, "upper", [layout.whiteout("etc/gone"), layout.opaque("data"), layout.file("data/new", "n"), layout.whiteout("d2")]
    )
    work, rw, merged = tmp_path / "work", tmp_path / "rw", tmp_path / "merged"
    for path in (work, rw, merged):
        path.mkdir()
    options = f"lowerdir={upper}:{lower},upperdir={rw},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], check=True)
    try:
        assert sorted(os.listdir(merged / "etc")) == ["kept"]
        assert sorted(os.listdir(merged / "data")) == ["new"]
        assert not (merged / "d2").exists()
    finally:
        subprocess.run(["umount", str(merged)], check=True)


def test_later_entries_replace_earlier_ones(tmp_path: Path) -> None:
    dir_info = tarfile.TarInfo("a")
    dir_info.type = tarfile.DIRTYPE
    child = tarfile.TarInfo("a/child")
    replacement = tarfile.TarInfo("a")
    data = raw_tar([(dir_info, b""), (child, b"c"), (replacement, b"now a file")])
    dest = tmp_path / "layer"
    dest.mkdir()
    extract_layer(io.BytesIO(data), dest)
    assert (dest / "a").read_bytes() == b"now a file"


@pytest.mark.parametrize("name", ["../escape", "a/../../escape", "/../escape"])
def test_entries_may_not_leave_the_layer(tmp_path: Path, name: str) -> None:
    dest = tmp_path / "layer"
    dest.mkdir()
    with pytest.raises(LayerError):
        extract_layer(io.BytesIO(raw_tar([(tarfile.TarInfo(name), b"x")])), dest)
    assert not (tmp_path / "escape").exists()


def test_no_entry_is_written_through_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    link = tarfile.TarInfo("etc")
    link.type, link.linkname = tarfile.SYMTYPE, str(outside)
    dest = tmp_path / "layer"
    dest.mkdir()
    with pytest.raises(LayerError):
        extract_layer(io.BytesIO(raw_tar([(link, b""), (tarfile.TarInfo("etc/passwd"), b"owned")])), dest)
    assert list(outside.iterdir()) == []


def test_hard_links_must_point_inside_the_layer(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s")
    link = tarfile.TarInfo("stolen")
    link.type, link.linkname = tarfile.LNKTYPE, "../secret"
    dest = tmp_path / "layer"
    dest.mkdir()
    with pytest.raises(LayerError):
        extract_layer(io.BytesIO(raw_tar([(link, b"")])), dest)


def test_garbage_is_a_layer_error(tmp_path: Path) -> None:
    dest = tmp_path / "layer"
    dest.mkdir()
    with pytest.raises(LayerError):
        extract_layer(io.BytesIO(b"not a tar at all" * 100), dest)


@pytest.mark.parametrize("compress", [layout.gzip_bytes, bz2.compress, lzma.compress, lambda data: data])
def test_compressions_are_recognized(tmp_path: Path, compress: object) -> None:
    data = layout.layer_tar([layout.file("f", "content")])
    stream = decompressed(io.BytesIO(compress(data)))  # type: ignore[operator]
    assert stream.read() == data


def test_zstd_is_refused_clearly() -> None:
    with pytest.raises(LayerError, match="zstd"):
        decompressed(io.BytesIO(b"\x28\xb5\x2f\xfd" + b"\0" * 20))
