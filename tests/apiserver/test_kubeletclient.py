"""Finding a node's kubelet, and the API server's kubelet client credential."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from kubelite.api.errors import StatusError
from kubelite.apiserver.certs import ensure_pki
from kubelite.apiserver.kubeletclient import KubeletClient, kubelet_address


def node(addresses: list[tuple[str, str]], port: int | None = None) -> dict:
    status: dict = {"addresses": [{"type": kind, "address": address} for kind, address in addresses]}
    if port is not None:
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": port}}
    return {"metadata": {"name": "n1"}, "status": status}


def test_the_internal_ip_and_the_advertised_port_are_preferred() -> None:
    assert kubelet_address(node([("Hostname", "n1"), ("ExternalIP", "1.2.3.4"), ("InternalIP", "10.0.0.5")], 10251)) == ("10.0.0.5", 10251)
    assert kubelet_address(node([("Hostname", "n1")])) == ("n1", 10250)
    assert KubeletClient.url(node([("InternalIP", "fd00::5")], 10250), "/healthz") == "https://[fd00::5]:10250/healthz"
    with pytest.raises(StatusError, match="no preferred addresses found"):
        kubelet_address(node([]))
    with pytest.raises(StatusError, match='node "n1" serves no kubelet API') as hollow:
        kubelet_address(node([("InternalIP", "172.16.0.2")], 0))
    assert hollow.value.code == 503


def test_the_client_certificate_is_issued_once(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path)
    KubeletClient.from_pki(pki)
    cert_path = tmp_path / "apiserver-kubelet-client.crt"
    first = cert_path.read_bytes()
    subject = x509.load_pem_x509_certificate(first).subject.rfc4514_string()
    assert subject == "CN=kube-apiserver-kubelet-client,O=system:masters"
    KubeletClient.from_pki(pki, verify_kubelets=False)
    assert cert_path.read_bytes() == first
