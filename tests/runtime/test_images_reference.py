from __future__ import annotations

import pytest

from kubelite.runtime.images.reference import InvalidReference, normalize_reference, parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/library/busybox:1", "docker.io/library/busybox:1"),
        ("rancher/k3s:v1.30", "docker.io/rancher/k3s:v1.30"),
        ("kubelite.test/web:1", "kubelite.test/web:1"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/team/app:2", "localhost:5000/team/app:2"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}"),
        (f"busybox:1@{DIGEST}", f"docker.io/library/busybox:1@{DIGEST}"),
        ("a.b/c__d/e-f--g.h:Tag_1.x-y", "a.b/c__d/e-f--g.h:Tag_1.x-y"),
        ("[::1]:5000/app:1", "[::1]:5000/app:1"),
    ],
)
def test_references_normalize_like_docker(text: str, normalized: str) -> None:
    assert normalize_reference(text) == normalized


def test_parts_of_a_reference() -> None:
    ref = parse_reference("localhost:5000/team/app:2")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == ("localhost:5000", "team/app", "2", None)
    assert ref.name == "localhost:5000/team/app"
    assert ref.tagged == "localhost:5000/team/app:2"
    assert ref.target == "2"
    assert ref.with_digest(DIGEST) == f"localhost:5000/team/app@{DIGEST}"
    pinned = parse_reference(f"busybox@{DIGEST}")
    assert pinned.tag is None and pinned.tagged is None and pinned.target == DIGEST


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid reference format"),
        ("busybox:", "invalid reference format"),
        ("busybox:-bad", "invalid reference format"),
        ("busybox@sha256:123", "invalid reference format"),
        ("Busybox", "invalid reference format: repository name must be lowercase"),
        ("docker.io/Library/busybox", "invalid reference format: repository name must be lowercase"),
        ("a//b", "invalid reference format"),
        ("a/b/", "invalid reference format"),
        ("-a/b", "invalid reference format"),
        (" busybox", "invalid reference format"),
        ("busybox:" + "x" * 129, "invalid reference format"),
        ("a" * 64, f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal strings"),
        ("x/" + "a" * 260, "repository name must not be more than 255 characters"),
    ],
)
def test_bad_references_fail_with_upstream_messages(text: str, message: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        parse_reference(text)
    assert str(caught.value) == message
