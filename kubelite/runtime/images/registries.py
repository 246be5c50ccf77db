"""Where and how to reach registries, configured like k3s's `registries.yaml`:

    mirrors:
      docker.io:
        endpoint: ["http://127.0.0.1:5000", "https://mirror.example.com"]
        rewrite: {"^library/(.*)": "mirror/$1"}
      "*": {endpoint: [...]}            # for every registry without its own entry
    configs:
      "127.0.0.1:5000":                 # a registry or endpoint host[:port]
        auth: {username: u, password: p}     # or auth: base64("u:p"), identity_token
        tls: {insecure_skip_verify: true, ca_file: …, cert_file: …, key_file: …}

A registry's endpoints are its mirrors in order, then the registry itself over https (for
docker.io: registry-1.docker.io); a loopback registry is also tried over plain http, as
containerd does. Also: credentials from imagePullSecrets (`.dockerconfigjson`-shaped dicts),
matched to an image the way the kubelet's keyring does.

Must not open connections: puller.py does, with what this module answers.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from kubelite.runtime.images.reference import DEFAULT_REGISTRY, ImageReference

DOCKER_HUB_ENDPOINT = "https://registry-1.docker.io"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})
DEFAULT_API_ROOT = "/v2"


class RegistryConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""  # an OAuth2 refresh token for the registry's token service
    registry_token: str = ""  # a bearer token sent as it is

    def __repr__(self) -> str:  # never print secrets
        return f"Credentials(username={self.username!r})"


@dataclass(frozen=True, slots=True)
class TLSSettings:
    insecure_skip_verify: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""

    def context(self) -> ssl.SSLContext | bool:
        """What aiohttp's `ssl=` takes: False to skip verification, else a context."""
        if self.insecure_skip_verify:
            return False
        context = ssl.create_default_context(cafile=self.ca_file or None)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file or None)
        return context


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One place to fetch a registry's content from."""

    base: str  # scheme://host[:port]
    api_root: str = DEFAULT_API_ROOT
    rewrites: tuple[tuple[re.Pattern[str], str], ...] = ()
    credentials: Credentials | None = None
    tls: TLSSettings = field(default_factory=TLSSettings)
    is_default: bool = False  # the registry itself rather than a mirror
    probe: bool = False  # https tried first on a loopback registry: failing to connect is no error

    @property
    def host(self) -> str:
        return urlsplit(self.base).netloc

    def repository(self, repository: str) -> str:
        """The repository path on this endpoint (mirrors may rewrite it)."""
        for pattern, replacement in self.rewrites:
            if pattern.search(repository):
                return pattern.sub(replacement, repository, count=1)
        return repository

    def url(self, repository: str, kind: str, target: str) -> str:
        return f"{self.base}{self.api_root}/{self.repository(repository)}/{kind}/{target}"


def _credentials(auth: Any, where: str) -> Credentials | None:
    if auth is None:
        return None
    if not isinstance(auth, dict):
        raise RegistryConfigError(f"{where}: auth must be a mapping")
    username, password = str(auth.get("username") or ""), str(auth.get("password") or "")
    encoded = auth.get("auth")
    if encoded and not username:
        try:
            username, _, password = base64.b64decode(str(encoded)).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise RegistryConfigError(f"{where}: auth is not base64 of user:password") from None
    return Credentials(
        username=username,
        password=password,
        identity_token=str(auth.get("identity_token") or auth.get("identitytoken") or ""),
        registry_token=str(auth.get("registrytoken") or auth.get("registry_token") or ""),
    )


