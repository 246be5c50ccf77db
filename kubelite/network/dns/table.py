"""The answer table: every Service's records (records.py) merged into one map by name, plus the
namespaces and pod IPs, and the lookup that turns a question into an answer the way CoreDNS's
kubernetes plugin (with the stock Corefile: `pods verified`-or-`insecure`, `fallthrough
in-addr.arpa ip6.arpa`, `forward . /etc/resolv.conf`) answers it:

- names in the cluster zone are answered here, authoritatively: records, or NODATA (NOERROR with
  no answer) when the name exists without records of that type, or NXDOMAIN when it does not
  exist; both negative answers carry the zone's SOA. Existing names are the zone itself, `svc`
  and `pod` under it, `<ns>.svc` / `<ns>.pod` for existing namespaces, every Service name,
  port name and endpoint name, verified pod names, `ns.dns` and `dns-version` (TXT 1.1.0;
  NXDOMAIN for any other type, as CoreDNS);
- a CNAME (ExternalName) is followed inside the zone here; outside it the caller looks the
  target up upstream (`Answer.chase`);
- PTR questions for a cluster IP or a ready endpoint IP are answered here; every other reverse
  name, and every name outside the zone, is for the upstream resolvers (`Answer.forward`).

Replacing one Service's records touches only its own names. Must not parse or build DNS
messages, nor do I/O; the owner of the table (one per component) updates it from one task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kubelite.network.dns.records import NO_PORT, NameRecords, ServiceRecords, canonical_ip

# Record types and response codes (RFC 1035, 3596, 2782)
A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, IXFR, AXFR, ANY = 1, 2, 5, 6, 12, 15, 16, 28, 33, 251, 252, 255
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5

DEFAULT_TTL = 5
DNS_SCHEMA_VERSION = "1.1.0"
DNS_VERSION_TTL = 28800
SOA_REFRESH, SOA_RETRY, SOA_EXPIRE = 7200, 1800, 86400
POD_MODES = ("verified", "insecure", "disabled")
MAX_CNAME_DEPTH = 8
_REVERSE_SUFFIXES = (".in-addr.arpa", ".ip6.arpa")


@dataclass(frozen=True, slots=True)
class Record:
    """One resource record. `data` by type: A/AAAA an address; CNAME/PTR/NS a name; TXT a
    string; SRV (priority, weight, port, target); SOA (mname, rname, serial, refresh, retry,
    expire, minimum)."""

    name: str
    rtype: int
    ttl: int
    data: Any


@dataclass(frozen=True, slots=True)
class Answer:
    rcode: int = NOERROR
    answer: tuple[Record, ...] = ()
    authority: tuple[Record, ...] = ()
    additional: tuple[Record, ...] = ()
    authoritative: bool = True
    forward: bool = False  # not ours: the whole question goes to the upstream resolvers
    chase: str = ""  # the answer ends in a CNAME to this outside name: resolve it upstream too


FORWARD = Answer(authoritative=False, forward=True)
REFUSE = Answer(rcode=REFUSED, authoritative=False)


def reverse_address(name: str) -> str:
    """The IP address a reverse name (`d.c.b.a.in-addr.arpa`, 32 nibbles `.ip6.arpa`) stands for,
    or "" when it names no single address."""
    if name.endswith(".in-addr.arpa"):
        labels = name[: -len(".in-addr.arpa")].split(".")
        if len(labels) != 4 or not all(label.isdigit() and len(label) <= 3 for label in labels):
            return ""
        return canonical_ip(".".join(reversed(labels)))
    if name.endswith(".ip6.arpa"):
        labels = name[: -len(".ip6.arpa")].split(".")
        if len(labels) != 32 or not all(len(label) == 1 for label in labels):
            return ""
        digits = "".join(reversed(labels))
        try:
            int(digits, 16)
        except ValueError:
            return ""
        return canonical_ip(":".join(digits[i : i + 4] for i in range(0, 32, 4)))
    return ""


def _pod_label_address(label: str) -> str:
    """`10-42-0-5` -> 10.42.0.5, `fd00--5` -> fd00::5 (CoreDNS's reading), "" if neither."""
    if label.count("-") == 3 and "--" not in label:
        return canonical_ip(label.replace("-", "."))
    return canonical_ip(label.replace("-", ":"))


def _address_type(address: str) -> int:
    return AAAA if ":" in address else A


class AnswerTable:
    def __init__(
        self,
        zone: str = "cluster.local",
        *,
        dns_ip: str = "10.43.0.10",
        pod_mode: str = "verified",
        ttl: int = DEFAULT_TTL,
    ):
        if pod_mode not in POD_MODES:
            raise ValueError(f"pod_mode must be one of {POD_MODES}, not {pod_mode!r}")
        self.zone = zone.strip(".").lower()
        self.dns_ip = canonical_ip(dns_ip)
        self.pod_mode = pod_mode
        self.ttl = ttl
        self.serial = 0  # the SOA serial: the owner sets it (a timestamp) when it changes the table
        self.generation = 0  # bumped on every change (lets a server cache encoded answers)
        self._suffix = "." + self.zone
        self._ns_name = f"ns.dns.{self.zone}"
        self._names: dict[str, NameRecords] = {}
        self._services: dict[str, ServiceRecords] = {}
        self._cluster_ips: dict[str, dict[str, str]] = {}  # ip -> service key -> service name
        self._endpoint_ips: dict[str, dict[str, list[str]]] = {}  # ip -> service key -> endpoint names
        self._namespaces: set[str] = set()
        self._pods: dict[str, tuple[str, tuple[str, ...]]] = {}  # pod key -> (namespace, IPs)
        self._pod_ips: dict[str, dict[str, int]] = {}  # ip -> namespace -> pods holding it

    # ------------------------------------------------------------------ updates
    def set_service(self, key: str, records: ServiceRecords | None) -> None:
        """Replace the records of the Service `namespace/name` (None: it is gone)."""
        old = self._services.pop(key, None)
        if old is not None:
            for name, node in old.names.items():
                if self._names.get(name) is node:
                    del self._names[name]
            for address, _name in old.cluster_ips:
                _drop(self._cluster_ips, address, key)
            for address, _name in old.endpoint_ips:
                _drop(self._endpoint_ips, address, key)
        if records is not None and (records.names or records.cluster_ips or records.endpoint_ips):
            self._services[key] = records
            self._names.update(records.names)
            for address, name in records.cluster_ips:
                self._cluster_ips.setdefault(address, {})[key] = name
            for address, name in records.endpoint_ips:
                self._endpoint_ips.setdefault(address, {}).setdefault(key, []).append(name)
        self.generation += 1

    def set_namespace(self, name: str, exists: bool) -> None:
        if exists:
            self._namespaces.add(name.lower())
        else:
            self._namespaces.discard(name.lower())
        self.generation += 1

    def set_pod(self, key: str, namespace: str, addresses: tuple[str, ...]) -> None:
        """The IPs of the pod `namespace/name` (empty: it is gone or has none)."""
        old = self._pods.pop(key, None)
        if old is not None:
            for address in old[1]:
                holders = self._pod_ips.get(address, {})
                holders[old[0]] = holders.get(old[0], 1) - 1
                if holders[old[0]] <= 0:
                    del holders[old[0]]
                if not holders:
                    self._pod_ips.pop(address, None)
        if addresses:
            namespace = namespace.lower()
            self._pods[key] = (namespace, addresses)
            for address in addresses:
                holders = self._pod_ips.setdefault(address, {})
                holders[namespace] = holders.get(namespace, 0) + 1
        self.generation += 1

    def __len__(self) -> int:
        """How many names the Services hold."""
        return len(self._names)

    # ------------------------------------------------------------------ lookup
    def lookup(self, qname: str, qtype: int) -> Answer:
        """The answer to `qname` (any case, trailing dot or not) of type `qtype`."""
        asked = qname.rstrip(".")
        name = asked.lower()
        if name == self.zone or name.endswith(self._suffix):
            return self._in_zone(asked, name, qtype, 0)
        if name.endswith(_REVERSE_SUFFIXES):
            return self._reverse(asked, name, qtype)
        return FORWARD

    def soa(self) -> Record:
        return Record(
            self.zone,
            SOA,
            self.ttl,
            (self._ns_name, f"hostmaster.{self.zone}", self.serial, SOA_REFRESH, SOA_RETRY, SOA_EXPIRE, self.ttl),
        )

    def _nodata(self) -> Answer:
        return Answer(authority=(self.soa(),))

    def _nxdomain(self) -> Answer:
        return Answer(rcode=NXDOMAIN, authority=(self.soa(),))

    def _in_zone(self, asked: str, name: str, qtype: int, depth: int) -> Answer:
        if qtype in (AXFR, IXFR):
            return REFUSE
        relative = name[: -len(self._suffix)] if name != self.zone else ""
        if not relative:
            return self._apex(asked, qtype)
        if relative == "dns-version":
            if qtype == TXT:
                return Answer(answer=(Record(asked, TXT, DNS_VERSION_TTL, DNS_SCHEMA_VERSION),))
            return self._nxdomain()
        if relative == "ns.dns":
            if self.dns_ip and qtype == _address_type(self.dns_ip):
                return Answer(answer=(Record(asked, qtype, self.ttl, self.dns_ip),))
            return self._nodata()
        labels = relative.split(".")
        kind = labels[-1]
        if kind not in ("svc", "pod"):
            return self._nxdomain()
        if len(labels) == 1:
            return self._nodata()
        if labels[-2] not in self._namespaces:
            return self._nxdomain()
        if len(labels) == 2:
            return self._nodata()
        if kind == "pod":
            return self._pod(asked, labels, qtype)
        node = self._names.get(name)
        if node is None:
            return self._nxdomain()
        return self._from_node(asked, node, qtype, depth)

    def _apex(self, asked: str, qtype: int) -> Answer:
        if qtype == SOA:
            soa = self.soa()
            return Answer(answer=(Record(asked, SOA, soa.ttl, soa.data),))
        if qtype == NS:
            extra = (Record(self._ns_name, _address_type(self.dns_ip), self.ttl, self.dns_ip),) if self.dns_ip else ()
            return Answer(answer=(Record(asked, NS, self.ttl, self._ns_name),), additional=extra)
        return self._nodata()

    def _pod(self, asked: str, labels: list[str], qtype: int) -> Answer:
        if len(labels) != 3 or self.pod_mode == "disabled":
            return self._nxdomain()
        address = _pod_label_address(labels[0])
        if not address:
            return self._nxdomain()
        if self.pod_mode == "verified" and labels[1] not in self._pod_ips.get(address, ()):
            return self._nxdomain()
        rtype = _address_type(address)
        if qtype != rtype:
            return self._nodata()
        return Answer(answer=(Record(asked, rtype, self.ttl, address),))

    def _from_node(self, asked: str, node: NameRecords, qtype: int, depth: int) -> Answer:
        if node.cname:
            cname = Record(asked, CNAME, self.ttl, node.cname)
            if qtype == CNAME:
                return Answer(answer=(cname,))
            alias = node.cname
            if alias == self.zone or alias.endswith(self._suffix):
                if depth >= MAX_CNAME_DEPTH:
                    return Answer(answer=(cname,))
                inner = self._in_zone(alias, alias, qtype, depth + 1)
                return Answer(answer=(cname, *inner.answer), additional=inner.additional)
            return Answer(answer=(cname,), chase=alias)
        if qtype in (A, AAAA):
            seen: dict[str, None] = {}
            for target in node.targets:
                if _address_type(target.address) == qtype:
                    seen[target.address] = None
            if not seen:
                return self._nodata()
            return Answer(answer=tuple(Record(asked, qtype, self.ttl, address) for address in seen))
        if qtype == SRV:
            return self._srv(asked, node) or self._nodata()
        return self._nodata()

    def _srv(self, asked: str, node: NameRecords) -> Answer | None:
        # CoreDNS spreads a weight of 100 over every target (port-less ones included), floored, >= 1
        weight = max(1, math.floor(100.0 / (100.0 * len(node.targets)) * 100.0))
        records: dict[tuple[str, int], Record] = {}
        extra: dict[tuple[str, str], Record] = {}
        for target in node.targets:
            if target.port == NO_PORT:
                continue
            if (target.name, target.port) not in records:
                records[(target.name, target.port)] = Record(asked, SRV, self.ttl, (0, weight, target.port, target.name))
            if (target.name, target.address) not in extra:
                extra[(target.name, target.address)] = Record(
                    target.name, _address_type(target.address), self.ttl, target.address
                )
        if not records:
            return None
        return Answer(answer=tuple(records.values()), additional=tuple(extra.values()))

    def _reverse(self, asked: str, name: str, qtype: int) -> Answer:
        if qtype != PTR:
            return FORWARD
        address = reverse_address(name)
        if not address:
            return FORWARD
        services = self._cluster_ips.get(address)
        if services:
            first = services[min(services)]
            return Answer(answer=(Record(asked, PTR, self.ttl, first),))
        endpoints = self._endpoint_ips.get(address)
        if endpoints:
            names = dict.fromkeys(name for key in sorted(endpoints) for name in endpoints[key])
            return Answer(answer=tuple(Record(asked, PTR, self.ttl, target) for target in names))
        return FORWARD  # CoreDNS falls through to `forward` for reverse names it does not know


def _drop(index: dict[str, dict[str, Any]], address: str, key: str) -> None:
    holders = index.get(address)
    if holders is not None:
        holders.pop(key, None)
        if not holders:
            del index[address]
