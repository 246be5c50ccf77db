"""The process runtime: containers as host processes, for machines without root or without an
OCI runtime (runc/crun). Pods share the host's network (pod IP = node IP, containerPorts are host
ports); each container is a process group started by a small monitor (monitor.py) that outlives
the kubelet, writes the CRI log and the exit code. Where the machine allows it, a container runs
in its own mount, PID, IPC and UTS namespaces (and a user namespace when not root) inside the
image's rootfs; otherwise it runs directly on the host with the rootfs as its working tree.
`ProcessRuntime` (runtime.py) implements kubelite.runtime.base.Runtime; see docs/runtime.md.

Must not import the runtime here: the monitor imports this package in a fresh interpreter per
container, so it stays free of anything heavier than the standard library.
"""
