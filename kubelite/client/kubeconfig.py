"""Reading a kubeconfig file: the server address and credentials of one context, as kubectl
resolves them (current-context unless one is named; `*-data` fields inline, file fields relative
to the kubeconfig's directory).

Must not open connections or build TLS contexts; it only reads the file into `ClusterAccess`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class ClusterAccess:
    server: str
    ca_pem: bytes | None = None
    insecure: bool = False
    token: str = ""
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None


class KubeconfigError(Exception):
    """The kubeconfig is missing something a connection needs."""


def _named(entries: Any, name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(what)
            return value if isinstance(value, dict) else {}
    raise KubeconfigError(f"{what} {name!r} not found in kubeconfig")


def _pem(section: dict[str, Any], data_key: str, file_key: str, base: Path) -> bytes | None:
    if section.get(data_key):
        return base64.b64decode(section[data_key])
    if section.get(file_key):
        return (base / str(section[file_key])).read_bytes()
    return None


def load_kubeconfig(path: str | Path, context: str = "") -> ClusterAccess:
    path = Path(path).expanduser()
    config = yaml.safe_load(path.read_text()) or {}
    base = path.parent
    context_name = context or config.get("current-context") or ""
    if not context_name:
        raise KubeconfigError("kubeconfig has no current-context")
    ctx = _named(config.get("contexts"), context_name, "context")
    cluster = _named(config.get("clusters"), str(ctx.get("cluster", "")), "cluster")
    user = _named(config.get("users"), str(ctx.get("user", "")), "user") if ctx.get("user") else {}
    server = str(cluster.get("server") or "")
    if not server:
        raise KubeconfigError(f"cluster of context {context_name!r} has no server")
    token = str(user.get("token") or "")
    if not token and user.get("tokenFile"):
        token = (base / str(user["tokenFile"])).read_text().strip()
    return ClusterAccess(
        server=server,
        ca_pem=_pem(cluster, "certificate-authority-data", "certificate-authority", base),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        token=token,
        client_cert_pem=_pem(user, "client-certificate-data", "client-certificate", base),
        client_key_pem=_pem(user, "client-key-data", "client-key", base),
    )
