"""The CNI plugin chain: configuration, results, and real ADD/DEL into a named netns (root)."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from kubelite.runtime.oci import cni, netns
from kubelite.runtime.oci.errors import OciCommandError
from tests.runtime.oci_harness import RunNames, require_host, unique_net


def test_network_config_and_port_mappings(tmp_path: Path) -> None:
    settings = cni.CniSettings(network_name="kubelite", bridge="kubelite0", mtu=1400)
    config = cni.network_config(settings, "10.42.3.0/24", tmp_path)
    bridge, portmap = config["plugins"]
    assert config["cniVersion"] == "1.0.0" and config["name"] == "kubelite"
    assert (bridge["type"], bridge["bridge"], bridge["isGateway"], bridge["hairpinMode"], bridge["ipMasq"], bridge["mtu"]) == (
        "bridge", "kubelite0", True, True, False, 1400,
    )  # fmt: skip
    assert bridge["ipam"] == {
        "type": "host-local",
        "ranges": [[{"subnet": "10.42.3.0/24"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": str(tmp_path),
    }
    assert portmap["capabilities"] == {"portMappings": True}
    pod = {
        "spec": {
            "containers": [
                {"ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "protocol": "UDP"}]},
                {"ports": [{"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "127.0.0.1"}]},
            ]
        }
    }
    assert cni.port_mappings(pod) == [
        {"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": ""},
        {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "127.0.0.1"},
    ]
    assert cni.pod_ip({"ips": [{"address": "fd00::5/64"}, {"address": "10.42.3.7/24"}]}) == "10.42.3.7"
    assert cni.pod_ip({}) == ""


@pytest.fixture
async def network(tmp_path: Path) -> AsyncIterator[tuple[cni.CniNetwork, RunNames]]:
    host = require_host(tmp_path / "data")
    net = unique_net()
    network = cni.CniNetwork(cni.CniSettings(net.bridge, net.bridge), host.cni_plugin_dir, tmp_path / "cni")
    try:
        yield network, net
    finally:
        for entry in (netns.NETNS_DIR.iterdir() if netns.NETNS_DIR.exists() else []):
            if entry.name.startswith(net.netns_prefix):
                subprocess.run(["ip", "netns", "delete", entry.name], capture_output=True)
        await cni.delete_bridge(net.bridge)


async def test_add_and_delete_in_a_named_netns(network: tuple[cni.CniNetwork, RunNames], tmp_path: Path) -> None:
    plugins, net = network
    name = netns.netns_name(net.netns_prefix, "0123456789abcdef")
    assert name == f"{net.netns_prefix}01234567"
    path = await netns.create(name)
    assert await netns.create(name) == path and netns.exists(name)  # idempotent
    attachment = await plugins.add("c1", str(path), net.cidr)
    assert attachment.ip.startswith(net.cidr.rsplit(".", 1)[0] + ".") and attachment.ip != net.gateway
    assert attachment.state["plugins"] == ["bridge"]  # no hostPorts: portmap is skipped
    allocation = tmp_path / "cni" / "networks" / net.bridge / attachment.ip
    assert allocation.exists()
    inside = subprocess.run(["ip", "netns", "exec", name, "ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    assert f"{attachment.ip}/24" in inside and "127.0.0.1/8" in inside  # eth0 and loopback are up
    state = orjson.loads(orjson.dumps(attachment.state))  # what sandbox.json keeps
    await plugins.delete("c1", str(path), state)
    assert not allocation.exists()
    await netns.delete(name)
    assert not netns.exists(name)
    await netns.delete(name)  # a missing one is fine


async def test_plugin_errors_carry_the_plugin_message(network: tuple[cni.CniNetwork, RunNames]) -> None:
    plugins, net = network
    path = await netns.create(net.netns_prefix + "bad")
    with pytest.raises(OciCommandError) as error:
        await plugins.add("c2", str(path), "10.244.0.0/33")
    assert "plugin type='bridge' failed" in str(error.value)
    await netns.delete(net.netns_prefix + "bad")
