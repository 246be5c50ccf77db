from __future__ import annotations

import copy
from typing import Any

import pytest
from schemafake import FakeSchema, array, deployment_schema, obj, service_schema

from kubelite.api.errors import StatusError
from kubelite.api.strategic import apply_strategic_merge_patch

MERGING = FakeSchema(
    obj(
        name={"type": "string"},
        mergingList=array(obj(name={"type": "integer"}, value={"type": "integer"}), "merge", "name"),
        mergingIntList=array({"type": "integer"}, "merge"),
        nonMergingIntList=array({"type": "integer"}),
    )
)


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.25",
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [
                                {"name": "A", "value": "1"},
                                {"name": "B", "value": "2"},
                                {"name": "C", "value": "3"},
                            ],
                        },
                        {"name": "sidecar", "image": "busybox", "args": ["sleep", "3600"]},
                    ],
                    "volumes": [{"name": "data", "configMap": {"name": "web-config"}}],
                    "restartPolicy": "Always",
                },
            },
        },
    }


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def names(items: list[dict[str, Any]]) -> list[Any]:
    return [item["name"] for item in items]


def apply(original: dict[str, Any], patch: Any, schema: Any = deployment_schema) -> dict[str, Any]:
    before_original = copy.deepcopy(original)
    before_patch = copy.deepcopy(patch)
    result = apply_strategic_merge_patch(original, patch, schema)
    assert original == before_original, "the original was mutated"
    assert patch == before_patch, "the patch was mutated"
    return result


def test_kubectl_apply_patch_updates_image_and_keeps_server_fields() -> None:
    patch = {
        "metadata": {
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Deployment"}\n'}
        },
        "spec": {
            "replicas": 3,
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                    "containers": [{"image": "nginx:1.26", "name": "nginx"}],
                }
            },
        },
    }
    result = apply(deployment(), patch)
    assert result["spec"]["replicas"] == 3
    assert result["metadata"]["annotations"] == {
        "deployment.kubernetes.io/revision": "1",
        "kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Deployment"}\n',
    }
    nginx = pod_spec(result)["containers"][0]
    assert nginx["image"] == "nginx:1.26"
    assert nginx["imagePullPolicy"] == "IfNotPresent"
    assert nginx["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert names(pod_spec(result)["containers"]) == ["nginx", "sidecar"]
    assert "$setElementOrder/containers" not in pod_spec(result)


def test_result_shares_nothing_with_inputs() -> None:
    original = deployment()
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "x", "args": ["a"]}]}}}}
    result = apply_strategic_merge_patch(original, patch, deployment_schema)
    pod_spec(result)["containers"][0]["args"].append("b")
    pod_spec(result)["containers"][1]["env"].clear()
    result["metadata"]["labels"]["extra"] = "1"
    assert patch["spec"]["template"]["spec"]["containers"][0]["args"] == ["a"]  # type: ignore[index]
    assert pod_spec(original)["containers"][0]["env"]
    assert "extra" not in original["metadata"]["labels"]


def test_kubectl_set_image_patch_keeps_container_order() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                    "containers": [{"image": "busybox:1.36", "name": "sidecar"}],
                }
            }
        }
    }
    result = apply(deployment(), patch)
    containers = pod_spec(result)["containers"]
    assert names(containers) == ["nginx", "sidecar"]
    assert containers[1] == {"name": "sidecar", "image": "busybox:1.36", "args": ["sleep", "3600"]}
    assert containers[0]["image"] == "nginx:1.25"


def test_delete_directive_removes_env_var_by_merge_key() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "nginx", "env": [{"name": "B", "$patch": "delete"}]}]}
            }
        }
    }
    result = apply(deployment(), patch)
    assert pod_spec(result)["containers"][0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "C", "value": "3"},
    ]
    assert names(pod_spec(result)["containers"]) == ["nginx", "sidecar"]


