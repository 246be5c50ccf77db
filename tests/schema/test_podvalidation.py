"""Pod spec validation reports upstream's field paths and messages."""

from __future__ import annotations

import copy
from typing import Any

from kubelite.schema.defaults import apply_defaults
from kubelite.schema.podvalidation import validate_pod_create, validate_pod_template_spec, validate_pod_update

Obj = dict[str, Any]


def pod(spec: Obj) -> Obj:
    obj: Obj = {"metadata": {"name": "p", "namespace": "d"}, "spec": spec}
    apply_defaults("pods", "", obj)
    return obj


def messages(causes: list[dict[str, str]]) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in causes]


def test_container_image_name_and_ports() -> None:
    obj = pod({"containers": [{"name": "c", "image": ""}, {"name": "c", "image": "x", "ports": [{"containerPort": 0}]}]})
    assert messages(validate_pod_create(obj)) == [
        "spec.containers[0].image: Required value",
        "spec.containers[1].ports[0].containerPort: Required value",
        'spec.containers[1].name: Duplicate value: "c"',
    ]


def test_mounts_env_resources_and_policies() -> None:
    obj = pod(
        {
            "containers": [
                {
                    "name": "c",
                    "image": "x",
                    "volumeMounts": [{"name": "v", "mountPath": "/a"}],
                    "env": [{"name": "1=bad"}],
                    "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
                }
            ],
            "restartPolicy": "Sometimes",
            "tolerations": [{"key": "k", "operator": "Exists", "value": "v"}],
        }
    )
    assert messages(validate_pod_create(obj)) == [
        "spec.containers[0].env[0].name: Invalid value: \"1=bad\": a valid environment variable name must consist "
        "only of printable ASCII characters other than '='",
        'spec.containers[0].volumeMounts[0].name: Not found: "v"',
        'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
    ]


def test_volume_sources() -> None:
    obj = pod({"containers": [{"name": "c", "image": "x"}], "volumes": [{"name": "v"}, {"name": "v", "hostPath": {"path": "/x"}, "emptyDir": {}}]})
    assert messages(validate_pod_create(obj)) == [
        "spec.volumes[1].hostPath: Forbidden: may not specify more than 1 volume type",
        'spec.volumes[1].name: Duplicate value: "v"',
    ]


def test_pod_update_allows_image_changes_only() -> None:
    old = pod({"containers": [{"name": "c", "image": "x"}]})
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "y"
    assert validate_pod_update(new, old) == []
    new["spec"]["containers"][0]["name"] = "d"
    (found,) = messages(validate_pod_update(new, old))
    assert found.startswith(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
        "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
    )


def test_pod_template_labels_use_upstreams_path() -> None:
    template = {"metadata": {"labels": {"a": "-"}}, "spec": pod({"containers": [{"name": "c", "image": "x"}]})["spec"]}
    found = messages(validate_pod_template_spec(template, "spec.template"))
    assert len(found) == 1 and found[0].startswith('spec.template.labels: Invalid value: "-": a valid label must be')
