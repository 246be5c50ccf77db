"""Where the process runtime keeps its state under the data dir (records are written with
kubelite.runtime.podstate's helpers; the shared part of the tree is described there):

    DATA/process/pods/<uid>/sandbox.json          the pod: identity, hostname, cgroup
    DATA/process/pods/<uid>/etc/{hosts,hostname,resolv.conf}
    DATA/process/pods/<uid>/shm/                  the pod's /dev/shm (a plain directory)
    DATA/process/pods/<uid>/volumes/…             LocalVolumePaths' emptyDirs
    DATA/process/pods/<uid>/containers/<name>/<attempt>/   launch.json, container.json,
                                                  rootfs/ (mount point or merged copy), upper/,
                                                  work/, termination-log, monitor.err
    DATA/process/exits/<container id>             exit codes written by the monitors
    DATA/pods/<uid>/<container>/<attempt>.log     CRI logs (the kubelet's log server reads them)
    DATA/pods/<uid>/<container>/stdin             the FIFO attach writes stdin to

Must not hold runtime logic: it only names paths.
"""

from __future__ import annotations

from pathlib import Path

from kubelite.runtime.podstate import PodStateLayout


class Layout(PodStateLayout):
    root_name = "process"

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.probe = self.root / "probe"

    def stdin_fifo(self, uid: str, name: str) -> Path:
        """Where HostProcessStreams' attach writes stdin (kubelet/streams.py)."""
        return self.logs / uid / name / "stdin"
