"""The client layer every component uses to reach the API: one Transport protocol (HTTP or
in-process), a small facade over it, informers (reflector + indexed cache), a rate-limited work
queue, leader election and an injectable clock.

Must not import the registry, storage or apiserver: in-process access is injected as a Transport.
"""
