"""A test cluster that can stream: the real API server (APIServer over a memory Registry, HTTPS,
with a KubeletClient) plus one kubelet HTTPS API (KubeletServer over HostProcessStreams), and a
Node "stream-node" whose status points at that kubelet (127.0.0.1:<its port>). Pods bound to the
node get no runtime: tests create them with spec.nodeName, patch their status Running, and write
their CRI log files under DATA/pods themselves.

Run as `python -m tests.apiserver.streaming_harness DATA_DIR PORT`; it prints
`kubelite ready kubelet-port=<port>` and stops on SIGTERM. `start_streaming_cluster` runs it.

Must not be used outside tests (it issues the kubelet's serving certificate by hand).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.e2e.server_harness import RunningServer, free_port

NODE_NAME = "stream-node"


def issue_kubelet_serving_cert(tls_dir: Path) -> tuple[Path, Path]:
    ca_key = serialization.load_pem_private_key((tls_dir / "ca.key").read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate((tls_dir / "ca.crt").read_bytes())
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{NODE_NAME}")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = tls_dir / "kubelet.crt", tls_dir / "kubelet.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


async def run(data_dir: Path, port: int) -> None:
    from kubelite.apiserver.app import APIServer, ServerInfo, server_ssl_context
    from kubelite.apiserver.auth import Authenticator
    from kubelite.apiserver.bootstrap import bootstrap, host_address
    from kubelite.apiserver.certs import ensure_pki
    from kubelite.apiserver.inprocess import InProcessTransport
    from kubelite.apiserver.kubeletclient import KubeletClient
    from kubelite.cli.server import admin_token, write_kubeconfig
    from kubelite.client.client import Client
    from kubelite.client.informer import Informer
    from kubelite.kubelet.server import KubeletServer, kubelet_ssl_context
    from kubelite.kubelet.streams import HostProcessStreams
    from kubelite.registry.context import UserInfo
    from kubelite.registry.registry import Registry
    from kubelite.schema.builtins import default_catalogue
    from kubelite.schema.definitions import Definitions
    from kubelite.storage.memory import MemoryBackend

    data_dir.mkdir(parents=True, exist_ok=True)
    pki = ensure_pki(data_dir / "tls")
    token = admin_token(data_dir)
    registry = Registry(MemoryBackend(), default_catalogue(), Definitions.load())
    await registry.start()
    await bootstrap(registry, port, host_address())
    authenticator = Authenticator({token: UserInfo("system:admin", ("system:masters", "system:authenticated"))})
    api = APIServer(registry, authenticator, ServerInfo(f"127.0.0.1:{port}"), KubeletClient.from_pki(pki))
    runner = web.AppRunner(api.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    context = server_ssl_context(str(pki.serving_cert), str(pki.serving_key), str(pki.ca_cert))
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    api.ready = True

    # the kubelet: its own client, an informer of its node's pods, the HTTPS API
    client = Client(InProcessTransport(registry, UserInfo(f"system:node:{NODE_NAME}", ("system:nodes",)), "kubelet"))
    informer = Informer(client.resource("", "v1", "pods"), field_selector=f"spec.nodeName={NODE_NAME}", name="kubelet pods")
    informer.start()
    await informer.wait_for_sync()
    streams = HostProcessStreams(data_dir / "pods", pod_lookup=informer.cache.get, poll=0.05)
    kubelet = KubeletServer(streams, informer.cache.get)
    serving_cert, serving_key = issue_kubelet_serving_cert(data_dir / "tls")
    await kubelet.start("127.0.0.1", 0, kubelet_ssl_context(str(serving_cert), str(serving_key), str(pki.ca_cert)))
    nodes = client.resource("", "v1", "nodes")
    await nodes.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE_NAME}})
    status = {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE_NAME}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port}},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ready"}],
    }
    await nodes.patch(NODE_NAME, {"status": status}, "merge", subresource="status")

    write_kubeconfig(data_dir / "kubeconfig.yaml", f"https://127.0.0.1:{port}", pki, token)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"kubelite ready kubelet-port={kubelet.port}", flush=True)
    await stop.wait()
    await kubelet.stop()
    await informer.stop()
    await runner.cleanup()
    await registry.stop()


def start_streaming_cluster(data_dir: Path, timeout: float = 20.0) -> tuple[RunningServer, int]:
    """The harness in a child process; (server handle, kubelet port)."""
    port = free_port()
    cmd = [sys.executable, "-m", "tests.apiserver.streaming_harness", str(data_dir), str(port)]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = RunningServer(data_dir, port, process)
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        server.output.append(line)
        if line.startswith("kubelite ready"):
            server.drainer = threading.Thread(target=server.output.extend, args=(process.stdout,), daemon=True)
            server.drainer.start()
            return server, int(line.split("kubelet-port=")[1])
    server.stop()
    raise AssertionError("streaming harness did not become ready:\n" + "".join(server.output))


if __name__ == "__main__":
    import uvloop

    uvloop.run(run(Path(sys.argv[1]), int(sys.argv[2])))
