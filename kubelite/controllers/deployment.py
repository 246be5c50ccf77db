"""The Deployment controller as upstream's pkg/controller/deployment: claims ReplicaSets, keeps a
new ReplicaSet `<deployment>-<pod-template-hash>` for the current template (reusing and
renumbering an old one whose template matches: that is how `rollout undo` works), rolls out with
RollingUpdate (maxSurge/maxUnavailable) or Recreate, scales proportionally on a replicas change,
honours paused, cleans up beyond revisionHistoryLimit, and writes the status and the
Available/Progressing conditions `kubectl rollout status` reads.

Must not touch pods (the ReplicaSet controller does), nor mutate cached objects.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import StatusError
from kubelite.api.labels import LabelSelectorError, selector_from_spec
from kubelite.client.cache import OWNER_UID_INDEX, index_by_owner_uid, split_key
from kubelite.client.client import Client
from kubelite.client.clock import Clock
from kubelite.controllers import deploymentutil as du
from kubelite.controllers.base import Controller
from kubelite.controllers.events import NORMAL, WARNING, EventRecorder
from kubelite.controllers.ownership import (
    claim,
    controller_ref,
    fresh_owner_check,
    is_deleting,
    new_controller_ref,
)
from kubelite.controllers.podutil import is_active, is_available
from kubelite.controllers.replicaset import deep_copy

Obj = dict[str, Any]

COMPONENT = "deployment-controller"
KIND = "Deployment"
API_VERSION = "apps/v1"


class DeploymentController(Controller):
    def __init__(
        self,
        client: Client,
        *,
        workers: int = 5,
        clock: Clock | None = None,
        recorder: EventRecorder | None = None,
    ):
        super().__init__(client, name=COMPONENT, workers=workers, clock=clock)
        self.deployments_client = client.resource("apps", "v1", "deployments")
        self.rs_client = client.resource("apps", "v1", "replicasets")
        self.recorder = self.event_recorder(recorder, COMPONENT)
        self.deployments = self.informer("apps", "v1", "deployments")
        self.replica_sets = self.informer("apps", "v1", "replicasets")
        self.pods = self.informer("", "v1", "pods", indexers={OWNER_UID_INDEX: index_by_owner_uid})
        self.deployments.add_handler(self.enqueue, lambda _old, new: self.enqueue(new), self.enqueue)
        self.replica_sets.add_handler(self._rs_changed, self._rs_updated, self._rs_changed)
        self.pods.add_handler(on_delete=self._pod_deleted)

    # ------------------------------------------------------------------ handlers
    def _owner_of(self, rs: Obj) -> Obj | None:
        ref = controller_ref(rs)
        if ref is None or ref.get("kind") != KIND:
            return None
        found = self.deployments.cache.get_by_name(rs["metadata"].get("namespace") or "", ref.get("name", ""))
        if found is None or found["metadata"].get("uid") != ref.get("uid"):
            return None
        return found

    def _rs_changed(self, rs: Obj) -> None:
        owner = self._owner_of(rs)
        if owner is not None:
            self.enqueue(owner)
            return
        if controller_ref(rs) is None:
            labels = rs["metadata"].get("labels") or {}
            for deployment in self.deployments.cache.list_namespace(rs["metadata"].get("namespace") or ""):
                try:
                    selector = selector_from_spec(deployment["spec"].get("selector"))
                except LabelSelectorError:
                    continue
                if not selector.is_empty and selector.matches(labels):
                    self.enqueue(deployment)

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        if controller_ref(old) != controller_ref(new):
            previous = self._owner_of(old)
            if previous is not None:
                self.enqueue(previous)
        self._rs_changed(new)

    def _pod_deleted(self, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replica_sets.cache.get_by_name(pod["metadata"].get("namespace") or "", ref.get("name", ""))
        if rs is None:
            return
        owner = self._owner_of(rs)
        if owner is not None and not du.is_rolling_update(owner):
            self.enqueue(owner)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        cached = self.deployments.cache.get(key)
        if cached is None:
            return
        d = deep_copy(cached)
        namespace, _name = split_key(key)
        selector = selector_from_spec(d["spec"].get("selector"))
        if selector.is_empty:
            self._event(
                d,
                WARNING,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.",
            )
            if (d.get("status") or {}).get("observedGeneration", 0) < d["metadata"].get("generation", 0):
                d.setdefault("status", {})["observedGeneration"] = d["metadata"].get("generation", 0)
                await self._write_status(d, d["status"])
            return
        ref = new_controller_ref(d, API_VERSION, KIND)
        candidates = self.replica_sets.cache.list_namespace(namespace)
        rs_list = await claim(
            self.rs_client, d, ref, selector, candidates, fresh_owner_check(self.deployments_client, d)
        )
        rs_list = [deep_copy(rs) for rs in rs_list]
        if is_deleting(d):
            new_rs, old_rss = await self._new_and_old(d, rs_list, create=False)
            await self._sync_status(d, [*old_rss, new_rs], new_rs)
            return
        await self._check_paused_conditions(d)
        if d["spec"].get("paused"):
            await self._sync_scale(d, rs_list)
            return
        if await self._is_scaling_event(d, rs_list):
            await self._sync_scale(d, rs_list)
            return
        if du.is_rolling_update(d):
            await self._rollout_rolling(d, rs_list)
        else:
            await self._rollout_recreate(d, rs_list)

    # ------------------------------------------------------------------ new and old ReplicaSets
    async def _new_and_old(self, d: Obj, rs_list: list[Obj], *, create: bool) -> tuple[Obj | None, list[Obj]]:
        existing = du.find_new_replica_set(d, rs_list)
        old_rss = [rs for rs in rs_list if rs is not existing]
        new_revision = str(du.max_revision(old_rss) + 1)
        now = self.clock.time()
        if existing is not None:
            updated = deep_copy(existing)
            changed = du.set_new_rs_annotations(d, updated, new_revision, True)
            min_ready = d["spec"].get("minReadySeconds") or 0
            if changed or (updated["spec"].get("minReadySeconds") or 0) != min_ready:
                updated["spec"]["minReadySeconds"] = min_ready
                return await self._update_rs(updated), old_rss
            status = d.setdefault("status", {})
            needs_update = await self._sync_revision(d, du.annotations_of(updated).get(du.REVISION, ""))
            if du.has_progress_deadline(d) and du.condition(status, du.PROGRESSING) is None:
                message = f'Found new replica set "{updated["metadata"]["name"]}"'
                du.set_condition(
                    status, du.new_condition(du.PROGRESSING, "True", du.FOUND_NEW_RS, message, now)
                )
                needs_update = True
            if needs_update:
                await self._write_status(d, status)
            return updated, old_rss
        if not create:
            return None, old_rss
        return await self._create_new_rs(d, old_rss, new_revision), old_rss

    async def _create_new_rs(self, d: Obj, old_rss: list[Obj], new_revision: str) -> Obj:
        status = d.setdefault("status", {})
        template = deep_copy(d["spec"]["template"])
        hash_value = du.pod_template_hash(d["spec"]["template"], status.get("collisionCount"))
        template.setdefault("metadata", {})
        template["metadata"]["labels"] = {
            **(template["metadata"].get("labels") or {}),
            du.POD_TEMPLATE_HASH: hash_value,
        }
        selector = deep_copy(d["spec"]["selector"])
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), du.POD_TEMPLATE_HASH: hash_value}
        name = f"{d['metadata']['name']}-{hash_value}"
        new_rs: Obj = {
            "apiVersion": API_VERSION,
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": d["metadata"]["namespace"],
                "ownerReferences": [new_controller_ref(d, API_VERSION, KIND)],
                "labels": dict(template["metadata"]["labels"]),
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": d["spec"].get("minReadySeconds") or 0,
                "selector": selector,
                "template": template,
            },
        }
        count = du.new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        new_rs["spec"]["replicas"] = count
        du.set_new_rs_annotations(d, new_rs, new_revision, False)
        now = self.clock.time()
        already_exists = False
        try:
            created = await self.rs_client.namespace(d["metadata"]["namespace"]).create(new_rs)
        except StatusError as err:
            if err.code == 409:
                found = await self.rs_client.namespace(d["metadata"]["namespace"]).get(name)
                ref = controller_ref(found)
                if (
                    ref
                    and ref.get("uid") == d["metadata"]["uid"]
                    and du.equal_ignore_hash(found["spec"]["template"], d["spec"]["template"])
                ):
                    created, already_exists = found, True
                else:
                    status["collisionCount"] = (status.get("collisionCount") or 0) + 1
                    await self._write_status(d, status)
                    raise
            else:
                message = f'Failed to create new replica set "{name}": {err.message}'
                if du.has_progress_deadline(d):
                    du.set_condition(
                        status, du.new_condition(du.PROGRESSING, "False", du.FAILED_RS_CREATE, message, now)
                    )
                    await self._write_status(d, status)
                self._event(d, WARNING, du.FAILED_RS_CREATE, message)
                raise
        if not already_exists and count > 0:
            self._event(d, NORMAL, "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {count}")
        needs_update = await self._sync_revision(d, new_revision)
        if not already_exists and du.has_progress_deadline(d):
            message = f'Created new replica set "{name}"'
            du.set_condition(
                status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_CREATED, message, now)
            )
            needs_update = True
        if needs_update:
            await self._write_status(d, status)
        return created

    async def _sync_revision(self, d: Obj, revision: str) -> bool:
        """Set the deployment's revision annotation (its own patch: a status write keeps no
        metadata here). Returns whether the status should be written too, as upstream does."""
        if not revision or du.annotations_of(d).get(du.REVISION) == revision:
            return False
        patch = {"metadata": {"annotations": {du.REVISION: revision}}}
        patched = await self.deployments_client.namespace(d["metadata"]["namespace"]).patch(
            d["metadata"]["name"], patch, "merge"
        )
        d["metadata"] = patched["metadata"]
        return True

    # ------------------------------------------------------------------ scaling ReplicaSets
    async def _update_rs(self, rs: Obj) -> Obj:
        return await self.rs_client.namespace(rs["metadata"]["namespace"]).update(rs)

    async def _scale_rs(self, rs: Obj, new_scale: int, d: Obj, operation: str) -> tuple[bool, Obj]:
        size_changed = du.replicas(rs) != new_scale
        desired, maximum = du.replicas(d), du.replicas(d) + du.max_surge(d)
        if not size_changed and not du.replicas_annotations_need_update(rs, desired, maximum):
            return False, rs
        old_scale = du.replicas(rs)
        updated = deep_copy(rs)
        updated["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(updated, desired, maximum)
        result = await self._update_rs(updated)
        if size_changed:
            self._event(
                d,
                NORMAL,
                "ScalingReplicaSet",
                f"Scaled {operation} replica set {rs['metadata']['name']} from {old_scale} to {new_scale}",
            )
        return size_changed, result

    async def _scale_and_record(self, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
        if du.replicas(rs) == new_scale:
            return False, rs
        return await self._scale_rs(rs, new_scale, d, "up" if du.replicas(rs) < new_scale else "down")

    # ------------------------------------------------------------------ rolling update
    async def _rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = await self._new_and_old(d, rs_list, create=True)
        assert new_rs is not None
        all_rss: list[Obj | None] = [*old_rss, new_rs]
        scaled, new_rs = await self._reconcile_new_rs(all_rss, new_rs, d)
        if scaled:
            await self._sync_rollout_status(d, [*old_rss, new_rs], new_rs)
            return
        scaled, old_rss = await self._reconcile_old_rss(
            [*old_rss, new_rs], du.active(old_rss), old_rss, new_rs, d
        )
        if scaled:
            await self._sync_rollout_status(d, [*old_rss, new_rs], new_rs)
            return
        if du.deployment_complete(d, d.get("status") or {}):
            await self._cleanup(d, old_rss)
        await self._sync_rollout_status(d, [*old_rss, new_rs], new_rs)

    async def _reconcile_new_rs(self, all_rss: list[Obj | None], new_rs: Obj, d: Obj) -> tuple[bool, Obj]:
        want = du.replicas(d)
        if du.replicas(new_rs) == want:
            return False, new_rs
        if du.replicas(new_rs) > want:
            return await self._scale_and_record(new_rs, want, d)
        return await self._scale_and_record(new_rs, du.new_rs_new_replicas(d, all_rss, new_rs), d)

    async def _reconcile_old_rss(
        self, all_rss: list[Obj], active_old: list[Obj], old_rss: list[Obj], new_rs: Obj, d: Obj
    ) -> tuple[bool, list[Obj]]:
        if du.total_replicas(active_old) == 0:
            return False, old_rss
        min_available = du.replicas(d) - du.max_unavailable(d)
        new_unavailable = du.replicas(new_rs) - self._available(new_rs, d)
        max_scaled_down = du.total_replicas(all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False, old_rss
        replaced: dict[str, Obj] = {}
        # first scale down old ReplicaSets' unhealthy replicas
        cleaned = 0
        for rs in du.by_creation(active_old):
            if cleaned >= max_scaled_down:
                break
            want, available = du.replicas(rs), self._available(rs, d)
            if want == 0 or want <= available:
                # no unhealthy replicas; a status that still counts pods of a larger scale must
                # never turn this clean-up into a scale-up (upstream refuses that case too)
                continue
            step = min(max_scaled_down - cleaned, want - available)
            _scaled, replaced[rs["metadata"]["name"]] = await self._scale_and_record(rs, want - step, d)
            cleaned += step
        active_old = [replaced.get(rs["metadata"]["name"], rs) for rs in active_old]
        # then scale down healthy ones as far as availability allows
        scaled_down = 0
        available_total = sum(self._available(rs, d) for rs in [*active_old, new_rs])
        if available_total > min_available:
            budget = available_total - min_available
            for rs in du.by_creation(active_old):
                if scaled_down >= budget:
                    break
                if du.replicas(rs) == 0:
                    continue
                step = min(du.replicas(rs), budget - scaled_down)
                _scaled, replaced[rs["metadata"]["name"]] = await self._scale_and_record(
                    rs, du.replicas(rs) - step, d
                )
                scaled_down += step
        return cleaned + scaled_down > 0, [replaced.get(rs["metadata"]["name"], rs) for rs in old_rss]

    def _available(self, rs: Obj, d: Obj) -> int:
        """A ReplicaSet's available pods for scale-down decisions: its status, but never more than
        the available pods not being deleted in the pod cache — the status still counts pods its
        controller deleted a moment ago, and trusting it scales old sets below maxUnavailable."""
        min_ready = d["spec"].get("minReadySeconds") or 0
        now = self.clock.time()
        live = sum(
            1
            for pod in self.pods.cache.by_index(OWNER_UID_INDEX, rs["metadata"]["uid"])
            if is_active(pod) and is_available(pod, min_ready, now)
        )
        return min(du.status_of(rs, "availableReplicas"), live)

    # ------------------------------------------------------------------ recreate
    async def _rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = await self._new_and_old(d, rs_list, create=False)
        scaled = False
        replaced: dict[str, Obj] = {}
        for rs in du.active(old_rss):
            _changed, replaced[rs["metadata"]["name"]] = await self._scale_and_record(rs, 0, d)
            scaled = True
        old_rss = [replaced.get(rs["metadata"]["name"], rs) for rs in old_rss]
        if scaled or self._old_pods_running(new_rs, old_rss):
            await self._sync_rollout_status(d, [*old_rss, new_rs], new_rs)
            return
        if new_rs is None:
            new_rs, old_rss = await self._new_and_old(d, rs_list, create=True)
            assert new_rs is not None
        _changed, new_rs = await self._scale_and_record(new_rs, du.replicas(d), d)
        if du.deployment_complete(d, d.get("status") or {}):
            await self._cleanup(d, old_rss)
        await self._sync_rollout_status(d, [*old_rss, new_rs], new_rs)

    def _old_pods_running(self, new_rs: Obj | None, old_rss: list[Obj]) -> bool:
        if du.total_status(old_rss, "replicas") > 0:
            return True
        for rs in old_rss:
            for pod in self.pods.cache.by_index(OWNER_UID_INDEX, rs["metadata"]["uid"]):
                if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                    return True
        return False

    # ------------------------------------------------------------------ scaling and pause
    async def _is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        new_rs, old_rss = await self._new_and_old(d, rs_list, create=False)
        for rs in du.active([*old_rss, new_rs]):
            desired = du.annotations_of(rs).get(du.DESIRED_REPLICAS)
            if desired is not None and desired.isdigit() and int(desired) != du.replicas(d):
                return True
        return False

    async def _sync_scale(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = await self._new_and_old(d, rs_list, create=False)
        new_rs, old_rss = await self._scale(d, new_rs, old_rss)
        if d["spec"].get("paused"):
            await self._cleanup(d, old_rss)
        await self._sync_status(d, [*old_rss, new_rs], new_rs)

    async def _scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> tuple[Obj | None, list[Obj]]:
        """Proportional scaling (upstream `scale`)."""
        want = du.replicas(d)
        active_or_latest = self._active_or_latest(new_rs, old_rss)
        if active_or_latest is not None:
            if du.replicas(active_or_latest) != want:
                _scaled, updated = await self._scale_and_record(active_or_latest, want, d)
                return self._swap(new_rs, old_rss, updated)
            return new_rs, old_rss
        if self._saturated(d, new_rs):
            for rs in du.active(old_rss):
                _scaled, updated = await self._scale_and_record(rs, 0, d)
                new_rs, old_rss = self._swap(new_rs, old_rss, updated)
            return new_rs, old_rss
        if not du.is_rolling_update(d):
            return new_rs, old_rss
        all_active = du.active([*old_rss, new_rs])
        allowed = want + du.max_surge(d) if want > 0 else 0
        to_add = allowed - du.total_replicas(all_active)
        operation = ""
        if to_add > 0:
            all_active.sort(key=lambda rs: (-du.replicas(rs), -_created(rs), rs["metadata"]["name"]))
            operation = "up"
        elif to_add < 0:
            all_active.sort(key=lambda rs: (-du.replicas(rs), _created(rs), rs["metadata"]["name"]))
            operation = "down"
        sizes: dict[str, int] = {}
        added = 0
        for rs in all_active:
            if to_add != 0:
                proportion = self._proportion(rs, d, to_add, added)
                sizes[rs["metadata"]["name"]] = du.replicas(rs) + proportion
                added += proportion
            else:
                sizes[rs["metadata"]["name"]] = du.replicas(rs)
        for index, rs in enumerate(all_active):
            name = rs["metadata"]["name"]
            if index == 0 and to_add != 0:
                sizes[name] = max(sizes[name] + to_add - added, 0)
            _scaled, updated = await self._scale_rs(rs, sizes[name], d, operation)
            new_rs, old_rss = self._swap(new_rs, old_rss, updated)
        return new_rs, old_rss

    @staticmethod
    def _swap(new_rs: Obj | None, old_rss: list[Obj], updated: Obj) -> tuple[Obj | None, list[Obj]]:
        name = updated["metadata"]["name"]
        if new_rs is not None and new_rs["metadata"]["name"] == name:
            return updated, old_rss
        return new_rs, [updated if rs["metadata"]["name"] == name else rs for rs in old_rss]

    @staticmethod
    def _active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
        if new_rs is None and not old_rss:
            return None
        newest_old = du.by_creation(old_rss, newest_first=True)
        all_active = du.active([*newest_old, new_rs])
        if not all_active:
            return new_rs if new_rs is not None else newest_old[0]
        if len(all_active) == 1:
            return all_active[0]
        return None

    @staticmethod
    def _saturated(d: Obj, rs: Obj | None) -> bool:
        if rs is None:
            return False
        desired = du.annotations_of(rs).get(du.DESIRED_REPLICAS)
        want = du.replicas(d)
        return (
            desired == str(want) and du.status_of(rs, "availableReplicas") == want and du.replicas(rs) == want
        )

    @staticmethod
    def _proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
        if du.replicas(rs) == 0 or to_add == 0 or to_add == added:
            return 0
        if du.replicas(d) == 0:
            fraction = -du.replicas(rs)
        else:
            total = du.replicas(d) + du.max_surge(d)
            annotated_text = du.annotations_of(rs).get(du.MAX_REPLICAS, "")
            annotated = int(annotated_text) if annotated_text.isdigit() else du.status_of(d, "replicas")
            fraction = (round(du.replicas(rs) * total / annotated) if annotated else 0) - du.replicas(rs)
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    async def _check_paused_conditions(self, d: Obj) -> None:
        if not du.has_progress_deadline(d):
            return
        status = d.setdefault("status", {})
        current = du.condition(status, du.PROGRESSING)
        if current is not None and current.get("reason") == du.TIMED_OUT:
            return
        paused_exists = current is not None and current.get("reason") == du.PAUSED
        now = self.clock.time()
        if d["spec"].get("paused") and not paused_exists:
            du.set_condition(
                status, du.new_condition(du.PROGRESSING, "Unknown", du.PAUSED, "Deployment is paused", now)
            )
        elif not d["spec"].get("paused") and paused_exists:
            du.set_condition(
                status, du.new_condition(du.PROGRESSING, "Unknown", du.RESUMED, "Deployment is resumed", now)
            )
        else:
            return
        await self._write_status(d, status)

    # ------------------------------------------------------------------ cleanup
    async def _cleanup(self, d: Obj, old_rss: list[Obj]) -> None:
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old_rss if not is_deleting(rs)]
        surplus = len(alive) - limit
        if surplus <= 0:
            return
        for rs in du.by_revision(alive)[:surplus]:
            meta = rs["metadata"]
            if (
                du.status_of(rs, "replicas") != 0
                or du.replicas(rs) != 0
                or (meta.get("generation") or 0) > du.status_of(rs, "observedGeneration")
            ):
                continue
            try:
                await self.rs_client.namespace(meta["namespace"]).delete(
                    meta["name"], uid=meta.get("uid", "")
                )
            except StatusError as err:
                if err.code != 404:
                    raise

    # ------------------------------------------------------------------ status
    async def _write_status(self, d: Obj, status: Obj) -> None:
        body = {**d, "status": du.public_status(status)}
        written = await self.deployments_client.namespace(d["metadata"]["namespace"]).update_status(body)
        d["metadata"] = written["metadata"]
        d["status"] = written.get("status") or {}

    async def _sync_status(self, d: Obj, all_rss: list[Obj | None], new_rs: Obj | None) -> None:
        status = du.calculate_status(d, all_rss, new_rs, self.clock.time())
        if du.public_status(status) != du.public_status(d.get("status") or {}):
            await self._write_status(d, status)

    async def _sync_rollout_status(self, d: Obj, all_rss: list[Obj | None], new_rs: Obj | None) -> None:
        now = self.clock.time()
        status = du.calculate_status(d, all_rss, new_rs, now)
        if not du.has_progress_deadline(d):
            du.remove_condition(status, du.PROGRESSING)
        current = du.condition(d.get("status") or {}, du.PROGRESSING)
        complete = (
            status.get("replicas") == status.get("updatedReplicas")
            and current is not None
            and current.get("reason") == du.NEW_RS_AVAILABLE
        )
        if du.has_progress_deadline(d) and not complete:
            name = new_rs["metadata"]["name"] if new_rs is not None else ""
            if du.deployment_complete(d, status):
                message = (
                    f'ReplicaSet "{name}" has successfully progressed.'
                    if new_rs
                    else "Deployment has successfully progressed."
                )
                du.set_condition(
                    status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_AVAILABLE, message, now)
                )
            elif du.deployment_progressing(d, status):
                message = f'ReplicaSet "{name}" is progressing.' if new_rs else "Deployment is progressing."
                progressing = du.new_condition(du.PROGRESSING, "True", du.RS_UPDATED, message, now)
                if current is not None:
                    if current.get("status") == "True":
                        progressing["lastTransitionTime"] = current.get("lastTransitionTime")
                    du.remove_condition(status, du.PROGRESSING)
                du.set_condition(status, progressing)
            elif du.deployment_timed_out(d, status, now):
                message = (
                    f'ReplicaSet "{name}" has timed out progressing.'
                    if new_rs
                    else f'Deployment "{d["metadata"]["name"]}" has timed out progressing.'
                )
                du.set_condition(
                    status, du.new_condition(du.PROGRESSING, "False", du.TIMED_OUT, message, now)
                )
        failures = [
            c
            for rs in all_rss
            if rs is not None
            for c in (rs.get("status") or {}).get("conditions") or ()
            if c.get("type") == du.REPLICA_FAILURE
        ]
        if failures:
            failure = failures[0]
            du.set_condition(
                status,
                du.new_condition(
                    du.REPLICA_FAILURE,
                    failure.get("status", "True"),
                    failure.get("reason", ""),
                    failure.get("message", ""),
                    now,
                ),
            )
        else:
            du.remove_condition(status, du.REPLICA_FAILURE)
        if du.public_status(status) == du.public_status(d.get("status") or {}):
            self._requeue_stuck(d, status, now)
            return
        await self._write_status(d, status)

    def _requeue_stuck(self, d: Obj, status: Obj, now: float) -> None:
        current = du.condition(d.get("status") or {}, du.PROGRESSING)
        if (
            not du.has_progress_deadline(d)
            or current is None
            or current.get("reason") in (du.NEW_RS_AVAILABLE, du.TIMED_OUT)
        ):
            return
        if du.deployment_complete(d, status):
            return
        since = du.parse_time(current.get("lastUpdateTime") or "")
        after = since + d["spec"]["progressDeadlineSeconds"] - now
        if after < 1.0:
            self.enqueue_rate_limited(d)
        else:
            self.enqueue_after(d, after + 1.0)

    def _event(self, d: Obj, event_type: str, reason: str, message: str) -> None:
        self.recorder.event(d, event_type, reason, message, kind=KIND, api_version=API_VERSION)


def _created(rs: Obj) -> float:
    return du.creation_time(rs)


__all__ = ["DeploymentController"]
