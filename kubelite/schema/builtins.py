"""The built-in resources of a Kubernetes 1.33 API server, as discovery reports them.

Every fact here (plural, singular, kind, scope, short names, categories, verbs, subresources and the
kinds they speak) mirrors what kube-apiserver 1.33 serves from `/api/v1` and `/apis/<group>/<version>`.
Groups come in upstream's discovery order (core, then apps, events.k8s.io, authentication.k8s.io, ...);
within a group-version, resources are alphabetical as upstream lists them, and a group's preferred
version is registered first.

Must not hold schemas, defaults or behaviour; it only lists resources (schemas live in the
kubernetes-validate definitions named by `ResourceInfo.definition`).
"""

from __future__ import annotations

from functools import partial

from kubelite.schema.catalogue import STANDARD_VERBS, Catalogue, ResourceInfo, Subresource

_GET_PATCH_UPDATE = ("get", "patch", "update")
_CREATE = ("create",)
_CONNECT = ("create", "get")
_PROXY = ("create", "delete", "get", "patch", "update")
_NO_DELETECOLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")

# Go package (under io.k8s.api) of each built-in group, for the schema definition names.
_DEFINITION_PACKAGES = {
    "": "io.k8s.api.core",
    "apps": "io.k8s.api.apps",
    "events.k8s.io": "io.k8s.api.events",
    "authentication.k8s.io": "io.k8s.api.authentication",
    "authorization.k8s.io": "io.k8s.api.authorization",
    "autoscaling": "io.k8s.api.autoscaling",
    "batch": "io.k8s.api.batch",
    "certificates.k8s.io": "io.k8s.api.certificates",
    "networking.k8s.io": "io.k8s.api.networking",
    "policy": "io.k8s.api.policy",
    "rbac.authorization.k8s.io": "io.k8s.api.rbac",
    "storage.k8s.io": "io.k8s.api.storage",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    "scheduling.k8s.io": "io.k8s.api.scheduling",
    "coordination.k8s.io": "io.k8s.api.coordination",
    "discovery.k8s.io": "io.k8s.api.discovery",
}


def _resource(
    group: str,
    version: str,
    resource: str,
    kind: str,
    *,
    namespaced: bool,
    singular: str | None = None,
    short_names: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    verbs: tuple[str, ...] = STANDARD_VERBS,
    subresources: tuple[Subresource, ...] = (),
    storage_group: str | None = None,
    storage_resource: str = "",
) -> ResourceInfo:
    return ResourceInfo(
        group=group,
        version=version,
        resource=resource,
        kind=kind,
        singular=singular if singular is not None else kind.lower(),
        namespaced=namespaced,
        short_names=short_names,
        categories=categories,
        verbs=verbs,
        subresources=subresources,
        definition=f"{_DEFINITION_PACKAGES[group]}.{version}.{kind}",
        storage_group=storage_group,
        storage_resource=storage_resource,
    )


def _status(group: str, version: str, kind: str) -> Subresource:
    return Subresource("status", kind, group, version, _GET_PATCH_UPDATE)


_SCALE = Subresource("scale", "Scale", "autoscaling", "v1", _GET_PATCH_UPDATE)


