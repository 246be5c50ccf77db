"""ServiceAccount admission on pod create (kubelite/registry/kinds.py): the default account, the
account's imagePullSecrets copied into a pod that names none, and the API access volume unless
the pod or its account opts out."""

from __future__ import annotations

from typing import Any

from registry_harness import ctx, pod, store_of

from kubelite.registry.registry import Registry

Obj = dict[str, Any]


async def create_account(registry: Registry, name: str, **fields: Any) -> None:
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "default"}, **fields}
    await store_of(registry, "", "serviceaccounts").create("default", account, ctx())


async def create_pod(registry: Registry, name: str, **spec: Any) -> Obj:
    made = pod(name)
    made["spec"].update(spec)
    created: Obj = await store_of(registry, "", "pods").create("default", made, ctx())
    return created


def access_volumes(created: Obj) -> list[str]:
    return [v["name"] for v in created["spec"].get("volumes") or [] if v["name"].startswith("kube-api-access-")]


async def test_the_accounts_pull_secrets_are_copied_into_a_pod_that_names_none(registry: Registry) -> None:
    await create_account(registry, "puller", imagePullSecrets=[{"name": "regcred"}, {"name": "backup"}])
    created = await create_pod(registry, "p1", serviceAccountName="puller")
    assert created["spec"]["imagePullSecrets"] == [{"name": "regcred"}, {"name": "backup"}]
    assert created["spec"]["serviceAccount"] == "puller"
    assert len(access_volumes(created)) == 1


async def test_a_pod_with_its_own_pull_secrets_keeps_only_those(registry: Registry) -> None:
    await create_account(registry, "puller", imagePullSecrets=[{"name": "regcred"}])
    created = await create_pod(registry, "p1", serviceAccountName="puller", imagePullSecrets=[{"name": "mine"}])
    assert created["spec"]["imagePullSecrets"] == [{"name": "mine"}]


async def test_without_account_pull_secrets_nothing_is_added(registry: Registry) -> None:
    await create_account(registry, "plain")
    created = await create_pod(registry, "p1", serviceAccountName="plain")
    assert "imagePullSecrets" not in created["spec"]


async def test_an_account_that_opts_out_of_automount_gets_no_access_volume(registry: Registry) -> None:
    await create_account(registry, "quiet", automountServiceAccountToken=False, imagePullSecrets=[{"name": "regcred"}])
    created = await create_pod(registry, "p1", serviceAccountName="quiet")
    assert access_volumes(created) == [] and created["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    # the pod's own setting wins over the account's
    overridden = await create_pod(registry, "p2", serviceAccountName="quiet", automountServiceAccountToken=True)
    assert len(access_volumes(overridden)) == 1
