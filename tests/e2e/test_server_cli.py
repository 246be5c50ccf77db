"""The `kubelite` command as users meet it: client-certificate authentication, the
`kubelite kubectl` wrapper, the etcd datastore, and the serving certificate's names."""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from kubelite.apiserver.certs import ClusterPKI, issue_client_certificate
from kubelite.storage.etcd_server import LocalEtcd
from tests.e2e.server_harness import RunningServer, start_server


def _ca_context(server: RunningServer) -> ssl.SSLContext:
    config = yaml.safe_load(server.kubeconfig.read_text())
    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    return ssl.create_default_context(cadata=ca)


def _get(server: RunningServer, path: str, context: ssl.SSLContext, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(server.url + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_client_certificate_signed_by_the_cluster_ca_authenticates(server: RunningServer, tmp_path: Path) -> None:
    tls = server.data_dir / "tls"
    pki = ClusterPKI(tls / "ca.crt", tls / "ca.key", tls / "serving.crt", tls / "serving.key", tls / "admin.crt", tls / "admin.key")
    cert, key = tmp_path / "alice.crt", tmp_path / "alice.key"
    issue_client_certificate(pki, "alice", ["developers"], cert, key)
    context = _ca_context(server)
    context.load_cert_chain(str(cert), str(key))
    status, body = _get(server, "/apis/authentication.k8s.io/v1/selfsubjectreviews", context)
    # authenticated (not 401); alice may not list selfsubjectreviews, as upstream's RBAC answers
    assert status == 403 and body["message"].endswith('User "alice" cannot list resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope')
    request = urllib.request.Request(
        server.url + "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        data=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        review = json.loads(response.read())
    assert review["status"]["userInfo"]["username"] == "alice"
    assert "developers" in review["status"]["userInfo"]["groups"]


def test_a_certificate_from_another_ca_is_not_accepted(server: RunningServer, tmp_path: Path) -> None:
    from kubelite.apiserver.certs import ensure_pki

    other = ensure_pki(tmp_path / "other-ca")
    context = _ca_context(server)
    context.load_cert_chain(str(other.admin_cert), str(other.admin_key))
    try:
        status, body = _get(server, "/api/v1/namespaces", context)
    except (ssl.SSLError, urllib.error.URLError, ConnectionResetError):
        return  # the TLS layer refused the foreign certificate: not authenticated either way
    assert status == 401
    assert body["reason"] == "Unauthorized"


def test_serving_certificate_names_the_loopback_the_hostname_and_the_service_ip(server: RunningServer) -> None:
    cert = x509.load_pem_x509_certificate((server.data_dir / "tls" / "serving.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    names = set(sans.get_values_for_type(x509.DNSName))
    assert {"127.0.0.1", "10.43.0.1"} <= ips
    assert {"localhost", "kubernetes.default.svc"} <= names
    import socket

    assert socket.gethostname() in names or socket.gethostname() == "localhost"


def test_kubelite_kubectl_runs_the_real_kubectl_with_the_cluster_kubeconfig(server: RunningServer, tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path), KUBECTL="/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
    result = subprocess.run(
        [sys.executable, "-m", "kubelite.cli.main", "kubectl", "--data-dir", str(server.data_dir), "get", "namespaces", "-o", "name"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) >= {
        "namespace/default",
        "namespace/kube-system",
        "namespace/kube-public",
        "namespace/kube-node-lease",
    }


def test_kubelite_kubectl_without_a_cluster_says_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kubelite.cli.main", "kubectl", "--data-dir", str(tmp_path / "none"), "get", "pods"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "no kubeconfig" in result.stderr


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[LocalEtcd]:
    local = LocalEtcd(tmp_path / "etcd")
    local.start()
    try:
        yield local
    finally:
        local.stop()


def test_server_on_a_real_etcd_keeps_objects_across_restarts(etcd: LocalEtcd, tmp_path: Path) -> None:
    datastore = "etcd://" + etcd.endpoint.removeprefix("http://")
    first = start_server(tmp_path / "a", "--datastore", datastore)
    try:
        context = _ca_context(first)
        token = yaml.safe_load(first.kubeconfig.read_text())["users"][0]["user"]["token"]
        request = urllib.request.Request(
            first.url + "/api/v1/namespaces/default/configmaps",
            data=json.dumps({"metadata": {"name": "in-etcd"}, "data": {"k": "v"}}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            method="POST",
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            assert response.status == 201
    finally:
        assert first.stop() == 0
    second = start_server(tmp_path / "a", "--datastore", datastore)
    try:
        token = yaml.safe_load(second.kubeconfig.read_text())["users"][0]["user"]["token"]
        status, body = _get(second, "/api/v1/namespaces/default/configmaps/in-etcd", _ca_context(second), token)
        assert status == 200
        assert body["data"] == {"k": "v"}
    finally:
        second.stop()
