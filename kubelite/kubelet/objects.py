"""The API objects a kubelet reads for its pods' containers and volumes — ConfigMaps, Secrets,
Services, PersistentVolumeClaims and PersistentVolumes — and the service account tokens it asks
for through the TokenRequest API, all through the kubelet's Client.

Must not cache or decide anything: envresolve.py and volumes.py say what is needed and what a
missing object means.
"""

from __future__ import annotations

import calendar
import time
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.client import Client

Obj = dict[str, Any]


class KubeletObjects:
    def __init__(self, client: Client, *, field_manager: str = "kubelet"):
        self._config_maps = client.resource("", "v1", "configmaps")
        self._secrets = client.resource("", "v1", "secrets")
        self._services = client.resource("", "v1", "services")
        self._claims = client.resource("", "v1", "persistentvolumeclaims")
        self._volumes = client.resource("", "v1", "persistentvolumes")
        self._accounts = client.resource("", "v1", "serviceaccounts")
        self.field_manager = field_manager

    @staticmethod
    async def _get(resource: Any, name: str) -> Obj | None:
        try:
            found: Obj = await resource.get(name)
            return found
        except StatusError as exc:
            if exc.code == 404:
                return None
            raise

    async def config_map(self, namespace: str, name: str) -> Obj | None:
        return await self._get(self._config_maps.namespace(namespace), name)

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return await self._get(self._secrets.namespace(namespace), name)

    async def services(self, namespace: str) -> list[Obj]:
        listed = await self._services.namespace(namespace).list()
        return list(listed.get("items") or [])

    async def claim(self, namespace: str, name: str) -> Obj | None:
        return await self._get(self._claims.namespace(namespace), name)

    async def volume(self, name: str) -> Obj | None:
        return await self._get(self._volumes, name)

    async def token(self, pod: Obj, audiences: list[str], expiration_seconds: int) -> tuple[str, float]:
        """A token for the pod's service account, bound to the pod: (token, expiry as epoch)."""
        meta = pod["metadata"]
        spec: Obj = {
            "expirationSeconds": expiration_seconds,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]},
        }
        if audiences:
            spec["audiences"] = audiences
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        account = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
        issued = await self._accounts.namespace(str(meta.get("namespace") or "")).create_subresource(
            account, "token", body, field_manager=self.field_manager
        )
        status = issued.get("status") or {}
        expires = time.time() + expiration_seconds
        stamp = status.get("expirationTimestamp")
        if isinstance(stamp, str):
            expires = float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))
        return str(status.get("token") or ""), expires
