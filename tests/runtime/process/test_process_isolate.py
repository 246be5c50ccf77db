"""The pieces of a container's start that run without forking: resolving mount targets inside the
rootfs without escaping it, exit codes from wait statuses, and runc's wording of exec failures."""

from __future__ import annotations

import os
from pathlib import Path

from kubelite.runtime.process.isolate import exec_failure, exit_code, secure_join


def test_secure_join_resolves_symlinks_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real/dir").mkdir(parents=True)
    os.symlink("/real", root / "abs")
    os.symlink("../../..", root / "real/dir/up")
    os.symlink("/", root / "top")
    assert secure_join(str(root), "/abs/dir/file") == str(root / "real/dir/file")
    assert secure_join(str(root), "/real/dir/up/etc") == str(root / "etc")
    assert secure_join(str(root), "/top/../../etc/hosts") == str(root / "etc/hosts")
    assert secure_join(str(root), "relative/./x") == str(root / "relative/x")


def test_exit_codes_from_wait_statuses() -> None:
    assert exit_code(3 << 8) == 3
    assert exit_code(9) == 137  # killed by SIGKILL
    assert exit_code(15) == 143


def test_exec_failures_read_like_runc() -> None:
    assert exec_failure("nope", FileNotFoundError(2, "No such file")) == 'exec: "nope": executable file not found in $PATH'
    assert exec_failure("/bin/nope", FileNotFoundError(2, "No such file")) == 'exec: "/bin/nope": stat /bin/nope: no such file or directory'
    assert exec_failure("/etc/passwd", PermissionError(13, "Permission denied")) == 'exec: "/etc/passwd": permission denied'
