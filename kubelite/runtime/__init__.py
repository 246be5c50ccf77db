"""Container runtimes the kubelet drives through the `Runtime` protocol (runtime/base.py):
hollow (no containers, KWOK-style simulated nodes), oci (runc/crun containers under conmon in
CNI-wired network namespaces) and process (containers as host processes where OCI cannot run;
both in docs/runtime.md), with the image store in images/ (docs/images.md) and the CRI log
format shared by the runtimes in containerlogs.py.

Must not talk to the API server: the kubelet owns every API read and write.
"""
