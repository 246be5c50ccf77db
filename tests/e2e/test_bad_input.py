"""Bad input against a real `kubelite server`, sent as raw HTTPS so the bytes are ours: each case
must come back with upstream's code, reason and a Status naming the field, and must store nothing
(every test re-reads the namespace afterwards). A few cases are repeated through the real kubectl
1.33 to check what a user sees.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

KUBECTL_133 = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
CONFLICT_MSG = (
    "the object has been modified; please apply your changes to the latest version and try again"
)
_DEFAULT = object()


# ---------------------------------------------------------------------------------------------- raw HTTPS
@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def status_object(self, code: int, reason: str) -> dict[str, Any]:
        """Assert this is a Failure Status with `code` and `reason`; return it."""
        assert self.status == code, f"expected {code}, got {self.status}: {self.body[:2000]!r}"
        content_type = (self.header_values("Content-Type") or [""])[0]
        assert content_type.startswith("application/json"), f"{content_type!r}: {self.body[:500]!r}"
        body = self.json()
        assert body["kind"] == "Status" and body["apiVersion"] == "v1", body
        assert body["status"] == "Failure", body
        assert body["code"] == code, body
        assert body.get("reason") == reason, body
        assert body.get("message"), body
        return body


@dataclass
class Raw:
    host: str
    port: int
    token: str
    context: ssl.SSLContext = field(repr=False)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | dict[str, Any] | list[Any] | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        token: Any = _DEFAULT,
    ) -> Reply:
        sent_headers = {"Accept": "application/json"}
        bearer = self.token if token is _DEFAULT else token
        if bearer is not None:
            sent_headers["Authorization"] = f"Bearer {bearer}"
        data: bytes | None
        if body is None:
            data = None
        else:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent_headers["Content-Type"] = content_type
        sent_headers.update(headers or {})
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=60)
        try:
            conn.request(method, path, body=data, headers=sent_headers)
            response = conn.getresponse()
            return Reply(response.status, response.getheaders(), response.read())
        finally:
            conn.close()

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)


@pytest.fixture(scope="module")
def raw(server: Any) -> Raw:
    config = yaml.safe_load(Path(server.kubeconfig).read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    return Raw("127.0.0.1", server.port, user["token"], context)


@pytest.fixture(scope="module")
def ns(raw: Raw) -> Iterator[str]:
    name = f"bad-{uuid.uuid4().hex[:10]}"
    reply = raw.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert reply.status == 201, reply.body
    # the controller manager publishes kube-root-ca.crt into every new namespace: let it land
    # before a test snapshots the namespace, so only the test's own requests can change it
    deadline = time.monotonic() + 10
    while raw.get(f"/api/v1/namespaces/{name}/configmaps/kube-root-ca.crt").status != 200:
        assert time.monotonic() < deadline, "kube-root-ca.crt never appeared"
        time.sleep(0.05)
    yield name
    raw.request("DELETE", f"/api/v1/namespaces/{name}")


# ---------------------------------------------------------------------------------------------- helpers
COLLECTIONS = ("/api/v1/namespaces/{ns}/configmaps", "/apis/apps/v1/namespaces/{ns}/deployments", "/api/v1/namespaces/{ns}/pods")


def state(raw: Raw, ns: str) -> dict[str, dict[str, str]]:
    """name -> resourceVersion for every object this file creates in the namespace."""
    result: dict[str, dict[str, str]] = {}
    for template in COLLECTIONS:
        path = template.format(ns=ns)
        reply = raw.get(path)
        assert reply.status == 200, reply.body
        result[path] = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in reply.json()["items"]}
    return result


@pytest.fixture
def unchanged(raw: Raw, ns: str) -> Iterator[None]:
    """The namespace holds exactly the same objects at the same versions after the test."""
    before = state(raw, ns)
    yield
    assert state(raw, ns) == before


def cm_path(ns: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    return f"{base}/{name}" if name else base


def deploy_path(ns: str, name: str = "") -> str:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    return f"{base}/{name}" if name else base


def config_map(name: str, data: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"k": "v"}}


def deployment(name: str, spec_extra: str = "", labels: str = '{"app": "x"}', template_labels: str = '{"app": "x"}') -> bytes:
    """A Deployment as JSON text, so tests can put duplicate keys and wrong types in it."""
    head = f'{{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {{"name": "{name}"}}, '
    selector = f'"spec": {{{spec_extra}"selector": {{"matchLabels": {labels}}}, '
    template = f'"template": {{"metadata": {{"labels": {template_labels}}}, '
    containers = '"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}'
    return (head + selector + template + containers).encode()


def absent(raw: Raw, path: str) -> None:
    reply = raw.get(path)
    assert reply.status == 404, f"{path} exists: {reply.body[:300]!r}"


def make(raw: Raw, path: str, obj: dict[str, Any]) -> dict[str, Any]:
    reply = raw.request("POST", path, obj)
    assert reply.status == 201, reply.body
    return reply.json()  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------- decoding
@pytest.mark.parametrize(
    "body",
    [
        b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "broken"',
        b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "broken"}, "data": {"a": }}',
        b"not json at all",
        b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "broken"}}}',
    ],
)
def test_malformed_json_is_400(raw: Raw, ns: str, unchanged: None, body: bytes) -> None:
    raw.request("POST", cm_path(ns), body).status_object(400, "BadRequest")
    absent(raw, cm_path(ns, "broken"))


def test_malformed_json_update_changes_nothing(raw: Raw, ns: str) -> None:
    made = make(raw, cm_path(ns), config_map("json-target"))
    reply = raw.request("PUT", cm_path(ns, "json-target"), b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": ')
    reply.status_object(400, "BadRequest")
    after = raw.get(cm_path(ns, "json-target")).json()
    assert after["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]
    assert after["data"] == {"k": "v"}


def test_malformed_yaml_is_400(raw: Raw, ns: str, unchanged: None) -> None:
    good = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yaml-good\ndata:\n  a: b\n"
    bad = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yaml-broken\n data: [unclosed\n"
    body = raw.request("POST", cm_path(ns), bad, content_type="application/yaml").status_object(400, "BadRequest")
    # upstream converts with sigs.k8s.io/yaml, whose errors read "yaml: line N: ..."
    assert body["message"].startswith("error converting YAML to JSON: yaml: line "), body["message"]
    absent(raw, cm_path(ns, "yaml-broken"))
    # the same request with well-formed YAML would have worked (dry run, so nothing is stored)
    ok = raw.request("POST", cm_path(ns) + "?dryRun=All", good, content_type="application/yaml")
    assert ok.status == 201, ok.body
    assert ok.json()["data"] == {"a": "b"}
    absent(raw, cm_path(ns, "yaml-good"))


def test_garbage_protobuf_is_400(raw: Raw, ns: str, unchanged: None) -> None:
    for body in (b"\x00\x01\x02garbage", b"k8s\x00\x0a\xff\xff\xff\xff\x0f\x01"):
        raw.request("POST", cm_path(ns), body, content_type="application/vnd.kubernetes.protobuf").status_object(
            400, "BadRequest"
        )


def test_unsupported_body_content_type_is_415(raw: Raw, ns: str, unchanged: None) -> None:
    body = raw.request("POST", cm_path(ns), b"name=x", content_type="text/plain").status_object(415, "UnsupportedMediaType")
    assert body["message"].startswith("the body of the request was in an unknown format - accepted media types include:")
    assert "application/json" in body["message"]
    absent(raw, cm_path(ns, "x"))


# ---------------------------------------------------------------------------------------------- field validation
def test_unknown_field_strict_is_400(raw: Raw, ns: str, unchanged: None) -> None:
    body = deployment("strict-unknown", spec_extra='"foo": 1, ')
    status = raw.request("POST", deploy_path(ns) + "?fieldValidation=Strict", body).status_object(400, "BadRequest")
    assert status["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.foo"'
    )
    absent(raw, deploy_path(ns, "strict-unknown"))


def test_unknown_field_warn_creates_with_warning(raw: Raw, ns: str) -> None:
    reply = raw.request("POST", deploy_path(ns) + "?fieldValidation=Warn", deployment("warn-unknown", spec_extra='"foo": 1, '))
    assert reply.status == 201, reply.body
    assert reply.header_values("Warning") == ['299 - "unknown field \\"spec.foo\\""']
    stored = raw.get(deploy_path(ns, "warn-unknown")).json()
    assert "foo" not in stored["spec"]

    # Warn is the server's default when the client says nothing
    reply = raw.request("POST", deploy_path(ns), deployment("default-unknown", spec_extra='"foo": 1, '))
    assert reply.status == 201, reply.body
    assert reply.header_values("Warning") == ['299 - "unknown field \\"spec.foo\\""']


def test_unknown_field_ignore_creates_silently(raw: Raw, ns: str) -> None:
    reply = raw.request(
        "POST", deploy_path(ns) + "?fieldValidation=Ignore", deployment("ignore-unknown", spec_extra='"foo": 1, ')
    )
    assert reply.status == 201, reply.body
    assert reply.header_values("Warning") == []
    assert "foo" not in raw.get(deploy_path(ns, "ignore-unknown")).json()["spec"]


def test_duplicate_field_strict_is_400(raw: Raw, ns: str, unchanged: None) -> None:
    body = deployment("strict-dupe", spec_extra='"replicas": 1, "replicas": 2, ')
    status = raw.request("POST", deploy_path(ns) + "?fieldValidation=Strict", body).status_object(400, "BadRequest")
    assert status["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: duplicate field "spec.replicas"'
    )
    absent(raw, deploy_path(ns, "strict-dupe"))


def test_duplicate_field_warn_keeps_the_last(raw: Raw, ns: str) -> None:
    reply = raw.request(
        "POST", deploy_path(ns) + "?fieldValidation=Warn", deployment("warn-dupe", spec_extra='"replicas": 1, "replicas": 2, ')
    )
    assert reply.status == 201, reply.body
    assert reply.header_values("Warning") == ['299 - "duplicate field \\"spec.replicas\\""']
    assert reply.json()["spec"]["replicas"] == 2


def test_unknown_and_duplicate_fields_in_a_strict_patch(raw: Raw, ns: str) -> None:
    made = make(raw, cm_path(ns), config_map("strict-patch"))
    reply = raw.request(
        "PATCH",
        cm_path(ns, "strict-patch") + "?fieldValidation=Strict",
        b'{"data": {"a": "1"}, "bogus": true}',
        content_type="application/merge-patch+json",
    )
    status = reply.status_object(400, "BadRequest")
    assert 'unknown field "bogus"' in status["message"]
    after = raw.get(cm_path(ns, "strict-patch")).json()
    assert after["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]


def test_wrong_type_is_400_naming_the_field(raw: Raw, ns: str, unchanged: None) -> None:
    body = deployment("wrong-type", spec_extra='"replicas": "three", ')
    for query in ("", "?fieldValidation=Ignore"):
        status = raw.request("POST", deploy_path(ns) + query, body).status_object(400, "BadRequest")
        assert status["message"].startswith('Deployment in version "v1" cannot be handled as a Deployment: ')
        assert "spec.replicas" in status["message"]
    absent(raw, deploy_path(ns, "wrong-type"))


def test_bad_field_validation_value_is_invalid_options(raw: Raw, ns: str, unchanged: None) -> None:
    status = raw.request("POST", cm_path(ns) + "?fieldValidation=Bogus", config_map("bogus-fv")).status_object(422, "Invalid")
    assert status["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Bogus": '
        'supported values: "Ignore", "Strict", "Warn"'
    )
    assert status["details"]["kind"] == "CreateOptions" and status["details"]["group"] == "meta.k8s.io"
    assert status["details"]["causes"][0]["field"] == "fieldValidation"
    absent(raw, cm_path(ns, "bogus-fv"))


def test_bad_dry_run_value_is_invalid_options(raw: Raw, ns: str, unchanged: None) -> None:
    status = raw.request("POST", cm_path(ns) + "?dryRun=Sometimes", config_map("bogus-dr")).status_object(422, "Invalid")
    assert status["message"].startswith('CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ')
    assert status["message"].endswith('supported values: "All"')
    assert status["details"]["causes"][0]["field"] == "dryRun"
    absent(raw, cm_path(ns, "bogus-dr"))


# ---------------------------------------------------------------------------------------------- object validation
def test_bad_name_is_422_naming_metadata_name(raw: Raw, ns: str, unchanged: None) -> None:
    status = raw.request("POST", cm_path(ns), config_map("Bad_Name")).status_object(422, "Invalid")
    assert status["message"] == (
        f'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {DNS1123_SUBDOMAIN_MSG}'
    )
    assert status["details"]["name"] == "Bad_Name"
    assert status["details"]["kind"] == "ConfigMap"
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "Bad_Name": {DNS1123_SUBDOMAIN_MSG}',
            "field": "metadata.name",
        }
    ]
    absent(raw, cm_path(ns, "Bad_Name"))


def test_selector_not_matching_template_is_422(raw: Raw, ns: str, unchanged: None) -> None:
    body = deployment("mismatch", labels='{"app": "x"}', template_labels='{"app": "y"}')
    status = raw.request("POST", deploy_path(ns), body).status_object(422, "Invalid")
    assert status["message"].startswith('Deployment.apps "mismatch" is invalid: spec.template.metadata.labels: Invalid value: ')
    assert "`selector` does not match template `labels`" in status["message"]
    assert status["details"]["group"] == "apps" and status["details"]["kind"] == "Deployment"
    fields = [c["field"] for c in status["details"]["causes"]]
    assert fields == ["spec.template.metadata.labels"]
    absent(raw, deploy_path(ns, "mismatch"))


def test_invalid_update_changes_nothing(raw: Raw, ns: str) -> None:
    made = make(raw, deploy_path(ns), json.loads(deployment("valid-then-not")))
    broken = json.loads(json.dumps(made))
    broken["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    # unconditional (no resourceVersion): the deployment controller may have written since
    del broken["metadata"]["resourceVersion"]
    status = raw.request("PUT", deploy_path(ns, "valid-then-not"), broken).status_object(422, "Invalid")
    assert [c["field"] for c in status["details"]["causes"]] == ["spec.template.metadata.labels"]
    after = raw.get(deploy_path(ns, "valid-then-not")).json()
    assert after["metadata"]["generation"] == made["metadata"]["generation"]
    assert after["spec"]["template"]["metadata"]["labels"] == {"app": "x"}


def test_namespace_mismatch_is_400(raw: Raw, ns: str, unchanged: None) -> None:
    obj = config_map("elsewhere")
    obj["metadata"]["namespace"] = "kube-system"
    status = raw.request("POST", cm_path(ns), obj).status_object(400, "BadRequest")
    assert status["message"] == "the namespace of the provided object does not match the namespace sent on the request"
    absent(raw, cm_path(ns, "elsewhere"))
    absent(raw, cm_path("kube-system", "elsewhere"))


def test_name_mismatch_on_update_is_400(raw: Raw, ns: str) -> None:
    made = make(raw, cm_path(ns), config_map("named-a"))
    renamed = dict(made, metadata=dict(made["metadata"], name="named-b"))
    status = raw.request("PUT", cm_path(ns, "named-a"), renamed).status_object(400, "BadRequest")
    assert status["message"] == "the name of the object (named-b) does not match the name on the URL (named-a)"
    absent(raw, cm_path(ns, "named-b"))
    assert raw.get(cm_path(ns, "named-a")).json()["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]


def test_api_version_mismatch_is_400(raw: Raw, ns: str, unchanged: None) -> None:
    body = json.loads(deployment("in-wrong-place"))
    status = raw.request("POST", cm_path(ns), body).status_object(400, "BadRequest")
    assert status["message"] == "the API version in the data (apps/v1) does not match the expected API version (v1)"
    absent(raw, cm_path(ns, "in-wrong-place"))


# ---------------------------------------------------------------------------------------------- size limits
def test_config_map_over_one_mebibyte_is_invalid(raw: Raw, ns: str, unchanged: None) -> None:
    # upstream ValidateConfigMap caps the data at 1 MiB before storage is ever asked
    obj = config_map("too-much-data", {"blob": "x" * (1600 * 1024)})
    status = raw.request("POST", cm_path(ns), obj).status_object(422, "Invalid")
    assert status["message"] == 'ConfigMap "too-much-data" is invalid: []: Too long: may not be more than 1048576 bytes'
    assert status["details"]["causes"] == [
        {"reason": "FieldValueTooLong", "message": "Too long: may not be more than 1048576 bytes", "field": "[]"}
    ]
    absent(raw, cm_path(ns, "too-much-data"))


def test_object_over_storage_limit_is_413(raw: Raw, ns: str, unchanged: None) -> None:
    # valid (many empty keys, no data bytes) but more than the 1.5 MiB a stored object may take
    obj = config_map("too-big-to-store", {f"key-{i:012d}": "" for i in range(100_000)})
    payload = json.dumps(obj).encode()
    assert 1536 * 1024 < len(payload) < 3 * 1024 * 1024
    status = raw.request("POST", cm_path(ns), payload).status_object(413, "RequestEntityTooLarge")
    assert status["message"].startswith("Request entity too large")
    absent(raw, cm_path(ns, "too-big-to-store"))


@pytest.mark.parametrize("mebibytes", [3.5, 5])
def test_body_over_three_mebibytes_is_413(raw: Raw, ns: str, unchanged: None, mebibytes: float) -> None:
    obj = config_map("huge-body", {"blob": "x" * int(mebibytes * 1024 * 1024)})
    status = raw.request("POST", cm_path(ns), obj).status_object(413, "RequestEntityTooLarge")
    assert status["message"] == "Request entity too large: limit is 3145728"
    absent(raw, cm_path(ns, "huge-body"))


# ---------------------------------------------------------------------------------------------- conflicts and missing things
def test_update_with_stale_resource_version_is_409(raw: Raw, ns: str) -> None:
    made = make(raw, cm_path(ns), config_map("stale"))
    fresh = dict(made, data={"k": "fresh"})
    assert raw.request("PUT", cm_path(ns, "stale"), fresh).status == 200
    current = raw.get(cm_path(ns, "stale")).json()

    stale = dict(made, data={"k": "stale"})
    status = raw.request("PUT", cm_path(ns, "stale"), stale).status_object(409, "Conflict")
    assert status["message"] == f'Operation cannot be fulfilled on configmaps "stale": {CONFLICT_MSG}'
    assert status["details"]["name"] == "stale" and status["details"]["kind"] == "configmaps"
    after = raw.get(cm_path(ns, "stale")).json()
    assert after["data"] == {"k": "fresh"}
    assert after["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"]


def test_delete_with_stale_precondition_is_409(raw: Raw, ns: str) -> None:
    made = make(raw, cm_path(ns), config_map("precondition"))
    assert raw.request("PUT", cm_path(ns, "precondition"), dict(made, data={"k": "2"})).status == 200
    options = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": made["metadata"]["resourceVersion"]}}
    status = raw.request("DELETE", cm_path(ns, "precondition"), options).status_object(409, "Conflict")
    assert 'configmaps "precondition"' in status["message"]
    assert raw.get(cm_path(ns, "precondition")).status == 200


def test_create_in_missing_namespace_is_404(raw: Raw, ns: str, unchanged: None) -> None:
    status = raw.request("POST", cm_path("nope"), config_map("orphan")).status_object(404, "NotFound")
    assert status["message"] == 'namespaces "nope" not found'
    assert status["details"]["name"] == "nope" and status["details"]["kind"] == "namespaces"
    absent(raw, cm_path("nope", "orphan"))
    absent(raw, "/api/v1/namespaces/nope")


def test_patch_of_missing_object_is_404(raw: Raw, ns: str, unchanged: None) -> None:
    for content_type, patch in (
        ("application/merge-patch+json", b'{"data": {"a": "b"}}'),
        ("application/strategic-merge-patch+json", b'{"data": {"a": "b"}}'),
        ("application/json-patch+json", b'[{"op": "add", "path": "/data/a", "value": "b"}]'),
    ):
        reply = raw.request("PATCH", cm_path(ns, "missing"), patch, content_type=content_type)
        status = reply.status_object(404, "NotFound")
        assert status["message"] == 'configmaps "missing" not found'
        assert status["details"]["name"] == "missing" and status["details"]["kind"] == "configmaps"
    absent(raw, cm_path(ns, "missing"))


def test_get_and_delete_of_missing_object_is_404(raw: Raw, ns: str, unchanged: None) -> None:
    for method in ("GET", "DELETE"):
        status = raw.request(method, deploy_path(ns, "ghost")).status_object(404, "NotFound")
        assert status["message"] == 'deployments.apps "ghost" not found'
        assert status["details"] == {"name": "ghost", "group": "apps", "kind": "deployments"}


# ---------------------------------------------------------------------------------------------- selectors
def test_invalid_label_selector_is_400(raw: Raw, ns: str) -> None:
    status = raw.get(cm_path(ns) + "?labelSelector=a%20in%20(b").status_object(400, "BadRequest")
    assert "found '', expected: ',' or ')'" in status["message"]
    status = raw.get(cm_path(ns) + "?labelSelector=a%3D%3D%3Db").status_object(400, "BadRequest")
    status = raw.get(cm_path(ns) + "?labelSelector=bad_key!%3Dx%2F").status_object(400, "BadRequest")


def test_unknown_field_selector_is_400(raw: Raw, ns: str) -> None:
    status = raw.get(cm_path(ns) + "?fieldSelector=spec.foo%3Dbar").status_object(400, "BadRequest")
    assert status["message"] == '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"'
    status = raw.get(f"/api/v1/namespaces/{ns}/pods?fieldSelector=spec.foo%3Dbar").status_object(400, "BadRequest")
    assert "spec.foo" in status["message"]
    # a known field with an unparseable selector
    raw.get(cm_path(ns) + "?fieldSelector=metadata.name").status_object(400, "BadRequest")


# ---------------------------------------------------------------------------------------------- authentication
def test_no_token_is_401(raw: Raw, ns: str) -> None:
    status = raw.get(cm_path(ns), token=None).status_object(401, "Unauthorized")
    assert status["message"] == "Unauthorized"


def test_wrong_token_is_401(raw: Raw, ns: str, unchanged: None) -> None:
    raw.get(cm_path(ns), token="not-the-token").status_object(401, "Unauthorized")
    raw.request("POST", cm_path(ns), config_map("sneaky"), token="not-the-token").status_object(401, "Unauthorized")
    absent(raw, cm_path(ns, "sneaky"))


def test_health_needs_no_token(raw: Raw) -> None:
    reply = raw.get("/healthz", token=None)
    assert reply.status == 200 and reply.body == b"ok"
    assert raw.get("/livez", token=None).status == 200
    assert raw.get("/version", token=None).status == 200


# ---------------------------------------------------------------------------------------------- routing
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/{ns}/nosuchthings",
        "/api/v1/nosuchthings",
        "/apis/apps/v1/namespaces/{ns}/nosuchthings",
        "/apis/apps/v1/nosuchthings/x",
    ],
)
def test_unknown_resource_is_404(raw: Raw, ns: str, path: str) -> None:
    status = raw.get(path.format(ns=ns)).status_object(404, "NotFound")
    assert status["message"] == "the server could not find the requested resource"
    assert status["details"] == {}


@pytest.mark.parametrize("path", ["/apis/no.such.group/v1/things", "/apis/apps/v9/deployments", "/api/v2/pods", "/nonsense"])
def test_unknown_path_is_404(raw: Raw, path: str) -> None:
    # outside the registered group versions upstream answers with a bare 404 page; either form is a 404
    assert raw.get(path).status == 404


def test_unsupported_patch_content_type_is_415(raw: Raw, ns: str) -> None:
    made = make(raw, cm_path(ns), config_map("patch-type"))
    for content_type in ("text/plain", "application/json", "application/xml"):
        reply = raw.request("PATCH", cm_path(ns, "patch-type"), b'{"data": {"a": "b"}}', content_type=content_type)
        status = reply.status_object(415, "UnsupportedMediaType")
        assert status["message"].startswith("the body of the request was in an unknown format - accepted media types include:")
        assert "application/merge-patch+json" in status["message"]
    assert raw.get(cm_path(ns, "patch-type")).json()["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]


def test_force_on_a_non_apply_patch_is_invalid(raw: Raw, ns: str) -> None:
    made = make(raw, cm_path(ns), config_map("forced"))
    reply = raw.request(
        "PATCH", cm_path(ns, "forced") + "?force=true", b'{"data": {"a": "b"}}', content_type="application/merge-patch+json"
    )
    status = reply.status_object(422, "Invalid")
    assert status["message"] == 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch'
    assert status["details"]["causes"][0]["field"] == "force"
    assert raw.get(cm_path(ns, "forced")).json()["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]


def test_malformed_patch_bodies_are_rejected(raw: Raw, ns: str) -> None:
    made = make(raw, cm_path(ns), config_map("bad-patches"))
    path = cm_path(ns, "bad-patches")
    raw.request("PATCH", path, b'{"data": ', content_type="application/merge-patch+json").status_object(400, "BadRequest")
    raw.request("PATCH", path, b'{"op": "add"}', content_type="application/json-patch+json").status_object(400, "BadRequest")
    # a JSON patch that points nowhere is unprocessable
    reply = raw.request(
        "PATCH", path, b'[{"op": "replace", "path": "/nope/deeper", "value": 1}]', content_type="application/json-patch+json"
    )
    assert reply.status == 422, reply.body
    assert raw.get(path).json()["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]


# ---------------------------------------------------------------------------------------------- through kubectl
@pytest.fixture(scope="module")
def kubectl133(server: Any) -> Any:
    assert KUBECTL_133.exists(), f"{KUBECTL_133} is missing"
    home = tempfile.mkdtemp(prefix="kubectl-home-")

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, KUBECONFIG=str(server.kubeconfig), HOME=home)
        return subprocess.run([str(KUBECTL_133), *args], input=stdin, capture_output=True, text=True, timeout=60, env=env)

    return run


def test_kubectl_create_bad_pod_lists_each_field(kubectl133: Any, raw: Raw, ns: str, unchanged: None) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "Bad_Name"},
        "spec": {"containers": [{"name": "c"}]},
    }
    result = kubectl133("create", "-n", ns, "-f", "-", stdin=json.dumps(pod))
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert lines[0] == 'The Pod "Bad_Name" is invalid: ', result.stderr
    assert f'* metadata.name: Invalid value: "Bad_Name": {DNS1123_SUBDOMAIN_MSG}' in lines, result.stderr
    assert "* spec.containers[0].image: Required value" in lines, result.stderr
    absent(raw, f"/api/v1/namespaces/{ns}/pods/Bad_Name")


def test_kubectl_create_bad_name_single_cause(kubectl133: Any, raw: Raw, ns: str, unchanged: None) -> None:
    result = kubectl133("create", "-n", ns, "-f", "-", stdin=json.dumps(config_map("Bad_Name")))
    assert result.returncode != 0
    assert result.stderr.strip() == (
        f'The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {DNS1123_SUBDOMAIN_MSG}'
    ), result.stderr


def test_kubectl_bad_label_selector(kubectl133: Any, ns: str) -> None:
    result = kubectl133("get", "cm", "-n", ns, "-l", "a in (b")
    assert result.returncode != 0
    assert result.stderr.startswith("Error from server (BadRequest): "), result.stderr
    assert 'that match label selector "a in (b"' in result.stderr
    assert "found '', expected: ',' or ')'" in result.stderr


def test_kubectl_strict_unknown_field(kubectl133: Any, raw: Raw, ns: str, unchanged: None) -> None:
    body = json.loads(deployment("kubectl-strict"))
    body["spec"]["foo"] = 1
    result = kubectl133("create", "-n", ns, "-f", "-", stdin=json.dumps(body))
    assert result.returncode != 0
    assert 'unknown field "spec.foo"' in result.stderr, result.stderr
    absent(raw, deploy_path(ns, "kubectl-strict"))


def test_kubectl_warns_about_unknown_field(kubectl133: Any, raw: Raw, ns: str) -> None:
    body = json.loads(deployment("kubectl-warned"))
    body["spec"]["foo"] = 1
    result = kubectl133("create", "--validate=warn", "-n", ns, "-f", "-", stdin=json.dumps(body))
    assert result.returncode == 0, result.stderr
    assert 'Warning: unknown field "spec.foo"' in result.stderr.splitlines(), result.stderr
    assert "foo" not in raw.get(deploy_path(ns, "kubectl-warned")).json()["spec"]


def test_kubectl_missing_namespace(kubectl133: Any) -> None:
    result = kubectl133("create", "-n", "nope", "-f", "-", stdin=json.dumps(config_map("orphan")))
    assert result.returncode != 0
    assert 'Error from server (NotFound): error when creating "STDIN": namespaces "nope" not found' in result.stderr, result.stderr
