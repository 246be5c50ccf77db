"""The controllers' generic loop is kubelite.client.controller's Controller (the kubelet's and the
network's components run on it too, and they may not import this layer); this module only
re-exports it under the name controllers import.

Must not define anything of its own: one loop for every component.
"""

from __future__ import annotations

from kubelite.client.controller import Controller

__all__ = ["Controller"]
