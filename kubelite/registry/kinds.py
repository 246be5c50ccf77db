"""Strategies of the kinds whose create/update/delete do more than the generic Store: pods
(status, admission, graceful deletion), services (IP and port allocation), namespaces (phase and
finalization), jobs (generated selectors) and CRDs.

Must not store objects itself; anything it needs from other resources it reads via the Registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubelite.api import errors
from kubelite.registry.allocators import NodePortAllocator, ServiceIPAllocator
from kubelite.registry.context import RequestContext
from kubelite.registry.strategy import Strategy
from kubelite.schema import defaults as schema_defaults
from kubelite.schema.catalogue import ResourceInfo
from kubelite.schema.servicefields import prepare_service_spec

if TYPE_CHECKING:
    from kubelite.registry.registry import Registry

Obj = dict[str, Any]

DEFAULT_TOLERATION_SECONDS = 300


def qos_class(pod: Obj) -> str:
    """BestEffort, Burstable or Guaranteed from the containers' requests and limits, as upstream."""
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        for res in ("cpu", "memory"):
            if res in requests or res in limits:
                any_set = True
            if res not in limits or (res in requests and str(requests[res]) != str(limits[res])):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
_RANDOM_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # upstream's utilrand alphabet


async def _admit_service_account(pod: Obj, registry: Registry) -> None:
    """ServiceAccount admission: the account's imagePullSecrets when the pod names none, and the
    API access volume (below)."""
    spec = pod["spec"]
    namespace = str(pod["metadata"].get("namespace") or "")
    account = await registry.try_get("", "serviceaccounts", namespace, spec["serviceAccountName"]) or {}
    if not spec.get("imagePullSecrets") and account.get("imagePullSecrets"):
        spec["imagePullSecrets"] = [{"name": ref.get("name", "")} for ref in account["imagePullSecrets"]]
    _mount_service_account_token(pod, account)


def _mount_service_account_token(pod: Obj, account: Obj) -> None:
    """ServiceAccount admission's projected `kube-api-access-xxxxx` volume (a bound token, the
    cluster CA, the namespace), mounted read-only into every container and init container that
    has nothing at the service account path; not when the pod or its account opts out."""
    import secrets

    spec = pod["spec"]
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = account.get("automountServiceAccountToken")
    if automount is False:
        return
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    lacking = [c for c in containers if not any(m.get("mountPath") == SERVICE_ACCOUNT_MOUNT for m in c.get("volumeMounts") or [])]
    if not lacking:
        return
    name = "kube-api-access-" + "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(5))
    spec.setdefault("volumes", []).append(
        {
            "name": name,
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
                ],
            },
        }
    )
    for container in lacking:
        container.setdefault("volumeMounts", []).append({"name": name, "readOnly": True, "mountPath": SERVICE_ACCOUNT_MOUNT})


class PodStrategy(Strategy):
    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj)}

    async def before_create(self, obj: Obj, registry: Registry, ctx: RequestContext) -> None:
        spec = obj.setdefault("spec", {})
        # ServiceAccount admission: the default account, as upstream's admission plugin.
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
        spec["serviceAccount"] = spec["serviceAccountName"]
        await _admit_service_account(obj, registry)
        # DefaultTolerationSeconds admission.
        tolerations = list(spec.get("tolerations") or [])
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if not any(t.get("key") == key and t.get("effect") in (None, "", "NoExecute") for t in tolerations):
                tolerations.append(
                    {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": DEFAULT_TOLERATION_SECONDS}
                )
        spec["tolerations"] = tolerations
        # Priority admission.
        class_name = spec.get("priorityClassName")
        if class_name:
            pc = await registry.try_get("scheduling.k8s.io", "priorityclasses", "", class_name)
            if pc is None:
                raise errors.forbidden(
                    f'pods "{obj["metadata"].get("name", "")}" is forbidden: no PriorityClass with name {class_name} was found'
                )
            spec["priority"] = pc.get("value", 0)
            spec.setdefault("preemptionPolicy", pc.get("preemptionPolicy", "PreemptLowerPriority"))
        else:
            spec.setdefault("priority", 0)
            spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj)}

    def graceful_period(self, obj: Obj, requested: int | None) -> int:
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(requested, 0)
        current = obj["metadata"].get("deletionGracePeriodSeconds")
        if current is not None:
            return int(current)
        return int(spec.get("terminationGracePeriodSeconds", 30))


