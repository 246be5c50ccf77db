"""A container's environment as upstream's kubelet builds it (makeEnvironmentVariables): service
link variables, then envFrom (ConfigMaps and Secrets, with prefixes; invalid names skipped), then
env (plain values with `$(VAR)` expansion, or valueFrom configMapKeyRef / secretKeyRef / fieldRef /
resourceFieldRef), and finally command and args expanded against the result. A missing object or
key that is not optional raises EnvError with upstream's message (the container then waits with
CreateContainerConfigError).

Must not cache objects or write anything: the caller passes what reads the API (ObjectSource).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from kubelite.api.quantity import QuantityError, parse_quantity

Obj = dict[str, Any]

ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
MASTER_SERVICE = ("default", "kubernetes")


class EnvError(Exception):
    """The environment cannot be built; `message` is what users see (CreateContainerConfigError)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ObjectSource(Protocol):
    async def config_map(self, namespace: str, name: str) -> Obj | None: ...

    async def secret(self, namespace: str, name: str) -> Obj | None: ...

    async def services(self, namespace: str) -> list[Obj]: ...


# ---------------------------------------------------------------------- $(VAR) expansion
def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Upstream's expansion: `$(NAME)` is replaced when lookup knows NAME (kept verbatim when not),
    `$$` is a literal `$`, any other `$` stays as it is."""
    if "$" not in text:
        return text
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    length = len(text)
    while cursor < length:
        if text[cursor] == "$" and cursor + 1 < length:
            out.append(text[checkpoint:cursor])
            following = text[cursor + 1]
            if following == "$":
                out.append("$")
                advance = 1
            elif following == "(":
                close = text.find(")", cursor + 2)
                if close < 0:
                    out.append("$(")
                    advance = 1
                else:
                    name = text[cursor + 2 : close]
                    value = lookup(name)
                    out.append(value if value is not None else f"$({name})")
                    advance = close - cursor
            else:
                out.append("$" + following)
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


# ---------------------------------------------------------------------- field and resource refs
def _format_map(values: Mapping[str, str]) -> str:
    """upstream fieldpath.FormatMap: sorted `key="value"` lines (Go-quoted values)."""
    return "\n".join(f"{key}={_go_quote(values[key])}" for key in sorted(values))


def _go_quote(value: str) -> str:
    out = ['"']
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")


def field_value(pod: Obj, path: str, *, host_ip: str = "", pod_ip: str = "") -> str:
    """The value of a downward API fieldRef (env or volume)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    match = _SUBSCRIPT.match(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    simple: dict[str, Callable[[], str]] = {
        "metadata.name": lambda: str(meta.get("name", "")),
        "metadata.namespace": lambda: str(meta.get("namespace", "")),
        "metadata.uid": lambda: str(meta.get("uid", "")),
        "metadata.labels": lambda: _format_map(meta.get("labels") or {}),
        "metadata.annotations": lambda: _format_map(meta.get("annotations") or {}),
        "spec.nodeName": lambda: str(spec.get("nodeName", "")),
        "spec.serviceAccountName": lambda: str(spec.get("serviceAccountName", "")),
        "status.hostIP": lambda: host_ip or str(status.get("hostIP", "")),
        "status.hostIPs": lambda: host_ip or ",".join(str(i.get("ip", "")) for i in status.get("hostIPs") or []),
        "status.podIP": lambda: pod_ip or str(status.get("podIP", "")),
        "status.podIPs": lambda: pod_ip or ",".join(str(i.get("ip", "")) for i in status.get("podIPs") or []),
    }
    getter = simple.get(path)
    if getter is None:
        raise EnvError(f"unsupported fieldPath: {path}")
    return getter()


def resource_value(pod: Obj, container_name: str, ref: Obj, allocatable: Mapping[str, str]) -> str:
    """A resourceFieldRef's value: the container's limit (the node's allocatable when unset) or
    request, divided by the divisor and rounded up, as upstream."""
    spec = pod.get("spec") or {}
    candidates = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    container = next((c for c in candidates if c.get("name") == container_name), None)
    if container is None:
        raise EnvError(f"container {container_name} not found")
    resource = str(ref.get("resource") or "")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage") and not name.startswith("hugepages-"):
        raise EnvError(f"unsupported container resource : {resource}")
    values = (container.get("resources") or {}).get(kind) or {}
    raw = values.get(name)
    if raw is None and kind == "limits":
        raw = allocatable.get(name)
    try:
        amount = parse_quantity(raw).amount if raw is not None else Decimal(0)
        divisor = parse_quantity(ref.get("divisor") or "1").amount
    except QuantityError as exc:
        raise EnvError(str(exc)) from None
    if divisor == 0:
        divisor = Decimal(1)
    if name == "cpu":
        milli = math.ceil(amount * 1000)
        divisor_milli = max(math.ceil(divisor * 1000), 1)
        return str(math.ceil(milli / divisor_milli))
    return str(math.ceil(math.ceil(amount) / max(math.ceil(divisor), 1)))


# ---------------------------------------------------------------------- services
def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_env(services: list[Obj]) -> dict[str, str]:
    """Docker-link style variables for services with a cluster IP (upstream envvars.FromServices)."""
    env: dict[str, str] = {}
    for service in services:
        spec = service.get("spec") or {}
        ip = str(spec.get("clusterIP") or "")
        ports = spec.get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        prefix = _env_name(str(service["metadata"]["name"]))
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port"))
        for port in ports:
            if port.get("name"):
                env[f"{prefix}_SERVICE_PORT_{_env_name(str(port['name']))}"] = str(port.get("port"))
        for index, port in enumerate(ports):
            protocol = str(port.get("protocol") or "TCP")
            url = f"{protocol.lower()}://{ip}:{port.get('port')}"
            if index == 0:
                env[f"{prefix}_PORT"] = url
            port_prefix = f"{prefix}_PORT_{port.get('port')}_{protocol.upper()}"
            env[port_prefix] = url
            env[f"{port_prefix}_PROTO"] = protocol.lower()
            env[f"{port_prefix}_PORT"] = str(port.get("port"))
            env[f"{port_prefix}_ADDR"] = ip
    return env


async def _service_env(pod: Obj, source: ObjectSource) -> dict[str, str]:
    """The namespace's services when enableServiceLinks (default true), and always the API
    server's own `kubernetes` service of the default namespace."""
    namespace = str(pod["metadata"].get("namespace") or "")
    links = (pod.get("spec") or {}).get("enableServiceLinks", True) is not False
    chosen = list(await source.services(namespace)) if links else []
    if not (links and namespace == MASTER_SERVICE[0]):
        chosen.extend(s for s in await source.services(MASTER_SERVICE[0]) if s["metadata"].get("name") == MASTER_SERVICE[1])
    return service_env(chosen)


# ---------------------------------------------------------------------- the environment
def _decoded(secret: Obj) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value).decode(errors="replace")
        except ValueError:
            out[key] = ""
    for key, value in (secret.get("stringData") or {}).items():
        out[key] = str(value)
    return out


