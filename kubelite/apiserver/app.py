"""The HTTPS application: authentication, then routing to health, version, discovery, OpenAPI or
the resource API; every failure leaves as a Kubernetes Status.

Must not implement resource semantics (resources.py and the registry do).
"""

from __future__ import annotations

import hashlib
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from kubelite import KUBERNETES_VERSION, __version__
from kubelite.api import errors
from kubelite.api.prometheus import CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE
from kubelite.apiserver import authorization, discovery, reviews
from kubelite.apiserver.auth import ANONYMOUS, Authenticator, impersonated_user, impersonation_requests
from kubelite.apiserver.kubeletclient import KubeletClient
from kubelite.apiserver.negotiation import decode_body
from kubelite.apiserver.rbac import shared_authorizer
from kubelite.apiserver.requestmetrics import RequestMetrics
from kubelite.apiserver.resources import ResourceAPI, ResourcePath, parse_resource_path
from kubelite.apiserver.streaming import StreamingAPI
from kubelite.registry.context import UserInfo
from kubelite.registry.registry import Registry
from kubelite.schema import openapi
from kubelite.schema.openapi_v2_proto import openapi_v2_protobuf

log = logging.getLogger(__name__)

V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


@dataclass
class ServerInfo:
    address: str  # host:port for serverAddressByClientCIDRs


def _status_response(exc: errors.StatusError) -> web.Response:
    status = exc.status()
    headers = {"Content-Type": "application/json"}
    retry_after = (status.get("details") or {}).get("retryAfterSeconds")
    if retry_after:
        headers["Retry-After"] = str(retry_after)  # as upstream, for 429s and 5xx that say when
    return web.Response(body=orjson.dumps(status), status=exc.code, headers=headers)


def _json(body: Any, content_type: str = "application/json") -> web.Response:
    return web.Response(body=body if isinstance(body, bytes) else orjson.dumps(body), headers={"Content-Type": content_type})


def version_info() -> dict[str, str]:
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"{KUBERNETES_VERSION}+kubelite-{__version__}",
        "gitCommit": "kubelite",
        "gitTreeState": "clean",
        "buildDate": "2026-11-23T00:00:00Z",
        "goVersion": "python",
        "compiler": "cpython",
        "platform": "linux/amd64",
    }


