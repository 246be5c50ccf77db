"""CertificateSigningRequests in the registry: who asked is recorded, and the main resource,
/approval and /status each change only what upstream lets them."""

from __future__ import annotations

import base64
import copy

from registry_harness import ctx, expect_status, store_of

from kubelite.registry.context import UserInfo
from kubelite.registry.registry import Registry
from tests.api.csrfake import approved, csr_object, make_ca, request_pem

BOOTSTRAPPER = UserInfo("system:bootstrap:abcdef", ("system:bootstrappers", "system:authenticated"))


def _store(registry: Registry):  # type: ignore[no-untyped-def]
    return store_of(registry, "certificates.k8s.io", "certificatesigningrequests")


def _certificate_pem() -> str:
    return base64.b64encode(make_ca()[0].encode()).decode()


async def _created(registry: Registry, name: str = "node-csr-1") -> dict:  # type: ignore[type-arg]
    body = csr_object(name, request_pem("system:node:a"))
    body["spec"]["username"] = "someone-else"
    body["spec"]["groups"] = ["system:masters"]
    body["status"] = {"conditions": [{"type": "Approved", "status": "True"}]}
    return await _store(registry).create("", body, ctx(user=BOOTSTRAPPER))


async def test_create_records_the_requester_and_clears_status(registry: Registry) -> None:
    created = await _created(registry)
    assert created["spec"]["username"] == "system:bootstrap:abcdef"
    assert created["spec"]["groups"] == ["system:bootstrappers", "system:authenticated"]
    assert created["status"] == {}


async def test_approval_adds_conditions_with_timestamps(registry: Registry) -> None:
    created = await _created(registry)
    result, _ = await _store(registry).update("", created["metadata"]["name"], approved(copy.deepcopy(created)), ctx(), subresource="approval")
    (condition,) = result["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == ("Approved", "True", "Manual")
    assert condition["lastUpdateTime"] and condition["lastTransitionTime"]
    assert result["spec"] == created["spec"]


async def test_approval_may_not_set_the_certificate_or_remove_approval(registry: Registry) -> None:
    store = _store(registry)
    created = await _created(registry)
    body = approved(copy.deepcopy(created))
    body["status"]["certificate"] = _certificate_pem()
    result, _ = await store.update("", "node-csr-1", body, ctx(), subresource="approval")
    assert "certificate" not in result["status"]  # silently kept as it was
    cleared = copy.deepcopy(result)
    cleared["status"]["conditions"] = []
    err = await expect_status(store.update("", "node-csr-1", cleared, ctx(), subresource="approval"), 422)
    assert 'status.conditions: Forbidden: updates may not remove a condition of type "Approved"' in err.message


async def test_approved_and_denied_are_mutually_exclusive(registry: Registry) -> None:
    created = await _created(registry)
    body = approved(copy.deepcopy(created))
    body["status"]["conditions"].append({"type": "Denied", "status": "True", "reason": "No"})
    err = await expect_status(_store(registry).update("", "node-csr-1", body, ctx(), subresource="approval"), 422)
    assert "Approved and Denied conditions are mutually exclusive" in err.message


async def test_main_resource_keeps_spec_and_status(registry: Registry) -> None:
    created = await _created(registry)
    body = approved(copy.deepcopy(created))
    body["spec"]["signerName"] = "example.com/other"
    body["metadata"]["labels"] = {"a": "b"}
    result, _ = await _store(registry).update("", "node-csr-1", body, ctx())
    assert result["metadata"]["labels"] == {"a": "b"}
    assert result["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
    assert result["status"] == {}


async def test_status_sets_the_certificate_once_but_not_approval(registry: Registry) -> None:
    store = _store(registry)
    created = await _created(registry)
    sneaky = approved(copy.deepcopy(created))
    err = await expect_status(store.update("", "node-csr-1", sneaky, ctx(), subresource="status"), 422)
    assert 'updates may not add a condition of type "Approved"' in err.message
    current, _ = await store.update("", "node-csr-1", approved(copy.deepcopy(created)), ctx(), subresource="approval")
    issued = copy.deepcopy(current)
    issued["status"]["certificate"] = _certificate_pem()
    result, _ = await store.update("", "node-csr-1", issued, ctx(), subresource="status")
    assert result["status"]["certificate"] == issued["status"]["certificate"]
    assert [c["type"] for c in result["status"]["conditions"]] == ["Approved"]
    again = copy.deepcopy(result)
    again["status"]["certificate"] = _certificate_pem()
    err = await expect_status(store.update("", "node-csr-1", again, ctx(), subresource="status"), 422)
    assert "status.certificate: Forbidden: updates may not modify existing certificate content" in err.message


async def test_status_rejects_a_certificate_that_is_not_pem(registry: Registry) -> None:
    store = _store(registry)
    created = await _created(registry)
    current, _ = await store.update("", "node-csr-1", approved(copy.deepcopy(created)), ctx(), subresource="approval")
    current["status"]["certificate"] = base64.b64encode(b"not a certificate").decode()
    err = await expect_status(store.update("", "node-csr-1", current, ctx(), subresource="status"), 422)
    assert "must contain at least one CERTIFICATE PEM block" in err.message


async def test_validation_of_new_requests(registry: Registry) -> None:
    store = _store(registry)
    tampered = csr_object("bad", request_pem("system:node:a").replace(b"MI", b"MJ", 1))
    err = await expect_status(store.create("", tampered, ctx()), 422)
    assert "spec.request" in err.message
    no_usages = csr_object("nousage", request_pem("x"), usages=())
    err = await expect_status(store.create("", no_usages, ctx()), 422)
    assert "spec.usages: Required value" in err.message
    short = csr_object("short", request_pem("x"), expiration=60)
    err = await expect_status(store.create("", short, ctx()), 422)
    assert "may not specify a duration less than 600 seconds (10 minutes)" in err.message
    unsigned = csr_object("nosigner", request_pem("x"), signer="")
    err = await expect_status(store.create("", unsigned, ctx()), 422)
    assert "spec.signerName: Required value" in err.message
    odd = csr_object("odd", request_pem("x"), usages=("client auth", "flying"))
    err = await expect_status(store.create("", odd, ctx()), 422)
    assert 'spec.usages[1]: Unsupported value: "flying"' in err.message