def test_retain_keys_clears_rolling_update_when_switching_to_recreate() -> None:
    patch: dict[str, Any] = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert apply(deployment(), patch)["spec"]["strategy"] == {"type": "Recreate"}
    # kubectl apply sends an explicit null as well
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}}}
    assert apply(deployment(), patch)["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_must_list_every_patched_field() -> None:
    patch = {
        "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}
    }
    with pytest.raises(StatusError) as caught:
        apply(deployment(), patch)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        400,
        "BadRequest",
        "invalid patch format of retainKeys",
    )
    with pytest.raises(StatusError) as caught:
        apply(deployment(), {"spec": {"strategy": {"$retainKeys": "type"}}})
    assert caught.value.code == 400


def test_retain_keys_inside_merged_list_element_switches_volume_source() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {"volumes": [{"$retainKeys": ["emptyDir", "name"], "emptyDir": {}, "name": "data"}]}
            }
        }
    }
    assert pod_spec(apply(deployment(), patch))["volumes"] == [{"name": "data", "emptyDir": {}}]


def test_null_deletes_and_maps_merge() -> None:
    patch = {"metadata": {"labels": {"tier": None, "track": "stable"}, "annotations": None}}
    result = apply(deployment(), patch)
    assert result["metadata"]["labels"] == {"app": "web", "track": "stable"}
    assert "annotations" not in result["metadata"]
    # a null for something that is not there is simply ignored
    assert "missing" not in apply(deployment(), {"spec": {"missing": None}})["spec"]


def test_lists_without_merge_strategy_are_replaced() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "args": ["sleep", "60"]}]}}}}
    result = apply(deployment(), patch)
    assert pod_spec(result)["containers"][1]["args"] == ["sleep", "60"]


def test_new_list_items_go_before_server_items_without_set_element_order() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "log", "image": "fluentd"}]}}}}
    result = apply(deployment(), patch)
    assert names(pod_spec(result)["containers"]) == ["log", "nginx", "sidecar"]


def test_set_element_order_places_new_items() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "log"}, {"name": "sidecar"}],
                    "containers": [{"name": "log", "image": "fluentd"}],
                }
            }
        }
    }
    assert names(pod_spec(apply(deployment(), patch))["containers"]) == ["nginx", "log", "sidecar"]


def test_set_element_order_that_contradicts_the_patch_list_is_rejected() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}],
                    "containers": [{"name": "log", "image": "fluentd"}],
                }
            }
        }
    }
    with pytest.raises(StatusError) as caught:
        apply(deployment(), patch)
    assert caught.value.code == 500
    assert caught.value.message.startswith(
        "the order in patch list:\n[map[image:fluentd name:log]]\n doesn't match"
    )


def test_primitive_merge_lists_are_unioned() -> None:
    original = {"metadata": {"name": "x", "finalizers": ["a", "b"]}}
    assert apply(original, {"metadata": {"finalizers": ["b", "c"]}})["metadata"]["finalizers"] == [
        "a",
        "b",
        "c",
    ]
    assert apply(original, {"metadata": {"finalizers": ["c"]}})["metadata"]["finalizers"] == ["c", "a", "b"]
    ordered = {"metadata": {"$setElementOrder/finalizers": ["a", "b", "c"], "finalizers": ["c"]}}
    assert apply(original, ordered)["metadata"]["finalizers"] == ["a", "b", "c"]


def test_delete_from_primitive_list() -> None:
    original = {"metadata": {"finalizers": ["a", "b", "c", "c"]}}
    patch = {
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["c"], "$setElementOrder/finalizers": ["a", "b"]}
    }
    assert apply(original, patch)["metadata"]["finalizers"] == ["a", "b"]
    # deleting from a list that does not exist adds nothing
    assert apply({"metadata": {}}, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}) == {
        "metadata": {}
    }


def test_delete_and_add_in_one_primitive_list() -> None:
    original = {"mergingIntList": [1, 2, 3]}
    patch = {
        "$setElementOrder/mergingIntList": [1, 2, 4],
        "$deleteFromPrimitiveList/mergingIntList": [3],
        "mergingIntList": [4],
    }
    assert apply(original, patch, MERGING) == {"mergingIntList": [1, 2, 4]}


