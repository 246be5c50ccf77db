"""Table columns and cells as kube-apiserver prints them (pkg/printers/internalversion)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.schema.catalogue import ResourceInfo
from kubelite.schema.printers import (
    crd_columns,
    crd_row,
    human_duration,
    make_table,
    table_columns,
    table_row,
)

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
T0 = "2023-11-14T22:13:20Z"


def ago(seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(NOW - seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def info(group: str, resource: str, kind: str = "X", version: str = "v1", **extra: Any) -> ResourceInfo:
    return ResourceInfo(
        group=group,
        version=version,
        resource=resource,
        kind=kind,
        singular=kind.lower(),
        namespaced=True,
        **extra,
    )


PODS = info("", "pods", "Pod")
SERVICES = info("", "services", "Service")
NODES = info("", "nodes", "Node")


def headers(resource_info: ResourceInfo) -> list[tuple[str, int]]:
    return [(c["name"].upper(), c["priority"]) for c in table_columns(resource_info)]


# ---------------------------------------------------------------------------------------------
# human_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-2, "<invalid>"),
        (-1.5, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119.9, "119s"),
        (120, "2m"),
        (182, "3m2s"),
        (599, "9m59s"),
        (600, "10m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 5 * 60 + 9, "3h5m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (50 * 3600, "2d2h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (731 * 86400, "2y1d"),
        (8 * 365 * 86400, "8y"),
        (10 * 365 * 86400 + 200 * 86400, "10y"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


# ---------------------------------------------------------------------------------------------
# Columns


@pytest.mark.parametrize(
    ("resource_info", "expected"),
    [
        (
            PODS,
            [("NAME", 0), ("READY", 0), ("STATUS", 0), ("RESTARTS", 0), ("AGE", 0), ("IP", 1), ("NODE", 1)]
            + [("NOMINATED NODE", 1), ("READINESS GATES", 1)],
        ),
        (
            info("apps", "deployments", "Deployment"),
            [("NAME", 0), ("READY", 0), ("UP-TO-DATE", 0), ("AVAILABLE", 0), ("AGE", 0)]
            + [("CONTAINERS", 1), ("IMAGES", 1), ("SELECTOR", 1)],
        ),
        (
            info("apps", "replicasets", "ReplicaSet"),
            [("NAME", 0), ("DESIRED", 0), ("CURRENT", 0), ("READY", 0), ("AGE", 0)]
            + [("CONTAINERS", 1), ("IMAGES", 1), ("SELECTOR", 1)],
        ),
        (
            SERVICES,
            [
                ("NAME", 0),
                ("TYPE", 0),
                ("CLUSTER-IP", 0),
                ("EXTERNAL-IP", 0),
                ("PORT(S)", 0),
                ("AGE", 0),
                ("SELECTOR", 1),
            ],
        ),
        (
            NODES,
            [("NAME", 0), ("STATUS", 0), ("ROLES", 0), ("AGE", 0), ("VERSION", 0), ("INTERNAL-IP", 1)]
            + [("EXTERNAL-IP", 1), ("OS-IMAGE", 1), ("KERNEL-VERSION", 1), ("CONTAINER-RUNTIME", 1)],
        ),
        (info("", "namespaces", "Namespace"), [("NAME", 0), ("STATUS", 0), ("AGE", 0)]),
        (
            info("", "events", "Event"),
            [("LAST SEEN", 0), ("TYPE", 0), ("REASON", 0), ("OBJECT", 0), ("SUBOBJECT", 1), ("SOURCE", 1)]
            + [("MESSAGE", 0), ("FIRST SEEN", 1), ("COUNT", 1), ("NAME", 1)],
        ),
        (info("", "configmaps", "ConfigMap"), [("NAME", 0), ("DATA", 0), ("AGE", 0)]),
        (info("", "secrets", "Secret"), [("NAME", 0), ("TYPE", 0), ("DATA", 0), ("AGE", 0)]),
        (
            info("apps", "statefulsets", "StatefulSet"),
            [("NAME", 0), ("READY", 0), ("AGE", 0), ("CONTAINERS", 1), ("IMAGES", 1)],
        ),
        (
            info("batch", "jobs", "Job"),
            [("NAME", 0), ("STATUS", 0), ("COMPLETIONS", 0), ("DURATION", 0), ("AGE", 0)]
            + [("CONTAINERS", 1), ("IMAGES", 1), ("SELECTOR", 1)],
        ),
        (info("rbac.authorization.k8s.io", "roles", "Role"), [("NAME", 0), ("CREATED AT", 0)]),
        (info("apiextensions.k8s.io", "customresourcedefinitions"), [("NAME", 0), ("CREATED AT", 0)]),
        (info("", "limitranges", "LimitRange"), [("NAME", 0), ("CREATED AT", 0)]),
    ],
)
def test_column_names_and_priorities(resource_info: ResourceInfo, expected: list[tuple[str, int]]) -> None:
    assert headers(resource_info) == expected


def test_column_definition_shape() -> None:
    columns = table_columns(PODS)
    assert columns[0]["format"] == "name" and columns[0]["type"] == "string"
    assert columns[0]["description"].startswith("Name must be unique within a namespace.")
    assert columns[3] == {
        "name": "Restarts",
        "type": "string",
        "format": "",
        "description": "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        "priority": 0,
    }
    assert columns[4]["description"].startswith("CreationTimestamp is a timestamp")
    replicasets = table_columns(info("apps", "replicasets"))
    assert [c["type"] for c in replicasets[:4]] == ["string", "integer", "integer", "integer"]
    default = table_columns(info("rbac.authorization.k8s.io", "roles"))
    assert default[1]["type"] == "date"


def test_every_column_has_a_description() -> None:
    resources = [
        ("", "pods"), ("", "services"), ("", "nodes"), ("", "persistentvolumes"), ("", "persistentvolumeclaims"),
        ("apps", "daemonsets"), ("batch", "cronjobs"), ("autoscaling", "horizontalpodautoscalers"),
        ("storage.k8s.io", "storageclasses"), ("scheduling.k8s.io", "priorityclasses"),
        ("discovery.k8s.io", "endpointslices"), ("coordination.k8s.io", "leases"),
    ]  # fmt: skip
    for group, resource in resources:
        for column in table_columns(info(group, resource)):
            assert column["description"], (resource, column["name"])


def test_columns_are_copies() -> None:
    table_columns(PODS)[0]["name"] = "changed"
    assert table_columns(PODS)[0]["name"] == "Name"


# ---------------------------------------------------------------------------------------------
# Pods


def pod(
    phase: str = "Running",
    statuses: list[dict[str, Any]] | None = None,
    init_statuses: list[dict[str, Any]] | None = None,
    containers: int = 1,
    init_containers: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default", "creationTimestamp": ago(300)},
        "spec": {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)]},
        "status": {"phase": phase},
    }
    if init_containers is not None:
        obj["spec"]["initContainers"] = init_containers
    if statuses is not None:
        obj["status"]["containerStatuses"] = statuses
    if init_statuses is not None:
        obj["status"]["initContainerStatuses"] = init_statuses
    for key, value in extra.items():
        section, _, field = key.partition("__")
        obj[section][field] = value
    return obj


def running(
    name: str = "c0", ready: bool = True, restarts: int = 0, finished: str | None = None
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": ago(100)}},
    }
    if finished:
        status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": finished}}
    return status


def waiting(reason: str, name: str = "c0", restarts: int = 0, finished: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason}},
    }
    if finished:
        status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": finished}}
    return status


def terminated(
    name: str = "c0", exit_code: int = 0, reason: str | None = None, signal: int = 0
) -> dict[str, Any]:
    state: dict[str, Any] = {"exitCode": exit_code, "finishedAt": ago(10)}
    if reason:
        state["reason"] = reason
    if signal:
        state["signal"] = signal
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": state}}


def pod_cells(obj: dict[str, Any]) -> list[Any]:
    return table_row(PODS, obj, NOW)


def test_pod_running_row_including_wide_cells() -> None:
    obj = pod(
        statuses=[running("c0"), running("c1", ready=False)],
        containers=2,
        spec__nodeName="node-1",
        status__podIP="10.1.0.5",
        status__podIPs=[{"ip": "10.1.0.5"}, {"ip": "fd00::5"}],
    )
    assert pod_cells(obj) == ["web-0", "1/2", "Running", "0", "5m", "10.1.0.5", "node-1", "<none>", "<none>"]


def test_pod_pending_without_statuses() -> None:
    assert pod_cells(pod(phase="Pending"))[:5] == ["web-0", "0/1", "Pending", "0", "5m"]
    assert pod_cells(pod(phase="Pending"))[5:] == ["<none>", "<none>", "<none>", "<none>"]


def test_pod_container_creating() -> None:
    assert pod_cells(pod(phase="Pending", statuses=[waiting("ContainerCreating")]))[1:3] == [
        "0/1",
        "ContainerCreating",
    ]


def test_pod_crash_loop_with_restart_age() -> None:
    obj = pod(statuses=[waiting("CrashLoopBackOff", restarts=5, finished=ago(150))])
    assert pod_cells(obj)[1:4] == ["0/1", "CrashLoopBackOff", "5 (2m30s ago)"]


def test_pod_restarts_without_termination_time_are_a_bare_number() -> None:
    assert pod_cells(pod(statuses=[running(restarts=3)]))[3] == "3"


def test_pod_terminating_and_node_lost() -> None:
    obj = pod(statuses=[running()])
    obj["metadata"]["deletionTimestamp"] = ago(1)
    assert pod_cells(obj)[2] == "Terminating"
    obj["status"]["reason"] = "NodeLost"
    assert pod_cells(obj)[2] == "Unknown"
    done = pod(phase="Succeeded", statuses=[terminated(reason="Completed")])
    done["metadata"]["deletionTimestamp"] = ago(1)
    assert pod_cells(done)[2] == "Completed"


def test_pod_completed_and_failed_get_row_conditions() -> None:
    done = pod(phase="Succeeded", statuses=[terminated(reason="Completed")])
    assert pod_cells(done)[1:3] == ["0/1", "Completed"]
    table = make_table(
        PODS, [done, pod(phase="Failed", statuses=[terminated(exit_code=2, reason="Error")]), pod()], NOW
    )
    assert table["rows"][0]["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    assert table["rows"][1]["conditions"][0]["reason"] == "Failed"
    assert table["rows"][1]["cells"][2] == "Error"
    assert "conditions" not in table["rows"][2]


def test_pod_terminated_without_reason_shows_exit_code_or_signal() -> None:
    assert pod_cells(pod(phase="Failed", statuses=[terminated(exit_code=137)]))[2] == "ExitCode:137"
    assert pod_cells(pod(phase="Failed", statuses=[terminated(exit_code=137, signal=9)]))[2] == "Signal:9"


def test_pod_completed_container_with_another_still_running() -> None:
    statuses = [terminated("c0", reason="Completed"), running("c1")]
    obj = pod(statuses=statuses, containers=2)
    assert pod_cells(obj)[1:3] == ["1/2", "NotReady"]
    obj["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert pod_cells(obj)[2] == "Running"


def test_pod_init_container_states() -> None:
    inits = [{"name": "i0", "image": "busybox"}, {"name": "i1", "image": "busybox"}]
    progressing = pod(
        phase="Pending", init_containers=inits, init_statuses=[terminated("i0"), running("i1", ready=False)]
    )
    assert pod_cells(progressing)[1:3] == ["0/1", "Init:1/2"]
    first = pod(
        phase="Pending",
        init_containers=inits,
        init_statuses=[waiting("PodInitializing", "i0"), waiting("PodInitializing", "i1")],
    )
    assert pod_cells(first)[2] == "Init:0/2"
    crash = pod(
        phase="Pending",
        init_containers=inits,
        init_statuses=[waiting("CrashLoopBackOff", "i0", restarts=4, finished=ago(30))],
    )
    assert pod_cells(crash)[2:4] == ["Init:CrashLoopBackOff", "4 (30s ago)"]
    failed = pod(
        phase="Pending", init_containers=inits, init_statuses=[terminated("i0", exit_code=1, reason="Error")]
    )
    assert pod_cells(failed)[2] == "Init:Error"
    no_reason = pod(phase="Pending", init_containers=inits, init_statuses=[terminated("i0", exit_code=3)])
    assert pod_cells(no_reason)[2] == "Init:ExitCode:3"
    signalled = pod(
        phase="Pending", init_containers=inits, init_statuses=[terminated("i0", exit_code=3, signal=15)]
    )
    assert pod_cells(signalled)[2] == "Init:Signal:15"


def test_pod_sidecar_init_containers_count_as_containers() -> None:
    sidecar = {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}
    side_status = {**running("proxy", restarts=2, finished=ago(60)), "started": True}
    obj = pod(
        init_containers=[sidecar],
        init_statuses=[side_status],
        statuses=[running("c0", restarts=1, finished=ago(400))],
    )
    obj["status"]["conditions"] = [
        {"type": "Initialized", "status": "True"},
        {"type": "Ready", "status": "True"},
    ]
    assert pod_cells(obj)[1:4] == ["2/2", "Running", "3 (60s ago)"]


def test_pod_scheduling_gated_and_status_reason() -> None:
    gated = pod(
        phase="Pending",
        status__conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
    )
    assert pod_cells(gated)[2] == "SchedulingGated"
    evicted = pod(phase="Failed", status__reason="Evicted")
    assert pod_cells(evicted)[2] == "Evicted"


def test_pod_wide_nominated_node_and_readiness_gates() -> None:
    obj = pod(
        statuses=[running()],
        spec__readinessGates=[{"conditionType": "example.com/a"}, {"conditionType": "example.com/b"}],
        status__conditions=[
            {"type": "example.com/a", "status": "True"},
            {"type": "example.com/b", "status": "False"},
        ],
        status__nominatedNodeName="node-2",
        status__podIP="10.0.0.9",
    )
    assert pod_cells(obj)[5:] == ["10.0.0.9", "<none>", "node-2", "1/2"]


def test_pod_without_creation_timestamp_has_unknown_age() -> None:
    obj = pod()
    del obj["metadata"]["creationTimestamp"]
    assert pod_cells(obj)[4] == "<unknown>"


# ---------------------------------------------------------------------------------------------
# Services and nodes


def service(kind: str, ports: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "creationTimestamp": ago(7200)},
        "spec": {
            "type": kind,
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"],
            "ports": ports,
            **spec,
        },
        "status": spec.pop("status", {"loadBalancer": {}}),
    }


def test_service_cluster_ip() -> None:
    obj = service(
        "ClusterIP",
        [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
        selector={"app": "web", "a": "b"},
    )
    assert table_row(SERVICES, obj, NOW) == [
        "web",
        "ClusterIP",
        "10.96.0.10",
        "<none>",
        "80/TCP,53/UDP",
        "120m",
        "a=b,app=web",
    ]


def test_service_node_port_and_no_selector() -> None:
    obj = service("NodePort", [{"port": 80, "nodePort": 30080, "protocol": "TCP"}])
    assert table_row(SERVICES, obj, NOW)[3:] == ["<none>", "80:30080/TCP", "120m", "<none>"]


def test_service_load_balancer_pending_and_assigned() -> None:
    obj = service("LoadBalancer", [{"port": 443, "nodePort": 31443, "protocol": "TCP"}])
    assert table_row(SERVICES, obj, NOW)[3] == "<pending>"
    obj["status"] = {
        "loadBalancer": {
            "ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example.com"}, {"ip": "203.0.113.1"}]
        }
    }
    assert table_row(SERVICES, obj, NOW)[3] == "203.0.113.1,203.0.113.9,lb.example.com"
    obj["spec"]["externalIPs"] = ["198.51.100.1"]
    assert table_row(SERVICES, obj, NOW)[3] == "203.0.113.1,203.0.113.9,lb.example.com,198.51.100.1"


def test_service_headless_external_name_and_external_ips() -> None:
    headless = service("ClusterIP", [], clusterIP="None", clusterIPs=["None"])
    assert table_row(SERVICES, headless, NOW)[2:5] == ["None", "<none>", "<none>"]
    external = service("ExternalName", [], externalName="db.example.com", clusterIP="", clusterIPs=[])
    assert table_row(SERVICES, external, NOW)[2:4] == ["<none>", "db.example.com"]
    with_ips = service("ClusterIP", [{"port": 80, "protocol": "TCP"}], externalIPs=["1.2.3.4", "5.6.7.8"])
    assert table_row(SERVICES, with_ips, NOW)[3] == "1.2.3.4,5.6.7.8"


def node(**extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": "node-1", "creationTimestamp": ago(3 * 86400), "labels": {}},
        "spec": {},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.33.0",
                "osImage": "Debian GNU/Linux 12",
                "kernelVersion": "6.1.0",
                "containerRuntimeVersion": "containerd://1.7",
            },
            "addresses": [
                {"type": "Hostname", "address": "node-1"},
                {"type": "InternalIP", "address": "192.168.1.10"},
            ],
        },
    }
    for key, value in extra.items():
        section, _, field = key.partition("__")
        obj[section][field] = value
    return obj


def test_node_row() -> None:
    row = table_row(NODES, node(), NOW)
    assert row == [
        "node-1",
        "Ready",
        "<none>",
        "3d",
        "v1.33.0",
        "192.168.1.10",
        "<none>",
        "Debian GNU/Linux 12",
        "6.1.0",
        "containerd://1.7",
    ]


def test_node_roles_and_scheduling_disabled() -> None:
    labels = {
        "node-role.kubernetes.io/control-plane": "",
        "node-role.kubernetes.io/worker": "",
        "kubernetes.io/role": "infra",
        "node-role.kubernetes.io/": "",
    }
    obj = node(spec__unschedulable=True)
    obj["metadata"]["labels"] = labels
    assert table_row(NODES, obj, NOW)[1:3] == ["Ready,SchedulingDisabled", "control-plane,infra,worker"]


def test_node_not_ready_and_unknown() -> None:
    assert (
        table_row(NODES, node(status__conditions=[{"type": "Ready", "status": "Unknown"}]), NOW)[1]
        == "NotReady"
    )
    bare = node(status__conditions=[], status__nodeInfo={}, status__addresses=[])
    assert table_row(NODES, bare, NOW)[1:] == [
        "Unknown",
        "<none>",
        "3d",
        "",
        "<none>",
        "<none>",
        "<unknown>",
        "<unknown>",
        "<unknown>",
    ]


# ---------------------------------------------------------------------------------------------
# Workloads and other kinds


def test_deployment_row() -> None:
    obj = {
        "metadata": {"name": "web", "creationTimestamp": ago(45)},
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod", "dev"]}],
            },
            "template": {
                "spec": {
                    "containers": [
                        {"name": "nginx", "image": "nginx:1.25"},
                        {"name": "log", "image": "busybox"},
                    ]
                }
            },
        },
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert table_row(info("apps", "deployments"), obj, NOW) == [
        "web", "2/3", 3, 2, "45s", "nginx,log", "nginx:1.25,busybox", "app=web,env notin (dev,prod)",
    ]  # fmt: skip
    fresh = {"metadata": {"name": "new"}, "spec": {"replicas": 1}}
    assert table_row(info("apps", "deployments"), fresh, NOW)[1:8] == ["0/1", 0, 0, "<unknown>", "", "", ""]


def test_replica_set_selector_formats() -> None:
    rs = info("apps", "replicasets")
    obj = {
        "metadata": {"name": "web-1", "creationTimestamp": ago(10)},
        "spec": {
            "replicas": 2,
            "selector": {
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["b", "a"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                ]
            },
        },
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    assert table_row(rs, obj, NOW) == ["web-1", 2, 2, 1, "10s", "", "", "!canary,tier in (a,b)"]
    obj["spec"]["selector"] = {}
    assert table_row(rs, obj, NOW)[7] == "<none>"
    obj["spec"]["selector"] = {"matchExpressions": [{"key": "x", "operator": "Bogus"}]}
    assert table_row(rs, obj, NOW)[7] == "<error>"


def test_statefulset_daemonset_rows() -> None:
    sts = {
        "metadata": {"name": "db", "creationTimestamp": ago(60)},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "pg", "image": "postgres"}]}}},
        "status": {"readyReplicas": 3},
    }
    assert table_row(info("apps", "statefulsets"), sts, NOW) == ["db", "3/3", "60s", "pg", "postgres"]
    ds = {
        "metadata": {"name": "agent", "creationTimestamp": ago(60)},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [{"name": "a", "image": "agent"}],
                }
            },
        },
        "status": {
            "desiredNumberScheduled": 2,
            "currentNumberScheduled": 2,
            "numberReady": 1,
            "updatedNumberScheduled": 2,
            "numberAvailable": 1,
        },
    }
    assert table_row(info("apps", "daemonsets"), ds, NOW) == [
        "agent",
        2,
        2,
        1,
        2,
        1,
        "kubernetes.io/os=linux",
        "60s",
        "a",
        "agent",
        "app=agent",
    ]


def test_job_and_cronjob_rows() -> None:
    job = {
        "metadata": {"name": "pi", "creationTimestamp": ago(600)},
        "spec": {
            "completions": 1,
            "parallelism": 1,
            "selector": {"matchLabels": {"job": "pi"}},
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}},
        },
        "status": {
            "succeeded": 1,
            "startTime": ago(600),
            "completionTime": ago(590),
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    assert table_row(info("batch", "jobs"), job, NOW) == [
        "pi",
        "Complete",
        "1/1",
        "10s",
        "10m",
        "pi",
        "perl",
        "job=pi",
    ]
    job["spec"] = {"parallelism": 3, "template": {"spec": {"containers": []}}}
    job["status"] = {"startTime": ago(30)}
    assert table_row(info("batch", "jobs"), job, NOW)[1:4] == ["Running", "0/1 of 3", "30s"]
    cron = {
        "metadata": {"name": "tick", "creationTimestamp": ago(3600)},
        "spec": {
            "schedule": "*/5 * * * *",
            "suspend": False,
            "jobTemplate": {
                "spec": {"template": {"spec": {"containers": [{"name": "t", "image": "busybox"}]}}}
            },
        },
        "status": {"active": [{"name": "tick-1"}], "lastScheduleTime": ago(120)},
    }
    assert table_row(info("batch", "cronjobs"), cron, NOW) == [
        "tick",
        "*/5 * * * *",
        "<none>",
        "False",
        1,
        "2m",
        "60m",
        "t",
        "busybox",
        "<none>",
    ]


def test_namespace_configmap_secret_serviceaccount_rows() -> None:
    meta = {"name": "x", "creationTimestamp": ago(5)}
    assert table_row(info("", "namespaces"), {"metadata": meta, "status": {"phase": "Active"}}, NOW) == [
        "x",
        "Active",
        "5s",
    ]
    cm = {"metadata": meta, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert table_row(info("", "configmaps"), cm, NOW) == ["x", 3, "5s"]
    assert table_row(info("", "configmaps"), {"metadata": meta}, NOW) == ["x", 0, "5s"]
    secret = {"metadata": meta, "type": "Opaque", "data": {"k": "dg=="}}
    assert table_row(info("", "secrets"), secret, NOW) == ["x", "Opaque", 1, "5s"]
    assert table_row(info("", "serviceaccounts"), {"metadata": meta}, NOW) == ["x", 0, "5s"]


def test_core_event_row() -> None:
    event = {
        "metadata": {"name": "web-0.17a", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{nginx}"},
        "reason": "Pulled",
        "message": "  Container image already present\n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(600),
        "lastTimestamp": ago(30),
        "count": 4,
        "type": "Normal",
    }
    assert table_row(info("", "events"), event, NOW) == [
        "30s", "Normal", "Pulled", "pod/web-0", "spec.containers{nginx}", "kubelet, node-1",
        "Container image already present", "10m", 4, "web-0.17a",
    ]  # fmt: skip


def test_event_new_style_fields() -> None:
    event = {
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "Node"},
        "reportingComponent": "scheduler",
        "eventTime": ago(90),
        "firstTimestamp": None,
        "lastTimestamp": None,
        "type": "Warning",
        "reason": "X",
        "message": "m",
    }
    assert table_row(info("", "events"), event, NOW)[:9] == [
        "90s",
        "Warning",
        "X",
        "node",
        "",
        "scheduler",
        "m",
        "90s",
        1,
    ]
    event["series"] = {"count": 7, "lastObservedTime": ago(3)}
    assert table_row(info("", "events"), event, NOW)[0] == "3s"
    assert table_row(info("", "events"), event, NOW)[8] == 7


def test_events_k8s_io_event_row() -> None:
    event = {
        "apiVersion": "events.k8s.io/v1",
        "metadata": {"name": "e2"},
        "regarding": {"kind": "Deployment", "name": "web"},
        "note": "Scaled up",
        "reason": "ScalingReplicaSet",
        "type": "Normal",
        "eventTime": ago(20),
        "reportingController": "deployment-controller",
        "reportingInstance": "cm-1",
        "deprecatedCount": 2,
        "deprecatedFirstTimestamp": ago(40),
        "deprecatedLastTimestamp": ago(20),
    }
    row = table_row(info("events.k8s.io", "events"), event, NOW)
    assert row == [
        "20s",
        "Normal",
        "ScalingReplicaSet",
        "deployment/web",
        "",
        "deployment-controller, cm-1",
        "Scaled up",
        "40s",
        2,
        "e2",
    ]


def test_pvc_pv_rows() -> None:
    pvc = {
        "metadata": {"name": "data", "creationTimestamp": ago(60)},
        "spec": {
            "volumeName": "pv-1",
            "storageClassName": "standard",
            "volumeMode": "Filesystem",
            "resources": {"requests": {"storage": "1Gi"}},
        },
        "status": {
            "phase": "Bound",
            "capacity": {"storage": "2Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
        },
    }
    assert table_row(info("", "persistentvolumeclaims"), pvc, NOW) == [
        "data",
        "Bound",
        "pv-1",
        "2Gi",
        "RWO,RWX",
        "standard",
        "<unset>",
        "60s",
        "Filesystem",
    ]
    pv = {
        "metadata": {"name": "pv-1", "creationTimestamp": ago(60), "deletionTimestamp": ago(1)},
        "spec": {
            "capacity": {"storage": "2Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "default", "name": "data"},
        },
        "status": {"phase": "Bound"},
    }
    pvc["status"]["capacity"] = {"storage": "1024Mi"}  # served as canonical Quantity.String()
    assert table_row(info("", "persistentvolumeclaims"), pvc, NOW)[3] == "1Gi"
    assert table_row(info("", "persistentvolumes"), pv, NOW) == [
        "pv-1",
        "2Gi",
        "RWO",
        "Retain",
        "Terminating",
        "default/data",
        "",
        "<unset>",
        "",
        "60s",
        "<unset>",
    ]


def test_misc_rows() -> None:
    meta = {"name": "x", "creationTimestamp": ago(5)}
    quota = {
        "metadata": meta,
        "status": {
            "hard": {"pods": "10", "limits.cpu": "2", "requests.memory": "1Gi"},
            "used": {"pods": "3"},
        },
    }
    assert table_row(info("", "resourcequotas"), quota, NOW) == [
        "x",
        "pods: 3/10, requests.memory: 0/1Gi",
        "limits.cpu: 0/2",
        "5s",
    ]
    pdb = {"metadata": meta, "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}}
    assert table_row(info("policy", "poddisruptionbudgets"), pdb, NOW) == ["x", "50%", "N/A", 1, "5s"]
    sc = {
        "metadata": {**meta, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "p",
    }
    assert table_row(info("storage.k8s.io", "storageclasses"), sc, NOW) == [
        "x (default)",
        "p",
        "Delete",
        "Immediate",
        False,
        "5s",
    ]
    binding = {"metadata": meta, "roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [
        {"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"}, {"kind": "ServiceAccount", "namespace": "ns", "name": "sa"}, {"kind": "User", "name": "bob"}]}  # fmt: skip
    assert table_row(info("rbac.authorization.k8s.io", "rolebindings"), binding, NOW) == [
        "x",
        "ClusterRole/view",
        "5s",
        "alice, bob",
        "devs",
        "ns/sa",
    ]
    lease = {"metadata": meta, "spec": {"holderIdentity": "node-1"}}
    assert table_row(info("coordination.k8s.io", "leases"), lease, NOW) == ["x", "node-1", "5s"]
    slice_ = {
        "metadata": meta,
        "addressType": "IPv4",
        "ports": [{"port": 80}, {"name": "dns"}, {}, {"port": 9}],
        "endpoints": [{"addresses": ["10.0.0.1"]}],
    }
    assert table_row(info("discovery.k8s.io", "endpointslices"), slice_, NOW) == [
        "x",
        "IPv4",
        "80,dns,* + 1 more...",
        "10.0.0.1",
        "5s",
    ]
    empty_slice = {"metadata": meta, "addressType": "IPv4"}
    assert table_row(info("discovery.k8s.io", "endpointslices"), empty_slice, NOW)[2:4] == [
        "<unset>",
        "<unset>",
    ]
    endpoints = {
        "metadata": meta,
        "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}
        ],
    }
    assert (
        table_row(info("", "endpoints"), endpoints, NOW)[1]
        == "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."
    )
    assert table_row(info("", "endpoints"), {"metadata": meta}, NOW)[1] == "<none>"
    ingress = {
        "metadata": meta,
        "spec": {"rules": [{"host": "a.example"}, {}], "tls": [{}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "1.1.1.1"}]}},
    }
    assert table_row(info("networking.k8s.io", "ingresses"), ingress, NOW) == [
        "x",
        "<none>",
        "a.example",
        "1.1.1.1",
        "80, 443",
        "5s",
    ]
    revision = {
        "metadata": {
            **meta,
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True}
            ],
        },
        "revision": 3,
    }
    assert table_row(info("apps", "controllerrevisions"), revision, NOW) == [
        "x",
        "statefulset.apps/db",
        3,
        "5s",
    ]
    priority = {"metadata": meta, "value": 1000, "preemptionPolicy": "Never"}
    assert table_row(info("scheduling.k8s.io", "priorityclasses"), priority, NOW) == [
        "x",
        1000,
        False,
        "5s",
        "Never",
    ]


def test_hpa_rows_v2_and_v1() -> None:
    hpa_info = info("autoscaling", "horizontalpodautoscalers", version="v2")
    v2 = {
        "apiVersion": "autoscaling/v2",
        "metadata": {"name": "web", "creationTimestamp": ago(5)},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                },
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "10"},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "100Mi"},
                    },
                },
            ],
        },
        "status": {
            "currentReplicas": 2,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42}}}
            ],
        },
    }
    assert table_row(hpa_info, v2, NOW) == [
        "web",
        "Deployment/web",
        "cpu: 42%/80%, <unknown>/10 + 1 more...",
        "1",
        5,
        2,
        "5s",
    ]
    v1 = {
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web", "creationTimestamp": ago(5)},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 50,
        },
        "status": {"currentReplicas": 1},
    }
    assert table_row(info("autoscaling", "horizontalpodautoscalers"), v1, NOW)[2:4] == [
        "cpu: <unknown>/50%",
        "<unset>",
    ]
    v1["spec"].pop("targetCPUUtilizationPercentage")
    assert table_row(info("autoscaling", "horizontalpodautoscalers"), v1, NOW)[2] == "<none>"


def test_default_table_for_unknown_kinds() -> None:
    role = {"metadata": {"name": "reader", "creationTimestamp": "2024-03-01T10:00:00.000000+02:00"}}
    assert table_row(info("rbac.authorization.k8s.io", "roles"), role, NOW) == [
        "reader",
        "2024-03-01T08:00:00Z",
    ]
    assert table_row(info("example.com", "things"), {"metadata": {"name": "t"}}, NOW) == [
        "t",
        "0001-01-01T00:00:00Z",
    ]


# ---------------------------------------------------------------------------------------------
# CRDs


PRINTER_COLUMNS = [
    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        "description": "ready?",
    },
    {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio", "priority": 1},
    {"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"},
    {"name": "Selector", "type": "string", "jsonPath": ".spec.selector"},
    {"name": "Started", "type": "date", "jsonPath": ".status.startTime"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def test_crd_columns() -> None:
    columns = crd_columns(PRINTER_COLUMNS)
    assert [(c["name"], c["type"], c["priority"]) for c in columns] == [
        ("Name", "string", 0), ("Replicas", "integer", 0), ("Ready", "string", 0), ("Ratio", "number", 1),
        ("Paused", "boolean", 0), ("Selector", "string", 0), ("Started", "date", 0), ("Age", "date", 0),
    ]  # fmt: skip
    assert (
        columns[1]["description"] == "Custom resource definition column (in JSONPath format): .spec.replicas"
    )
    assert columns[2]["description"] == "ready?"
    assert columns[0]["format"] == "name"


def test_crd_without_printer_columns_gets_age() -> None:
    columns = crd_columns([])
    assert [(c["name"], c["type"]) for c in columns] == [("Name", "string"), ("Age", "date")]
    assert columns[1]["description"].startswith("CreationTimestamp is a timestamp")
    assert crd_row(None, {"metadata": {"name": "a", "creationTimestamp": ago(90)}}, NOW) == ["a", "90s"]


def test_crd_row_cells() -> None:
    obj = {
        "metadata": {"name": "w", "creationTimestamp": ago(3600)},
        "spec": {"replicas": 2.0, "ratio": 3, "paused": True, "selector": {"matchLabels": {"a": "b"}}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "startTime": "garbage"},
    }
    assert crd_row(PRINTER_COLUMNS, obj, NOW) == [
        "w",
        2,
        "True",
        3.0,
        True,
        '{"matchLabels":{"a":"b"}}',
        "<invalid>",
        "60m",
    ]
    assert crd_row(PRINTER_COLUMNS, {"metadata": {"name": "bare"}}, NOW) == [
        "bare",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ]


def test_crd_cell_type_mismatches_are_empty() -> None:
    obj = {
        "metadata": {"name": "w"},
        "spec": {"replicas": "two", "ratio": "x", "paused": "yes", "selector": None},
    }
    assert crd_row(PRINTER_COLUMNS, obj, NOW)[1:6] == [None, None, None, None, "<no value>"]


def test_crd_invalid_column_stops_the_list() -> None:
    columns = [
        {"name": "A", "type": "integer", "jsonPath": ".a"},
        {"name": "B", "type": "string", "jsonPath": ".b["},
        {"name": "C", "type": "string", "jsonPath": ".c"},
    ]
    assert [c["name"] for c in crd_columns(columns)] == ["Name", "A"]
    assert crd_row(columns, {"metadata": {"name": "n"}, "a": 1, "c": "x"}, NOW) == ["n", 1]


def test_table_functions_use_crd_columns_from_resource_info() -> None:
    widgets = info(
        "example.com", "widgets", "Widget", crd=True, extra={"printer_columns": PRINTER_COLUMNS[:1]}
    )
    assert [c["name"] for c in table_columns(widgets)] == ["Name", "Replicas"]
    assert table_row(widgets, {"metadata": {"name": "w"}, "spec": {"replicas": 4}}, NOW) == ["w", 4]
    table = make_table(widgets, [{"metadata": {"name": "w"}, "spec": {"replicas": 4}}], NOW)
    assert table["rows"][0]["cells"] == ["w", 4]
    plain = info("example.com", "gadgets", "Gadget", crd=True)
    assert [c["name"] for c in table_columns(plain)] == ["Name", "Age"]


# ---------------------------------------------------------------------------------------------
# Whole tables


def test_make_table_shape_with_metadata_rows() -> None:
    objs = [pod(statuses=[running()]), pod(phase="Pending")]
    objs[1]["metadata"] = {**objs[1]["metadata"], "name": "web-1", "labels": {"app": "web"}}
    table = make_table(
        PODS, objs, NOW, "Metadata", {"resourceVersion": "42", "continue": "abc", "remainingItemCount": 3}
    )
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42", "continue": "abc", "remainingItemCount": 3}
    assert [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert [r["cells"][0] for r in table["rows"]] == ["web-0", "web-1"]
    assert table["rows"][1]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": objs[1]["metadata"],
    }


def test_make_table_include_object_variants_and_options() -> None:
    obj = pod()
    assert make_table(PODS, [obj], NOW, "Object")["rows"][0]["object"] is obj
    assert make_table(PODS, [obj], NOW, "None")["rows"][0]["object"] is None
    bare = make_table(
        PODS, [], NOW, list_meta={"resourceVersion": ""}, no_headers=True, api_version="meta.k8s.io/v1beta1"
    )
    assert bare == {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1beta1",
        "metadata": {},
        "columnDefinitions": [],
        "rows": [],
    }
    beta = make_table(PODS, [obj], NOW, api_version="meta.k8s.io/v1beta1")
    assert beta["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"


def test_make_table_sorts_flow_schemas_by_precedence() -> None:
    fs = info("flowcontrol.apiserver.k8s.io", "flowschemas")
    objs = [
        {
            "metadata": {"name": name},
            "spec": {"matchingPrecedence": prec, "priorityLevelConfiguration": {"name": "pl"}},
        }
        for name, prec in (("b", 500), ("z", 100), ("a", 500))
    ]
    assert [r["cells"][0] for r in make_table(fs, objs, NOW)["rows"]] == ["z", "a", "b"]


def test_make_table_does_not_mutate_objects() -> None:
    import copy

    objs = [pod(statuses=[waiting("CrashLoopBackOff", restarts=2, finished=ago(5))]), node()]
    before = copy.deepcopy(objs)
    make_table(PODS, objs[:1], NOW)
    make_table(NODES, objs[1:], NOW, "Object")
    assert objs == before
