"""registries.yaml parsing: mirrors in order before the registry itself; malformed sections are
a RegistryConfigError naming the section, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.runtime.images.registries import RegistryConfig, RegistryConfigError


def test_mirrors_come_before_the_registry(tmp_path: Path) -> None:
    path = tmp_path / "registries.yaml"
    path.write_text('mirrors:\n  docker.io:\n    endpoint: ["http://10.0.0.1:5000", "https://mirror.example"]\n')
    bases = [e.base for e in RegistryConfig.load(path).endpoints("docker.io")]
    assert bases == ["http://10.0.0.1:5000", "https://mirror.example", "https://registry-1.docker.io"]
    assert [e.base for e in RegistryConfig.load(tmp_path / "absent.yaml").endpoints("docker.io")] == ["https://registry-1.docker.io"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mirrors: [a, b]\n", "mirrors must be a mapping"),
        ("configs: just-text\n", "configs must be a mapping"),
        ("mirrors:\n  docker.io: nope\n", "mirrors.docker.io must be a mapping"),
        ("mirrors:\n  docker.io:\n    endpoint: http://x\n", "mirrors.docker.io.endpoint must be a list"),
        ("- a list\n", "must be a mapping"),
    ],
)
def test_malformed_files_name_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "registries.yaml"
    path.write_text(text)
    with pytest.raises(RegistryConfigError, match=message):
        RegistryConfig.load(path)
