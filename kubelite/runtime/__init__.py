"""Container runtimes the kubelet drives through the `Runtime` protocol (runtime/base.py):
hollow (no containers, KWOK-style simulated nodes) and oci (runc/crun containers under conmon in
CNI-wired network namespaces; docs/runtime.md), with the image store in images/ (docs/images.md).

Must not talk to the API server: the kubelet owns every API read and write.
"""
