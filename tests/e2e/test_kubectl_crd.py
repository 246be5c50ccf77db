"""Custom resources through kubectl 1.33 and 1.27: apply a CRD, wait for Established, then create,
get (with additionalPrinterColumns, plain and wide), describe and delete objects of the new kind.

Must not share a CRD between the two kubectl versions: each gets its own API group, so discovery
caches and printer columns cannot leak from one run into the other.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Kubectl
from tests.e2e.kubectl_util import get_json, header_tokens, lines, new_namespace, row_named, version_tag

pytestmark = pytest.mark.e2e


def _crd(group: str, short: str) -> str:
    return f"""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    listKind: WidgetList
    shortNames: [{short}]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {{type: integer}}
              color: {{type: string}}
              ratio: {{type: number}}
          status:
            type: object
            properties:
              ready: {{type: boolean}}
    additionalPrinterColumns:
    - name: Size
      type: integer
      jsonPath: .spec.size
    - name: Color
      type: string
      jsonPath: .spec.color
    - name: Ready
      type: boolean
      jsonPath: .status.ready
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    - name: Ratio
      type: number
      priority: 1
      jsonPath: .spec.ratio
"""


def _widget(group: str, ns: str, name: str, spec: str, status: str = "") -> str:
    return f"apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec: {spec}\n" + (
        f"status: {status}\n" if status else ""
    )


def test_custom_resource_printer_columns(kubectl: Kubectl) -> None:
    tag = version_tag(kubectl)
    group = f"v{tag}.e2e.example.com"
    resource = f"widgets.{group}"
    short = f"wdg{tag}"
    ns = new_namespace(kubectl, "crd")

    assert kubectl("apply", "-f", "-", input=_crd(group, short)) == (
        f"customresourcedefinition.apiextensions.k8s.io/{resource} created\n"
    )
    waited = kubectl("wait", "--for=condition=Established", f"crd/{resource}", "--timeout=30s")
    assert waited == f"customresourcedefinition.apiextensions.k8s.io/{resource} condition met\n"
    crd = get_json(kubectl, "crd", resource)
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True"
    assert conditions["NamesAccepted"] == "True"
    assert crd["status"]["acceptedNames"]["kind"] == "Widget"

    created = kubectl(
        "apply",
        "-f",
        "-",
        input=_widget(group, ns, "w1", "{size: 3, color: blue, ratio: 0.5}", "{ready: true}")
        + "---\n"
        + _widget(group, ns, "w2", "{size: 12}"),
    )
    assert lines(created) == [f"widget.{group}/w1 created", f"widget.{group}/w2 created"]

    plain = kubectl("get", resource, "-n", ns)
    assert header_tokens(plain) == ["NAME", "SIZE", "COLOR", "READY", "AGE"]
    w1 = row_named(plain, "w1")
    assert (w1["SIZE"], w1["COLOR"], w1["READY"]) == ("3", "blue", "true")
    assert w1["AGE"][-1] in "smhd"
    w2 = row_named(plain, "w2")
    # Missing values come back as null cells, which kubectl leaves empty.
    assert (w2["SIZE"], w2["COLOR"], w2["READY"]) == ("12", "", "")

    wide = kubectl("get", short, "-n", ns, "-o", "wide")
    assert header_tokens(wide) == ["NAME", "SIZE", "COLOR", "READY", "AGE", "RATIO"]
    assert row_named(wide, "w1")["RATIO"] == "0.5"

    everywhere = kubectl("get", resource, "-A")
    assert header_tokens(everywhere) == ["NAMESPACE", "NAME", "SIZE", "COLOR", "READY", "AGE"]
    assert row_named(everywhere, "w1")["NAMESPACE"] == ns

    single = kubectl("get", resource, "w1", "-n", ns, "--show-labels")
    assert header_tokens(single) == ["NAME", "SIZE", "COLOR", "READY", "AGE", "LABELS"]
    assert row_named(single, "w1")["LABELS"] == "<none>"

    obj = get_json(kubectl, resource, "w1", "-n", ns)
    assert obj["apiVersion"] == f"{group}/v1"
    assert obj["kind"] == "Widget"
    assert obj["spec"] == {"size": 3, "color": "blue", "ratio": 0.5}

    described = kubectl("describe", resource, "w1", "-n", ns)
    assert "Name:         w1" in lines(described)
    assert f"API Version:  {group}/v1" in lines(described)
    assert "Kind:         Widget" in lines(described)

    kubectl("patch", resource, "w2", "-n", ns, "--type=merge", "-p", '{"spec":{"color":"red"}}')
    assert row_named(kubectl("get", resource, "w2", "-n", ns), "w2")["COLOR"] == "red"

    assert kubectl("delete", resource, "w1", "w2", "-n", ns) == (
        f'widget.{group} "w1" deleted\nwidget.{group} "w2" deleted\n'
    )
    empty = kubectl.run("get", resource, "-n", ns)
    assert empty.stderr.strip() == f"No resources found in {ns} namespace."
