"""Revisioned key-value storage with etcd semantics behind one Backend protocol.

Knows nothing about Kubernetes objects: keys are strings, values are bytes.
"""
