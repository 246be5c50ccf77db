"""What every active namespace gets, as upstream's serviceaccounts controller and root CA
publisher: a `default` ServiceAccount, and a `kube-root-ca.crt` ConfigMap holding the cluster CA
bundle (both recreated when deleted; the ConfigMap's data is also put back when changed).
Work keys are namespace names.

Must not issue tokens or create token Secrets (tokens are requested per pod), and must not
write into terminating namespaces.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers.base import Controller

Obj = dict[str, Any]

DEFAULT_SERVICE_ACCOUNT = "default"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such "
    "as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions "
    "of Kubernetes clusters."
)


def _terminating(namespace: Obj) -> bool:
    return bool((namespace.get("metadata") or {}).get("deletionTimestamp")) or (
        (namespace.get("status") or {}).get("phase") == "Terminating"
    )


def _namespace_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def _name_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _ignore_exists_or_terminating(err: StatusError) -> None:
    # 409: someone made it first; 403: the namespace started terminating; 404: the namespace is gone
    if err.code not in (403, 404, 409):
        raise err


class _PerNamespaceController(Controller):
    """Watches namespaces (work key: the namespace name) and one object named `object_name` in
    each of them, re-queueing the namespace when that object changes or goes."""

    object_name = ""

    def __init__(self, client: Client, resource: str, *, name: str, workers: int, clock: Clock | None):
        super().__init__(client, name=name, workers=workers, clock=clock)
        self.namespace_informer = self.informer("", "v1", "namespaces")
        self.namespace_informer.add_handler(self._namespace_changed, lambda _old, new: self._namespace_changed(new))
        self.object_informer = self.informer("", "v1", resource)
        self.object_informer.add_handler(
            on_update=lambda _old, new: self._object_changed(new), on_delete=self._object_changed
        )
        self.objects = self.client.resource("", "v1", resource)

    def _namespace_changed(self, namespace: Obj) -> None:
        if not _terminating(namespace):
            self.queue.add(_name_of(namespace))

    def _object_changed(self, obj: Obj) -> None:
        if _name_of(obj) == self.object_name:
            self.queue.add(_namespace_of(obj))

    def active_namespace(self, name: str) -> bool:
        namespace = self.namespace_informer.cache.get(name)
        return namespace is not None and not _terminating(namespace)


class ServiceAccountsController(_PerNamespaceController):
    object_name = DEFAULT_SERVICE_ACCOUNT

    def __init__(self, client: Client, *, workers: int = 1, clock: Clock | None = None):
        super().__init__(client, "serviceaccounts", name="serviceaccount-controller", workers=workers, clock=clock)

    async def sync(self, key: str) -> None:
        if not self.active_namespace(key) or self.object_informer.cache.get_by_name(key, self.object_name):
            return
        account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": self.object_name}}
        try:
            await self.objects.namespace(key).create(account, field_manager="kube-controller-manager")
        except StatusError as err:
            _ignore_exists_or_terminating(err)


class RootCACertPublisher(_PerNamespaceController):
    object_name = ROOT_CA_CONFIGMAP

    def __init__(self, client: Client, ca_pem: str, *, workers: int = 1, clock: Clock | None = None):
        """`ca_pem`: the PEM bundle that verifies the API server's serving certificate."""
        super().__init__(client, "configmaps", name="root-ca-cert-publisher", workers=workers, clock=clock)
        self.data = {"ca.crt": ca_pem}

    async def sync(self, key: str) -> None:
        if not self.active_namespace(key):
            return
        configmaps = self.objects.namespace(key)
        current = self.object_informer.cache.get_by_name(key, self.object_name)
        if current is None:
            wanted = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": self.object_name, "annotations": {DESCRIPTION_ANNOTATION: ROOT_CA_DESCRIPTION}},
                "data": dict(self.data),
            }
            try:
                await configmaps.create(wanted, field_manager="kube-controller-manager")
            except StatusError as err:
                _ignore_exists_or_terminating(err)
            return
        annotations = (current.get("metadata") or {}).get("annotations") or {}
        if current.get("data") == self.data and annotations.get(DESCRIPTION_ANNOTATION):
            return
        updated = {
            **current,
            "metadata": {**current["metadata"], "annotations": {**annotations, DESCRIPTION_ANNOTATION: ROOT_CA_DESCRIPTION}},
            "data": dict(self.data),
        }
        updated.pop("binaryData", None)
        try:
            await configmaps.update(updated, field_manager="kube-controller-manager")
        except StatusError as err:
            _ignore_exists_or_terminating(err)
