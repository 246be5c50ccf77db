"""The PV/PVC matching helpers: the smallest fitting Available volume, pre-bound volumes first,
node affinity, delay binding without a node, claimRef and bound-by-controller, default classes."""

from __future__ import annotations

from typing import Any

from kubelite.api import volumebinding as vb

Obj = dict[str, Any]


def claim(name: str = "data", size: str = "1Gi", cls: str | None = "fast", uid: str = "u1", **spec: Any) -> Obj:
    body: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, **spec}
    if cls is not None:
        body["storageClassName"] = cls
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": "7"}, "spec": body}


def volume(name: str, size: str, cls: str = "fast", phase: str = "Available", node: str = "", **spec: Any) -> Obj:
    body: Obj = {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": cls, **spec}
    if node:
        body["nodeAffinity"] = {
            "required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}
        }
    return {"metadata": {"name": name, "labels": {"tier": name}}, "spec": body, "status": {"phase": phase}}


def test_smallest_big_enough_available_volume_of_the_class_wins() -> None:
    volumes = [
        volume("small", "500Mi"),
        volume("big", "10Gi"),
        volume("mid", "2Gi"),
        volume("other-class", "1Gi", cls="slow"),
        volume("released", "1Gi", phase="Released"),
    ]
    found = vb.find_matching_volume(claim(), volumes)
    assert found is not None and found["metadata"]["name"] == "mid"


def test_access_modes_volume_mode_and_selector_must_fit() -> None:
    rwx = claim(accessModes=["ReadWriteMany"])
    assert vb.find_matching_volume(rwx, [volume("a", "1Gi")]) is None
    block = claim(volumeMode="Block")
    assert vb.find_matching_volume(block, [volume("a", "1Gi")]) is None
    picky = claim(selector={"matchLabels": {"tier": "b"}})
    found = vb.find_matching_volume(picky, [volume("a", "1Gi"), volume("b", "5Gi")])
    assert found is not None and found["metadata"]["name"] == "b"


def test_pre_bound_volume_is_taken_even_when_bigger_and_delay_binding_without_node() -> None:
    mine = volume("mine", "100Gi", phase="Bound", claimRef={"namespace": "ns", "name": "data"})
    others = volume("theirs", "1Gi", claimRef={"namespace": "ns", "name": "other", "uid": "x"})
    found = vb.find_matching_volume(claim(), [volume("fit", "1Gi"), others, mine], delay_binding=True)
    assert found is not None and found["metadata"]["name"] == "mine"
    # without a pre-bound one, a delay-binding claim is left to the scheduler
    assert vb.find_matching_volume(claim(), [volume("fit", "1Gi")], delay_binding=True) is None


def test_node_affinity_decides_on_the_scheduler_path() -> None:
    volumes = [volume("on-a", "1Gi", node="a"), volume("on-b", "2Gi", node="b")]
    found = vb.find_matching_volume(claim(), volumes, node_labels={"kubernetes.io/hostname": "b"}, node_name="b")
    assert found is not None and found["metadata"]["name"] == "on-b"
    assert vb.find_matching_volume(claim(), volumes, node_labels={"kubernetes.io/hostname": "c"}, node_name="c") is None
    excluded = vb.find_matching_volume(
        claim(), volumes, node_labels={"kubernetes.io/hostname": "b"}, node_name="b", excluded={"on-b"}
    )
    assert excluded is None
    assert vb.node_affinity_matches(volume("any", "1Gi"), {}, "x")


def test_bind_volume_to_claim_sets_claim_ref_and_bound_by_controller_only_when_not_pre_bound() -> None:
    bound, dirty = vb.bind_volume_to_claim(volume("v", "1Gi"), claim())
    assert dirty
    assert bound["spec"]["claimRef"] == {
        "kind": "PersistentVolumeClaim", "namespace": "ns", "name": "data", "uid": "u1", "apiVersion": "v1", "resourceVersion": "7",
    }  # fmt: skip
    assert bound["metadata"]["annotations"][vb.BOUND_BY_CONTROLLER] == "yes"
    pre = volume("v", "1Gi", claimRef={"namespace": "ns", "name": "data"})
    rebound, dirty = vb.bind_volume_to_claim(pre, claim())
    assert dirty and rebound["spec"]["claimRef"]["uid"] == "u1"
    assert vb.BOUND_BY_CONTROLLER not in (rebound["metadata"].get("annotations") or {})
    assert "claimRef" not in volume("v", "1Gi")["spec"], "the argument is not changed"
    _, again = vb.bind_volume_to_claim(rebound, claim())
    assert not again


def test_default_class_is_the_newest_then_by_name() -> None:
    def sc(name: str, created: str, default: bool = True) -> Obj:
        notes = {vb.DEFAULT_CLASS: "true"} if default else {}
        return {"metadata": {"name": name, "creationTimestamp": created, "annotations": notes}}

    assert vb.default_class([sc("plain", "2025-01-03T00:00:00Z", default=False)]) is None
    found = vb.default_class([sc("old", "2025-01-01T00:00:00Z"), sc("new", "2025-01-02T00:00:00Z"), sc("plain", "2025-01-03T00:00:00Z", False)])
    assert found is not None and found["metadata"]["name"] == "new"
    tie = vb.default_class([sc("b", "2025-01-02T00:00:00Z"), sc("a", "2025-01-02T00:00:00Z")])
    assert tie is not None and tie["metadata"]["name"] == "a"


def test_classes_claims_and_pods() -> None:
    assert vb.claim_class(claim(cls=None)) == "" and not vb.claim_has_class(claim(cls=None))
    assert vb.claim_has_class(claim(cls=""))
    beta = claim(cls="x")
    beta["metadata"]["annotations"] = {vb.BETA_STORAGE_CLASS: "y"}
    assert vb.claim_class(beta) == "y"
    pod = {"spec": {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "persistentVolumeClaim": {"claimName": "c1"}}]}}
    assert vb.pod_claim_names(pod) == ["c1"]
    assert not vb.is_fully_bound(claim())
    done = claim(volumeName="v")
    done["metadata"]["annotations"] = {vb.BIND_COMPLETED: "yes"}
    assert vb.is_fully_bound(done)
