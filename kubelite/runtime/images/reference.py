"""Image references as the Docker/OCI tooling reads them: `busybox` means
`docker.io/library/busybox:latest`, a first path component with a dot, a colon or `localhost` is a
registry host, `index.docker.io` is `docker.io`, and a digest pins the content.

Must not do any I/O or know about the image store or registries beyond the name grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
OFFICIAL_PREFIX = "library/"
NAME_MAX_LENGTH = 255

# The grammar of github.com/distribution/reference, as regular expressions.
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN = re.compile(
    r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
    r"|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_HEX64 = re.compile(r"[a-f0-9]{64}")

INVALID_FORMAT = "invalid reference format"


class InvalidReference(ValueError):
    """A string that is not an image reference; str() is the upstream wording."""


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A normalized reference. `tag` is None only when a digest is given without one."""

    registry: str  # "docker.io", "127.0.0.1:5000"
    repository: str  # "library/busybox"
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The repository's full name, e.g. `docker.io/library/busybox`."""
        return f"{self.registry}/{self.repository}"

    @property
    def target(self) -> str:
        """What to ask the registry's manifests endpoint for: the digest when pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def tagged(self) -> str | None:
        """`name:tag`, the key the store indexes tags by (None for digest-only references)."""
        return f"{self.name}:{self.tag}" if self.tag else None

    def with_digest(self, digest: str) -> str:
        """`name@digest`, the form of a repo digest."""
        return f"{self.name}@{digest}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str) -> ImageReference:
    """Parse and normalize `text`, defaulting the registry, the `library/` prefix and the tag
    (`latest`, only when there is no digest). Raises InvalidReference."""
    if not text or text != text.strip():
        raise InvalidReference(INVALID_FORMAT)
    remainder, digest = text, None
    if "@" in remainder:
        remainder, digest = remainder.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise InvalidReference(INVALID_FORMAT)
    tag = None
    colon, slash = remainder.rfind(":"), remainder.rfind("/")
    if colon > slash:
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise InvalidReference(INVALID_FORMAT)
    registry, repository = _split_registry(remainder)
    if not repository:
        raise InvalidReference(INVALID_FORMAT)
    if not _DOMAIN.fullmatch(registry):
        raise InvalidReference(INVALID_FORMAT)
    for component in repository.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            if _PATH_COMPONENT.fullmatch(component.lower()):
                raise InvalidReference(f"{INVALID_FORMAT}: repository name must be lowercase")
            raise InvalidReference(INVALID_FORMAT)
    if len(remainder) > NAME_MAX_LENGTH:
        raise InvalidReference(f"repository name must not be more than {NAME_MAX_LENGTH} characters")
    if _HEX64.fullmatch(text):
        raise InvalidReference(f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return ImageReference(registry=registry, repository=repository, tag=tag, digest=digest)


def normalize_reference(text: str) -> str:
    """The fully qualified form of `text`, e.g. `docker.io/library/busybox:latest`."""
    return str(parse_reference(text))


def _split_registry(name: str) -> tuple[str, str]:
    slash = name.find("/")
    first = name[:slash] if slash >= 0 else ""
    is_host = slash >= 0 and ("." in first or ":" in first or first == "localhost" or first.lower() != first)
    if not is_host:
        registry, repository = DEFAULT_REGISTRY, name
    else:
        registry, repository = first, name[slash + 1 :]
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = OFFICIAL_PREFIX + repository
    return registry, repository
