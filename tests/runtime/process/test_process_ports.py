"""Host-port checks: declared ports, a listener on the host, the message users see."""

from __future__ import annotations

import socket

from kubelite.runtime.process.ports import conflict_message, declared_ports, in_use_on_host


def test_declared_ports_prefer_host_ports_and_keep_protocols() -> None:
    container = {"ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "protocol": "UDP"}, {"containerPort": 53, "protocol": "UDP"}, {"name": "x"}]}
    assert declared_ports(container) == [(8080, "TCP"), (53, "UDP")]
    assert declared_ports({}) == []


def test_a_listening_port_is_in_use_and_a_free_one_is_not() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        assert in_use_on_host((port, "TCP"))
    assert not in_use_on_host((port, "TCP"))


def test_conflict_message_names_the_owner_and_explains() -> None:
    text = conflict_message((8080, "TCP"), "web/one")
    assert text.startswith("port 8080/TCP is already in use by pod web/one")
    assert "host's network" in text
    assert "another process on the node" in conflict_message((1, "UDP"), None)
