"""OpenAPI v3 documents shaped like kube-apiserver's `/openapi/v3` and `/openapi/v3/<group-version>`.

Component schemas are converted from kubernetes-validate's JSON Schemas (`_definitions.json`):
nullable type lists become one type, `$ref` siblings are wrapped in `allOf` as upstream does,
IntOrString/Quantity become `oneOf` scalars, and the `x-kubernetes-*` extensions stay. Paths carry
`x-kubernetes-action` and `x-kubernetes-group-version-kind` on every operation and a `fieldValidation`
parameter on every write, which is what kubectl checks to pick server-side validation and what
`kubectl explain` walks. CRD kinds get their `openAPIV3Schema` wrapped with apiVersion/kind/metadata
like upstream's CRD OpenAPI builder.

Must not serve HTTP or know the registry, and must not hand out documents for editing: converted
component schemas are shared between documents (cached once, as packaged data), so callers only
serialise what they get.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import orjson

from kubelite.schema.catalogue import Catalogue, ResourceInfo, Subresource

KUBERNETES_VERSION = "v1.33.0"
SCHEMA_SET = "v1.33.0-local"

_JSON_SCHEMA_REF = "#/$defs/"
_V3_REF = "#/components/schemas/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_OBJECT_META = _META + "ObjectMeta"
_LIST_META = _META + "ListMeta"
_STATUS = _META + "Status"
_DELETE_OPTIONS = _META + "DeleteOptions"
_PATCH = _META + "Patch"
_WATCH_EVENT = _META + "WatchEvent"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_COMMON_DEFINITIONS = (_STATUS, _DELETE_OPTIONS, _PATCH, _WATCH_EVENT, _META + "APIResourceList")

_CONTENT_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
_WATCH_CONTENT_TYPES = (
    *_CONTENT_TYPES,
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
)
_CRD_CONTENT_TYPES = ("application/json", "application/yaml")
_PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
_CRD_PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
)

# ---------------------------------------------------------------------------------------------
# Packaged schema definitions (immutable data: loaded and converted once per process)
# ---------------------------------------------------------------------------------------------


@cache
def _definitions() -> Mapping[str, dict[str, Any]]:
    path = (
        resources.files("kubernetes_validate") / "kubernetes-json-schema" / SCHEMA_SET / "_definitions.json"
    )
    defs: dict[str, dict[str, Any]] = orjson.loads(path.read_bytes())["$defs"]
    return defs


@cache
def _definitions_by_gvk() -> Mapping[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in _definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            index.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return index


def definition_for(group: str, version: str, kind: str) -> str | None:
    """The definition name of a built-in kind (e.g. `io.k8s.api.autoscaling.v1.Scale`), if any."""
    return _definitions_by_gvk().get((group, version, kind))


def _single_type(value: Any) -> Any:
    if isinstance(value, list):
        types = [t for t in value if t != "null"]
        return types[0] if len(types) == 1 else types
    return value


def _convert(node: Mapping[str, Any], drop_enum: bool = False) -> dict[str, Any]:
    """One JSON Schema node as an OpenAPI v3 schema (see the module docstring for the rules)."""
    out: dict[str, Any] = {}
    ref: str | None = None
    for key, value in node.items():
        if key == "$ref":
            ref = _V3_REF + value.removeprefix(_JSON_SCHEMA_REF)
        elif key == "type":
            out["type"] = _single_type(value)
        elif key == "properties":
            # kubernetes-validate pins apiVersion/kind with an enum; upstream leaves them free.
            out["properties"] = {
                k: _convert(v, drop_enum=k in ("apiVersion", "kind")) for k, v in value.items()
            }
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = _convert(value)
        elif key in ("oneOf", "anyOf", "allOf"):
            out[key] = [_convert(v) for v in value]
        elif key == "enum" and drop_enum:
            continue
        else:
            out[key] = value
    if ref is None:
        return out
    if not out:
        return {"$ref": ref}
    return {"allOf": [{"$ref": ref}], **out}


@cache
def _component(name: str) -> Mapping[str, Any]:
    schema = _convert(_definitions()[name])
    if name == _INT_OR_STRING:
        schema = {
            **{k: v for k, v in schema.items() if k != "oneOf"},
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": True,
        }
    return schema


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.removeprefix(_JSON_SCHEMA_REF).removeprefix(_V3_REF))
            else:
                _refs(value, found)
    elif isinstance(node, list):
        for item in node:
            _refs(item, found)


@cache
def _closure(name: str) -> frozenset[str]:
    """`name` and every definition reachable from it through `$ref`."""
    defs = _definitions()
    seen = {name}
    todo = [name]
    while todo:
        found: set[str] = set()
        _refs(defs[todo.pop()], found)
        for ref in found - seen:
            if ref in defs:
                seen.add(ref)
                todo.append(ref)
    return frozenset(seen)


# ---------------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------------


def _param(name: str, kind: str, description: str, where: str = "query") -> dict[str, Any]:
    param: dict[str, Any] = {"description": description, "in": where, "name": name}
    if where == "path":
        param["required"] = True
    param["schema"] = {"type": kind, "uniqueItems": True}
    return param


_PRETTY = _param("pretty", "string", "If 'true', the output is pretty printed.")
_NAMESPACE = _param(
    "namespace", "string", "object name and auth scope, such as for teams and projects", "path"
)
_DRY_RUN = _param(
    "dryRun", "string", "When present, the request is validated but not persisted. Valid value: All."
)
_FIELD_MANAGER = _param("fieldManager", "string", "Name of the actor making the change (required for apply).")
_FIELD_VALIDATION = _param(
    "fieldValidation",
    "string",
    "How the server treats unknown or duplicate fields in the request object: Ignore, Warn or Strict.",
)
_FORCE = _param("force", "boolean", "Force an apply request to take over fields owned by other managers.")
_WRITE_PARAMS = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION]
_PATCH_PARAMS = [*_WRITE_PARAMS, _FORCE]
_SELECTOR_PARAMS = [
    _param("continue", "string", "Continue token from a previous chunked list."),
    _param("fieldSelector", "string", "Restrict the objects by their fields; defaults to everything."),
    _param("labelSelector", "string", "Restrict the objects by their labels; defaults to everything."),
    _param(
        "limit", "integer", "Maximum number of objects to return; the list metadata carries a continue token."
    ),
    _param("resourceVersion", "string", "Constraint on the resource version the request is served from."),
    _param("resourceVersionMatch", "string", "How resourceVersion applies to a list: Exact or NotOlderThan."),
    _param("timeoutSeconds", "integer", "Time limit of the list or watch call."),
]
_LIST_PARAMS = [
    _param("allowWatchBookmarks", "boolean", "Ask for BOOKMARK watch events."),
    *_SELECTOR_PARAMS,
    _param("sendInitialEvents", "boolean", "Start a watch with synthetic events for the current state."),
    _param("watch", "boolean", "Stream changes instead of returning a list."),
]
_DELETE_PARAMS = [
    _DRY_RUN,
    _param(
        "gracePeriodSeconds", "integer", "Seconds before the object is deleted; zero deletes immediately."
    ),
    _param(
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        "boolean",
        "Delete an object whose stored data cannot be read.",
    ),
    _param("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
    _param(
        "propagationPolicy", "string", "Garbage collection of dependents: Orphan, Background or Foreground."
    ),
]
_CONNECT_PARAMS: dict[str, list[dict[str, Any]]] = {
    "attach": [
        _param("container", "string", "Container to attach to; defaults to the only container."),
        _param("stderr", "boolean", "Stream the container's stderr."),
        _param("stdin", "boolean", "Pass stdin to the container."),
        _param("stdout", "boolean", "Stream the container's stdout."),
        _param("tty", "boolean", "Allocate a TTY."),
    ],
    "exec": [
        _param("command", "string", "Command to run; repeat the parameter for each argument."),
        _param("container", "string", "Container in which to run the command."),
        _param("stderr", "boolean", "Redirect the command's stderr."),
        _param("stdin", "boolean", "Redirect the command's stdin."),
        _param("stdout", "boolean", "Redirect the command's stdout."),
        _param("tty", "boolean", "Allocate a TTY."),
    ],
    "portforward": [_param("ports", "integer", "Ports to forward.")],
    "proxy": [_param("path", "string", "Path to proxy to.")],
}
_LOG_PARAMS = [
    _param("container", "string", "Container whose log to stream."),
    _param("follow", "boolean", "Follow the log stream."),
    _param("insecureSkipTLSVerifyBackend", "boolean", "Skip verifying the kubelet's serving certificate."),
    _param("limitBytes", "integer", "Maximum number of bytes to return."),
    _param("previous", "boolean", "Return the log of the previous terminated container."),
    _param("sinceSeconds", "integer", "Only lines newer than this many seconds."),
    _param("stream", "string", "Which stream to return: All, Stdout or Stderr."),
    _param("tailLines", "integer", "Number of lines from the end of the log to show."),
    _param("timestamps", "boolean", "Prefix each line with an RFC3339 timestamp."),
]
_HTTP_OF_VERB = {"get": "get", "create": "post", "update": "put", "patch": "patch", "delete": "delete"}
_CONNECT_OP_NAME = {"get": "Get", "post": "Post", "put": "Put", "patch": "Patch", "delete": "Delete"}


def _group_words(group: str) -> list[str]:
    return group.removesuffix(".k8s.io").split(".") if group else ["core"]


def operation_tag(group: str, version: str) -> str:
    """Upstream's tag of a group-version's operations, e.g. `core_v1`, `rbacAuthorization_v1`."""
    words = _group_words(group)
    return words[0] + "".join(w.capitalize() for w in words[1:]) + "_" + version


def operation_id_prefix(group: str, version: str) -> str:
    """The group-version part of upstream's operation ids, e.g. `CoreV1`, `RbacAuthorizationV1`."""
    return "".join(w.capitalize() for w in _group_words(group)) + version.capitalize()