def _core() -> list[ResourceInfo]:
    core = partial(_resource, "", "v1")

    def sub(
        name: str, kind: str, verbs: tuple[str, ...], group: str = "", version: str = "v1"
    ) -> Subresource:
        return Subresource(name, kind, group, version, verbs)

    return [
        core("bindings", "Binding", namespaced=True, verbs=_CREATE),
        core("configmaps", "ConfigMap", namespaced=True, short_names=("cm",)),
        core("endpoints", "Endpoints", namespaced=True, singular="endpoints", short_names=("ep",)),
        core("events", "Event", namespaced=True, short_names=("ev",)),
        core("limitranges", "LimitRange", namespaced=True, short_names=("limits",)),
        core(
            "namespaces",
            "Namespace",
            namespaced=False,
            short_names=("ns",),
            verbs=_NO_DELETECOLLECTION,
            subresources=(sub("finalize", "Namespace", ("update",)), _status("", "v1", "Namespace")),
        ),
        core(
            "nodes",
            "Node",
            namespaced=False,
            short_names=("no",),
            subresources=(sub("proxy", "NodeProxyOptions", _PROXY), _status("", "v1", "Node")),
        ),
        core(
            "persistentvolumeclaims",
            "PersistentVolumeClaim",
            namespaced=True,
            short_names=("pvc",),
            subresources=(_status("", "v1", "PersistentVolumeClaim"),),
        ),
        core(
            "persistentvolumes",
            "PersistentVolume",
            namespaced=False,
            short_names=("pv",),
            subresources=(_status("", "v1", "PersistentVolume"),),
        ),
        core(
            "pods",
            "Pod",
            namespaced=True,
            short_names=("po",),
            categories=("all",),
            subresources=(
                sub("attach", "PodAttachOptions", _CONNECT),
                sub("binding", "Binding", _CREATE),
                sub("ephemeralcontainers", "Pod", _GET_PATCH_UPDATE),
                sub("eviction", "Eviction", _CREATE, group="policy"),
                sub("exec", "PodExecOptions", _CONNECT),
                sub("log", "Pod", ("get",)),
                sub("portforward", "PodPortForwardOptions", _CONNECT),
                sub("proxy", "PodProxyOptions", _PROXY),
                sub("resize", "Pod", _GET_PATCH_UPDATE),
                _status("", "v1", "Pod"),
            ),
        ),
        core("podtemplates", "PodTemplate", namespaced=True),
        core(
            "replicationcontrollers",
            "ReplicationController",
            namespaced=True,
            short_names=("rc",),
            categories=("all",),
            subresources=(_SCALE, _status("", "v1", "ReplicationController")),
        ),
        core(
            "resourcequotas",
            "ResourceQuota",
            namespaced=True,
            short_names=("quota",),
            subresources=(_status("", "v1", "ResourceQuota"),),
        ),
        core("secrets", "Secret", namespaced=True),
        core(
            "serviceaccounts",
            "ServiceAccount",
            namespaced=True,
            short_names=("sa",),
            subresources=(sub("token", "TokenRequest", _CREATE, group="authentication.k8s.io"),),
        ),
        core(
            "services",
            "Service",
            namespaced=True,
            short_names=("svc",),
            categories=("all",),
            subresources=(sub("proxy", "ServiceProxyOptions", _PROXY), _status("", "v1", "Service")),
        ),
    ]


def _apps() -> list[ResourceInfo]:
    def apps(resource: str, kind: str, short: tuple[str, ...], scale: bool) -> ResourceInfo:
        subs = (_SCALE, _status("apps", "v1", kind)) if scale else (_status("apps", "v1", kind),)
        return _resource(
            "apps",
            "v1",
            resource,
            kind,
            namespaced=True,
            short_names=short,
            categories=("all",),
            subresources=subs,
        )

    return [
        _resource("apps", "v1", "controllerrevisions", "ControllerRevision", namespaced=True),
        apps("daemonsets", "DaemonSet", ("ds",), scale=False),
        apps("deployments", "Deployment", ("deploy",), scale=True),
        apps("replicasets", "ReplicaSet", ("rs",), scale=True),
        apps("statefulsets", "StatefulSet", ("sts",), scale=True),
    ]


def _events() -> list[ResourceInfo]:
    # events.k8s.io/v1 events are the core events under another shape: one storage, two versions.
    return [
        _resource(
            "events.k8s.io",
            "v1",
            "events",
            "Event",
            namespaced=True,
            short_names=("ev",),
            storage_group="",
            storage_resource="events",
        )
    ]


def _authentication() -> list[ResourceInfo]:
    group = "authentication.k8s.io"
    return [
        _resource(group, "v1", "selfsubjectreviews", "SelfSubjectReview", namespaced=False, verbs=_CREATE),
        _resource(group, "v1", "tokenreviews", "TokenReview", namespaced=False, verbs=_CREATE),
    ]


def _authorization() -> list[ResourceInfo]:
    group = "authorization.k8s.io"
    return [
        _resource(
            group,
            "v1",
            "localsubjectaccessreviews",
            "LocalSubjectAccessReview",
            namespaced=True,
            verbs=_CREATE,
        ),
        _resource(
            group,
            "v1",
            "selfsubjectaccessreviews",
            "SelfSubjectAccessReview",
            namespaced=False,
            verbs=_CREATE,
        ),
        _resource(
            group, "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", namespaced=False, verbs=_CREATE
        ),
        _resource(
            group, "v1", "subjectaccessreviews", "SubjectAccessReview", namespaced=False, verbs=_CREATE
        ),
    ]


