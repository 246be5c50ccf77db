"""kubelite.api.disruption: pod conditions as UpdatePodCondition, budget selection (policy/v1: a
missing selector matches nothing, an empty one everything) and the DisruptionAllowed condition."""

from __future__ import annotations

from kubelite.api.disruption import (
    budgets_for_pod,
    disruption_conditions_up_to_date,
    pod_is_ready,
    set_pod_condition,
    update_disruption_allowed_condition,
)


def test_set_pod_condition_moves_the_transition_time_only_on_a_status_change() -> None:
    status: dict = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "t0"}]}
    assert pod_is_ready(status and {"status": status})
    assert not set_pod_condition(status, {"type": "Ready", "status": "True"}, "t1")
    assert status["conditions"][0]["lastTransitionTime"] == "t0"
    assert set_pod_condition(status, {"type": "Ready", "status": "False"}, "t2")
    assert status["conditions"][0] == {"type": "Ready", "status": "False", "lastProbeTime": None, "lastTransitionTime": "t2"}
    assert set_pod_condition(status, {"type": "DisruptionTarget", "status": "True", "reason": "R", "message": "M"}, "t3")
    assert [c["type"] for c in status["conditions"]] == ["Ready", "DisruptionTarget"]
    assert not pod_is_ready({"status": status})


def test_budgets_for_pod() -> None:
    pod = {"metadata": {"namespace": "a", "labels": {"app": "web"}}}
    selecting = {"metadata": {"name": "s", "namespace": "a"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}}
    everything = {"metadata": {"name": "e", "namespace": "a"}, "spec": {"selector": {}}}
    nothing = {"metadata": {"name": "n", "namespace": "a"}, "spec": {}}
    elsewhere = {"metadata": {"name": "o", "namespace": "b"}, "spec": {"selector": {}}}
    invalid = {"metadata": {"name": "i", "namespace": "a"}, "spec": {"selector": {"matchExpressions": [{"key": "k", "operator": "Nope"}]}}}
    found = budgets_for_pod([selecting, everything, nothing, elsewhere, invalid], pod)
    assert [b["metadata"]["name"] for b in found] == ["s", "e"]


def test_disruption_allowed_condition() -> None:
    status: dict = {"disruptionsAllowed": 1, "observedGeneration": 2}
    update_disruption_allowed_condition(status, "t1")
    assert status["conditions"] == [
        {"type": "DisruptionAllowed", "status": "True", "lastTransitionTime": "t1", "reason": "SufficientPods", "message": "", "observedGeneration": 2}
    ]
    pdb = {"metadata": {"generation": 2}, "status": status}
    assert disruption_conditions_up_to_date(pdb)
    status["disruptionsAllowed"] = 0
    assert not disruption_conditions_up_to_date(pdb)
    update_disruption_allowed_condition(status, "t2")
    assert status["conditions"][0]["status"] == "False" and status["conditions"][0]["reason"] == "InsufficientPods"
    assert status["conditions"][0]["lastTransitionTime"] == "t2"
    update_disruption_allowed_condition(status, "t3")
    assert status["conditions"][0]["lastTransitionTime"] == "t2"
    assert disruption_conditions_up_to_date(pdb)
    assert not disruption_conditions_up_to_date({"metadata": {"generation": 3}, "status": status})
