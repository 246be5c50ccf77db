"""The CSR approver and signer against a real in-process registry: kubelet client requests from
bootstrappers and from the node itself are approved and issued by the CA, serving requests only
from the node they name; anything else waits for an admin, and an approved request its signer
cannot honour fails."""

from __future__ import annotations

import asyncio
import base64
import datetime
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from kubelite.apiserver.inprocess import InProcessTransport
from kubelite.client.client import Client, ResourceClient
from kubelite.controllers.base import Controller
from kubelite.controllers.certificates import (
    NODE_CLIENT_MESSAGE,
    SELF_NODE_CLIENT_MESSAGE,
    certificate_controllers,
)
from kubelite.registry.context import UserInfo
from kubelite.registry.registry import Registry
from tests.api.csrfake import approved, csr_object, make_ca, request_pem
from tests.registry.registry_harness import start_registry

Obj = dict[str, Any]
BOOTSTRAPPER = UserInfo("system:bootstrap:abcdef", ("system:bootstrappers", "system:authenticated"))
NODE_A = UserInfo("system:node:a", ("system:nodes", "system:authenticated"))


@dataclass
class Setup:
    registry: Registry
    ca: x509.Certificate
    clients: dict[str, Client]
    controllers: list[Controller]

    def csrs(self, who: str = "admin") -> ResourceClient:
        return self.clients[who].resource("certificates.k8s.io", "v1", "certificatesigningrequests")


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    registry = await start_registry()
    ca_pem, key_pem = make_ca()
    clients = {
        "admin": Client(InProcessTransport(registry, manager="tests")),
        "manager": Client(InProcessTransport(registry, UserInfo("system:kube-controller-manager"), "kube-controller-manager")),
        "bootstrap": Client(InProcessTransport(registry, BOOTSTRAPPER, "kubelet")),
        "node-a": Client(InProcessTransport(registry, NODE_A, "kubelet")),
    }
    controllers = certificate_controllers(clients["manager"], ca_pem, key_pem)
    for controller in controllers:
        await controller.start()
    made = Setup(registry, x509.load_pem_x509_certificate(ca_pem.encode()), clients, controllers)
    try:
        yield made
    finally:
        for controller in controllers:
            await controller.stop()
        for client in clients.values():
            await client.close()
        await asyncio.wait_for(registry.stop(), 5.0)


async def _until(setup: Setup, name: str, test: Any, timeout: float = 5.0) -> Obj:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        csr = await setup.csrs().get(name)
        if test(csr):
            return csr
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"CSR {name} never got there: {csr.get('status')}")
        await asyncio.sleep(0.02)


def _issued(csr: Obj) -> bool:
    return bool((csr.get("status") or {}).get("certificate"))


def _certificate(csr: Obj) -> x509.Certificate:
    return x509.load_pem_x509_certificate(base64.b64decode(csr["status"]["certificate"]))


def _condition(csr: Obj, kind: str) -> Obj | None:
    return next((c for c in (csr.get("status") or {}).get("conditions") or [] if c["type"] == kind), None)


async def _still_pending(setup: Setup, name: str) -> Obj:
    await asyncio.sleep(0.3)
    csr = await setup.csrs().get(name)
    assert not (csr.get("status") or {}).get("conditions") and not _issued(csr), csr.get("status")
    return csr


async def test_bootstrapper_kubelet_client_request_is_approved_and_signed(setup: Setup) -> None:
    await setup.csrs("bootstrap").create(csr_object("node-csr-a", request_pem("system:node:a"), expiration=3600))
    csr = await _until(setup, "node-csr-a", _issued)
    approval = _condition(csr, "Approved")
    assert approval is not None
    assert (approval["status"], approval["reason"], approval["message"]) == ("True", "AutoApproved", NODE_CLIENT_MESSAGE)
    cert = _certificate(csr)
    cert.verify_directly_issued_by(setup.ca)
    assert cert.subject.rfc4514_string() == "CN=system:node:a,O=system:nodes"
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(minutes=60) <= life <= datetime.timedelta(minutes=66)  # 1h plus the backdate
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]


async def test_a_node_renews_its_own_client_certificate_but_not_another_nodes(setup: Setup) -> None:
    await setup.csrs("node-a").create(csr_object("renew-a", request_pem("system:node:a")))
    csr = await _until(setup, "renew-a", _issued)
    approval = _condition(csr, "Approved")
    assert approval is not None and approval["message"] == SELF_NODE_CLIENT_MESSAGE
    life = _certificate(csr).not_valid_after_utc - _certificate(csr).not_valid_before_utc
    assert life >= datetime.timedelta(days=365)  # default: one year
    await setup.csrs("node-a").create(csr_object("steal-b", request_pem("system:node:b")))
    await _still_pending(setup, "steal-b")


async def test_misshapen_client_requests_stay_pending(setup: Setup) -> None:
    await setup.csrs("bootstrap").create(csr_object("masters", request_pem("system:node:a", ("system:masters",))))
    await setup.csrs("bootstrap").create(
        csr_object("server-usage", request_pem("system:node:a"), usages=("client auth", "server auth"))
    )
    await _still_pending(setup, "masters")
    await _still_pending(setup, "server-usage")


async def test_serving_requests_only_from_the_node_itself(setup: Setup) -> None:
    serving = request_pem("system:node:a", dns=("a",), ips=("10.0.0.5",))
    await setup.csrs("node-a").create(
        csr_object("serving-a", serving, signer="kubernetes.io/kubelet-serving", usages=("digital signature", "server auth"))
    )
    csr = await _until(setup, "serving-a", _issued)
    cert = _certificate(csr)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["a"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    await setup.csrs("bootstrap").create(
        csr_object("serving-by-bootstrapper", serving, signer="kubernetes.io/kubelet-serving", usages=("server auth",))
    )
    await _still_pending(setup, "serving-by-bootstrapper")


async def test_api_client_requests_wait_for_an_admin_then_are_signed(setup: Setup) -> None:
    await setup.csrs().create(
        csr_object("alice", request_pem("alice", ("devs",)), signer="kubernetes.io/kube-apiserver-client", usages=("client auth",))
    )
    csr = await _still_pending(setup, "alice")
    await setup.csrs().update(approved(csr), subresource="approval")
    signed = await _until(setup, "alice", _issued)
    assert _certificate(signed).subject.rfc4514_string() == "CN=alice,O=devs"


async def test_an_approved_request_its_signer_refuses_fails(setup: Setup) -> None:
    await setup.csrs().create(
        csr_object("odd", request_pem("system:node:a", dns=("a",)), usages=("client auth",))
    )
    csr = await _still_pending(setup, "odd")
    await setup.csrs().update(approved(csr), subresource="approval")
    failed = await _until(setup, "odd", lambda c: _condition(c, "Failed") is not None)
    condition = _condition(failed, "Failed")
    assert condition is not None and condition["reason"] == "SignerValidationFailure"
    assert "subject alternative names are not allowed" in condition["message"]
    assert not _issued(failed)


async def test_other_signers_are_left_alone(setup: Setup) -> None:
    await setup.csrs().create(csr_object("custom", request_pem("x"), signer="example.com/custom", usages=("client auth",)))
    csr = await _still_pending(setup, "custom")
    await setup.csrs().update(approved(csr), subresource="approval")
    await asyncio.sleep(0.3)
    assert not _issued(await setup.csrs().get("custom"))
