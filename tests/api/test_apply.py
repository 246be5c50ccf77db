"""Server-side apply and managedFields tracking."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubelite.api.apply import apply_patch, track_update, validate_managed_fields
from kubelite.api.errors import StatusError
from kubelite.api.fieldpath import FieldSet
from tests.api.fake_schema_apply import deployment_schema, widget_schema

SCHEMA = deployment_schema()
T0, T1, T2, T3 = (f"2024-01-0{d}T00:00:00Z" for d in (1, 2, 3, 4))
NGINX = 'k:{"name":"nginx"}'
SIDECAR = 'k:{"name":"sidecar"}'
PORT80 = 'k:{"containerPort":80,"protocol":"TCP"}'
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def deployment(replicas: int = 3, image: str = "nginx:1.14", **extra_labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx", **extra_labels}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]},
            },
        },
    }


def stored(obj: dict[str, Any], uid: str = "u1", rv: str = "1") -> dict[str, Any]:
    """What the registry would persist: server-set metadata added."""
    obj = copy.deepcopy(obj)
    obj["metadata"].update({"uid": uid, "resourceVersion": rv, "creationTimestamp": T0, "generation": 1})
    return obj


def create(obj: dict[str, Any], manager: str, now: str = T0, **kw: Any) -> dict[str, Any]:
    return stored(
        track_update(None, obj, manager=manager, schema=SCHEMA, api_version="apps/v1", now=now, **kw)
    )


def update(old: dict[str, Any], new: dict[str, Any], manager: str, now: str, **kw: Any) -> dict[str, Any]:
    return track_update(old, new, manager=manager, schema=SCHEMA, api_version="apps/v1", now=now, **kw)


def apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str,
    now: str,
    force: bool = False,
    **kw: Any,
) -> dict[str, Any]:
    return apply_patch(
        live, config, manager=manager, schema=SCHEMA, force=force, api_version="apps/v1", now=now, **kw
    )


def entries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["metadata"].get("managedFields") or []


def entry(obj: dict[str, Any], manager: str, operation: str | None = None) -> dict[str, Any]:
    found = [e for e in entries(obj) if e["manager"] == manager and operation in (None, e["operation"])]
    assert len(found) == 1, (manager, entries(obj))
    return found[0]


def owns(obj: dict[str, Any], manager: str, *path: str, operation: str | None = None) -> bool:
    return FieldSet.from_fields_v1(entry(obj, manager, operation)["fieldsV1"]).has(path)


def managers(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in entries(obj)]


# --- track_update -----------------------------------------------------------------------------


def test_create_gives_every_set_field_to_the_creator() -> None:
    obj = deployment()
    obj["status"] = {"replicas": 0}
    created = track_update(
        None, obj, manager="kubectl-client-side-apply", schema=SCHEMA, api_version="apps/v1", now=T0
    )
    assert obj["metadata"].get("managedFields") is None  # input untouched
    (only,) = entries(created)
    assert {k: v for k, v in only.items() if k != "fieldsV1"} == {
        "manager": "kubectl-client-side-apply",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "time": T0,
        "fieldsType": "FieldsV1",
    }
    fields = only["fieldsV1"]
    # never owned: apiVersion, kind, metadata.name/namespace, status (reset for the main resource)
    assert set(fields) == {"f:metadata", "f:spec"}
    assert fields["f:metadata"] == {"f:labels": {"f:app": {}, ".": {}}}
    # Go's zero value already has the spec/template structs: not members; labels and new list items are
    assert "." not in fields["f:spec"] and "." not in fields["f:spec"]["f:template"]
    assert fields["f:spec"]["f:selector"] == {}
    container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"][NGINX]
    assert container == {
        "f:image": {},
        "f:name": {},
        "f:ports": {PORT80: {"f:containerPort": {}, ".": {}}, ".": {}},
        ".": {},
    }


def test_create_of_a_custom_resource_owns_its_structs() -> None:
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 1, "x": {"y": 2}},
    }
    created = track_update(
        None,
        widget,
        manager="m",
        schema=widget_schema(),
        api_version="example.com/v1",
        now=T0,
        builtin_kind=False,
    )
    assert entry(created, "m")["fieldsV1"] == {"f:spec": {"f:size": {}, "f:x": {"f:y": {}, ".": {}}, ".": {}}}


def test_update_moves_changed_fields_to_the_writer() -> None:
    live = create(deployment(), "creator")
    changed = copy.deepcopy(live)
    changed["spec"]["replicas"] = 5
    changed["metadata"]["labels"]["tier"] = "web"
    out = update(live, changed, "scaler", T1)
    assert managers(out) == [("creator", "Update"), ("scaler", "Update")]
    assert entry(out, "scaler")["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:tier": {}}},
        "f:spec": {"f:replicas": {}},
    }
    assert entry(out, "scaler")["time"] == T1
    assert not owns(out, "creator", "f:spec", "f:replicas")
    assert owns(out, "creator", "f:spec", "f:template", "f:spec", "f:containers", NGINX, "f:image")
    assert entry(out, "creator")["time"] == T0

    # the same manager writing again merges into its entry
    again = copy.deepcopy(out)
    again["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.15"
    out2 = update(stored(out, rv="2"), again, "scaler", T2)
    assert owns(out2, "scaler", "f:spec", "f:replicas")
    assert owns(out2, "scaler", "f:spec", "f:template", "f:spec", "f:containers", NGINX, "f:image")
    assert not owns(out2, "creator", "f:spec", "f:template", "f:spec", "f:containers", NGINX, "f:image")


def test_update_removing_a_field_drops_everybody_s_ownership() -> None:
    live = create(deployment(tier="web"), "creator")
    changed = copy.deepcopy(live)
    del changed["metadata"]["labels"]["tier"]
    out = update(live, changed, "editor", T1)
    assert not owns(out, "creator", "f:metadata", "f:labels", "f:tier")
    assert [m for m, _ in managers(out)] == ["creator"]  # the editor changed nothing it could own


def test_an_unchanged_update_keeps_managed_fields_as_they_are() -> None:
    live = create(deployment(), "creator")
    out = update(live, copy.deepcopy(live), "other", T1)
    assert entries(out) == entries(live)


def test_status_subresource_writes_are_recorded_separately() -> None:
    live = create(deployment(), "creator")
    changed = copy.deepcopy(live)
    changed["status"] = {"replicas": 3, "conditions": [{"type": "Available", "status": "True"}]}
    changed["spec"]["replicas"] = 9  # a status write cannot own spec
    out = update(live, changed, "controller", T1, subresource="status")
    e = entry(out, "controller")
    assert e["subresource"] == "status"
    assert e["fieldsV1"] == {
        "f:status": {
            "f:conditions": {'k:{"type":"Available"}': {"f:status": {}, "f:type": {}, ".": {}}, ".": {}},
            "f:replicas": {},
            ".": {},
        }
    }


def test_objects_without_managed_fields_stay_untracked_and_reset_clears_them() -> None:
    untracked = stored(deployment())
    changed = copy.deepcopy(untracked)
    changed["spec"]["replicas"] = 4
    assert "managedFields" not in update(untracked, changed, "m", T1)["metadata"]

    live = create(deployment(), "creator")
    for reset in ([], [{}]):
        cleared = copy.deepcopy(live)
        cleared["metadata"]["managedFields"] = reset
        assert "managedFields" not in update(live, cleared, "m", T1)["metadata"]


def test_managed_fields_sent_by_the_client_replace_the_stored_ones() -> None:
    live = create(deployment(), "creator")
    edited = copy.deepcopy(live)
    edited["metadata"]["managedFields"] = [
        {
            "manager": "handmade",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:spec": {
                    "f:replicas": {},
                    "f:template": {"f:spec": {"f:containers": {'k:{ "name" : "nginx"}': {}}}},
                }
            },
        }
    ]
    out = update(live, edited, "editor", T1)
    assert managers(out) == [("handmade", "Apply")]
    assert owns(out, "handmade", "f:spec", "f:template", "f:spec", "f:containers", NGINX)

    # undecodable ones are ignored: the stored ones stay
    broken = copy.deepcopy(live)
    broken["metadata"]["managedFields"] = [{"manager": "x", "operation": "Delete", "apiVersion": "v1"}]
    assert entries(update(live, broken, "editor", T1)) == entries(live)


def test_update_managers_are_capped() -> None:
    live = create(deployment(), "creator")
    for i in range(11):
        changed = copy.deepcopy(live)
        changed["metadata"]["labels"][f"l{i}"] = "x"
        live = stored(
            update(live, changed, f"writer-{i:02d}", f"2024-01-01T00:00:{i + 1:02d}Z"), rv=str(i + 2)
        )
    names = [m for m, _ in managers(live)]
    assert len(names) == 10
    assert "ancient-changes" in names
    assert not {"creator", "writer-00", "writer-01"} & set(names)
    # the bucket takes the time of the last entry merged into it
    assert entry(live, "ancient-changes")["time"] == "2024-01-01T00:00:02Z"
    assert owns(live, "ancient-changes", "f:metadata", "f:labels", "f:l0")
    assert owns(live, "ancient-changes", "f:spec", "f:replicas")


# --- apply ------------------------------------------------------------------------------------


def test_apply_creates_the_object_with_the_applier_s_fields() -> None:
    out = apply(None, deployment(), "kubectl", T0)
    assert out["spec"]["replicas"] == 3
    e = entry(out, "kubectl")
    assert (e["operation"], e["apiVersion"], e["time"]) == ("Apply", "apps/v1", T0)
    assert e["fieldsV1"]["f:metadata"] == {"f:labels": {"f:app": {}}}


def test_apply_conflicts_with_an_updater_of_a_different_value() -> None:
    live = create(deployment(), "kubectl-client-side-apply")
    with pytest.raises(StatusError) as err:
        apply(live, deployment(replicas=5), "other", T1)
    status = err.value.status()
    assert status["code"] == 409
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas'
    )
    assert status["details"] == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
                "field": ".spec.replicas",
            }
        ]
    }


def test_conflict_message_groups_several_managers() -> None:
    live = create(deployment(), "alpha")
    changed = copy.deepcopy(live)
    changed["metadata"]["labels"]["tier"] = "web"
    live = stored(update(live, changed, "beta", T1, subresource=""), rv="2")
    config = deployment(replicas=4, image="nginx:2", tier="db")
    with pytest.raises(StatusError) as err:
        apply(live, config, "gamma", T2)
    assert err.value.message == (
        "Apply failed with 3 conflicts: "
        'conflicts with "alpha" using apps/v1:\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="nginx"].image\n'
        'conflicts with "beta" using apps/v1:\n'
        "- .metadata.labels.tier"
    )
    assert [c["field"] for c in err.value.details["causes"]] == [
        ".spec.replicas",
        '.spec.template.spec.containers[name="nginx"].image',
        ".metadata.labels.tier",
    ]


def test_applying_equal_values_shares_ownership_without_conflict() -> None:
    live = create(deployment(), "creator")
    out = apply(live, deployment(), "applier", T1)
    assert owns(out, "applier", "f:spec", "f:replicas", operation="Apply")
    assert owns(out, "creator", "f:spec", "f:replicas")
    assert managers(out) == [("applier", "Apply"), ("creator", "Update")]


def test_force_takes_ownership() -> None:
    live = create(deployment(), "creator")
    out = apply(live, deployment(replicas=7), "applier", T1, force=True)
    assert out["spec"]["replicas"] == 7
    assert owns(out, "applier", "f:spec", "f:replicas")
    assert not owns(out, "creator", "f:spec", "f:replicas")
    assert owns(out, "creator", "f:spec", "f:template", "f:spec", "f:containers", NGINX, "f:image")


def test_apply_twice_is_idempotent() -> None:
    first = stored(apply(None, deployment(), "kubectl", T0))
    second = apply(first, deployment(), "kubectl", T1)
    assert second == first
    assert entry(second, "kubectl")["time"] == T0  # nothing changed: the time stays


def test_apply_removing_a_field_it_owned_removes_it() -> None:
    live = stored(apply(None, deployment(tier="web"), "kubectl", T0))
    config = deployment()
    del config["spec"]["replicas"]
    out = apply(live, config, "kubectl", T1)
    assert "replicas" not in out["spec"]
    assert out["metadata"]["labels"] == {"app": "nginx"}
    assert not owns(out, "kubectl", "f:spec", "f:replicas")
    assert entry(out, "kubectl")["time"] == T1


def test_apply_removing_a_field_co_owned_by_another_manager_keeps_it() -> None:
    live = stored(apply(None, deployment(tier="web"), "first", T0))
    live = stored(apply(live, deployment(tier="web"), "second", T1), rv="2")
    out = apply(live, deployment(), "first", T2)
    assert out["metadata"]["labels"] == {"app": "nginx", "tier": "web"}
    assert owns(out, "second", "f:metadata", "f:labels", "f:tier")
    assert not owns(out, "first", "f:metadata", "f:labels", "f:tier")


def test_apply_removing_a_field_kept_by_an_updater_keeps_it() -> None:
    live = create(deployment(tier="web"), "creator")
    live = stored(apply(live, deployment(tier="web"), "applier", T1), rv="2")
    out = apply(live, deployment(), "applier", T2)
    assert out["metadata"]["labels"]["tier"] == "web"


def test_apply_removing_a_container_removes_the_element() -> None:
    config = deployment()
    config["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    live = stored(apply(None, config, "kubectl", T0))
    out = apply(live, deployment(), "kubectl", T1)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    assert not owns(out, "kubectl", "f:spec", "f:template", "f:spec", "f:containers", SIDECAR)


def test_map_list_elements_merge_per_key() -> None:
    live = stored(apply(None, deployment(), "main", T0))
    sidecar = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "sidecar", "image": "busybox"},
                        {"name": "nginx", "ports": [{"containerPort": 80, "protocol": "UDP"}]},
                    ]
                }
            }
        },
    }
    out = apply(live, sidecar, "injector", T1)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["sidecar", "nginx"]
    assert containers[1]["image"] == "nginx:1.14"
    assert containers[1]["ports"] == [{"containerPort": 80}, {"containerPort": 80, "protocol": "UDP"}]
    udp = 'k:{"containerPort":80,"protocol":"UDP"}'
    assert owns(out, "injector", "f:spec", "f:template", "f:spec", "f:containers", NGINX, "f:ports", udp)
    assert owns(out, "main", "f:spec", "f:template", "f:spec", "f:containers", NGINX, "f:ports", PORT80)
    assert not owns(out, "injector", "f:spec", "f:template", "f:spec", "f:containers", NGINX, "f:image")

    # the injector dropping its sidecar removes only what it owned
    again = copy.deepcopy(sidecar)
    del again["spec"]["template"]["spec"]["containers"][0]
    out2 = apply(stored(out, rv="2"), again, "injector", T2)
    assert [c["name"] for c in out2["spec"]["template"]["spec"]["containers"]] == ["nginx"]


def test_list_merge_order_follows_upstream() -> None:
    def with_containers(*names: str) -> dict[str, Any]:
        config = deployment()
        config["spec"]["template"]["spec"]["containers"] = [{"name": n, "image": n} for n in names]
        return config

    live = create(with_containers("a", "b", "c"), "creator")
    out = apply(live, with_containers("c", "a"), "applier", T1)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["b", "c", "a"]


def test_atomic_values_are_replaced_whole() -> None:
    live = create(deployment(), "creator")
    config = deployment()
    config["spec"]["selector"] = {"matchLabels": {"app": "nginx", "x": "y"}}
    with pytest.raises(StatusError) as err:
        apply(live, config, "applier", T1)
    assert [c["field"] for c in err.value.details["causes"]] == [".spec.selector"]
    out = apply(live, config, "applier", T1, force=True)
    assert out["spec"]["selector"] == {"matchLabels": {"app": "nginx", "x": "y"}}


def test_client_side_apply_then_server_side_apply() -> None:
    # kubectl apply (client-side): creates with the last-applied annotation
    csa = deployment()
    csa["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(deployment(), sort_keys=True) + "\n"}
    live = create(csa, "kubectl-client-side-apply")

    # kubectl apply --server-side with the same values: no conflict, kubectl's Apply entry appears
    out = apply(live, deployment(), "kubectl", T1)
    assert managers(out) == [("kubectl", "Apply"), ("kubectl-client-side-apply", "Update")]
    assert owns(out, "kubectl", "f:spec", "f:replicas")
    # the annotation follows what kubectl applied
    assert json.loads(out["metadata"]["annotations"][LAST_APPLIED]) == deployment()

    # a changed value still goes through for kubectl: the annotation proves kubectl set it before
    out2 = apply(stored(out, rv="2"), deployment(replicas=6), "kubectl", T2)
    assert out2["spec"]["replicas"] == 6
    assert not owns(out2, "kubectl-client-side-apply", "f:spec", "f:replicas")
    assert json.loads(out2["metadata"]["annotations"][LAST_APPLIED])["spec"]["replicas"] == 6

    # ... but not for another manager
    with pytest.raises(StatusError) as err:
        apply(live, deployment(replicas=6), "helm", T2)
    assert err.value.details["causes"][0]["field"] == ".spec.replicas"


def test_kubectl_cannot_take_fields_changed_since_client_side_apply() -> None:
    csa = deployment()
    csa["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(deployment())}
    live = create(csa, "kubectl-client-side-apply")
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 10
    live = stored(
        update(live, scaled, "kubectl-client-side-apply", T1), rv="2"
    )  # no longer the applied value
    with pytest.raises(StatusError):
        apply(live, deployment(replicas=6), "kubectl", T2)


def test_first_apply_to_an_untracked_object_conflicts_with_before_first_apply() -> None:
    live = stored(deployment())
    with pytest.raises(StatusError) as err:
        apply(live, deployment(replicas=2), "applier", T1)
    assert err.value.message == (
        'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas'
    )
    out = apply(live, deployment(), "applier", T1)
    assert managers(out) == [("applier", "Apply"), ("before-first-apply", "Update")]


def test_apply_rejects_wrong_type_and_managed_fields() -> None:
    config = deployment()
    config["apiVersion"] = "apps/v1beta1"
    with pytest.raises(StatusError) as err:
        apply(None, config, "m", T0)
    assert (err.value.code, err.value.message) == (400, "invalid object type: apps/v1beta1, Kind=Deployment")

    with pytest.raises(StatusError) as err:
        apply(None, deployment(), "m", T0, kind="ReplicaSet")
    assert err.value.message == "invalid object type: apps/v1, Kind=Deployment"

    config = deployment()
    config["metadata"]["managedFields"] = []
    with pytest.raises(StatusError) as err:
        apply(None, config, "m", T0)
    assert (err.value.code, err.value.message) == (400, "metadata.managedFields must be nil")


def test_apply_of_a_config_that_does_not_fit_the_schema() -> None:
    config = deployment()
    config["spec"]["template"]["spec"]["containers"].append({"name": "nginx"})
    with pytest.raises(StatusError) as err:
        apply(None, config, "m", T0)
    assert err.value.code == 500
    assert err.value.message == (
        "failed to create typed patch object (default/nginx; apps/v1, Kind=Deployment): "
        '.spec.template.spec.containers: duplicate entries for key [name="nginx"]'
    )


def test_apply_to_status_subresource() -> None:
    live = create(deployment(), "creator")
    config = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx"},
        "status": {"replicas": 3},
    }
    out = apply(live, config, "controller", T1, subresource="status")
    e = entry(out, "controller")
    assert (e["operation"], e["subresource"]) == ("Apply", "status")
    assert e["fieldsV1"] == {"f:status": {"f:replicas": {}}}
    assert out["spec"] == live["spec"]


def test_validate_managed_fields() -> None:
    obj = {
        "metadata": {
            "managedFields": [
                {"manager": "ok", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1"},
                {
                    "manager": "m" * 129,
                    "operation": "Patch",
                    "fieldsType": "FieldsV2",
                    "subresource": "s" * 257,
                },
                {"manager": "bad\x07", "operation": "Apply"},
            ]
        }
    }
    assert validate_managed_fields(obj) == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "Patch": must be `Apply` or `Update`',
            "field": "metadata.managedFields[1].operation",
        },
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "FieldsV2": must be `FieldsV1`',
            "field": "metadata.managedFields[1].fieldsType",
        },
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 128 bytes",
            "field": "metadata.managedFields[1].manager",
        },
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 256 bytes",
            "field": "metadata.managedFields[1].subresource",
        },
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "bad\\a": invalid character U+0007 (at position 3)',
            "field": "metadata.managedFields[2].manager",
        },
    ]
    assert validate_managed_fields(stored(apply(None, deployment(), "kubectl", T0))) == []


def test_inputs_are_not_mutated_and_results_do_not_alias_the_live_object() -> None:
    live = create(deployment(), "creator")
    config = deployment(replicas=4, tier="web")
    live_before, config_before = copy.deepcopy(live), copy.deepcopy(config)
    out = apply(live, config, "applier", T1, force=True)
    assert live == live_before and config == config_before
    out["spec"]["template"]["spec"]["containers"][0]["image"] = "changed"
    out["metadata"]["labels"]["x"] = "y"
    assert live == live_before

    changed = copy.deepcopy(live)
    changed["spec"]["replicas"] = 1
    changed_before = copy.deepcopy(changed)
    update(live, changed, "scaler", T1)
    assert live == live_before and changed == changed_before


def test_set_lists_merge_per_value() -> None:
    def with_finalizers(*values: str) -> dict[str, Any]:
        config = deployment()
        config["metadata"]["finalizers"] = list(values)
        return config

    live = stored(apply(None, with_finalizers("a.io/one"), "one", T0))
    live = stored(apply(live, {**with_finalizers("b.io/two"), "spec": {}}, "two", T1), rv="2")
    assert live["metadata"]["finalizers"] == ["a.io/one", "b.io/two"]
    assert owns(live, "two", "f:metadata", "f:finalizers", 'v:"b.io/two"')
    out = apply(live, {**with_finalizers(), "spec": {}}, "two", T2)
    assert out["metadata"]["finalizers"] == ["a.io/one"]


def test_custom_resource_fields_are_deduced() -> None:
    schema = widget_schema()

    def widget(**spec: Any) -> dict[str, Any]:
        return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}

    def cr_apply(
        live: dict[str, Any] | None, config: dict[str, Any], manager: str, now: str
    ) -> dict[str, Any]:
        return apply_patch(
            live,
            config,
            manager=manager,
            schema=schema,
            force=False,
            api_version="example.com/v1",
            now=now,
            builtin_kind=False,
        )

    live = stored(cr_apply(None, widget(size=1, opts={"a": 1}, items=[1, 2]), "one", T0))
    out = cr_apply(live, widget(opts={"b": 2}), "two", T1)
    # unknown maps are granular, unknown lists atomic
    assert out["spec"] == {"size": 1, "opts": {"a": 1, "b": 2}, "items": [1, 2]}
    with pytest.raises(StatusError) as err:
        cr_apply(live, widget(items=[3]), "two", T1)
    assert err.value.details["causes"][0]["field"] == ".spec.items"
