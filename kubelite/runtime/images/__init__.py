"""Container images for the OCI runtime: references (reference.py), the content-addressed store
with layers unpacked once for overlayfs (store.py, unpack.py), `docker save` / OCI-layout import
(importer.py), registry pulls over the distribution API (puller.py, registries.py), pull policy
(ensure.py), disk-threshold garbage collection (gc.py) and reproducible image writing for test
images (layout.py). See docs/images.md.

Must not talk to the API server or run containers.
"""
