"""The ingress controller's pure parts: which Ingresses are ours (classes.py), the routing model
with upstream's path semantics (model.py, checked through nginx's own location choice), the
rendered nginx.conf (config.py, and `nginx -t` accepting it) and blaming Ingresses for errors."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from kubelite.network.ingress.classes import (
    CONTROLLER_NAME,
    DEFAULT_CLASS_ANNOTATION,
    choose_classes,
    default_ingress_class,
)
from kubelite.network.ingress.config import (
    DEFAULT_CERT_FILE,
    NginxOptions,
    offenders,
    quote,
    render,
    server_name,
)
from kubelite.network.ingress.model import (
    DEFAULT_SERVER,
    SSL_REDIRECT_ANNOTATION,
    IngressSource,
    Lookup,
    Routes,
    Server,
    build_routes,
    ingress_source,
    path_locations,
    ready_endpoints,
    references,
)
from kubelite.network.ingress.tls import ensure_fake_certificate
from tests.network.ingress_harness import (
    backend,
    endpoint_slice,
    http_path,
    ingress,
    nginx_choice,
    require_nginx,
    rule,
    self_signed,
    service,
    tls_secret,
)

Obj = dict[str, Any]
OPTIONS = NginxOptions(prefix="/srv/ingress", http_port=8080, https_port=8443, listen_addresses=("127.0.0.1",))


class Cluster:
    """Services named svc-<x>, each with one ready endpoint 10.0.0.<n>:8080 (unless told)."""

    def __init__(self, *names: str, empty: tuple[str, ...] = ()):
        self.services = {("default", name): service(name) for name in (*names, *empty)}
        self.slices = {
            ("default", name): [endpoint_slice(name, [(f"10.0.0.{i + 1}", True)], 8080)] for i, name in enumerate(names)
        }
        self.secrets: dict[tuple[str, str], Obj] = {}

    @property
    def lookup(self) -> Lookup:
        return Lookup(lambda ns, n: self.services.get((ns, n)), lambda ns, n: self.slices.get((ns, n), []))

    def sources(self, *ingresses: Obj) -> list[IngressSource]:
        return [ingress_source(ing, lambda ns, n: self.secrets.get((ns, n))) for ing in ingresses]

    def routes(self, *ingresses: Obj) -> Routes:
        return build_routes(self.sources(*ingresses), self.lookup)


def server(routes: Routes, name: str) -> Server:
    found = [s for s in routes.servers if s.name == name]
    assert found, f"no server {name!r} in {[s.name for s in routes.servers]}"
    return found[0]


def answer(routes: Routes, host: str, uri: str) -> str:
    """What the request gets: the upstream name, or the status code as text."""
    location = nginx_choice(server(routes, host).locations, uri)
    assert location is not None, f"no location for {uri}"
    return location.upstream or str(location.status)


def upstream(name: str) -> str:
    return f"default_{name}_http"


# ---------------------------------------------------------------------------- classes
def test_classes_claim_by_name_annotation_or_default() -> None:
    ours = default_ingress_class()
    other = {"metadata": {"name": "other"}, "spec": {"controller": "example.com/other"}}
    choice = choose_classes([ours, other])
    assert choice.names == {"nginx"} and choice.default
    assert choice.claims(ingress("a", class_name="nginx"))
    assert not choice.claims(ingress("b", class_name="other"))
    assert choice.claims(ingress("c"))  # no class, ours is the default
    assert choice.claims(ingress("d", annotations={"kubernetes.io/ingress.class": "nginx"}))
    assert not choice.claims(ingress("e", annotations={"kubernetes.io/ingress.class": "other"}))
    not_default = {"metadata": {"name": "nginx"}, "spec": {"controller": CONTROLLER_NAME}}
    plain = choose_classes([not_default])
    assert not plain.default and not plain.claims(ingress("c")) and plain.claims(ingress("a", class_name="nginx"))
    assert not choose_classes([ours], controller="k8s.io/ingress-nginx").claims(ingress("a", class_name="nginx"))


def test_default_class_is_marked_default() -> None:
    made = default_ingress_class()
    assert made["metadata"]["annotations"] == {DEFAULT_CLASS_ANNOTATION: "true"}
    assert made["spec"] == {"controller": "kubelite.io/ingress-nginx"}


# ---------------------------------------------------------------------------- path semantics
def test_path_locations() -> None:
    assert path_locations("Exact", "/foo") == [(True, "/foo")]
    assert path_locations("Exact", "/foo/") == [(True, "/foo/")]
    assert path_locations("Prefix", "/foo") == [(True, "/foo"), (False, "/foo/")]
    assert path_locations("Prefix", "/foo/") == [(True, "/foo"), (False, "/foo/")]
    assert path_locations("Prefix", "/") == [(False, "/")]
    assert path_locations("ImplementationSpecific", "/foo") == [(False, "/foo")]
    assert path_locations("ImplementationSpecific", "") == [(False, "/")]


# upstream's examples (kubernetes.io Ingress "Examples" table): paths -> request -> matched path
UPSTREAM_EXAMPLES = [
    ([("Prefix", "/")], "/anything/at/all", "/"),
    ([("Exact", "/foo")], "/foo", "/foo"),
    ([("Exact", "/foo")], "/bar", None),
    ([("Exact", "/foo")], "/foo/", None),
    ([("Exact", "/foo/")], "/foo", None),
    ([("Prefix", "/foo")], "/foo", "/foo"),
    ([("Prefix", "/foo")], "/foo/", "/foo"),
    ([("Prefix", "/foo/")], "/foo", "/foo/"),
    ([("Prefix", "/foo/")], "/foo/", "/foo/"),
    ([("Prefix", "/aaa/bb")], "/aaa/bbb", None),
    ([("Prefix", "/aaa/bbb")], "/aaa/bbb", "/aaa/bbb"),
    ([("Prefix", "/aaa/bbb/")], "/aaa/bbb", "/aaa/bbb/"),
    ([("Prefix", "/aaa/bbb")], "/aaa/bbb/", "/aaa/bbb"),
    ([("Prefix", "/aaa/bbb")], "/aaa/bbb/ccc", "/aaa/bbb"),
    ([("Prefix", "/aaa/bbb")], "/aaa/bbbxyz", None),
    ([("Prefix", "/"), ("Prefix", "/aaa")], "/aaa/ccc", "/aaa"),
    ([("Prefix", "/"), ("Prefix", "/aaa"), ("Prefix", "/aaa/bbb")], "/aaa/bbb", "/aaa/bbb"),
    ([("Prefix", "/"), ("Prefix", "/aaa"), ("Prefix", "/aaa/bbb")], "/ccc", "/"),
    ([("Prefix", "/aaa")], "/ccc", None),
    ([("Exact", "/foo"), ("Prefix", "/foo")], "/foo", "Exact /foo"),
    ([("Prefix", "/foo"), ("Exact", "/foo")], "/foo", "Exact /foo"),
    ([("Prefix", "/foo"), ("Exact", "/foo")], "/foo/x", "/foo"),
    ([("ImplementationSpecific", "/foo")], "/foobar", "/foo"),
]


@pytest.mark.parametrize(("paths", "uri", "expected"), UPSTREAM_EXAMPLES)
def test_upstream_path_examples(paths: list[tuple[str, str]], uri: str, expected: str | None) -> None:
    """Each path routes to its own Service (named after its index); the request must reach the
    Service of the path upstream says matches, or get 404."""
    names = [f"svc-{i}" for i in range(len(paths))]
    cluster = Cluster(*names)
    made = ingress("i", rule("a.test", *(http_path(p, n, path_type=t) for (t, p), n in zip(paths, names, strict=True))))
    got = answer(cluster.routes(made), "a.test", uri)
    if expected is None:
        assert got == "404"
        return
    kind, _, path = expected.rpartition(" ")
    index = next(i for i, (t, p) in enumerate(paths) if p == path and (not kind or t == kind))
    assert got == upstream(names[index])


def test_longest_match_wins_across_path_types() -> None:
    cluster = Cluster("svc-a", "svc-b", "svc-c")
    made = ingress(
        "i",
        rule(
            "a.test",
            http_path("/foo", "svc-a"),
            http_path("/foo/bar", "svc-b", path_type="Exact"),
            http_path("/foo/bar/baz", "svc-c"),
        ),
    )
    routes = cluster.routes(made)
    assert answer(routes, "a.test", "/foo/bar") == upstream("svc-b")
    assert answer(routes, "a.test", "/foo/bar/") == upstream("svc-a")
    assert answer(routes, "a.test", "/foo/bar/baz/q") == upstream("svc-c")
    assert answer(routes, "a.test", "/foo/barbaz") == upstream("svc-a")
    assert answer(routes, "a.test", "/other") == "404"


def test_same_path_in_two_ingresses_oldest_wins() -> None:
    cluster = Cluster("svc-a", "svc-b")
    newer = ingress("newer", rule("a.test", http_path("/p", "svc-a")), created="2025-02-01T00:00:00Z")
    older = ingress("older", rule("a.test", http_path("/p", "svc-b")), created="2025-01-01T00:00:00Z")
    routes = cluster.routes(newer, older)
    assert answer(routes, "a.test", "/p/x") == upstream("svc-b")
    assert {loc.owner for loc in server(routes, "a.test").locations if loc.path.startswith("/p")} == {"default/older"}


# ---------------------------------------------------------------------------- hosts and backends
def test_hosts_get_servers_and_hostless_rules_go_to_the_default_server() -> None:
    cluster = Cluster("svc-a", "svc-b")
    made = ingress("i", rule("a.test", http_path("/", "svc-a")), rule("", http_path("/b", "svc-b")))
    routes = cluster.routes(made)
    assert [s.name for s in routes.servers] == [DEFAULT_SERVER, "a.test"]
    assert answer(routes, "a.test", "/b") == upstream("svc-a")
    assert answer(routes, DEFAULT_SERVER, "/b") == upstream("svc-b")
    assert answer(routes, DEFAULT_SERVER, "/") == "404"


def test_default_backend() -> None:
    cluster = Cluster("svc-a", "svc-b", "svc-c")
    only_default = ingress("catchall", default_backend=backend("svc-c"), created="2025-01-01T00:00:00Z")
    with_rules = ingress(
        "web", rule("a.test", http_path("/api", "svc-a")), default_backend=backend("svc-b"), created="2025-01-02T00:00:00Z"
    )
    routes = cluster.routes(only_default, with_rules)
    assert answer(routes, "a.test", "/api/v1") == upstream("svc-a")
    assert answer(routes, "a.test", "/elsewhere") == upstream("svc-b")  # its own host's fallback
    assert answer(routes, DEFAULT_SERVER, "/whatever") == upstream("svc-c")  # the rules-less one
    explicit_root = ingress("root", rule("a.test", http_path("/", "svc-a")), default_backend=backend("svc-b"))
    assert answer(cluster.routes(explicit_root), "a.test", "/x") == upstream("svc-a")  # a rule beats the fallback


def test_backends_use_ready_pod_endpoints_and_answer_503_without_any() -> None:
    cluster = Cluster("svc-a", empty=("svc-none",))
    cluster.slices[("default", "svc-a")] = [
        endpoint_slice("svc-a", [("10.0.0.9", True), ("10.0.0.2", True), ("10.0.0.3", False)], 8080),
        endpoint_slice("svc-a", [("10.0.0.2", True)], 8080, name="svc-a-second"),
    ]
    made = ingress(
        "i",
        rule(
            "a.test",
            http_path("/a", "svc-a", port="http"),
            http_path("/none", "svc-none"),
            http_path("/missing", "svc-missing"),
            http_path("/badport", "svc-a", port=81),
        ),
    )
    routes = cluster.routes(made)
    assert [(u.name, u.endpoints) for u in routes.upstreams] == [
        (upstream("svc-a"), (("10.0.0.2", 8080), ("10.0.0.9", 8080)))
    ]
    assert answer(routes, "a.test", "/a") == upstream("svc-a")
    for path in ("/none", "/missing", "/badport"):
        assert answer(routes, "a.test", path) == "503"
    assert references(made) == ({"default/svc-a", "default/svc-none", "default/svc-missing"}, set())


def test_ready_endpoints_match_the_port_by_name() -> None:
    slices = [endpoint_slice("s", [("10.0.0.1", True)], 9000, port_name="metrics")]
    assert ready_endpoints(slices, "metrics") == (("10.0.0.1", 9000),)
    assert ready_endpoints(slices, "http") == ()


# ---------------------------------------------------------------------------- TLS
def test_tls_certificates_per_host_wildcards_and_default_server() -> None:
    cluster = Cluster("svc-a")
    cert, key = self_signed("a.test")
    cluster.secrets[("default", "a-tls")] = tls_secret("a-tls", cert, key)
    cluster.secrets[("default", "wild")] = tls_secret("wild", *self_signed("*.w.test"))
    cluster.secrets[("default", "fallback")] = tls_secret("fallback", *self_signed("x"))
    made = ingress(
        "i",
        rule("a.test", http_path("/", "svc-a")),
        rule("x.w.test", http_path("/", "svc-a")),
        rule("plain.test", http_path("/", "svc-a")),
        rule("gone.test", http_path("/", "svc-a")),
        tls=[
            {"hosts": ["a.test"], "secretName": "a-tls"},
            {"hosts": ["*.w.test"], "secretName": "wild"},
            {"hosts": ["gone.test"], "secretName": "missing"},
            {"secretName": "fallback"},
        ],
    )
    routes = cluster.routes(made)
    a = server(routes, "a.test")
    assert a.tls is not None and a.tls.cert == cert and a.tls.key == key and a.tls_owner == "default/i"
    assert server(routes, "x.w.test").tls is not None and server(routes, "x.w.test").tls.secret == "wild"  # type: ignore[union-attr]
    assert server(routes, "plain.test").tls is None and server(routes, "gone.test").tls is None
    assert server(routes, DEFAULT_SERVER).tls is not None and server(routes, DEFAULT_SERVER).tls.secret == "fallback"  # type: ignore[union-attr]
    assert references(made)[1] == {f"default/{s}" for s in ("a-tls", "wild", "missing", "fallback")}
    assert all(loc.ssl_redirect for loc in a.locations if loc.owner)
    assert not any(loc.ssl_redirect for loc in server(routes, "plain.test").locations)


def test_tls_files_and_redirects_in_the_rendering() -> None:
    cluster = Cluster("svc-a")
    cert, key = self_signed("a.test")
    cluster.secrets[("default", "a-tls")] = tls_secret("a-tls", cert, key)
    tls = [{"hosts": ["a.test", "b.test"], "secretName": "a-tls"}]
    made = ingress("i", rule("a.test", http_path("/", "svc-a")), tls=tls)
    no_redirect = ingress("j", rule("b.test", http_path("/", "svc-a")), tls=tls, annotations={SSL_REDIRECT_ANNOTATION: "false"})
    rendered = render(cluster.routes(made, no_redirect), OPTIONS)
    (name, content), = rendered.files.items()
    assert name.startswith("certs/default_a-tls_") and content == cert + key
    assert f'ssl_certificate "/srv/ingress/{name}";' in rendered.text
    assert f'ssl_certificate "/srv/ingress/{DEFAULT_CERT_FILE}";' in rendered.text  # the default server
    assert rendered.text.count("return 308 https://$host:8443$request_uri;") == 1  # a.test's `/`, not b.test's
    on_443 = render(cluster.routes(made), NginxOptions(prefix="/srv/ingress"))
    assert "return 308 https://$host$request_uri;" in on_443.text
    assert "listen 80 default_server;" in on_443.text and "listen 443 ssl http2 default_server;" in on_443.text
    http_only = render(cluster.routes(made), NginxOptions(prefix="/srv/ingress", https_port=0))
    assert "ssl" not in http_only.text.replace("ssl_", "") and "return 308" not in http_only.text


# ---------------------------------------------------------------------------- rendering
def test_rendering_shape() -> None:
    cluster = Cluster("svc-a")
    made = ingress(
        "i",
        rule("a.test", http_path('/we ird"{;}', "svc-a", path_type="Exact")),
        rule("*.w.test", http_path("/", "svc-a")),
    )
    text = render(cluster.routes(made), OPTIONS).text
    assert "upstream default_svc-a_http {\n        server 10.0.0.1:8080 max_fails=0;" in text
    assert 'location = "/we ird\\"{;}" {' in text
    assert "server_name ~^[^.]+\\.w\\.test$;" in text and "server_name _;" in text
    assert "listen 127.0.0.1:8080 default_server;" in text and "listen 127.0.0.1:8443 ssl http2;" in text
    assert 'pid "/srv/ingress/logs/nginx.pid";' in text


def test_quote_and_server_names() -> None:
    assert quote('a"b\\c') == '"a\\"b\\\\c"'
    assert server_name("") == "_" and server_name("a.test") == "a.test"
    assert server_name("*.a-b.test") == "~^[^.]+\\.a\\-b\\.test$"


def test_long_host_names_get_big_enough_hash_buckets() -> None:
    host = ".".join(["a" * 60] * 4)  # 243 characters
    text = render(Cluster("svc-a").routes(ingress("i", rule(host, http_path("/", "svc-a")))), OPTIONS).text
    assert "server_names_hash_bucket_size 512;" in text


def test_offenders_by_line_and_by_certificate_file() -> None:
    cluster = Cluster("svc-a")
    cluster.secrets[("default", "a-tls")] = tls_secret("a-tls", *self_signed("a.test"))
    good = ingress("good", rule("g.test", http_path("/", "svc-a")))
    bad = ingress("bad", rule("b.test", http_path("/x", "svc-a")), tls=[{"hosts": ["b.test"], "secretName": "a-tls"}])
    rendered = render(cluster.routes(good, bad), OPTIONS)
    line = next(i for i, text in enumerate(rendered.text.splitlines(), 1) if '"/x/"' in text)
    conf = "/srv/ingress/conf/nginx.conf.new"
    assert offenders(rendered, f'nginx: [emerg] unknown directive "x" in {conf}:{line}', conf) == {"default/bad"}
    assert offenders(rendered, f"nginx: [emerg] bad thing in /elsewhere.conf:{line}", conf) == set()
    assert offenders(rendered, f"nginx: [emerg] bad thing in {conf}:1", conf) == set()  # a global line
    cert_file = next(iter(rendered.file_owners))
    message = f'nginx: [emerg] cannot load certificate "{cert_file}": PEM_read_bio_X509_AUX() failed'
    assert offenders(rendered, message, conf) == {"default/bad"}


def test_nginx_accepts_the_rendering(tmp_path: Path) -> None:
    require_nginx()
    cluster = Cluster("svc-a", empty=("svc-b",))
    cluster.secrets[("default", "a-tls")] = tls_secret("a-tls", *self_signed("a.test"))
    made = ingress(
        "i",
        rule("a.test", http_path("/foo", "svc-a"), http_path('/odd "path" {x}', "svc-b", path_type="Exact")),
        rule("*.w.test", http_path("", "svc-a", path_type="ImplementationSpecific")),
        rule("", http_path("/", "svc-b")),
        tls=[{"hosts": ["a.test"], "secretName": "a-tls"}],
        default_backend=backend("svc-a"),
    )
    options = NginxOptions(prefix=str(tmp_path), http_port=18080, https_port=18443, listen_addresses=("127.0.0.1",))
    rendered = render(cluster.routes(made), options)
    for directory in ("conf", "logs", "tmp"):
        (tmp_path / directory).mkdir()
    ensure_fake_certificate(tmp_path / DEFAULT_CERT_FILE)
    for name, content in rendered.files.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "conf" / "nginx.conf").write_text(rendered.text)
    result = subprocess.run(
        ["nginx", "-t", "-q", "-p", f"{tmp_path}/", "-c", str(tmp_path / "conf" / "nginx.conf"), "-g", "daemon off;"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 0, result.stderr
