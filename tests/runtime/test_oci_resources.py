"""QoS classes and cgroup numbers from resource requests and limits."""

from __future__ import annotations

from typing import Any

from kubelite.runtime.oci import resources
from kubelite.runtime.oci.cgroups import CgroupLimits, shares_to_weight

Obj = dict[str, Any]


def c(requests: Obj | None = None, limits: Obj | None = None, **extra: Any) -> Obj:
    spec: Obj = {"name": "c", "resources": {}, **extra}
    if requests:
        spec["resources"]["requests"] = requests
    if limits:
        spec["resources"]["limits"] = limits
    return spec


def a_pod(*containers: Obj, init: tuple[Obj, ...] = ()) -> Obj:
    return {"metadata": {"uid": "u1"}, "spec": {"containers": list(containers), "initContainers": list(init)}}


def test_qos_classes() -> None:
    assert resources.qos_class(a_pod(c())) == "BestEffort"
    assert resources.qos_class(a_pod(c(limits={"cpu": "1", "memory": "1Gi"}))) == "Guaranteed"
    assert resources.qos_class(a_pod(c({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}))) == "Guaranteed"
    assert resources.qos_class(a_pod(c({"cpu": "500m"}, {"cpu": "1", "memory": "1Gi"}))) == "Burstable"
    assert resources.qos_class(a_pod(c({"memory": "1Gi"}))) == "Burstable"
    assert resources.qos_class(a_pod(c(limits={"cpu": "1", "memory": "1Gi"}), c())) == "Burstable"


def test_cgroup_paths_by_qos() -> None:
    assert resources.pod_cgroup_path("/kubelite", a_pod(c())) == "/kubelite/besteffort/podu1"
    assert resources.pod_cgroup_path("/kubelite", a_pod(c({"cpu": "1"}))) == "/kubelite/burstable/podu1"
    assert resources.pod_cgroup_path("/kubelite/", a_pod(c(limits={"cpu": "1", "memory": "1Gi"}))) == "/kubelite/podu1"


def test_shares_and_quota_conversions() -> None:
    assert resources.milli_cpu_to_shares(0) == 2
    assert resources.milli_cpu_to_shares(1) == 2
    assert resources.milli_cpu_to_shares(250) == 256
    assert resources.milli_cpu_to_shares(1000) == 1024
    assert resources.milli_cpu_to_quota(0) is None
    assert resources.milli_cpu_to_quota(5) == 1000  # the kernel's minimum
    assert resources.milli_cpu_to_quota(1500) == 150000
    assert shares_to_weight(2) == 1 and shares_to_weight(1024) == 39 and shares_to_weight(262144) == 10000


def test_container_resources() -> None:
    linux = resources.linux_resources(c({"cpu": "100m"}, {"cpu": "200m", "memory": "128Mi"}))
    assert linux["cpu"] == {"shares": 102, "quota": 20000, "period": 100000}
    assert linux["memory"] == {"limit": 134217728}
    only_limit = resources.linux_resources(c(limits={"cpu": "2"}))
    assert only_limit["cpu"]["shares"] == 2048  # the request defaults to the limit
    assert "memory" not in resources.linux_resources(c())


def test_pod_limits_sum_and_init_max() -> None:
    pod = a_pod(
        c({"cpu": "100m"}, {"cpu": "200m", "memory": "100Mi"}),
        c({"cpu": "300m"}, {"cpu": "400m", "memory": "50Mi"}),
        init=(c({"cpu": "1"}, {"cpu": "1", "memory": "10Mi"}),),
    )
    assert resources.pod_limits(pod, pids_limit=100) == CgroupLimits(
        memory_bytes=150 * 1024 * 1024, cpu_shares=1024, cpu_quota_us=100000, pids=100
    )
    unlimited = resources.pod_limits(a_pod(c(limits={"memory": "1Gi"}), c()))
    assert unlimited.memory_bytes is None and unlimited.cpu_quota_us is None and unlimited.pids is None
    sidecar = c({"cpu": "500m"}, {"cpu": "500m", "memory": "10Mi"}, restartPolicy="Always")
    with_sidecar = resources.pod_limits(a_pod(c({"cpu": "500m"}, {"cpu": "500m", "memory": "10Mi"}), init=(sidecar,)))
    assert with_sidecar.cpu_shares == 1024 and with_sidecar.memory_bytes == 20 * 1024 * 1024
