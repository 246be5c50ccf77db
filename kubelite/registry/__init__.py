"""The generic object store: per-kind strategies over a storage Backend, and the watch cache.

Must not know about HTTP; speaks dicts and raises `kubelite.api.errors.StatusError`.
"""
