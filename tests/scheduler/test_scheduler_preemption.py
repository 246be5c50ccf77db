from kubelite.scheduler.algorithm import Scheduler, default_profile
from kubelite.scheduler.framework import FitError, NodeInfo, Snapshot, pod_key
from kubelite.scheduler.preemption import Candidate, DefaultPreemption, pick_one_node, select_victims_on_node
from tests.scheduler.scheduler_objects import node, pod


def placed(name, cpu, node_name, priority, start="2024-01-01T00:00:00Z", labels=None):
    p = pod(name, cpu=cpu, node_name=node_name, priority=priority, labels=labels)
    p["status"] = {"startTime": start}
    return p


def test_victims_are_lowest_priority_and_reprieved_from_the_top():
    info = NodeInfo(
        node("n", cpu="4"),
        [
            placed("p1", "1", "n", 1),
            placed("p2", "1", "n", 2),
            placed("p3", "1", "n", 3),
            placed("hi", "1", "n", 100),
        ],
    )
    snapshot = Snapshot([info])
    fits = Scheduler().pod_fits_on_node
    victims, violations, status = select_victims_on_node(
        pod("new", cpu="2", priority=50), snapshot, info, fits
    )
    assert status.is_success() and violations == 0
    assert [pod_key(v) for v in victims] == ["default/p2", "default/p1"]  # p3 reprieved first
    assert len(info.pods) == 4  # the snapshot itself is untouched


def test_preemption_picks_node_with_lowest_victims_and_respects_pdb():
    pods = [
        placed("a", "2", "n1", 10),
        placed("b", "2", "n2", 5),
        placed("c", "2", "n3", 5, labels={"app": "x"}),
    ]
    snapshot = Snapshot.from_objects([node("n1", cpu="2"), node("n2", cpu="2"), node("n3", cpu="2")], pods)
    preemption = DefaultPreemption()
    scheduler = Scheduler(profile=default_profile(post_filters=[preemption]))
    try:
        scheduler.schedule(pod("new", cpu="2", priority=100), snapshot)
    except FitError as error:
        result = error.post_filter_result
    assert result is not None and result.nominated_node_name == "n2"  # n2 precedes n3 on a full tie
    assert [pod_key(v) for v in result.victims] == ["default/b"]
    pdb = {
        "metadata": {"namespace": "default", "name": "x"},
        "spec": {"selector": {"matchLabels": {"app": "b"}}},
        "status": {"disruptionsAllowed": 0},
    }
    pods[1]["metadata"]["labels"] = {"app": "b"}
    scheduler = Scheduler(profile=default_profile(post_filters=[DefaultPreemption([pdb])]))
    try:
        scheduler.schedule(pod("new", cpu="2", priority=100), snapshot)
    except FitError as error:
        assert error.post_filter_result is not None and error.post_filter_result.nominated_node_name == "n3"


def test_pick_one_node_ordering():
    low, high = placed("l", "1", "x", 1), placed("h", "1", "x", 9)
    early, late = (
        placed("e", "1", "x", 9, start="2020-01-01T00:00:00Z"),
        placed("t", "1", "x", 9, start="2024-01-01T00:00:00Z"),
    )
    assert pick_one_node([Candidate("a", [low], 1), Candidate("b", [high], 0)]).node_name == "b"
    assert pick_one_node([Candidate("a", [high], 0), Candidate("b", [low], 0)]).node_name == "b"
    assert pick_one_node([Candidate("a", [high, low], 0), Candidate("b", [high], 0)]).node_name == "b"
    assert pick_one_node([Candidate("a", [early], 0), Candidate("b", [late], 0)]).node_name == "b"
    assert pick_one_node([Candidate("a", [high], 0), Candidate("b", [], 0)]).node_name == "b"
