"""A pod's /etc/resolv.conf as upstream's kubelet computes it (pkg/kubelet/network/dns) and the
container runtime writes it:

- dnsPolicy ClusterFirst (the default; Default for a hostNetwork pod) and
  ClusterFirstWithHostNet: the cluster DNS servers only, searches `<ns>.svc.<domain>
  svc.<domain> <domain>` then the host's searches (duplicates dropped), `options ndots:5` (the
  host's options are not kept). Without a cluster DNS server configured: Default, with a warning.
- Default: the host's resolv.conf as parsed (the last `search` line, trailing dots trimmed and
  `.` dropped; `options` merged by name, the last one winning). With no host resolv.conf
  (kubelet `--resolv-conf=""`): nameserver 127.0.0.1 (::1 for an IPv6 node) and search `.`.
- None: nothing but the pod's dnsConfig.
- dnsConfig is then appended: nameservers and searches without duplicates, options merged by
  name (the pod's value wins).
- Limits as upstream: at most 3 nameservers, at most 32 search domains, none longer than 253
  characters, the search line at most 2048 characters (domains cut from the end); exceeding one
  yields upstream's warning text (the kubelet records it as a `DNSConfigForming` event).

Rendering is the runtime's: `search ...`, one `nameserver` line each, `options ...`.
Pure: must not read files or record events (callers pass the host's file text in and handle
the warnings).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
MAX_SEARCH_LINE = 2048
MAX_SEARCH_DOMAIN = 253  # a DNS-1123 subdomain
DEFAULT_OPTIONS = ("ndots:5",)
MAX_RESOLV_CONF = 10 << 20  # upstream reads at most 10 MiB of it


@dataclass(frozen=True, slots=True)
class ResolvConf:
    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PodDNS:
    """A pod's resolver settings, and the warnings met while forming them."""

    config: ResolvConf
    warnings: tuple[str, ...] = field(default=())

    def render(self) -> str:
        return render(self.config)


def _option_name(option: str) -> str:
    return option.split(":", 1)[0]


def append_options(options: Iterable[str], new: Iterable[str]) -> list[str]:
    """Options merged by name: a later one replaces an earlier one in its place."""
    merged: dict[str, str] = {}
    for option in (*options, *new):
        merged[_option_name(option)] = option
    return list(merged.values())


def parse(text: str) -> ResolvConf:
    """The nameservers (all lines), searches (the last `search` line) and options (merged) of a
    resolv.conf, read as the kubelet reads the host's."""
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text[:MAX_RESOLV_CONF].split("\n"):
        trimmed = line.strip()
        if trimmed.startswith("#"):
            continue
        fields = trimmed.split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) >= 2:
            nameservers.append(fields[1])
        elif fields[0] == "search":
            searches = [domain.removesuffix(".") for domain in fields[1:] if domain != "."]
        elif fields[0] == "options":
            options = append_options(options, fields[1:])
    return ResolvConf(tuple(nameservers), tuple(searches), tuple(options))


def render(config: ResolvConf) -> str:
    text = ""
    if config.searches:
        text += f"search {' '.join(config.searches)}\n"
    for server in config.nameservers:
        text += f"nameserver {server}\n"
    if config.options:
        text += f"options {' '.join(config.options)}\n"
    return text


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def dns_type(pod: Obj) -> str:
    """"none", "cluster" or "host" (upstream getPodDNSType; an unknown policy counts as cluster)."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "None":
        return "none"
    if policy == "ClusterFirstWithHostNet":
        return "cluster"
    if policy == "ClusterFirst":
        return "host" if spec.get("hostNetwork") else "cluster"
    if policy == "Default":
        return "host"
    return "cluster"


def cluster_searches(namespace: str, cluster_domain: str, host_searches: Sequence[str]) -> list[str]:
    if not cluster_domain:
        return list(host_searches)
    return _unique([f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain, *host_searches])


def _fit_nameservers(nameservers: list[str], warnings: list[str]) -> list[str]:
    if len(nameservers) > MAX_NAMESERVERS:
        nameservers = nameservers[:MAX_NAMESERVERS]
        warnings.append(
            "Nameserver limits were exceeded, some nameservers have been omitted, "
            f"the applied nameserver line is: {' '.join(nameservers)}"
        )
    return nameservers


def _fit_searches(searches: list[str], warnings: list[str]) -> list[str]:
    exceeded = False
    if len(searches) > MAX_SEARCHES:
        searches = searches[:MAX_SEARCHES]
        exceeded = True
    kept = [domain for domain in searches if len(domain) <= MAX_SEARCH_DOMAIN]
    exceeded = exceeded or len(kept) != len(searches)
    searches = kept
    line_length = len(" ".join(searches))
    if line_length > MAX_SEARCH_LINE:
        while searches and line_length > MAX_SEARCH_LINE:
            line_length -= len(searches[-1]) + 1
            searches = searches[:-1]
        exceeded = True
    if exceeded:
        warnings.append(
            "Search Line limits were exceeded, some search paths have been omitted, "
            f"the applied search line is: {' '.join(searches)}"
        )
    return searches


def pod_dns(
    pod: Obj,
    *,
    host: ResolvConf | None,
    cluster_dns: Sequence[str] = (),
    cluster_domain: str = "cluster.local",
    node_ipv6: bool = False,
) -> PodDNS:
    """The resolver settings of `pod`. `host` is the node's parsed resolv.conf (None: the kubelet
    was told to use none); `cluster_dns` the cluster DNS server addresses."""
    warnings: list[str] = []
    kind = dns_type(pod)
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    if kind == "cluster" and not cluster_dns:
        warnings.append(
            'kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" '
            'policy. Falling back to "Default" policy.'
        )
        kind = "host"
    if kind == "cluster":
        namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
        nameservers = list(cluster_dns)
        searches = cluster_searches(namespace, cluster_domain, host.searches if host else ())
        options = list(DEFAULT_OPTIONS)
    elif kind == "host":
        if host is None:
            nameservers, searches = ["::1" if node_ipv6 else "127.0.0.1"], ["."]
        else:
            nameservers, searches, options = list(host.nameservers), list(host.searches), list(host.options)
    config = (pod.get("spec") or {}).get("dnsConfig")
    if config:
        nameservers = _unique([*nameservers, *(str(s) for s in config.get("nameservers") or [])])
        searches = _unique([*searches, *(str(s) for s in config.get("searches") or [])])
        pod_options = []
        for entry in config.get("options") or []:
            name = str(entry.get("name") or "")
            value = entry.get("value")
            pod_options.append(f"{name}:{value}" if value not in (None, "") else name)
        options = append_options(options, pod_options)
    nameservers = _fit_nameservers(nameservers, warnings)
    searches = _fit_searches(searches, warnings)
    return PodDNS(ResolvConf(tuple(nameservers), tuple(searches), tuple(options)), tuple(warnings))
