"""Where the OCI runtime keeps its state under the data dir (records are written with
kubelite.runtime.podstate's helpers; the shared part of the tree is described there):

    DATA/oci/pods/<uid>/sandbox.json           the pod: identity, netns, IP, CNI state, cgroup
    DATA/oci/pods/<uid>/etc/{hosts,hostname,resolv.conf}
    DATA/oci/pods/<uid>/shm/                   the pod's /dev/shm (tmpfs)
    DATA/oci/pods/<uid>/volumes/…              default emptyDir volumes
    DATA/oci/pods/<uid>/containers/<name>/<attempt>/   bundle: config.json, container.json,
                                               rootfs/ (overlay), upper/, work/, conmon's files
    DATA/oci/exits/<container id>              exit codes written by conmon
    DATA/oci/runc/                             the OCI binary's --root
    DATA/oci/sockets/                          conmon's attach socket links
    DATA/oci/cni/networks/                     host-local IPAM allocations
    DATA/pods/<uid>/<container>/<attempt>.log  CRI-format logs

Must not hold runtime logic: it only names paths.
"""

from __future__ import annotations

from pathlib import Path

from kubelite.runtime.podstate import PodStateLayout


class Layout(PodStateLayout):
    root_name = "oci"

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.runc_root = self.root / "runc"
        self.sockets = self.root / "sockets"
        self.cni = self.root / "cni"

    def directories(self) -> tuple[Path, ...]:
        return (self.pods, self.exits, self.runc_root, self.sockets, self.cni, self.logs)
