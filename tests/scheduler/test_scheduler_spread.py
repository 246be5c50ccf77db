from kubelite.scheduler.framework import Code, CycleState, NodeInfo, Snapshot
from kubelite.scheduler.plugins.podtopologyspread import PodTopologySpread
from tests.scheduler.scheduler_objects import node, pod

ZONE = "topology.kubernetes.io/zone"


def spread_pod(when="DoNotSchedule", max_skew=1, **extra):
    constraint = {
        "maxSkew": max_skew,
        "topologyKey": ZONE,
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": {"app": "web"}},
        **extra,
    }
    return pod("new", labels={"app": "web"}, topologySpreadConstraints=[constraint])


def snapshot():
    web = [pod(f"w{i}", labels={"app": "web"}, node_name="a") for i in range(2)]
    return Snapshot(
        [
            NodeInfo(node("a", labels={ZONE: "z1"}), web),
            NodeInfo(node("b", labels={ZONE: "z2"}), [pod("other", labels={"app": "db"}, node_name="b")]),
            NodeInfo(node("nokey")),
        ]
    )


def run_filter(p, snap):
    plugin, state = PodTopologySpread(), CycleState()
    assert plugin.pre_filter(state, p, snap).is_success()
    return {info.name: plugin.filter(state, p, info) for info in snap.node_infos}


def test_do_not_schedule_max_skew():
    result = run_filter(spread_pod(), snapshot())
    assert result["a"].code == Code.UNSCHEDULABLE
    assert result["a"].reasons == ("node(s) didn't match pod topology spread constraints",)
    assert result["b"].is_success()
    assert result["nokey"].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert result["nokey"].reasons == (
        "node(s) didn't match pod topology spread constraints (missing required label)",
    )
    assert run_filter(spread_pod(max_skew=3), snapshot())["a"].is_success()


def test_min_domains_counts_missing_domains_as_empty():
    snap = Snapshot(
        [NodeInfo(node("b", labels={ZONE: "z2"}), [pod("w", labels={"app": "web"}, node_name="b")])]
    )
    assert run_filter(spread_pod(max_skew=1), snap)["b"].is_success()  # skew 1: only one domain, min 1
    assert not run_filter(spread_pod(max_skew=1, minDomains=2), snap)["b"].is_success()  # min becomes 0


def test_schedule_anyway_prefers_emptier_domain():
    plugin, snap, p = PodTopologySpread(), snapshot(), spread_pod("ScheduleAnyway")
    state = CycleState({"Snapshot": snap})
    assert plugin.pre_score(state, p, snap.node_infos).is_success()
    scores = [plugin.score(state, p, info) for info in snap.node_infos]
    plugin.normalize_scores(state, p, scores)
    assert scores[1] == 100 and scores[0] < scores[1] and scores[2] == 0
    assert plugin.pre_filter(CycleState(), p, snap).is_skip()
