"""The HorizontalPodAutoscaler controller as upstream's pkg/controller/podautoscaler/horizontal.go:
every resync period (15 s) each autoscaling/v2 HPA reads its target's `scale` subresource (replicas
and status.selector), asks the MetricsSource for the pods' usage, proposes a replica count per
metric (the highest wins), stabilizes it and holds it within min/maxReplicas and the behavior's
rate policies, writes the new count through the `scale` subresource, and records status
(currentReplicas, desiredReplicas, lastScaleTime, currentMetrics and the AbleToScale, ScalingActive
and ScalingLimited conditions) and events with upstream's reasons and messages.

Resource and ContainerResource metrics are computed; Pods, Object and External metrics need the
custom and external metrics APIs, which nothing serves, and fail as upstream does without them.
Recommendations and scale events are kept in memory only (lost on restart, as upstream's).

Must not write the target object itself (only its scale), nor mutate cached objects.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Hashable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kubelite.api.errors import StatusError
from kubelite.api.labels import LabelSelector, LabelSelectorError, parse_label_selector_requirements
from kubelite.api.quantity import QuantityError, format_quantity, quantity_from_amount
from kubelite.client.cache import object_key, split_key
from kubelite.client.client import Client, ResourceClient, resource_ref
from kubelite.client.clock import Clock
from kubelite.client.transport import ResourceRef
from kubelite.client.workqueue import WorkQueue
from kubelite.controllers.base import Controller
from kubelite.controllers.events import NORMAL, WARNING, EventRecorder, rfc3339
from kubelite.controllers.metricsclient import (
    MetricsSource,
    MetricsUnavailable,
    ResourceMetricsClient,
    milli_value,
)
from kubelite.controllers.replicacalc import (
    History,
    ReadinessWindows,
    ReplicaCalcError,
    Tolerances,
    default_scale_down_rules,
    default_scale_up_rules,
    limit,
    limit_with_behavior,
    plain_replicas,
    record_initial_recommendation,
    resource_replicas,
    rules_with_defaults,
    stabilize,
    stabilize_with_behavior,
    store_scale_event,
)
from kubelite.controllers.replicaset import deep_copy
from kubelite.schema.builtins import builtin_resources

log = logging.getLogger(__name__)

Obj = dict[str, Any]

COMPONENT = "horizontal-pod-autoscaler"
HPA_KIND = "HorizontalPodAutoscaler"
HPA_API_VERSION = "autoscaling/v2"
RESYNC_PERIOD = 15.0
DOWNSCALE_STABILIZATION = 300.0
TOLERANCE = 0.1
WORKERS = 5

ABLE_TO_SCALE = "AbleToScale"
SCALING_ACTIVE = "ScalingActive"
SCALING_LIMITED = "ScalingLimited"
NO_CUSTOM_METRICS_API = "no custom metrics API (custom.metrics.k8s.io) registered"
NO_EXTERNAL_METRICS_API = "the server could not find the requested resource"


class FixedIntervalLimiter:
    """upstream FixedItemIntervalRateLimiter: every item waits the resync period, failed or not."""

    def __init__(self, interval: float):
        self.interval = interval

    def when(self, item: Hashable) -> float:
        return self.interval

    def forget(self, item: Hashable) -> None:
        pass

    def num_requeues(self, item: Hashable) -> int:
        return 1


class ReconcileError(Exception):
    """A sync that could not finish; it is retried at the next resync."""


@dataclass(frozen=True, slots=True)
class ScaleFailure(Exception):
    """The target's scale could not be read: the error the event and condition report (`detail`)
    and the error the sync fails with (`wrapped`)."""

    detail: str
    wrapped: str


@dataclass(frozen=True, slots=True)
class MetricFailure(Exception):
    """One metric could not be evaluated: the ScalingActive condition's reason and the error it
    reports (`detail`), and the error as computeReplicasForMetric wraps it (`wrapped`)."""

    reason: str
    detail: str
    wrapped: str


@dataclass(frozen=True, slots=True)
class Proposal:
    replicas: int
    metric: str  # e.g. "cpu resource utilization (percentage of request)"
    status: Obj  # the MetricStatus


def set_condition(status: Obj, kind: str, value: str, reason: str, message: str, now: str) -> None:
    """upstream setConditionInList: lastTransitionTime moves only when the status changes."""
    conditions: list[Obj] = status.setdefault("conditions", [])
    found = next((c for c in conditions if c.get("type") == kind), None)
    if found is None:
        found = {"type": kind}
        conditions.append(found)
    if found.get("status") != value:
        found["lastTransitionTime"] = now
    found["status"] = value
    found["reason"] = reason
    found["message"] = message


def milli_quantity(value: int) -> str:
    """upstream resource.NewMilliQuantity(value, DecimalSI).String()."""
    return format_quantity(quantity_from_amount(Decimal(value).scaleb(-3)))


def target_group(api_version: str) -> str:
    """The group of scaleTargetRef.apiVersion (upstream schema.ParseGroupVersion)."""
    if not api_version or api_version == "/":
        return ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return ""
    if len(parts) == 2:
        return parts[0]
    raise ValueError(f"unexpected GroupVersion string: {api_version}")


@functools.cache
def builtin_scale_targets(group: str, kind: str) -> tuple[tuple[str, str, str], ...]:
    """(group, version, resource) of every built-in version of group/kind, those with `scale` first."""
    found = [info for info in builtin_resources() if info.group == group and info.kind == kind]
    found.sort(key=lambda info: info.subresource("scale") is None)
    return tuple((info.group, info.version, info.resource) for info in found)


def go_label_selector(selector: Any) -> str:
    """`%+v` of a *metav1.LabelSelector, as upstream's external-metric errors print it."""
    if not isinstance(selector, dict):
        return "nil"
    labels = ",".join(f"{k}: {v}" for k, v in sorted((selector.get("matchLabels") or {}).items()))
    return f"&LabelSelector{{MatchLabels:map[string]string{{{labels + ',' if labels else ''}}},MatchExpressions:[]LabelSelectorRequirement{{}},}}"


