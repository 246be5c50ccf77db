"""A pod's /etc/hostname, /etc/hosts and /etc/resolv.conf content, as the kubelet writes them."""

from __future__ import annotations

from typing import Any

from kubelite.runtime.oci import podfiles

Obj = dict[str, Any]
NODE = podfiles.DnsSettings(("192.168.1.1", "192.168.1.2"), ("corp.example",), ("timeout:2",))


def a_pod(name: str = "web-0", namespace: str = "shop", **pod_spec: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": namespace, "uid": "u"}, "spec": pod_spec}


def test_hostname_and_domain() -> None:
    assert podfiles.pod_hostname(a_pod(), "cluster.local") == ("web-0", "")
    assert podfiles.pod_hostname(a_pod(hostname="h", subdomain="s"), "cluster.local") == ("h", "s.shop.svc.cluster.local")
    assert podfiles.pod_hostname(a_pod(hostname="h", subdomain="s", setHostnameAsFQDN=True), "c.l") == ("h.s.shop.svc.c.l", "s.shop.svc.c.l")
    long_name = "a" * 62 + "-b"
    assert podfiles.pod_hostname(a_pod(name=long_name), "cluster.local")[0] == "a" * 62


def test_hosts_file() -> None:
    text = podfiles.hosts_file(a_pod(hostAliases=[{"ip": "1.2.3.4", "hostnames": ["a", "b"]}]), "10.42.0.5", "web-0", "")
    assert text.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    assert text.endswith("10.42.0.5\tweb-0\n\n# Entries added by HostAliases.\n1.2.3.4\ta\tb\n")
    with_domain = podfiles.hosts_file(a_pod(), "10.42.0.5", "h", "s.shop.svc.cluster.local")
    assert with_domain.endswith("10.42.0.5\th.s.shop.svc.cluster.local\th\n")
    host = podfiles.hosts_file(a_pod(hostNetwork=True), "", "node", "", "127.0.0.1 localhost\n")
    assert host == "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n"


def test_resolv_conf_parsing() -> None:
    parsed = podfiles.parse_resolv_conf("# c\nnameserver 1.1.1.1\nsearch a b\nnameserver 8.8.8.8 ; x\noptions ndots:1 rotate\n")
    assert parsed == podfiles.DnsSettings(("1.1.1.1", "8.8.8.8"), ("a", "b"), ("ndots:1", "rotate"))


def test_dns_policies() -> None:
    cluster = podfiles.pod_dns(a_pod(), NODE, ["10.43.0.10"], "cluster.local")
    assert podfiles.resolv_conf(cluster) == (
        "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
        "nameserver 10.43.0.10\n"
        "options ndots:5\n"
    )
    assert podfiles.pod_dns(a_pod(), NODE, [], "cluster.local") == NODE  # no cluster DNS: the node's
    assert podfiles.pod_dns(a_pod(hostNetwork=True), NODE, ["10.43.0.10"], "cluster.local") == NODE
    with_host_net = podfiles.pod_dns(a_pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"), NODE, ["10.43.0.10"], "c.l")
    assert with_host_net.servers == ("10.43.0.10",)
    custom = podfiles.pod_dns(
        a_pod(dnsPolicy="None", dnsConfig={"nameservers": ["9.9.9.9"], "searches": ["x.test"], "options": [{"name": "edns0"}]}),
        NODE,
        ["10.43.0.10"],
        "cluster.local",
    )
    assert custom == podfiles.DnsSettings(("9.9.9.9",), ("x.test",), ("edns0",))
    merged = podfiles.pod_dns(
        a_pod(dnsConfig={"nameservers": ["10.43.0.10", "9.9.9.9"], "options": [{"name": "ndots", "value": "2"}]}),
        NODE,
        ["10.43.0.10"],
        "cluster.local",
    )
    assert merged.servers == ("10.43.0.10", "9.9.9.9") and merged.options == ("ndots:2",)
