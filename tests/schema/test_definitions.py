from __future__ import annotations

import time

from kubelite.api.schematypes import SchemaNode
from kubelite.schema.definitions import DefinitionNode, Definitions, definitions_path


def _defs() -> Definitions:
    return Definitions.load()


def _path(node: SchemaNode | None, *names: str) -> SchemaNode:
    for name in names:
        assert node is not None, name
        node = node.items() if name == "[]" else node.field(name)
    assert node is not None
    return node


def test_loaded_once_and_quickly() -> None:
    assert definitions_path().name == "_definitions.json"
    assert Definitions.load() is Definitions.load()
    start = time.perf_counter()
    Definitions.load()
    assert time.perf_counter() - start < 0.01  # cached


def test_raw_names_and_gvk_lookup() -> None:
    defs = _defs()
    assert "io.k8s.api.apps.v1.Deployment" in defs.names()
    assert defs.raw("io.k8s.api.apps.v1.Deployment")["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    assert defs.for_gvk("apps", "v1", "Deployment") == "io.k8s.api.apps.v1.Deployment"
    assert defs.for_gvk("", "v1", "Pod") == "io.k8s.api.core.v1.Pod"
    assert defs.for_gvk("", "v1", "ConfigMap") == "io.k8s.api.core.v1.ConfigMap"
    assert defs.for_gvk("apps", "v1", "Nope") is None
    assert defs.for_gvk("", "v2", "Pod") is None


def test_deployment_containers_merge_on_name() -> None:
    deployment = _defs().node("io.k8s.api.apps.v1.Deployment")
    containers = _path(deployment, "spec", "template", "spec", "containers")
    assert containers.type == "array"
    assert containers.patch_merge_key == "name"
    assert containers.patch_strategy == "merge"
    assert containers.list_type == "map"
    assert containers.list_map_keys == ["name"]
    container = containers.items()
    assert container is not None and container.type == "object"
    assert _path(container, "image").type == "string"
    assert container.field("nope") is None


def test_service_ports_merge_on_port_and_pod_container_ports_on_container_port() -> None:
    defs = _defs()
    ports = _path(defs.node("io.k8s.api.core.v1.Service"), "spec", "ports")
    assert ports.patch_merge_key == "port"
    assert ports.list_map_keys == ["port", "protocol"]
    container_ports = _path(defs.node("io.k8s.api.core.v1.Pod"), "spec", "containers", "[]", "ports")
    assert container_ports.patch_merge_key == "containerPort"
    assert container_ports.patch_strategy == "merge"
    assert _path(container_ports, "[]", "containerPort").type == "integer"


def test_untyped_nodes_have_no_type() -> None:
    defs = _defs()
    pod_spec = _path(defs.node("io.k8s.api.core.v1.Pod"), "spec")
    target_port = _path(defs.node("io.k8s.api.core.v1.Service"), "spec", "ports", "[]", "targetPort")
    assert target_port.type is None and not target_port.preserve_unknown_fields
    limits = _path(pod_spec, "containers", "[]", "resources", "limits")
    assert limits.is_map and limits.type == "object"
    assert _path(limits, "cpu").type is None  # Quantity
    raw_ext = _path(defs.node("io.k8s.api.apps.v1.ControllerRevision"), "data")
    assert raw_ext.type is None and raw_ext.preserve_unknown_fields
    assert raw_ext.field("anything") is None
    fields_v1 = _path(defs.node("io.k8s.api.core.v1.Pod"), "metadata", "managedFields", "[]", "fieldsV1")
    assert fields_v1.type is None and fields_v1.preserve_unknown_fields
    crd_default = _path(
        defs.node("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"),
        "spec", "versions", "[]", "schema", "openAPIV3Schema", "default",
    )
    assert crd_default.type is None
    # an empty Go struct is still a struct, not free-form
    assert defs.node("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceSubresourceStatus").type == "object"


def test_maps_and_field_level_extensions() -> None:
    defs = _defs()
    labels = _path(defs.node("io.k8s.api.core.v1.Pod"), "metadata", "labels")
    assert labels.is_map and _path(labels, "any-key").type == "string"
    selector = _path(defs.node("io.k8s.api.core.v1.Service"), "spec", "selector")
    assert selector.map_type == "atomic"
    # x-kubernetes-patch-strategy set on the $ref'ing field, not on the definition
    strategy = _path(defs.node("io.k8s.api.apps.v1.Deployment"), "spec", "strategy")
    assert strategy.patch_strategy == "retainKeys"
    assert defs.node("io.k8s.api.apps.v1.DeploymentStrategy").patch_strategy is None
    assert _path(strategy, "rollingUpdate", "maxSurge").type is None


def test_nodes_are_memoized() -> None:
    defs = _defs()
    pod = defs.node("io.k8s.api.core.v1.Pod")
    assert defs.node("io.k8s.api.core.v1.Pod") is pod
    assert pod.field("spec") is pod.field("spec")
    assert pod.field("spec") is defs.node("io.k8s.api.core.v1.PodSpec")
    containers = _path(pod, "spec", "containers")
    assert containers.items() is containers.items()


def test_go_type_names() -> None:
    defs = _defs()
    pod_spec = defs.node("io.k8s.api.core.v1.PodSpec")
    assert pod_spec.struct_name == "PodSpec"
    assert pod_spec.go_type == "v1.PodSpec"
    containers = pod_spec.field("containers")
    assert isinstance(containers, DefinitionNode) and containers.go_type == "[]v1.Container"
    container = defs.node("io.k8s.api.core.v1.Container")
    limits = _path(container, "resources", "limits")
    assert isinstance(limits, DefinitionNode) and limits.go_type == "v1.ResourceList"
    args = container.field("args")
    assert isinstance(args, DefinitionNode) and args.go_type == "[]string"
    labels = defs.node("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta").field("labels")
    assert isinstance(labels, DefinitionNode) and labels.go_type == "map[string]string"
    data = defs.node("io.k8s.api.core.v1.Secret").field("data")
    assert isinstance(data, DefinitionNode) and data.go_type == "map[string][]uint8"