class HorizontalPodAutoscalerController(Controller):
    def __init__(
        self,
        client: Client,
        *,
        metrics: MetricsSource | None = None,
        workers: int = WORKERS,
        clock: Clock | None = None,
        resync_period: float = RESYNC_PERIOD,
        downscale_stabilization: float = DOWNSCALE_STABILIZATION,
        tolerance: float = TOLERANCE,
        readiness: ReadinessWindows | None = None,
        recorder: EventRecorder | None = None,
    ):
        super().__init__(client, name=COMPONENT, workers=workers, clock=clock)
        self.queue = WorkQueue(self.clock, FixedIntervalLimiter(resync_period), name=COMPONENT)
        self.metrics: MetricsSource = metrics if metrics is not None else ResourceMetricsClient(client)
        self.downscale_stabilization = downscale_stabilization
        self.tolerance = tolerance
        self.readiness = readiness or ReadinessWindows()
        self.recorder = self.event_recorder(recorder, COMPONENT)
        self.hpa_client = client.resource("autoscaling", "v2", "horizontalpodautoscalers")
        self.crd_client = client.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        self.hpas = self.informer("autoscaling", "v2", "horizontalpodautoscalers")
        self.pods = self.informer("", "v1", "pods")
        self.hpas.add_handler(self._hpa_added, self._hpa_updated, self._hpa_deleted)
        self.histories: dict[str, History] = {}
        self.selectors: dict[str, LabelSelector] = {}  # the pod selector each HPA last used
        self.reconciliations = 0  # finished syncs (successful or not)

    # ------------------------------------------------------------------ informer handlers
    def _hpa_added(self, hpa: Obj) -> None:
        key = object_key(hpa)
        self.queue.add_rate_limited(key)  # as upstream: first look after one resync period
        self.selectors.setdefault(key, LabelSelector.nothing())

    def _hpa_updated(self, old: Obj, new: Obj) -> None:
        self._hpa_added(new)

    def _hpa_deleted(self, hpa: Obj) -> None:
        key = object_key(hpa)
        self.queue.forget(key)
        self.selectors.pop(key, None)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        hpa = self.hpas.cache.get(key)
        if hpa is None:
            self.histories.pop(key, None)
            self.selectors.pop(key, None)
            return
        self.queue.add_rate_limited(key)  # the next resync
        try:
            await self._reconcile(key, deep_copy(hpa))
        finally:
            self.reconciliations += 1

    def _event(self, hpa: Obj, event_type: str, reason: str, message: str) -> None:
        self.recorder.event(hpa, event_type, reason, message, kind=HPA_KIND, api_version=HPA_API_VERSION)

    def _now_text(self) -> str:
        return rfc3339(self.clock.time())

    async def _reconcile(self, key: str, hpa: Obj) -> None:
        spec = hpa.get("spec") or {}
        original = deep_copy(hpa.get("status") or {})
        status: Obj = deep_copy(original)
        now_text = self._now_text()
        namespace = hpa["metadata"].get("namespace") or ""
        ref = spec.get("scaleTargetRef") or {}
        reference = f"{ref.get('kind', '')}/{namespace}/{ref.get('name', '')}"

        try:
            scale, scale_client = await self._get_scale(namespace, ref)
        except ScaleFailure as failed:
            self._event(hpa, WARNING, "FailedGetScale", failed.detail)
            set_condition(
                status,
                ABLE_TO_SCALE,
                "False",
                "FailedGetScale",
                f"the HPA controller was unable to get the target's current scale: {failed.detail}",
                now_text,
            )
            await self._write_status_if_needed(hpa, original, status)
            raise ReconcileError(failed.wrapped) from None
        set_condition(
            status,
            ABLE_TO_SCALE,
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
            now_text,
        )
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        history = self.histories.setdefault(key, History())
        record_initial_recommendation(history, current, self.clock.monotonic())

        min_replicas = spec.get("minReplicas")
        minimum = 1 if min_replicas is None else int(min_replicas)
        maximum = int(spec.get("maxReplicas") or 0)
        metric_statuses: list[Obj] | None = None
        desired = 0
        reason = ""
        rescale = True
        failure: str | None = None
        if current == 0 and minimum != 0:
            rescale = False
            set_condition(
                status,
                SCALING_ACTIVE,
                "False",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
                now_text,
            )
        elif current > maximum:
            reason = "Current number of replicas above Spec.MaxReplicas"
            desired = maximum
        elif current < minimum:
            reason = "Current number of replicas below Spec.MinReplicas"
            desired = minimum
        else:
            proposed, metric_name, metric_statuses, failure = await self._compute_metrics(
                hpa, status, scale, list(spec.get("metrics") or ()), now_text
            )
            if proposed is None:
                self._set_status(status, current, status.get("desiredReplicas", 0), metric_statuses, False)
                await self._write_status_if_needed(hpa, original, status)
                message = failure or ""
                self._event(hpa, WARNING, "FailedComputeMetricsReplicas", message)
                raise ReconcileError(
                    f"failed to compute desired number of replicas based on listed metrics for {reference}: {message}"
                )
            proposed_metric = ""
            if proposed > desired:
                desired = proposed
                proposed_metric = metric_name
            if desired > current:
                reason = f"{proposed_metric} above target"
            if desired < current:
                reason = "All metrics below target"
            behavior = spec.get("behavior")
            if behavior is None:
                desired = self._normalize(status, history, current, desired, minimum, maximum, now_text)
            else:
                desired = self._normalize_with_behavior(
                    status, history, behavior, current, desired, minimum, maximum, now_text
                )
            rescale = desired != current

        if rescale:
            scale = deep_copy(scale)
            scale.setdefault("spec", {})["replicas"] = desired
            try:
                await scale_client.update(scale, subresource="scale")
            except StatusError as err:
                self._event(
                    hpa,
                    WARNING,
                    "FailedRescale",
                    f"New size: {desired}; reason: {reason}; error: {err.message}",
                )
                set_condition(
                    status,
                    ABLE_TO_SCALE,
                    "False",
                    "FailedUpdateScale",
                    f"the HPA controller was unable to update the target scale: {err.message}",
                    now_text,
                )
                self._set_status(status, current, status.get("desiredReplicas", 0), metric_statuses, False)
                await self._write_status_if_needed(hpa, original, status)
                raise ReconcileError(f"failed to rescale {reference}: {err.message}") from err
            set_condition(
                status,
                ABLE_TO_SCALE,
                "True",
                "SucceededRescale",
                f"the HPA controller was able to update the target scale to {desired}",
                now_text,
            )
            self._event(hpa, NORMAL, "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            behavior = spec.get("behavior")
            if behavior is not None:
                up, down = self._rules(behavior)
                store_scale_event(history, up, down, current, desired, self.clock.monotonic())
            log.info("%s: rescaled %s from %d to %d (%s)", key, reference, current, desired, reason)
        else:
            desired = current

        self._set_status(status, current, desired, metric_statuses, rescale)
        await self._write_status_if_needed(hpa, original, status)
        if failure is not None:
            raise ReconcileError(failure)  # some metrics failed, the others still scaled

    # ------------------------------------------------------------------ the target's scale
    async def _get_scale(self, namespace: str, ref: Obj) -> tuple[Obj, ResourceClient]:
        """The target's Scale through the first of its resource's versions that answers; raises
        ScaleFailure."""
        kind = str(ref.get("kind") or "")
        name = str(ref.get("name") or "")
        try:
            group = target_group(str(ref.get("apiVersion") or ""))
        except ValueError as err:
            raise ScaleFailure(str(err), f"invalid API version in scale target reference: {err}") from None
        candidates = await self._scale_resources(group, kind)
        first = "unrecognized resource"
        for index, target_ref in enumerate(candidates):
            scale_client = self.client.for_ref(target_ref).namespace(namespace)
            try:
                return await scale_client.get(name, subresource="scale"), scale_client
            except StatusError as err:
                if index == 0:
                    first = err.message
        raise ScaleFailure(first, f"failed to query scale subresource for {kind}/{namespace}/{name}: {first}")

    async def _scale_resources(self, group: str, kind: str) -> list[ResourceRef]:
        """upstream RESTMappings of group/kind: built-ins, else a CRD's served versions."""
        builtins = builtin_scale_targets(group, kind)
        if builtins:
            return [resource_ref(g, v, r) for g, v, r in builtins]
        try:
            crds = (await self.crd_client.list())["items"]
        except StatusError as err:
            raise ScaleFailure(
                err.message, f"unable to determine resource for scale target reference: {err.message}"
            ) from None
        for crd in crds:
            crd_spec = crd.get("spec") or {}
            if crd_spec.get("group") != group or (crd_spec.get("names") or {}).get("kind") != kind:
                continue
            versions = [v for v in crd_spec.get("versions") or () if v.get("served")]
            versions.sort(
                key=lambda v: (not (v.get("subresources") or {}).get("scale"), not v.get("storage"))
            )
            namespaced = crd_spec.get("scope") == "Namespaced"
            plural = str((crd_spec.get("names") or {}).get("plural") or "")
            return [resource_ref(group, str(v.get("name")), plural, namespaced) for v in versions]
        message = f'no matches for kind "{kind}" in group "{group}"'
        raise ScaleFailure(message, f"unable to determine resource for scale target reference: {message}")

    # ------------------------------------------------------------------ metrics
    async def _compute_metrics(
        self, hpa: Obj, status: Obj, scale: Obj, metric_specs: list[Obj], now_text: str
    ) -> tuple[int | None, str, list[Obj] | None, str | None]:
        """upstream computeReplicasForMetrics: (replicas or None when nothing can be done, metric
        name, metric statuses, error text of the failed metrics)."""
        selector_text = str((scale.get("status") or {}).get("selector") or "")
        selector, pods, invalid_selector = self._validate_selector(hpa, status, selector_text, now_text)
        if selector is None:
            return None, "", None, invalid_selector
        spec_replicas = int((scale.get("spec") or {}).get("replicas") or 0)
        status_replicas = int((scale.get("status") or {}).get("replicas") or 0)
        statuses: list[Obj] = [{"type": ""} for _ in metric_specs]
        replicas = 0
        metric = ""
        invalid = 0
        first: MetricFailure | None = None
        for index, metric_spec in enumerate(metric_specs):
            try:
                proposal = await self._metric_replicas(
                    hpa, metric_spec, spec_replicas, status_replicas, selector, pods
                )
            except MetricFailure as failed:
                self._event(hpa, WARNING, failed.reason, failed.detail)
                if first is None:
                    first = failed
                invalid += 1
                continue
            statuses[index] = proposal.status
            if replicas == 0 or proposal.replicas > replicas:
                replicas = proposal.replicas
                metric = proposal.metric
        error = None
        if first is not None:
            error = f"invalid metrics ({invalid} invalid out of {len(metric_specs)}), first error is: {first.wrapped}"
        if first is not None and (invalid >= len(metric_specs) or replicas < spec_replicas):
            set_condition(
                status,
                SCALING_ACTIVE,
                "False",
                first.reason,
                f"the HPA was unable to compute the replica count: {first.detail}",
                now_text,
            )
            return None, "", statuses, error
        set_condition(
            status,
            SCALING_ACTIVE,
            "True",
            "ValidMetricFound",
            f"the HPA was able to successfully calculate a replica count from {metric}",
            now_text,
        )
        return replicas, metric, statuses, error

    def _validate_selector(
        self, hpa: Obj, status: Obj, text: str, now_text: str
    ) -> tuple[LabelSelector | None, list[Obj], str]:
        """upstream validateAndParseSelector: the target's selector must be there, parse, and its
        pods must not be claimed by another HPA too."""
        if not text:
            self._event(hpa, WARNING, "SelectorRequired", "selector is required")
            set_condition(
                status,
                SCALING_ACTIVE,
                "False",
                "InvalidSelector",
                "the HPA target's scale is missing a selector",
                now_text,
            )
            return None, [], "selector is required"
        try:
            selector = parse_label_selector_requirements(text)
        except LabelSelectorError as err:
            message = f"couldn't convert selector into a corresponding internal selector object: {err}"
            self._event(hpa, WARNING, "InvalidSelector", message)
            set_condition(status, SCALING_ACTIVE, "False", "InvalidSelector", message, now_text)
            return None, [], message
        key = object_key(hpa)
        if key in self.selectors:
            self.selectors[key] = selector
        namespace = hpa["metadata"].get("namespace") or ""
        pods = [
            pod
            for pod in self.pods.cache.list_namespace(namespace)
            if selector.matches(pod["metadata"].get("labels"))
        ]
        controlling = sorted(
            other
            for other, other_selector in self.selectors.items()
            if split_key(other)[0] == namespace
            and any(other_selector.matches(pod["metadata"].get("labels")) for pod in pods)
        )
        if len(controlling) > 1:
            message = f"pods by selector {text} are controlled by multiple HPAs: [{' '.join(controlling)}]"
            self._event(hpa, WARNING, "AmbiguousSelector", message)
            set_condition(status, SCALING_ACTIVE, "False", "AmbiguousSelector", message, now_text)
            return None, [], message
        return selector, pods, ""

    async def _metric_replicas(
        self,
        hpa: Obj,
        metric_spec: Obj,
        spec_replicas: int,
        status_replicas: int,
        selector: LabelSelector,
        pods: list[Obj],
    ) -> Proposal:
        """upstream computeReplicasForMetric; raises MetricFailure."""
        kind = metric_spec.get("type") or ""
        tolerances = self._tolerances(hpa)
        if kind in ("Resource", "ContainerResource"):
            field = "resource" if kind == "Resource" else "containerResource"
            source = metric_spec.get(field) or {}
            container = str(source.get("container") or "") if kind == "ContainerResource" else ""
            try:
                return await self._resource_proposal(
                    hpa, kind, source, container, spec_replicas, selector, pods, tolerances
                )
            except ReplicaCalcError as err:
                name = source.get("name", "")
                if kind == "Resource":
                    raise MetricFailure(
                        "FailedGetResourceMetric",
                        str(err),
                        f"failed to get {name} resource metric value: {err}",
                    ) from None
                raise MetricFailure(
                    "FailedGetContainerResourceMetric",
                    str(err),
                    f"failed to get {container} container metric value: {err}",
                ) from None
        if kind in ("Pods", "Object", "External"):
            raise self._custom_metric_failure(hpa, kind, metric_spec)
        message = f'unknown metric source type "{kind}"'
        raise MetricFailure("InvalidMetricSourceType", message, message)

    def _tolerances(self, hpa: Obj) -> Tolerances:
        """The controller's tolerance, or the behavior's per-direction one when set."""
        behavior = (hpa.get("spec") or {}).get("behavior") or {}
        down = self._rule_tolerance(behavior.get("scaleDown"))
        up = self._rule_tolerance(behavior.get("scaleUp"))
        return Tolerances(self.tolerance if down is None else down, self.tolerance if up is None else up)

    @staticmethod
    def _rule_tolerance(rules: Any) -> float | None:
        if not isinstance(rules, dict) or rules.get("tolerance") is None:
            return None
        try:
            return milli_value(rules["tolerance"]) / 1000
        except QuantityError:
            return None

    async def _resource_proposal(
        self,
        hpa: Obj,
        kind: str,
        source: Obj,
        container: str,
        current: int,
        selector: LabelSelector,
        pods: list[Obj],
        tolerances: Tolerances,
    ) -> Proposal:
        """upstream computeStatusForResourceMetricGeneric; raises ReplicaCalcError."""
        namespace = hpa["metadata"].get("namespace") or ""
        resource = str(source.get("name") or "")
        target = source.get("target") or {}
        now = self.clock.time()
        status_key = "resource" if kind == "Resource" else "containerResource"
        identity: Obj = {"name": resource}
        if kind == "ContainerResource":
            identity["container"] = container
        if target.get("averageValue") is not None:
            try:
                metrics = (await self.metrics.resource_metric(resource, namespace, selector, container))[0]
                average = milli_value(target["averageValue"])
                replicas, usage = plain_replicas(
                    current, average, resource, tolerances, pods, metrics, self.readiness, now
                )
            except (MetricsUnavailable, ReplicaCalcError, QuantityError) as err:
                raise ReplicaCalcError(
                    f"failed to get {resource} usage: {self._calc_error(resource, err)}"
                ) from None
            return Proposal(
                replicas,
                f"{resource} resource",
                {"type": kind, status_key: {**identity, "current": {"averageValue": milli_quantity(usage)}}},
            )
        if target.get("averageUtilization") is None:
            raise ReplicaCalcError(
                "invalid resource metric source: neither an average utilization target nor an average value (usage) target was set"
            )
        try:
            metrics = (await self.metrics.resource_metric(resource, namespace, selector, container))[0]
            replicas, utilization, raw = resource_replicas(
                current,
                int(target["averageUtilization"]),
                resource,
                tolerances,
                pods,
                metrics,
                container,
                self.readiness,
                now,
            )
        except (MetricsUnavailable, ReplicaCalcError) as err:
            raise ReplicaCalcError(
                f"failed to get {resource} utilization: {self._calc_error(resource, err)}"
            ) from None
        name = f"{resource} resource utilization (percentage of request)"
        if kind == "ContainerResource":
            name = f"{resource} container resource utilization (percentage of request)"
        current_value = {"averageValue": milli_quantity(raw), "averageUtilization": utilization}
        return Proposal(replicas, name, {"type": kind, status_key: {**identity, "current": current_value}})

    @staticmethod
    def _calc_error(resource: str, err: Exception) -> str:
        if isinstance(err, MetricsUnavailable):
            return f"unable to get metrics for resource {resource}: {err}"
        return str(err)

    def _custom_metric_failure(self, hpa: Obj, kind: str, metric_spec: Obj) -> MetricFailure:
        """What upstream reports for Pods, Object and External metrics when no custom or external
        metrics API is registered."""
        namespace = hpa["metadata"].get("namespace") or ""
        custom = f"unable to fetch metrics from custom metrics API: {NO_CUSTOM_METRICS_API}"
        if kind == "Pods":
            source = metric_spec.get("pods") or {}
            name = (source.get("metric") or {}).get("name", "")
            detail = f"unable to get metric {name}: {custom}"
            return MetricFailure("FailedGetPodsMetric", detail, f"failed to get pods metric value: {detail}")
        if kind == "Object":
            source = metric_spec.get("object") or {}
            name = (source.get("metric") or {}).get("name", "")
            target = source.get("target") or {}
            described = source.get("describedObject") or {}
            detail = f"unable to get metric {name}: {described.get('kind', '')} on {namespace} {described.get('name', '')}/{custom}"
            if target.get("type") == "Value" and target.get("value") is not None:
                return MetricFailure(
                    "FailedGetObjectMetric", detail, f"failed to get object metric value: {detail}"
                )
            if target.get("type") == "AverageValue" and target.get("averageValue") is not None:
                wrapped = f"failed to get {name} object metric: {detail}"
                return MetricFailure(
                    "FailedGetObjectMetric", detail, f"failed to get object metric value: {wrapped}"
                )
            detail = (
                "invalid object metric source: neither a value target nor an average value target was set"
            )
            return MetricFailure(
                "FailedGetObjectMetric", detail, f"failed to get object metric value: {detail}"
            )
        source = metric_spec.get("external") or {}
        metric = source.get("metric") or {}
        name = metric.get("name", "")
        target = source.get("target") or {}
        detail = (
            f"unable to get external metric {namespace}/{name}/{go_label_selector(metric.get('selector'))}: "
            f"unable to fetch metrics from external metrics API: {NO_EXTERNAL_METRICS_API}"
        )
        if target.get("averageValue") is not None:
            wrapped = f"failed to get {name} external metric: {detail}"
        elif target.get("value") is not None:
            wrapped = f"failed to get external metric {name}: {detail}"
        else:
            detail = (
                "invalid external metric source: neither a value target nor an average value target was set"
            )
            wrapped = detail
        return MetricFailure(
            "FailedGetExternalMetric", detail, f"failed to get {name} external metric value: {wrapped}"
        )

    # ------------------------------------------------------------------ normalization
    def _normalize(
        self,
        status: Obj,
        history: History,
        current: int,
        desired: int,
        minimum: int,
        maximum: int,
        now_text: str,
    ) -> int:
        """upstream normalizeDesiredReplicas (no behavior)."""
        stabilized = stabilize(history, desired, self.downscale_stabilization, self.clock.monotonic())
        if stabilized != desired:
            set_condition(
                status,
                ABLE_TO_SCALE,
                "True",
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation",
                now_text,
            )
        else:
            set_condition(
                status,
                ABLE_TO_SCALE,
                "True",
                "ReadyForNewScale",
                "recommended size matches current size",
                now_text,
            )
        limited, reason, message = limit(current, stabilized, minimum, maximum)
        set_condition(
            status, SCALING_LIMITED, "False" if limited == stabilized else "True", reason, message, now_text
        )
        return limited

    def _rules(self, behavior: Obj) -> tuple[Obj, Obj]:
        up = rules_with_defaults(behavior.get("scaleUp"), default_scale_up_rules())
        down = rules_with_defaults(
            behavior.get("scaleDown"), default_scale_down_rules(int(self.downscale_stabilization))
        )
        return up, down

    def _normalize_with_behavior(
        self,
        status: Obj,
        history: History,
        behavior: Obj,
        current: int,
        desired: int,
        minimum: int,
        maximum: int,
        now_text: str,
    ) -> int:
        """upstream normalizeDesiredReplicasWithBehaviors."""
        up, down = self._rules(behavior)
        now = self.clock.monotonic()
        stabilized, reason, message = stabilize_with_behavior(
            history,
            desired,
            current,
            float(up.get("stabilizationWindowSeconds") or 0),
            float(down.get("stabilizationWindowSeconds") or 0),
            now,
        )
        if stabilized != desired:
            set_condition(status, ABLE_TO_SCALE, "True", reason, message, now_text)
        else:
            set_condition(
                status,
                ABLE_TO_SCALE,
                "True",
                "ReadyForNewScale",
                "recommended size matches current size",
                now_text,
            )
        limited, reason, message = limit_with_behavior(
            current, stabilized, minimum, maximum, history, up, down, now
        )
        set_condition(
            status, SCALING_LIMITED, "False" if limited == stabilized else "True", reason, message, now_text
        )
        return limited

    # ------------------------------------------------------------------ status
    def _set_status(
        self, status: Obj, current: int, desired: int, metric_statuses: list[Obj] | None, rescale: bool
    ) -> None:
        """upstream setStatus: rebuilt from the counts, the metrics and the conditions."""
        conditions = status.get("conditions")
        last_scale = status.get("lastScaleTime")
        status.clear()
        if rescale:
            last_scale = self._now_text()
        if last_scale:
            status["lastScaleTime"] = last_scale
        if current:
            status["currentReplicas"] = current
        status["desiredReplicas"] = desired
        if metric_statuses:
            status["currentMetrics"] = metric_statuses
        if conditions:
            status["conditions"] = conditions

    async def _write_status_if_needed(self, hpa: Obj, original: Obj, status: Obj) -> None:
        if status == original:
            return
        namespace, name = hpa["metadata"].get("namespace") or "", hpa["metadata"]["name"]
        resource = self.hpa_client.namespace(namespace)
        updated = deep_copy(hpa)
        updated["status"] = status
        try:
            try:
                await resource.update_status(updated)
            except StatusError as err:
                if err.code != 409:
                    raise
                fresh = await resource.get(name)
                fresh["status"] = status
                await resource.update_status(fresh)
        except StatusError as err:
            self._event(hpa, WARNING, "FailedUpdateStatus", err.message)
            raise ReconcileError(f"failed to update status for {name}: {err.message}") from err
