"""kubectl apply (client-side and server-side) and create -f against a real kubelite server, with
kubectl 1.33 and 1.27 and their default validation (1.33 via /openapi/v3, 1.27 via protobuf
/openapi/v2; both then ask the server for fieldValidation=Strict).

Must not reach into the server's storage: everything is observed through kubectl.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Kubectl
from tests.e2e.kubectl_util import create_yaml, get_json, lines, new_namespace, unique

pytestmark = pytest.mark.e2e


def _stack(namespace: str, replicas: int) -> str:
    return f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {namespace}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {namespace}
  labels: {{app: web}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {namespace}
spec:
  selector: {{app: web}}
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: {namespace}
data:
  greeting: hello
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
  namespace: {namespace}
type: Opaque
data:
  password: {base64.b64encode(b"hunter2").decode()}
"""


def test_apply_multi_document_created_unchanged_configured(kubectl: Kubectl, tmp_path: Path) -> None:
    ns = unique(kubectl, "apply-stack")
    manifest = tmp_path / "stack.yaml"
    manifest.write_text(_stack(ns, replicas=2))

    first = kubectl("apply", "-f", str(manifest))
    assert lines(first) == [
        f"namespace/{ns} created",
        "deployment.apps/web created",
        "service/web created",
        "configmap/web-config created",
        "secret/web-secret created",
    ]

    again = kubectl("apply", "-f", str(manifest))
    assert lines(again) == [
        f"namespace/{ns} unchanged",
        "deployment.apps/web unchanged",
        "service/web unchanged",
        "configmap/web-config unchanged",
        "secret/web-secret unchanged",
    ]

    manifest.write_text(_stack(ns, replicas=3))
    changed = kubectl("apply", "-f", str(manifest))
    assert lines(changed) == [
        f"namespace/{ns} unchanged",
        "deployment.apps/web configured",
        "service/web unchanged",
        "configmap/web-config unchanged",
        "secret/web-secret unchanged",
    ]

    deployment = get_json(kubectl, "deployment", "web", "-n", ns)
    assert deployment["spec"]["replicas"] == 3
    assert deployment["metadata"]["generation"] == 2
    last_applied = deployment["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert '"replicas":3' in last_applied
    # Server-side defaults are filled in, as upstream does.
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    service = get_json(kubectl, "service", "web", "-n", ns)
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["clusterIP"] == service["spec"]["clusterIPs"][0]
    secret = get_json(kubectl, "secret", "web-secret", "-n", ns)
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"


def test_apply_secret_string_data_is_stored_as_data(kubectl: Kubectl) -> None:
    # Upstream merges the write-only stringData into data (base64) and never stores stringData.
    ns = new_namespace(kubectl, "apply-stringdata")
    manifest = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: {ns}
stringData:
  user: admin
"""
    assert kubectl("apply", "-f", "-", input=manifest) == "secret/creds created\n"
    secret = get_json(kubectl, "secret", "creds", "-n", ns)
    assert "stringData" not in secret
    assert secret["data"] == {"user": base64.b64encode(b"admin").decode()}
    row = kubectl("get", "secret", "creds", "-n", ns, "--no-headers").split()
    assert row[:3] == ["creds", "Opaque", "1"]


def test_default_validation_rejects_unknown_fields(kubectl: Kubectl) -> None:
    ns = new_namespace(kubectl, "apply-strict")
    manifest = f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: strict
  namespace: {ns}
bogus: 1
data:
  a: "1"
"""
    for verb in (("apply", "-f", "-"), ("create", "-f", "-")):
        result = kubectl.run(*verb, input=manifest, check=False)
        assert result.returncode == 1
        assert result.stderr.strip() == (
            'Error from server (BadRequest): error when creating "STDIN": ConfigMap in version "v1" cannot be '
            'handled as a ConfigMap: strict decoding error: unknown field "bogus"'
        )
    missing = kubectl.run("get", "configmap", "strict", "-n", ns, check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): configmaps "strict" not found'
    # --validate=false sends fieldValidation=Ignore: the unknown field is dropped and the object stored.
    assert kubectl("apply", "--validate=false", "-f", "-", input=manifest) == "configmap/strict created\n"
    assert get_json(kubectl, "configmap", "strict", "-n", ns)["data"] == {"a": "1"}


def test_create_existing_object_is_already_exists(kubectl: Kubectl) -> None:
    ns = new_namespace(kubectl, "create-exists")
    manifest = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: once\n  namespace: {ns}\n"
    assert create_yaml(kubectl, manifest) == "configmap/once created\n"
    result = kubectl.run("create", "-f", "-", input=manifest, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'Error from server (AlreadyExists): error when creating "STDIN": configmaps "once" already exists'
    )


def _ssa_deployment(ns: str, replicas: int) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ssa
  namespace: {ns}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: ssa}}
  template:
    metadata:
      labels: {{app: ssa}}
    spec:
      containers:
      - name: main
        image: busybox
"""


def test_server_side_apply_conflict_and_force(kubectl: Kubectl) -> None:
    ns = new_namespace(kubectl, "apply-ssa")
    created = kubectl("apply", "--server-side", "-f", "-", input=_ssa_deployment(ns, 1))
    assert created == "deployment.apps/ssa serverside-applied\n"
    again = kubectl("apply", "--server-side", "-f", "-", input=_ssa_deployment(ns, 1))
    assert again == "deployment.apps/ssa serverside-applied\n"

    conflict = kubectl.run(
        "apply", "--server-side", "--field-manager=other", "-f", "-", input=_ssa_deployment(ns, 4), check=False
    )
    assert conflict.returncode == 1
    assert conflict.stdout == ""
    assert conflict.stderr.startswith(
        'error: Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas\n'
        "Please review the fields above--they currently have other managers."
    )
    assert "--force-conflicts" in conflict.stderr
    assert get_json(kubectl, "deployment", "ssa", "-n", ns)["spec"]["replicas"] == 1

    forced = kubectl(
        "apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-", input=_ssa_deployment(ns, 4)
    )
    assert forced == "deployment.apps/ssa serverside-applied\n"
    deployment = json_with_managed_fields(kubectl, "deployment", "ssa", "-n", ns)
    assert deployment["spec"]["replicas"] == 4
    managers = {entry["manager"]: entry for entry in deployment["metadata"]["managedFields"]}
    assert managers["other"]["operation"] == "Apply"
    assert "f:replicas" in managers["other"]["fieldsV1"]["f:spec"]
    # The field moved from kubectl to other; kubectl keeps the rest of what it applied.
    assert "f:replicas" not in managers["kubectl"]["fieldsV1"]["f:spec"]
    assert "f:template" in managers["kubectl"]["fieldsV1"]["f:spec"]


def test_server_side_apply_shared_value_is_not_a_conflict(kubectl: Kubectl) -> None:
    ns = new_namespace(kubectl, "apply-ssa-share")
    kubectl("apply", "--server-side", "-f", "-", input=_ssa_deployment(ns, 2))
    same = kubectl("apply", "--server-side", "--field-manager=other", "-f", "-", input=_ssa_deployment(ns, 2))
    assert same == "deployment.apps/ssa serverside-applied\n"
    deployment = json_with_managed_fields(kubectl, "deployment", "ssa", "-n", ns)
    owners = [e["manager"] for e in deployment["metadata"]["managedFields"] if "f:replicas" in e["fieldsV1"].get("f:spec", {})]
    assert sorted(owners) == ["kubectl", "other"]


def json_with_managed_fields(kubectl: Kubectl, *args: str) -> dict[str, Any]:
    return dict(get_json(kubectl, *args, "--show-managed-fields"))
