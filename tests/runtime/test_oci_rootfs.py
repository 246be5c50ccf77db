"""Overlay and tmpfs mounts (root), and reading image files from layers without mounting."""

from __future__ import annotations

import os
from pathlib import Path

from kubelite.runtime.oci import rootfs
from tests.runtime.oci_harness import require_host


def test_read_image_file_top_layer_first_whiteouts_and_symlinks(tmp_path: Path) -> None:
    lower, upper, other = tmp_path / "lower", tmp_path / "upper", tmp_path / "other"
    (lower / "etc").mkdir(parents=True)
    (lower / "etc" / "passwd").write_text("root:x:0:0::/:/bin/sh\n")
    (lower / "etc" / "group").write_text("root:x:0:\n")
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "passwd").write_text("app:x:1:1::/:/bin/sh\n")
    os.mknod(upper / "etc" / "group", 0o600 | 0o020000, 0)  # an overlay whiteout (0/0 char device)
    assert rootfs.read_image_file([upper, lower], "etc/passwd") == "app:x:1:1::/:/bin/sh\n"
    assert rootfs.read_image_file([upper, lower], "etc/group") is None
    assert rootfs.read_image_file([lower], "etc/group") == "root:x:0:\n"
    assert rootfs.read_image_file([upper, lower], "etc/shadow") is None
    (other).mkdir()
    (other / "etc").symlink_to(lower / "etc")  # a layer must not lead outside itself
    assert rootfs.read_image_file([other], "etc/passwd") is None


def test_overlay_and_tmpfs_mounts(tmp_path: Path) -> None:
    require_host(tmp_path / "data")
    lower_a, lower_b = tmp_path / "a", tmp_path / "b"
    lower_a.mkdir()
    lower_b.mkdir()
    (lower_a / "top").write_text("a")
    (lower_b / "top").write_text("b")
    (lower_b / "bottom").write_text("b")
    merged = tmp_path / "c" / "rootfs"
    try:
        rootfs.mount_overlay([lower_a, lower_b], tmp_path / "c" / "upper", tmp_path / "c" / "work", merged)
        assert (merged / "top").read_text() == "a" and (merged / "bottom").read_text() == "b"
        (merged / "new").write_text("n")
        assert (tmp_path / "c" / "upper" / "new").read_text() == "n" and not (lower_a / "new").exists()
        assert rootfs.mounts_under(tmp_path) == [merged]
        rootfs.mount_tmpfs(tmp_path / "shm", 1 << 20)
        assert rootfs.mounts_under(tmp_path / "shm") == [tmp_path / "shm"]
    finally:
        rootfs.unmount(merged)
        rootfs.unmount(tmp_path / "shm")
    assert rootfs.mounts_under(tmp_path) == []
    assert rootfs.unmount(merged) is False  # nothing mounted any more
