"""kubectl's imperative commands (create <generator>, run, label, annotate, edit, scale, set image,
patch, delete), describe, and the discovery/OpenAPI-driven ones (explain, api-resources,
api-versions, version), with kubectl 1.33 and 1.27 against a real kubelite server.

Must not depend on controllers, the scheduler or a kubelet having acted: status-derived output is
matched loosely, everything the API server decides is matched exactly.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import Kubectl
from tests.e2e.kubectl_util import (
    Background,
    create_yaml,
    get_json,
    header_tokens,
    lines,
    new_namespace,
    row_named,
    table,
    version_tag,
)

pytestmark = pytest.mark.e2e


def _jsonpath(kubectl: Kubectl, template: str, *args: str) -> str:
    return kubectl("get", *args, "-o", f"jsonpath={template}")


# ------------------------------------------------------------------------------------ create
def test_create_generators(kubectl: Kubectl) -> None:
    # kubectl 1.32+ sends these bodies as protobuf; 1.27 as JSON.
    ns = new_namespace(kubectl, "create-gen")
    assert kubectl("create", "deployment", "x", "--image=busybox", "-n", ns) == "deployment.apps/x created\n"
    assert kubectl("create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=two", "-n", ns) == (
        "configmap/cfg created\n"
    )
    assert kubectl("create", "secret", "generic", "sec", "--from-literal=password=s3cret", "-n", ns) == (
        "secret/sec created\n"
    )
    assert kubectl("create", "service", "nodeport", "np", "--tcp=80:8080", "-n", ns) == "service/np created\n"

    deployment = get_json(kubectl, "deployment", "x", "-n", ns)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "x"}}
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"app": "x"}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"]) == ("busybox", "busybox")
    assert container["imagePullPolicy"] == "Always"  # defaulted: no tag means :latest
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert deployment["spec"]["template"]["spec"]["restartPolicy"] == "Always"

    assert get_json(kubectl, "configmap", "cfg", "-n", ns)["data"] == {"a": "1", "b": "two"}
    secret = get_json(kubectl, "secret", "sec", "-n", ns)
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["password"]) == b"s3cret"

    service = get_json(kubectl, "service", "np", "-n", ns)
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["selector"] == {"app": "np"}
    port = service["spec"]["ports"][0]
    assert (port["name"], port["port"], port["targetPort"], port["protocol"]) == ("80-8080", 80, 8080, "TCP")
    assert 30000 <= port["nodePort"] <= 32767
    assert service["spec"]["externalTrafficPolicy"] == "Cluster"
    row = row_named(kubectl("get", "service", "np", "-n", ns), "np")
    assert (row["TYPE"], row["PORT(S)"]) == ("NodePort", f"80:{port['nodePort']}/TCP")

    namespace = f"created-ns-{version_tag(kubectl)}"
    assert kubectl("create", "namespace", namespace) == f"namespace/{namespace} created\n"
    assert _jsonpath(kubectl, "{.status.phase}", "namespace", namespace) == "Active"
    assert _jsonpath(kubectl, "{.metadata.labels}", "namespace", namespace) == (
        f'{{"kubernetes.io/metadata.name":"{namespace}"}}'
    )


def test_run_creates_a_pod(kubectl: Kubectl) -> None:
    ns = new_namespace(kubectl, "run")
    out = kubectl("run", "sleeper", "--image=busybox:1.36", "--labels=team=e2e", "-n", ns, "--", "sleep", "3600")
    assert out == "pod/sleeper created\n"
    pod = get_json(kubectl, "pod", "sleeper", "-n", ns)
    assert pod["metadata"]["labels"] == {"team": "e2e"}
    assert pod["metadata"]["uid"] and pod["metadata"]["creationTimestamp"]
    container = pod["spec"]["containers"][0]
    assert (container["name"], container["image"], container["args"]) == ("sleeper", "busybox:1.36", ["sleep", "3600"])
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["serviceAccountName"] == "default"
    assert pod["status"]["phase"] in ("Pending", "Running")
    plain = kubectl("run", "plain", "--image=busybox", "-n", ns)
    assert plain == "pod/plain created\n"
    assert _jsonpath(kubectl, "{.metadata.labels}", "pod", "plain", "-n", ns) == '{"run":"plain"}'


# ------------------------------------------------------------------------------------ label / annotate / edit
def test_label_and_annotate(kubectl: Kubectl) -> None:
    ns = new_namespace(kubectl, "label")
    kubectl("create", "deployment", "x", "--image=busybox", "-n", ns)
    assert kubectl("label", "deployment", "x", "tier=web", "-n", ns) == "deployment.apps/x labeled\n"
    clash = kubectl.run("label", "deployment", "x", "tier=db", "-n", ns, check=False)
    assert clash.returncode == 1
    assert clash.stderr.strip() == "error: 'tier' already has a value (web), and --overwrite is false"
    assert kubectl("label", "deployment", "x", "tier=db", "--overwrite", "-n", ns) == "deployment.apps/x labeled\n"
    assert get_json(kubectl, "deployment", "x", "-n", ns)["metadata"]["labels"] == {"app": "x", "tier": "db"}
    assert kubectl("label", "deployment", "x", "tier-", "-n", ns) == "deployment.apps/x unlabeled\n"
    assert get_json(kubectl, "deployment", "x", "-n", ns)["metadata"]["labels"] == {"app": "x"}

    annotated = kubectl("annotate", "deployment", "x", "note=hello world", "-n", ns)
    # kubectl 1.27 prints "annotate" (its own typo); 1.33 prints "annotated".
    assert annotated in ("deployment.apps/x annotated\n", "deployment.apps/x annotate\n")
    # (the deployment controller adds its own deployment.kubernetes.io/revision annotation)
    annotations = get_json(kubectl, "deployment", "x", "-n", ns)["metadata"]["annotations"]
    assert annotations["note"] == "hello world"
    assert set(annotations) <= {"note", "deployment.kubernetes.io/revision"}
    assert kubectl("annotate", "deployment", "x", "note-", "-n", ns).startswith("deployment.apps/x annotate")
    assert "note" not in (get_json(kubectl, "deployment", "x", "-n", ns)["metadata"].get("annotations") or {})
    # label/annotate change metadata only: the generation stays.
    assert get_json(kubectl, "deployment", "x", "-n", ns)["metadata"]["generation"] == 1


def test_removing_the_last_label_or_annotation_leaves_no_empty_map(kubectl: Kubectl) -> None:
    # kubectl removes a key with a merge patch ({"metadata":{"labels":{"k":null}}}). Upstream decodes the
    # result into ObjectMeta, whose labels/annotations are `omitempty` maps, so an emptied map is not
    # serialised at all: `-o yaml` never shows `labels: {}` or `annotations: {}`.
    ns = new_namespace(kubectl, "label-empty")
    kubectl("create", "configmap", "bare", "-n", ns)
    kubectl("label", "configmap", "bare", "only=one", "-n", ns)
    kubectl("annotate", "configmap", "bare", "only=one", "-n", ns)
    assert kubectl("label", "configmap", "bare", "only-", "-n", ns) == "configmap/bare unlabeled\n"
    kubectl("annotate", "configmap", "bare", "only-", "-n", ns)
    metadata = get_json(kubectl, "configmap", "bare", "-n", ns)["metadata"]
    assert "labels" not in metadata
    assert "annotations" not in metadata


def test_edit_with_scripted_editor(kubectl: Kubectl, tmp_path: Path) -> None:
    ns = new_namespace(kubectl, "edit")
    kubectl("create", "configmap", "doc", "--from-literal=color=red", "-n", ns)
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/^  color: red$/  color: blue/' \"$1\"\n")
    editor.chmod(0o755)
    edited = kubectl("edit", "configmap", "doc", "-n", ns, env={"KUBE_EDITOR": str(editor), "EDITOR": str(editor)})
    assert edited == "configmap/doc edited\n"
    assert get_json(kubectl, "configmap", "doc", "-n", ns)["data"] == {"color": "blue"}
    # An editor that changes nothing: kubectl says so and sends no update.
    rv = get_json(kubectl, "configmap", "doc", "-n", ns)["metadata"]["resourceVersion"]
    noop = kubectl.run("edit", "configmap", "doc", "-n", ns, env={"KUBE_EDITOR": "true", "EDITOR": "true"})
    assert noop.returncode == 0
    assert noop.stderr.strip() == "Edit cancelled, no changes made."
    assert get_json(kubectl, "configmap", "doc", "-n", ns)["metadata"]["resourceVersion"] == rv


# ------------------------------------------------------------------------------------ scale / set image / patch
def test_scale_and_set_image(kubectl: Kubectl) -> None:
    ns = new_namespace(kubectl, "scale")
    kubectl("create", "deployment", "x", "--image=busybox", "-n", ns)
    assert kubectl("scale", "deployment", "x", "--replicas=5", "-n", ns) == "deployment.apps/x scaled\n"
    deployment = get_json(kubectl, "deployment", "x", "-n", ns)
    assert deployment["spec"]["replicas"] == 5
    assert deployment["metadata"]["generation"] == 2
    stale = kubectl.run("scale", "deployment", "x", "--replicas=2", "--current-replicas=3", "-n", ns, check=False)
    assert stale.returncode == 1
    assert stale.stderr == "error: Expected replicas to be 3, was 5\n"
    assert kubectl("set", "image", "deployment/x", "busybox=busybox:1.36", "-n", ns) == "deployment.apps/x image updated\n"
    deployment = get_json(kubectl, "deployment", "x", "-n", ns)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.36"
    assert deployment["metadata"]["generation"] == 3
    missing = kubectl.run("set", "image", "deployment/x", "nope=busybox", "-n", ns, check=False)
    assert missing.returncode == 1
    assert 'unable to find container named "nope"' in missing.stderr


def test_patch_strategic_merge_json(kubectl: Kubectl) -> None:
    ns = new_namespace(kubectl, "patch")
    kubectl("create", "deployment", "x", "--image=busybox", "-n", ns)
    # Strategic merge (the default): containers merge by name, so the image survives.
    strategic = '{"spec":{"template":{"spec":{"containers":[{"name":"busybox","env":[{"name":"MODE","value":"e2e"}]}]}}}}'
    assert kubectl("patch", "deployment", "x", "-n", ns, "-p", strategic) == "deployment.apps/x patched\n"
    container = get_json(kubectl, "deployment", "x", "-n", ns)["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"], c["env"]) for c in container] == [("busybox", "busybox", [{"name": "MODE", "value": "e2e"}])]
    assert kubectl("patch", "deployment", "x", "-n", ns, "-p", strategic) == "deployment.apps/x patched (no change)\n"

    merge = '{"metadata":{"labels":{"patched":"merge"}},"spec":{"paused":true}}'
    assert kubectl("patch", "deployment", "x", "-n", ns, "--type=merge", "-p", merge) == "deployment.apps/x patched\n"
    deployment = get_json(kubectl, "deployment", "x", "-n", ns)
    assert deployment["metadata"]["labels"] == {"app": "x", "patched": "merge"}
    assert deployment["spec"]["paused"] is True

    json_patch = '[{"op":"replace","path":"/spec/replicas","value":3},{"op":"remove","path":"/metadata/labels/patched"}]'
    assert kubectl("patch", "deployment", "x", "-n", ns, "--type=json", "-p", json_patch) == "deployment.apps/x patched\n"
    deployment = get_json(kubectl, "deployment", "x", "-n", ns)
    assert deployment["spec"]["replicas"] == 3
    assert deployment["metadata"]["labels"] == {"app": "x"}

    failing = kubectl.run(
        "patch", "deployment", "x", "-n", ns, "--type=json", "-p", '[{"op":"test","path":"/spec/replicas","value":9}]', check=False
    )
    # Upstream answers a failed JSON Patch "test" with a bare 422 Invalid (no kind or name), which kubectl
    # prints like this.
    assert failing.returncode == 1
    assert failing.stderr == "The request is invalid: the server rejected our request due to an error in our request\n"
    assert get_json(kubectl, "deployment", "x", "-n", ns)["spec"]["replicas"] == 3


# ------------------------------------------------------------------------------------ delete
def test_delete_single_selector_all(kubectl: Kubectl) -> None:
    # Secrets: nothing creates them in a new namespace behind the test's back (unlike kube-root-ca.crt).
    ns = new_namespace(kubectl, "delete")
    for name, label in (("d1", ""), ("d2", "gone=yes"), ("d3", "gone=yes"), ("d4", "")):
        kubectl("create", "secret", "generic", name, "-n", ns)
        if label:
            kubectl("label", "secret", name, label, "-n", ns)
    assert kubectl("delete", "secret", "d1", "-n", ns) == 'secret "d1" deleted\n'
    assert kubectl("delete", "secrets", "-l", "gone=yes", "-n", ns) == 'secret "d2" deleted\nsecret "d3" deleted\n'
    assert kubectl("get", "secrets", "-n", ns, "-o", "name") == "secret/d4\n"
    missing = kubectl.run("delete", "secret", "d1", "-n", ns, check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): secrets "d1" not found'
    kubectl("create", "secret", "generic", "d5", "-n", ns)
    assert kubectl("delete", "secrets", "--all", "-n", ns) == 'secret "d4" deleted\nsecret "d5" deleted\n'
    empty = kubectl.run("get", "secrets", "-n", ns)
    assert empty.stdout == ""
    assert empty.stderr.strip() == f"No resources found in {ns} namespace."


def test_delete_waits_for_finalizers(kubectl: Kubectl) -> None:
    ns = new_namespace(kubectl, "delete-wait")
    create_yaml(
        kubectl,
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: {ns}\n  finalizers: [e2e.example.com/hold]\n",
    )
    deleting = Background(kubectl, "delete", "configmap", "held", "-n", ns, "--wait", "--timeout=60s")
    try:
        deleting.wait_for_line(lambda line: line == 'configmap "held" deleted')
        obj = get_json(kubectl, "configmap", "held", "-n", ns)
        assert obj["metadata"]["deletionTimestamp"]
        assert deleting.process.poll() is None, "delete --wait must wait while the finalizer holds the object"
        kubectl("patch", "configmap", "held", "-n", ns, "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
        assert deleting.wait(30) == 0
    finally:
        deleting.kill()
    gone = kubectl.run("get", "configmap", "held", "-n", ns, check=False)
    assert gone.stderr.strip() == 'Error from server (NotFound): configmaps "held" not found'


def test_delete_pod_and_deployment(kubectl: Kubectl) -> None:
    ns = new_namespace(kubectl, "delete-kinds")
    kubectl("run", "p1", "--image=busybox", "-n", ns)
    kubectl("create", "deployment", "d1", "--image=busybox", "--replicas=0", "-n", ns)
    assert kubectl("delete", "pod", "p1", "-n", ns, "--wait", "--timeout=60s") == 'pod "p1" deleted\n'
    assert kubectl("delete", "deployment", "d1", "-n", ns) == 'deployment.apps "d1" deleted\n'
    assert kubectl.run("get", "pods,deployments", "-n", ns).stderr.strip() == f"No resources found in {ns} namespace."


# ------------------------------------------------------------------------------------ describe
@pytest.fixture(scope="module")
def described(kubectl: Kubectl) -> str:
    ns = new_namespace(kubectl, "describe")
    create_yaml(
        kubectl,
        f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
  labels: {{app: web}}
  annotations: {{owner: e2e}}
spec:
  replicas: 3
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
        env:
        - name: MODE
          value: e2e
""",
    )
    kubectl("create", "service", "nodeport", "web", "--tcp=80:8080", "-n", ns)
    kubectl("run", "solo", "--image=busybox:1.36", "--labels=app=solo", "-n", ns, "--", "sleep", "3600")
    return ns


