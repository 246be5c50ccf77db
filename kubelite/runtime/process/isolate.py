"""The container side of a start, run by the monitor in its forked child (never returns): join
the container's cgroups, become the leader of a new process group, then either

- namespaces: unshare mount, PID, IPC (and UTS for a pod hostname, and user when not root,
  mapping the caller to root), fork the container's init (PID 1 of the new PID namespace), which
  mounts the rootfs (an overlay over the image layers, or the merged copy bound on itself), a
  fresh /proc, a small /dev (null, zero, full, random, urandom, tty, devpts), /sys read-only and
  the bind mounts (pod /etc files, /dev/shm, volumes, termination-message file), pivots into the
  rootfs, switches user (root only) and execs; the forking parent stays outside, waits and exits
  with init's status (128+N for signal N);
- host: chdir into the rootfs copy's working directory and exec with the host's view of `/`.

Progress goes back on `status_fd` (close-on-exec) as lines `pid N` (the container's process in
the host's PID namespace) and `error MESSAGE` (setup or exec failed); a successful exec closes it.

Must not import anything beyond the standard library and its own package (it runs between fork
and exec), nor write logs or exit codes (the monitor does).
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import NoReturn

from kubelite.runtime.process import syscalls as sc
from kubelite.runtime.process.launch import NAMESPACES, LaunchSpec

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}
IGNORED_BY_MIDDLE = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
# statvfs flags a read-only remount must keep (a user namespace may not drop locked ones)
_KEPT_FLAGS = ((os.ST_NOSUID, sc.MS_NOSUID), (os.ST_NODEV, sc.MS_NODEV), (os.ST_NOEXEC, sc.MS_NOEXEC), (1024, 1024), (2048, 2048), (4096, 0x200000))
MAX_SYMLINKS = 40


def report(status_fd: int, line: str) -> None:
    with contextlib.suppress(OSError):
        os.write(status_fd, (line.replace("\n", " ") + "\n").encode(errors="replace"))


def start(spec: LaunchSpec, stdio: tuple[int, int, int], status_fd: int) -> NoReturn:
    """The monitor's child: set up and exec the container (see the module docstring)."""
    try:
        os.setpgid(0, 0)
        for procs in spec.cgroup_procs:
            with open(procs, "w") as handle:
                handle.write(str(os.getpid()))
        if spec.isolation == NAMESPACES:
            _namespaced(spec, stdio, status_fd)
        report(status_fd, f"pid {os.getpid()}")
        _use_stdio(stdio)
        change_dir(spec.cwd)
        _exec(spec)
    except BaseException as exc:  # anything: it must reach the monitor, then this child ends
        report(status_fd, "error " + describe(exc))
    os._exit(127)


def _namespaced(spec: LaunchSpec, stdio: tuple[int, int, int], status_fd: int) -> NoReturn:
    uid, gid = os.getuid(), os.getgid()
    flags = sc.CLONE_NEWNS | sc.CLONE_NEWPID | sc.CLONE_NEWIPC
    if spec.hostname:
        flags |= sc.CLONE_NEWUTS
    if spec.user_namespace:
        flags |= sc.CLONE_NEWUSER
    sc.unshare(flags)
    if spec.user_namespace:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    child = os.fork()
    if child == 0:
        try:
            _use_stdio(stdio)
            _enter_rootfs(spec)
            _exec(spec)
        except BaseException as exc:
            report(status_fd, "error " + describe(exc))
        os._exit(127)
    report(status_fd, f"pid {child}")
    for fd in (status_fd, *stdio):
        with contextlib.suppress(OSError):
            os.close(fd)
    for number in IGNORED_BY_MIDDLE:  # the group's stop signal is for the container, not for us
        signal.signal(number, signal.SIG_IGN)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    os._exit(exit_code(status))


def exit_code(wait_status: int) -> int:
    """A wait status as the exit code a container reports: its code, or 128+N for signal N."""
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else 255


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _use_stdio(stdio: tuple[int, int, int]) -> None:
    for target, fd in enumerate(stdio):
        if fd != target:
            os.dup2(fd, target)


def _reset_signals() -> None:
    for number in (signal.SIGPIPE, signal.SIGXFSZ, *IGNORED_BY_MIDDLE):
        signal.signal(number, signal.SIG_DFL)


def _exec(spec: LaunchSpec) -> NoReturn:
    _reset_signals()
    env = dict(entry.split("=", 1) for entry in spec.env if "=" in entry)
    try:
        if spec.executable:
            os.execve(spec.executable, list(spec.argv), env)
        os.execvpe(spec.argv[0], list(spec.argv), env)
    except OSError as exc:
        raise StartFailure(exec_failure(spec.argv[0], exc)) from None