def _autoscaling() -> list[ResourceInfo]:
    # v2 first: it is the preferred version. Both versions share /registry/autoscaling/horizontalpodautoscalers/.
    return [
        _resource(
            "autoscaling",
            version,
            "horizontalpodautoscalers",
            "HorizontalPodAutoscaler",
            namespaced=True,
            short_names=("hpa",),
            categories=("all",),
            subresources=(_status("autoscaling", version, "HorizontalPodAutoscaler"),),
        )
        for version in ("v2", "v1")
    ]


def _batch() -> list[ResourceInfo]:
    return [
        _resource(
            "batch",
            "v1",
            "cronjobs",
            "CronJob",
            namespaced=True,
            short_names=("cj",),
            categories=("all",),
            subresources=(_status("batch", "v1", "CronJob"),),
        ),
        _resource(
            "batch",
            "v1",
            "jobs",
            "Job",
            namespaced=True,
            categories=("all",),
            subresources=(_status("batch", "v1", "Job"),),
        ),
    ]


def _certificates() -> list[ResourceInfo]:
    group = "certificates.k8s.io"
    kind = "CertificateSigningRequest"
    return [
        _resource(
            group,
            "v1",
            "certificatesigningrequests",
            kind,
            namespaced=False,
            short_names=("csr",),
            subresources=(Subresource("approval", kind, group, "v1", _GET_PATCH_UPDATE), _status(group, "v1", kind)),
        )
    ]


def _networking() -> list[ResourceInfo]:
    group = "networking.k8s.io"
    return [
        _resource(group, "v1", "ingressclasses", "IngressClass", namespaced=False),
        _resource(
            group,
            "v1",
            "ingresses",
            "Ingress",
            namespaced=True,
            short_names=("ing",),
            subresources=(_status(group, "v1", "Ingress"),),
        ),
        _resource(group, "v1", "networkpolicies", "NetworkPolicy", namespaced=True, short_names=("netpol",)),
    ]


def _policy() -> list[ResourceInfo]:
    return [
        _resource(
            "policy",
            "v1",
            "poddisruptionbudgets",
            "PodDisruptionBudget",
            namespaced=True,
            short_names=("pdb",),
            subresources=(_status("policy", "v1", "PodDisruptionBudget"),),
        )
    ]


def _rbac() -> list[ResourceInfo]:
    group = "rbac.authorization.k8s.io"
    return [
        _resource(group, "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
        _resource(group, "v1", "clusterroles", "ClusterRole", namespaced=False),
        _resource(group, "v1", "rolebindings", "RoleBinding", namespaced=True),
        _resource(group, "v1", "roles", "Role", namespaced=True),
    ]


def _storage() -> list[ResourceInfo]:
    return [
        _resource(
            "storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False, short_names=("sc",)
        )
    ]


def _apiextensions() -> list[ResourceInfo]:
    group = "apiextensions.k8s.io"
    return [
        _resource(
            group,
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            namespaced=False,
            short_names=("crd", "crds"),
            categories=("api-extensions",),
            subresources=(_status(group, "v1", "CustomResourceDefinition"),),
        )
    ]


def _scheduling() -> list[ResourceInfo]:
    return [
        _resource(
            "scheduling.k8s.io",
            "v1",
            "priorityclasses",
            "PriorityClass",
            namespaced=False,
            short_names=("pc",),
        )
    ]


def _coordination() -> list[ResourceInfo]:
    return [_resource("coordination.k8s.io", "v1", "leases", "Lease", namespaced=True)]


def _discovery() -> list[ResourceInfo]:
    return [_resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", namespaced=True)]


def builtin_resources() -> list[ResourceInfo]:
    """Every built-in resource, groups in upstream's discovery order, preferred versions first."""
    return [
        *_core(),
        *_apps(),
        *_events(),
        *_authentication(),
        *_authorization(),
        *_autoscaling(),
        *_batch(),
        *_certificates(),
        *_networking(),
        *_policy(),
        *_rbac(),
        *_storage(),
        *_apiextensions(),
        *_scheduling(),
        *_coordination(),
        *_discovery(),
    ]


def default_catalogue() -> Catalogue:
    """A fresh catalogue of the built-ins (each call a new one: CRDs are added to it at runtime)."""
    return Catalogue(builtin_resources())
