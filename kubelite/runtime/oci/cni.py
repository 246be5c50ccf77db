"""Pod networking through the standard CNI plugins (Debian's containernetworking-plugins): a
`bridge` network (isGateway, hairpinMode; no ipMasq: the node masquerades its whole pod CIDR
with one rule, masquerade.py) with `host-local` IPAM over the node's pod CIDR,
then `portmap` for hostPorts, plus `loopback` on `lo`. Each plugin is executed as the CNI spec
says: CNI_* variables in the environment, its configuration on stdin (with `name`, `cniVersion`,
the previous plugin's result as `prevResult` and `runtimeConfig` for the capabilities it declares),
its result or error as JSON on stdout. DEL runs the same plugins in reverse with the saved
configuration and result, so a kubelet that restarted (or whose pod CIDR changed) still tears
down exactly what ADD set up.

Must not create or delete network namespaces (netns.py) nor touch interfaces, routes or
iptables itself: only the plugins do; `delete_bridge` is for the node's own teardown.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from kubelite.runtime.oci.commands import run
from kubelite.runtime.oci.errors import OciCommandError

Obj = dict[str, Any]
CNI_VERSION = "1.0.0"
DEFAULT_PLUGIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin", "/usr/libexec/cni")
REQUIRED_PLUGINS = ("bridge", "host-local", "loopback", "portmap")
POD_INTERFACE = "eth0"


@dataclass(frozen=True, slots=True)
class CniSettings:
    network_name: str = "kubelite"
    bridge: str = "kubelite0"
    plugin_dirs: tuple[str, ...] = DEFAULT_PLUGIN_DIRS
    mtu: int | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """What ADD did, to keep on disk for DEL: the plugins' configurations and the final result."""

    ip: str
    state: Obj


def find_plugin_dir(dirs: Sequence[str]) -> str | None:
    """The first directory holding every plugin this network uses."""
    for directory in dirs:
        if all(os.access(os.path.join(directory, name), os.X_OK) for name in REQUIRED_PLUGINS):
            return directory
    return None


def network_config(settings: CniSettings, pod_cidr: str, ipam_dir: Path) -> Obj:
    """The network configuration list for the node's pod CIDR."""
    bridge: Obj = {
        "type": "bridge",
        "bridge": settings.bridge,
        "isGateway": True,
        "hairpinMode": True,
        "ipMasq": False,  # one rule per node (masquerade.py), not a chain per pod
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": pod_cidr}]],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": str(ipam_dir),
        },
    }
    if settings.mtu:
        bridge["mtu"] = settings.mtu
    return {
        "cniVersion": CNI_VERSION,
        "name": settings.network_name,
        "plugins": [bridge, {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}],
    }


def port_mappings(pod: Obj) -> list[Obj]:
    """The pod's hostPorts as the portmap plugin's runtimeConfig.portMappings."""
    mappings = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            host_port = port.get("hostPort")
            if host_port:
                mappings.append(
                    {
                        "hostPort": int(host_port),
                        "containerPort": int(port.get("containerPort") or 0),
                        "protocol": str(port.get("protocol") or "TCP").lower(),
                        "hostIP": str(port.get("hostIP") or ""),
                    }
                )
    return mappings


def _plugin_config(conflist: Obj, plugin: Obj, prev_result: Obj | None, runtime_config: Obj) -> bytes:
    config = dict(plugin)
    config["name"] = conflist["name"]
    config["cniVersion"] = conflist["cniVersion"]
    if prev_result is not None:
        config["prevResult"] = prev_result
    wanted = {key: value for key, value in runtime_config.items() if (plugin.get("capabilities") or {}).get(key)}
    if wanted:
        config["runtimeConfig"] = wanted
    return orjson.dumps(config)