class ServiceStrategy(Strategy):
    def __init__(self, info: ResourceInfo, ips: ServiceIPAllocator, ports: NodePortAllocator):
        super().__init__(info)
        self.ips = ips
        self.ports = ports

    def prepare_for_create(self, obj: Obj, ctx: RequestContext) -> None:
        super().prepare_for_create(obj, ctx)
        obj["spec"] = prepare_service_spec(obj.get("spec"), None)

    def prepare_for_update(self, new: Obj, old: Obj, ctx: RequestContext, subresource: str = "") -> None:
        super().prepare_for_update(new, old, ctx, subresource)
        new["spec"] = prepare_service_spec(new.get("spec"), old.get("spec"))

    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {"loadBalancer": {}}

    async def before_create(self, obj: Obj, registry: Registry, ctx: RequestContext) -> None:
        self._allocate(obj, None, registry)

    async def before_update(self, new: Obj, old: Obj, registry: Registry, ctx: RequestContext) -> None:
        self._allocate(new, old, registry)

    def _allocate(self, obj: Obj, old: Obj | None, registry: Registry) -> None:
        spec = obj.setdefault("spec", {})
        name = obj["metadata"].get("name", "")
        kind_type = spec.get("type", "ClusterIP")
        old_spec = (old or {}).get("spec") or {}
        causes: list[dict[str, str]] = []
        if kind_type == "ExternalName":
            for field in ("clusterIP", "clusterIPs"):
                spec.pop(field, None)
        else:
            if old is not None and not spec.get("clusterIP") and old_spec.get("clusterIP"):
                spec["clusterIP"] = old_spec["clusterIP"]
            if old is not None and old_spec.get("clusterIP") and spec.get("clusterIP") != old_spec.get("clusterIP"):
                causes.append(errors.cause("spec.clusterIPs[0]", "field is immutable"))
            requested = spec.get("clusterIP") or ((spec.get("clusterIPs") or [None])[0])
            if old is None:
                used = registry.used_cluster_ips()
                try:
                    spec["clusterIP"] = self.ips.allocate(requested, used)
                    registry.pending_ips.add(spec["clusterIP"])
                except ValueError as exc:
                    causes.append(errors.cause("spec.clusterIPs", f'Invalid value: []string{{"{requested}"}}: {exc}'))
            if spec.get("clusterIP"):
                spec["clusterIPs"] = [spec["clusterIP"]]
                if spec["clusterIP"] != "None":
                    spec.setdefault("ipFamilies", ["IPv4"])
                    spec.setdefault("ipFamilyPolicy", "SingleStack")
                else:
                    spec.setdefault("ipFamilies", ["IPv4"])
                    spec.setdefault("ipFamilyPolicy", "SingleStack")
        wants_node_ports = kind_type in ("NodePort", "LoadBalancer")
        used_ports = registry.used_node_ports(exclude=obj["metadata"].get("uid") if old is not None else None)
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in old_spec.get("ports") or []}
        for index, port in enumerate(spec.get("ports") or []):
            if not wants_node_ports:
                port.pop("nodePort", None)
                continue
            requested_port = port.get("nodePort")
            if not requested_port and old is not None:
                requested_port = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
            try:
                port["nodePort"] = self.ports.allocate(requested_port, used_ports)
                used_ports.add(port["nodePort"])
                registry.pending_ports.add(port["nodePort"])
            except ValueError as exc:
                causes.append(errors.cause(f"spec.ports[{index}].nodePort", f"Invalid value: {requested_port}: {exc}"))
        if causes:
            self.release(obj, registry)
            raise errors.invalid("Service", "", name, causes)

    def release(self, obj: Obj, registry: Registry) -> None:
        spec = obj.get("spec") or {}
        registry.pending_ips.discard(spec.get("clusterIP") or "")
        for port in spec.get("ports") or []:
            registry.pending_ports.discard(port.get("nodePort") or 0)