def test_replace_directive_on_a_map() -> None:
    original = deployment()
    pod_spec(original)["nodeSelector"] = {"zone": "a", "disk": "hdd"}
    patch = {"spec": {"template": {"spec": {"nodeSelector": {"$patch": "replace", "disk": "ssd"}}}}}
    assert pod_spec(apply(original, patch))["nodeSelector"] == {"disk": "ssd"}


def test_delete_directive_on_a_map_empties_it() -> None:
    patch = {"spec": {"strategy": {"$patch": "delete"}}}
    assert apply(deployment(), patch)["spec"]["strategy"] == {}


def test_replace_directive_in_a_list_replaces_the_list() -> None:
    patch = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}}
        }
    }
    assert pod_spec(apply(deployment(), patch))["containers"] == [{"name": "only", "image": "x"}]


def test_unknown_and_merge_directives_are_errors() -> None:
    with pytest.raises(StatusError) as caught:
        apply(deployment(), {"spec": {"strategy": {"$patch": "frobnicate", "type": "Recreate"}}})
    assert caught.value.code == 500
    assert caught.value.reason == ""
    assert (
        caught.value.message == "unknown patch type: frobnicate in map: map[$patch:frobnicate type:Recreate]"
    )

    with pytest.raises(StatusError) as caught:
        apply(
            deployment(),
            {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "$patch": "merge"}]}}}},
        )
    assert (caught.value.code, caught.value.message) == (
        500,
        "merging lists cannot yet be specified in the patch",
    )

    with pytest.raises(StatusError) as caught:
        apply(deployment(), {"spec": {"strategy": {"$patch": "merge"}}})
    assert caught.value.message == "unknown patch type: merge in map: map[$patch:merge]"


def test_list_item_without_merge_key_is_an_error() -> None:
    with pytest.raises(StatusError) as caught:
        apply(deployment(), {"spec": {"template": {"spec": {"containers": [{"image": "nginx:1.27"}]}}}})
    assert caught.value.code == 500
    assert caught.value.message == "map: map[image:nginx:1.27] does not contain declared merge key: name"


def test_list_of_lists_is_unprocessable() -> None:
    with pytest.raises(StatusError) as caught:
        apply({"mergingIntList": [[1]]}, {"mergingIntList": [[2]]}, MERGING)
    assert caught.value.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server rejected our request due to an error in our request",
        "reason": "Invalid",
        "code": 422,
        "details": {},
    }


def test_mismatched_element_types_are_an_error() -> None:
    with pytest.raises(StatusError) as caught:
        apply({"mergingIntList": [1, 2]}, {"mergingIntList": ["3"]}, MERGING)
    assert (caught.value.code, caught.value.message) == (
        500,
        "list element types are not identical: [[1 2] [3]]",
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("$setElementOrder", "invalid patch format of setElementOrder list"),
        ("$setElementOrderX/containers", "invalid patch format of setElementOrder list"),
        ("$deleteFromPrimitiveList", "invalid patch format of primitive list"),
    ],
)
def test_malformed_parallel_list_keys_are_bad_requests(key: str, message: str) -> None:
    with pytest.raises(StatusError) as caught:
        apply(deployment(), {"spec": {"template": {"spec": {key: []}}}})
    assert (caught.value.code, caught.value.reason, caught.value.message) == (400, "BadRequest", message)


def test_patch_that_is_not_an_object_is_a_bad_request() -> None:
    with pytest.raises(StatusError) as caught:
        apply(deployment(), [{"op": "add"}])
    assert caught.value.code == 400
    assert (
        caught.value.message == "json: cannot unmarshal array into Go value of type map[string]interface {}"
    )
    assert apply(deployment(), None) == deployment()


