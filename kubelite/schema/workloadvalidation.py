"""Validation of the workload kinds that carry a pod template, after upstream's
pkg/apis/apps/validation, pkg/apis/batch/validation and the ReplicationController / PodTemplate
parts of pkg/apis/core/validation: selectors against template labels, replica counts, update
strategies, restart policies, Job and CronJob rules, and what may change on update.

Each public function takes the new object and the old one (None on create) and returns Status
causes in upstream's order.

Must not validate pod specs or object metadata itself (podvalidation and metavalidation do), nor
generate Job selectors for storage (defaults.generate_job_selector does).
"""

from __future__ import annotations

from typing import Any

from kubelite.api.gofmt import go_quote
from kubelite.schema import names
from kubelite.schema.cronschedule import schedule_error, time_zone_errors
from kubelite.schema.fielderrors import (
    Cause,
    GoText,
    child,
    forbidden,
    go_string_map,
    immutable,
    invalid,
    key,
    label_selector_string,
    not_supported,
    render,
    required,
)
from kubelite.schema.kindhelpers import (
    go_pointer,
    go_struct,
    int_field,
    int_or_percent_value,
    int_or_string_text,
    nonnegative,
    not_more_than_100_percent,
    semantic_equal,
    validate_meta,
    validate_positive_int_or_percent,
)
from kubelite.schema.metavalidation import (
    as_dict,
    as_str,
    map_selector_matches,
    selector_is_empty,
    selector_is_parsable,
    selector_matches,
    validate_annotations,
    validate_label_selector,
    validate_labels,
)
from kubelite.schema.podvalidation import validate_pod_specific_annotations, validate_pod_template_spec

Obj = dict[str, Any]

SELECTOR_MISMATCH = "`selector` does not match template `labels`"
_ALWAYS = ["Always"]
_JOB_RESTART_POLICIES = ["OnFailure", "Never"]
_MAX_PARALLELISM_INDEXED = 100000
_CRONJOB_NAME_MAX = 52  # DNS-1035 label max (63) minus the controller's 11-character suffix
LEGACY_JOB_NAME = "job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"


def _spec(obj: Obj | None) -> Obj:
    return as_dict((obj or {}).get("spec"))


def _labels(template: Any) -> Any:
    return as_dict(as_dict(template).get("metadata")).get("labels")


def _selector_text(selector: Any) -> GoText:
    return label_selector_string(selector if isinstance(selector, dict) else None)


def _mismatch(path: str, labels: Any) -> Cause:
    return invalid(child(path, "metadata", "labels"), go_string_map(labels if isinstance(labels, dict) else None), SELECTOR_MISMATCH)


def _selector_rejects(selector: Any, labels: Any) -> bool:
    """LabelSelectorAsSelector(selector) is not Empty() and does not match the labels (a nil
    selector selects nothing)."""
    if selector is None:
        return True
    return not selector_is_empty(selector) and not selector_matches(selector, labels)


def _required_selector(selector: Any, path: str, kind: str) -> list[Cause]:
    """Selector required, valid, and not empty (`empty selector is invalid for <kind>`)."""
    if selector is None:
        return [required(path, "")]
    causes = validate_label_selector(selector, path)
    if selector_is_empty(selector):
        causes.append(invalid(path, _selector_text(selector), f"empty selector is invalid for {kind}"))
    return causes


def _restart_always(template: Any, path: str, kind: str) -> list[Cause]:
    spec = as_dict(as_dict(template).get("spec"))
    causes: list[Cause] = []
    policy = as_str(spec.get("restartPolicy"))
    if policy != "Always":
        causes.append(not_supported(child(path, "spec", "restartPolicy"), policy, _ALWAYS))
    if spec.get("activeDeadlineSeconds") is not None:
        causes.append(
            forbidden(child(path, "spec", "activeDeadlineSeconds"), f"activeDeadlineSeconds in {kind} is not Supported")
        )
    return causes


def _template_for_replica_set(template: Any, selector: Any, path: str, kind: str) -> list[Cause]:
    """ValidatePodTemplateSpecForReplicaSet."""
    causes = [_mismatch(path, _labels(template))] if _selector_rejects(selector, _labels(template)) else []
    causes.extend(validate_pod_template_spec(template, path))
    causes.extend(_restart_always(template, path, kind))
    return causes


