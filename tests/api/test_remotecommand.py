"""Remote-command pieces: channel framing, protocol negotiation, exec options both spellings,
Status objects for exit codes, resize JSON split anywhere, port prefixes and port lists."""

from __future__ import annotations

import json

import pytest

from kubelite.api import remotecommand as rc


def test_channel_messages() -> None:
    assert rc.channel_message(rc.STDOUT, b"hi") == b"\x01hi"
    assert rc.close_message(rc.STDIN) == b"\xff\x00"
    assert rc.split_message(b"\x03{}") == (rc.ERROR, b"{}")
    assert rc.split_message(b"") == (-1, b"")


def test_negotiation_follows_the_clients_order() -> None:
    offered = rc.parse_protocols(["v5.channel.k8s.io, v4.channel.k8s.io", "channel.k8s.io"])
    assert offered == ["v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io"]
    assert rc.negotiate(offered, rc.SPDY_EXEC_PROTOCOLS) == rc.CHANNEL_V4
    assert rc.negotiate(offered, rc.WEBSOCKET_EXEC_PROTOCOLS) == rc.CHANNEL_V5
    assert rc.negotiate(["v4.channel.k8s.io", "v5.channel.k8s.io"], rc.WEBSOCKET_EXEC_PROTOCOLS) == rc.CHANNEL_V4
    assert rc.negotiate(["channel.k8s.io"], rc.WEBSOCKET_EXEC_PROTOCOLS) is None


def test_exec_options_from_the_api_query() -> None:
    query = {"command": ["sh", "-c", "echo hi"], "container": ["app"], "stdin": ["true"], "stdout": ["1"], "stderr": ["True"]}
    options = rc.ExecOptions.from_api_query(query)
    assert options == rc.ExecOptions("app", ("sh", "-c", "echo hi"), stdin=True, stdout=True, stderr=True, tty=False)
    assert options.kubelet_query() == [("command", "sh"), ("command", "-c"), ("command", "echo hi"), ("input", "1"), ("output", "1"), ("error", "1")]
    assert rc.ExecOptions.from_kubelet_query("app", {"command": ["sh", "-c", "echo hi"], "input": ["1"], "output": ["1"], "error": ["1"]}) == options


def test_a_terminal_has_no_stderr() -> None:
    options = rc.ExecOptions.from_api_query({"command": ["sh"], "stdin": ["true"], "stdout": ["true"], "stderr": ["true"], "tty": ["true"]})
    assert (options.stdout, options.stderr, options.tty) == (True, False, True)
    assert ("tty", "1") in options.kubelet_query() and ("error", "1") not in options.kubelet_query()


def test_exec_options_errors_carry_upstreams_text() -> None:
    with pytest.raises(ValueError, match="you must specify at least 1 command"):
        rc.ExecOptions.from_api_query({"stdout": ["true"]})
    with pytest.raises(ValueError, match="at least 1 of stdin, stdout, stderr"):
        rc.ExecOptions.from_api_query({"command": ["ls"], "stdout": ["false"]})
    attach = rc.ExecOptions.from_api_query({"command": ["ignored"], "stdout": ["true"]}, attach=True)
    assert attach.command == ()


def test_statuses_carry_the_exit_code() -> None:
    assert rc.success_status() == {"metadata": {}, "status": "Success"}
    assert rc.encode_status(rc.success_status()) == b'{"metadata":{},"status":"Success"}'
    failed = rc.exit_code_status(["sh", "-c", "exit 3"], 3)
    assert failed["reason"] == "NonZeroExitCode"
    assert failed["details"] == {"causes": [{"reason": "ExitCode", "message": "3"}]}
    assert list(json.loads(rc.encode_status(failed))) == ["metadata", "status", "message", "reason", "details"]
    assert rc.status_exit_code(failed) == 3
    assert rc.status_exit_code(rc.success_status()) == 0
    broken = rc.failure_status("no such container")
    assert broken["message"] == "Internal error occurred: no such container" and broken["code"] == 500
    assert rc.status_exit_code(broken) is None


def test_resize_json_split_anywhere() -> None:
    decoder = rc.ResizeDecoder()
    wire = rc.TerminalSize(120, 40).encode() + b"\n" + rc.TerminalSize(80, 24).encode()
    sizes = []
    for index in range(len(wire)):
        sizes.extend(decoder.feed(wire[index : index + 1]))
    assert sizes == [rc.TerminalSize(120, 40), rc.TerminalSize(80, 24)]
    assert decoder.feed(b'{"Width":"x"}{"Width":7,"Height":9}') == [rc.TerminalSize(7, 9)]


def test_ports() -> None:
    assert rc.port_prefix(8080) == b"\x90\x1f"
    assert rc.parse_ports(["80", "443,8080"]) == [80, 443, 8080]
    with pytest.raises(ValueError, match="cannot be empty"):
        rc.parse_ports([""])
    with pytest.raises(ValueError, match='unable to parse "http"'):
        rc.parse_ports(["http"])
    with pytest.raises(ValueError, match="must be > 0"):
        rc.parse_ports(["0"])
