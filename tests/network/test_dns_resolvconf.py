"""A pod's /etc/resolv.conf as upstream's kubelet forms it, for every dnsPolicy, with dnsConfig
and the limits (cases follow pkg/kubelet/network/dns's tests)."""

from __future__ import annotations

from typing import Any

from kubelite.network.dns.resolvconf import (
    MAX_SEARCH_LINE,
    PodDNS,
    ResolvConf,
    append_options,
    dns_type,
    parse,
    pod_dns,
    render,
)

Obj = dict[str, Any]
HOST = ResolvConf(("192.0.2.1", "192.0.2.2"), ("corp.example", "example"), ("ndots:1", "timeout:2"))
CLUSTER_DNS = ("10.43.0.10",)


def pod(policy: str | None = None, namespace: str = "web", host_network: bool = False, config: Obj | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "x"}]}
    if policy:
        spec["dnsPolicy"] = policy
    if host_network:
        spec["hostNetwork"] = True
    if config is not None:
        spec["dnsConfig"] = config
    return {"metadata": {"name": "p", "namespace": namespace}, "spec": spec}


def form(made: Obj, host: ResolvConf | None = HOST, cluster_dns: tuple[str, ...] = CLUSTER_DNS) -> PodDNS:
    return pod_dns(made, host=host, cluster_dns=cluster_dns, cluster_domain="cluster.local")


def test_parse_host_resolv_conf() -> None:
    text = (
        "# written by someone\n"
        "nameserver 192.0.2.1\n"
        "search old.example\n"
        "  nameserver   192.0.2.2  # trailing\n"
        "nameserver\n"
        "search corp.example. . example\n"
        "options ndots:2 timeout:1\n"
        "options ndots:1 rotate\n"
        "domain ignored.example\n"
    )
    parsed = parse(text)
    assert parsed.nameservers == ("192.0.2.1", "192.0.2.2")
    assert parsed.searches == ("corp.example", "example")  # the last search line, dots trimmed, "." dropped
    assert parsed.options == ("ndots:1", "timeout:1", "rotate")
    assert parse("") == ResolvConf()


def test_cluster_first_is_the_default() -> None:
    formed = form(pod())
    assert formed.config == ResolvConf(
        ("10.43.0.10",),
        ("web.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example", "example"),
        ("ndots:5",),
    )
    assert formed.warnings == ()
    assert formed.render() == (
        "search web.svc.cluster.local svc.cluster.local cluster.local corp.example example\n"
        "nameserver 10.43.0.10\n"
        "options ndots:5\n"
    )


def test_cluster_first_without_host_searches_is_the_familiar_file() -> None:
    formed = form(pod("ClusterFirst", namespace="default"), host=ResolvConf(("192.0.2.1",)))
    assert formed.render() == (
        "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n"
    )


def test_host_searches_duplicating_cluster_ones_are_dropped() -> None:
    host = ResolvConf(("192.0.2.1",), ("cluster.local", "corp.example"))
    assert form(pod(), host=host).config.searches == ("web.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example")


def test_policies() -> None:
    assert dns_type(pod()) == "cluster"
    assert dns_type(pod("ClusterFirst", host_network=True)) == "host"
    assert dns_type(pod("ClusterFirstWithHostNet", host_network=True)) == "cluster"
    assert dns_type(pod("Default")) == "host"
    assert dns_type(pod("None")) == "none"
    assert dns_type(pod("Bogus")) == "cluster"
    assert form(pod("Default")).config == HOST
    assert form(pod("ClusterFirst", host_network=True)).config == HOST
    assert form(pod("ClusterFirstWithHostNet", host_network=True)).config.nameservers == CLUSTER_DNS
    assert form(pod("None")).config == ResolvConf()


def test_cluster_first_without_cluster_dns_falls_back_to_default() -> None:
    formed = form(pod(), cluster_dns=())
    assert formed.config == HOST
    assert formed.warnings and "Falling back to \"Default\" policy" in formed.warnings[0]


def test_no_host_resolv_conf() -> None:
    assert form(pod("Default"), host=None).config == ResolvConf(("127.0.0.1",), (".",), ())
    assert pod_dns(pod("Default"), host=None, node_ipv6=True).config.nameservers == ("::1",)
    assert form(pod(), host=None).config.searches == ("web.svc.cluster.local", "svc.cluster.local", "cluster.local")


def test_dns_config_is_appended() -> None:
    config = {
        "nameservers": ["192.0.2.9", "10.43.0.10"],
        "searches": ["my.dns.search.suffix", "svc.cluster.local"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}, {"name": "timeout", "value": ""}],
    }
    formed = form(pod("ClusterFirst", config=config))
    assert formed.config.nameservers == ("10.43.0.10", "192.0.2.9")
    assert formed.config.searches[-1] == "my.dns.search.suffix"
    assert formed.config.searches.count("svc.cluster.local") == 1
    assert formed.config.options == ("ndots:2", "edns0", "timeout")
    none = form(pod("None", config={"nameservers": ["192.0.2.9"], "searches": ["a.example"], "options": [{"name": "ndots", "value": "1"}]}))
    assert none.render() == "search a.example\nnameserver 192.0.2.9\noptions ndots:1\n"


def test_nameserver_limit() -> None:
    formed = form(pod("Default", config={"nameservers": ["192.0.2.3", "192.0.2.4"]}))
    assert formed.config.nameservers == ("192.0.2.1", "192.0.2.2", "192.0.2.3")
    assert formed.warnings == (
        "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: "
        "192.0.2.1 192.0.2.2 192.0.2.3",
    )


def test_search_limits() -> None:
    many = [f"d{i}.example" for i in range(40)]
    formed = form(pod("None", config={"searches": many}))
    assert formed.config.searches == tuple(many[:32])
    assert formed.warnings[0].startswith("Search Line limits were exceeded, some search paths have been omitted")
    assert formed.warnings[0].endswith(" ".join(many[:32]))

    too_long = "x" * 254
    formed = form(pod("None", config={"searches": ["a.example", too_long, "b.example"]}))
    assert formed.config.searches == ("a.example", "b.example") and formed.warnings

    long_domains = [f"{i:02d}" + "y" * 198 for i in range(12)]  # 200 characters each
    formed = form(pod("None", config={"searches": long_domains}))
    line = " ".join(formed.config.searches)
    assert len(line) <= MAX_SEARCH_LINE
    assert formed.config.searches == tuple(long_domains[:10])  # 10 * 200 + 9 = 2009; 11 would be 2210
    assert formed.warnings

    fits = form(pod("None", config={"searches": many[:32]}))
    assert fits.warnings == ()


def test_append_options_keeps_the_first_place_and_the_last_value() -> None:
    assert append_options(["ndots:1", "rotate"], ["timeout:3", "ndots:4"]) == ["ndots:4", "rotate", "timeout:3"]


def test_render_empty() -> None:
    assert render(ResolvConf()) == ""
