"""ObjectMeta, label, annotation and label-selector validation shared by every kind, after
k8s.io/apimachinery/pkg/api/validation/objectmeta.go, apis/meta/v1/validation and the core
additions (standard finalizer names). Also label-selector matching, which several kinds use to
check that a selector matches its pod template.

Must not know any kind's spec; per-kind rules live in the *validation modules (kindvalidation dispatches).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubelite.api.apply import managed_fields_causes
from kubelite.schema import names
from kubelite.schema.fielderrors import (
    Cause,
    GoText,
    child,
    forbidden,
    go_string_slice,
    immutable,
    index,
    invalid,
    non_negative,
    required,
    too_long,
    too_long_max_length,
)

Obj = dict[str, Any]

STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})
_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def as_dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


# --------------------------------------------------------------------------- labels
def validate_label_name(name: str, path: str) -> list[Cause]:
    return [invalid(path, name, msg) for msg in names.is_qualified_name(name)]


def validate_labels(labels: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for k, v in as_dict(labels).items():
        causes.extend(validate_label_name(k, path))
        value = v if isinstance(v, str) else str(v)
        causes.extend(invalid(path, value, msg) for msg in names.is_valid_label_value(value))
    return causes


def validate_annotations(annotations: Any, path: str) -> list[Cause]:
    values = as_dict(annotations)
    causes = [invalid(path, k, msg) for k in values for msg in names.is_qualified_name(k.lower())]
    if not names.is_valid_annotation_size({k: str(v) for k, v in values.items()}):
        causes.append(too_long(path, names.TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


# --------------------------------------------------------------------------- selectors
def validate_label_selector(selector: Any, path: str, allow_invalid_values: bool = False) -> list[Cause]:
    if not isinstance(selector, dict):
        return []
    causes = validate_labels(selector.get("matchLabels"), child(path, "matchLabels"))
    for i, expr in enumerate(as_list(selector.get("matchExpressions"))):
        causes.extend(_validate_requirement(as_dict(expr), index(child(path, "matchExpressions"), i), allow_invalid_values))
    return causes


def _validate_requirement(expr: Obj, path: str, allow_invalid_values: bool) -> list[Cause]:
    causes: list[Cause] = []
    operator = as_str(expr.get("operator"))
    values = as_list(expr.get("values"))
    if operator in ("In", "NotIn"):
        if not values:
            causes.append(required(child(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            causes.append(
                forbidden(child(path, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
            )
    else:
        causes.append(invalid(child(path, "operator"), operator, "not a valid selector operator"))
    causes.extend(validate_label_name(as_str(expr.get("key")), child(path, "key")))
    if not allow_invalid_values:
        for j, value in enumerate(values):
            text = value if isinstance(value, str) else str(value)
            causes.extend(invalid(index(child(path, "values"), j), text, msg) for msg in names.is_valid_label_value(text))
    return causes


def selector_is_parsable(selector: Any) -> bool:
    """Whether metav1.LabelSelectorAsSelector would accept the selector."""
    if selector is None:
        return True
    if not isinstance(selector, dict):
        return False
    for k, v in as_dict(selector.get("matchLabels")).items():
        if names.is_qualified_name(k) or names.is_valid_label_value(v if isinstance(v, str) else str(v)):
            return False
    for expr in as_list(selector.get("matchExpressions")):
        expr = as_dict(expr)
        operator, values = expr.get("operator"), as_list(expr.get("values"))
        if operator not in _SELECTOR_OPERATORS or names.is_qualified_name(as_str(expr.get("key"))):
            return False
        if (operator in ("In", "NotIn")) != bool(values):
            return False
        if any(names.is_valid_label_value(v if isinstance(v, str) else str(v)) for v in values):
            return False
    return True


def selector_is_empty(selector: Any) -> bool:
    selector = as_dict(selector)
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def selector_matches(selector: Any, labels: Any) -> bool:
    """metav1.LabelSelector semantics; an empty selector matches everything."""
    selector, labels = as_dict(selector), as_dict(labels)
    for k, v in as_dict(selector.get("matchLabels")).items():
        if labels.get(k) != v:
            return False
    for expr in as_list(selector.get("matchExpressions")):
        expr = as_dict(expr)
        k, operator, values = as_str(expr.get("key")), expr.get("operator"), as_list(expr.get("values"))
        present = k in labels
        if operator == "In" and not (present and labels[k] in values):
            return False
        if operator == "NotIn" and present and labels[k] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def map_selector_matches(selector: Mapping[str, Any], labels: Any) -> bool:
    labels = as_dict(labels)
    return all(labels.get(k) == v for k, v in selector.items())


# --------------------------------------------------------------------------- object meta
def _validate_owner_references(refs: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    first_controller = ""
    for ref in as_list(refs):
        ref = as_dict(ref)
        api_version, kind = as_str(ref.get("apiVersion")), as_str(ref.get("kind"))
        parts = api_version.split("/")
        version = parts[0] if len(parts) == 1 else parts[1] if len(parts) == 2 else ""
        if not version:
            causes.append(invalid(child(path, "apiVersion"), api_version, "version must not be empty"))
        if not kind:
            causes.append(invalid(child(path, "kind"), kind, "must not be empty"))
        if not as_str(ref.get("name")):
            causes.append(invalid(child(path, "name"), as_str(ref.get("name")), "must not be empty"))
        if not as_str(ref.get("uid")):
            causes.append(invalid(child(path, "uid"), as_str(ref.get("uid")), "must not be empty"))
        if api_version == "v1" and kind == "Event":
            causes.append(invalid(path, GoText(_owner_ref_text(ref)), "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{kind}/{as_str(ref.get('name'))}"
            if first_controller:
                causes.append(
                    invalid(
                        path,
                        GoText("[]v1.OwnerReference{...}"),
                        "Only one reference can have Controller set to true. "
                        f'Found "true" in references for {first_controller} and {current}',
                    )
                )
            else:
                first_controller = current
    return causes


def _owner_ref_text(ref: Obj) -> str:
    return (
        f'v1.OwnerReference{{APIVersion:"{as_str(ref.get("apiVersion"))}", Kind:"{as_str(ref.get("kind"))}", '
        f'Name:"{as_str(ref.get("name"))}", UID:"{as_str(ref.get("uid"))}"}}'
    )


def _validate_finalizers(finalizers: Any, path: str) -> list[Cause]:
    """ValidateFinalizers: qualified names (reported at the list's path) and no orphan+foreground."""
    causes: list[Cause] = []
    values = [f if isinstance(f, str) else str(f) for f in as_list(finalizers)]
    for value in values:
        causes.extend(invalid(path, value, msg) for msg in names.is_qualified_name(value))
    if "orphan" in values and "foregroundDeletion" in values:
        causes.append(
            invalid(path, go_string_slice(values), "finalizer orphan and foregroundDeletion cannot be both set")
        )
    return causes


def validate_kube_finalizer_name(value: str, path: str) -> list[Cause]:
    """Core's validateKubeFinalizerName: an unqualified name must be a standard finalizer."""
    if "/" not in value and value not in STANDARD_FINALIZERS:
        return [invalid(path, value, "name is neither a standard finalizer name nor is it fully qualified")]
    return []


def _validate_kube_finalizers(finalizers: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, value in enumerate(as_list(finalizers)):
        causes.extend(validate_kube_finalizer_name(value if isinstance(value, str) else str(value), index(path, i)))
    return causes


def _validate_managed_fields(entries: Any, path: str) -> list[Cause]:
    return managed_fields_causes(as_list(entries), path)


def _validate_meta_common(meta: Obj, path: str, kube_finalizers: bool) -> list[Cause]:
    """The create-time checks shared by every kind (validateObjectMetaAccessorWithOptsCommon),
    then core's extra finalizer-name rule."""
    causes = non_negative(meta.get("generation"), child(path, "generation"))
    causes.extend(validate_labels(meta.get("labels"), child(path, "labels")))
    causes.extend(validate_annotations(meta.get("annotations"), child(path, "annotations")))
    causes.extend(_validate_owner_references(meta.get("ownerReferences"), child(path, "ownerReferences")))
    causes.extend(_validate_finalizers(meta.get("finalizers"), child(path, "finalizers")))
    causes.extend(_validate_managed_fields(meta.get("managedFields"), child(path, "managedFields")))
    if kube_finalizers:
        causes.extend(_validate_kube_finalizers(meta.get("finalizers"), child(path, "finalizers")))
    return causes


def validate_object_meta(
    meta: Any,
    namespaced: bool | None,
    name_fn: names.NameValidator,
    path: str = "metadata",
    kube_finalizers: bool = True,
) -> list[Cause]:
    """Create-time ObjectMeta checks. `namespaced=None` skips the namespace rule (unknown scope)."""
    meta = as_dict(meta)
    causes: list[Cause] = []
    generate_name = as_str(meta.get("generateName"))
    if generate_name:
        causes.extend(invalid(child(path, "generateName"), generate_name, msg) for msg in name_fn(generate_name, True))
    name = as_str(meta.get("name"))
    if not name:
        causes.append(required(child(path, "name"), "name or generateName is required"))
    else:
        causes.extend(invalid(child(path, "name"), name, msg) for msg in name_fn(name, False))
    namespace = as_str(meta.get("namespace"))
    if namespaced is True:
        if not namespace:
            causes.append(required(child(path, "namespace"), ""))
        else:
            causes.extend(invalid(child(path, "namespace"), namespace, msg) for msg in names.name_is_dns_label(namespace))
    elif namespaced is False and namespace:
        causes.append(forbidden(child(path, "namespace"), "not allowed on this type"))
    causes.extend(_validate_meta_common(meta, path, kube_finalizers))
    return causes


def validate_object_meta_update(new: Any, old: Any, path: str = "metadata", kube_finalizers: bool = True) -> list[Cause]:
    """ValidateObjectMetaUpdate (the resourceVersion rule is the registry's: it fills it in first)."""
    new, old = as_dict(new), as_dict(old)
    causes: list[Cause] = []
    if old.get("deletionTimestamp"):
        old_finalizers = set(as_list(old.get("finalizers")))
        extra = sorted({f for f in as_list(new.get("finalizers")) if f not in old_finalizers})
        if extra:
            causes.append(
                forbidden(
                    child(path, "finalizers"),
                    "no new finalizers can be added if the object is being deleted, found new finalizers "
                    + go_string_slice(extra),
                )
            )
    new_generation, old_generation = new.get("generation") or 0, old.get("generation") or 0
    if isinstance(new_generation, int) and isinstance(old_generation, int) and new_generation < old_generation:
        causes.append(invalid(child(path, "generation"), new_generation, "must not be decremented"))
    for field in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        if new.get(field) != old.get(field) and (new.get(field) or old.get(field)):
            value = new.get(field)
            if value is None and field in ("name", "namespace", "uid"):
                value = ""  # plain strings in Go: missing prints as ""
            causes.append(immutable(child(path, field), value))
    causes.extend(validate_labels(new.get("labels"), child(path, "labels")))
    causes.extend(validate_annotations(new.get("annotations"), child(path, "annotations")))
    causes.extend(_validate_owner_references(new.get("ownerReferences"), child(path, "ownerReferences")))
    causes.extend(_validate_managed_fields(new.get("managedFields"), child(path, "managedFields")))
    if kube_finalizers:
        causes.extend(_validate_kube_finalizers(new.get("finalizers"), child(path, "finalizers")))
    return causes


def validate_template_object_meta(meta: Any, path: str) -> list[Cause]:
    """ValidateTemplateObjectMeta: only labels and annotations may be set."""
    meta = as_dict(meta)
    causes = validate_annotations(meta.get("annotations"), child(path, "annotations"))
    causes.extend(validate_labels(meta.get("labels"), child(path, "labels")))
    for field, value in meta.items():
        if field not in ("labels", "annotations") and value not in (None, "", {}, [], 0):
            causes.append(forbidden(child(path, field), "cannot be set"))
    return causes


def validate_max_length(value: str, path: str, max_length: int) -> list[Cause]:
    return [too_long_max_length(path, max_length)] if len(value) > max_length else []
