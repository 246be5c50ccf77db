"""The nginx master the ingress controller runs: `nginx -t` verdicts, a start that fails (port
taken) reported with nginx's words, reload by SIGHUP, a master left behind by an earlier run
stopped before a new start, and stop by PID. nginx listens on 127.0.0.1 only."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from kubelite.network.ingress.process import NginxError, NginxProcess
from tests.network.ingress_harness import require_nginx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_conf(prefix: Path, port: int, body: str = "return 200 ok;") -> Path:
    for directory in ("conf", "logs", "tmp"):
        (prefix / directory).mkdir(parents=True, exist_ok=True)
    conf = prefix / "conf" / "nginx.conf"
    conf.write_text(
        f'worker_processes 1; pid "{prefix}/logs/nginx.pid"; error_log "{prefix}/logs/error.log";\n'
        f"events {{ worker_connections 64; }}\n"
        f'http {{ access_log off; client_body_temp_path "{prefix}/tmp/cb"; proxy_temp_path "{prefix}/tmp/p";\n'
        f'fastcgi_temp_path "{prefix}/tmp/f"; uwsgi_temp_path "{prefix}/tmp/u"; scgi_temp_path "{prefix}/tmp/s";\n'
        f"server {{ listen 127.0.0.1:{port}; location / {{ {body} }} }} }}\n"
    )
    return conf


def get(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    return data.split(b"\r\n\r\n", 1)[1].decode()


async def test_test_start_reload_and_stop(tmp_path: Path) -> None:
    require_nginx()
    port = free_port()
    conf = write_conf(tmp_path, port)
    nginx = NginxProcess(tmp_path, conf, tmp_path / "logs" / "nginx.pid")
    ok, said = await nginx.test(conf)
    assert ok and said == ""
    bad = tmp_path / "conf" / "bad.conf"
    bad.write_text("events {} http { nonsense; }\n")
    ok, said = await nginx.test(bad)
    assert not ok and 'unknown directive "nonsense"' in said and f"{bad}:1" in said
    await nginx.start()
    try:
        assert nginx.running and get(port) == "ok"
        write_conf(tmp_path, port, "return 200 changed;")
        nginx.reload()
        deadline = time.monotonic() + 5
        while get(port) != "changed":
            assert time.monotonic() < deadline, "the reload did not take"
            time.sleep(0.02)
    finally:
        pid = nginx.pid
        await nginx.stop()
        await nginx.stop()
    assert not nginx.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_start_that_cannot_bind_says_why(tmp_path: Path) -> None:
    require_nginx()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        conf = write_conf(tmp_path, taken.getsockname()[1])
        nginx = NginxProcess(tmp_path, conf, tmp_path / "logs" / "nginx.pid")
        with pytest.raises(NginxError, match="Address already in use"):
            await nginx.start()
    assert not nginx.running


async def test_a_master_left_by_an_earlier_run_is_stopped_first(tmp_path: Path) -> None:
    require_nginx()
    port = free_port()
    conf = write_conf(tmp_path, port)
    pid_file = tmp_path / "logs" / "nginx.pid"
    earlier = subprocess.Popen(
        ["nginx", "-p", f"{tmp_path}/", "-c", str(conf), "-g", "daemon off;"], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 5
        while not pid_file.exists() or pid_file.read_text().strip() != str(earlier.pid):
            assert time.monotonic() < deadline, "the earlier nginx did not start"
            time.sleep(0.02)
        nginx = NginxProcess(tmp_path, conf, pid_file)
        await nginx.start()  # would fail to bind if the earlier master still held the port
        try:
            assert earlier.wait(timeout=5) is not None
            assert get(port) == "ok" and nginx.pid != earlier.pid
        finally:
            await nginx.stop()
    finally:
        if earlier.poll() is None:
            earlier.kill()
            earlier.wait()
