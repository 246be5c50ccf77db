"""What binding a PersistentVolumeClaim to a PersistentVolume means, as upstream's
component-helpers storage/volume (pv_helpers.go) says it: the annotations the binder, the scheduler
and provisioners exchange, a claim's and a volume's class, whether a volume satisfies a claim
(size, access modes, volume mode, class, selector, node affinity), the best match among volumes,
the PV's claimRef to a claim, the default StorageClass, and the claims a pod's volumes name.

Shared by the PV controller, the scheduler's VolumeBinding plugin and the local-path provisioner.
Pure functions over JSON-shaped dicts: must not do I/O, keep state, or mutate their arguments.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from kubelite.api.labels import (
    DOES_NOT_EXIST,
    EXISTS,
    GREATER_THAN,
    IN,
    LESS_THAN,
    NOT_IN,
    LabelSelectorError,
    Requirement,
    selector_from_spec,
)
from kubelite.api.quantity import QuantityError, parse_quantity

Obj = dict[str, Any]

# claim annotations
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"  # on claims and volumes
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"  # claims and volumes
# volume annotations
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
# StorageClass annotations
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"
# finalizers
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"

WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"
NO_PROVISIONER = "kubernetes.io/no-provisioner"

_NODE_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST, "Gt": GREATER_THAN, "Lt": LESS_THAN}


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _meta(obj).get("annotations") or {}


def claim_class(claim: Mapping[str, Any]) -> str:
    """upstream GetPersistentVolumeClaimClass: the beta annotation wins over spec.storageClassName."""
    found = annotations_of(claim).get(BETA_STORAGE_CLASS)
    if found is not None:
        return str(found)
    return str((claim.get("spec") or {}).get("storageClassName") or "")


def claim_has_class(claim: Mapping[str, Any]) -> bool:
    """upstream PersistentVolumeClaimHasClass: a class was asked for (even "", meaning none)."""
    return BETA_STORAGE_CLASS in annotations_of(claim) or (claim.get("spec") or {}).get("storageClassName") is not None


def volume_class(volume: Mapping[str, Any]) -> str:
    found = annotations_of(volume).get(BETA_STORAGE_CLASS)
    if found is not None:
        return str(found)
    return str((volume.get("spec") or {}).get("storageClassName") or "")


def storage_amount(value: object) -> Decimal:
    """A storage quantity in bytes (0 when absent or unparseable)."""
    if value is None:
        return Decimal(0)
    try:
        return parse_quantity(str(value)).amount
    except QuantityError:
        return Decimal(0)


def requested_storage(claim: Mapping[str, Any]) -> Decimal:
    return storage_amount((((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"))


def volume_capacity(volume: Mapping[str, Any]) -> Decimal:
    return storage_amount(((volume.get("spec") or {}).get("capacity") or {}).get("storage"))


def is_bound_to_claim(volume: Mapping[str, Any], claim: Mapping[str, Any]) -> bool:
    """upstream IsVolumeBoundToClaim: the claimRef names the claim (and its uid, once set)."""
    ref = (volume.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    meta = _meta(claim)
    if ref.get("name") != meta.get("name") or (ref.get("namespace") or "") != (meta.get("namespace") or ""):
        return False
    return not ref.get("uid") or ref.get("uid") == meta.get("uid")


def access_modes_fit(claim: Mapping[str, Any], volume: Mapping[str, Any]) -> bool:
    """Every access mode the claim asks for is one the volume offers."""
    offered = set((volume.get("spec") or {}).get("accessModes") or ())
    return all(mode in offered for mode in (claim.get("spec") or {}).get("accessModes") or ())


def volume_mode_mismatch(claim: Mapping[str, Any], volume: Mapping[str, Any]) -> bool:
    wanted = (claim.get("spec") or {}).get("volumeMode") or "Filesystem"
    offered = (volume.get("spec") or {}).get("volumeMode") or "Filesystem"
    return wanted != offered


def _term_matches(term: Mapping[str, Any], labels: Mapping[str, str], node_name: str) -> bool:
    expressions = term.get("matchExpressions") or ()
    fields = term.get("matchFields") or ()
    if not expressions and not fields:
        return False
    for expression, subject in [(e, labels) for e in expressions] + [(f, {"metadata.name": node_name}) for f in fields]:
        operator = _NODE_OPERATORS.get(str(expression.get("operator") or ""))
        if operator is None:
            return False
        requirement = Requirement(str(expression.get("key") or ""), operator, expression.get("values") or ())
        if not requirement.matches(subject):
            return False
    return True


def node_affinity_matches(volume: Mapping[str, Any], labels: Mapping[str, str], node_name: str = "") -> bool:
    """upstream CheckNodeAffinity: a volume without required node affinity fits every node; else
    one of its nodeSelectorTerms must match the node."""
    required = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if not required:
        return True
    return any(_term_matches(term, labels, node_name) for term in required.get("nodeSelectorTerms") or ())


def _selector_matches(claim: Mapping[str, Any], volume: Mapping[str, Any]) -> bool:
    spec = (claim.get("spec") or {}).get("selector")
    if spec is None:
        return True
    try:
        return selector_from_spec(spec).matches(_meta(volume).get("labels") or {})
    except LabelSelectorError:
        return False


def find_matching_volume(
    claim: Mapping[str, Any],
    volumes: Iterable[Mapping[str, Any]],
    *,
    node_labels: Mapping[str, str] | None = None,
    node_name: str = "",
    excluded: Iterable[str] = (),
    delay_binding: bool = False,
) -> Obj | None:
    """upstream FindMatchingVolume: a volume pre-bound to the claim (if it fits the node), else the
    smallest Available volume of the claim's class that is big enough, offers its access modes and
    volume mode, matches its selector and (with a node: the scheduler's path) the node. Without a
    node, a delay-binding claim only takes a pre-bound volume (the scheduler picks the others)."""
    requested = requested_storage(claim)
    wanted_class = claim_class(claim)
    skip = set(excluded)
    best: Mapping[str, Any] | None = None
    best_size = Decimal(0)
    for volume in volumes:
        meta = _meta(volume)
        if meta.get("name") in skip:
            continue
        bound_here = is_bound_to_claim(volume, claim)
        if (volume.get("spec") or {}).get("claimRef") and not bound_here:
            continue
        size = volume_capacity(volume)
        if size < requested or volume_mode_mismatch(claim, volume) or meta.get("deletionTimestamp"):
            continue
        fits_node = node_labels is None or node_affinity_matches(volume, node_labels, node_name)
        if bound_here:
            return dict(volume) if fits_node else None
        if node_labels is None and delay_binding:
            continue
        if (volume.get("status") or {}).get("phase") != "Available" or not _selector_matches(claim, volume):
            continue
        if volume_class(volume) != wanted_class or not fits_node or not access_modes_fit(claim, volume):
            continue
        if best is None or size < best_size:
            best, best_size = volume, size
    return dict(best) if best is not None else None


def claim_reference(claim: Mapping[str, Any]) -> Obj:
    """The PV's claimRef to `claim` (upstream reference.GetReference)."""
    meta = _meta(claim)
    return {
        "kind": "PersistentVolumeClaim",
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "apiVersion": "v1",
        "resourceVersion": meta.get("resourceVersion", ""),
    }


def bind_volume_to_claim(volume: Mapping[str, Any], claim: Mapping[str, Any]) -> tuple[Obj, bool]:
    """upstream GetBindVolumeToClaim: a copy of the volume whose claimRef is the claim, with
    bound-by-controller when it was not pre-bound to it; and whether anything changed."""
    clone: Obj = copy.deepcopy(dict(volume))
    dirty = False
    set_by_controller = not is_bound_to_claim(volume, claim)
    ref = (volume.get("spec") or {}).get("claimRef") or {}
    meta = _meta(claim)
    if (
        not ref
        or ref.get("name") != meta.get("name")
        or (ref.get("namespace") or "") != (meta.get("namespace") or "")
        or ref.get("uid") != meta.get("uid")
    ):
        clone.setdefault("spec", {})["claimRef"] = claim_reference(claim)
        dirty = True
    notes = clone.setdefault("metadata", {}).setdefault("annotations", {})
    if set_by_controller and BOUND_BY_CONTROLLER not in notes:
        notes[BOUND_BY_CONTROLLER] = "yes"
        dirty = True
    return clone, dirty


def is_default_class(storage_class: Mapping[str, Any]) -> bool:
    notes = annotations_of(storage_class)
    return notes.get(DEFAULT_CLASS) == "true" or notes.get(BETA_DEFAULT_CLASS) == "true"


def default_class(classes: Iterable[Mapping[str, Any]]) -> Obj | None:
    """upstream GetDefaultClass: of the classes marked default, the newest (then by name)."""
    marked = [c for c in classes if is_default_class(c)]
    if not marked:
        return None
    marked.sort(key=lambda c: str(_meta(c).get("name") or ""))
    marked.sort(key=lambda c: str(_meta(c).get("creationTimestamp") or ""), reverse=True)
    return dict(marked[0])


def is_delay_binding(claim: Mapping[str, Any], storage_class: Mapping[str, Any] | None) -> bool:
    """upstream IsDelayBindingMode, given the claim's class (None when it has none or it is missing)."""
    return storage_class is not None and storage_class.get("volumeBindingMode") == WAIT_FOR_FIRST_CONSUMER


def is_fully_bound(claim: Mapping[str, Any]) -> bool:
    """The binder finished with the claim: it names its volume and carries bind-completed."""
    return bool((claim.get("spec") or {}).get("volumeName")) and BIND_COMPLETED in annotations_of(claim)


def pod_claim_names(pod: Mapping[str, Any]) -> list[str]:
    """Names of the claims the pod's persistentVolumeClaim volumes use (in volume order)."""
    names = []
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        source = volume.get("persistentVolumeClaim")
        if source is not None and source.get("claimName"):
            names.append(str(source["claimName"]))
    return names
