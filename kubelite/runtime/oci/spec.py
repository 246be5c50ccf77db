"""A container's OCI runtime configuration (config.json) from its pod, its container spec and its
image config, with containerd's CRI choices: process args from command/args over the image's
Entrypoint/Cmd; env = default PATH, HOSTNAME, the image's Env, then the container's (already
resolved) env, later values replacing earlier ones in place; the user from runAsUser/runAsGroup
or the image's User looked up in the image's /etc/passwd and /etc/group; Docker's default
capabilities with add/drop; privileged; readOnlyRootFilesystem; the standard mounts plus the pod's
/etc files, /dev/shm, volumes and the termination-message file; new pid/ipc/uts/mount namespaces
and the pod's network namespace by path; linux.resources and cgroupsPath.

Must not do I/O: the runtime reads image files and passes their text in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubelite.runtime.oci.errors import ContainerStartError
from kubelite.runtime.oci.resources import linux_resources

Obj = dict[str, Any]
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"

DEFAULT_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)
# every capability by number (index = CAP_* value), for privileged containers and `add: [ALL]`
ALL_CAPABILITIES = tuple(
    "CAP_" + name
    for name in ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"]
)
MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


@dataclass(frozen=True, slots=True)
class BindMount:
    destination: str
    source: str
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class User:
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SpecInputs:
    """What the runtime prepared for one container attempt."""

    rootfs: str
    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    user: User
    hostname: str  # "" for hostNetwork pods (they keep the node's UTS namespace)
    netns_path: str | None  # None: the node's network namespace
    cgroups_path: str
    mounts: tuple[BindMount, ...] = ()
    oom_score_adj: int | None = None


def describe_pod(pod: Obj) -> str:
    """The kubelet's format.Pod: name_namespace(uid)."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


# ---- process ---------------------------------------------------------------------------------


def process_args(container: Obj, image_config: Obj) -> list[str]:
    """command + args over the image's Entrypoint and Cmd, as containerd combines them: a command
    replaces Entrypoint and Cmd; args alone replace Cmd. Raises CreateContainerError when empty."""
    command = [str(part) for part in container.get("command") or []]
    args = [str(part) for part in container.get("args") or []]
    config = image_config.get("config") or {}
    if not command:
        if not args:
            args = [str(part) for part in config.get("Cmd") or []]
        entrypoint = [str(part) for part in config.get("Entrypoint") or []]
        if entrypoint != [""]:
            command = entrypoint
    argv = command + args
    if not argv:
        raise ContainerStartError("CreateContainerError", "failed to generate container spec: no command specified")
    return argv


def _set_env(env: list[str], entry: str) -> None:
    key = entry.split("=", 1)[0]
    for index, existing in enumerate(env):
        if existing.split("=", 1)[0] == key:
            env[index] = entry
            return
    env.append(entry)


def process_env(container: Obj, image_config: Obj, hostname: str) -> list[str]:
    """PATH default, HOSTNAME, the image's Env, the container's env (values already resolved by
    the kubelet: valueFrom/envFrom/$(VAR) are not looked at here)."""
    env = [DEFAULT_PATH]
    _set_env(env, f"HOSTNAME={hostname}")
    for entry in (image_config.get("config") or {}).get("Env") or []:
        if "=" in str(entry):
            _set_env(env, str(entry))
    for variable in container.get("env") or []:
        name = str(variable.get("name") or "")
        if name:
            _set_env(env, f"{name}={variable.get('value') or ''}")
    return env


def working_dir(container: Obj, image_config: Obj) -> str:
    return str(container.get("workingDir") or (image_config.get("config") or {}).get("WorkingDir") or "/")


# ---- user ------------------------------------------------------------------------------------


def _security(pod: Obj, container: Obj, key: str) -> Any:
    """A container securityContext field, falling back to the pod's."""
    value = (container.get("securityContext") or {}).get(key)
    if value is None:
        value = ((pod.get("spec") or {}).get("securityContext") or {}).get(key)
    return value


