"""Wire timestamps from the clock's wall seconds: metav1.Time (RFC 3339, whole seconds, UTC).

Must not read the time itself: callers pass the clock's reading.
"""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
