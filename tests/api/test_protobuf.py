"""Protobuf request bodies: envelopes and objects written by hand (field numbers from upstream
generated.proto) or captured from kubectl 1.33.1, decoded into the dicts the JSON API would carry."""

from __future__ import annotations

import base64
import time

import pytest

from kubelite.api.errors import StatusError
from kubelite.api.protobuf import (
    decode_object,
    encode_object,
    go_duration,
    is_protobuf,
    parse_go_duration,
)

# --- a tiny protobuf writer, independent of the module under test -----------------------------------


def varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def vf(number: int, value: int) -> bytes:
    """A varint field."""
    return varint(number << 3) + varint(value)


def lf(number: int, *parts: bytes | str) -> bytes:
    """A length-delimited field whose payload is the concatenated parts."""
    payload = b"".join(p.encode() if isinstance(p, str) else p for p in parts)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def entry(number: int, key: str, value: bytes | str) -> bytes:
    """One map entry {1: key, 2: value}."""
    return lf(number, lf(1, key), lf(2, value))


def body(api_version: str, kind: str, *fields: bytes) -> bytes:
    return b"k8s\x00" + lf(1, lf(1, api_version), lf(2, kind)) + lf(2, *fields) + lf(3) + lf(4)


def meta(*fields: bytes) -> bytes:
    """ObjectMeta as Go writes it: empty strings present, creationTimestamp an empty Time (8)."""
    return lf(1, *fields, lf(8))


# --- captured from kubectl 1.33.1 --------------------------------------------------------------------

# kubectl create deployment web2 --image=nginx --port=80
KUBECTL_DEPLOYMENT = bytes.fromhex(
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412bc010a210a047765623212001a0022002a0032003800"
    "42005a0b0a036170701204776562321288010801120d0a0b0a036170701204776562321a6d0a1d0a0012001a0022002a0032"
    "00380042005a0b0a03617070120477656232124c122e0a056e67696e7812056e67696e782a00320a0a001000185022002a00"
    "42006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00"
    "280038001a0c0800100018002000280038001a002200"
)
# kubectl create service nodeport svc1 --tcp=80:http
KUBECTL_SERVICE = bytes.fromhex(
    "6b3873000a0d0a027631120753657276696365126e0a210a047376633112001a0022002a003200380042005a0b0a03617070"
    "12047376633112450a1e0a0738302d6874747012035443501850220a080110001a04687474702800120b0a03617070120473"
    "7663311a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200"
)
# kubectl create token default --duration=1h --audience=api
KUBECTL_TOKEN_REQUEST = bytes.fromhex(
    "6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e5265717565737412220a10"
    "0a0012001a0022002a0032003800420012080a0361706920901c1a040a0012001a002200"
)
# kubectl auth can-i create pods
KUBECTL_SSAR = bytes.fromhex(
    "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a6563744163636573"
    "73526576696577123f0a100a0012001a0022002a0032003800420012210a1f0a0764656661756c7412066372656174651a00"
    "22002a04706f647332003a001a08080012001a0020001a002200"
)


def test_kubectl_create_deployment() -> None:
    # Identical to the JSON body kubectl 1.31 sends for the same command.
    assert decode_object(KUBECTL_DEPLOYMENT) == {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web2", "creationTimestamp": None, "labels": {"app": "web2"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web2"}},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": "web2"}},
                "spec": {
                    "containers": [
                        {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}], "resources": {}}
                    ]
                },
            },
            "strategy": {},
        },
        "status": {},
    }


def test_kubectl_create_service_with_named_target_port() -> None:
    assert decode_object(KUBECTL_SERVICE) == {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": "svc1", "creationTimestamp": None, "labels": {"app": "svc1"}},
        "spec": {
            "ports": [{"name": "80-http", "protocol": "TCP", "port": 80, "targetPort": "http"}],
            "selector": {"app": "svc1"},
            "type": "NodePort",
        },
        "status": {"loadBalancer": {}},
    }


def test_kubectl_create_token() -> None:
    assert decode_object(KUBECTL_TOKEN_REQUEST) == {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {"audiences": ["api"], "expirationSeconds": 3600},
        # token has no omitempty in Go, so JSON carries it even when empty
        "status": {"token": "", "expirationTimestamp": None},
    }