def _fields(text: str) -> dict[str, str]:
    """Top-level "Key:   value" lines of describe output."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Z][A-Za-z -]*?):\s+(.*)$", line)
        if match and match.group(1) not in out:
            out[match.group(1)] = match.group(2).strip()
    return out


def test_describe_deployment(kubectl: Kubectl, described: str) -> None:
    text = kubectl("describe", "deployment", "web", "-n", described)
    fields = _fields(text)
    assert fields["Name"] == "web"
    assert fields["Namespace"] == described
    assert fields["Labels"] == "app=web"
    annotation_lines = text.split("Annotations:", 1)[1].split("Selector:", 1)[0]
    assert "owner: e2e" in annotation_lines  # beside the controller's deployment.kubernetes.io/revision
    assert fields["Selector"] == "app=web"
    assert re.fullmatch(r"3 desired \| \d+ updated \| \d+ total \| \d+ available \| \d+ unavailable", fields["Replicas"])
    assert fields["StrategyType"] == "RollingUpdate"
    assert fields["MinReadySeconds"] == "0"
    assert fields["RollingUpdateStrategy"] == "25% max unavailable, 25% max surge"
    assert re.search(r"^  Containers:\n   nginx:\n    Image:\s+nginx:1.25\n    Port:\s+80/TCP\n", text, re.M)
    assert re.search(r"^    Environment:\n      MODE:\s+e2e$", text, re.M)
    assert re.search(r"^CreationTimestamp:\s+\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$", text, re.M)


def test_describe_service(kubectl: Kubectl, described: str) -> None:
    text = kubectl("describe", "service", "web", "-n", described)
    fields = _fields(text)
    service = get_json(kubectl, "service", "web", "-n", described)
    node_port = service["spec"]["ports"][0]["nodePort"]
    assert fields["Name"] == "web"
    assert fields["Namespace"] == described
    assert fields["Selector"] == "app=web"
    assert fields["Type"] == "NodePort"
    assert fields["IP Family Policy"] == "SingleStack"
    assert fields["IP Families"] == "IPv4"
    assert fields["IP"] == service["spec"]["clusterIP"]
    assert fields["IPs"] == service["spec"]["clusterIP"]
    assert fields["Port"] == "80-8080  80/TCP"
    assert fields["TargetPort"] == "8080/TCP"
    assert fields["NodePort"] == f"80-8080  {node_port}/TCP"
    assert fields["Session Affinity"] == "None"
    assert fields["External Traffic Policy"] == "Cluster"


def test_describe_pod(kubectl: Kubectl, described: str) -> None:
    text = kubectl("describe", "pod", "solo", "-n", described)
    fields = _fields(text)
    assert fields["Name"] == "solo"
    assert fields["Namespace"] == described
    assert fields["Priority"] == "0"
    assert fields["Service Account"] == "default"
    assert fields["Labels"] == "app=solo"
    assert fields["Status"] in ("Pending", "Running")
    assert fields["QoS Class"] == "BestEffort"
    assert re.search(r"^Containers:\n  solo:\n(    .*\n)*?    Image:\s+busybox:1.36\n", text, re.M)
    assert re.search(r"^    Args:\n      sleep\n      3600\n", text, re.M)
    assert fields["Tolerations"] == "node.kubernetes.io/not-ready:NoExecute op=Exists for 300s"
    assert re.search(r"^\s+node.kubernetes.io/unreachable:NoExecute op=Exists for 300s$", text, re.M)


def test_describe_namespace(kubectl: Kubectl, described: str) -> None:
    text = kubectl("describe", "namespace", described)
    fields = _fields(text)
    assert fields["Name"] == described
    assert fields["Labels"] == f"kubernetes.io/metadata.name={described}"
    assert fields["Annotations"] == "<none>"
    assert fields["Status"] == "Active"
    assert "No resource quota." in lines(text)
    assert "No LimitRange resource." in lines(text)


# ------------------------------------------------------------------------------------ discovery / OpenAPI
def test_explain_deployment_strategy(kubectl: Kubectl) -> None:
    out = kubectl("explain", "deployment.spec.strategy")
    got = [line.rstrip() for line in out.splitlines()]
    assert got[:4] == ["GROUP:      apps", "KIND:       Deployment", "VERSION:    v1", ""]
    assert "FIELD: strategy <DeploymentStrategy>" in got
    description = got.index("DESCRIPTION:")
    assert got[description + 1 : description + 3] == [
        "    The deployment strategy to use to replace existing pods with new ones.",
        "    DeploymentStrategy describes how to replace existing pods with new ones.",
    ]
    fields = got.index("FIELDS:")
    assert got[fields + 1 : fields + 4] == [
        "  rollingUpdate\t<RollingUpdateDeployment>",
        "    Rolling update config params. Present only if DeploymentStrategyType =",
        "    RollingUpdate.",
    ]
    assert "  type\t<string>" in got
    nested = kubectl("explain", "deployment.spec.strategy.rollingUpdate.maxSurge")
    assert "FIELD: maxSurge <IntOrString>" in nested
    unknown = kubectl.run("explain", "deployment.spec.nope", check=False)
    assert unknown.returncode == 1
    assert 'field "nope" does not exist' in unknown.stderr


def test_api_resources(kubectl: Kubectl) -> None:
    out = kubectl("api-resources")
    assert header_tokens(out) == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    listed = table(out)
    # metrics.k8s.io also serves `nodes` and `pods` (as with metrics-server): key by the built-in group
    assert {(r["NAME"], r["APIVERSION"]) for r in listed} >= {("pods", "metrics.k8s.io/v1beta1"), ("nodes", "metrics.k8s.io/v1beta1")}
    rows = {row["NAME"]: row for row in listed if row["APIVERSION"] != "metrics.k8s.io/v1beta1"}
    assert rows["deployments"] == {
        "NAME": "deployments",
        "SHORTNAMES": "deploy",
        "APIVERSION": "apps/v1",
        "NAMESPACED": "true",
        "KIND": "Deployment",
    }
    assert (rows["pods"]["SHORTNAMES"], rows["pods"]["APIVERSION"], rows["pods"]["KIND"]) == ("po", "v1", "Pod")
    assert (rows["namespaces"]["SHORTNAMES"], rows["namespaces"]["NAMESPACED"]) == ("ns", "false")
    assert rows["customresourcedefinitions"]["SHORTNAMES"] == "crd,crds"
    assert rows["services"]["SHORTNAMES"] == "svc"
    assert rows["configmaps"]["SHORTNAMES"] == "cm"
    apps = kubectl("api-resources", "--api-group=apps", "-o", "name").split()
    assert {"deployments.apps", "replicasets.apps", "statefulsets.apps", "daemonsets.apps"} <= set(apps)
    verbs = table(kubectl("api-resources", "-o", "wide"))
    deployments = next(row for row in verbs if row["NAME"] == "deployments")
    assert deployments["VERBS"] == "create,delete,deletecollection,get,list,patch,update,watch"
    assert deployments["CATEGORIES"] == "all"


def test_api_versions(kubectl: Kubectl) -> None:
    versions = kubectl("api-versions").split()
    assert {"apps/v1", "v1", "apiextensions.k8s.io/v1", "batch/v1", "rbac.authorization.k8s.io/v1"} <= set(versions)
    assert versions == sorted(versions)


def test_version(kubectl: Kubectl) -> None:
    info = json.loads(kubectl("version", "-o", "json"))
    assert info["serverVersion"]["major"] == "1"
    assert info["serverVersion"]["minor"] == "33"
    assert info["serverVersion"]["gitVersion"].startswith("v1.33.")
    plain = kubectl.run("version")
    server_line = [line for line in plain.stdout.splitlines() if line.startswith("Server Version:")]
    assert len(server_line) == 1
    assert "v1.33." in server_line[0]
