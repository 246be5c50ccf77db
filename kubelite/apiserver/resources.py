"""REST over resources: parses a resource path, maps the HTTP method to a verb, reads query
parameters, and calls the Registry's Store (and subresource views). Responses are JSON objects,
Tables, or Status.

Must not implement object semantics (the registry does) or content decoding (negotiation does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from kubelite.api import errors
from kubelite.apiserver import reviews, tables
from kubelite.apiserver.negotiation import TABLE_CONTENT_TYPE, decode_body, decode_patch, response_form
from kubelite.apiserver.resourceproxy import ResourceProxy
from kubelite.apiserver.streaming import POD_SUBRESOURCES, StreamingAPI
from kubelite.apiserver.watch import serve_watch
from kubelite.registry import subresources
from kubelite.registry.context import RequestContext, UserInfo
from kubelite.registry.registry import Registry
from kubelite.registry.store import DeleteOptions, ListOptions, Store

Obj = dict[str, Any]

NAMESPACE_SUBRESOURCES = {"status", "finalize"}
STREAMING_SUBRESOURCES = {"log", "exec", "attach", "portforward", "proxy"}


@dataclass(slots=True)
class ResourcePath:
    group: str
    version: str
    namespace: str | None
    resource: str
    name: str = ""
    subresource: str = ""


def parse_resource_path(group: str, version: str, segments: list[str], registry: Registry) -> ResourcePath:
    """Segments after /api/v1 or /apis/g/v."""
    if not segments or not segments[0]:
        raise errors.not_found("", group, "")
    if segments[0] == "namespaces" and len(segments) >= 3 and segments[2] not in NAMESPACE_SUBRESOURCES:
        namespace: str | None = segments[1]
        rest = segments[2:]
    else:
        namespace = None
        rest = segments
    if len(rest) > 3 and rest[2] != "proxy":
        raise _no_route()
    return ResourcePath(group, version, namespace, rest[0], rest[1] if len(rest) > 1 else "", rest[2] if len(rest) > 2 else "")


def _no_route() -> errors.StatusError:
    return errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})


def _json(body: Obj, status: int = 200, content_type: str = "application/json", warnings: list[str] | None = None) -> web.Response:
    headers = {"Content-Type": content_type}
    response = web.Response(body=orjson.dumps(body), status=status, headers=headers)
    for warning in warnings or ():
        escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{escaped}"')
    return response


def _bool(value: str | None) -> bool:
    return value in ("true", "1", "True")


def _int(query: Any, key: str) -> int | None:
    value = query.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f'invalid value for {key}: "{value}"') from None


class ResourceAPI:
    def __init__(self, registry: Registry, authenticate: Any = None, streaming: StreamingAPI | None = None):
        self.registry = registry
        self.authenticate = authenticate or (lambda token: None)
        self.streaming = streaming  # pods/log, exec, attach, portforward through kubelets (None: unavailable)
        self.proxy = ResourceProxy(registry)  # pods/proxy and services/proxy, straight to pod IPs

    def context(self, request: web.Request, user: UserInfo) -> RequestContext:
        query = request.query
        options_kind = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}.get(
            request.method, "DeleteOptions"
        )
        causes: list[dict[str, str]] = []
        dry_run = query.getall("dryRun", [])
        for value in dry_run:
            if value != "All":
                causes.append(
                    errors.cause("dryRun", f'Unsupported value: "{value}": supported values: "All"', "FieldValueNotSupported")
                )
        validation = query.get("fieldValidation", "Warn") or "Warn"
        if validation not in ("Strict", "Warn", "Ignore"):
            causes.append(
                errors.cause(
                    "fieldValidation",
                    f'Unsupported value: "{validation}": supported values: "Ignore", "Strict", "Warn"',
                    "FieldValueNotSupported",
                )
            )
        manager = query.get("fieldManager", "")
        if len(manager) > 128:
            causes.append(errors.cause("fieldManager", "Too long: may not be more than 128 bytes", "FieldValueTooLong"))
        if request.method == "PATCH" and "force" in query and not request.headers.get("Content-Type", "").startswith(
            "application/apply-patch"
        ):
            causes.append(errors.cause("force", "Forbidden: may not be specified for non-apply patch", "FieldValueForbidden"))
        if causes:
            raise errors.invalid(options_kind, "meta.k8s.io", "", causes)
        return RequestContext(
            user=user,
            dry_run=bool(dry_run),
            field_manager=manager,
            field_validation=validation,
            user_agent=request.headers.get("User-Agent", ""),
        )

    def _store(self, path: ResourcePath) -> Store:
        store = self.registry.store(path.group, path.version, path.resource)
        if store is None:
            raise _no_route()
        info = store.info
        if path.namespace is not None and not info.namespaced:
            raise _no_route()
        if path.subresource and info.subresource(path.subresource) is None:
            raise _no_route()
        return store

    async def handle(self, request: web.Request, path: ResourcePath, user: UserInfo) -> web.StreamResponse:
        store = self._store(path)
        method = request.method
        if (path.group, path.resource) in reviews.REVIEW_RESOURCES:
            if method != "POST" or path.name:
                raise errors.method_not_allowed(f"{method} is not supported on {path.resource}")
            body, _ = await self._body(request)
            return _json(reviews.answer(path.resource, body, user, self.authenticate), status=201)
        if (path.group, path.resource) == ("", "bindings") and method == "POST":
            ctx = self.context(request, user)
            body, _ = await self._body(request)
            pods = self.registry.store("", "v1", "pods")
            assert pods is not None
            name = ((body or {}).get("metadata") or {}).get("name", "")
            await subresources.bind(pods, self._namespace(store, path), name, body, ctx)
            return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, status=201)
        if path.subresource in STREAMING_SUBRESOURCES:
            return await self._streaming(request, store, path)
        if path.subresource == "scale":
            return await self._scale(request, store, path, user)
        if path.subresource in ("binding", "eviction", "token"):
            if method != "POST":
                raise errors.method_not_allowed(f"{method} is not supported on {path.resource}/{path.subresource}")
            return await self._create_subresource(request, store, path, user)
        if not path.name:
            if method == "GET":
                return await self._list_or_watch(request, store, path)
            if method == "POST":
                return await self._create(request, store, path, user)
            if method == "DELETE":
                return await self._delete_collection(request, store, path, user)
            raise errors.method_not_allowed(f"{method} is not supported on a collection")
        if method == "GET":
            return await self._get(request, store, path)
        if method == "PUT":
            return await self._update(request, store, path, user)
        if method == "PATCH":
            return await self._patch(request, store, path, user)
        if method == "DELETE":
            return await self._delete(request, store, path, user)
        if method == "POST" and path.group == "" and path.resource == "namespaces" and path.subresource == "finalize":
            return await self._update(request, store, path, user)
        raise errors.method_not_allowed(f"{method} is not supported")

    def _namespace(self, store: Store, path: ResourcePath) -> str:
        if not store.info.namespaced:
            return ""
        if path.namespace is None:
            raise errors.bad_request("the server could not find the requested resource: a namespace is required")
        return path.namespace

    # ------------------------------------------------------------------ reads
    async def _get(self, request: web.Request, store: Store, path: ResourcePath) -> web.StreamResponse:
        obj = await store.get(self._namespace(store, path), path.name, request.query.get("resourceVersion", ""), copy=False)
        form = response_form(request.headers.get("Accept", ""))
        if form.table and not path.subresource:
            include = request.query.get("includeObject", "Metadata")
            return _json(tables.table(store.info, [obj], include, {"resourceVersion": obj["metadata"].get("resourceVersion", "")}), content_type=TABLE_CONTENT_TYPE)
        if form.metadata_only:
            return _json(tables.partial_metadata(obj))
        return _json(obj)

    def _list_options(self, request: web.Request) -> ListOptions:
        query = request.query
        return ListOptions(
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
            limit=_int(query, "limit") or 0,
            continue_token=query.get("continue", ""),
            resource_version=query.get("resourceVersion", ""),
            resource_version_match=query.get("resourceVersionMatch", ""),
        )

    async def _list_or_watch(self, request: web.Request, store: Store, path: ResourcePath) -> web.StreamResponse:
        query = request.query
        opts = self._list_options(request)
        form = response_form(request.headers.get("Accept", ""))
        include = query.get("includeObject", "Metadata")
        namespace = path.namespace if store.info.namespaced else None
        if _bool(query.get("watch")):
            send_initial = query.get("sendInitialEvents")
            return await serve_watch(
                request,
                store,
                namespace,
                opts,
                form="table" if form.table else ("metadata" if form.metadata_only else "json"),
                include_object=include,
                timeout_seconds=float(_int(query, "timeoutSeconds") or 0) or None,
                bookmarks=_bool(query.get("allowWatchBookmarks")),
                send_initial=None if send_initial is None else _bool(send_initial),
            )
        result = await store.list(namespace, opts, copy=False)
        list_meta: Obj = {"resourceVersion": result.resource_version}
        if result.continue_token:
            list_meta["continue"] = result.continue_token
        if result.remaining is not None:
            list_meta["remainingItemCount"] = result.remaining
        if form.table:
            return _json(tables.table(store.info, result.items, include, list_meta), content_type=TABLE_CONTENT_TYPE)
        if form.metadata_only:
            return _json(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": list_meta,
                    "items": [tables.partial_metadata(o) for o in result.items],
                }
            )
        list_kind = store.info.extra.get("list_kind") or store.info.list_kind
        body = (
            b'{"kind":"'
            + str(list_kind).encode()
            + b'","apiVersion":"'
            + store.info.api_version.encode()
            + b'","metadata":'
            + orjson.dumps(list_meta)
            + b',"items":'
            + orjson.dumps(result.items)
            + b"}"
        )
        return web.Response(body=body, headers={"Content-Type": "application/json"})

    # ------------------------------------------------------------------ writes
    async def _body(self, request: web.Request) -> tuple[Any, bytes]:
        raw = await request.read()
        return decode_body(raw, request.headers.get("Content-Type", "application/json")), raw

    async def _create(self, request: web.Request, store: Store, path: ResourcePath, user: UserInfo) -> web.StreamResponse:
        ctx = self.context(request, user)
        obj, raw = await self._body(request)
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        json_raw = raw if request.headers.get("Content-Type", "").startswith("application/json") else None
        created = await store.create(self._namespace(store, path), obj, ctx, json_raw)
        return _json(created, status=201, warnings=ctx.warnings)

    async def _update(self, request: web.Request, store: Store, path: ResourcePath, user: UserInfo) -> web.StreamResponse:
        ctx = self.context(request, user)
        obj, raw = await self._body(request)
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        json_raw = raw if request.headers.get("Content-Type", "").startswith("application/json") else None
        subresource = path.subresource
        if subresource == "finalize":
            subresource = "finalize"
        updated, created = await store.update(
            self._namespace(store, path), path.name, obj, ctx, json_raw, subresource=subresource
        )
        return _json(updated, status=201 if created else 200, warnings=ctx.warnings)

    async def _patch(self, request: web.Request, store: Store, path: ResourcePath, user: UserInfo) -> web.StreamResponse:
        ctx = self.context(request, user)
        raw = await request.read()
        patch_type, patch = decode_patch(raw, request.headers.get("Content-Type", ""))
        force = request.query.get("force")
        result, created = await store.patch(
            self._namespace(store, path), path.name, patch_type, patch, ctx, force=_bool(force), subresource=path.subresource
        )
        return _json(result, status=201 if created else 200, warnings=ctx.warnings)

    async def _delete_options(self, request: web.Request) -> DeleteOptions:
        query = request.query
        body: Obj = {}
        if request.can_read_body:
            raw = await request.read()
            if raw.strip():
                decoded = decode_body(raw, request.headers.get("Content-Type", "application/json"))
                if not isinstance(decoded, dict):
                    raise errors.bad_request("DeleteOptions must be an object")
                body = decoded
        policy = query.get("propagationPolicy") or body.get("propagationPolicy") or ""
        orphan = query.get("orphanDependents")
        if orphan is None and "orphanDependents" in body:
            orphan = "true" if body["orphanDependents"] else "false"
        if orphan is not None and not policy:
            policy = "Orphan" if _bool(orphan) else "Background"
        grace = _int(query, "gracePeriodSeconds")
        if grace is None and body.get("gracePeriodSeconds") is not None:
            grace = int(body["gracePeriodSeconds"])
        preconditions = body.get("preconditions") or {}
        return DeleteOptions(policy, grace, preconditions.get("uid") or "", preconditions.get("resourceVersion") or "")

    async def _delete(self, request: web.Request, store: Store, path: ResourcePath, user: UserInfo) -> web.StreamResponse:
        ctx = self.context(request, user)
        opts = await self._delete_options(request)
        obj, deleted_now = await store.delete(self._namespace(store, path), path.name, opts, ctx)
        if deleted_now and not (store.info.group == "" and store.info.resource in ("pods", "services", "namespaces")):
            return _json(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {
                        "name": path.name,
                        "group": store.info.group,
                        "kind": store.info.resource,
                        "uid": obj["metadata"].get("uid", ""),
                    },
                }
            )
        return _json(obj)

    async def _delete_collection(self, request: web.Request, store: Store, path: ResourcePath, user: UserInfo) -> web.StreamResponse:
        ctx = self.context(request, user)
        opts = await self._delete_options(request)
        deleted = await store.delete_collection(
            path.namespace if store.info.namespaced else None, self._list_options(request), opts, ctx
        )
        return _json(
            {
                "kind": store.info.list_kind,
                "apiVersion": store.info.api_version,
                "metadata": {"resourceVersion": str(store.watch_cache.revision)},
                "items": deleted,
            }
        )

    # ------------------------------------------------------------------ subresources
    async def _scale(self, request: web.Request, store: Store, path: ResourcePath, user: UserInfo) -> web.StreamResponse:
        namespace = self._namespace(store, path)
        if request.method == "GET":
            return _json(await subresources.get_scale(store, namespace, path.name))
        ctx = self.context(request, user)
        if request.method == "PUT":
            body, _ = await self._body(request)
            return _json(await subresources.write_scale(store, namespace, path.name, ctx, scale=body))
        if request.method == "PATCH":
            raw = await request.read()
            patch = decode_patch(raw, request.headers.get("Content-Type", ""))
            return _json(await subresources.write_scale(store, namespace, path.name, ctx, patch=patch))
        raise errors.method_not_allowed(f"{request.method} is not supported on scale")

    async def _create_subresource(self, request: web.Request, store: Store, path: ResourcePath, user: UserInfo) -> web.StreamResponse:
        ctx = self.context(request, user)
        body, _ = await self._body(request)
        namespace = self._namespace(store, path)
        if path.subresource == "binding":
            await subresources.bind(store, namespace, path.name, body, ctx)
            return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, status=201)
        if path.subresource == "eviction":
            await subresources.evict(store, namespace, path.name, body, ctx)
            return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, status=201)
        if path.subresource == "token":
            issuer = self.registry.token_issuer
            if issuer is None:
                raise errors.service_unavailable("service account token issuing is not configured")
            sa = await store.get(namespace, path.name)
            return _json(issuer.token_request(sa, body), status=201)
        raise _no_route()

    async def _streaming(self, request: web.Request, store: Store, path: ResourcePath) -> web.StreamResponse:
        namespace = self._namespace(store, path)
        if path.subresource == "proxy" and store.info.resource in ("pods", "services") and store.info.group == "":
            return await self.proxy.serve(request, store, namespace, path.name)
        if self.streaming is not None and store.info.resource == "pods" and path.subresource in POD_SUBRESOURCES:
            return await self.streaming.serve(request, store, namespace, path.name, path.subresource)
        obj = await store.get(namespace, path.name)
        if store.info.resource == "pods":
            node = (obj.get("spec") or {}).get("nodeName")
            if not node:
                raise errors.bad_request(f'pod {path.name} does not have a host assigned')
            raise errors.service_unavailable(
                f'unable to {path.subresource} pod {path.name}: no kubelet is serving node "{node}" yet'
            )
        raise errors.service_unavailable(f"{path.subresource} is not available for {store.info.resource} yet")