def test_kubectl_auth_can_i() -> None:
    assert decode_object(KUBECTL_SSAR) == {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "resource": "pods"}},
        "status": {"allowed": False},
    }


@pytest.mark.parametrize("data", [KUBECTL_DEPLOYMENT, KUBECTL_SERVICE, KUBECTL_TOKEN_REQUEST, KUBECTL_SSAR])
def test_encode_writes_the_same_bytes_as_go(data: bytes) -> None:
    assert encode_object(decode_object(data)) == data


def test_decoding_a_deployment_is_fast() -> None:
    decode_object(KUBECTL_DEPLOYMENT)  # load the tables
    rounds = 200
    start = time.perf_counter()
    for _ in range(rounds):
        decode_object(KUBECTL_DEPLOYMENT)
    assert (time.perf_counter() - start) / rounds < 0.001


# --- hand-written bodies -----------------------------------------------------------------------------


def test_configmap_keeps_empty_values_and_base64s_binary_data() -> None:
    data = body(
        "v1",
        "ConfigMap",
        meta(lf(1, "cm1"), lf(3, "default")),
        entry(2, "a", "b"),
        entry(2, "empty", ""),
        entry(3, "blob", b"\x00\xff"),
        vf(4, 0),  # immutable is a pointer: false on the wire stays false
    )
    assert decode_object(data) == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "cm1", "namespace": "default", "creationTimestamp": None},
        "data": {"a": "b", "empty": ""},
        "binaryData": {"blob": "AP8="},
        "immutable": False,
    }


def test_secret_with_binary_data() -> None:
    raw = bytes(range(256))
    data = body(
        "v1",
        "Secret",
        meta(lf(1, "s1")),
        entry(2, "bin", raw),
        entry(2, "user", "admin"),
        entry(4, "plain", "text"),
        lf(3, "Opaque"),
    )
    decoded = decode_object(data)
    assert decoded == {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "s1", "creationTimestamp": None},
        "data": {"bin": base64.b64encode(raw).decode(), "user": "YWRtaW4="},
        "stringData": {"plain": "text"},
        "type": "Opaque",
    }
    assert base64.b64decode(decoded["data"]["bin"]) == raw


def test_namespace() -> None:
    data = body("v1", "Namespace", meta(lf(1, "ns1")), lf(2, lf(1, "kubernetes")), lf(3, lf(1, "")))
    assert decode_object(data) == {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": "ns1", "creationTimestamp": None},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {},
    }


def test_service_with_int_target_port_and_zero_node_port_dropped() -> None:
    port = lf(1, lf(1, "web"), lf(2, "TCP"), vf(3, 80), lf(4, vf(1, 0), vf(2, 8080), lf(3)), vf(5, 0))
    data = body("v1", "Service", meta(lf(1, "svc")), lf(2, port, entry(2, "app", "web"), lf(4, "ClusterIP")))
    assert decode_object(data) == {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": "svc", "creationTimestamp": None},
        "spec": {
            "ports": [{"name": "web", "protocol": "TCP", "port": 80, "targetPort": 8080}],
            "selector": {"app": "web"},
            "type": "ClusterIP",
        },
    }


def test_token_request_with_bound_object() -> None:
    bound = lf(3, lf(1, "Pod"), lf(2, "v1"), lf(3, "p1"), lf(4, "uid-1"))
    data = body("authentication.k8s.io/v1", "TokenRequest", lf(2, lf(1, "a"), lf(1, "b"), vf(4, 600), bound))
    assert decode_object(data) == {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "spec": {
            "audiences": ["a", "b"],
            "expirationSeconds": 600,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p1", "uid": "uid-1"},
        },
    }


def test_eviction_keeps_a_zero_grace_period() -> None:
    delete_options = lf(2, vf(1, 0), lf(2, lf(1, "uid-9")), lf(4, "Foreground"), lf(5, "All"))
    data = body("policy/v1", "Eviction", meta(lf(1, "p1"), lf(3, "default")), delete_options)
    assert decode_object(data) == {
        "kind": "Eviction",
        "apiVersion": "policy/v1",
        "metadata": {"name": "p1", "namespace": "default", "creationTimestamp": None},
        "deleteOptions": {
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": "uid-9"},
            "propagationPolicy": "Foreground",
            "dryRun": ["All"],
        },
    }


