import random

import pytest

from kubelite.scheduler.algorithm import Scheduler, default_profile, num_feasible_nodes_to_find
from kubelite.scheduler.framework import SNAPSHOT_KEY, CycleState, FitError, Snapshot
from kubelite.scheduler.preemption import DefaultPreemption
from tests.scheduler.scheduler_objects import node, pod

CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def three_nodes():
    return [node("cp", cpu="8", taints=[CONTROL_PLANE]), node("w1", cpu="2"), node("w2", cpu="2")]


def test_end_to_end_cycle_prefers_least_allocated_and_assumes():
    snapshot = Snapshot.from_objects(three_nodes(), [pod("busy", cpu="1500m", node_name="w1")])
    scheduler = Scheduler(rng=random.Random(1))
    result = scheduler.schedule(pod("p", cpu="500m"), snapshot)
    assert result.suggested_host == "w2" and result.feasible_nodes == 2 and result.evaluated_nodes == 3
    snapshot.assume(pod("p", cpu="500m"), "w2")
    assert snapshot.get("w2").requested["cpu"] == 500
    # w1 has 500m left, w2 has 1500m: a 1-cpu pod fits only on w2 -> single feasible node
    assert scheduler.schedule(pod("q", cpu="1"), snapshot).suggested_host == "w2"


def test_ties_broken_by_injected_rng():
    snapshot = Snapshot.from_objects([node(f"n{i}") for i in range(4)], [])
    picks = {
        Scheduler(rng=random.Random(seed)).schedule(pod("p"), snapshot).suggested_host for seed in range(20)
    }
    assert len(picks) > 1


def test_fit_error_message_matches_upstream():
    scheduler = Scheduler(profile=default_profile(post_filters=[DefaultPreemption()]))
    snapshot = Snapshot.from_objects(three_nodes(), [])
    with pytest.raises(FitError) as caught:
        scheduler.schedule(pod("p", cpu="3"), snapshot)
    assert (
        str(caught.value)
        == (
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
            "2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.."  # upstream prints the doubled period
        )
    )


def test_fit_error_without_victims_and_never_policy():
    snapshot = Snapshot.from_objects(
        three_nodes(),
        [pod("a", cpu="2", node_name="w1", priority=10), pod("b", cpu="2", node_name="w2", priority=10)],
    )
    scheduler = Scheduler(profile=default_profile(post_filters=[DefaultPreemption()]))
    with pytest.raises(FitError) as caught:
        scheduler.schedule(pod("p", cpu="1", priority=5), snapshot)
    assert str(caught.value) == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 Insufficient cpu. preemption: 0/3 nodes are available: "
        "1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.."
    )
    with pytest.raises(FitError) as caught:
        scheduler.schedule(pod("p", cpu="1", priority=50, preemptionPolicy="Never"), snapshot)
    assert str(caught.value).endswith(
        "2 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.."
    )


def test_num_feasible_nodes_to_find():
    assert num_feasible_nodes_to_find(50) == 50
    assert num_feasible_nodes_to_find(150) == 100  # 48% = 72, floor 100
    assert num_feasible_nodes_to_find(5000) == 500  # 50 - 40 = 10%
    assert num_feasible_nodes_to_find(10000) == 500  # clamps at 5%
    assert num_feasible_nodes_to_find(5000, 30) == 1500


class CountingFilter:
    name = "Counting"

    def __init__(self):
        self.calls = 0

    def filter(self, state, p, info):
        self.calls += 1
        from kubelite.scheduler.framework import SUCCESS

        return SUCCESS


def test_large_snapshot_filters_only_the_sampled_share_and_rotates():
    snapshot = Snapshot.from_objects([node(f"n{i}") for i in range(5000)], [])
    profile = default_profile()
    counter = CountingFilter()
    profile.filters = [*profile.filters, counter]
    scheduler = Scheduler(profile=profile, rng=random.Random(0))
    first = scheduler.schedule(pod("p", cpu="100m"), snapshot)
    assert counter.calls == 500 and first.evaluated_nodes == 500 and first.feasible_nodes == 500
    assert scheduler.next_start_node_index == 500
    second = scheduler.schedule(pod("q", cpu="100m"), snapshot)
    assert counter.calls == 1000
    assert int(second.suggested_host[1:]) >= 500  # the second cycle starts where the first stopped


def test_remembered_scores_equal_fresh_ones_and_follow_node_changes():
    """Scores kept on NodeInfo (MemoScorePlugin) give the same totals as computing afresh, and a
    node whose pods or object change is scored again."""
    prefer = {"key": "slow", "effect": "PreferNoSchedule"}
    nodes = [node(f"n{i}", cpu=str(2 + i % 3), memory=f"{4 + i % 5}Gi", taints=[prefer] if i % 4 == 0 else None) for i in range(12)]
    remembered = Snapshot.from_objects(nodes, [])
    scheduler = Scheduler(rng=random.Random(7))
    shapes = [("250m", "256Mi"), ("1", "1Gi"), ("250m", "256Mi")]
    for index in range(30):
        cpu, memory = shapes[index % len(shapes)]
        incoming = pod(f"p{index}", cpu=cpu, memory=memory)
        infos = remembered.node_infos
        totals = scheduler._score(CycleState({SNAPSHOT_KEY: remembered}), incoming, infos)
        fresh_snapshot = Snapshot.from_objects(nodes, [p for info in infos for p in info.pods])
        fresh = Scheduler(rng=random.Random(7))
        expected = fresh._score(CycleState({SNAPSHOT_KEY: fresh_snapshot}), incoming, fresh_snapshot.node_infos)
        assert totals == expected, f"pod {index}"
        result = scheduler.schedule(incoming, remembered)
        remembered.assume(dict(incoming, spec=dict(incoming["spec"], nodeName=result.suggested_host)), result.suggested_host)
    assert any(info.score_memo for info in remembered.node_infos), "nothing was remembered"