class StartFailure(Exception):
    """A start failure whose message is what users see."""


def exec_failure(name: str, exc: OSError) -> str:
    """An exec failure as runc words it (`exec: "x": executable file not found in $PATH`)."""
    if isinstance(exc, FileNotFoundError):
        if "/" not in name:
            return f'exec: "{name}": executable file not found in $PATH'
        return f'exec: "{name}": stat {name}: no such file or directory'
    if isinstance(exc, PermissionError):
        return f'exec: "{name}": permission denied'
    return f'exec: "{name}": {exc.strerror or exc}'


def change_dir(path: str) -> None:
    try:
        os.chdir(path)
    except OSError as exc:
        raise StartFailure(f'chdir to cwd ("{path}") failed: {(exc.strerror or str(exc)).lower()}') from None


def describe(exc: BaseException) -> str:
    if isinstance(exc, StartFailure):
        return str(exc)
    if isinstance(exc, OSError):
        text = str(exc.strerror or exc)
        return f"{text}: {exc.filename}" if exc.filename else text
    return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------- inside the namespaces
def _enter_rootfs(spec: LaunchSpec) -> None:
    sc.mount("none", "/", None, sc.MS_REC | sc.MS_PRIVATE)
    root = spec.rootfs
    if spec.overlay is not None:
        lower = ":".join(spec.overlay.lower)
        sc.mount("overlay", root, "overlay", 0, f"lowerdir={lower},upperdir={spec.overlay.upper},workdir={spec.overlay.work}")
    else:
        sc.mount(root, root, None, sc.MS_BIND | sc.MS_REC)
    _mount_proc(root)
    _mount_dev(root)
    sys_dir = secure_join(root, "/sys")
    os.makedirs(sys_dir, exist_ok=True)
    sc.mount("/sys", sys_dir, None, sc.MS_BIND | sc.MS_REC)
    with contextlib.suppress(OSError):
        _remount_read_only(sys_dir)
    for mount in spec.mounts:
        target = secure_join(root, mount.destination)
        if os.path.isdir(mount.source):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if not os.path.lexists(target):
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))
        sc.mount(mount.source, target, None, sc.MS_BIND | sc.MS_REC)
        if mount.read_only:
            _remount_read_only(target)
    with contextlib.suppress(FileExistsError, PermissionError):
        os.makedirs(secure_join(root, spec.cwd), exist_ok=True)
    if spec.read_only_root:
        _remount_read_only(root)
    os.chdir(root)
    sc.pivot_root(".", ".")
    sc.umount(".", sc.MNT_DETACH)
    os.chdir("/")
    if spec.hostname:
        sc.sethostname(spec.hostname)
    change_dir(spec.cwd)
    if spec.uid is not None and not spec.user_namespace:
        os.setgroups(list(spec.groups))
        os.setgid(spec.gid if spec.gid is not None else 0)
        os.setuid(spec.uid)
    if spec.no_new_privileges:
        sc.no_new_privileges()


def _remount_read_only(target: str) -> None:
    current = os.statvfs(target).f_flag
    flags = sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY
    for statvfs_flag, mount_flag in _KEPT_FLAGS:
        if current & statvfs_flag:
            flags |= mount_flag
    sc.mount("none", target, None, flags)


def _mount_proc(root: str) -> None:
    target = secure_join(root, "/proc")
    os.makedirs(target, exist_ok=True)
    try:
        sc.mount("proc", target, "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    except OSError:  # a locked-down host /proc: the host's, bound (shows the host's processes)
        sc.mount("/proc", target, None, sc.MS_BIND | sc.MS_REC)


def _mount_dev(root: str) -> None:
    dev = secure_join(root, "/dev")
    os.makedirs(dev, exist_ok=True)
    sc.mount("tmpfs", dev, "tmpfs", sc.MS_NOSUID, "mode=755,size=65536k")
    for name in DEVICES:
        target = os.path.join(dev, name)
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o666))
        with contextlib.suppress(OSError):  # a host without it (tty without a terminal is fine)
            sc.mount(f"/dev/{name}", target, None, sc.MS_BIND)
    for name, link in DEV_LINKS.items():
        os.symlink(link, os.path.join(dev, name))
    for name in ("pts", "shm", "mqueue"):
        os.mkdir(os.path.join(dev, name), 0o1777 if name == "shm" else 0o755)
    with contextlib.suppress(OSError):
        sc.mount("devpts", os.path.join(dev, "pts"), "devpts", sc.MS_NOSUID | sc.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")


def secure_join(root: str, path: str) -> str:
    """`path` inside `root` with every symlink resolved as if `root` were `/` (no escape)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate):
            hops += 1
            if hops > MAX_SYMLINKS:
                raise OSError(40, f"too many levels of symbolic links in {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)
