"""How the API server reaches a node's kubelet: the node's address (status.addresses, InternalIP
first) and port (status.daemonEndpoints.kubeletEndpoint.Port), HTTPS with the API server's own
client certificate, the kubelet's serving certificate checked against the cluster CA when one is
configured, and the two kinds of call streaming needs: a streamed GET and a WebSocket.

Must not interpret what flows over those connections (apiserver/streaming.py does).
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from kubelite.api import errors
from kubelite.apiserver.certs import ClusterPKI, issue_client_certificate

Obj = dict[str, Any]
KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"
KUBELET_CLIENT_GROUPS = ["system:masters"]
ADDRESS_PREFERENCE = ("InternalIP", "ExternalIP", "InternalDNS", "ExternalDNS", "Hostname")
DEFAULT_KUBELET_PORT = 10250


def kubelet_address(node: Obj) -> tuple[str, int]:
    """(host, port) of the node's kubelet; raises a StatusError when the node names no address
    or advertises port 0."""
    status = node.get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or [] if a.get("address")}
    host = next((addresses[kind] for kind in ADDRESS_PREFERENCE if kind in addresses), "")
    if not host:
        name = (node.get("metadata") or {}).get("name", "")
        raise errors.internal(f'no preferred addresses found; known addresses: [] for node "{name}"')
    endpoint = (status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}
    if endpoint.get("Port") == 0:  # a node that serves no kubelet API (a hollow node) says so
        name = (node.get("metadata") or {}).get("name", "")
        raise errors.service_unavailable(f'node "{name}" serves no kubelet API (its kubeletEndpoint port is 0)')
    port = int(endpoint.get("Port") or DEFAULT_KUBELET_PORT)
    return host, port


def kubelet_client_ssl_context(cert_file: str, key_file: str, ca_file: str | None) -> ssl.SSLContext:
    """Present our client certificate; verify the kubelet against `ca_file`, or (without one)
    accept any serving certificate, as upstream does without --kubelet-certificate-authority."""
    if ca_file:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(cert_file, key_file)
    return context


class KubeletClient:
    def __init__(self, ssl_context: ssl.SSLContext, *, connect_timeout: float = 10.0):
        self.ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_pki(cls, pki: ClusterPKI, *, verify_kubelets: bool = True) -> KubeletClient:
        """With the client certificate `kube-apiserver-kubelet-client` (group system:masters) next
        to the cluster CA, issued on first use."""
        directory = Path(pki.ca_cert).parent
        cert, key = directory / "apiserver-kubelet-client.crt", directory / "apiserver-kubelet-client.key"
        if not (cert.exists() and key.exists()):
            issue_client_certificate(pki, KUBELET_CLIENT_USER, KUBELET_CLIENT_GROUPS, cert, key)
        ca = str(pki.ca_cert) if verify_kubelets else None
        return cls(kubelet_client_ssl_context(str(cert), str(key), ca))

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=None, connect=self.connect_timeout, sock_connect=self.connect_timeout)
            connector = aiohttp.TCPConnector(ssl=self.ssl_context, limit=0, enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False)
        return self._session

    @staticmethod
    def url(node: Obj, path: str) -> str:
        host, port = kubelet_address(node)
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{port}{path}"

    async def get(self, node: Obj, path: str, params: Sequence[tuple[str, str]]) -> aiohttp.ClientResponse:
        """A GET whose body the caller streams (and must release)."""
        url = self.url(node, path)
        try:
            return await self._client().get(url, params=list(params))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise dial_error(url, exc) from None

    async def websocket(
        self, node: Obj, path: str, params: Sequence[tuple[str, str]], protocols: Sequence[str]
    ) -> aiohttp.ClientWebSocketResponse:
        url = self.url(node, path)
        try:
            return await self._client().ws_connect(
                url, params=list(params), protocols=tuple(protocols), max_msg_size=0, autoping=True, heartbeat=None
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise errors.StatusError(
                exc.status if exc.status >= 400 else 500,
                _reason(exc.status),
                f"error dialing backend: kubelet answered {exc.status} {exc.message}",
            ) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise dial_error(url, exc) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def dial_error(url: str, exc: BaseException) -> errors.StatusError:
    detail = str(exc) or type(exc).__name__
    return errors.StatusError(500, "InternalError", f"error dialing backend: {detail}")


def _reason(code: int) -> str:
    return {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}.get(code, "InternalError")
