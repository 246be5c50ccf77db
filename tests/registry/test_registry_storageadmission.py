"""Storage admission against a real registry: DefaultStorageClass names the (newest) default
class on claims that ask for none, and StorageObjectInUseProtection adds the protection finalizers
only while a controller manager (which removes them) runs."""

from __future__ import annotations

from typing import Any

from registry_harness import ctx, store_of

from kubelite.registry.registry import Registry

Obj = dict[str, Any]


def claim(name: str, **spec: Any) -> Obj:
    return {
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, **spec},
    }


async def storage_class(registry: Registry, name: str, default: bool) -> None:
    notes = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    await store_of(registry, "storage.k8s.io", "storageclasses").create(
        "", {"metadata": {"name": name, "annotations": notes}, "provisioner": "example.com/p"}, ctx()
    )


async def test_claims_without_a_class_get_the_default_one(registry: Registry) -> None:
    claims = store_of(registry, "", "persistentvolumeclaims")
    made = await claims.create("default", claim("before"), ctx())
    assert "storageClassName" not in made["spec"], "no default class yet"
    await storage_class(registry, "plain", default=False)
    await storage_class(registry, "standard", default=True)
    made = await claims.create("default", claim("after"), ctx())
    assert made["spec"]["storageClassName"] == "standard"
    asked = await claims.create("default", claim("asked", storageClassName="plain"), ctx())
    assert asked["spec"]["storageClassName"] == "plain"
    none = await claims.create("default", claim("none", storageClassName=""), ctx())
    assert none["spec"]["storageClassName"] == "", "an explicit empty class means no class"
    beta = claim("beta")
    beta["metadata"]["annotations"] = {"volume.beta.kubernetes.io/storage-class": "plain"}
    assert "storageClassName" not in (await claims.create("default", beta, ctx()))["spec"]


async def test_of_several_defaults_the_newest_wins(registry: Registry) -> None:
    classes = store_of(registry, "storage.k8s.io", "storageclasses")
    for name, stamp in (("zeta", "2025-02-01T00:00:00Z"), ("alpha", "2025-01-01T00:00:00Z")):
        obj = {"metadata": {"name": name, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "p"}
        created = await classes.create("", obj, ctx())
        created["metadata"]["creationTimestamp"] = stamp
        # creationTimestamp is server-set: age the stored objects through the watch cache copy
        registry.watch_cache.cache("/registry/storage.k8s.io/storageclasses/").by_namespace[""][name] = created
    made = await store_of(registry, "", "persistentvolumeclaims").create("default", claim("c"), ctx())
    assert made["spec"]["storageClassName"] == "zeta", "newest, not first by name"


async def test_protection_finalizers_only_with_a_controller_manager(registry: Registry) -> None:
    claims = store_of(registry, "", "persistentvolumeclaims")
    volumes = store_of(registry, "", "persistentvolumes")
    pv = {"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/x"}}}
    assert not (await claims.create("default", claim("c1"), ctx()))["metadata"].get("finalizers")
    assert not (await volumes.create("", pv, ctx()))["metadata"].get("finalizers")
    registry.volume_protection_running = True
    assert (await claims.create("default", claim("c2"), ctx()))["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    made = await volumes.create("", {**pv, "metadata": {"name": "pv2"}}, ctx())
    assert made["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
