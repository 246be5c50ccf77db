"""The API server's request metrics: upstream's labels per request, the counter and histogram text."""

from __future__ import annotations

import time

import pytest

from kubelite.api import prometheus as prom
from kubelite.apiserver.requestmetrics import DURATION_BUCKETS, RequestMetrics, request_labels


@pytest.mark.parametrize(
    ("method", "path", "query", "content_type", "expected"),
    [
        ("GET", "/api/v1/namespaces/default/pods", "", "", ("apiserver", "", "", "pods", "namespace", "", "LIST", "v1")),
        ("GET", "/api/v1/pods", "watch=true&resourceVersion=5", "", ("apiserver", "", "", "pods", "cluster", "", "WATCH", "v1")),
        ("GET", "/api/v1/namespaces/default/pods/p", "", "", ("apiserver", "", "", "pods", "resource", "", "GET", "v1")),
        ("PUT", "/api/v1/namespaces/default/pods/p/status", "", "", ("apiserver", "", "", "pods", "resource", "status", "PUT", "v1")),
        ("POST", "/api/v1/namespaces/default/pods/p/exec", "", "", ("apiserver", "", "", "pods", "resource", "exec", "CONNECT", "v1")),
        ("PATCH", "/apis/apps/v1/namespaces/d/deployments/x", "fieldManager=k", "application/apply-patch+yaml",
         ("apiserver", "", "apps", "deployments", "resource", "", "APPLY", "v1")),
        ("DELETE", "/apis/apps/v1/namespaces/d/deployments", "dryRun=All", "", ("apiserver", "All", "apps", "deployments", "namespace", "", "DELETECOLLECTION", "v1")),
        ("GET", "/api/v1/namespaces/default", "", "", ("apiserver", "", "", "namespaces", "resource", "", "GET", "v1")),
        ("PUT", "/api/v1/namespaces/x/finalize", "", "", ("apiserver", "", "", "namespaces", "resource", "finalize", "PUT", "v1")),
        ("GET", "/healthz", "", "", ("", "", "", "", "", "/healthz", "GET", "")),
        ("GET", "/some/thing", "", "", ("", "", "", "", "", "other", "GET", "")),
    ],
)
def test_request_labels(method: str, path: str, query: str, content_type: str, expected: tuple[str, ...]) -> None:
    assert request_labels(method, path, query, content_type) == expected


def test_render_counts_and_histograms() -> None:
    metrics = RequestMetrics()
    metrics.observe("GET", "/api/v1/pods", "", "", 200, 0.003)
    metrics.observe("GET", "/api/v1/pods", "", "", 200, 0.3)
    metrics.observe("GET", "/api/v1/pods", "", "", 500, 100.0)
    samples = prom.parse(metrics.render())
    totals = {s.labels["code"]: s.value for s in samples if s.name == "apiserver_request_total"}
    assert totals == {"200": 2, "500": 1}
    buckets = {s.labels["le"]: s.value for s in samples if s.name == "apiserver_request_duration_seconds_bucket"}
    assert len(buckets) == len(DURATION_BUCKETS) + 1
    assert (buckets["0.005"], buckets["0.2"], buckets["0.4"], buckets["60"], buckets["+Inf"]) == (1, 1, 2, 2, 3)
    total = next(s.value for s in samples if s.name == "apiserver_request_duration_seconds_sum")
    assert total == pytest.approx(100.303)


def test_counting_a_request_is_cheap() -> None:
    """The hot path's share: a few microseconds against requests that take hundreds (docs/metrics.md)."""
    metrics = RequestMetrics()
    rounds = 20_000
    started = time.perf_counter()
    for index in range(rounds):
        metrics.observe("GET", f"/api/v1/namespaces/ns{index % 50}/pods/p{index}", "", "", 200, 0.001)
    per_call = (time.perf_counter() - started) / rounds
    assert per_call < 50e-6, f"{per_call * 1e6:.1f} µs per request"
