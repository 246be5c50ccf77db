"""The parts `kubelite server` and `kubelite agent` share: node options from the settings (the
cluster CIDR reaches the proxy only when the node's pods lie in it; an agent's node runs no
ingress), and the run loop (start failure -> 1 with the message; SIGTERM -> stop, 0)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from kubelite.cli import nodeparts
from kubelite.cli.nodeparts import NodeSettings


def settings(**overrides: object) -> NodeSettings:
    values: dict[str, object] = {"data_dir": Path("/d"), "node_name": "n1", "node_ip": "192.168.7.2", "ingress_http_port": 80, "ingress_https_port": 443}
    values.update(overrides)
    return NodeSettings(**values)  # type: ignore[arg-type]


def test_node_options_follow_the_settings() -> None:
    local = nodeparts.local_node_options(settings(pod_cidr=""), Path("/c/s.crt"), Path("/c/s.key"), Path("/c/ca.crt"))
    assert (local.node_name, local.node_ip, local.pod_cidr, local.cluster_dns) == ("n1", "192.168.7.2", "", ("10.43.0.10",))
    assert (local.serving_cert, local.client_ca) == (Path("/c/s.crt"), Path("/c/ca.crt"))
    server = nodeparts.node_services_options(settings(cluster_cidr="10.244.9.0/24"), "10.244.9.0/26")
    assert server.cluster_cidr() == "10.244.9.0/24" and server.cluster_addons and server.ingress_http_port == 80
    outside = nodeparts.node_services_options(settings(cluster_cidr="10.42.0.0/16"), "10.244.9.0/26")
    assert outside.cluster_cidr() == "10.244.9.0/26"  # its own pods only
    agent = nodeparts.node_services_options(settings(cluster_addons=False), "10.42.3.0/24")
    assert not agent.cluster_addons and agent.ingress_http_port == 0 and agent.ingress_https_port == 0
    assert agent.pod_cidr == "10.42.3.0/24" and agent.cluster_cidr() == "10.42.0.0/16"


async def test_a_failed_start_returns_1_with_its_message(capsys: pytest.CaptureFixture[str]) -> None:
    stopped: list[bool] = []

    async def start() -> None:
        raise RuntimeError("no way")

    async def stop() -> None:
        stopped.append(True)

    assert await nodeparts.run_until_signalled(start, stop, lambda: "ready") == 1
    assert stopped == [True] and "kubelite: cannot start: no way" in capsys.readouterr().err


async def test_sigterm_stops_what_started(capsys: pytest.CaptureFixture[str]) -> None:
    events: list[str] = []

    async def start() -> None:
        events.append("start")
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)

    async def stop() -> None:
        events.append("stop")

    assert await nodeparts.run_until_signalled(start, stop, lambda: "all ready") == 0
    assert events == ["start", "stop"] and "all ready" in capsys.readouterr().out