def _is_loopback(host: str) -> bool:
    name = urlsplit("//" + host).hostname or host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class RegistryConfig:
    """Parsed registries.yaml. `RegistryConfig()` is the empty configuration."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        data = data or {}
        if not isinstance(data, dict):
            raise RegistryConfigError("registries config must be a mapping")
        self._mirrors: dict[str, list[Endpoint]] = {}
        self._auth: dict[str, Credentials | None] = {}
        self._tls: dict[str, TLSSettings] = {}
        for section in ("configs", "mirrors"):
            if not isinstance(data.get(section) or {}, dict):
                raise RegistryConfigError(f"{section} must be a mapping of registry names")
        for host, entry in (data.get("configs") or {}).items():
            if not isinstance(entry, dict):
                raise RegistryConfigError(f"configs.{host} must be a mapping")
            self._auth[str(host)] = _credentials(entry.get("auth"), f"configs.{host}")
            tls = entry.get("tls") or {}
            self._tls[str(host)] = TLSSettings(
                insecure_skip_verify=bool(tls.get("insecure_skip_verify", False)),
                ca_file=str(tls.get("ca_file") or ""),
                cert_file=str(tls.get("cert_file") or ""),
                key_file=str(tls.get("key_file") or ""),
            )
        for registry, entry in (data.get("mirrors") or {}).items():
            if not isinstance(entry, dict):
                raise RegistryConfigError(f"mirrors.{registry} must be a mapping")
            rewrites = tuple(
                (re.compile(pattern), re.sub(r"\$(\d+)", r"\\g<\1>", str(replacement)))
                for pattern, replacement in (entry.get("rewrite") or {}).items()
            )
            if not isinstance(entry.get("endpoint") or [], list):
                raise RegistryConfigError(f"mirrors.{registry}.endpoint must be a list of URLs")
            endpoints = []
            for url in entry.get("endpoint") or []:
                endpoints.append(self._endpoint(str(url), rewrites, registry=str(registry)))
            self._mirrors[str(registry)] = endpoints

    @classmethod
    def load(cls, path: Path) -> RegistryConfig:
        """Read a registries.yaml; a missing file is the empty configuration."""
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            return cls()
        return cls(yaml.safe_load(text) or {})

    def _endpoint(
        self,
        url: str,
        rewrites: tuple[tuple[re.Pattern[str], str], ...] = (),
        *,
        registry: str,
        default: bool = False,
        probe: bool = False,
    ) -> Endpoint:
        if "://" not in url:
            url = "https://" + url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryConfigError(f"bad registry endpoint {url!r}")
        path = parts.path.rstrip("/")
        credentials = self._auth.get(parts.netloc)
        tls = self._tls.get(parts.netloc)
        if default and parts.netloc != registry:
            credentials = credentials or self._auth.get(registry)
            tls = tls or self._tls.get(registry)
        return Endpoint(
            base=f"{parts.scheme}://{parts.netloc}",
            api_root=path or DEFAULT_API_ROOT,
            rewrites=rewrites,
            credentials=credentials,
            tls=tls or TLSSettings(),
            is_default=default,
            probe=probe,
        )

    def endpoints(self, registry: str) -> list[Endpoint]:
        """Where to look for `registry`'s content, in order."""
        found = list(self._mirrors.get(registry, self._mirrors.get("*", [])))
        if registry == DEFAULT_REGISTRY:
            found.append(self._endpoint(DOCKER_HUB_ENDPOINT, registry=registry, default=True))
        else:
            loopback = _is_loopback(registry)
            found.append(self._endpoint(f"https://{registry}", registry=registry, default=True, probe=loopback))
            if loopback:
                found.append(self._endpoint(f"http://{registry}", registry=registry, default=True))
        unique: dict[tuple[str, str], Endpoint] = {}
        for endpoint in found:
            unique.setdefault((endpoint.base, endpoint.api_root), endpoint)
        return list(unique.values())


# ---- imagePullSecrets ------------------------------------------------------------------------


def _split_key(key: str) -> tuple[str, str, str] | None:
    """(host, port, path) of a docker config key such as `https://index.docker.io/v1/`."""
    parts = urlsplit(key if "://" in key else "//" + key)
    if not parts.hostname:
        return None
    host = parts.hostname
    path = parts.path.strip("/")
    if host in DOCKER_HUB_ALIASES:
        host, path = DEFAULT_REGISTRY, "" if path == "v1" else path
    return host, str(parts.port or ""), path


def _host_matches(pattern: str, host: str) -> bool:
    """Per dot-separated label, with `*` matching one label (the kubelet keyring's globs)."""
    pattern_labels, host_labels = pattern.split("."), host.split(".")
    if len(pattern_labels) != len(host_labels):
        return False
    return all(p == "*" or p == h for p, h in zip(pattern_labels, host_labels, strict=True))


def pull_secret_credentials(secrets: Sequence[dict[str, Any]], image: ImageReference) -> list[Credentials]:
    """Credentials from `.dockerconfigjson`-shaped dicts (`{"auths": {key: {...}}}`, or the older
    `.dockercfg` shape without "auths") that apply to `image`, most specific key first."""
    image_parts = urlsplit("//" + image.registry)
    image_host = image_parts.hostname or image.registry
    if image_host in DOCKER_HUB_ALIASES:
        image_host = DEFAULT_REGISTRY
    image_port = str(image_parts.port or "")
    matches: list[tuple[str, Credentials]] = []
    for secret in secrets:
        if not isinstance(secret, dict):
            continue
        auths: dict[str, Any] = secret["auths"] if isinstance(secret.get("auths"), dict) else secret
        for key, auth in auths.items():
            split = _split_key(str(key))
            if split is None or not isinstance(auth, dict):
                continue
            host, port, path = split
            if port != image_port or not _host_matches(host, image_host):
                continue
            if path and not (image.repository == path or image.repository.startswith(path + "/")):
                continue
            try:
                credentials = _credentials(auth, f"pull secret entry {key}")
            except RegistryConfigError:
                continue
            if credentials is not None:
                matches.append((str(key), credentials))
    matches.sort(key=lambda item: item[0], reverse=True)
    return [credentials for _, credentials in matches]
