"""A pod's network namespace: a named one (`ip netns add NAME`, bind-mounted at
/var/run/netns/NAME) shared by every container of the pod, so they reach each other over
localhost, and kept across kubelet restarts.

Must not configure interfaces or addresses inside it: the CNI plugins do (cni.py).
"""

from __future__ import annotations

from pathlib import Path

from kubelite.runtime.oci.commands import check, run
from kubelite.runtime.oci.errors import OciCommandError

NETNS_DIR = Path("/var/run/netns")


def netns_name(prefix: str, pod_uid: str) -> str:
    """`<prefix><first 8 characters of the uid>`, e.g. kubelite-0f3c9a1b."""
    return f"{prefix}{pod_uid.replace('-', '')[:8]}"


def netns_path(name: str) -> Path:
    return NETNS_DIR / name


def exists(name: str) -> bool:
    return netns_path(name).exists()


async def create(name: str) -> Path:
    """Create the named namespace unless it exists; its path."""
    if not exists(name):
        done = await run(["ip", "netns", "add", name])
        if done.returncode != 0 and not exists(name):
            raise OciCommandError(f"cannot create network namespace {name}: {done.error_text()}")
    return netns_path(name)


async def delete(name: str) -> None:
    """Delete the named namespace; a missing one is fine."""
    if exists(name):
        await check(["ip", "netns", "delete", name])
