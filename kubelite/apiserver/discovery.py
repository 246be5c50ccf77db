"""Discovery documents, legacy (APIVersions, APIGroupList, APIGroup, APIResourceList) and aggregated
(apidiscovery.k8s.io v2 and v2beta1), built from the catalogue and cached until it changes.

Must not look at objects or requests beyond choosing a document.
"""

from __future__ import annotations

from typing import Any

import orjson

from kubelite.schema.catalogue import Catalogue, ResourceInfo

Doc = dict[str, Any]


def _legacy_resource(info: ResourceInfo) -> Doc:
    entry: Doc = {
        "name": info.resource,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": list(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    return entry


def _legacy_subresource(info: ResourceInfo, sub_name: str, kind: str, group: str, version: str, verbs: tuple[str, ...]) -> Doc:
    entry: Doc = {
        "name": f"{info.resource}/{sub_name}",
        "singularName": "",
        "namespaced": info.namespaced,
        "kind": kind,
        "verbs": list(verbs),
    }
    if group != info.group or version != info.version:
        entry["group"] = group
        entry["version"] = version
    return entry


def resource_list(catalogue: Catalogue, group: str, version: str) -> Doc:
    resources: list[Doc] = []
    for info in catalogue.resources(group, version):
        resources.append(_legacy_resource(info))
        for sub in info.subresources:
            resources.append(_legacy_subresource(info, sub.name, sub.kind, sub.group, sub.version, sub.verbs))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def _group_doc(catalogue: Catalogue, group: str) -> Doc:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in catalogue.versions(group)]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group(catalogue: Catalogue, group: str) -> Doc:
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(catalogue, group)}


def api_group_list(catalogue: Catalogue) -> Doc:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_doc(catalogue, g) for g in catalogue.groups() if g],
    }


def api_versions(server_address: str) -> Doc:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _aggregated_resource(info: ResourceInfo) -> Doc:
    entry: Doc = {
        "resource": info.resource,
        "responseKind": {"group": info.group, "version": info.version, "kind": info.kind},
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": info.singular,
        "verbs": list(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    if info.subresources:
        entry["subresources"] = [
            {
                "subresource": sub.name,
                "responseKind": {"group": sub.group, "version": sub.version, "kind": sub.kind},
                "verbs": list(sub.verbs),
            }
            for sub in info.subresources
        ]
    return entry


def aggregated(catalogue: Catalogue, legacy_core: bool, api_version: str) -> Doc:
    items = []
    for group in catalogue.groups():
        if (group == "") != legacy_core:
            continue
        versions = [
            {
                "version": v,
                "resources": [_aggregated_resource(i) for i in catalogue.resources(group, v)],
                "freshness": "Current",
            }
            for v in catalogue.versions(group)
        ]
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items}


class DiscoveryCache:
    """Encoded documents by key, dropped whenever the catalogue's generation moves."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self._generation = -1
        self._docs: dict[tuple[str, ...], bytes] = {}

    def get(self, key: tuple[str, ...], build: Any) -> bytes:
        if self._generation != self.catalogue.generation:
            self._docs.clear()
            self._generation = self.catalogue.generation
        data = self._docs.get(key)
        if data is None:
            data = self._docs[key] = orjson.dumps(build())
        return data