def _immutable_selector(spec: Obj, old_spec: Obj) -> list[Cause]:
    if semantic_equal(spec.get("selector"), old_spec.get("selector")):
        return []
    return [immutable("spec.selector", _selector_text(spec.get("selector")))]


# --------------------------------------------------------------------------- Deployment
def _rolling_update_deployment(rolling: Obj, path: str) -> list[Cause]:
    unavailable, surge = rolling.get("maxUnavailable", 0), rolling.get("maxSurge", 0)
    causes = validate_positive_int_or_percent(unavailable, child(path, "maxUnavailable"))
    causes.extend(validate_positive_int_or_percent(surge, child(path, "maxSurge")))
    if int_or_percent_value(unavailable) == 0 and int_or_percent_value(surge) == 0:
        causes.append(
            invalid(child(path, "maxUnavailable"), int_or_string_text(unavailable), "may not be 0 when `maxSurge` is 0")
        )
    causes.extend(not_more_than_100_percent(unavailable, child(path, "maxUnavailable")))
    return causes


def _deployment_strategy(strategy: Obj, path: str) -> list[Cause]:
    kind = as_str(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if rolling is not None:
            return [forbidden(child(path, "rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if kind == "RollingUpdate":
        if rolling is None:
            return [required(child(path, "rollingUpdate"), "this should be defaulted and never be nil")]
        return _rolling_update_deployment(as_dict(rolling), child(path, "rollingUpdate"))
    value = go_struct(
        "apps.DeploymentStrategy",
        [("Type", go_quote(kind)), ("RollingUpdate", go_pointer("apps.RollingUpdateDeployment", rolling))],
    )
    return [not_supported(path, value, ["Recreate", "RollingUpdate"])]


def _deployment_spec(spec: Obj) -> list[Cause]:
    causes = nonnegative(spec, "replicas", "spec.replicas")
    selector = spec.get("selector")
    causes.extend(_required_selector(selector, "spec.selector", "deployment"))
    if selector_is_parsable(selector):
        causes.extend(_template_for_replica_set(spec.get("template"), selector, "spec.template", "ReplicaSet"))
    else:
        causes.append(invalid("spec.selector", _selector_text(selector), "invalid label selector"))
    causes.extend(_deployment_strategy(as_dict(spec.get("strategy")), "spec.strategy"))
    causes.extend(nonnegative(spec, "minReadySeconds", "spec.minReadySeconds"))
    causes.extend(nonnegative(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit"))
    deadline = int_field(spec.get("progressDeadlineSeconds"))
    if deadline is not None:
        causes.extend(nonnegative(spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds"))
        if deadline <= (int_field(spec.get("minReadySeconds")) or 0):
            causes.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    return causes


def validate_deployment(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    causes.extend(_deployment_spec(_spec(obj)))
    if old is not None:
        causes.extend(_immutable_selector(_spec(obj), _spec(old)))
    return causes


# --------------------------------------------------------------------------- ReplicaSet
def validate_replica_set(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = _spec(obj)
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    causes.extend(nonnegative(spec, "replicas", "spec.replicas"))
    causes.extend(nonnegative(spec, "minReadySeconds", "spec.minReadySeconds"))
    selector = spec.get("selector")
    causes.extend(_required_selector(selector, "spec.selector", "deployment"))  # sic: upstream says deployment
    if selector_is_parsable(selector):
        causes.extend(_template_for_replica_set(spec.get("template"), selector, "spec.template", "ReplicaSet"))
    else:
        causes.append(invalid("spec.selector", _selector_text(selector), "invalid label selector"))
    if old is not None:
        causes.extend(_immutable_selector(spec, _spec(old)))
    return causes


# --------------------------------------------------------------------------- StatefulSet
_STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def _statefulset_update_strategy(strategy: Obj) -> list[Cause]:
    kind = as_str(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    path = "spec.updateStrategy"
    if not kind:
        return [required(path, "")]
    if kind == "OnDelete":
        if rolling is None:
            return []
        rolling = as_dict(rolling)
        value = go_struct(
            "apps.RollingUpdateStatefulSetStrategy",
            [
                ("Partition", str(int_field(rolling.get("partition")) or 0)),
                ("MaxUnavailable", go_pointer("intstr.IntOrString", rolling.get("maxUnavailable"))),
            ],
        )
        return [invalid(child(path, "rollingUpdate"), value, "only allowed for updateStrategy 'RollingUpdate'")]
    if kind == "RollingUpdate":
        if rolling is None:
            return []
        return nonnegative(as_dict(rolling), "partition", child(path, "rollingUpdate", "partition"))
    value = go_struct(
        "apps.StatefulSetUpdateStrategy",
        [("Type", go_quote(kind)), ("RollingUpdate", go_pointer("apps.RollingUpdateStatefulSetStrategy", rolling))],
    )
    return [invalid(path, value, "must be 'RollingUpdate' or 'OnDelete'")]


def _statefulset_spec(spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    policy = as_str(spec.get("podManagementPolicy"))
    if not policy:
        causes.append(required("spec.podManagementPolicy", ""))
    elif policy not in ("OrderedReady", "Parallel"):
        causes.append(invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    causes.extend(_statefulset_update_strategy(as_dict(spec.get("updateStrategy"))))
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(retention, dict):
        for field in ("whenDeleted", "whenScaled"):
            value = as_str(retention.get(field))
            if value not in ("Retain", "Delete"):
                path = child("spec.persistentVolumeClaimRetentionPolicy", field)
                causes.append(not_supported(path, value, ["Retain", "Delete"]))
    causes.extend(nonnegative(spec, "replicas", "spec.replicas"))
    causes.extend(nonnegative(spec, "minReadySeconds", "spec.minReadySeconds"))
    if isinstance(spec.get("ordinals"), dict):
        causes.extend(nonnegative(spec["ordinals"], "start", "spec.ordinals.start"))
    selector = spec.get("selector")
    causes.extend(_required_selector(selector, "spec.selector", "statefulset"))
    template = spec.get("template")
    if not selector_is_parsable(selector):
        causes.append(invalid("spec.selector", _selector_text(selector), ""))
    else:
        # Upstream checks only the template's metadata here, not its pod spec.
        labels = _labels(template)
        if _selector_rejects(selector, labels):
            causes.append(_mismatch("spec.template", labels))
        meta = as_dict(as_dict(template).get("metadata"))
        causes.extend(validate_labels(meta.get("labels"), "spec.template.labels"))
        causes.extend(validate_annotations(meta.get("annotations"), "spec.template.annotations"))
        causes.extend(
            validate_pod_specific_annotations(meta.get("annotations"), as_dict(as_dict(template).get("spec")), "spec.template.annotations")
        )
    template_spec = as_dict(as_dict(template).get("spec"))
    if as_str(template_spec.get("restartPolicy")) != "Always":
        causes.append(not_supported("spec.template.spec.restartPolicy", as_str(template_spec.get("restartPolicy")), _ALWAYS))
    if template_spec.get("activeDeadlineSeconds") is not None:
        causes.append(forbidden("spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in StatefulSet is not Supported"))
    return causes


def validate_stateful_set(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, old, names.name_is_dns_label, True)
    spec = _spec(obj)
    causes.extend(_statefulset_spec(spec))
    if old is not None:
        old_spec = _spec(old)
        rest = {k: v for k, v in spec.items() if k not in _STATEFULSET_MUTABLE}
        old_rest = {k: v for k, v in old_spec.items() if k not in _STATEFULSET_MUTABLE}
        if not semantic_equal(rest, old_rest):
            causes.append(
                forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                )
            )
    return causes


# --------------------------------------------------------------------------- DaemonSet
def _rolling_update_daemon_set(rolling: Obj, path: str) -> list[Cause]:
    unavailable, surge = rolling.get("maxUnavailable", 0), rolling.get("maxSurge", 0)
    causes = validate_positive_int_or_percent(unavailable, child(path, "maxUnavailable"))
    causes.extend(validate_positive_int_or_percent(surge, child(path, "maxSurge")))
    causes.extend(not_more_than_100_percent(unavailable, child(path, "maxUnavailable")))
    causes.extend(not_more_than_100_percent(surge, child(path, "maxSurge")))
    has_unavailable, has_surge = int_or_percent_value(unavailable) != 0, int_or_percent_value(surge) != 0
    if has_unavailable and has_surge:
        causes.append(invalid(child(path, "maxSurge"), int_or_string_text(surge), "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        causes.append(required(child(path, "maxUnavailable"), "cannot be 0 when maxSurge is 0"))
    return causes


def _daemon_set_strategy(strategy: Obj, path: str) -> list[Cause]:
    kind = as_str(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    if kind == "OnDelete":
        return []
    if kind == "RollingUpdate":
        if rolling is None:
            return [required(child(path, "rollingUpdate"), "")]
        return _rolling_update_daemon_set(as_dict(rolling), child(path, "rollingUpdate"))
    value = go_struct(
        "apps.DaemonSetUpdateStrategy",
        [("Type", go_quote(kind)), ("RollingUpdate", go_pointer("apps.RollingUpdateDaemonSet", rolling))],
    )
    return [not_supported(path, value, ["RollingUpdate", "OnDelete"])]


def _daemon_set_spec(spec: Obj) -> list[Cause]:
    selector = spec.get("selector")
    template = spec.get("template")
    causes = validate_label_selector(selector, "spec.selector")
    if selector_is_parsable(selector) and _selector_rejects(selector, _labels(template)):
        causes.append(_mismatch("spec.template", _labels(template)))
    if selector is not None and selector_is_empty(selector):
        causes.append(invalid("spec.selector", _selector_text(selector), "empty selector is invalid for daemonset"))
    causes.extend(validate_pod_template_spec(template, "spec.template"))
    causes.extend(_restart_always(template, "spec.template", "DaemonSet"))
    causes.extend(nonnegative(spec, "minReadySeconds", "spec.minReadySeconds"))
    causes.extend(_daemon_set_strategy(as_dict(spec.get("updateStrategy")), "spec.updateStrategy"))
    causes.extend(nonnegative(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit"))
    return causes


def validate_daemon_set(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    causes.extend(_daemon_set_spec(_spec(obj)))
    if old is not None:
        causes.extend(_immutable_selector(_spec(obj), _spec(old)))
    return causes


# --------------------------------------------------------------------------- ReplicationController / PodTemplate
def validate_replication_controller(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = _spec(obj)
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    causes.extend(nonnegative(spec, "minReadySeconds", "spec.minReadySeconds"))
    selector = as_dict(spec.get("selector"))
    if not selector:
        causes.append(required("spec.selector", ""))
    causes.extend(nonnegative(spec, "replicas", "spec.replicas"))
    template = spec.get("template")
    if not isinstance(template, dict):
        causes.append(required("spec.template", ""))
        return causes
    if selector and not map_selector_matches(selector, _labels(template)):
        causes.append(_mismatch("spec.template", _labels(template)))
    causes.extend(validate_pod_template_spec(template, "spec.template"))
    causes.extend(_restart_always(template, "spec.template", "ReplicationController"))
    return causes


def validate_pod_template(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    causes.extend(validate_pod_template_spec(obj.get("template"), "template"))
    return causes


# --------------------------------------------------------------------------- Job
def _job_spec_core(spec: Obj, path: str) -> list[Cause]:
    """validateJobSpec: counts, completion mode, replacement policy, template, restart policy."""
    causes: list[Cause] = []
    for field in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"):
        causes.extend(nonnegative(spec, field, child(path, field)))
    if spec.get("maxFailedIndexes") is not None and spec.get("backoffLimitPerIndex") is None:
        causes.append(required(child(path, "backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
    mode = spec.get("completionMode")
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            causes.append(not_supported(child(path, "completionMode"), mode, ["NonIndexed", "Indexed"]))
        if mode == "Indexed":
            if spec.get("completions") is None:
                causes.append(required(child(path, "completions"), "when completion mode is Indexed"))
            parallelism = int_field(spec.get("parallelism"))
            if parallelism is not None and parallelism > _MAX_PARALLELISM_INDEXED:
                causes.append(
                    invalid(
                        child(path, "parallelism"),
                        parallelism,
                        f"must be less than or equal to {_MAX_PARALLELISM_INDEXED} when completion mode is Indexed",
                    )
                )
    if mode in (None, "NonIndexed"):
        per_index = int_field(spec.get("backoffLimitPerIndex"))
        if per_index is not None:
            causes.append(invalid(child(path, "backoffLimitPerIndex"), per_index, "requires indexed completion mode"))
        max_failed = int_field(spec.get("maxFailedIndexes"))
        if max_failed is not None:
            causes.append(invalid(child(path, "maxFailedIndexes"), max_failed, "requires indexed completion mode"))
    failure_policy = spec.get("podFailurePolicy")
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        if failure_policy is not None:
            if replacement != "Failed":
                causes.append(not_supported(child(path, "podReplacementPolicy"), replacement, ["Failed"]))
        elif replacement not in ("Failed", "TerminatingOrFailed"):
            causes.append(not_supported(child(path, "podReplacementPolicy"), replacement, ["Failed", "TerminatingOrFailed"]))
    template = spec.get("template")
    causes.extend(validate_pod_template_spec(template, child(path, "template")))
    restart = as_str(as_dict(as_dict(template).get("spec")).get("restartPolicy"))
    restart_path = child(path, "template", "spec", "restartPolicy")
    if restart in ("Always", ""):
        causes.append(required(restart_path, 'valid values: "OnFailure", "Never"'))
    elif restart not in _JOB_RESTART_POLICIES:
        causes.append(not_supported(restart_path, restart, _JOB_RESTART_POLICIES))
    elif failure_policy is not None and restart != "Never":
        causes.append(invalid(restart_path, restart, 'only "Never" is supported when podFailurePolicy is specified'))
    return causes


def _job_spec(spec: Obj) -> list[Cause]:
    """ValidateJobSpec: validateJobSpec plus the selector rules."""
    causes = _job_spec_core(spec, "spec")
    selector = spec.get("selector")
    if selector is None:
        causes.append(required("spec.selector", ""))
    else:
        causes.extend(validate_label_selector(selector, "spec.selector"))
    if selector_is_parsable(selector):
        if selector is not None and selector_is_empty(selector):
            causes.append(required("spec.selector", ""))
        labels = _labels(spec.get("template"))
        if _selector_rejects(selector, labels):
            causes.append(_mismatch("spec.template", labels))
    return causes


def job_with_generated_selector(obj: Obj) -> Obj:
    """The Job as upstream's create strategy leaves it before validation: unless
    spec.manualSelector is true, the template carries the job-name and controller-uid labels and
    the selector matches the uid. Returns a shallow view; `obj` is not changed."""
    spec = _spec(obj)
    if spec.get("manualSelector") is True:
        return obj
    meta = as_dict(obj.get("metadata"))
    name, uid = as_str(meta.get("name")), as_str(meta.get("uid"))
    template = as_dict(spec.get("template"))
    template_meta = as_dict(template.get("metadata"))
    labels = dict(as_dict(template_meta.get("labels")))
    for label, value in ((LEGACY_JOB_NAME, name), (JOB_NAME, name), (LEGACY_CONTROLLER_UID, uid), (CONTROLLER_UID, uid)):
        labels.setdefault(label, value)
    selector = dict(as_dict(spec.get("selector")))
    match_labels = dict(as_dict(selector.get("matchLabels")))
    match_labels.setdefault(CONTROLLER_UID, uid)
    selector["matchLabels"] = match_labels
    new_template = {**template, "metadata": {**template_meta, "labels": labels}}
    return {**obj, "spec": {**spec, "template": new_template, "selector": selector}}


def _has_label(labels: Any, path: str, label: str, expected: str) -> list[Cause]:
    labels = as_dict(labels)
    if label not in labels:
        return [required(key(child(path, "labels"), label), f"must be '{expected}'")]
    if labels[label] != expected:
        return [invalid(key(child(path, "labels"), label), go_string_map(labels), f"must be '{expected}'")]
    return []


def _generated_selector(obj: Obj, require_prefixed: bool) -> list[Cause]:
    """validateGeneratedSelector."""
    spec = _spec(obj)
    selector = spec.get("selector")
    if spec.get("manualSelector") is True or selector is None:
        return []
    meta = as_dict(obj.get("metadata"))
    name, uid = as_str(meta.get("name")), as_str(meta.get("uid"))
    causes = [] if uid else [required("metadata.uid", "")]
    labels = _labels(spec.get("template"))
    path = "spec.template.metadata"
    causes.extend(_has_label(labels, path, LEGACY_CONTROLLER_UID, uid))
    causes.extend(_has_label(labels, path, LEGACY_JOB_NAME, name))
    expected = {LEGACY_CONTROLLER_UID: uid, LEGACY_JOB_NAME: name}
    if require_prefixed:
        causes.extend(_has_label(labels, path, CONTROLLER_UID, uid))
        causes.extend(_has_label(labels, path, JOB_NAME, name))
        expected.update({CONTROLLER_UID: uid, JOB_NAME: name})
    if selector_is_parsable(selector) and not selector_matches(selector, expected):
        causes.append(invalid("spec.selector", _selector_text(selector), "`selector` not auto-generated"))
    return causes


def _validate_job(obj: Obj, require_prefixed: bool) -> list[Cause]:
    """ValidateJob (create-time rules)."""
    causes = validate_meta(obj, None, names.name_is_dns_subdomain, True)
    causes.extend(_generated_selector(obj, require_prefixed))
    spec = _spec(obj)
    causes.extend(_job_spec(spec))
    completions = int_field(spec.get("completions"))
    if spec.get("completionMode") == "Indexed" and completions is not None and completions > 0:
        name = as_str(as_dict(obj.get("metadata")).get("name"))
        hostname = f"{name}-{completions - 1}"
        if names.is_dns1123_label(hostname):
            causes.append(
                invalid("metadata.name", name, f"will not able to create pod with invalid DNS label: {hostname}")
            )
    return causes


def _scheduling_mutable_template(template: Obj, old_template: Obj) -> Obj:
    """The old template with what a suspended, never-started Job may change taken from the new one."""
    old_spec = dict(as_dict(old_template.get("spec")))
    new_spec = as_dict(template.get("spec"))
    new_affinity, old_affinity = new_spec.get("affinity"), old_spec.get("affinity")
    if new_affinity is None and isinstance(old_affinity, dict):
        rest = {k: v for k, v in old_affinity.items() if k != "nodeAffinity"}
        old_spec["affinity"] = rest or None
    elif isinstance(new_affinity, dict):
        merged = dict(as_dict(old_affinity))
        merged["nodeAffinity"] = new_affinity.get("nodeAffinity")
        old_spec["affinity"] = merged
    for field in ("nodeSelector", "tolerations", "schedulingGates"):
        old_spec[field] = new_spec.get(field)
    old_meta = dict(as_dict(old_template.get("metadata")))
    new_meta = as_dict(template.get("metadata"))
    old_meta["annotations"] = new_meta.get("annotations")
    old_meta["labels"] = new_meta.get("labels")
    return {**old_template, "metadata": old_meta, "spec": old_spec}


def _job_spec_update(obj: Obj, old: Obj) -> list[Cause]:
    spec, old_spec = _spec(obj), _spec(old)
    causes = _job_spec(spec)
    indexed = spec.get("completionMode") == "Indexed"
    completions = spec.get("completions")
    if not semantic_equal(completions, old_spec.get("completions")):
        if not indexed:
            causes.append(immutable("spec.completions", completions))
        elif completions is not None and completions != spec.get("parallelism"):
            causes.append(invalid("spec.completions", completions, "can only be modified in tandem with spec.parallelism"))
    causes.extend(_immutable_selector(spec, old_spec))
    template, old_template = as_dict(spec.get("template")), as_dict(old_spec.get("template"))
    suspended = old_spec.get("suspend") is True and as_dict(old.get("status")).get("startTime") is None
    compare_to = _scheduling_mutable_template(template, old_template) if suspended else old_template
    if not semantic_equal(template, compare_to):
        causes.append(immutable("spec.template", GoText(render(template))))
    for field in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
        if not semantic_equal(spec.get(field), old_spec.get(field)):
            causes.append(immutable(child("spec", field), spec.get(field)))
    return causes


def validate_job(obj: Obj, old: Obj | None) -> list[Cause]:
    if old is None:
        return _validate_job(job_with_generated_selector(obj), True)
    old_spec = _spec(old)
    require_prefixed = JOB_NAME in as_dict(_labels(old_spec.get("template"))) and CONTROLLER_UID in as_dict(
        as_dict(old_spec.get("selector")).get("matchLabels")
    )
    causes = _validate_job(obj, require_prefixed)
    causes.extend(validate_meta(obj, old, names.name_is_dns_subdomain, True))
    causes.extend(_job_spec_update(obj, old))
    return causes


# --------------------------------------------------------------------------- CronJob
def _schedule(spec: Obj, old_spec: Obj | None) -> list[Cause]:
    schedule = as_str(spec.get("schedule"))
    path = "spec.schedule"
    if not schedule:
        return [required(path, "")]
    causes: list[Cause] = []
    err = schedule_error(schedule)
    if err is not None:
        causes.append(invalid(path, schedule, err))
    allow_tz = old_spec is not None and "TZ" in as_str(old_spec.get("schedule"))
    if "TZ" in schedule:
        if allow_tz and spec.get("timeZone") is not None:
            causes.append(invalid(path, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
        elif not allow_tz:
            causes.append(invalid(path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    return causes


def _job_template(template: Obj, path: str) -> list[Cause]:
    """ValidateJobTemplateSpec."""
    spec = as_dict(template.get("spec"))
    causes = _job_spec_core(spec, child(path, "spec"))
    if spec.get("selector") is not None:
        causes.append(invalid(child(path, "spec", "selector"), _selector_text(spec.get("selector")), "`selector` will be auto-generated"))
    if spec.get("manualSelector") is True:
        causes.append(not_supported(child(path, "spec", "manualSelector"), True, ["nil", "false"]))
    return causes


def _cron_job_spec(spec: Obj, old_spec: Obj | None) -> list[Cause]:
    causes = _schedule(spec, old_spec)
    causes.extend(nonnegative(spec, "startingDeadlineSeconds", "spec.startingDeadlineSeconds"))
    zone = spec.get("timeZone")
    if zone is not None and (old_spec is None or old_spec.get("timeZone") != zone):
        zone_text = zone if isinstance(zone, str) else ""
        causes.extend(invalid("spec.timeZone", zone_text, msg) for msg in time_zone_errors(zone_text))
    policy = as_str(spec.get("concurrencyPolicy"))
    if not policy:
        causes.append(required("spec.concurrencyPolicy", ""))
    elif policy not in ("Allow", "Forbid", "Replace"):
        causes.append(not_supported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"]))
    causes.extend(_job_template(as_dict(spec.get("jobTemplate")), "spec.jobTemplate"))
    causes.extend(nonnegative(spec, "successfulJobsHistoryLimit", "spec.successfulJobsHistoryLimit"))
    causes.extend(nonnegative(spec, "failedJobsHistoryLimit", "spec.failedJobsHistoryLimit"))
    return causes


def validate_cron_job(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    causes.extend(_cron_job_spec(_spec(obj), _spec(old) if old is not None else None))
    name = as_str(as_dict(obj.get("metadata")).get("name"))
    if old is None and len(name) > _CRONJOB_NAME_MAX:
        causes.append(invalid("metadata.name", name, f"must be no more than {_CRONJOB_NAME_MAX} characters"))
    return causes


# --------------------------------------------------------------------------- ControllerRevision
def validate_controller_revision(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = validate_meta(obj, old, names.name_is_dns_subdomain, True)
    if old is not None:
        causes.extend(validate_meta(obj, None, names.name_is_dns_subdomain, True))
    if obj.get("data") is None:
        causes.append(required("data", "data is mandatory"))
    causes.extend(nonnegative(obj, "revision", "revision"))
    if old is not None and not semantic_equal(obj.get("data"), old.get("data")):
        causes.append(immutable("data", GoText(render(obj.get("data")))))
    return causes