def _passwd(text: str | None) -> list[list[str]]:
    return [line.split(":") for line in (text or "").splitlines() if line and not line.startswith("#") and line.count(":") >= 3]


def _lookup_user(name: str, passwd: str | None) -> tuple[int, int, str] | None:
    """(uid, gid, name) for a user name or uid from /etc/passwd."""
    for fields in _passwd(passwd):
        if fields[0] == name or (name.isdigit() and fields[2] == name):
            try:
                return int(fields[2]), int(fields[3]), fields[0]
            except ValueError:
                return None
    return None


def _lookup_group(name: str, group: str | None) -> int | None:
    if name.isdigit():
        return int(name)
    for fields in (line.split(":") for line in (group or "").splitlines() if line.count(":") >= 2):
        if fields[0] == name:
            try:
                return int(fields[2])
            except ValueError:
                return None
    return None


def _member_gids(username: str, group: str | None) -> list[int]:
    gids = []
    for line in (group or "").splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and username and username in fields[3].split(","):
            try:
                gids.append(int(fields[2]))
            except ValueError:
                continue
    return gids


def check_non_root(pod: Obj, container: Obj, image_config: Obj) -> None:
    """The kubelet's runAsNonRoot verification (CreateContainerConfigError)."""
    if not _security(pod, container, "runAsNonRoot"):
        return
    where = f"(pod: {describe_pod(pod)!r}, container: {container.get('name', '')})"
    where = where.replace("'", '"')
    run_as = _security(pod, container, "runAsUser")
    if run_as is not None:
        if int(run_as) == 0:
            raise ContainerStartError("CreateContainerConfigError", f"container's runAsUser breaks non-root policy {where}")
        return
    image_user = str((image_config.get("config") or {}).get("User") or "").split(":")[0]
    if image_user and not image_user.isdigit():
        raise ContainerStartError(
            "CreateContainerConfigError",
            f"container has runAsNonRoot and image has non-numeric user ({image_user}), cannot verify user is non-root {where}",
        )
    if not image_user or int(image_user) == 0:
        raise ContainerStartError("CreateContainerConfigError", f"container has runAsNonRoot and image will run as root {where}")


def resolve_user(pod: Obj, container: Obj, image_config: Obj, passwd: str | None, group: str | None) -> User:
    """The process user: runAsUser/runAsGroup over the image's User ("name", "uid", "user:group"),
    names and primary groups from the image's files; supplementalGroups, fsGroup and the image's
    group memberships as additional gids."""
    run_as_user = _security(pod, container, "runAsUser")
    run_as_group = _security(pod, container, "runAsGroup")
    image_user = str((image_config.get("config") or {}).get("User") or "")
    user_part, _, group_part = image_user.partition(":")
    if run_as_user is not None:
        user_part, group_part = str(int(run_as_user)), ""
    username = ""
    if not user_part:
        uid, gid = 0, 0
        username = "root"
    else:
        found = _lookup_user(user_part, passwd)
        if found is not None:
            uid, gid, username = found
        elif user_part.isdigit():
            uid, gid = int(user_part), 0
        else:
            raise ContainerStartError(
                "CreateContainerError", f'failed to generate container spec: no users found for "{user_part}" in /etc/passwd'
            )
    if group_part:
        looked = _lookup_group(group_part, group)
        if looked is None:
            raise ContainerStartError(
                "CreateContainerError", f'failed to generate container spec: no groups found for "{group_part}" in /etc/group'
            )
        gid = looked
    if run_as_group is not None:
        gid = int(run_as_group)
    pod_security = (pod.get("spec") or {}).get("securityContext") or {}
    extra: list[int] = []
    for candidate in [
        *_member_gids(username, group),
        *(int(g) for g in pod_security.get("supplementalGroups") or []),
        *([int(pod_security["fsGroup"])] if pod_security.get("fsGroup") is not None else []),
    ]:
        if candidate != gid and candidate not in extra:
            extra.append(candidate)
    return User(uid, gid, tuple(extra))


