"""The cluster DNS records and answer table, checked against the answers CoreDNS's kubernetes
plugin gives for the same objects (its handler tests' cases where they apply)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.network.dns.records import (
    NO_PORT,
    Target,
    canonical_ip,
    endpoint_label,
    pod_addresses,
    service_records,
)
from kubelite.network.dns.table import (
    AAAA,
    AXFR,
    CNAME,
    DNS_SCHEMA_VERSION,
    MX,
    NS,
    NXDOMAIN,
    PTR,
    REFUSED,
    SOA,
    SRV,
    TXT,
    A,
    Answer,
    AnswerTable,
    reverse_address,
)

Obj = dict[str, Any]
ZONE = "cluster.local"


def svc(name: str, namespace: str = "testns", *, ips: list[str] | None = None, ports: list[Obj] | None = None, **spec: Any) -> Obj:
    body: Obj = {"type": "ClusterIP", "ports": ports if ports is not None else [{"name": "http", "port": 80, "protocol": "TCP"}]}
    if ips is not None:
        body["clusterIP"] = ips[0]
        body["clusterIPs"] = ips
    body.update(spec)
    return {"metadata": {"name": name, "namespace": namespace}, "spec": body}


def headless(name: str, namespace: str = "testns", ports: list[Obj] | None = None) -> Obj:
    return svc(name, namespace, ips=["None"], ports=ports or [])


def eps(service: str, endpoints: list[Obj], ports: list[Obj] | None = None, family: str = "IPv4", namespace: str = "testns") -> Obj:
    return {
        "metadata": {"name": f"{service}-{family}", "namespace": namespace, "labels": {"kubernetes.io/service-name": service}},
        "addressType": family,
        "endpoints": endpoints,
        "ports": ports if ports is not None else [{"name": "http", "port": 80, "protocol": "TCP"}],
    }


def ep(ip: str, hostname: str = "", ready: bool | None = True) -> Obj:
    endpoint: Obj = {"addresses": [ip]}
    if ready is not None:
        endpoint["conditions"] = {"ready": ready}
    if hostname:
        endpoint["hostname"] = hostname
    return endpoint


def pod(name: str, namespace: str, ip: str, phase: str = "Running") -> Obj:
    return {"metadata": {"name": name, "namespace": namespace}, "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}]}}


def add(table: AnswerTable, service: Obj, *slices: Obj) -> None:
    meta = service["metadata"]
    table.set_service(f"{meta['namespace']}/{meta['name']}", service_records(service, list(slices), ZONE))


@pytest.fixture
def table() -> AnswerTable:
    made = AnswerTable(ZONE, dns_ip="10.43.0.10")
    made.serial = 1499347823
    for namespace in ("testns", "podns", "kube-system"):
        made.set_namespace(namespace, True)
    add(made, svc("svc1", ips=["10.0.0.1"]), eps("svc1", [ep("172.0.0.1", "ep1a")]))
    add(made, svc("svcempty", ips=["10.0.0.1"]), eps("svcempty", []))
    add(made, svc("svc6", ips=["1234:abcd::1"]))
    add(
        made,
        headless("hdls1", ports=[{"name": "http", "port": 80}]),
        eps(
            "hdls1",
            [ep("172.0.0.2"), ep("172.0.0.3"), ep("172.0.0.4", "dup-name"), ep("172.0.0.5", "dup-name"), ep("172.0.0.9", ready=False)],
        ),
        eps("hdls1", [ep("5678:abcd::1"), ep("5678:abcd::2")], family="IPv6"),
    )
    add(made, headless("hdlsprtls"), eps("hdlsprtls", [ep("172.0.0.20")], ports=[]))
    add(made, svc("external", type="ExternalName", externalName="ext.interwebs.test"))
    add(made, svc("external-to-service", type="ExternalName", externalName="svc1.testns.svc.cluster.local."))
    add(made, svc("svc-dual-stack", ips=["10.0.0.3", "10::3"]))
    add(made, svc("multi", ips=["10.0.0.7"], ports=[{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}, {"port": 8080}]))
    made.set_pod("podns/foo", "podns", ("10.240.0.1",))
    return made


def rrs(answer: Answer) -> list[tuple[str, int, int, Any]]:
    return sorted((r.name, r.rtype, r.ttl, r.data) for r in answer.answer)


def extra(answer: Answer) -> list[tuple[str, int, Any]]:
    return sorted((r.name, r.rtype, r.data) for r in answer.additional)


def assert_negative(answer: Answer, rcode: int) -> None:
    assert answer.rcode == rcode
    assert answer.answer == ()
    assert answer.authoritative and not answer.forward
    [soa] = answer.authority
    assert soa.name == ZONE and soa.rtype == SOA and soa.ttl == 5
    assert soa.data == ("ns.dns.cluster.local", "hostmaster.cluster.local", 1499347823, 7200, 1800, 86400, 5)


def nodata(answer: Answer) -> None:
    assert_negative(answer, 0)


def nxdomain(answer: Answer) -> None:
    assert_negative(answer, NXDOMAIN)


# ---------------------------------------------------------------------- records
def test_helpers() -> None:
    assert canonical_ip("10.0.0.1") == "10.0.0.1"
    assert canonical_ip("fd00:0::1") == "fd00::1"
    assert canonical_ip("web") == "" and canonical_ip(None) == ""
    assert endpoint_label("", "10.42.0.5") == "10-42-0-5"
    assert endpoint_label("", "5678:abcd::1") == "5678-abcd--1"
    assert endpoint_label("Web-0", "10.42.0.5") == "web-0"
    assert reverse_address("1.0.0.10.in-addr.arpa") == "10.0.0.1"
    assert reverse_address("0.0.10.in-addr.arpa") == ""
    nibbles = ".".join(reversed("1234abcd000000000000000000000001"))
    assert reverse_address(f"{nibbles}.ip6.arpa") == "1234:abcd::1"
    assert pod_addresses(pod("p", "ns", "10.1.1.1")) == ("10.1.1.1",)
    assert pod_addresses(pod("p", "ns", "10.1.1.1", phase="Succeeded")) == ()
    assert pod_addresses({"status": {}}) == ()


def test_cluster_ip_service_records() -> None:
    records = service_records(
        svc("web", "default", ips=["10.43.0.5"], ports=[{"name": "http", "port": 80, "protocol": "TCP"}, {"port": 81}]),
        [eps("web", [ep("10.42.0.5"), ep("10.42.0.6", ready=False)], namespace="default")],
        ZONE,
    )
    base = "web.default.svc.cluster.local"
    assert records.names[base].targets == (Target("10.43.0.5", 80, base), Target("10.43.0.5", 81, base))
    assert records.names[f"_http._tcp.{base}"].targets == (Target("10.43.0.5", 80, base),)
    endpoint = f"10-42-0-5.{base}"
    assert records.names[endpoint].targets == (Target("10.42.0.5", 80, endpoint),)
    assert f"10-42-0-6.{base}" not in records.names  # not ready
    assert set(records.names) == {base, f"_http._tcp.{base}", endpoint}
    assert records.cluster_ips == (("10.43.0.5", base),)
    assert records.endpoint_ips == (("10.42.0.5", endpoint),)


def test_headless_records_follow_the_ready_endpoints() -> None:
    records = service_records(
        headless("db", "default", ports=[{"name": "pg", "port": 5432}]),
        [eps("db", [ep("10.42.0.7", "db-0"), ep("10.42.0.8", ready=None)], ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}], namespace="default")],
        ZONE,
    )
    base = "db.default.svc.cluster.local"
    assert [t.address for t in records.names[base].targets] == ["10.42.0.7", "10.42.0.8"]
    assert records.names[f"_pg._tcp.{base}"].targets[0] == Target("10.42.0.7", 5432, f"db-0.{base}")
    assert records.cluster_ips == ()
    assert dict(records.endpoint_ips) == {"10.42.0.7": f"db-0.{base}", "10.42.0.8": f"10-42-0-8.{base}"}
    # no ready endpoints: the name does not exist; a port-less slice still gives addresses
    assert service_records(headless("db", "default"), [eps("db", [ep("10.42.0.7", ready=False)])], ZONE).names == {}
    portless = service_records(headless("db", "default"), [eps("db", [ep("10.42.0.7")], ports=[])], ZONE)
    assert portless.names[base].targets == (Target("10.42.0.7", NO_PORT, f"10-42-0-7.{base}"),)


def test_external_name_records() -> None:
    records = service_records(svc("ext", "default", type="ExternalName", externalName="Example.COM."), [], ZONE)
    assert records.names["ext.default.svc.cluster.local"].cname == "example.com"
    assert service_records(svc("ext", "default", type="ExternalName", externalName="1.2.3.4"), [], ZONE).names == {}


# ---------------------------------------------------------------------- answers: services
def test_cluster_ip_service_a(table: AnswerTable) -> None:
    answer = table.lookup("svc1.testns.svc.cluster.local.", A)
    assert answer.rcode == 0 and answer.authoritative
    assert rrs(answer) == [("svc1.testns.svc.cluster.local", A, 5, "10.0.0.1")]
    # an empty service still answers with its cluster IP
    assert rrs(table.lookup("svcempty.testns.svc.cluster.local", A)) == [("svcempty.testns.svc.cluster.local", A, 5, "10.0.0.1")]


def test_answers_keep_the_question_case(table: AnswerTable) -> None:
    answer = table.lookup("SVC1.TestNS.svc.Cluster.Local.", A)
    assert rrs(answer) == [("SVC1.TestNS.svc.Cluster.Local", A, 5, "10.0.0.1")]


def test_service_srv(table: AnswerTable) -> None:
    for qname in ("svc1.testns.svc.cluster.local", "_http._tcp.svc1.testns.svc.cluster.local", "_HTTP._TCP.svc1.testns.svc.cluster.local"):
        answer = table.lookup(qname, SRV)
        assert rrs(answer) == [(qname, SRV, 5, (0, 100, 80, "svc1.testns.svc.cluster.local"))]
        assert extra(answer) == [("svc1.testns.svc.cluster.local", A, "10.0.0.1")]
    answer = table.lookup("_dns._udp.multi.testns.svc.cluster.local", SRV)
    assert rrs(answer) == [("_dns._udp.multi.testns.svc.cluster.local", SRV, 5, (0, 100, 53, "multi.testns.svc.cluster.local"))]
    # the service name lists every port, named or not, sharing the weight
    ports = sorted(r.data[2] for r in table.lookup("multi.testns.svc.cluster.local", SRV).answer)
    assert ports == [53, 80, 8080]
    assert {r.data[1] for r in table.lookup("multi.testns.svc.cluster.local", SRV).answer} == {33}
    nxdomain(table.lookup("_dns._tcp.multi.testns.svc.cluster.local", SRV))  # wrong protocol
    nxdomain(table.lookup("_nope._tcp.svc1.testns.svc.cluster.local", SRV))
    # the port name answers A queries too, as in CoreDNS
    assert rrs(table.lookup("_http._tcp.svc1.testns.svc.cluster.local", A))[0][3] == "10.0.0.1"


def test_ipv6_and_dual_stack(table: AnswerTable) -> None:
    assert rrs(table.lookup("svc6.testns.svc.cluster.local", AAAA)) == [("svc6.testns.svc.cluster.local", AAAA, 5, "1234:abcd::1")]
    nodata(table.lookup("svc6.testns.svc.cluster.local", A))
    nodata(table.lookup("svc1.testns.svc.cluster.local", AAAA))  # exists, no AAAA: NODATA
    assert rrs(table.lookup("svc-dual-stack.testns.svc.cluster.local", A))[0][3] == "10.0.0.3"
    assert rrs(table.lookup("svc-dual-stack.testns.svc.cluster.local", AAAA))[0][3] == "10::3"
    answer = table.lookup("svc-dual-stack.testns.svc.cluster.local", SRV)
    assert rrs(answer) == [("svc-dual-stack.testns.svc.cluster.local", SRV, 5, (0, 50, 80, "svc-dual-stack.testns.svc.cluster.local"))]
    assert extra(answer) == [
        ("svc-dual-stack.testns.svc.cluster.local", A, "10.0.0.3"),
        ("svc-dual-stack.testns.svc.cluster.local", AAAA, "10::3"),
    ]


def test_headless_answers(table: AnswerTable) -> None:
    name = "hdls1.testns.svc.cluster.local"
    assert [r[3] for r in rrs(table.lookup(name, A))] == ["172.0.0.2", "172.0.0.3", "172.0.0.4", "172.0.0.5"]
    assert [r[3] for r in rrs(table.lookup(name, AAAA))] == ["5678:abcd::1", "5678:abcd::2"]
    assert rrs(table.lookup("172-0-0-2.hdls1.testns.svc.cluster.local", A)) == [("172-0-0-2.hdls1.testns.svc.cluster.local", A, 5, "172.0.0.2")]
    assert [r[3] for r in rrs(table.lookup("dup-name.hdls1.testns.svc.cluster.local", A))] == ["172.0.0.4", "172.0.0.5"]
    assert rrs(table.lookup("5678-abcd--1.hdls1.testns.svc.cluster.local", AAAA))[0][3] == "5678:abcd::1"
    nxdomain(table.lookup("172-0-0-9.hdls1.testns.svc.cluster.local", A))  # not ready
    nxdomain(table.lookup("bogusendpoint.hdls1.testns.svc.cluster.local", A))
    answer = table.lookup("_http._tcp.hdls1.testns.svc.cluster.local", SRV)
    assert rrs(answer) == [
        ("_http._tcp.hdls1.testns.svc.cluster.local", SRV, 5, (0, 16, 80, f"{host}.hdls1.testns.svc.cluster.local"))
        for host in ("172-0-0-2", "172-0-0-3", "5678-abcd--1", "5678-abcd--2", "dup-name")
    ]
    assert extra(answer) == sorted(
        [
            ("172-0-0-2.hdls1.testns.svc.cluster.local", A, "172.0.0.2"),
            ("172-0-0-3.hdls1.testns.svc.cluster.local", A, "172.0.0.3"),
            ("5678-abcd--1.hdls1.testns.svc.cluster.local", AAAA, "5678:abcd::1"),
            ("5678-abcd--2.hdls1.testns.svc.cluster.local", AAAA, "5678:abcd::2"),
            ("dup-name.hdls1.testns.svc.cluster.local", A, "172.0.0.4"),
            ("dup-name.hdls1.testns.svc.cluster.local", A, "172.0.0.5"),
        ]
    )
    # port-less headless: addresses, no SRV
    assert rrs(table.lookup("hdlsprtls.testns.svc.cluster.local", A)) == [("hdlsprtls.testns.svc.cluster.local", A, 5, "172.0.0.20")]
    assert rrs(table.lookup("172-0-0-20.hdlsprtls.testns.svc.cluster.local", A))[0][3] == "172.0.0.20"
    nodata(table.lookup("hdlsprtls.testns.svc.cluster.local", SRV))


def test_endpoint_names_of_cluster_ip_services(table: AnswerTable) -> None:
    assert rrs(table.lookup("ep1a.svc1.testns.svc.cluster.local", A)) == [("ep1a.svc1.testns.svc.cluster.local", A, 5, "172.0.0.1")]


def test_external_name(table: AnswerTable) -> None:
    answer = table.lookup("external.testns.svc.cluster.local", CNAME)
    assert rrs(answer) == [("external.testns.svc.cluster.local", CNAME, 5, "ext.interwebs.test")]
    assert answer.chase == ""
    answer = table.lookup("external.testns.svc.cluster.local", A)
    assert rrs(answer) == [("external.testns.svc.cluster.local", CNAME, 5, "ext.interwebs.test")]
    assert answer.chase == "ext.interwebs.test" and not answer.forward
    # a target inside the zone is followed here
    answer = table.lookup("external-to-service.testns.svc.cluster.local", A)
    assert [(r.name, r.rtype, r.data) for r in answer.answer] == [
        ("external-to-service.testns.svc.cluster.local", CNAME, "svc1.testns.svc.cluster.local"),
        ("svc1.testns.svc.cluster.local", A, "10.0.0.1"),
    ]
    assert answer.chase == ""
    nxdomain(table.lookup("endpoint.external.testns.svc.cluster.local", CNAME))


def test_external_name_loop_stops() -> None:
    table = AnswerTable(ZONE)
    table.set_namespace("ns", True)
    add(table, svc("a", "ns", type="ExternalName", externalName="b.ns.svc.cluster.local"))
    add(table, svc("b", "ns", type="ExternalName", externalName="a.ns.svc.cluster.local"))
    answer = table.lookup("a.ns.svc.cluster.local", A)
    assert all(r.rtype == CNAME for r in answer.answer) and 2 <= len(answer.answer) <= 10


# ---------------------------------------------------------------------- answers: negative and structural
def test_nxdomain_versus_nodata(table: AnswerTable) -> None:
    nxdomain(table.lookup("svc0.testns.svc.cluster.local", A))
    nxdomain(table.lookup("svc0.testns.svc.cluster.local", AAAA))
    nxdomain(table.lookup("svc0.svc-nons.svc.cluster.local", A))  # no such namespace
    nxdomain(table.lookup("bogusendpoint.svc0.testns.svc.cluster.local", A))
    nxdomain(table.lookup("foo.cluster.local", NS))
    nxdomain(table.lookup("foo.svc.cluster.local", NS))
    nxdomain(table.lookup("a.b.c.svc1.testns.svc.cluster.local", A))  # too long
    nxdomain(table.lookup("google.com.testns.svc.cluster.local", A))  # what ndots:5 searches produce
    nodata(table.lookup("cluster.local", A))
    nodata(table.lookup("svc.cluster.local", A))
    nodata(table.lookup("pod.cluster.local", A))
    nodata(table.lookup("testns.svc.cluster.local", A))
    nodata(table.lookup("svc.cluster.local", NS))
    nodata(table.lookup("testns.svc.cluster.local", NS))
    nodata(table.lookup("svc1.testns.svc.cluster.local", SOA))
    nodata(table.lookup("svc1.testns.svc.cluster.local", MX))
    nodata(table.lookup("svc1.testns.svc.cluster.local", TXT))
    nodata(table.lookup("svc1.testns.svc.cluster.local", CNAME))
    assert table.lookup("cluster.local", AXFR) .rcode == REFUSED


def test_apex_soa_ns_and_schema_version(table: AnswerTable) -> None:
    answer = table.lookup("cluster.local.", SOA)
    [soa] = answer.answer
    assert soa.rtype == SOA and soa.data[0] == "ns.dns.cluster.local" and soa.data[2] == 1499347823
    answer = table.lookup("cluster.local", NS)
    assert rrs(answer) == [("cluster.local", NS, 5, "ns.dns.cluster.local")]
    assert extra(answer) == [("ns.dns.cluster.local", A, "10.43.0.10")]
    assert rrs(table.lookup("ns.dns.cluster.local", A)) == [("ns.dns.cluster.local", A, 5, "10.43.0.10")]
    assert rrs(table.lookup("dns-version.cluster.local", TXT)) == [("dns-version.cluster.local", TXT, 28800, DNS_SCHEMA_VERSION)]
    nxdomain(table.lookup("dns-version.cluster.local", A))


def test_names_outside_the_zone_are_forwarded(table: AnswerTable) -> None:
    for name in ("example.com", "cluster.local.example.com", "local", "xcluster.local"):
        answer = table.lookup(name, A)
        assert answer.forward and not answer.authoritative


# ---------------------------------------------------------------------- pods
def test_pod_records_verified(table: AnswerTable) -> None:
    assert rrs(table.lookup("10-240-0-1.podns.pod.cluster.local", A)) == [("10-240-0-1.podns.pod.cluster.local", A, 5, "10.240.0.1")]
    nodata(table.lookup("10-240-0-1.podns.pod.cluster.local", AAAA))
    nodata(table.lookup("podns.pod.cluster.local", A))
    nxdomain(table.lookup("pod-nons.pod.cluster.local", A))
    nxdomain(table.lookup("172-0-0-2.podns.pod.cluster.local", A))  # no such pod
    nxdomain(table.lookup("10-240-0-1.testns.pod.cluster.local", A))  # another namespace's IP
    nxdomain(table.lookup("not-an-ip.podns.pod.cluster.local", A))
    table.set_pod("podns/foo", "podns", ())
    nxdomain(table.lookup("10-240-0-1.podns.pod.cluster.local", A))


def test_pod_records_shared_ip_counts_holders() -> None:
    table = AnswerTable(ZONE)
    table.set_namespace("ns", True)
    table.set_pod("ns/a", "ns", ("10.1.0.1",))
    table.set_pod("ns/b", "ns", ("10.1.0.1",))  # e.g. hostNetwork pods on one node
    table.set_pod("ns/a", "ns", ())
    assert table.lookup("10-1-0-1.ns.pod.cluster.local", A).answer
    table.set_pod("ns/b", "ns", ())
    assert table.lookup("10-1-0-1.ns.pod.cluster.local", A).rcode == NXDOMAIN


def test_pod_modes() -> None:
    insecure = AnswerTable(ZONE, pod_mode="insecure")
    insecure.set_namespace("ns", True)
    assert rrs(insecure.lookup("1-2-3-4.ns.pod.cluster.local", A)) == [("1-2-3-4.ns.pod.cluster.local", A, 5, "1.2.3.4")]
    assert rrs(insecure.lookup("fd00--5.ns.pod.cluster.local", AAAA))[0][3] == "fd00::5"
    assert insecure.lookup("1-2-3-4.nons.pod.cluster.local", A).rcode == NXDOMAIN
    disabled = AnswerTable(ZONE, pod_mode="disabled")
    disabled.set_namespace("ns", True)
    assert disabled.lookup("1-2-3-4.ns.pod.cluster.local", A).rcode == NXDOMAIN
    with pytest.raises(ValueError):
        AnswerTable(ZONE, pod_mode="sometimes")


# ---------------------------------------------------------------------- reverse
def test_ptr_records(table: AnswerTable) -> None:
    answer = table.lookup("1.0.0.10.in-addr.arpa.", PTR)
    # 10.0.0.1 is the cluster IP of both svc1 and svcempty: one name, as CoreDNS
    assert len(answer.answer) == 1 and answer.answer[0].data in ("svc1.testns.svc.cluster.local", "svcempty.testns.svc.cluster.local")
    assert rrs(table.lookup("3.0.0.172.in-addr.arpa", PTR)) == [("3.0.0.172.in-addr.arpa", PTR, 5, "172-0-0-3.hdls1.testns.svc.cluster.local")]
    assert rrs(table.lookup("1.0.0.172.in-addr.arpa", PTR))[0][3] == "ep1a.svc1.testns.svc.cluster.local"
    nibbles = ".".join(reversed("1234abcd000000000000000000000001"))
    assert rrs(table.lookup(f"{nibbles}.ip6.arpa", PTR))[0][3] == "svc6.testns.svc.cluster.local"
    # unknown addresses, partial names and other types fall through to the upstreams
    assert table.lookup("9.9.9.10.in-addr.arpa", PTR).forward
    assert table.lookup("0.0.10.in-addr.arpa", PTR).forward
    assert table.lookup("1.0.0.10.in-addr.arpa", A).forward


# ---------------------------------------------------------------------- updates
def test_replacing_and_removing_a_service_touches_only_its_names(table: AnswerTable) -> None:
    before = len(table)
    generation = table.generation
    add(table, svc("svc1", ips=["10.0.0.99"]))  # no slices any more
    assert table.generation > generation
    assert rrs(table.lookup("svc1.testns.svc.cluster.local", A))[0][3] == "10.0.0.99"
    assert table.lookup("ep1a.svc1.testns.svc.cluster.local", A).rcode == NXDOMAIN
    assert table.lookup("1.0.0.172.in-addr.arpa", PTR).forward
    assert rrs(table.lookup("svcempty.testns.svc.cluster.local", A))[0][3] == "10.0.0.1"
    table.set_service("testns/svc1", None)
    assert table.lookup("svc1.testns.svc.cluster.local", A).rcode == NXDOMAIN
    assert table.lookup("_http._tcp.svc1.testns.svc.cluster.local", SRV).rcode == NXDOMAIN
    assert table.lookup("99.0.0.10.in-addr.arpa", PTR).forward
    assert len(table) == before - 3  # svc1, its port name and its endpoint name
    assert rrs(table.lookup("hdls1.testns.svc.cluster.local", A))  # others untouched


def test_namespace_removal_hides_its_names(table: AnswerTable) -> None:
    table.set_namespace("testns", False)
    assert table.lookup("svc1.testns.svc.cluster.local", A).rcode == NXDOMAIN
    assert table.lookup("testns.svc.cluster.local", A).rcode == NXDOMAIN
