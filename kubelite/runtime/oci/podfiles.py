"""The files every container of a pod sees at /etc/hostname, /etc/hosts and /etc/resolv.conf, with
the kubelet's content: the pod's hostname (spec.hostname or its name, with spec.subdomain a FQDN),
the "Kubernetes-managed hosts file" with the pod's IP and hostAliases, and resolv.conf from the
pod's dnsPolicy and dnsConfig (ClusterFirst: the cluster DNS servers and `<ns>.svc.<domain>`
searches with ndots:5; Default: the node's resolv.conf; None: only dnsConfig).

Must not write files: it only computes their text (the runtime writes them into the pod's dir).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
MAX_HOSTNAME = 63
MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
CLUSTER_NDOTS = "ndots:5"

_HOSTS_HEADER = (
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


@dataclass(frozen=True, slots=True)
class DnsSettings:
    servers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


def _truncate(name: str) -> str:
    return name[:MAX_HOSTNAME].rstrip("-.") if len(name) > MAX_HOSTNAME else name


def pod_hostname(pod: Obj, cluster_domain: str) -> tuple[str, str]:
    """(hostname, domain): the name the pod's UTS namespace gets and its DNS domain ("" without a
    subdomain). With setHostnameAsFQDN the hostname is the full name."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    hostname = _truncate(str(spec.get("hostname") or meta.get("name") or ""))
    domain = ""
    if spec.get("subdomain"):
        domain = f"{_truncate(str(spec['subdomain']))}.{meta.get('namespace') or 'default'}.svc.{cluster_domain}"
    if spec.get("setHostnameAsFQDN") and domain:
        return f"{hostname}.{domain}", domain
    return hostname, domain


def hosts_file(pod: Obj, pod_ip: str, hostname: str, domain: str, node_hosts: str = "") -> str:
    """/etc/hosts for a pod (for a hostNetwork pod: the node's own hosts file)."""
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork"):
        text = "# Kubernetes-managed hosts file (host network).\n" + node_hosts
    else:
        text = _HOSTS_HEADER
        short = hostname.split(".")[0] if domain and hostname.endswith("." + domain) else hostname
        if pod_ip:
            text += f"{pod_ip}\t{short}.{domain}\t{short}\n" if domain else f"{pod_ip}\t{short}\n"
    aliases = spec.get("hostAliases") or []
    if aliases:
        text += "\n# Entries added by HostAliases.\n"
        for alias in aliases:
            text += f"{alias.get('ip', '')}\t" + "\t".join(str(h) for h in alias.get("hostnames") or []) + "\n"
    return text


def parse_resolv_conf(text: str) -> DnsSettings:
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            searches = fields[1:]
        elif fields[0] == "options":
            options.extend(fields[1:])
    return DnsSettings(tuple(servers), tuple(searches), tuple(options))


def _unique(items: Sequence[str]) -> list[str]:
    kept: list[str] = []
    for item in items:
        if item not in kept:
            kept.append(item)
    return kept


def _merge_options(base: Sequence[str], extra: Sequence[Obj]) -> list[str]:
    merged: dict[str, str] = {}
    for option in base:
        merged[option.partition(":")[0]] = option
    for entry in extra:
        name = str(entry.get("name") or "")
        if name:
            merged[name] = f"{name}:{entry['value']}" if entry.get("value") is not None else name
    return list(merged.values())


def pod_dns(pod: Obj, node: DnsSettings, cluster_dns: Sequence[str], cluster_domain: str) -> DnsSettings:
    """The pod's resolver settings from dnsPolicy and dnsConfig, as the kubelet computes them."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    host_network = bool(spec.get("hostNetwork"))
    if policy == "ClusterFirstWithHostNet":
        policy = "ClusterFirst"
    elif policy == "ClusterFirst" and host_network:
        policy = "Default"
    if policy == "ClusterFirst" and not cluster_dns:
        policy = "Default"  # no cluster DNS configured: the kubelet falls back to the node's
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    if policy == "ClusterFirst":
        namespace = (pod.get("metadata") or {}).get("namespace") or "default"
        servers = list(cluster_dns)
        searches = [f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain, *node.searches]
        options = [CLUSTER_NDOTS]
    elif policy == "Default":
        servers, searches, options = list(node.servers), list(node.searches), list(node.options)
    config = spec.get("dnsConfig") or {}
    servers = _unique(servers + [str(s) for s in config.get("nameservers") or []])[:MAX_NAMESERVERS]
    searches = _unique(searches + [str(s) for s in config.get("searches") or []])[:MAX_SEARCHES]
    options = _merge_options(options, config.get("options") or [])
    return DnsSettings(tuple(servers), tuple(searches), tuple(options))


def resolv_conf(settings: DnsSettings) -> str:
    text = ""
    if settings.searches:
        text += "search " + " ".join(settings.searches) + "\n"
    for server in settings.servers:
        text += f"nameserver {server}\n"
    if settings.options:
        text += "options " + " ".join(settings.options) + "\n"
    return text
