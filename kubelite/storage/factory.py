"""open_backend: turn a storage spec string (a CLI flag) into an unstarted Backend.

Specs: "sqlite" (the file <data_dir>/state.db), "memory", or "etcd://host:port[,host:port...]"
(each host reached as http://host:port). Must not start the backend or touch the disk.
"""

from __future__ import annotations

from pathlib import Path

from kubelite.storage.backend import Backend
from kubelite.storage.etcd import EtcdBackend
from kubelite.storage.memory import MemoryBackend
from kubelite.storage.sqlite import SqliteBackend

SQLITE_FILE = "state.db"
ETCD_SCHEME = "etcd://"
SPEC_HELP = 'expected "sqlite", "memory" or "etcd://host:port[,host:port...]"'


def etcd_endpoints(spec: str) -> list[str]:
    """ "etcd://h1:2379,h2:2379" -> ["http://h1:2379", "http://h2:2379"]."""
    hosts = [host.strip().rstrip("/") for host in spec[len(ETCD_SCHEME) :].split(",")]
    if not hosts or any(not host or "/" in host for host in hosts):
        raise ValueError(f"invalid etcd storage spec {spec!r}: {SPEC_HELP}")
    return [f"http://{host}" for host in hosts]


def open_backend(spec: str, data_dir: Path) -> Backend:
    if spec == "sqlite":
        return SqliteBackend(str(data_dir / SQLITE_FILE))
    if spec == "memory":
        return MemoryBackend()
    if spec.startswith(ETCD_SCHEME):
        return EtcdBackend(etcd_endpoints(spec))
    raise ValueError(f"unknown storage spec {spec!r}: {SPEC_HELP}")
