"""The controllers' EventRecorder is the shared one in kubelite.client.events (the kubelet records
events with it too); this module only re-exports it under the name controllers import.

Must not define anything of its own: one recorder, one correlator, for every component.
"""

from __future__ import annotations

from kubelite.client.events import NORMAL, WARNING, EventRecorder, object_reference, rfc3339

__all__ = ["NORMAL", "WARNING", "EventRecorder", "object_reference", "rfc3339"]
