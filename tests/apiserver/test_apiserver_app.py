"""The API server's error responses: a Status body with the error's code, and Retry-After when the
Status says when to retry (as upstream does for 429s, e.g. an eviction against a stale budget)."""

from __future__ import annotations

import orjson

from kubelite.api import errors
from kubelite.apiserver.app import _status_response


def test_status_with_retry_after_seconds_sets_the_header() -> None:
    exc = errors.StatusError(429, "TooManyRequests", "try later", {"retryAfterSeconds": 10})
    response = _status_response(exc)
    assert response.status == 429 and response.headers["Retry-After"] == "10"
    assert response.body is not None and orjson.loads(response.body)["details"]["retryAfterSeconds"] == 10  # type: ignore[arg-type]


def test_status_without_retry_after_has_no_header() -> None:
    response = _status_response(errors.StatusError(404, "NotFound", "gone", {"name": "x"}))
    assert response.status == 404 and "Retry-After" not in response.headers
