"""Mounts the runtime owns: a container's rootfs as one overlayfs over the image's unpacked layers
(shared, read-only lower directories) with an upper and work directory per container attempt, and
a pod's /dev/shm tmpfs. mount(2)/umount2(2) are called directly (no `mount` child process).

Must not write into image layers or unpack anything: the image store owns the lower directories.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import stat
from collections.abc import Sequence
from pathlib import Path

MNT_DETACH = 2
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MAX_MOUNT_DATA = 4095  # a page, less the terminating NUL


@functools.cache
def _library() -> ctypes.CDLL:
    library = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    library.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    library.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return library


def _mount(source: str, target: Path, fstype: str, flags: int, data: str) -> None:
    if _library().mount(source.encode(), os.fsencode(target), fstype.encode(), flags, data.encode()) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"mount {fstype} on {target}: {os.strerror(code)}")


def overlay_options(lower: Sequence[Path], upper: Path, work: Path) -> str:
    return f"lowerdir={':'.join(str(p) for p in lower)},upperdir={upper},workdir={work}"


def mount_overlay(lower: Sequence[Path], upper: Path, work: Path, target: Path) -> None:
    """Mount an overlay of `lower` (top layer first) with `upper`/`work` on `target`; the three
    directories are created. An image with no layers gets an empty lower directory."""
    for directory in (upper, work, target):
        directory.mkdir(parents=True, exist_ok=True)
    if not lower:
        empty = work.parent / "empty-lower"
        empty.mkdir(exist_ok=True)
        lower = [empty]
    data = overlay_options(lower, upper, work)
    if len(data) > MAX_MOUNT_DATA:
        raise OSError(errno.E2BIG, f"overlay options for {len(lower)} layers exceed a page")
    _mount("overlay", target, "overlay", 0, data)


def mount_tmpfs(target: Path, size_bytes: int, mode: int = 0o1777) -> None:
    target.mkdir(parents=True, exist_ok=True)
    _mount("shm", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"mode={mode:o},size={size_bytes}")


def unmount(target: Path) -> bool:
    """Detach whatever is mounted on `target` (all stacked mounts); False when nothing was."""
    unmounted = False
    while _library().umount2(os.fsencode(target), MNT_DETACH) == 0:
        unmounted = True
    code = ctypes.get_errno()
    if code not in (errno.EINVAL, errno.ENOENT):
        raise OSError(code, f"umount {target}: {os.strerror(code)}")
    return unmounted


def mounts_under(prefix: Path, mountinfo: Path = Path("/proc/self/mountinfo")) -> list[Path]:
    """Mount points at or below `prefix` (for clean-up after a crash, and for tests)."""
    found = []
    base = str(prefix).rstrip("/")
    for line in mountinfo.read_text().splitlines():
        fields = line.split()
        if len(fields) > 4:
            point = fields[4].replace("\\040", " ")
            if point == base or point.startswith(base + "/"):
                found.append(Path(point))
    return found


def read_image_file(layers: Sequence[Path], relative: str, limit: int = 1 << 20) -> str | None:
    """A small regular file of the image (e.g. "etc/passwd") from its layers, top first, without
    mounting and without following symlinks; None when absent or deleted by a whiteout."""
    parts = [part for part in relative.split("/") if part]
    for layer in layers:
        path = layer.joinpath(*parts)
        try:
            info = path.lstat()
        except OSError:
            continue
        if not all(layer.joinpath(*parts[:depth]).is_dir() and not layer.joinpath(*parts[:depth]).is_symlink() for depth in range(1, len(parts))):
            return None
        if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
            return None  # whiteout
        if not stat.S_ISREG(info.st_mode):
            return None
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as handle:
            return handle.read(limit).decode(errors="replace")
    return None
