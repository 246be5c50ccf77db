"""Server-side Table and PartialObjectMetadata rendering of objects, for kubectl's human output.

Must not fetch objects; it formats what it is given (printers do the per-kind work).
"""

from __future__ import annotations

import time
from typing import Any

from kubelite.schema import printers
from kubelite.schema.catalogue import ResourceInfo

Obj = dict[str, Any]


def table(info: ResourceInfo, objs: list[Obj], include_object: str, list_meta: dict[str, Any]) -> Obj:
    return printers.make_table(info, objs, time.time(), include_object, list_meta)


def partial_metadata(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}
