"""Joining a node, end to end against a real `kubelite server`: `kubelite token create` prints a
join token pinning the CA; `bootstrap_credentials` turns it into the node's own client and
serving certificates (auto-approved and signed by the controller manager); the node then talks
to the API as system:node:<name>. Bad tokens, a wrong CA pin and deleted tokens are refused;
`kubectl get csr` and `kubectl certificate approve|deny` work with the real kubectl."""

from __future__ import annotations

import base64
import hashlib
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509

from kubelite.client.client import Client
from kubelite.client.http import from_kubeconfig
from kubelite.kubelet.tlsbootstrap import TLSBootstrapError, bootstrap_credentials
from tests.api.csrfake import csr_object, request_pem
from tests.e2e.conftest import Kubectl
from tests.e2e.server_harness import RunningServer


def kubelite(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "kubelite.cli.main", *args], capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"kubelite {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def create_token(server: RunningServer, *extra: str) -> str:
    out = kubelite("token", "create", "--data-dir", str(server.data_dir), *extra).stdout
    lines = out.splitlines()
    assert len(lines) == 1, out
    return lines[0]


def unique_node() -> str:
    return f"join-{uuid.uuid4().hex[:8]}"


def admin(server: RunningServer) -> Client:
    return Client(from_kubeconfig(server.kubeconfig))


def test_token_create_prints_a_join_token_pinning_the_ca(server: RunningServer) -> None:
    token = create_token(server, "--ttl", "2h", "--description", "for the e2e test")
    ca_hash = hashlib.sha256((server.data_dir / "tls" / "ca.crt").read_bytes()).hexdigest()
    assert token.startswith(f"K10{ca_hash}::")
    token_id = token.split("::")[1].split(".")[0]
    listing = kubelite("token", "list", "--data-dir", str(server.data_dir)).stdout
    row = next(line for line in listing.splitlines() if line.startswith(token_id))
    assert "for the e2e test" in row and "authentication,signing" in row
    assert "system:bootstrappers:kubelite:default-node-token" in row
    assert row.split()[1] in ("1h", "2h")


async def test_bootstrap_gives_the_node_its_own_credentials(server: RunningServer, tmp_path: Path) -> None:
    token = create_token(server)
    node = unique_node()
    directory = tmp_path / "node"
    started = time.monotonic()
    creds = await bootstrap_credentials(server.url, token, node, ["127.0.0.1"], directory, timeout=30)
    first_duration = time.monotonic() - started
    for path in (creds.kubeconfig, creds.ca_cert, creds.client_cert, creds.client_key, creds.serving_cert, creds.serving_key):
        assert path.exists() and path.stat().st_mode & 0o777 == 0o600, path
    assert creds.ca_cert.read_bytes() == (server.data_dir / "tls" / "ca.crt").read_bytes()
    ca = x509.load_pem_x509_certificate(creds.ca_cert.read_bytes())
    serving = x509.load_pem_x509_certificate(creds.serving_cert.read_bytes())
    serving.verify_directly_issued_by(ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert node in sans.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]

    client = Client(from_kubeconfig(creds.kubeconfig))
    try:
        nodes = await client.resource("", "v1", "nodes").list()
        assert nodes["kind"] == "NodeList"
        review = await client.resource("authentication.k8s.io", "v1", "selfsubjectreviews").create(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        )
        info = review["status"]["userInfo"]
        assert info["username"] == f"system:node:{node}"
        assert "system:nodes" in info["groups"]
    finally:
        await client.close()

    before = {p: p.read_bytes() for p in (creds.client_cert, creds.serving_cert, creds.client_key)}
    again = await bootstrap_credentials(server.url, token, node, ["127.0.0.1"], directory, timeout=30)
    assert again == creds
    assert {p: p.read_bytes() for p in before} == before  # reused, not bootstrapped again
    print(f"bootstrap of {node}: {first_duration:.2f}s")


async def test_kubectl_shows_the_node_csrs_approved_and_issued(server: RunningServer, kubectl: Kubectl, tmp_path: Path) -> None:
    node = unique_node()
    await bootstrap_credentials(server.url, create_token(server), node, ["127.0.0.1"], tmp_path / "node", timeout=30)
    out = kubectl("get", "csr")
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]
    client_rows = [r.split() for r in rows if "kube-apiserver-client-kubelet" in r and r.startswith("node-csr-")]
    assert any(r[3].startswith("system:bootstrap:") and r[-1] == "Approved,Issued" for r in client_rows), out
    serving_rows = [r.split() for r in rows if f"system:node:{node}" in r and "kubelet-serving" in r]
    assert len(serving_rows) == 1 and serving_rows[0][-1] == "Approved,Issued", out


