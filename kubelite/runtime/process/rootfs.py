"""A container's file tree when the image layers cannot simply be overlaid: the layers merged into
one directory per attempt (bottom layer first; whiteouts in both formats the image store writes —
0/0 character devices and `.wh.NAME` files — remove what lower layers had, opaque directories
(`trusted.overlay.opaque` or `.wh..wh..opq`) hide their lower contents), and, for containers
without a mount namespace, the mounts they would have had as symlinks inside that copy.

Must not mount anything nor touch the image store's layers (they are only read).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"


def _is_whiteout_device(info: os.stat_result) -> bool:
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == 0


def _opaque(directory: str, names: list[str]) -> bool:
    if OPAQUE_MARKER in names:
        return True
    with contextlib.suppress(OSError):
        return os.getxattr(directory, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    return False


def _remove(path: str) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        remove_tree(Path(path))
    else:
        os.unlink(path)


def _clear_directory(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(path):
            _remove(os.path.join(path, name))


def merge_layers(layers: Sequence[Path], dest: Path) -> None:
    """Copy `layers` (top layer first, as the image store lists them) into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for layer in reversed(list(layers)):
        _merge_one(str(layer), str(dest))


def _merge_one(layer: str, dest: str) -> None:
    for directory, dirs, files in os.walk(layer):
        relative = os.path.relpath(directory, layer)
        target_dir = dest if relative == "." else os.path.join(dest, relative)
        names = dirs + files
        if relative != "." and _opaque(directory, names):
            _clear_directory(target_dir)
        for name in list(dirs):
            source = os.path.join(directory, name)
            target = os.path.join(target_dir, name)
            if os.path.islink(source):  # os.walk lists symlinks to directories as directories
                dirs.remove(name)
                _copy_entry(source, target)
                continue
            if os.path.lexists(target) and not os.path.isdir(target) or os.path.islink(target):
                _remove(target)
            if not os.path.isdir(target):
                os.mkdir(target)
            shutil.copystat(source, target, follow_symlinks=False)
        for name in files:
            source = os.path.join(directory, name)
            target = os.path.join(target_dir, name)
            if name == OPAQUE_MARKER:
                continue
            if name.startswith(WHITEOUT_PREFIX):
                _remove(os.path.join(target_dir, name[len(WHITEOUT_PREFIX) :]))
                continue
            info = os.lstat(source)
            if _is_whiteout_device(info):
                _remove(target)
                continue
            _copy_entry(source, target)


def _copy_entry(source: str, target: str) -> None:
    info = os.lstat(source)
    if os.path.lexists(target):
        _remove(target)
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(source), target)
    elif stat.S_ISREG(info.st_mode):
        shutil.copy2(source, target, follow_symlinks=False)
    elif stat.S_ISDIR(info.st_mode):
        os.mkdir(target)
        shutil.copystat(source, target, follow_symlinks=False)
    else:
        return  # devices, FIFOs and sockets are not copied (a container's /dev is made at start)
    if os.geteuid() == 0:
        with contextlib.suppress(OSError):
            os.chown(target, info.st_uid, info.st_gid, follow_symlinks=False)


def link_into(rootfs: Path, destination: str, source: str) -> None:
    """Make `destination` (a path inside the container) a symlink to the host path `source`
    inside the copy, replacing what the image had there (host mode's stand-in for a mount)."""
    parts = [part for part in destination.split("/") if part and part != "."]
    if not parts or ".." in parts:
        raise ValueError(f"invalid mount path {destination!r}")
    parent = rootfs
    for part in parts[:-1]:
        parent = parent / part
        if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
            raise ValueError(f"mount path {destination!r} goes through a non-directory in the image")
        parent.mkdir(exist_ok=True)
    target = parent / parts[-1]
    if os.path.lexists(target):
        _remove(str(target))
    os.symlink(source, target)


def remove_tree(path: Path) -> None:
    """rmtree that also removes directories the container left without permissions (overlay's
    work/work is mode 000)."""

    def retry(function: object, failed: str, exc: BaseException) -> None:
        if isinstance(exc, FileNotFoundError):
            return
        if isinstance(exc, PermissionError) or getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM):
            with contextlib.suppress(OSError):
                os.chmod(os.path.dirname(failed), 0o700)
                os.chmod(failed, 0o700)
            if os.path.isdir(failed) and not os.path.islink(failed):
                shutil.rmtree(failed, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(failed)
            return
        raise exc

    if not os.path.lexists(path):
        return
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=lambda function, failed, info: retry(function, failed, info[1]))
