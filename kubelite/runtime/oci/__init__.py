"""The OCI runtime: pods as real containers. A pod is a named network namespace wired by the CNI
plugins (cni.py, netns.py), its containers run by runc or crun under conmon (runner.py) on an
overlayfs rootfs over the image store's unpacked layers (rootfs.py), limited by cgroups
(cgroups.py, resources.py), configured by an OCI config.json built from the pod (spec.py,
podfiles.py), with CRI-format logs (logs.py) and exit codes that survive a kubelet restart
(exits.py, state.py). `OciRuntime` (runtime.py) implements kubelite.runtime.base.Runtime.
See docs/runtime.md.

Must not talk to the API server or decide restart policy: the kubelet does.
"""

from kubelite.runtime.oci.errors import ContainerStartError, RuntimeUnavailable
from kubelite.runtime.oci.host import HostSupport, check_host
from kubelite.runtime.oci.runtime import OciOptions, OciRuntime

__all__ = ["ContainerStartError", "HostSupport", "OciOptions", "OciRuntime", "RuntimeUnavailable", "check_host"]