class APIServer:
    def __init__(
        self, registry: Registry, authenticator: Authenticator, info: ServerInfo, kubelets: KubeletClient | None = None
    ):
        """`kubelets`: how to reach nodes' kubelets for pods/log, exec, attach and portforward
        (without it those answer 503)."""
        self.registry = registry
        self.auth = authenticator
        self.info = info
        self.kubelets = kubelets
        streaming = StreamingAPI(registry, kubelets) if kubelets is not None else None
        self.resources = ResourceAPI(registry, authenticator.from_token, streaming)
        self.authorizer = shared_authorizer(registry)
        self.discovery = discovery.DiscoveryCache(registry.catalogue)
        self.request_metrics = RequestMetrics()  # served at GET /metrics
        self._openapi: dict[str, bytes] = {}
        self._openapi_generation = -1
        self.ready = False

    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        if self.kubelets is not None:
            kubelets = self.kubelets

            async def close_kubelet_connections(_: web.Application) -> None:
                await kubelets.close()

            app.on_cleanup.append(close_kubelet_connections)
        return app

    def _user(self, request: web.Request) -> UserInfo | None:
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise errors.unauthorized()
            user = self.auth.from_token(token.strip())
            if user is None:
                raise errors.unauthorized()
            return user
        transport = request.transport
        if transport is not None:
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is not None:
                user = Authenticator.from_peer_certificate(ssl_object.getpeercert())
                if user is not None:
                    return user
        return None

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """Serve a request and count it in the request metrics."""
        started = time.perf_counter()
        code = 500
        try:
            response = await self._dispatch(request)
            code = response.status
            return response
        except web.HTTPException as exc:
            code = exc.status
            raise
        finally:
            self.request_metrics.observe(
                request.method, request.path, request.query_string, request.headers.get("Content-Type", ""), code, time.perf_counter() - started
            )

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            path = request.path
            user = self._user(request) or ANONYMOUS
            user = self._impersonate(request, user)
            if not _is_resource_path(path):
                self._authorize(user, authorization.non_resource(request.method.lower(), path))
            return await self._route(request, path, user)
        except errors.StatusError as exc:
            return _status_response(exc)
        except web.HTTPRequestEntityTooLarge:
            return _status_response(errors.too_large())
        except web.HTTPException:
            raise
        except ConnectionResetError:
            raise
        except Exception as exc:
            log.exception("internal error serving %s %s", request.method, request.path)
            return _status_response(errors.internal(str(exc)))

    async def _route(self, request: web.Request, path: str, user: UserInfo) -> web.StreamResponse:
        segments = [s for s in path.split("/") if s]
        if not segments:
            return _json({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2", "/openapi/v3", "/readyz", "/version"]})
        head = segments[0]
        if head == "metrics" and len(segments) == 1:
            return web.Response(body=self.request_metrics.render().encode(), headers={"Content-Type": PROMETHEUS_CONTENT_TYPE})
        if head in ("healthz", "livez", "readyz"):
            if head == "readyz" and not self.ready:
                return web.Response(status=500, text="[-]registry not ready\nreadyz check failed\n")
            return web.Response(text="ok")
        if head == "version":
            return _json(version_info())
        if head == "api":
            if len(segments) == 1:
                return self._discovery_root(request, legacy_core=True)
            if segments[1] != "v1":
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})
            if len(segments) == 2:
                return _json(self.discovery.get(("rl", "", "v1"), lambda: discovery.resource_list(self.registry.catalogue, "", "v1")))
            return await self._resource(request, parse_resource_path("", "v1", segments[2:], self.registry), user)
        if head == "apis":
            if len(segments) == 1:
                return self._discovery_root(request, legacy_core=False)
            group = segments[1]
            if group not in self.registry.catalogue.groups() or group == "":
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})
            if len(segments) == 2:
                return _json(self.discovery.get(("g", group), lambda: discovery.api_group(self.registry.catalogue, group)))
            version = segments[2]
            if version not in self.registry.catalogue.versions(group):
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})
            if len(segments) == 3:
                return _json(
                    self.discovery.get(("rl", group, version), lambda: discovery.resource_list(self.registry.catalogue, group, version))
                )
            return await self._resource(request, parse_resource_path(group, version, segments[3:], self.registry), user)
        if head == "openapi":
            return self._openapi_route(request, segments)
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})

    def _authorize(self, user: UserInfo, attrs: authorization.RequestAttributes) -> None:
        """403 unless allowed; an anonymous request that is not allowed gets 401 (kubelite keeps
        asking for credentials where upstream, with anonymous auth on, answers 403)."""
        try:
            authorization.authorize(self.authorizer, user, attrs)
        except errors.StatusError:
            if user is ANONYMOUS:
                raise errors.unauthorized() from None
            raise

    def _impersonate(self, request: web.Request, user: UserInfo) -> UserInfo:
        """The user named by Impersonate-* headers, once `user` may impersonate each part."""
        wanted = impersonation_requests(request.headers)
        if wanted is None:
            return user
        for attrs in wanted.checks:
            self._authorize(user, attrs)
        return impersonated_user(wanted)

    async def _resource(self, request: web.Request, path: ResourcePath, user: UserInfo) -> web.StreamResponse:
        """Authorize, then serve a resource request (access reviews are answered here, where the
        authorizer is known)."""
        query = request.query
        watch = query.get("watch", "") in ("1", "true", "True")
        verb = authorization.request_verb(request.method, bool(path.name), watch)
        name = path.name
        if not name and verb in ("list", "watch") and "fieldSelector" in query:
            name = authorization.name_from_field_selector(query["fieldSelector"])
        self._authorize(user, authorization.RequestAttributes(verb, path.group, path.resource, path.subresource, path.namespace or "", name))
        if (path.group, path.resource) in reviews.REVIEW_RESOURCES and request.method == "POST" and not path.name:
            body = decode_body(await request.read(), request.headers.get("Content-Type", "application/json"))
            answer = reviews.answer(path.resource, body, user, self.auth.from_token, self.authorizer, path.namespace or "")
            return web.Response(body=orjson.dumps(answer), status=201, headers={"Content-Type": "application/json"})
        return await self.resources.handle(request, path, user)

    def _discovery_root(self, request: web.Request, legacy_core: bool) -> web.Response:
        accept = request.headers.get("Accept", "")
        for part in accept.split(","):
            fields = [f.strip() for f in part.split(";")]
            params = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
            if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
                version = params.get("v")
                if version in ("v2", "v2beta1"):
                    api_version = f"apidiscovery.k8s.io/{version}"
                    body = self.discovery.get(
                        ("agg", str(legacy_core), version),
                        lambda api_version=api_version: discovery.aggregated(  # type: ignore[misc]
                            self.registry.catalogue, legacy_core, api_version
                        ),
                    )
                    content_type = f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
                    return web.Response(body=body, headers={"Content-Type": content_type, "Vary": "Accept"})
            elif fields[0] in ("application/json", "*/*") and "as" not in params:
                break
        if legacy_core:
            return _json(self.discovery.get(("api",), lambda: discovery.api_versions(self.info.address)))
        return _json(self.discovery.get(("apis",), lambda: discovery.api_group_list(self.registry.catalogue)))

    # ------------------------------------------------------------------ OpenAPI
    def _openapi_doc(self, key: str, build: Any) -> bytes:
        if self._openapi_generation != self.registry.catalogue.generation:
            self._openapi.clear()
            self._openapi_generation = self.registry.catalogue.generation
        data = self._openapi.get(key)
        if data is None:
            data = self._openapi[key] = build()
        return data

    def _gv_hash(self, group: str, version: str) -> str:
        doc = self._openapi_doc(f"v3:{group}/{version}", lambda: orjson.dumps(self._build_gv(group, version)))
        return hashlib.sha512(doc).hexdigest()[:64].upper()

    def _build_gv(self, group: str, version: str) -> dict[str, Any]:
        crd_schemas = {
            kind: schema for (g, v, kind), schema in self.registry.crd_schemas.items() if g == group and v == version
        }
        return openapi.openapi_v3_group_version(self.registry.catalogue, group, version, crd_schemas or None)

    def _openapi_route(self, request: web.Request, segments: list[str]) -> web.Response:
        if len(segments) >= 2 and segments[1] == "v2":
            accept = request.headers.get("Accept", "")
            if "protobuf" not in accept:
                raise errors.StatusError(406, "NotAcceptable", "only the protobuf form of /openapi/v2 is served", {})
            body = self._openapi_doc("v2pb", lambda: openapi_v2_protobuf(self.registry.catalogue))
            return web.Response(body=body, headers={"Content-Type": V2_PROTOBUF})
        if len(segments) >= 2 and segments[1] == "v3":
            catalogue = self.registry.catalogue
            if len(segments) == 2:
                paths = {}
                for group in catalogue.groups():
                    for version in catalogue.versions(group):
                        key = f"api/{version}" if group == "" else f"apis/{group}/{version}"
                        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={self._gv_hash(group, version)}"}
                return _json({"paths": paths})
            rest = segments[2:]
            if rest[0] == "api" and len(rest) == 2:
                group, version = "", rest[1]
            elif rest[0] == "apis" and len(rest) == 3:
                group, version = rest[1], rest[2]
            else:
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})
            if version not in catalogue.versions(group):
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})
            body = self._openapi_doc(f"v3:{group}/{version}", lambda: orjson.dumps(self._build_gv(group, version)))
            return web.Response(body=body, headers={"Content-Type": "application/json"})
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})


def _is_resource_path(path: str) -> bool:
    """Whether upstream's RequestInfo sees a resource request: /api/<v>/<resource>... or
    /apis/<group>/<v>/<resource>...; anything else (discovery, health, OpenAPI) is a non-resource URL."""
    if path.startswith("/api/"):
        return len([s for s in path.split("/") if s]) >= 3
    if path.startswith("/apis/"):
        return len([s for s in path.split("/") if s]) >= 4
    return False


def server_ssl_context(cert: str, key: str, client_ca: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(client_ca)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context