def test_values_added_from_the_patch_lose_nulls_and_directives() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "log",
                            "image": "fluentd",
                            "resources": None,
                            "env": [{"name": "X", "value": "1"}, {"name": "Y", "$patch": "delete"}],
                            "$setElementOrder/env": [{"name": "X"}],
                        }
                    ],
                    "tolerations": [{"key": "k", "operator": "Exists", "effect": None}],
                }
            }
        }
    }
    result = apply(deployment(), patch)
    assert pod_spec(result)["containers"][0] == {
        "name": "log",
        "image": "fluentd",
        "env": [{"name": "X", "value": "1"}],
    }
    assert pod_spec(result)["tolerations"] == [{"key": "k", "operator": "Exists"}]


def test_service_ports_merge_on_port_number() -> None:
    original = {
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"port": 80, "name": "http", "targetPort": 8080}, {"port": 443, "name": "https"}],
        }
    }
    patch = {
        "spec": {
            "$setElementOrder/ports": [{"port": 80}, {"port": 443}],
            "ports": [{"port": 80, "targetPort": "web"}],
        }
    }
    result = apply(original, patch, service_schema)
    assert result["spec"]["ports"] == [
        {"port": 80, "name": "http", "targetPort": "web"},
        {"port": 443, "name": "https"},
    ]


def test_merge_key_values_compare_by_json_type() -> None:
    original = {"spec": {"ports": [{"port": 80, "name": "http"}]}}
    result = apply(original, {"spec": {"ports": [{"port": 80.5, "name": "odd"}]}}, service_schema)
    assert result["spec"]["ports"] == [{"port": 80.5, "name": "odd"}, {"port": 80, "name": "http"}]


def test_unknown_fields_merge_like_a_json_merge_patch() -> None:
    original = {"spec": {"extra": {"a": {"b": 1, "c": 2}, "items": [1, 2]}}}
    patch = {"spec": {"extra": {"a": {"b": None, "d": 4}, "items": [3]}}}
    assert apply(original, patch) == {"spec": {"extra": {"a": {"c": 2, "d": 4}, "items": [3]}}}
    assert apply(original, {"spec": {"extra": {"a": 5}}}) == {"spec": {"extra": {"a": 5, "items": [1, 2]}}}
    # no schema at all behaves the same way
    assert apply(original, {"spec": {"extra": {"items": [9]}}}, None) == {
        "spec": {"extra": {"a": {"b": 1, "c": 2}, "items": [9]}}
    }


def test_type_change_replaces_the_value() -> None:
    original = {"spec": {"replicas": 1, "strategy": {"type": "RollingUpdate"}}}
    assert apply(original, {"spec": {"strategy": "Recreate"}}) == {
        "spec": {"replicas": 1, "strategy": "Recreate"}
    }


# Cases whose expected results come from upstream's own test fixtures (strategicpatch/patch_test.go).


