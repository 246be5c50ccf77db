"""Where the process runtime keeps its state under the data dir (records are written like the OCI
runtime's: a temporary file renamed, with kubelite.runtime.oci.state's helpers):

    DATA/process/pods/<uid>/sandbox.json          the pod: identity, hostname, cgroup
    DATA/process/pods/<uid>/etc/{hosts,hostname,resolv.conf}
    DATA/process/pods/<uid>/shm/                  the pod's /dev/shm (a plain directory)
    DATA/process/pods/<uid>/volumes/…             LocalVolumePaths' emptyDirs
    DATA/process/pods/<uid>/containers/<name>/<attempt>/   launch.json, container.json,
                                                  rootfs/ (mount point or merged copy), upper/,
                                                  work/, termination-log, monitor.err
    DATA/process/exits/<container id>             exit codes written by the monitors
    DATA/pods/<uid>/<container>/<attempt>.log     CRI logs (the kubelet's log server reads them)

Must not hold runtime logic: it only names paths.
"""

from __future__ import annotations

from pathlib import Path


class Layout:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "process"
        self.pods = self.root / "pods"
        self.exits = self.root / "exits"
        self.probe = self.root / "probe"
        self.logs = self.data_dir / "pods"

    def create(self) -> None:
        for directory in (self.pods, self.exits, self.logs):
            directory.mkdir(parents=True, exist_ok=True)

    def pod_dir(self, uid: str) -> Path:
        return self.pods / uid

    def sandbox_file(self, uid: str) -> Path:
        return self.pods / uid / "sandbox.json"

    def etc_dir(self, uid: str) -> Path:
        return self.pods / uid / "etc"

    def shm_dir(self, uid: str) -> Path:
        return self.pods / uid / "shm"

    def volumes_dir(self, uid: str) -> Path:
        return self.pods / uid / "volumes"

    def containers_dir(self, uid: str) -> Path:
        return self.pods / uid / "containers"

    def attempt_dir(self, uid: str, name: str, attempt: int) -> Path:
        return self.pods / uid / "containers" / name / str(attempt)

    def log_dir(self, uid: str) -> Path:
        return self.logs / uid

    def log_path(self, uid: str, name: str, attempt: int) -> Path:
        return self.logs / uid / name / f"{attempt}.log"

    def stdin_fifo(self, uid: str, name: str) -> Path:
        """Where HostProcessStreams' attach writes stdin (kubelet/streams.py)."""
        return self.logs / uid / name / "stdin"
