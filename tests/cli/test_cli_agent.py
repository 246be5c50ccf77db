"""`kubelite agent`'s own parts: its data dir apart from a server's, its node settings (no
cluster add-ons, pod CIDR from node IPAM unless given), the address towards the server, the
parser, and that a missing server or token is a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.cli import agent
from kubelite.cli.main import _parser
from kubelite.cli.server import default_data_dir


def test_the_data_dir_is_apart_from_a_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBELITE_AGENT_DATA_DIR", raising=False)
    monkeypatch.delenv("KUBELITE_DATA_DIR", raising=False)
    assert agent.default_agent_data_dir() != default_data_dir()
    monkeypatch.setenv("KUBELITE_AGENT_DATA_DIR", "/tmp/elsewhere")
    assert agent.default_agent_data_dir() == Path("/tmp/elsewhere")


def test_settings_of_a_joined_node() -> None:
    options = agent.AgentOptions(server="https://127.0.0.1:6443", token="t", data_dir=Path("/d"), node_name="w1", node_ip="10.0.0.7")
    settings = agent.agent_settings(options)
    assert (settings.node_name, settings.node_ip, settings.pod_cidr, settings.cluster_addons) == ("w1", "10.0.0.7", "", False)
    assert settings.ingress_http_port == 0 and settings.bridge == "kubelite0"


def test_the_address_towards_the_server_is_a_local_one() -> None:
    assert agent.address_towards("https://127.0.0.1:6443") == agent.host_address()  # loopback: the host's address instead
    assert agent.address_towards("https://no-such-host.invalid:6443") == agent.host_address()


def test_the_parser_knows_the_agent_and_its_hidden_flags() -> None:
    args = _parser().parse_args(
        ["agent", "--server", "https://s:6443", "--token", "K10x::a.b", "--node-ip", "10.0.0.7", "--pod-cidr", "10.42.9.0/24", "--proxy-table", "t9"]
    )
    assert (args.server, args.token, args.node_ip, args.pod_cidr, args.proxy_table, args.kubelet_port) == (
        "https://s:6443", "K10x::a.b", "10.0.0.7", "10.42.9.0/24", "t9", 10250
    )  # fmt: skip


async def test_without_server_or_token_it_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert await agent.run_agent(agent.AgentOptions(server="", token="", data_dir=Path("/nonexistent"))) == 2
    assert "--server and --token are required" in capsys.readouterr().err