def test_merge_lists_of_maps_ordered_by_set_element_order() -> None:
    current = {"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}
    patch = {
        "$setElementOrder/mergingList": [{"name": 4}, {"name": 1}, {"name": 2}, {"name": 3}],
        "mergingList": [{"name": 4, "value": 4}, {"name": 3, "value": 3}],
    }
    assert apply(current, patch, MERGING) == {
        "mergingList": [
            {"name": 4, "value": 4},
            {"name": 1, "other": "a"},
            {"name": 2, "value": 2, "other": "b"},
            {"name": 3, "value": 3},
        ]
    }


def test_add_and_delete_in_one_map_list_follows_go_slice_reuse() -> None:
    current = {"mergingList": [{"name": 1}, {"name": 2, "other": "b"}, {"name": 4, "other": "c"}]}
    patch = {
        "$setElementOrder/mergingList": [{"name": 2}, {"name": 3}],
        "mergingList": [{"name": 3}, {"name": 1, "$patch": "delete"}],
    }
    assert apply(current, patch, MERGING) == {
        "mergingList": [{"name": 2, "other": "b"}, {"name": 4, "other": "c"}, {"name": 3}]
    }


def test_delete_of_missing_item_with_an_unrelated_live_item() -> None:
    current = {"mergingList": [{"name": 3, "other": "a"}]}
    patch = {
        "$setElementOrder/mergingList": [{"name": 2}],
        "mergingList": [{"name": 2}, {"name": 1, "$patch": "delete"}],
    }
    assert apply(current, patch, MERGING) == {"mergingList": [{"name": 2}, {"name": 3, "other": "a"}]}


def test_merge_into_empty_list_field_and_non_merging_list() -> None:
    assert apply(
        {"name": "hi"}, {"mergingList": [{"name": 1}, {"$patch": "delete", "name": 2}]}, MERGING
    ) == {
        "name": "hi",
        "mergingList": [{"name": 1}],
    }
    assert apply({"nonMergingIntList": [1, 2]}, {"nonMergingIntList": [2, 3]}, MERGING) == {
        "nonMergingIntList": [2, 3]
    }


def _nested_merging_schema() -> FakeSchema:
    spec = obj(
        mergingList=array(
            obj(name={"type": "integer"}, value={"type": "integer"}, other={"type": "string"}),
            "merge",
            "name",
        ),
        mergeItemPtr=array(obj(name={"type": "integer"}), "merge", "name"),
    )
    spec["properties"]["mergingList"]["items"]["properties"]["mergingList"] = spec["properties"][
        "mergingList"
    ]
    spec["properties"]["mergeItemPtr"]["items"]["properties"]["mergeItemPtr"] = spec["properties"][
        "mergeItemPtr"
    ]
    return FakeSchema(spec)


def _named(*entries: Any) -> list[dict[str, Any]]:
    return [entry if isinstance(entry, dict) else {"name": entry} for entry in entries]


@pytest.mark.parametrize(
    ("current", "patch", "expected"),
    [
        pytest.param(
            {"mergingList": _named({"name": 1, "other": "a"}, {"name": 4, "other": "c"})},
            {
                "$setElementOrder/mergingList": _named(2, 3),
                "mergingList": _named(2, 3, {"name": 1, "$patch": "delete"}),
            },
            {"mergingList": _named({"name": 4, "other": "c"}, 2, 3)},
            id="add and delete with a live-only item",
        ),
        pytest.param(
            {"mergeItemPtr": _named({"name": 1, "other": "a"}, 3)},
            {"$setElementOrder/mergeItemPtr": _named(1, 2), "mergeItemPtr": _named(2)},
            {"mergeItemPtr": _named({"name": 1, "other": "a"}, 2, 3)},
            id="add between patch-ordered and live-only items",
        ),
        pytest.param(
            {"mergeItemPtr": _named(3)},
            {"$setElementOrder/mergeItemPtr": _named(1, 2), "mergeItemPtr": _named(1, 2)},
            {"mergeItemPtr": _named(1, 2, 3)},
            id="add several before a live-only item",
        ),
        pytest.param(
            {
                "mergingList": [
                    {"name": 1, "other": "a", "mergingList": [{"name": 2, "value": 2, "other": "d"}]}
                ]
            },
            {
                "$setElementOrder/mergingList": _named(1),
                "mergingList": [
                    {
                        "$setElementOrder/mergingList": _named(2, 1),
                        "name": 1,
                        "mergingList": [{"name": 1, "value": 1}],
                    }
                ],
            },
            {
                "mergingList": [
                    {
                        "name": 1,
                        "other": "a",
                        "mergingList": [{"name": 2, "value": 2, "other": "d"}, {"name": 1, "value": 1}],
                    }
                ]
            },
            id="nested list ordered by nested directive",
        ),
        pytest.param(
            {"mergingList": [{"name": 1, "value": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]},
            {"$setElementOrder/mergingList": _named(1, 2), "mergingList": [{"name": 1, "value": None}]},
            {"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]},
            id="null deletes a field inside a merged item",
        ),
    ],
)
def test_upstream_ordering_fixtures(
    current: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert apply(current, patch, _nested_merging_schema()) == expected