async def _key_ref(kind: str, ref: Obj, namespace: str, source: ObjectSource) -> str | None:
    name = str(ref.get("name") or "")
    key = str(ref.get("key") or "")
    optional = bool(ref.get("optional"))
    obj = await (source.config_map(namespace, name) if kind == "ConfigMap" else source.secret(namespace, name))
    if obj is None:
        if optional:
            return None
        raise EnvError(f'{kind.lower()} "{name}" not found')
    values = (obj.get("data") or {}) if kind == "ConfigMap" else _decoded(obj)
    if key not in values:
        if optional:
            return None
        raise EnvError(f"couldn't find key {key} in {kind} {namespace}/{name}")
    return str(values[key])


async def build_env(
    pod: Obj,
    container: Obj,
    source: ObjectSource,
    *,
    host_ip: str = "",
    pod_ip: str = "",
    allocatable: Mapping[str, str] | None = None,
) -> list[Obj]:
    """The container's env as `[{name, value}]` (the runtime's input)."""
    namespace = str(pod["metadata"].get("namespace") or "")
    services = await _service_env(pod, source)
    env: dict[str, str] = {}
    for entry in container.get("envFrom") or []:
        prefix = str(entry.get("prefix") or "")
        if "configMapRef" in entry:
            ref = entry["configMapRef"] or {}
            obj = await source.config_map(namespace, str(ref.get("name") or ""))
            kind = "configmap"
        else:
            ref = entry.get("secretRef") or {}
            obj = await source.secret(namespace, str(ref.get("name") or ""))
            kind = "secret"
        if obj is None:
            if ref.get("optional"):
                continue
            raise EnvError(f'{kind} "{ref.get("name", "")}" not found')
        values = (obj.get("data") or {}) if kind == "configmap" else _decoded(obj)
        for key, value in values.items():
            name = prefix + key
            if ENV_NAME.match(name):
                env[name] = str(value)

    def lookup(name: str) -> str | None:
        return env[name] if name in env else services.get(name)

    for item in container.get("env") or []:
        name = str(item.get("name") or "")
        value = str(item.get("value") or "")
        source_ref = item.get("valueFrom") or {}
        if value:
            value = expand(value, lookup)
        elif source_ref:
            if "fieldRef" in source_ref:
                value = field_value(pod, str((source_ref["fieldRef"] or {}).get("fieldPath") or ""), host_ip=host_ip, pod_ip=pod_ip)
            elif "resourceFieldRef" in source_ref:
                ref = source_ref["resourceFieldRef"] or {}
                value = resource_value(pod, str(ref.get("containerName") or container["name"]), ref, allocatable or {})
            elif "configMapKeyRef" in source_ref or "secretKeyRef" in source_ref:
                kind = "ConfigMap" if "configMapKeyRef" in source_ref else "Secret"
                found = await _key_ref(kind, source_ref.get("configMapKeyRef") or source_ref.get("secretKeyRef") or {}, namespace, source)
                if found is None:
                    continue
                value = found
        env[name] = value
    for name, value in services.items():
        env.setdefault(name, value)
    return [{"name": name, "value": value} for name, value in env.items()]


def expand_command(container: Obj, env: list[Obj]) -> Obj:
    """A copy of `container` with resolved env and `$(VAR)` expanded in command and args."""
    values = {str(e["name"]): str(e["value"]) for e in env}
    resolved = dict(container)
    resolved["env"] = env
    resolved.pop("envFrom", None)
    for field in ("command", "args"):
        if container.get(field):
            resolved[field] = [expand(str(part), values.get) for part in container[field]]
    return resolved