# ---- capabilities ----------------------------------------------------------------------------


def _cap_name(name: str) -> str:
    upper = str(name).upper()
    return upper if upper.startswith("CAP_") else "CAP_" + upper


def capabilities(container: Obj, privileged: bool, last_cap: int = len(ALL_CAPABILITIES) - 1) -> list[str]:
    """Docker's default set with securityContext.capabilities add/drop (ALL allowed in both)."""
    known = list(ALL_CAPABILITIES[: last_cap + 1])
    if privileged:
        return known
    caps = (container.get("securityContext") or {}).get("capabilities") or {}
    add = [_cap_name(c) for c in caps.get("add") or []]
    drop = [_cap_name(c) for c in caps.get("drop") or []]
    result = list(known) if "CAP_ALL" in add else list(DEFAULT_CAPABILITIES)
    if "CAP_ALL" in drop:
        result = []
    else:
        result = [cap for cap in result if cap not in drop]
    for cap in add:
        if cap != "CAP_ALL" and cap not in result:
            result.append(cap)
    return result


# ---- the whole spec --------------------------------------------------------------------------


def _bind(mount: BindMount) -> Obj:
    return {
        "destination": mount.destination,
        "type": "bind",
        "source": mount.source,
        "options": ["rbind", "rprivate", "ro" if mount.read_only else "rw"],
    }


def standard_mounts(privileged: bool) -> list[Obj]:
    sys_options = ["nosuid", "noexec", "nodev"] + ([] if privileged else ["ro"])
    cgroup_options = ["nosuid", "noexec", "nodev", "relatime", "rw" if privileged else "ro"]
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_options},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": cgroup_options},
    ]


def build_spec(pod: Obj, container: Obj, inputs: SpecInputs, *, last_cap: int = len(ALL_CAPABILITIES) - 1) -> Obj:
    """The config.json for one container attempt."""
    security = container.get("securityContext") or {}
    privileged = bool(security.get("privileged"))
    caps = capabilities(container, privileged, last_cap)
    user: Obj = {"uid": inputs.user.uid, "gid": inputs.user.gid}
    if inputs.user.additional_gids:
        user["additionalGids"] = list(inputs.user.additional_gids)
    process: Obj = {
        "terminal": bool(container.get("tty")),
        "user": user,
        "args": list(inputs.args),
        "env": list(inputs.env),
        "cwd": inputs.cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": security.get("allowPrivilegeEscalation") is False and not privileged,
    }
    if inputs.oom_score_adj is not None:
        process["oomScoreAdj"] = inputs.oom_score_adj
    namespaces: list[Obj] = [{"type": "pid"}, {"type": "ipc"}, {"type": "mount"}]
    if inputs.netns_path is not None:
        namespaces.append({"type": "network", "path": inputs.netns_path})
    if inputs.hostname:
        namespaces.append({"type": "uts"})
    linux: Obj = {
        "namespaces": namespaces,
        "cgroupsPath": inputs.cgroups_path,
        "resources": linux_resources(container),
    }
    if privileged:
        linux["resources"]["devices"] = [{"allow": True, "access": "rwm"}]
    elif security.get("procMount") != "Unmasked":
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    sysctls = {str(s.get("name")): str(s.get("value", "")) for s in ((pod.get("spec") or {}).get("securityContext") or {}).get("sysctls") or []}
    if sysctls:
        linux["sysctl"] = sysctls
    mounts = standard_mounts(privileged)
    if privileged:
        mounts[1] = {"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind", "rprivate", "rw"]}
        del mounts[2:4]  # the node's /dev brings its own pts and mqueue
    mounts.extend(_bind(mount) for mount in inputs.mounts)
    spec: Obj = {
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": inputs.rootfs, "readonly": bool(security.get("readOnlyRootFilesystem"))},
        "mounts": mounts,
        "linux": linux,
    }
    if inputs.hostname:
        spec["hostname"] = inputs.hostname
    return spec
