"""kubelite/kubelet/images.py: the pod's imagePullSecrets read through the kubelet's client (a real
in-process cluster) and decoded to docker config documents, which the image puller's keyring
then matches; and the pull plan the kubelet's events follow."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from kubelite.client.client import Client
from kubelite.kubelet.images import pod_pull_secrets, pull_plan
from kubelite.kubelet.objects import KubeletObjects
from kubelite.runtime.images.reference import parse_reference
from kubelite.runtime.images.registries import pull_secret_credentials
from tests.kubelet.kubelet_harness import pod

Obj = dict[str, Any]
HOST = "127.0.0.1:5000"


def encoded(document: Obj) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def auths(username: str, password: str, host: str = HOST) -> Obj:
    return {"auths": {host: {"username": username, "password": password, "auth": base64.b64encode(f"{username}:{password}".encode()).decode()}}}


async def create_secret(client: Client, name: str, secret_type: str, data: dict[str, str]) -> None:
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "default"}, "type": secret_type, "data": data}
    await client.resource("", "v1", "secrets").namespace("default").create(body)


async def test_pull_secrets_are_read_and_decoded_in_order(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    await create_secret(client, "regcred", "kubernetes.io/dockerconfigjson", {".dockerconfigjson": encoded(auths("u1", "p1"))})
    legacy = {HOST: {"username": "u2", "password": "p2"}}
    await create_secret(client, "old", "kubernetes.io/dockercfg", {".dockercfg": encoded(legacy)})
    await create_secret(client, "opaque", "Opaque", {".dockerconfigjson": encoded(auths("u3", "p3"))})
    refs = [{"name": n} for n in ("old", "missing", "regcred", "opaque")]
    with caplog.at_level(logging.WARNING, logger="kubelite.kubelet.images"):
        documents = await pod_pull_secrets(KubeletObjects(client), pod("p", imagePullSecrets=refs))
    assert documents == [legacy, auths("u1", "p1")]
    assert "Unable to retrieve some image pull secrets (missing); attempting to pull the image may not succeed." in caplog.text
    # what the puller makes of them: both apply to an image on that registry, none elsewhere
    credentials = pull_secret_credentials(documents, parse_reference(f"{HOST}/web:1"))
    assert sorted(c.username for c in credentials) == ["u1", "u2"]
    assert pull_secret_credentials(documents, parse_reference("registry.example/web:1")) == []


async def test_a_pod_without_pull_secrets_reads_nothing(client: Client) -> None:
    class Refusing:
        async def secret(self, namespace: str, name: str) -> Obj | None:
            raise AssertionError("no secret should be read")

    assert await pod_pull_secrets(Refusing(), pod("p")) == []
    assert await pod_pull_secrets(KubeletObjects(client), pod("p", imagePullSecrets=[])) == []


class Index:
    def __init__(self, *present: str) -> None:
        self.present = set(present)

    def get(self, ref: str) -> Obj | None:
        return {"size": 1} if ref in self.present else None


def test_the_pull_plan_follows_the_policy_and_the_store() -> None:
    index = Index("web:1", "web:latest")
    container = {"name": "app", "image": "web:1"}
    assert pull_plan(index, container) == "present"  # IfNotPresent by default for a tag
    assert pull_plan(index, {**container, "imagePullPolicy": "Always"}) == "pull"
    assert pull_plan(index, {"name": "app", "image": "web:latest"}) == "pull"  # :latest defaults to Always
    assert pull_plan(index, {"name": "app", "image": "web:2", "imagePullPolicy": "Never"}) == "missing"
    assert pull_plan(None, {"name": "app", "image": "web:2", "imagePullPolicy": "Never"}) == "present"  # no image store
