"""kubelite: Kubernetes, implemented in Python.

Layers (a layer imports only layers listed before it):
api -> schema -> storage -> registry -> apiserver -> cli.
"""

__version__ = "0.1.0"
KUBERNETES_VERSION = "v1.33.0"
