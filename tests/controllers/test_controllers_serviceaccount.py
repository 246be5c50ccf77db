"""The default ServiceAccount and kube-root-ca.crt publishers against a real in-process registry
(whose own default-ServiceAccount creation is off): created in every active namespace, recreated
when deleted, the CA data put back when changed, nothing written into terminating namespaces."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kubelite.controllers.serviceaccount import RootCACertPublisher, ServiceAccountsController
from tests.controllers.core_controllers_harness import Env, environment, eventually, exists, unique_namespace

CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with environment(lifecycle_inside=False) as made:
        accounts = ServiceAccountsController(made.client)
        publisher = RootCACertPublisher(made.client, CA)
        await accounts.start()
        await publisher.start()
        try:
            yield made
        finally:
            await publisher.stop()
            await accounts.stop()


async def test_every_namespace_gets_a_default_service_account(env: Env) -> None:
    accounts = env.rc("", "v1", "serviceaccounts")
    await eventually(lambda: exists(accounts, "default"), what="default SA in the test namespace")
    await eventually(lambda: exists(env.rc("", "v1", "serviceaccounts", "default"), "default"), what="in default")
    other = unique_namespace()
    await env.rc("", "v1", "namespaces").create({"metadata": {"name": other}})
    await eventually(lambda: exists(env.rc("", "v1", "serviceaccounts", other), "default"), what="SA in new namespace")


async def test_deleted_default_service_account_is_recreated(env: Env) -> None:
    accounts = env.rc("", "v1", "serviceaccounts")
    await eventually(lambda: exists(accounts, "default"), what="default SA")
    first = await accounts.get("default")
    await accounts.delete("default")

    async def recreated() -> bool:
        try:
            return (await accounts.get("default"))["metadata"]["uid"] != first["metadata"]["uid"]
        except Exception:
            return False

    await eventually(recreated, what="default SA recreated")


async def test_root_ca_configmap_is_published_and_kept(env: Env) -> None:
    configmaps = env.configmaps()
    await eventually(lambda: exists(configmaps, "kube-root-ca.crt"), what="root CA configmap")
    published = await configmaps.get("kube-root-ca.crt")
    assert published["data"] == {"ca.crt": CA}
    assert published["metadata"]["annotations"]["kubernetes.io/description"].startswith("Contains a CA bundle")
    await configmaps.patch("kube-root-ca.crt", {"data": {"ca.crt": "tampered", "extra": "x"}})

    async def restored() -> bool:
        return (await configmaps.get("kube-root-ca.crt")).get("data") == {"ca.crt": CA}

    await eventually(restored, what="CA data restored")
    await configmaps.delete("kube-root-ca.crt")
    await eventually(lambda: exists(configmaps, "kube-root-ca.crt"), what="root CA configmap recreated")


async def test_terminating_namespace_gets_nothing_new(env: Env) -> None:
    accounts = env.rc("", "v1", "serviceaccounts")
    await eventually(lambda: exists(accounts, "default"), what="default SA")
    await eventually(lambda: exists(env.configmaps(), "kube-root-ca.crt"), what="root CA configmap")
    await env.rc("", "v1", "namespaces").delete(env.namespace)  # stays Terminating: no namespace controller
    await accounts.delete("default")
    await env.configmaps().delete("kube-root-ca.crt")
    await asyncio.sleep(0.3)  # the controllers would have recreated both by now (see the tests above)
    assert not await exists(accounts, "default")
    assert not await exists(env.configmaps(), "kube-root-ca.crt")
