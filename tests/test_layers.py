"""Keeps the import arrows pointing down: a layer imports only the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "kubelite"

# Each layer may import the layers to its left (and itself); cli may import everything.
ORDER = ["api", "schema", "storage", "registry", "client", "controllers", "scheduler", "runtime", "kubelet", "network", "apiserver", "cli"]
ALLOWED: dict[str, set[str]] = {
    "api": {"api"},
    "schema": {"api", "schema"},
    "storage": {"storage"},
    "registry": {"api", "schema", "storage", "registry"},
    "client": {"api", "schema", "client"},
    "controllers": {"api", "schema", "client", "controllers"},
    "scheduler": {"api", "schema", "client", "scheduler"},
    "runtime": {"api", "runtime"},
    "kubelet": {"api", "schema", "client", "runtime", "kubelet"},
    "network": {"api", "schema", "client", "controllers", "runtime", "network"},  # components are controllers; tools run via runtime.commands
    "apiserver": {"api", "schema", "storage", "registry", "client", "apiserver"},
    "cli": set(ORDER),
}


def imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "kubelite" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_layers_import_only_downwards() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).parts
        if len(rel) < 2:
            continue
        layer = rel[0]
        assert layer in ALLOWED, f"unknown layer {layer}: add it to tests/test_layers.py"
        for target in imported_layers(path) - ALLOWED[layer] - {"__init__"}:
            if target in ALLOWED:
                wrong.append(f"{path.relative_to(PACKAGE)} imports kubelite.{target}")
    assert not wrong, "layer violations:\n" + "\n".join(wrong)


def test_a_violation_is_detected(tmp_path: Path) -> None:
    bad = tmp_path / "m.py"
    bad.write_text("from kubelite.registry import store\nimport kubelite.api.errors\n")
    assert imported_layers(bad) == {"registry", "api"}
