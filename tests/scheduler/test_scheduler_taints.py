from kubelite.scheduler.framework import Code, CycleState, NodeInfo, Snapshot
from kubelite.scheduler.plugins.nodeports import NodePorts
from kubelite.scheduler.plugins.tainttoleration import TaintToleration
from tests.scheduler.scheduler_objects import node, pod

CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def test_untolerated_taint_reason_prints_key_and_value():
    plugin = TaintToleration()
    status = plugin.filter(CycleState(), pod("p"), NodeInfo(node("n", taints=[CONTROL_PLANE])))
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == ("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",)
    gpu = NodeInfo(node("g", taints=[{"key": "gpu", "value": "yes", "effect": "NoExecute"}]))
    assert plugin.filter(CycleState(), pod("p"), gpu).reasons == ("node(s) had untolerated taint {gpu: yes}",)
    equal = pod("p", tolerations=[{"key": "gpu", "operator": "Equal", "value": "yes"}])
    assert plugin.filter(CycleState(), equal, gpu).is_success()
    wrong_value = pod("p", tolerations=[{"key": "gpu", "value": "no"}])
    assert not plugin.filter(CycleState(), wrong_value, gpu).is_success()
    soft = NodeInfo(node("s", taints=[{"key": "k", "effect": "PreferNoSchedule"}]))
    assert plugin.filter(CycleState(), pod("p"), soft).is_success()


def test_prefer_no_schedule_scored_reversed():
    plugin = TaintToleration()
    nodes = [
        NodeInfo(node("clean")),
        NodeInfo(node("one", taints=[{"key": "a", "effect": "PreferNoSchedule"}])),
        NodeInfo(
            node(
                "two",
                taints=[
                    {"key": "a", "effect": "PreferNoSchedule"},
                    {"key": "b", "effect": "PreferNoSchedule"},
                ],
            )
        ),
    ]
    p = pod("p", tolerations=[{"key": "b", "operator": "Exists", "effect": "PreferNoSchedule"}])
    state = CycleState()
    assert plugin.pre_score(state, p, nodes).is_success()
    scores = [plugin.score(state, p, n) for n in nodes]
    assert scores == [0, 1, 1]
    plugin.normalize_scores(state, p, scores)
    assert scores == [100, 0, 0]


def test_host_ports_conflict_on_protocol_port_and_wildcard_ip():
    plugin = NodePorts()
    busy = pod("a", node_name="n")
    busy["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    info = NodeInfo(node("n"), [busy])

    def check(port):
        p = pod("p")
        p["spec"]["containers"][0]["ports"] = [port]
        state = CycleState()
        assert plugin.pre_filter(state, p, Snapshot([info])).is_success()
        return plugin.filter(state, p, info)

    status = check({"containerPort": 1, "hostPort": 8080, "hostIP": "10.0.0.1"})
    assert status.code == Code.UNSCHEDULABLE
    assert status.reasons == ("node(s) didn't have free ports for the requested pod ports",)
    assert check({"containerPort": 1, "hostPort": 8080, "protocol": "UDP"}).is_success()
    assert check({"containerPort": 1, "hostPort": 8081}).is_success()
    assert plugin.pre_filter(CycleState(), pod("plain"), Snapshot([info])).is_skip()