def _error_message(stdout: bytes, stderr: bytes, plugin: str) -> str:
    try:
        error = orjson.loads(stdout)
        message = str(error.get("msg") or "")
        if error.get("details"):
            message = f"{message}: {error['details']}"
        if message:
            return f"plugin type={plugin!r} failed: {message}"
    except (orjson.JSONDecodeError, AttributeError):
        pass
    return f"plugin type={plugin!r} failed: {(stderr or stdout).decode(errors='replace').strip()}"


class CniNetwork:
    def __init__(self, settings: CniSettings, plugin_dir: str, state_dir: Path) -> None:
        self.settings = settings
        self.plugin_dir = plugin_dir
        self.ipam_dir = state_dir / "networks"
        self.ipam_dir.mkdir(parents=True, exist_ok=True)

    async def _exec(self, command: str, plugin: Obj, config: bytes, container_id: str, netns: str, ifname: str) -> Obj:
        kind = str(plugin["type"])
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": container_id,
            "CNI_NETNS": netns,
            "CNI_IFNAME": ifname,
            "CNI_PATH": self.plugin_dir,
        }
        done = await run([os.path.join(self.plugin_dir, kind)], stdin=config, env=env)
        if done.returncode != 0:
            raise OciCommandError(_error_message(done.stdout, done.stderr, kind))
        if command != "ADD" or not done.stdout.strip():
            return {}
        result = orjson.loads(done.stdout)
        return result if isinstance(result, dict) else {}

    async def add(self, container_id: str, netns: str, pod_cidr: str, mappings: Sequence[Obj] = ()) -> Attachment:
        """ADD loopback, then the chain; the pod's IPv4 address and the state DEL needs."""
        loopback: Obj = {"cniVersion": CNI_VERSION, "name": "cni-loopback", "type": "loopback"}
        await self._exec("ADD", loopback, orjson.dumps(loopback), container_id, netns, "lo")
        conflist = network_config(self.settings, pod_cidr, self.ipam_dir)
        runtime_config: Obj = {"portMappings": list(mappings)}
        # portmap with no mappings passes its input through: skip it (and its DEL) then
        plugins = [p for p in conflist["plugins"] if p["type"] != "portmap" or mappings]
        state: Obj = {"conflist": conflist, "runtimeConfig": runtime_config, "plugins": [p["type"] for p in plugins]}
        result: Obj | None = None
        done: list[str] = []
        try:
            for plugin in plugins:
                config = _plugin_config(conflist, plugin, result, runtime_config)
                result = await self._exec("ADD", plugin, config, container_id, netns, POD_INTERFACE)
                done.append(str(plugin["type"]))
        except Exception:
            state["plugins"] = done
            state["result"] = result
            await self.delete(container_id, netns, state)
            raise
        state["result"] = result
        return Attachment(pod_ip(result or {}), state)

    async def delete(self, container_id: str, netns: str, state: Obj) -> None:
        """DEL the chain in reverse order with what ADD saved (loopback needs no DEL)."""
        conflist = state.get("conflist") or {}
        ran = set(state.get("plugins") or [])
        runtime_config = state.get("runtimeConfig") or {}
        errors = []
        for plugin in reversed(conflist.get("plugins") or []):
            if plugin.get("type") not in ran:
                continue
            config = _plugin_config(conflist, plugin, state.get("result"), runtime_config)
            try:
                await self._exec("DEL", plugin, config, container_id, netns, POD_INTERFACE)
            except OciCommandError as exc:
                errors.append(str(exc))
        if errors:
            raise OciCommandError("; ".join(errors))


def pod_ip(result: Obj) -> str:
    """The first IPv4 address of a CNI result (without its prefix length)."""
    for entry in result.get("ips") or []:
        address = str(entry.get("address") or "").split("/")[0]
        if address and ":" not in address:
            return address
    return ""


async def delete_bridge(name: str) -> None:
    """Remove the node's bridge (node teardown; DEL leaves it for the next pod)."""
    if Path("/sys/class/net", name).exists():
        done = await run(["ip", "link", "delete", name])
        if done.returncode != 0 and Path("/sys/class/net", name).exists():
            raise OciCommandError(done.error_text())