class NamespaceStrategy(Strategy):
    def initial_status(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Active"}

    def prepare_for_update(self, new: Obj, old: Obj, ctx: RequestContext, subresource: str = "") -> None:
        super().prepare_for_update(new, old, ctx, subresource)
        if subresource != "finalize":  # only namespaces/finalize may change spec.finalizers
            old_finalizers = (old.get("spec") or {}).get("finalizers")
            spec = new.setdefault("spec", {})
            if old_finalizers is None:
                spec.pop("finalizers", None)
            else:
                spec["finalizers"] = old_finalizers

    def on_terminating(self, obj: Obj) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"

    def spec_finalizers(self, obj: Obj) -> list[str]:
        return list((obj.get("spec") or {}).get("finalizers") or [])


class JobStrategy(Strategy):
    def prepare_for_create(self, obj: Obj, ctx: RequestContext) -> None:
        super().prepare_for_create(obj, ctx)
        spec = obj.setdefault("spec", {})
        if not spec.get("manualSelector"):
            schema_defaults.generate_job_selector(obj, obj["metadata"]["uid"])


TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


class DaemonSetStrategy(Strategy):
    """Upstream's DaemonSet template generation, which apps/v1 shows as an annotation: 1 on create,
    +1 whenever spec.template changes (the DaemonSet controller labels pods with it)."""

    def prepare_for_create(self, obj: Obj, ctx: RequestContext) -> None:
        super().prepare_for_create(obj, ctx)
        obj["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION] = "1"

    def prepare_for_update(self, new: Obj, old: Obj, ctx: RequestContext, subresource: str = "") -> None:
        super().prepare_for_update(new, old, ctx, subresource)
        if subresource == "status":
            return
        before = ((old["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION)) or "1"
        changed = (new.get("spec") or {}).get("template") != (old.get("spec") or {}).get("template")
        value = str(int(before) + 1) if changed and before.isdigit() else before
        new["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION] = value


class PodDisruptionBudgetStrategy(Strategy):
    def initial_status(self, obj: Obj) -> None:
        # upstream's status struct has four counters without omitempty: they start as 0
        obj["status"] = {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}


class CRDStrategy(Strategy):
    def prepare_for_create(self, obj: Obj, ctx: RequestContext) -> None:
        super().prepare_for_create(obj, ctx)
        from kubelite.registry.crds import CLEANUP_FINALIZER

        finalizers = obj["metadata"].setdefault("finalizers", [])
        if CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CLEANUP_FINALIZER)

    def initial_status(self, obj: Obj) -> None:
        names = (obj.get("spec") or {}).get("names") or {}
        obj["status"] = {
            "acceptedNames": {"plural": "", "kind": ""},
            "conditions": [],
            "storedVersions": [v["name"] for v in (obj.get("spec") or {}).get("versions") or [] if v.get("storage")],
        }
        del names

    def validate(self, obj: Obj, old: Obj | None) -> list[dict[str, str]]:
        from kubelite.registry.crds import validate_crd

        return validate_crd(obj, old)


def strategy_for(info: ResourceInfo, ips: ServiceIPAllocator, ports: NodePortAllocator) -> Strategy:
    key = (info.group, info.resource)
    if key == ("", "pods"):
        return PodStrategy(info)
    if key == ("", "services"):
        return ServiceStrategy(info, ips, ports)
    if key == ("", "namespaces"):
        return NamespaceStrategy(info)
    if key == ("batch", "jobs"):
        return JobStrategy(info)
    if key == ("apps", "daemonsets"):
        return DaemonSetStrategy(info)
    if key == ("policy", "poddisruptionbudgets"):
        return PodDisruptionBudgetStrategy(info)
    if key == ("apiextensions.k8s.io", "customresourcedefinitions"):
        return CRDStrategy(info)
    if key == ("certificates.k8s.io", "certificatesigningrequests"):
        from kubelite.registry.csrstrategy import CertificateSigningRequestStrategy

        return CertificateSigningRequestStrategy(info)
    strategy = Strategy(info)
    if key == ("", "nodes"):
        strategy.resets_status_on_create = False
    if key in {("", "endpoints"), ("coordination.k8s.io", "leases"), ("", "events"), ("events.k8s.io", "events")}:
        strategy.allow_create_on_update = key == ("", "endpoints")
    return strategy