def test_self_subject_access_review_non_resource() -> None:
    data = body(
        "authorization.k8s.io/v1", "SelfSubjectAccessReview", lf(2, lf(2, lf(1, "/healthz"), lf(2, "get")))
    )
    assert decode_object(data) == {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}},
    }


def test_pod_inline_fields_probes_quantities_and_pointers() -> None:
    http_get = lf(2, lf(1, "/healthz"), lf(2, vf(1, 1), vf(2, 0), lf(3, "http")), lf(4, "HTTP"))
    probe = lf(
        10, lf(1, http_get), vf(2, 0), vf(4, 10)
    )  # handler (1) is inline; initialDelaySeconds 0 dropped
    env = lf(7, lf(1, "A"), lf(3, lf(3, lf(1, lf(1, "cm")), lf(2, "k"), vf(3, 0))))  # configMapKeyRef
    resources = lf(8, entry(1, "cpu", lf(1, "500m")), entry(2, "memory", lf(1, "64Mi")))
    container = lf(2, lf(1, "c"), lf(2, "img"), lf(3, "sh"), lf(3, ""), env, resources, probe, vf(16, 0))
    volume = lf(1, lf(1, "cfg"), lf(2, lf(19, lf(1, lf(1, "settings")), vf(3, 0o644))))
    security = lf(14, vf(2, 0), lf(4, varint(1000) + varint(2000)))  # supplementalGroups packed
    spec = lf(2, volume, container, vf(4, 0), vf(21, 0), security, vf(11, 0))
    data = body("v1", "Pod", meta(lf(1, "p"), vf(10, 30)), spec)
    assert decode_object(data) == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": "p", "creationTimestamp": None, "deletionGracePeriodSeconds": 30},
        "spec": {
            "volumes": [{"name": "cfg", "configMap": {"name": "settings", "defaultMode": 0o644}}],
            "containers": [
                {
                    "name": "c",
                    "image": "img",
                    "command": ["sh", ""],
                    "env": [
                        {
                            "name": "A",
                            "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k", "optional": False}},
                        }
                    ],
                    "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
                    "livenessProbe": {
                        "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                        "periodSeconds": 10,
                    },
                }
            ],
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            "securityContext": {"runAsUser": 0, "supplementalGroups": [1000, 2000]},
        },
    }


def test_times_durations_raw_json_and_negative_ints() -> None:
    managed = lf(
        17,
        lf(1, "kubectl"),
        lf(2, "Update"),
        lf(3, "v1"),
        lf(4, vf(1, 1704164645), vf(2, 999)),  # fraction dropped: RFC3339 seconds
        lf(6, "FieldsV1"),
        lf(7, lf(1, b'{"f:data":{".":{}}}')),
    )
    data = body("v1", "ConfigMap", lf(1, lf(1, "cm"), vf(7, -1), lf(8, vf(1, 1704164645)), managed))
    assert decode_object(data)["metadata"] == {
        "name": "cm",
        "generation": -1,
        "creationTimestamp": "2024-01-02T03:04:05Z",
        "managedFields": [
            {
                "manager": "kubectl",
                "operation": "Update",
                "apiVersion": "v1",
                "time": "2024-01-02T03:04:05Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}}},
            }
        ],
    }
    lease = body(
        "coordination.k8s.io/v1",
        "Lease",
        lf(2, lf(1, "node-1"), vf(2, 40), lf(4, vf(1, 1704164645), vf(2, 123456789)), vf(5, 0)),
    )
    assert decode_object(lease)["spec"] == {
        "holderIdentity": "node-1",
        "leaseDurationSeconds": 40,
        "renewTime": "2024-01-02T03:04:05.123456Z",
        "leaseTransitions": 0,
    }
    revision = body("apps/v1", "ControllerRevision", lf(2, lf(1, b'{"spec":{"x":1}}')), vf(3, 2))
    assert decode_object(revision) == {
        "kind": "ControllerRevision",
        "apiVersion": "apps/v1",
        "data": {"spec": {"x": 1}},
        "revision": 2,
    }


def test_rbac_rules_keep_the_empty_core_group() -> None:
    rule = lf(2, lf(1, "get"), lf(1, "list"), lf(2, ""), lf(3, "pods"))
    data = body("rbac.authorization.k8s.io/v1", "Role", meta(lf(1, "r")), rule)
    assert decode_object(data)["rules"] == [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}
    ]


