"""The OCI config.json built from a pod, a container and an image config (no containers run)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.runtime.oci import spec
from kubelite.runtime.oci.errors import ContainerStartError

Obj = dict[str, Any]
PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"
GROUP = "root:x:0:\nstaff:x:50:app,other\napp:x:1001:\n"


def image(**config: Any) -> Obj:
    return {"config": config}


def a_pod(**pod_spec: Any) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1"}, "spec": pod_spec}


@pytest.mark.parametrize(
    ("container", "config", "expected"),
    [
        ({}, {"Entrypoint": ["/ep"], "Cmd": ["a", "b"]}, ["/ep", "a", "b"]),
        ({"args": ["x"]}, {"Entrypoint": ["/ep"], "Cmd": ["a"]}, ["/ep", "x"]),
        ({"command": ["/c"]}, {"Entrypoint": ["/ep"], "Cmd": ["a"]}, ["/c"]),
        ({"command": ["/c"], "args": ["y"]}, {"Entrypoint": ["/ep"], "Cmd": ["a"]}, ["/c", "y"]),
        ({}, {"Cmd": ["sh"]}, ["sh"]),
        ({}, {"Entrypoint": [""], "Cmd": ["sh"]}, ["sh"]),
    ],
)
def test_process_args_follow_containerd(container: Obj, config: Obj, expected: list[str]) -> None:
    assert spec.process_args(container, image(**config)) == expected


def test_no_command_at_all_is_a_create_error() -> None:
    with pytest.raises(ContainerStartError) as error:
        spec.process_args({}, image())
    assert error.value.reason == "CreateContainerError"
    assert "no command specified" in error.value.message


def test_env_order_and_overrides() -> None:
    env = spec.process_env(
        {"env": [{"name": "A", "value": "container"}, {"name": "EMPTY"}, {"name": "PATH", "value": "/x"}]},
        image(Env=["A=image", "B=image"]),
        "host-1",
    )
    assert env == ["PATH=/x", "HOSTNAME=host-1", "A=container", "B=image", "EMPTY="]


def test_working_dir_precedence() -> None:
    assert spec.working_dir({"workingDir": "/w"}, image(WorkingDir="/img")) == "/w"
    assert spec.working_dir({}, image(WorkingDir="/img")) == "/img"
    assert spec.working_dir({}, image()) == "/"


def test_user_from_image_and_security_context() -> None:
    pod = a_pod()
    assert spec.resolve_user(pod, {}, image(), PASSWD, GROUP) == spec.User(0, 0, ())
    assert spec.resolve_user(pod, {}, image(User="app"), PASSWD, GROUP) == spec.User(1000, 1001, (50,))
    assert spec.resolve_user(pod, {}, image(User="app:staff"), PASSWD, GROUP) == spec.User(1000, 50, ())
    assert spec.resolve_user(pod, {}, image(User="4242"), PASSWD, GROUP) == spec.User(4242, 0, ())
    container = {"securityContext": {"runAsUser": 65534}}
    assert spec.resolve_user(pod, container, image(User="app"), PASSWD, GROUP) == spec.User(65534, 65534, ())
    with_group = a_pod(securityContext={"runAsUser": 7, "runAsGroup": 8, "supplementalGroups": [9], "fsGroup": 10})
    assert spec.resolve_user(with_group, {}, image(), PASSWD, GROUP) == spec.User(7, 8, (9, 10))
    with pytest.raises(ContainerStartError) as error:
        spec.resolve_user(pod, {}, image(User="ghost"), PASSWD, GROUP)
    assert 'no users found for "ghost"' in error.value.message


def test_run_as_non_root_verification() -> None:
    pod = a_pod(securityContext={"runAsNonRoot": True})
    spec.check_non_root(pod, {"name": "c"}, image(User="1000"))
    spec.check_non_root(pod, {"name": "c", "securityContext": {"runAsUser": 5}}, image())
    cases = [
        ({"name": "c"}, image(), 'container has runAsNonRoot and image will run as root (pod: "p_ns(u-1)", container: c)'),
        ({"name": "c"}, image(User="app"), "container has runAsNonRoot and image has non-numeric user (app), cannot verify"),
        ({"name": "c", "securityContext": {"runAsUser": 0}}, image(User="1000"), "container's runAsUser breaks non-root policy"),
    ]
    for container, config, message in cases:
        with pytest.raises(ContainerStartError) as error:
            spec.check_non_root(pod, container, config)
        assert error.value.reason == "CreateContainerConfigError"
        assert error.value.message.startswith(message)


def test_capabilities_add_drop_and_privileged() -> None:
    assert spec.capabilities({}, False) == list(spec.DEFAULT_CAPABILITIES)
    dropped = spec.capabilities({"securityContext": {"capabilities": {"drop": ["NET_RAW", "CAP_KILL"], "add": ["NET_ADMIN"]}}}, False)
    assert "CAP_NET_RAW" not in dropped and "CAP_KILL" not in dropped and dropped[-1] == "CAP_NET_ADMIN"
    assert spec.capabilities({"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["chown"]}}}, False) == ["CAP_CHOWN"]
    assert spec.capabilities({"securityContext": {"capabilities": {"add": ["ALL"]}}}, False, last_cap=40) == list(spec.ALL_CAPABILITIES)
    assert spec.capabilities({}, True, last_cap=37) == list(spec.ALL_CAPABILITIES[:38])


def inputs(**overrides: Any) -> spec.SpecInputs:
    values: Obj = {
        "rootfs": "/b/rootfs",
        "args": ("sh",),
        "env": ("A=1",),
        "cwd": "/",
        "user": spec.User(1, 2, (3,)),
        "hostname": "p",
        "netns_path": "/var/run/netns/kubelite-1",
        "cgroups_path": "/kubelite/besteffort/podu-1/abc",
        "mounts": (spec.BindMount("/etc/hosts", "/d/hosts"), spec.BindMount("/data", "/v", True)),
    }
    values.update(overrides)
    return spec.SpecInputs(**values)


def test_build_spec_shape() -> None:
    container = {"name": "c", "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}, "requests": {"cpu": "250m"}}}
    config = spec.build_spec(a_pod(securityContext={"sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]}), container, inputs())
    assert config["process"]["user"] == {"uid": 1, "gid": 2, "additionalGids": [3]}
    assert config["process"]["terminal"] is False and config["process"]["noNewPrivileges"] is False
    assert config["root"] == {"path": "/b/rootfs", "readonly": False}
    assert config["hostname"] == "p"
    namespaces = {ns["type"]: ns.get("path") for ns in config["linux"]["namespaces"]}
    assert namespaces == {"pid": None, "ipc": None, "mount": None, "uts": None, "network": "/var/run/netns/kubelite-1"}
    assert config["linux"]["cgroupsPath"] == "/kubelite/besteffort/podu-1/abc"
    assert config["linux"]["resources"]["memory"] == {"limit": 64 * 1024 * 1024}
    assert config["linux"]["resources"]["cpu"] == {"shares": 256, "quota": 50000, "period": 100000}
    assert config["linux"]["sysctl"] == {"net.core.somaxconn": "1024"}
    assert "/proc/kcore" in config["linux"]["maskedPaths"]
    destinations = [m["destination"] for m in config["mounts"]]
    assert destinations == ["/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/etc/hosts", "/data"]
    assert config["mounts"][-1]["options"] == ["rbind", "rprivate", "ro"]


def test_build_spec_security_variants() -> None:
    read_only = {"name": "c", "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}}
    config = spec.build_spec(a_pod(), read_only, inputs())
    assert config["root"]["readonly"] is True and config["process"]["noNewPrivileges"] is True
    privileged = spec.build_spec(a_pod(), {"name": "c", "securityContext": {"privileged": True}}, inputs(), last_cap=40)
    assert privileged["process"]["capabilities"]["bounding"] == list(spec.ALL_CAPABILITIES)
    assert "maskedPaths" not in privileged["linux"]
    assert privileged["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert {"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind", "rprivate", "rw"]} in privileged["mounts"]
    host_network = spec.build_spec(a_pod(hostNetwork=True), {"name": "c"}, inputs(hostname="", netns_path=None))
    assert {ns["type"] for ns in host_network["linux"]["namespaces"]} == {"pid", "ipc", "mount"}
    assert "hostname" not in host_network
