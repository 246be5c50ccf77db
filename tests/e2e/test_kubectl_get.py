"""kubectl get in its output forms (plain, wide, yaml, json, name, jsonpath, custom-columns, -A, -l,
--show-labels, -w) and the exact column headers upstream prints for the common kinds, with kubectl
1.33 and 1.27 against a real kubelite server.

Must not depend on controllers having run: only columns and cells that the API server itself
computes are compared exactly (status-derived cells are checked only where no controller acts).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

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
    unique,
)

pytestmark = pytest.mark.e2e


def _configmaps(ns: str) -> str:
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: alpha
  namespace: {ns}
  labels: {{tier: front, app: shop}}
data: {{a: "1", b: "2"}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: beta
  namespace: {ns}
  labels: {{tier: back}}
data: {{c: "3"}}
"""


@pytest.fixture(scope="module")
def get_ns(kubectl: Kubectl) -> str:
    ns = new_namespace(kubectl, "get")
    assert lines(create_yaml(kubectl, _configmaps(ns))) == ["configmap/alpha created", "configmap/beta created"]
    assert kubectl("create", "deployment", "web", "--image=busybox:1.36", "-n", ns) == "deployment.apps/web created\n"
    return ns


def test_get_plain(kubectl: Kubectl, get_ns: str) -> None:
    out = kubectl("get", "configmaps", "-n", get_ns)
    assert header_tokens(out) == ["NAME", "DATA", "AGE"]
    assert {k: v for k, v in row_named(out, "alpha").items() if k != "AGE"} == {"NAME": "alpha", "DATA": "2"}
    assert {k: v for k, v in row_named(out, "beta").items() if k != "AGE"} == {"NAME": "beta", "DATA": "1"}
    assert row_named(out, "alpha")["AGE"][-1] in "smhd"
    single = kubectl("get", "configmap", "beta", "-n", get_ns)
    assert [row["NAME"] for row in table(single)] == ["beta"]
    missing = kubectl.run("get", "configmap", "nope", "-n", get_ns, check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): configmaps "nope" not found'


def test_get_wide(kubectl: Kubectl, get_ns: str) -> None:
    out = kubectl("get", "deploy", "web", "-n", get_ns, "-o", "wide")
    assert header_tokens(out) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    row = row_named(out, "web")
    assert (row["CONTAINERS"], row["IMAGES"], row["SELECTOR"]) == ("busybox", "busybox:1.36", "app=web")
    assert row["READY"].endswith("/1")


def test_get_yaml(kubectl: Kubectl, get_ns: str) -> None:
    obj = yaml.safe_load(kubectl("get", "configmap", "alpha", "-n", get_ns, "-o", "yaml"))
    assert obj["apiVersion"] == "v1"
    assert obj["kind"] == "ConfigMap"
    assert obj["data"] == {"a": "1", "b": "2"}
    meta = obj["metadata"]
    assert (meta["name"], meta["namespace"], meta["labels"]) == ("alpha", get_ns, {"tier": "front", "app": "shop"})
    assert meta["uid"] and meta["resourceVersion"].isdigit() and meta["creationTimestamp"].endswith("Z")
    assert "managedFields" not in meta  # kubectl hides them unless --show-managed-fields


def test_get_json_list(kubectl: Kubectl, get_ns: str) -> None:
    listed = get_json(kubectl, "configmaps", "-n", get_ns, "-l", "tier")
    assert listed["kind"] == "List"
    assert listed["apiVersion"] == "v1"
    assert [item["metadata"]["name"] for item in listed["items"]] == ["alpha", "beta"]
    assert {item["kind"] for item in listed["items"]} == {"ConfigMap"}


def test_get_name_jsonpath_custom_columns(kubectl: Kubectl, get_ns: str) -> None:
    assert kubectl("get", "cm", "-n", get_ns, "-l", "tier", "-o", "name") == "configmap/alpha\nconfigmap/beta\n"
    jsonpath = kubectl("get", "cm", "-n", get_ns, "-l", "tier", "-o", "jsonpath={range .items[*]}{.metadata.name}={.data}{'\\n'}{end}")
    assert jsonpath.splitlines() == ['alpha={"a":"1","b":"2"}', 'beta={"c":"3"}']
    custom = kubectl("get", "cm", "-n", get_ns, "-l", "tier", "-o", "custom-columns=NAME:.metadata.name,TIER:.metadata.labels.tier")
    assert [line.split() for line in lines(custom)] == [["NAME", "TIER"], ["alpha", "front"], ["beta", "back"]]


