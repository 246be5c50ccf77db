"""Container env as upstream's kubelet builds it: $(VAR) expansion, valueFrom sources, envFrom
with prefixes, service links, and CreateContainerConfigError messages for missing sources."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kubelite.kubelet.envresolve import (
    EnvError,
    build_env,
    expand,
    expand_command,
    field_value,
    resource_value,
)

Obj = dict[str, Any]


class Objects:
    def __init__(self) -> None:
        self.maps: dict[tuple[str, str], Obj] = {}
        self.secrets: dict[tuple[str, str], Obj] = {}
        self.svcs: dict[str, list[Obj]] = {}

    async def config_map(self, namespace: str, name: str) -> Obj | None:
        return self.maps.get((namespace, name))

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return self.secrets.get((namespace, name))

    async def services(self, namespace: str) -> list[Obj]:
        return self.svcs.get(namespace, [])


def the_pod(container: Obj, **spec: Any) -> Obj:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"b": "2", "a": 'x"y'}},
        "spec": {"containers": [container], "nodeName": "n1", "serviceAccountName": "sa", **spec},
    }


def test_expand_follows_upstream() -> None:
    values = {"A": "1", "B": "two"}.get
    assert expand("$(A)-$(B)", values) == "1-two"
    assert expand("$(MISSING)", values) == "$(MISSING)"
    assert expand("$$(A)", values) == "$(A)"
    assert expand("$A $", values) == "$A $"
    assert expand("$(A", values) == "$(A"
    assert expand("x$$y", values) == "x$y"


def test_field_and_resource_values() -> None:
    pod = the_pod({"name": "c", "resources": {"limits": {"cpu": "250m"}, "requests": {"memory": "64Mi"}}})
    assert field_value(pod, "metadata.labels") == 'a="x\\"y"\nb="2"'
    assert field_value(pod, "metadata.labels['b']") == "2"
    assert field_value(pod, "spec.nodeName") == "n1"
    assert field_value(pod, "status.podIP", pod_ip="10.42.0.5") == "10.42.0.5"
    assert resource_value(pod, "c", {"resource": "limits.cpu"}, {}) == "1"
    assert resource_value(pod, "c", {"resource": "limits.cpu", "divisor": "1m"}, {}) == "250"
    assert resource_value(pod, "c", {"resource": "requests.memory", "divisor": "1Mi"}, {}) == "64"
    assert resource_value(pod, "c", {"resource": "limits.memory"}, {"memory": "2Gi"}) == str(2 * 1024**3)
    with pytest.raises(EnvError):
        field_value(pod, "spec.bogus")


async def test_build_env_orders_sources_and_expands() -> None:
    objects = Objects()
    objects.maps[("ns", "cfg")] = {"data": {"COLOR": "blue", "bad name": "x"}}
    objects.secrets[("ns", "sec")] = {"data": {"PASSWORD": base64.b64encode(b"s3cret").decode()}}
    objects.svcs["default"] = [{"metadata": {"name": "kubernetes"}, "spec": {"clusterIP": "10.43.0.1", "ports": [{"name": "https", "port": 443}]}}]
    objects.svcs["ns"] = [{"metadata": {"name": "my-db"}, "spec": {"clusterIP": "10.43.0.9", "ports": [{"port": 5432, "protocol": "TCP"}]}}]
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
        "env": [
            {"name": "GREETING", "value": "hi $(CFG_COLOR) $(MY_DB_SERVICE_HOST) $(NOPE)"},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "PASSWORD"}}},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "k", "optional": True}}},
        ],
        "command": ["echo", "$(PW)"],
    }
    env = await build_env(the_pod(container), container, objects)
    values = {e["name"]: e["value"] for e in env}
    assert values["CFG_COLOR"] == "blue" and "CFG_bad name" not in values
    assert values["GREETING"] == "hi blue 10.43.0.9 $(NOPE)"
    assert values["PW"] == "s3cret" and values["POD"] == "p" and "OPT" not in values
    assert values["KUBERNETES_SERVICE_HOST"] == "10.43.0.1" and values["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"
    assert values["MY_DB_PORT"] == "tcp://10.43.0.9:5432" and values["MY_DB_PORT_5432_TCP_ADDR"] == "10.43.0.9"
    assert expand_command(container, env)["command"] == ["echo", "s3cret"]
    links_off = await build_env(the_pod(container, enableServiceLinks=False), container, objects)
    names = {e["name"] for e in links_off}
    assert "MY_DB_SERVICE_HOST" not in names and "KUBERNETES_SERVICE_HOST" in names


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}, 'configmap "cfg" not found'),
        ({"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "nope"}}}, "couldn't find key nope in Secret ns/sec"),
    ],
)
async def test_missing_sources_fail_with_upstream_messages(entry: Obj, message: str) -> None:
    objects = Objects()
    objects.secrets[("ns", "sec")] = {"data": {}}
    container = {"name": "c", "env": [entry]}
    with pytest.raises(EnvError) as caught:
        await build_env(the_pod(container), container, objects)
    assert caught.value.message == message
