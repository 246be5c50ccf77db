"""Writing a volume's files as upstream's AtomicWriter does: the payload goes into a fresh hidden
timestamped directory, the `..data` symlink is swapped to it by one rename, and each top-level
name is a symlink through `..data`, so a reader in the container sees the old set or the new set,
never a mix. Nothing is written when the payload is what is already there.

Must not know where payloads come from (volumes.py builds them).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

Payload = dict[str, tuple[bytes, int]]  # relative path -> (content, mode)

DATA_DIR = "..data"
DATA_DIR_TMP = "..data_tmp"


def current_payload(target: Path) -> Payload | None:
    """What `target` holds now (None when it was never written)."""
    data = target / DATA_DIR
    if not data.is_symlink():
        return None
    base = target / os.readlink(data)
    found: Payload = {}
    for root, _dirs, files in os.walk(base):
        for name in files:
            path = Path(root) / name
            found[str(path.relative_to(base))] = (path.read_bytes(), path.stat().st_mode & 0o7777)
    return found


def write_payload(target: Path, payload: Payload) -> bool:
    """Make `target` show `payload`; False when it already did."""
    for rel in payload:
        if rel.startswith("..") or os.path.isabs(rel) or ".." in Path(rel).parts:
            raise ValueError(f"invalid path {rel!r}: must be relative and may not contain '..'")
    target.mkdir(parents=True, exist_ok=True)
    if current_payload(target) == payload:
        return False
    old = os.readlink(target / DATA_DIR) if (target / DATA_DIR).is_symlink() else None
    stamp = f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{secrets.randbelow(10**9)}"
    fresh = target / stamp
    fresh.mkdir(mode=0o755)
    for rel, (content, mode) in payload.items():
        path = fresh / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.chmod(path, mode)
    tmp = target / DATA_DIR_TMP
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(stamp, tmp)
    os.rename(tmp, target / DATA_DIR)
    tops = {rel.split("/", 1)[0] for rel in payload}
    for top in tops:
        link = target / top
        if not link.is_symlink():
            os.symlink(f"{DATA_DIR}/{top}", link)
    for entry in os.listdir(target):
        if entry.startswith(".."):
            continue
        if entry not in tops and (target / entry).is_symlink():
            (target / entry).unlink()
    if old is not None and old != stamp:
        shutil.rmtree(target / old, ignore_errors=True)
    return True
