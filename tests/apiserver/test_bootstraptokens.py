"""Bootstrap-token authentication against a real registry, and the cluster-info ConfigMap that
bootstrap publishes for joining nodes (tests/apiserver/test_rbac.py checks who may read it)."""

from __future__ import annotations

import asyncio
import base64
import copy
from collections.abc import AsyncIterator

import pytest
import yaml

from kubelite.api import bootstraptoken as bt
from kubelite.apiserver.bootstrap import bootstrap
from kubelite.apiserver.bootstraptokens import BootstrapTokenAuthenticator
from kubelite.registry.context import RequestContext
from kubelite.registry.registry import Registry
from kubelite.registry.store import DeleteOptions
from tests.registry.registry_harness import start_registry

TOKEN_ID, TOKEN_SECRET = "abcdef", "0123456789abcdef"
NOW = 1_700_000_000.0


@pytest.fixture
async def registry() -> AsyncIterator[Registry]:
    reg = await start_registry(namespaces=("kube-system",))
    try:
        yield reg
    finally:
        await asyncio.wait_for(reg.stop(), 5.0)


async def _secret(registry: Registry, **changes: object) -> dict:  # type: ignore[type-arg]
    secret = bt.token_secret_object(TOKEN_ID, TOKEN_SECRET, ttl_seconds=3600, now=NOW)
    secret.update(changes)
    store = registry.store("", "v1", "secrets")
    assert store is not None
    return await store.create("kube-system", secret, RequestContext())


async def test_a_valid_token_is_its_bootstrap_user(registry: Registry) -> None:
    await _secret(registry)
    user = BootstrapTokenAuthenticator(registry, clock=lambda: NOW).verify(f"{TOKEN_ID}.{TOKEN_SECRET}")
    assert user is not None
    assert user.name == "system:bootstrap:abcdef"
    assert user.groups == ("system:bootstrappers", "system:bootstrappers:kubelite:default-node-token", "system:authenticated")


async def test_wrong_secret_unknown_id_and_other_tokens_are_not_bootstrap_tokens(registry: Registry) -> None:
    await _secret(registry)
    auth = BootstrapTokenAuthenticator(registry, clock=lambda: NOW)
    assert auth.verify(f"{TOKEN_ID}.0123456789abcdeX") is None
    assert auth.verify(f"{TOKEN_ID}.0123456789abcdee") is None
    assert auth.verify(f"zzzzzz.{TOKEN_SECRET}") is None
    assert auth.verify("eyJhbGciOi.xyz.abc") is None


async def test_expired_tokens_are_ignored(registry: Registry) -> None:
    await _secret(registry)
    assert BootstrapTokenAuthenticator(registry, clock=lambda: NOW + 3601).verify(f"{TOKEN_ID}.{TOKEN_SECRET}") is None


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "Opaque"},
        {"data_update": {"usage-bootstrap-authentication": "false"}},
        {"data_update": {"auth-extra-groups": "system:masters"}},
        {"data_update": {"token-id": "zzzzzz"}},
    ],
)
async def test_secrets_that_do_not_allow_authentication(registry: Registry, changes: dict) -> None:  # type: ignore[type-arg]
    secret = bt.token_secret_object(TOKEN_ID, TOKEN_SECRET, ttl_seconds=3600, now=NOW)
    if "type" in changes:
        secret["type"] = changes["type"]
    for key, value in (changes.get("data_update") or {}).items():
        secret["data"][key] = base64.b64encode(value.encode()).decode()
    store = registry.store("", "v1", "secrets")
    assert store is not None
    await store.create("kube-system", secret, RequestContext())
    assert BootstrapTokenAuthenticator(registry, clock=lambda: NOW).verify(f"{TOKEN_ID}.{TOKEN_SECRET}") is None


async def test_changes_to_the_secret_take_effect(registry: Registry) -> None:
    created = await _secret(registry)
    auth = BootstrapTokenAuthenticator(registry, clock=lambda: NOW)
    assert auth.verify(f"{TOKEN_ID}.{TOKEN_SECRET}") is not None
    store = registry.store("", "v1", "secrets")
    assert store is not None
    revoked = copy.deepcopy(created)
    revoked["data"]["usage-bootstrap-authentication"] = base64.b64encode(b"false").decode()
    await store.update("kube-system", created["metadata"]["name"], revoked, RequestContext())
    assert auth.verify(f"{TOKEN_ID}.{TOKEN_SECRET}") is None
    await store.delete("kube-system", created["metadata"]["name"], DeleteOptions(), RequestContext())
    assert auth.verify(f"{TOKEN_ID}.{TOKEN_SECRET}") is None


async def test_bootstrap_publishes_cluster_info_and_refreshes_it(registry: Registry) -> None:
    await bootstrap(registry, 6443, "10.0.0.1", ca_pem="CA ONE\n", server_url="https://10.0.0.1:6443")
    store = registry.store("", "v1", "configmaps")
    assert store is not None
    info = await store.get("kube-public", "cluster-info")
    config = yaml.safe_load(info["data"]["kubeconfig"])
    (cluster,) = config["clusters"]
    assert cluster["cluster"]["server"] == "https://10.0.0.1:6443"
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]) == b"CA ONE\n"
    assert config["users"] is None and config["kind"] == "Config"
    await bootstrap(registry, 6443, "10.0.0.1", ca_pem="CA TWO\n", server_url="https://10.0.0.1:6443")
    config = yaml.safe_load((await store.get("kube-public", "cluster-info"))["data"]["kubeconfig"])
    assert base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]) == b"CA TWO\n"