def test_get_all_namespaces(kubectl: Kubectl, get_ns: str) -> None:
    out = kubectl("get", "configmaps", "-A", "-l", "tier")
    assert header_tokens(out) == ["NAMESPACE", "NAME", "DATA", "AGE"]
    ours = [(row["NAMESPACE"], row["NAME"], row["DATA"]) for row in table(out) if row["NAMESPACE"] == get_ns]
    assert ours == [(get_ns, "alpha", "2"), (get_ns, "beta", "1")]
    deployments = kubectl("get", "deployments", "--all-namespaces")
    assert header_tokens(deployments) == ["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert (get_ns, "web") in [(row["NAMESPACE"], row["NAME"]) for row in table(deployments)]


def test_get_label_selectors(kubectl: Kubectl, get_ns: str) -> None:
    def names(selector: str) -> list[str]:
        result = kubectl.run("get", "cm", "-n", get_ns, "-l", selector)
        if not result.stdout:
            assert result.stderr.strip() == f"No resources found in {get_ns} namespace."
            return []
        return [row["NAME"] for row in table(result.stdout)]

    assert names("tier=front") == ["alpha"]
    assert names("tier!=front,tier") == ["beta"]
    assert names("tier in (front,back)") == ["alpha", "beta"]
    assert names("app") == ["alpha"]
    assert names("!app,tier") == ["beta"]
    assert names("tier=nowhere") == []


def test_get_show_labels(kubectl: Kubectl, get_ns: str) -> None:
    out = kubectl("get", "cm", "-n", get_ns, "-l", "tier", "--show-labels")
    assert header_tokens(out) == ["NAME", "DATA", "AGE", "LABELS"]
    assert row_named(out, "alpha")["LABELS"] == "app=shop,tier=front"
    assert row_named(out, "beta")["LABELS"] == "tier=back"
    everywhere = kubectl("get", "cm", "-A", "-l", "tier=back", "--show-labels")
    assert header_tokens(everywhere) == ["NAMESPACE", "NAME", "DATA", "AGE", "LABELS"]
    ours = [row for row in table(everywhere) if row["NAMESPACE"] == get_ns]
    assert [(row["NAME"], row["LABELS"].split(",")[0]) for row in ours] == [("beta", "tier=back")]


def test_get_watch_sees_later_changes(kubectl: Kubectl, get_ns: str) -> None:
    name = unique(kubectl, "watched")
    watcher = Background(kubectl, "get", "configmaps", "-n", get_ns, "-l", "watch=me", "-w")
    try:
        # Nothing matches yet. Whether the create lands before kubectl's list or after it (then the watch,
        # started from the list's resourceVersion, delivers it), the row must show up.
        create_yaml(kubectl, f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {get_ns}\n  labels: {{watch: me}}\ndata: {{k: v}}\n")
        header = watcher.wait_for_line(lambda line: line.split()[:1] == ["NAME"])
        assert watcher.stdout[header].split() == ["NAME", "DATA", "AGE"]
        first = watcher.wait_for_line(lambda line: line.split()[:1] == [name])
        assert watcher.stdout[first].split()[:2] == [name, "1"]
        kubectl("patch", "configmap", name, "-n", get_ns, "--type=merge", "-p", '{"data":{"k2":"v2"}}')
        second = watcher.wait_for_line(lambda line: line.split()[:1] == [name], after=first + 1)
        assert watcher.stdout[second].split()[:2] == [name, "2"]
        assert watcher.process.poll() is None, "kubectl get -w must keep watching"
    finally:
        watcher.kill()


def test_get_watch_after_initial_rows(kubectl: Kubectl, get_ns: str) -> None:
    watcher = Background(kubectl, "get", "configmaps", "-n", get_ns, "-l", "tier", "-w")
    try:
        watcher.wait_for_line(lambda line: line.split()[:1] == ["beta"])
        assert [line.split()[:2] for line in watcher.stdout[:3]] == [["NAME", "DATA"], ["alpha", "2"], ["beta", "1"]]
        kubectl("annotate", "configmap", "beta", "-n", get_ns, "touched=yes", "--overwrite")
        again = watcher.wait_for_line(lambda line: line.split()[:1] == ["beta"], after=3)
        assert watcher.stdout[again].split()[:2] == ["beta", "1"]
    finally:
        watcher.kill()


# ---------------------------------------------------------------------------------------- headers
def _node(name: str) -> str:
    return f"""\
apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels:
    node-role.kubernetes.io/worker: ""
"""


def _event(ns: str) -> str:
    return f"""\
apiVersion: v1
kind: Event
metadata:
  name: hello.e2e
  namespace: {ns}
involvedObject:
  apiVersion: v1
  kind: ConfigMap
  name: settings
  namespace: {ns}
reason: Testing
message: hello from e2e
type: Normal
source:
  component: e2e-test
firstTimestamp: "2026-01-01T00:00:00Z"
lastTimestamp: "2026-01-01T00:00:00Z"
count: 3
"""


def _replicaset(ns: str) -> str:
    return f"""\
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: frontend
  namespace: {ns}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: frontend}}
  template:
    metadata:
      labels: {{app: frontend}}
    spec:
      containers:
      - name: php
        image: php:8
"""


@pytest.fixture(scope="module")
def headers_ns(kubectl: Kubectl) -> Iterator[str]:
    ns = new_namespace(kubectl, "headers")
    kubectl("run", "solo", "--image=busybox", "-n", ns, "--", "sleep", "3600")
    kubectl("create", "deployment", "web", "--image=nginx:1.25", "-n", ns)
    create_yaml(kubectl, _replicaset(ns))
    kubectl("create", "service", "clusterip", "web", "--tcp=80:8080", "-n", ns)
    create_yaml(kubectl, _node(unique(kubectl, "e2e-node")))
    create_yaml(kubectl, _event(ns))
    kubectl("create", "configmap", "settings", "--from-literal=a=1", "-n", ns)
    yield ns


HEADERS = {
    "pods": (
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"],
    ),
    "deployments": (["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"]),
    "replicasets": (["NAME", "DESIRED", "CURRENT", "READY", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"]),
    "services": (["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["SELECTOR"]),
    "nodes": (
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
    ),
    "namespaces": (["NAME", "STATUS", "AGE"], []),
    "events": (["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], None),
    "configmaps": (["NAME", "DATA", "AGE"], []),
}
EVENTS_WIDE = ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST", "SEEN", "COUNT", "NAME"]


@pytest.mark.parametrize("resource", sorted(HEADERS))
def test_column_headers_match_upstream(kubectl: Kubectl, headers_ns: str, resource: str) -> None:
    plain, wide_extra = HEADERS[resource]
    out = kubectl("get", resource, "-n", headers_ns)
    assert header_tokens(out) == plain
    wide = kubectl("get", resource, "-n", headers_ns, "-o", "wide")
    assert header_tokens(wide) == (EVENTS_WIDE if wide_extra is None else plain + wide_extra)


def test_column_values_computed_by_the_server(kubectl: Kubectl, headers_ns: str) -> None:
    services = kubectl("get", "services", "-n", headers_ns, "-o", "wide")
    web = row_named(services, "web")
    assert (web["TYPE"], web["EXTERNAL-IP"], web["PORT(S)"], web["SELECTOR"]) == ("ClusterIP", "<none>", "80/TCP", "app=web")
    assert web["CLUSTER-IP"].count(".") == 3

    replicasets = kubectl("get", "rs", "frontend", "-n", headers_ns, "-o", "wide")
    rs = row_named(replicasets, "frontend")
    assert (rs["DESIRED"], rs["CONTAINERS"], rs["IMAGES"], rs["SELECTOR"]) == ("2", "php", "php:8", "app=frontend")

    nodes = kubectl("get", "node", unique(kubectl, "e2e-node"))
    node = row_named(nodes, unique(kubectl, "e2e-node"))
    # No kubelet posts status for this Node object, so there is no Ready condition.
    assert (node["STATUS"], node["ROLES"], node["VERSION"]) == ("Unknown", "worker", "")

    events = kubectl("get", "events", "-n", headers_ns, "-o", "wide")
    event = row_named(events, "hello.e2e")
    assert (event["TYPE"], event["REASON"], event["OBJECT"], event["SOURCE"], event["MESSAGE"], event["COUNT"]) == (
        "Normal",
        "Testing",
        "configmap/settings",
        "e2e-test",
        "hello from e2e",
        "3",
    )
    assert event["SUBOBJECT"] == ""

    pods = kubectl("get", "pods", "solo", "-n", headers_ns, "-o", "wide")
    pod = row_named(pods, "solo")
    assert pod["READY"] in ("0/1", "1/1")
    assert pod["RESTARTS"] == "0"
    assert pod["NOMINATED NODE"] == "<none>"
    assert pod["READINESS GATES"] == "<none>"

    namespaces = kubectl("get", "namespace", headers_ns)
    assert row_named(namespaces, headers_ns)["STATUS"] == "Active"

    configmaps = kubectl("get", "configmap", "settings", "-n", headers_ns)
    assert row_named(configmaps, "settings")["DATA"] == "1"
