"""The API server's own Prometheus metrics (GET /metrics): apiserver_request_total and the
apiserver_request_duration_seconds histogram with upstream's labels (verb as LIST, WATCH, GET,
POST, PUT, PATCH, APPLY, DELETE, DELETECOLLECTION or CONNECT; group, version, resource,
subresource, scope resource/namespace/cluster; dry_run; component; code on the counter), and the
process_* families.

Counting is on every request's path: one dict lookup keyed by a label tuple, one bisect, three
additions (see docs/metrics.md for what it costs).

Must not look at request bodies or responses beyond the status code, nor serve anything itself.
"""

from __future__ import annotations

import bisect
import os
import resource
from pathlib import Path

from kubelite.api import prometheus as prom

DURATION_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0)
LABEL_NAMES = ("component", "dry_run", "group", "resource", "scope", "subresource", "verb", "version")
CONNECT_SUBRESOURCES = frozenset(("exec", "attach", "portforward", "proxy"))
NON_RESOURCE_PATHS = frozenset(("/healthz", "/livez", "/readyz", "/metrics", "/version", "/openapi/v2", "/openapi/v3", "/api", "/apis", "/"))
RequestKey = tuple[str, str, str, str, str, str, str, str]  # values of LABEL_NAMES, in order


def request_labels(method: str, path: str, query_string: str, content_type: str) -> RequestKey:
    """The label values (LABEL_NAMES order) upstream's request metrics give a request."""
    dry_run = "All" if "dryRun=" in query_string else ""
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        shown = path if path in NON_RESOURCE_PATHS else ("/openapi/v3" if path.startswith("/openapi/v3/") else "other")
        return ("", dry_run, "", "", "", shown, method, "")
    namespaced = rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize")
    if namespaced:
        rest = rest[2:]
    resource_name = rest[0]
    named = len(rest) >= 2
    subresource = rest[2] if len(rest) >= 3 else ""
    scope = "resource" if named else ("namespace" if namespaced else "cluster")
    if subresource in CONNECT_SUBRESOURCES:
        verb = "CONNECT"
    elif method == "GET":
        verb = "GET" if named else ("WATCH" if "watch=true" in query_string or "watch=1" in query_string else "LIST")
    elif method == "PATCH" and content_type.startswith("application/apply-patch"):
        verb = "APPLY"
    elif method == "DELETE" and not named:
        verb = "DELETECOLLECTION"
    else:
        verb = method
    return ("apiserver", dry_run, group, resource_name, scope, subresource, verb, version)


class RequestMetrics:
    def __init__(self) -> None:
        self._totals: dict[tuple[RequestKey, int], int] = {}
        self._durations: dict[RequestKey, list[float]] = {}  # per-bucket counts, then +Inf, then the sum

    def observe(self, method: str, path: str, query_string: str, content_type: str, code: int, seconds: float) -> None:
        key = request_labels(method, path, query_string, content_type)
        counted = (key, code)
        self._totals[counted] = self._totals.get(counted, 0) + 1
        buckets = self._durations.get(key)
        if buckets is None:
            buckets = self._durations[key] = [0.0] * (len(DURATION_BUCKETS) + 2)
        buckets[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        buckets[-1] += seconds

    def render(self) -> str:
        parts = [prom.header("apiserver_request_duration_seconds", "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.", "histogram", "STABLE")]
        for key in sorted(self._durations):
            buckets = self._durations[key]
            counts = [int(c) for c in buckets[:-1]]
            parts.append(prom.histogram("apiserver_request_duration_seconds", tuple(zip(LABEL_NAMES, key, strict=True)), DURATION_BUCKETS, counts, buckets[-1]))
        parts.append(prom.header("apiserver_request_total", "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.", "counter", "STABLE"))
        for (key, code), count in sorted(self._totals.items()):
            labels = (("code", str(code)), *zip(LABEL_NAMES, key, strict=True))
            parts.append(prom.sample("apiserver_request_total", labels, count))
        parts.append(process_metrics())
        return "".join(parts)


def process_metrics() -> str:
    """The process_* families of this process."""
    return prom.process_metrics(
        lambda path: Path(path).read_text(),
        lambda path: len(os.listdir(path)),
        resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        os.sysconf("SC_CLK_TCK"),
        os.sysconf("SC_PAGE_SIZE"),
    )