def test_custom_resource_definition_schema_mapping() -> None:
    spec_schema = (
        lf(5, "object")  # type
        + entry(29, "size", lf(5, "integer"))  # properties
        + lf(30, vf(1, 1))  # additionalProperties: true
        + vf(38, 1)  # x-kubernetes-preserve-unknown-fields
        + lf(8, lf(1, b"{}"))  # default
    )
    prop_entry = entry(29, "spec", spec_schema)
    version = lf(7, lf(1, "v1"), vf(2, 1), vf(3, 1), lf(4, lf(1, lf(5, "object"), prop_entry)))
    spec = lf(2, lf(1, "example.com"), lf(3, lf(1, "widgets"), lf(4, "Widget")), lf(4, "Namespaced"), version)
    data = body(
        "apiextensions.k8s.io/v1", "CustomResourceDefinition", meta(lf(1, "widgets.example.com")), spec
    )
    assert decode_object(data)["spec"] == {
        "group": "example.com",
        "names": {"plural": "widgets", "kind": "Widget"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"size": {"type": "integer"}},
                                "additionalProperties": True,
                                "x-kubernetes-preserve-unknown-fields": True,
                                "default": {},
                            }
                        },
                    }
                },
            }
        ],
    }


def test_meta_kinds_are_accepted_in_any_group_version() -> None:
    data = body("v1", "DeleteOptions", vf(1, 0), lf(4, "Background"))
    assert decode_object(data) == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "gracePeriodSeconds": 0,
        "propagationPolicy": "Background",
    }


def test_unknown_fields_are_skipped_and_the_last_scalar_wins() -> None:
    unknown = vf(99, 5) + lf(98, "x") + varint(97 << 3 | 1) + b"\x00" * 8 + varint(96 << 3 | 5) + b"\x00" * 4
    data = body("v1", "ConfigMap", lf(1, lf(1, "first"), unknown, lf(1, "second")), unknown)
    assert decode_object(data) == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "second"}}
    cleared = body("v1", "ConfigMap", lf(1, lf(1, "first"), lf(1, "")))
    assert decode_object(cleared) == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {}}


# --- errors ------------------------------------------------------------------------------------------


def bad(data: bytes) -> StatusError:
    with pytest.raises(StatusError) as caught:
        decode_object(data)
    return caught.value


def test_missing_magic_is_a_bad_request() -> None:
    err = bad(b'{"kind":"Pod"}')
    assert (err.code, err.reason) == (400, "BadRequest")
    assert "does not appear to be a protobuf message" in err.message


@pytest.mark.parametrize(
    "data",
    [
        KUBECTL_DEPLOYMENT[:-5],  # truncated
        KUBECTL_DEPLOYMENT[:40],
        b"k8s\x00\x0a\xff",  # envelope length past the end
        body("v1", "ConfigMap", lf(1, vf(1, 5))),  # name with a varint wire type
        body("v1", "ConfigMap", lf(1, lf(1, b"\xff\xfe"))),  # invalid UTF-8
        body("v1", "ConfigMap", b"\x0a\x05\x0a\x10abc"),  # nested length past its parent
        body("v1", "ConfigMap", varint(1 << 3 | 3)),  # group wire type
        body("v1", "ConfigMap", b"\x00\x01"),  # field number 0
        body("apps/v1", "ControllerRevision", lf(2, lf(1, b"{not json"))),
        body("v1", "ConfigMap", lf(1, vf(7, 1)[:-1] + b"\x80")),  # unterminated varint
    ],
)
def test_malformed_bodies_are_bad_requests(data: bytes) -> None:
    err = bad(data)
    assert (err.code, err.reason) == (400, "BadRequest")


def test_malformed_object_message_names_the_kind() -> None:
    err = bad(body("apps/v1", "Deployment", lf(2, vf(1, 1)[:-1])))
    assert err.message.startswith('Deployment in version "v1" cannot be handled as a Deployment: ')


def test_absurdly_deep_nesting_is_a_bad_request() -> None:
    schema = lf(5, "object")
    for _ in range(150):
        schema = entry(29, "x", schema)  # properties: {x: {properties: {x: ...}}}
    data = body("apiextensions.k8s.io/v1", "CustomResourceDefinition", lf(2, lf(7, lf(4, lf(1, schema)))))
    assert "too deep" in bad(data).message


