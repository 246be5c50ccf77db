"""Which Ingresses this controller serves, from the IngressClasses naming its controller:
an Ingress whose spec.ingressClassName (or, without one, the legacy `kubernetes.io/ingress.class`
annotation) names one of our classes, or that names no class at all while one of our classes is
marked default (`ingressclass.kubernetes.io/is-default-class: "true"`). Also makes sure the
default class `nginx` exists.

Must not decide anything about routing, nor write to the API except creating the missing class.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.client.client import Client

Obj = dict[str, Any]

CONTROLLER_NAME = "kubelite.io/ingress-nginx"
DEFAULT_CLASS_NAME = "nginx"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


@dataclass(frozen=True, slots=True)
class ClassChoice:
    """Our IngressClass names, and whether one of them is the cluster's default."""

    names: frozenset[str]
    default: bool

    def claims(self, ingress: Obj) -> bool:
        class_name = (ingress.get("spec") or {}).get("ingressClassName")
        if class_name:
            return class_name in self.names
        annotation = ((ingress.get("metadata") or {}).get("annotations") or {}).get(LEGACY_CLASS_ANNOTATION)
        if annotation:
            return annotation in self.names
        return self.default


def choose_classes(classes: Iterable[Obj], controller: str = CONTROLLER_NAME) -> ClassChoice:
    names: set[str] = set()
    default = False
    for ingress_class in classes:
        if (ingress_class.get("spec") or {}).get("controller") != controller:
            continue
        meta = ingress_class.get("metadata") or {}
        names.add(str(meta.get("name") or ""))
        if (meta.get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true":
            default = True
    return ClassChoice(frozenset(names), default)


def default_ingress_class(name: str = DEFAULT_CLASS_NAME, controller: str = CONTROLLER_NAME) -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": name, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
        "spec": {"controller": controller},
    }


async def ensure_default_ingress_class(
    client: Client, name: str = DEFAULT_CLASS_NAME, controller: str = CONTROLLER_NAME
) -> Obj:
    """Create the default IngressClass if no class of that name exists; an existing one (however
    an administrator changed it) is returned untouched."""
    classes = client.resource("networking.k8s.io", "v1", "ingressclasses")
    try:
        return await classes.get(name)
    except StatusError as err:
        if err.code != 404:
            raise
    try:
        return await classes.create(default_ingress_class(name, controller), field_manager="ingress-nginx")
    except StatusError as err:
        if err.code != 409:
            raise
        return await classes.get(name)
