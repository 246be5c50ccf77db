"""CustomResourceDefinitions: validation of a CRD, and what resources a CRD serves.

Must not store anything; the Registry turns `served_resources` into Stores and writes CRD status.
"""

from __future__ import annotations

from typing import Any

from kubelite.api import errors
from kubelite.schema.catalogue import ResourceInfo, Subresource
from kubelite.schema.names import is_dns1123_label, is_dns1123_subdomain
from kubelite.schema.structural import validate_crd_schema

Obj = dict[str, Any]

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def validate_crd(crd: Obj, old: Obj | None) -> list[dict[str, str]]:
    causes: list[dict[str, str]] = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    plural = names.get("plural") or ""
    name = (crd.get("metadata") or {}).get("name", "")
    if not group:
        causes.append(errors.cause("spec.group", "Required value", "FieldValueRequired"))
    elif "." not in group:
        causes.append(errors.cause("spec.group", f'Invalid value: "{group}": should be a domain with at least one dot'))
    elif is_dns1123_subdomain(group):
        causes.append(errors.cause("spec.group", f'Invalid value: "{group}": {is_dns1123_subdomain(group)[0]}'))
    if not plural:
        causes.append(errors.cause("spec.names.plural", "Required value", "FieldValueRequired"))
    elif is_dns1123_label(plural):
        causes.append(errors.cause("spec.names.plural", f'Invalid value: "{plural}": {is_dns1123_label(plural)[0]}'))
    if not names.get("kind"):
        causes.append(errors.cause("spec.names.kind", "Required value", "FieldValueRequired"))
    if names.get("listKind") and names.get("listKind") == names.get("kind"):
        causes.append(errors.cause("spec.names.listKind", f'Invalid value: "{names["listKind"]}": kind and listKind may not be the same'))
    if plural and group and name != f"{plural}.{group}":
        causes.append(errors.cause("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        causes.append(
            errors.cause(
                "spec.scope",
                f'Unsupported value: "{scope or ""}": supported values: "Cluster", "Namespaced"'
                if scope
                else "Required value",
                "FieldValueNotSupported" if scope else "FieldValueRequired",
            )
        )
    versions = spec.get("versions") or []
    if not versions:
        causes.append(errors.cause("spec.versions", "Required value: must have exactly one version marked as storage version", "FieldValueRequired"))
    storage = [v for v in versions if v.get("storage")]
    if versions and len(storage) != 1:
        causes.append(errors.cause("spec.versions", "Invalid value: must have exactly one version marked as storage version"))
    seen: set[str] = set()
    for index, version in enumerate(versions):
        vname = version.get("name") or ""
        if not vname:
            causes.append(errors.cause(f"spec.versions[{index}].name", "Required value", "FieldValueRequired"))
        elif vname in seen:
            causes.append(errors.cause(f"spec.versions[{index}].name", f'Duplicate value: "{vname}"', "FieldValueDuplicate"))
        seen.add(vname)
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            causes.append(
                errors.cause(f"spec.versions[{index}].schema.openAPIV3Schema", "Required value: schemas are required", "FieldValueRequired")
            )
        else:
            for c in validate_crd_schema(schema):
                c = dict(c)
                c["field"] = f"spec.versions[{index}].schema.openAPIV3Schema" + (
                    "." + c["field"] if c.get("field") else ""
                )
                causes.append(c)
    if old is not None:
        old_spec = old.get("spec") or {}
        if old_spec.get("group") != group:
            causes.append(errors.cause("spec.group", "field is immutable"))
        if (old_spec.get("names") or {}).get("plural") != plural:
            causes.append(errors.cause("spec.names.plural", "field is immutable"))
    return causes


def served_resources(crd: Obj) -> list[tuple[ResourceInfo, dict[str, Any] | None]]:
    """A ResourceInfo (and its openAPIV3Schema) for every served version of the CRD."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec["group"]
    plural = names["plural"]
    storage_version = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), "")
    result = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subs: list[Subresource] = []
        subresources = version.get("subresources") or {}
        if "status" in subresources:
            subs.append(Subresource("status", names["kind"], group, version["name"]))
        if "scale" in subresources:
            subs.append(Subresource("scale", "Scale", "autoscaling", "v1"))
        info = ResourceInfo(
            group=group,
            version=version["name"],
            resource=plural,
            kind=names["kind"],
            singular=names.get("singular") or names["kind"].lower(),
            namespaced=spec.get("scope") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()),
            subresources=tuple(subs),
            crd=True,
            extra={
                "printer_columns": version.get("additionalPrinterColumns") or [],
                "scale": subresources.get("scale"),
                "storage_version": storage_version,
                "list_kind": names.get("listKind") or names["kind"] + "List",
            },
        )
        result.append((info, (version.get("schema") or {}).get("openAPIV3Schema")))
    return result


def established_status(crd: Obj) -> Obj:
    """The status a healthy CRD reports: names accepted, established."""
    from kubelite.registry.strategy import now_rfc3339

    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", names.get("kind", "") + "List")
    now = now_rfc3339()
    stored = list((crd.get("status") or {}).get("storedVersions") or [])
    for v in spec.get("versions") or []:
        if v.get("storage") and v["name"] not in stored:
            stored.append(v["name"])
    return {
        "acceptedNames": names,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "lastTransitionTime": now,
                "reason": "NoConflicts",
                "message": "no conflicts found",
            },
            {
                "type": "Established",
                "status": "True",
                "lastTransitionTime": now,
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            },
        ],
        "storedVersions": stored,
    }