def test_unknown_kind_in_a_known_group_is_a_bad_request() -> None:
    err = bad(body("apps/v1", "Widget"))
    assert (err.code, err.message) == (400, 'no kind "Widget" is registered for version "apps/v1"')


def test_custom_resources_cannot_be_decoded() -> None:
    err = bad(body("example.com/v1", "Widget", meta(lf(1, "w"))))
    assert (err.code, err.reason) == (415, "UnsupportedMediaType")


def test_missing_kind_and_content_encoding_are_rejected() -> None:
    assert bad(body("v1", "")).code == 400
    gzipped = b"k8s\x00" + lf(1, lf(1, "v1"), lf(2, "ConfigMap")) + lf(2) + lf(3, "gzip")
    assert "content encoding" in bad(gzipped).message


# --- encoding and helpers ----------------------------------------------------------------------------


def test_encode_round_trips_special_types() -> None:
    obj = {
        "kind": "HorizontalPodAutoscaler",
        "apiVersion": "autoscaling/v2",
        "metadata": {"name": "h", "creationTimestamp": "2024-01-02T03:04:05Z", "annotations": {"a": ""}},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
            "minReplicas": 0,
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "250m"}},
                }
            ],
        },
        "status": {"desiredReplicas": 0, "lastScaleTime": "2024-05-06T07:08:09Z"},
    }
    assert decode_object(encode_object(obj)) == obj
    # currentReplicas has omitempty in Go: a zero is not carried; desiredReplicas has not: it is
    obj["status"]["currentReplicas"] = 0
    assert "currentReplicas" not in decode_object(encode_object(obj))["status"]


def test_encode_rejects_wrong_json_types() -> None:
    with pytest.raises(ValueError):
        encode_object({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": 5}})


def test_go_durations() -> None:
    cases = {
        0: "0s",
        1: "1ns",
        1500: "1.5µs",
        2_000_000: "2ms",
        1_500_000_000: "1.5s",
        90 * 10**9: "1m30s",
        3600 * 10**9: "1h0m0s",
        -(3723 * 10**9 + 500_000_000): "-1h2m3.5s",
    }
    for nanos, text in cases.items():
        assert go_duration(nanos) == text
        assert parse_go_duration(text) == nanos
    assert parse_go_duration("1h30m") == 5400 * 10**9
    with pytest.raises(ValueError):
        parse_go_duration("5 minutes")


def test_schema_variants_follow_their_go_json_forms() -> None:
    def crd_with(schema: bytes) -> bytes:
        version = lf(7, lf(1, "v1"), lf(4, lf(1, schema)))
        return body("apiextensions.k8s.io/v1", "CustomResourceDefinition", lf(2, version))

    def schema_of(data: bytes) -> object:
        return decode_object(data)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]

    single = lf(24, lf(1, lf(5, "string")))  # items: one schema
    assert schema_of(crd_with(lf(5, "array") + single)) == {"type": "array", "items": {"type": "string"}}
    tuple_items = lf(24, lf(2, lf(5, "string")), lf(2, lf(5, "integer")))  # items: an array of schemas
    assert schema_of(crd_with(tuple_items))["items"] == [{"type": "string"}, {"type": "integer"}]
    deps = entry(32, "a", lf(2, "b")) + entry(32, "c", lf(1, lf(5, "object")))
    refs = lf(3, "#/definitions/x") + lf(2, "http://json-schema.org/schema#") + vf(40, 1) + lf(42, "map")
    assert schema_of(crd_with(deps + refs + lf(30, lf(2, lf(5, "string"))))) == {
        "$ref": "#/definitions/x",
        "$schema": "http://json-schema.org/schema#",
        "additionalProperties": {"type": "string"},
        "dependencies": {"a": ["b"], "c": {"type": "object"}},
        "x-kubernetes-int-or-string": True,
        "x-kubernetes-list-type": "map",
    }


def test_is_protobuf() -> None:
    assert is_protobuf("application/vnd.kubernetes.protobuf")
    assert is_protobuf("application/vnd.kubernetes.protobuf; charset=utf-8")
    assert not is_protobuf("application/json")
    assert not is_protobuf(None)
