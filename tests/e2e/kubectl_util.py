"""Helpers for the kubectl end-to-end tests: names that are unique per kubectl version (both versions
share one server per session), parsing kubectl's column output, and a background `kubectl get -w`
whose output can be waited on.

Must not start servers or keep state between tests (conftest.py's fixtures own the server and the
kubectl binaries); must not hide kubectl failures (every run checks the exit code unless told not to).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import yaml

from tests.e2e.conftest import Kubectl

_HEADER_CELL = re.compile(r"\S+(?: \S+)*")


def version_tag(kubectl: Kubectl) -> str:
    """"133" for kubectl.1.33: a suffix that keeps the two kubectl versions' objects apart."""
    return kubectl.binary.name.rsplit("kubectl.", 1)[1].replace(".", "")


def unique(kubectl: Kubectl, base: str) -> str:
    return f"{base}-{version_tag(kubectl)}"


def new_namespace(kubectl: Kubectl, base: str) -> str:
    name = unique(kubectl, base)
    assert kubectl("create", "namespace", name) == f"namespace/{name} created\n"
    return name


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def header_tokens(text: str) -> list[str]:
    """The whitespace-split tokens of the first (header) line of kubectl's column output."""
    return lines(text)[0].split()


def table(text: str) -> list[dict[str, str]]:
    """Rows of kubectl's column output keyed by header, cut at the header's column starts (kubectl's
    tabwriter aligns every cell with its header, so empty cells come out as "")."""
    all_lines = lines(text)
    head = all_lines[0]
    # Header cells are at least three spaces apart; "NOMINATED NODE" is one cell.
    cells = [(m.start(), m.group()) for m in _HEADER_CELL.finditer(head)]
    rows = []
    for line in all_lines[1:]:
        row = {}
        for index, (start, name) in enumerate(cells):
            end = cells[index + 1][0] if index + 1 < len(cells) else len(line)
            row[name] = line[start:end].strip()
        rows.append(row)
    return rows


def row_named(text: str, name: str, column: str = "NAME") -> dict[str, str]:
    matches = [row for row in table(text) if row.get(column) == name]
    assert len(matches) == 1, f"expected one row with {column}={name} in:\n{text}"
    return matches[0]


def get_json(kubectl: Kubectl, *args: str) -> Any:
    return yaml.safe_load(kubectl("get", *args, "-o", "json"))


def create_yaml(kubectl: Kubectl, manifest: str, *args: str) -> str:
    return kubectl("create", "-f", "-", *args, input=manifest)


def eventually(check: Callable[[], bool], timeout: float = 15.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


class Background:
    """A kubectl command left running (get -w, delete --wait), its output collected line by line."""

    def __init__(self, kubectl: Kubectl, *args: str):
        env = dict(os.environ, KUBECONFIG=str(kubectl.kubeconfig), HOME=str(kubectl.home))
        self.args = args
        self.process = subprocess.Popen(
            [str(kubectl.binary), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float = 15.0, after: int = 0) -> int:
        """Index of the first stdout line (from `after` on) satisfying predicate."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for index in range(after, len(self.stdout)):
                    if predicate(self.stdout[index]):
                        return index
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and not self._alive()):
                    raise AssertionError(
                        f"kubectl {' '.join(self.args)}: no matching line in time; stdout so far:\n"
                        + "\n".join(self.stdout)
                        + "\nstderr:\n"
                        + "\n".join(self.stderr)
                    )
                self._changed.wait(min(remaining, 0.2))

    def _alive(self) -> bool:
        return any(reader.is_alive() for reader in self._readers)

    def wait(self, timeout: float = 30.0) -> int:
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return code

    def kill(self) -> None:
        """Stop the command by its PID (never by name)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        for reader in self._readers:
            reader.join(5)
