from kubelite.scheduler.framework import Code, CycleState, NodeInfo, Snapshot
from kubelite.scheduler.plugins.interpodaffinity import InterPodAffinity
from kubelite.scheduler.plugins.nodeaffinity import NodeAffinity
from tests.scheduler.scheduler_objects import node, pod

ZONE = "topology.kubernetes.io/zone"


def run_filter(plugin, p, snapshot):
    state = CycleState()
    assert plugin.pre_filter(state, p, snapshot).is_success()
    return {info.name: plugin.filter(state, p, info) for info in snapshot.node_infos}


def test_node_selector_and_required_terms():
    snapshot = Snapshot(
        [NodeInfo(node("a", labels={"disk": "ssd", "gen": "5"})), NodeInfo(node("b", labels={"disk": "hdd"}))]
    )
    result = run_filter(NodeAffinity(), pod("p", nodeSelector={"disk": "ssd"}), snapshot)
    assert result["a"].is_success()
    assert result["b"].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert result["b"].reasons == ("node(s) didn't match Pod's node affinity/selector",)
    terms = [
        {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]},
    ]
    p = pod(
        "p",
        affinity={
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}
        },
    )
    assert all(s.is_success() for s in run_filter(NodeAffinity(), p, snapshot).values())
    assert NodeAffinity().pre_filter(CycleState(), pod("plain"), snapshot).is_skip()


def test_preferred_node_affinity_scored():
    plugin = NodeAffinity()
    nodes = [NodeInfo(node("a", labels={"disk": "ssd"})), NodeInfo(node("b"))]
    preferred = [{"weight": 20, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}}]
    p = pod("p", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}})
    state = CycleState()
    assert plugin.pre_score(state, p, nodes).is_success()
    scores = [plugin.score(state, p, n) for n in nodes]
    plugin.normalize_scores(state, p, scores)
    assert scores == [100, 0]


def zoned_snapshot(*pods_on_a):
    return Snapshot(
        [
            NodeInfo(node("a", labels={ZONE: "z1"}), pods_on_a),
            NodeInfo(node("a2", labels={ZONE: "z1"})),
            NodeInfo(node("b", labels={ZONE: "z2"})),
            NodeInfo(node("nokey")),
        ]
    )


def term(labels):
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": ZONE}


def test_required_pod_affinity_by_zone():
    snapshot = zoned_snapshot(pod("db", labels={"app": "db"}, node_name="a"))
    p = pod(
        "web",
        affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "db"})]}},
    )
    result = run_filter(InterPodAffinity(), p, snapshot)
    assert result["a"].is_success() and result["a2"].is_success()
    assert result["b"].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert result["b"].reasons == ("node(s) didn't match pod affinity rules",)
    assert not result["nokey"].is_success()
    # The first pod of a self-affine group may go anywhere its topology key exists.
    first = pod(
        "w",
        labels={"app": "w"},
        affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "w"})]}},
    )
    result = run_filter(InterPodAffinity(), first, snapshot)
    assert result["b"].is_success() and not result["nokey"].is_success()


def test_required_anti_affinity_both_ways():
    snapshot = zoned_snapshot(pod("db", labels={"app": "db"}, node_name="a"))
    p = pod(
        "web",
        affinity={
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "db"})]}
        },
    )
    result = run_filter(InterPodAffinity(), p, snapshot)
    assert result["a2"].code == Code.UNSCHEDULABLE
    assert result["a2"].reasons == ("node(s) didn't match pod anti-affinity rules",)
    assert result["b"].is_success()
    guard = pod(
        "g",
        node_name="a",
        affinity={
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "web"})]}
        },
    )
    result = run_filter(InterPodAffinity(), pod("w", labels={"app": "web"}), zoned_snapshot(guard))
    assert result["a2"].reasons == ("node(s) didn't satisfy existing pods anti-affinity rules",)
    assert result["b"].is_success()


def test_preferred_pod_affinity_scored():
    plugin = InterPodAffinity()
    snapshot = zoned_snapshot(pod("db", labels={"app": "db"}, node_name="a"))
    preferred = [{"weight": 10, "podAffinityTerm": term({"app": "db"})}]
    p = pod("web", affinity={"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}})
    state = CycleState({"Snapshot": snapshot})
    assert plugin.pre_score(state, p, snapshot.node_infos).is_success()
    scores = [plugin.score(state, p, n) for n in snapshot.node_infos]
    plugin.normalize_scores(state, p, scores)
    assert scores == [100, 100, 0, 0]
