"""Container runtimes the kubelet drives through the `Runtime` protocol (runtime/base.py):
hollow (no containers, KWOK-style simulated nodes) now; the OCI runtime (runc + images + CNI)
and the process runtime later.

Must not talk to the API server: the kubelet owns every API read and write.
"""
