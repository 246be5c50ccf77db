"""The HTTPS API server: routing, discovery, OpenAPI, tables, watch streams, authentication.

Must not touch storage directly: every object goes through `kubelite.registry`.
"""
