"""LocalEtcd: the failure message when etcd is not installed, and a real start/stop."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest

from kubelite.storage.etcd_server import ETCD_BINARY, EtcdNotInstalled, LocalEtcd


def test_a_missing_binary_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(EtcdNotInstalled, match="`make install` installs the Debian package etcd-server"):
        LocalEtcd(tmp_path, binary=str(tmp_path / "no-etcd")).start()


def test_start_waits_for_health_and_stop_ends_the_process(tmp_path: Path) -> None:
    if not os.access(ETCD_BINARY, os.X_OK):
        pytest.fail(f"{ETCD_BINARY} missing: `make install` installs etcd-server", pytrace=False)
    with LocalEtcd(tmp_path) as server:
        assert server.process is not None
        pid = server.process.pid
        with urllib.request.urlopen(server.endpoint + "/health", timeout=5) as response:
            assert b'"true"' in response.read()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
