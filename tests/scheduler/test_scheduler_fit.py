from kubelite.scheduler.framework import Code, CycleState, NodeInfo, Snapshot, pod_requests
from kubelite.scheduler.plugins.nodename import NodeName
from kubelite.scheduler.plugins.noderesources import NodeResourcesBalancedAllocation, NodeResourcesFit
from kubelite.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from tests.scheduler.scheduler_objects import node, pod


def fit(p, info):
    plugin = NodeResourcesFit()
    state = CycleState()
    plugin.pre_filter(state, p, Snapshot([info]))
    return plugin.filter(state, p, info)


def test_requests_sum_containers_sidecars_init_floor_and_overhead():
    p = pod("p", cpu="100m", memory="1Gi")
    p["spec"]["containers"].append({"name": "d", "resources": {"requests": {"cpu": "200m"}}})
    p["spec"]["initContainers"] = [
        {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
        {"name": "big", "resources": {"requests": {"cpu": "1", "memory": "512Mi"}}},
    ]
    p["spec"]["overhead"] = {"cpu": "10m"}
    # running: 100m + 200m + sidecar 50m = 350m; init floor: 1000m + 50m sidecar = 1050m; + 10m overhead
    assert pod_requests(p) == {"cpu": 1060, "memory": 1 << 30}
    assert pod_requests(pod("e"), non_zero=True) == {"cpu": 100, "memory": 200 * 1024 * 1024}


def test_insufficient_cpu_is_resolvable_unless_request_exceeds_allocatable():
    info = NodeInfo(node("n", cpu="2"), [pod("a", cpu="1500m", node_name="n")])
    status = fit(pod("p", cpu="1"), info)
    assert status.code == Code.UNSCHEDULABLE and status.reasons == ("Insufficient cpu",)
    status = fit(pod("p", cpu="3"), info)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert fit(pod("p", cpu="500m"), info).is_success()


def test_too_many_pods_memory_and_extended_resources():
    info = NodeInfo(node("n", pods=1, memory="1Gi", **{"nvidia.com/gpu": "1"}), [pod("a", node_name="n")])
    p = pod("p", memory="2Gi")
    p["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] = "2"
    assert fit(p, info).reasons == ("Too many pods", "Insufficient memory", "Insufficient nvidia.com/gpu")


def test_least_allocated_and_balanced_scores():
    plugin, balanced = NodeResourcesFit(), NodeResourcesBalancedAllocation()
    empty, busy = NodeInfo(node("a", cpu="4", memory="4Gi")), NodeInfo(node("b", cpu="4", memory="4Gi"))
    busy.add_pod(pod("x", cpu="2", memory="1Gi", node_name="b"))
    p = pod("p", cpu="1", memory="1Gi")
    state = CycleState()
    plugin.pre_score(state, p, [empty, busy])
    assert plugin.score(state, p, empty) == 75  # (75 + 75) / 2
    assert plugin.score(state, p, busy) == 37  # cpu 1/4 free -> 25, memory 2/4 free -> 50
    assert balanced.pre_score(state, p, [empty, busy]).is_success()
    assert balanced.score(state, p, empty) == 100
    assert balanced.score(state, p, busy) == 87  # fractions 0.75 and 0.5
    assert balanced.pre_score(CycleState(), pod("e"), [empty]).is_skip()


def test_node_name_and_unschedulable():
    info = NodeInfo(node("n", unschedulable=True))
    status = NodeName().filter(CycleState(), pod("p", node_name="other"), info)
    assert status.reasons == ("node(s) didn't match the requested node name",)
    assert NodeName().filter(CycleState(), pod("p", node_name="n"), info).is_success()
    status = NodeUnschedulable().filter(CycleState(), pod("p"), info)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == ("node(s) were unschedulable",)
    tolerant = pod("p", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}])
    assert NodeUnschedulable().filter(CycleState(), tolerant, info).is_success()