async def test_kubectl_certificate_approve_and_deny(server: RunningServer, kubectl: Kubectl) -> None:
    suffix = uuid.uuid4().hex[:6]
    client = admin(server)
    csrs = client.resource("certificates.k8s.io", "v1", "certificatesigningrequests")
    try:
        for name in (f"alice-{suffix}", f"mallory-{suffix}"):
            await csrs.create(
                csr_object(name, request_pem(name, ("devs",)), signer="kubernetes.io/kube-apiserver-client", usages=("client auth",))
            )
        assert "approved" in kubectl("certificate", "approve", f"alice-{suffix}")
        assert "denied" in kubectl("certificate", "deny", f"mallory-{suffix}")
        deadline = time.monotonic() + 10
        while True:
            row = next(line for line in kubectl("get", "csr", f"alice-{suffix}").splitlines()[1:])
            if row.split()[-1] == "Approved,Issued" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert row.split()[-1] == "Approved,Issued"
        denied = kubectl("get", "csr", f"mallory-{suffix}").splitlines()[1]
        assert denied.split()[-1] == "Denied"
        issued = await csrs.get(f"alice-{suffix}")
        cert = x509.load_pem_x509_certificate(base64.b64decode(issued["status"]["certificate"]))
        assert cert.subject.rfc4514_string() == f"CN=alice-{suffix},O=devs"
    finally:
        await client.close()


async def test_a_bad_token_is_rejected_with_401(server: RunningServer, tmp_path: Path) -> None:
    good = create_token(server)
    pin = good.split("::")[0]
    with pytest.raises(TLSBootstrapError, match=r"^kubelite: the join token was rejected \(401\)$"):
        await bootstrap_credentials(server.url, f"{pin}::zzzzzz.0123456789abcdef", unique_node(), [], tmp_path / "n", timeout=10)
    context = ssl.create_default_context(cafile=str(server.data_dir / "tls" / "ca.crt"))
    async with aiohttp.ClientSession() as session, session.get(
        f"{server.url}/api/v1/nodes", headers={"Authorization": "Bearer zzzzzz.0123456789abcdef"}, ssl=context
    ) as response:
        body: dict[str, Any] = await response.json(content_type=None)
    assert response.status == 401
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "Unauthorized", 401)


async def test_a_wrong_ca_pin_names_both_hashes(server: RunningServer, tmp_path: Path) -> None:
    token = create_token(server)
    wrong = hashlib.sha256(b"some other CA").hexdigest()
    real = hashlib.sha256((server.data_dir / "tls" / "ca.crt").read_bytes()).hexdigest()
    with pytest.raises(TLSBootstrapError) as caught:
        await bootstrap_credentials(server.url, f"K10{wrong}::{token.split('::')[1]}", unique_node(), [], tmp_path / "n", timeout=10)
    assert wrong in str(caught.value) and real in str(caught.value)
    assert not (tmp_path / "n" / "client.crt").exists()


async def test_a_bare_token_trusts_the_ca_on_first_use(
    server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = create_token(server).split("::")[1]
    creds = await bootstrap_credentials(server.url, bare, unique_node(), ["127.0.0.1"], tmp_path / "n", timeout=30)
    assert "trusting the server's CA" in capsys.readouterr().err
    assert creds.ca_cert.read_bytes() == (server.data_dir / "tls" / "ca.crt").read_bytes()


async def test_a_deleted_token_no_longer_joins(server: RunningServer, tmp_path: Path) -> None:
    token = create_token(server, "--ttl", "0")
    token_id = token.split("::")[1].split(".")[0]
    out = kubelite("token", "delete", "--data-dir", str(server.data_dir), token_id).stdout
    assert f'bootstrap token "{token_id}" deleted' in out
    with pytest.raises(TLSBootstrapError, match="rejected"):
        await bootstrap_credentials(server.url, token, unique_node(), [], tmp_path / "n", timeout=10)


async def test_only_cluster_info_is_readable_anonymously(server: RunningServer) -> None:
    context = ssl.create_default_context(cafile=str(server.data_dir / "tls" / "ca.crt"))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/api/v1/namespaces/kube-public/configmaps/cluster-info", ssl=context) as info:
            assert info.status == 200
            assert "certificate-authority-data" in (await info.json())["data"]["kubeconfig"]
        async with session.get(f"{server.url}/api/v1/namespaces/kube-public/configmaps", ssl=context) as listing:
            assert listing.status == 401


async def test_a_join_token_may_only_request_certificates(server: RunningServer) -> None:
    """upstream system:node-bootstrapper: CSRs and cluster-info, nothing else (403 Forbidden)."""
    secret = create_token(server).split("::")[1]
    context = ssl.create_default_context(cafile=str(server.data_dir / "tls" / "ca.crt"))
    headers = {"Authorization": f"Bearer {secret}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{server.url}/apis/certificates.k8s.io/v1/certificatesigningrequests", ssl=context) as csrs:
            assert csrs.status == 200
        async with session.get(f"{server.url}/api/v1/namespaces/kube-system/secrets", ssl=context) as secrets:
            body: dict[str, Any] = await secrets.json(content_type=None)
        async with session.get(f"{server.url}/apis/certificates.k8s.io/v1", ssl=context) as discovery:
            assert discovery.status == 200
    assert secrets.status == 403
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "Forbidden", 403)
    user = f"system:bootstrap:{secret.split('.')[0]}"
    assert body["message"] == (
        f'secrets is forbidden: User "{user}" cannot list resource "secrets" in API group "" in the namespace "kube-system"'
    )
