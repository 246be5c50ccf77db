"""Merging image layers into a copy (both whiteout formats, opaque directories, symlinks),
host mode's symlinked mounts, and removing trees a container left unreadable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kubelite.runtime.process.rootfs import link_into, merge_layers, remove_tree


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_merge_applies_upper_layers_and_aufs_whiteouts(tmp_path: Path) -> None:
    bottom, top = tmp_path / "bottom", tmp_path / "top"
    write(bottom / "etc/keep", "base")
    write(bottom / "etc/gone", "x")
    write(bottom / "opaque/old", "hidden")
    write(bottom / "bin/tool", "v1")
    os.symlink("tool", bottom / "bin/alias")
    write(top / "etc/.wh.gone", "")
    write(top / "opaque/.wh..wh..opq", "")
    write(top / "opaque/new", "visible")
    write(top / "bin/tool", "v2")
    merged = tmp_path / "merged"
    merge_layers([top, bottom], merged)
    assert (merged / "etc/keep").read_text() == "base"
    assert not (merged / "etc/gone").exists() and not (merged / "etc/.wh.gone").exists()
    assert sorted(os.listdir(merged / "opaque")) == ["new"]
    assert (merged / "bin/tool").read_text() == "v2"
    assert os.readlink(merged / "bin/alias") == "tool"
    (merged / "bin/tool").write_text("changed")
    assert (bottom / "bin/tool").read_text() == "v1"  # a copy: the layers stay untouched


@pytest.mark.skipif(os.geteuid() != 0, reason="overlay-format whiteouts are character devices (mknod needs root)")
def test_merge_understands_overlay_whiteout_devices(tmp_path: Path) -> None:
    bottom, top = tmp_path / "bottom", tmp_path / "top"
    write(bottom / "a/file", "x")
    (top / "a").mkdir(parents=True)
    os.mknod(top / "a/file", stat.S_IFCHR, os.makedev(0, 0))
    merged = tmp_path / "merged"
    merge_layers([top, bottom], merged)
    assert (merged / "a").is_dir() and not os.path.lexists(merged / "a/file")


def test_link_into_replaces_image_files_and_refuses_escapes(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    write(rootfs / "etc/hosts", "image's")
    source = tmp_path / "pod-hosts"
    source.write_text("pod's")
    link_into(rootfs, "/etc/hosts", str(source))
    link_into(rootfs, "/var/run/secrets/token", str(source))
    assert (rootfs / "etc/hosts").read_text() == "pod's"
    assert (rootfs / "var/run/secrets/token").read_text() == "pod's"
    with pytest.raises(ValueError):
        link_into(rootfs, "/../outside", str(source))
    os.symlink("/", rootfs / "escape")
    with pytest.raises(ValueError):
        link_into(rootfs, "/escape/tmp/x", str(source))


def test_remove_tree_handles_unreadable_directories(tmp_path: Path) -> None:
    locked = tmp_path / "attempt/work/work"
    write(locked / "inner/file", "x")
    os.chmod(locked / "inner", 0)
    os.chmod(locked, 0)
    remove_tree(tmp_path / "attempt")
    assert not (tmp_path / "attempt").exists()
    remove_tree(tmp_path / "attempt")  # gone already: fine
