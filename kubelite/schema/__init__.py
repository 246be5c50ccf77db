"""The resource catalogue: kinds, schemas, defaults, validation, printer columns, OpenAPI.

Pure data and functions over it; must not do I/O beyond reading the packaged schema files,
and imports only `kubelite.api`.
"""
