"""The admission chain: plugins registered on the Registry see every create and update, mutating
before validation and validating after the strategy's own admission, with what they refuse never
stored and nothing the strategy reserved left behind."""

from __future__ import annotations

from typing import Any

from registry_harness import ctx, expect_status, pod, service, store_of

from kubelite.api import errors
from kubelite.registry.admission import CREATE, UPDATE, AdmissionChain, AdmissionRequest
from kubelite.registry.registry import Registry

Obj = dict[str, Any]


class Recorder:
    """A plugin that records what it saw, and can change or refuse what it is shown."""

    name = "Recorder"

    def __init__(self, resources: set[tuple[str, str]], refuse: str = "", set_label: str = ""):
        self.resources = resources
        self.refuse = refuse
        self.set_label = set_label
        self.calls: list[tuple[str, str, str, str]] = []
        self.validated: list[Obj] = []
        self.asked: list[tuple[str, str]] = []

    def handles(self, group: str, resource: str) -> bool:
        self.asked.append((group, resource))
        return (group, resource) in self.resources

    async def mutate(self, request: AdmissionRequest) -> None:
        self.calls.append(("mutate", request.operation, request.subresource, request.name))
        if self.set_label:
            request.obj["metadata"].setdefault("labels", {})["admitted"] = self.set_label

    async def validate(self, request: AdmissionRequest) -> None:
        self.calls.append(("validate", request.operation, request.subresource, request.name))
        self.validated.append(request.obj)
        if self.refuse and request.name == self.refuse:
            raise request.forbidden("not today")


def register(registry: Registry, plugin: Recorder) -> Recorder:
    registry.admission.register(plugin)
    return plugin


async def test_mutation_is_stored_and_validation_sees_the_strategy_hooks(registry: Registry) -> None:
    plugin = register(registry, Recorder({("", "pods")}, set_label="yes"))
    created = await store_of(registry, "", "pods").create("default", pod("p1"), ctx())
    assert created["metadata"]["labels"] == {"admitted": "yes"}
    assert plugin.calls == [("mutate", CREATE, "", "p1"), ("validate", CREATE, "", "p1")]
    # validation runs after the pod strategy's admission (service account, priority)
    assert plugin.validated[0]["spec"]["serviceAccountName"] == "default"
    assert plugin.validated[0]["spec"]["priority"] == 0


async def test_mutation_happens_before_validation(registry: Registry) -> None:
    class BreakName(Recorder):
        async def mutate(self, request: AdmissionRequest) -> None:
            request.obj["metadata"]["labels"] = {"bad key!": "x"}

    register(registry, BreakName({("", "configmaps")}))
    err = await expect_status(
        store_of(registry, "", "configmaps").create("default", {"metadata": {"name": "c"}}, ctx()),
        422,
        "Invalid",
    )
    assert "metadata.labels" in err.message


async def test_a_refusal_is_a_403_and_nothing_is_stored(registry: Registry) -> None:
    register(registry, Recorder({("", "pods")}, refuse="p2"))
    pods = store_of(registry, "", "pods")
    err = await expect_status(pods.create("default", pod("p2"), ctx()), 403, "Forbidden")
    assert err.message == 'pods "p2" is forbidden: not today'
    assert err.details == {"name": "p2", "kind": "pods"}
    await expect_status(pods.get("default", "p2"), 404)


async def test_group_resources_name_the_group_in_refusals(registry: Registry) -> None:
    register(registry, Recorder({("apps", "deployments")}, refuse="d"))
    deployment = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    err = await expect_status(
        store_of(registry, "apps", "deployments").create("default", deployment, ctx()), 403
    )
    assert err.message == 'deployments.apps "d" is forbidden: not today'
    assert err.details == {"name": "d", "group": "apps", "kind": "deployments"}


async def test_updates_and_subresources_reach_the_plugins_with_the_old_object(registry: Registry) -> None:
    plugin = register(registry, Recorder({("", "pods")}))
    pods = store_of(registry, "", "pods")
    await pods.create("default", pod("p3"), ctx())
    plugin.calls.clear()
    await pods.patch("default", "p3", "merge", {"metadata": {"labels": {"x": "y"}}}, ctx())
    current = await pods.get("default", "p3")
    current["status"]["phase"] = "Running"
    await pods.update("default", "p3", current, ctx(), subresource="status")
    assert plugin.calls == [
        ("mutate", UPDATE, "", "p3"),
        ("validate", UPDATE, "", "p3"),
        ("mutate", UPDATE, "status", "p3"),
        ("validate", UPDATE, "status", "p3"),
    ]


async def test_a_refused_service_releases_its_cluster_ip(registry: Registry) -> None:
    register(registry, Recorder({("", "services")}, refuse="s1"))
    services = store_of(registry, "", "services")
    await expect_status(services.create("default", service("s1", cluster_ip="10.43.0.50"), ctx()), 403)
    assert "10.43.0.50" not in registry.pending_ips
    created = await services.create("default", service("s2", cluster_ip="10.43.0.50"), ctx())
    assert created["spec"]["clusterIP"] == "10.43.0.50"


async def test_plugins_are_asked_once_per_resource() -> None:
    plugin = Recorder({("", "pods")})
    chain = AdmissionChain([plugin])
    for _ in range(3):
        assert chain.plugins_for("", "pods") == (plugin,)
        assert chain.plugins_for("", "secrets") == ()
    assert plugin.asked == [("", "pods"), ("", "secrets")]


async def test_plugins_run_in_registration_order(registry: Registry) -> None:
    order: list[str] = []

    class Named(Recorder):
        async def validate(self, request: AdmissionRequest) -> None:
            order.append(self.name)

    first, second = Named({("", "configmaps")}), Named({("", "configmaps")})
    first.name, second.name = "first", "second"
    register(registry, first)
    register(registry, second)
    await store_of(registry, "", "configmaps").create("default", {"metadata": {"name": "c2"}}, ctx())
    assert order == ["first", "second"]


async def test_the_default_chain_has_limit_ranger_then_quota(registry: Registry) -> None:
    assert [p.name for p in registry.admission.plugins] == [
        "DefaultStorageClass", "StorageObjectInUseProtection", "LimitRanger", "ResourceQuota",
    ]  # fmt: skip
    assert [p.name for p in registry.admission.plugins_for("", "pods")] == ["LimitRanger", "ResourceQuota"]
    assert [p.name for p in registry.admission.plugins_for("", "persistentvolumeclaims")] == [
        "DefaultStorageClass", "StorageObjectInUseProtection", "LimitRanger", "ResourceQuota",
    ]  # fmt: skip
    assert [p.name for p in registry.admission.plugins_for("", "events")] == []


def test_forbidden_without_a_name_omits_it() -> None:
    from kubelite.schema.builtins import default_catalogue

    info = default_catalogue().get("", "v1", "pods")
    assert info is not None
    request = AdmissionRequest(info, {"metadata": {}}, None, ctx(), None)  # type: ignore[arg-type]
    err = request.forbidden("why")
    assert isinstance(err, errors.StatusError)
    assert err.message == "pods is forbidden: why"