def _media(ref: str | None, content_types: Iterable[str], text: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"} if text or ref is None else {"$ref": _V3_REF + ref}
    return {ct: {"schema": schema} for ct in content_types}


def _responses(
    codes: Iterable[str], ref: str | None, content_types: Iterable[str], text: bool = False
) -> dict[str, Any]:
    meaning = {"200": "OK", "201": "Created", "202": "Accepted"}
    content = _media(ref, content_types, text)
    return {code: {"content": content, "description": meaning[code]} for code in codes}


class _GroupVersionPaths:
    """Builds the path items of one group-version."""

    def __init__(self, group: str, version: str):
        self.group = group
        self.version = version
        self.prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        self.tag = operation_tag(group, version)
        self.op_prefix = operation_id_prefix(group, version)
        self.paths: dict[str, dict[str, Any]] = {}
        self.referenced: set[str] = set()

    def _item(self, path: str, params: list[dict[str, Any]]) -> dict[str, Any]:
        item = self.paths.get(path)
        if item is None:
            item = self.paths[path] = {"parameters": params}
        return item

    def _operation(
        self,
        *,
        action: str,
        gvk: tuple[str, str, str],
        operation_id: str,
        description: str,
        responses: dict[str, Any],
        params: list[dict[str, Any]] | None = None,
        body: tuple[str | None, Iterable[str]] | None = None,
    ) -> dict[str, Any]:
        op: dict[str, Any] = {"description": description, "operationId": operation_id}
        if params:
            op["parameters"] = params
        if body is not None:
            ref, content_types = body
            if ref is not None:
                self.referenced.add(ref)
            body_spec: dict[str, Any] = {"content": _media(ref, content_types)}
            if action in ("post", "put", "patch"):
                body_spec["required"] = True
            op["requestBody"] = body_spec
        op["responses"] = responses
        op["tags"] = [self.tag]
        op["x-kubernetes-action"] = action
        op["x-kubernetes-group-version-kind"] = {"group": gvk[0], "kind": gvk[2], "version": gvk[1]}
        return op

    def add_resource(self, info: ResourceInfo, kind_ref: str | None, list_ref: str | None) -> None:
        crd = info.crd
        content = _CRD_CONTENT_TYPES if crd else _CONTENT_TYPES
        watch_content = _CRD_CONTENT_TYPES if crd else _WATCH_CONTENT_TYPES
        patch_types = _CRD_PATCH_TYPES if crd else _PATCH_TYPES
        for ref in (kind_ref, list_ref, _STATUS, _DELETE_OPTIONS, _PATCH):
            if ref is not None:
                self.referenced.add(ref)
        gvk = (info.group, info.version, info.kind)
        scope = "Namespaced" if info.namespaced else ""
        kind = info.kind
        base = (
            f"{self.prefix}/namespaces/{{namespace}}/{info.resource}"
            if info.namespaced
            else (f"{self.prefix}/{info.resource}")
        )
        scope_params = [_NAMESPACE, _PRETTY] if info.namespaced else [_PRETTY]
        name_param = _param("name", "string", f"name of the {kind}", "path")
        item_params = [name_param, *scope_params]
        verbs = set(info.verbs)
        op = self._operation

        if "list" in verbs and info.namespaced:
            self._item(f"{self.prefix}/{info.resource}", [_PRETTY])["get"] = op(
                action="list",
                gvk=gvk,
                operation_id=f"list{self.op_prefix}{kind}ForAllNamespaces",
                description=f"list or watch objects of kind {kind} in all namespaces",
                params=_LIST_PARAMS,
                responses=_responses(["200"], list_ref, watch_content),
            )
        if verbs & {"list", "create", "deletecollection"}:
            collection = self._item(base, scope_params)
            if "list" in verbs:
                collection["get"] = op(
                    action="list",
                    gvk=gvk,
                    operation_id=f"list{self.op_prefix}{scope}{kind}",
                    description=f"list or watch objects of kind {kind}",
                    params=_LIST_PARAMS,
                    responses=_responses(["200"], list_ref, watch_content),
                )
            if "create" in verbs:
                collection["post"] = op(
                    action="post",
                    gvk=gvk,
                    operation_id=f"create{self.op_prefix}{scope}{kind}",
                    description=f"create a new {kind}",
                    params=_WRITE_PARAMS,
                    body=(kind_ref, _CRD_CONTENT_TYPES if crd else ("*/*",)),
                    responses=_responses(["200", "201", "202"], kind_ref, content),
                )
            if "deletecollection" in verbs:
                collection["delete"] = op(
                    action="deletecollection",
                    gvk=gvk,
                    operation_id=f"delete{self.op_prefix}Collection{scope}{kind}",
                    description=f"delete a collection of {kind}",
                    params=[*_DELETE_PARAMS, *_SELECTOR_PARAMS],
                    body=(_DELETE_OPTIONS, ("application/json",)),
                    responses=_responses(["200"], _STATUS, content),
                )
        if verbs & {"get", "update", "patch", "delete"}:
            item = self._item(f"{base}/{{name}}", item_params)
            if "get" in verbs:
                item["get"] = op(
                    action="get",
                    gvk=gvk,
                    operation_id=f"read{self.op_prefix}{scope}{kind}",
                    description=f"read the specified {kind}",
                    responses=_responses(["200"], kind_ref, content),
                )
            if "update" in verbs:
                item["put"] = op(
                    action="put",
                    gvk=gvk,
                    operation_id=f"replace{self.op_prefix}{scope}{kind}",
                    description=f"replace the specified {kind}",
                    params=_WRITE_PARAMS,
                    body=(kind_ref, _CRD_CONTENT_TYPES if crd else ("*/*",)),
                    responses=_responses(["200", "201"], kind_ref, content),
                )
            if "patch" in verbs:
                item["patch"] = op(
                    action="patch",
                    gvk=gvk,
                    operation_id=f"patch{self.op_prefix}{scope}{kind}",
                    description=f"partially update the specified {kind}",
                    params=_PATCH_PARAMS,
                    body=(_PATCH, patch_types),
                    responses=_responses(["200", "201"], kind_ref, content),
                )
            if "delete" in verbs:
                item["delete"] = op(
                    action="delete",
                    gvk=gvk,
                    operation_id=f"delete{self.op_prefix}{scope}{kind}",
                    description=f"delete the specified {kind}",
                    params=_DELETE_PARAMS,
                    body=(_DELETE_OPTIONS, ("application/json",)),
                    responses=_responses(["200", "202"], _STATUS, content),
                )
        for sub in info.subresources:
            self._add_subresource(info, sub, f"{base}/{{name}}/{sub.name}", item_params, content, patch_types)

    def _add_subresource(
        self,
        info: ResourceInfo,
        sub: Subresource,
        path: str,
        params: list[dict[str, Any]],
        content: tuple[str, ...],
        patch_types: tuple[str, ...],
    ) -> None:
        gvk = (sub.group, sub.version, sub.kind)
        scope = "Namespaced" if info.namespaced else ""
        suffix = sub.name.capitalize()
        named = f"{self.op_prefix}{scope}{info.kind}{suffix}"
        item = self._item(path, params)
        op = self._operation
        if sub.name == "log":
            item["get"] = op(
                action="get",
                gvk=gvk,
                operation_id=f"read{named}",
                description=f"read the log of the specified {info.kind}",
                params=_LOG_PARAMS,
                responses=_responses(["200"], None, ["text/plain"], text=True),
            )
            return
        if sub.kind.endswith("Options"):
            # attach/exec/portforward/proxy: upgraded or proxied streams, not objects.
            for verb in sub.verbs:
                method = _HTTP_OF_VERB[verb]
                item[method] = op(
                    action="connect",
                    gvk=gvk,
                    operation_id=f"connect{self.op_prefix}{_CONNECT_OP_NAME[method]}{scope}{info.kind}{suffix}",
                    description=f"connect {method.upper()} requests to {sub.name} of {info.kind}",
                    params=_CONNECT_PARAMS.get(sub.name, []),
                    responses=_responses(["200"], None, ["*/*"], text=True),
                )
            return
        if info.crd and sub.kind == info.kind:
            ref: str | None = _crd_definition_name(info.group, info.version, info.kind)
        else:
            ref = definition_for(*gvk)
        if ref is not None:
            self.referenced.add(ref)
        if sub.verbs == ("create",):
            item["post"] = op(
                action="post",
                gvk=gvk,
                operation_id=f"create{named}",
                description=f"create {sub.name} of a {info.kind}",
                params=_WRITE_PARAMS,
                body=(ref, ("*/*",)),
                responses=_responses(["200", "201", "202"], ref, content),
            )
            return
        if "get" in sub.verbs:
            item["get"] = op(
                action="get",
                gvk=gvk,
                operation_id=f"read{named}",
                description=f"read {sub.name} of the specified {info.kind}",
                responses=_responses(["200"], ref, content),
            )
        if "update" in sub.verbs:
            item["put"] = op(
                action="put",
                gvk=gvk,
                operation_id=f"replace{named}",
                description=f"replace {sub.name} of the specified {info.kind}",
                params=_WRITE_PARAMS,
                body=(ref, ("*/*",)),
                responses=_responses(["200", "201"], ref, content),
            )
        if "patch" in sub.verbs:
            item["patch"] = op(
                action="patch",
                gvk=gvk,
                operation_id=f"patch{named}",
                description=f"partially update {sub.name} of the specified {info.kind}",
                params=_PATCH_PARAMS,
                body=(_PATCH, patch_types),
                responses=_responses(["200", "201"], ref, content),
            )


# ---------------------------------------------------------------------------------------------
# CRD schemas
# ---------------------------------------------------------------------------------------------


def _crd_definition_name(group: str, version: str, kind: str) -> str:
    """Upstream's REST-friendly name: the group reversed, e.g. `com.example.stable.v1.CronTab`."""
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def _type_meta_properties() -> dict[str, Any]:
    props = _definitions()["io.k8s.api.core.v1.Pod"]["properties"]
    return {
        "apiVersion": {"description": props["apiVersion"]["description"], "type": "string"},
        "kind": {"description": props["kind"]["description"], "type": "string"},
    }


def _crd_component(info: ResourceInfo, schema: Mapping[str, Any] | None) -> dict[str, Any]:
    gvk = [{"group": info.group, "kind": info.kind, "version": info.version}]
    if schema is None:
        return {"type": "object", "x-kubernetes-group-version-kind": gvk}
    properties = dict(schema.get("properties") or {})
    properties.update(_type_meta_properties())
    properties["metadata"] = {
        "allOf": [{"$ref": _V3_REF + _OBJECT_META}],
        "description": _definitions()["io.k8s.api.core.v1.Pod"]["properties"]["metadata"]["description"],
    }
    return {**schema, "properties": properties, "x-kubernetes-group-version-kind": gvk}


def _crd_list_component(info: ResourceInfo, kind_name: str) -> dict[str, Any]:
    return {
        "description": f"{info.list_kind} is a list of {info.kind}",
        "properties": {
            **_type_meta_properties(),
            "items": {
                "description": f"List of {info.resource}.",
                "items": {"$ref": _V3_REF + kind_name},
                "type": "array",
            },
            "metadata": {
                "allOf": [{"$ref": _V3_REF + _LIST_META}],
                "description": "Standard list metadata.",
            },
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [
            {"group": info.group, "kind": info.list_kind, "version": info.version}
        ],
    }


# ---------------------------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------------------------


def group_version_path(group: str, version: str) -> str:
    """The key of a group-version in the `/openapi/v3` root: `api/v1` or `apis/<group>/<version>`."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_v3_group_version(
    catalogue: Catalogue,
    group: str,
    version: str,
    crd_schemas: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The `/openapi/v3/<group-version>` document. `crd_schemas` maps a CRD kind to its
    `openAPIV3Schema` (a kind without one is published as a free-form object, as upstream).
    The result shares component schemas with other documents: serialise it, don't edit it."""
    builder = _GroupVersionPaths(group, version)
    components: dict[str, Any] = {}
    for info in catalogue.resources(group, version):
        if info.crd:
            kind_name = _crd_definition_name(info.group, info.version, info.kind)
            list_name = _crd_definition_name(info.group, info.version, info.list_kind)
            components[kind_name] = _crd_component(info, (crd_schemas or {}).get(info.kind))
            components[list_name] = _crd_list_component(info, kind_name)
            builder.referenced.update((_OBJECT_META, _LIST_META))
            builder.add_resource(info, kind_name, list_name)
            continue
        kind_ref = info.definition if info.definition in _definitions() else None
        list_ref = f"{info.definition}List" if f"{info.definition}List" in _definitions() else None
        builder.add_resource(info, kind_ref, list_ref)
    names: set[str] = set()
    for ref in (*builder.referenced, *_COMMON_DEFINITIONS):
        if ref in _definitions():
            names |= _closure(ref)
    for name in names:
        components[name] = _component(name)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": {path: builder.paths[path] for path in sorted(builder.paths)},
        "components": {"schemas": {name: components[name] for name in sorted(components)}},
    }


def document_hash(body: bytes) -> str:
    """The hash kube-apiserver puts in `serverRelativeURL`: SHA-512 of the document, upper-case hex."""
    return hashlib.sha512(body).hexdigest().upper()


def _facts_hash(catalogue: Catalogue, group: str, version: str, base_hash: str) -> str:
    facts = [base_hash, group, version]
    facts.extend(repr(info) for info in catalogue.resources(group, version))
    return document_hash("\n".join(facts).encode())


def openapi_v3_root(
    catalogue: Catalogue, base_hash: str, hashes: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The `/openapi/v3` discovery document: one entry per group-version. `hashes` maps a
    group-version path to the hash of its document; a missing one is derived from `base_hash`
    and the group-version's catalogue entries, so `base_hash` must change whenever anything
    else in the document (CRD schemas, the kubelite version) does."""
    paths: dict[str, Any] = {}
    for group in catalogue.groups():
        for version in catalogue.versions(group):
            key = group_version_path(group, version)
            digest = (hashes or {}).get(key) or _facts_hash(catalogue, group, version, base_hash)
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


CRDSchemaSource = Callable[[str, str], Mapping[str, Mapping[str, Any]] | None]


class OpenAPIV3Documents:
    """Serialised `/openapi/v3` documents, built once per group-version and kept until the
    catalogue changes or `invalidate` is called (call it when a CRD's schema changes)."""

    def __init__(self, catalogue: Catalogue, crd_schemas: CRDSchemaSource | None = None):
        self._catalogue = catalogue
        self._crd_schemas = crd_schemas
        self._generation = catalogue.generation
        self._documents: dict[tuple[str, str], tuple[bytes, str]] = {}
        self._root: dict[str, Any] | None = None

    def invalidate(self, group: str | None = None, version: str | None = None) -> None:
        """Forget one group-version's document (or all of them); the root is rebuilt too."""
        self._root = None
        if group is None:
            self._documents.clear()
        else:
            for key in [k for k in self._documents if k[0] == group and (version is None or k[1] == version)]:
                del self._documents[key]

    def _check_generation(self) -> None:
        if self._catalogue.generation != self._generation:
            self._generation = self._catalogue.generation
            self.invalidate()

    def document(self, group: str, version: str) -> tuple[bytes, str] | None:
        """The JSON body of a group-version's document and its hash; None for an unknown one."""
        self._check_generation()
        key = (group, version)
        cached = self._documents.get(key)
        if cached is not None:
            return cached
        if version not in self._catalogue.versions(group):
            return None
        schemas = self._crd_schemas(group, version) if self._crd_schemas else None
        body = orjson.dumps(openapi_v3_group_version(self._catalogue, group, version, schemas))
        cached = self._documents[key] = (body, document_hash(body))
        return cached

    def root(self) -> dict[str, Any]:
        """The `/openapi/v3` document, with content hashes of every group-version's document."""
        self._check_generation()
        if self._root is None:
            hashes: dict[str, str] = {}
            for group in self._catalogue.groups():
                for version in self._catalogue.versions(group):
                    built = self.document(group, version)
                    if built is not None:
                        hashes[group_version_path(group, version)] = built[1]
            self._root = openapi_v3_root(self._catalogue, "", hashes)
        return self._root
