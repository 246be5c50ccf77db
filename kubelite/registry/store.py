"""The one generic Store: create, get, list, watch, update, patch, delete for any resource, with the
resource's Strategy deciding what is kind-specific. Status and scale subresources go through the
same paths with other preparation steps.

Must not know about HTTP; speaks dicts, raises StatusError.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import copy
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from kubelite.api import errors
from kubelite.api.apply import apply_patch, default_reset_fields, track_update
from kubelite.api.fieldpath import FieldSet, Shapes
from kubelite.api.fields import FieldSelector, parse_field_selector
from kubelite.api.jsonpatch import apply_json_patch
from kubelite.api.jsonvalue import copy_json, json_equal
from kubelite.api.labels import LabelSelector, parse_label_selector
from kubelite.api.mergepatch import apply_merge_patch
from kubelite.api.strategic import apply_strategic_merge_patch
from kubelite.registry.admission import AdmissionRequest
from kubelite.registry.context import RequestContext
from kubelite.registry.fieldselectors import field_getters
from kubelite.registry.objectschema import ObjectSchema
from kubelite.registry.strategy import Strategy, now_rfc3339
from kubelite.registry.watchcache import ResourceCache, WatchCache, Watcher, decode_value
from kubelite.schema.catalogue import ResourceInfo
from kubelite.storage.backend import (
    Backend,
    CompactedError,
    KeyExistsError,
    KeyNotFoundError,
    RevisionMismatchError,
)

if TYPE_CHECKING:
    from kubelite.registry.registry import Registry

Obj = dict[str, Any]

MAX_OBJECT_BYTES = 1536 * 1024  # etcd's default request limit, as upstream
UPDATE_RETRIES = 8
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_CONTINUE_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list."
)


@dataclass(slots=True)
class ListOptions:
    label_selector: str = ""
    field_selector: str = ""
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""


@dataclass(slots=True)
class ListResult:
    items: list[Obj]
    resource_version: str
    continue_token: str = ""
    remaining: int | None = None


PROPAGATION_POLICIES = ("", "Orphan", "Background", "Foreground")


@dataclass(slots=True)
class DeleteOptions:
    propagation_policy: str = ""
    grace_period_seconds: int | None = None
    precondition_uid: str = ""
    precondition_rv: str = ""

    def validate(self) -> None:
        """422 for a propagation policy upstream does not know."""
        if self.propagation_policy not in PROPAGATION_POLICIES:
            raise errors.invalid(
                "DeleteOptions",
                "",
                "",
                [
                    errors.cause(
                        "propagationPolicy",
                        f'Unsupported value: "{self.propagation_policy}": supported values: '
                        '"Foreground", "Background", "Orphan", "nil"',
                        "FieldValueNotSupported",
                    )
                ],
            )


class Store:
    """CRUD + watch for one resource version, in terms of its Strategy and ObjectSchema."""

    def __init__(
        self,
        info: ResourceInfo,
        strategy: Strategy,
        schema: ObjectSchema,
        backend: Backend,
        watch_cache: WatchCache,
        registry: Registry,
        storage_version: str | None = None,
        convert: Callable[[Obj, str], Obj] | None = None,
    ):
        self.info = info
        self.strategy = strategy
        self.schema = schema
        self.backend = backend
        self.watch_cache = watch_cache
        self.registry = registry
        self.prefix = info.storage_prefix()
        self.storage_version = storage_version or info.api_version
        self._convert = convert if self.storage_version != info.api_version else None
        self._fields = field_getters(info.group, info.resource)
        self._shapes = Shapes(schema.node, builtin=not info.crd) if schema.node is not None else None

    # ------------------------------------------------------------------ managed fields
    def _reset_fields(self, subresource: str) -> FieldSet:
        if self.info.crd and not self.strategy.has_status:
            return FieldSet()
        return default_reset_fields(subresource)

    def _track(self, old: Obj | None, new: Obj, ctx: RequestContext, subresource: str = "") -> Obj:
        if self._shapes is None:
            return new
        return track_update(
            old,
            new,
            manager=ctx.manager(),
            schema=self._shapes,  # type: ignore[arg-type]
            api_version=self.info.api_version,
            now=now_rfc3339(),
            subresource=subresource,
            reset_fields=self._reset_fields(subresource),
            builtin_kind=not self.info.crd,
        )

    def _apply(self, live: Obj | None, config: Obj, ctx: RequestContext, force: bool, subresource: str = "") -> Obj:
        if self._shapes is None:
            raise errors.StatusError(415, "UnsupportedMediaType", "apply patches are not supported for this resource")
        if not ctx.field_manager:
            raise errors.invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                [errors.cause("fieldManager", "Required value: is required for apply patch", "FieldValueRequired")],
            )
        return apply_patch(
            live,
            config,
            manager=ctx.field_manager,
            schema=self._shapes,  # type: ignore[arg-type]
            force=force,
            api_version=self.info.api_version,
            now=now_rfc3339(),
            subresource=subresource,
            reset_fields=self._reset_fields(subresource),
            builtin_kind=not self.info.crd,
        )

    # ------------------------------------------------------------------ keys and encoding
    def key(self, namespace: str, name: str) -> str:
        return f"{self.prefix}{namespace}/{name}" if self.info.namespaced else f"{self.prefix}{name}"

    @property
    def cache(self) -> ResourceCache:
        return self.watch_cache.cache(self.prefix)

    def to_external(self, stored: Obj, copy: bool = False) -> Obj:
        """The stored form as this version presents it: a fresh top-level dict, sharing nested
        values with the cache unless `copy` (then the caller owns all of it and may mutate it)."""
        if copy:
            stored = copy_json(stored)
        if self._convert is not None:
            return self._convert(stored, self.info.api_version)
        obj = dict(stored)
        obj["apiVersion"] = self.info.api_version
        obj["kind"] = self.info.kind
        return obj

    def _to_storage(self, obj: Obj) -> bytes:
        if self._convert is not None:
            obj = self._convert(obj, self.storage_version)
        else:
            obj = dict(obj)
            obj["apiVersion"] = self.storage_version
        meta = dict(obj.get("metadata", {}))
        meta.pop("resourceVersion", None)
        obj["metadata"] = meta
        data = orjson.dumps(obj)
        if len(data) > MAX_OBJECT_BYTES:
            raise errors.too_large("Request entity too large: limit is 3145728")
        return data

    def _not_found(self, name: str) -> errors.StatusError:
        return errors.not_found(self.info.resource, self.info.group, name)

    # ------------------------------------------------------------------ reads
    async def get(self, namespace: str, name: str, resource_version: str = "", copy: bool = True) -> Obj:
        if resource_version == "":
            await self.watch_cache.wait_fresh()
        elif resource_version != "0":
            await self._wait_rv(resource_version)
        obj = self.cache.get(namespace if self.info.namespaced else "", name)
        if obj is None:
            raise self._not_found(name)
        return self.to_external(obj, copy)

    async def _wait_rv(self, resource_version: str) -> None:
        try:
            rv = int(resource_version)
        except ValueError:
            raise errors.bad_request(f'invalid resource version "{resource_version}"') from None
        try:
            await self.watch_cache.wait_for(rv, timeout=3.0)
        except TimeoutError:
            raise errors.timeout(f"Too large resource version: {rv}, current: {self.watch_cache.revision}") from None

    def predicate(self, label: str, field: str) -> Callable[[Obj], bool] | None:
        labels = parse_label_selector(label) if label else None
        fields = parse_field_selector(field) if field else None
        if fields is not None:
            for fname, _op, _value in fields.requirements:
                if fname not in self._fields:
                    if len(self._fields) > 2:  # kinds with their own field label conversion
                        raise errors.bad_request(f"field label not supported: {fname}")
                    raise errors.bad_request(
                        f'"{fname}" is not a known field selector: only "metadata.name", "metadata.namespace"'
                    )
        if labels is not None and labels.is_empty:
            labels = None
        if fields is not None and fields.is_empty:
            fields = None
        if labels is None and fields is None:
            return None
        return _make_predicate(labels, fields, self._fields)

    async def list(self, namespace: str | None, opts: ListOptions, copy: bool = True) -> ListResult:
        ns = namespace if self.info.namespaced else None
        pred = self.predicate(opts.label_selector, opts.field_selector)
        if opts.continue_token:
            return await self._list_continue(ns, opts, pred)
        if opts.resource_version_match == "Exact" and opts.resource_version:
            return await self._list_from_backend(ns, opts, pred, int(opts.resource_version), "")
        if opts.resource_version == "":
            await self.watch_cache.wait_fresh()
        elif opts.resource_version != "0":
            await self._wait_rv(opts.resource_version)
        revision = self.watch_cache.revision
        items: list[Obj] = []
        limit = opts.limit if opts.limit > 0 and opts.resource_version != "0" else 0
        cont = ""
        remaining: int | None = None
        cache = self.cache
        last_key = ""
        for index, (ns_name, name, obj) in enumerate(cache.iter_sorted(ns)):
            if pred is not None and not pred(obj):
                continue
            if limit and len(items) == limit:
                cont = _encode_continue(revision, last_key)
                if pred is None:
                    total = cache.count if ns is None else len(cache.by_namespace.get(ns, {}))
                    remaining = total - index
                break
            items.append(self.to_external(obj, copy))
            last_key = f"{ns_name}/{name}" if self.info.namespaced else name
        return ListResult(items, str(revision), cont, remaining)

    async def _list_continue(self, ns: str | None, opts: ListOptions, pred: Callable[[Obj], bool] | None) -> ListResult:
        revision, start = _decode_continue(opts.continue_token)
        return await self._list_from_backend(ns, opts, pred, revision, start)

    async def _list_from_backend(
        self, ns: str | None, opts: ListOptions, pred: Callable[[Obj], bool] | None, revision: int, start: str
    ) -> ListResult:
        prefix = self.prefix + (f"{ns}/" if ns else "")
        start_after = self.prefix + start if start else ""
        limit = opts.limit if opts.limit > 0 else 0
        page = max(limit, 100) if limit else 0
        items: list[Obj] = []
        while True:
            try:
                result = await self.backend.range(prefix, start_after=start_after, limit=page, revision=revision)
            except CompactedError:
                raise errors.StatusError(410, "Expired", _CONTINUE_TOO_OLD) from None
            for kv in result.items:
                obj = decode_value(kv.value, kv.mod_revision)
                if pred is not None and not pred(obj):
                    start_after = kv.key
                    continue
                if limit and len(items) == limit:
                    # another match exists beyond the page: hand out a token that resumes here
                    resume = start_after[len(self.prefix) :]
                    return ListResult(
                        items,
                        str(revision),
                        _encode_continue(revision, resume),
                        self._remaining_after(ns, resume, revision) if pred is None else None,
                    )
                items.append(self.to_external(obj))
                start_after = kv.key
            if not result.more:
                return ListResult(items, str(revision), "")

    def _remaining_after(self, ns: str | None, resume: str, revision: int) -> int | None:
        """How many objects follow `resume` in a snapshot at `revision`, when the cache still is
        that snapshot (else unknown, and the count is left out)."""
        if self.watch_cache.revision != revision:
            return None
        count = 0
        for ns_name, name, _obj in self.cache.iter_sorted(ns):
            key = f"{ns_name}/{name}" if self.info.namespaced else name
            if key > resume:
                count += 1
        return count

    def watch(
        self, namespace: str | None, opts: ListOptions, send_initial: bool | None = None
    ) -> tuple[Watcher, builtins.list[tuple[str, Obj]]]:
        """Register a watcher; returns it with the events to send first (synthetic ADDED or the
        buffered events after the requested resourceVersion). Synchronous, so nothing slips between."""
        ns = namespace if self.info.namespaced else ""
        pred = self.predicate(opts.label_selector, opts.field_selector)
        cache = self.cache
        rv = opts.resource_version
        initial: list[tuple[str, Obj]] = []
        watcher = Watcher(cache, ns or "", pred)
        if send_initial or (send_initial is None and rv in ("", "0")):
            for _ns, _name, obj in cache.iter_sorted(ns or None):
                if pred is None or pred(obj):
                    initial.append(("ADDED", obj))
        else:
            try:
                revision = int(rv)
            except ValueError:
                raise errors.bad_request(f'invalid resource version "{rv}"') from None
            try:
                events = cache.events_since(revision)
            except CompactedError as exc:
                raise errors.gone(f"too old resource version: {revision} ({exc.compacted})") from None
            for event in events:
                watcher.offer(event)
        cache.watchers.add(watcher)
        return watcher, initial

    # ------------------------------------------------------------------ writes
    async def create(self, namespace: str, obj: Obj, ctx: RequestContext, raw: bytes | None = None) -> Obj:
        obj = self._check_type_meta(obj)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        self._check_namespace(meta, namespace)
        if self.info.namespaced:
            await self.registry.require_namespace_open(namespace, self.info.resource, self.info.group, meta.get("name", ""))
        self.schema.check_decoded(obj, ctx, raw, meta.get("name", ""))
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choices(_NAME_CHARS, k=5))
        await self._admit_new(obj, ctx)
        try:
            return await self._store_new(self._track(None, obj, ctx), ctx)
        finally:
            self.strategy.release(obj, self.registry)

    async def _admit_new(self, obj: Obj, ctx: RequestContext) -> None:
        """Everything between a decoded new object and its storage write: preparation, defaults,
        validation (422) and admission hooks (which may reserve values the caller must release)."""
        self.strategy.prepare_for_create(obj, ctx)
        self.schema.default(obj)
        self.strategy.default(obj)
        admission = AdmissionRequest(self.info, obj, None, ctx, self.registry)
        await self.registry.admission.mutate(admission)
        causes = self.schema.validate(obj) + self.strategy.validate(obj, None)
        if causes:
            raise errors.invalid(self.info.kind, self.info.group, obj["metadata"].get("name", ""), causes)
        await self.strategy.before_create(obj, self.registry, ctx)
        await self._validating_admission(admission, obj)

    async def _admit_update(self, new: Obj, current: Obj, ctx: RequestContext, subresource: str) -> Obj:
        """The update counterpart of `_admit_new`; returns the object to store."""
        if subresource == "status":
            new = self.strategy.prepare_for_status_update(new, current)
        else:
            self.strategy.prepare_for_update(new, current, ctx, subresource)
        self.schema.default(new)
        self.strategy.default(new)
        admission = AdmissionRequest(self.info, new, current, ctx, self.registry, subresource)
        await self.registry.admission.mutate(admission)
        causes = self.schema.validate(new)
        if subresource != "binding":  # binding sets only spec.nodeName, which pod updates may not
            causes += self.strategy.validate(new, current)
        if causes:
            raise errors.invalid(self.info.kind, self.info.group, new["metadata"]["name"], causes)
        if not subresource:
            await self.strategy.before_update(new, current, self.registry, ctx)
        await self._validating_admission(admission, new)
        return new

    async def _validating_admission(self, admission: AdmissionRequest, obj: Obj) -> None:
        """The validating plugins (quota charges here, before the write); a refusal drops what the
        strategy's hooks reserved, since the caller's release never runs."""
        try:
            await self.registry.admission.validate(admission)
        except BaseException:
            self.strategy.release(obj, self.registry)
            raise

    async def _store_new(self, obj: Obj, ctx: RequestContext) -> Obj:
        _drop_empty_meta(obj)
        meta = obj["metadata"]
        name = meta["name"]
        data = self._to_storage(obj)
        if ctx.dry_run:
            if self.cache.get(meta.get("namespace", ""), name) is not None:
                raise errors.already_exists(self.info.resource, self.info.group, name)
            return obj
        try:
            revision = await self.backend.create(self.key(meta.get("namespace", ""), name), data)
        except KeyExistsError:
            raise errors.already_exists(self.info.resource, self.info.group, name) from None
        await self.watch_cache.wait_for(revision)
        meta["resourceVersion"] = str(revision)
        await self.strategy.after_create(obj, self.registry)
        return obj

    def _check_type_meta(self, obj: Any) -> Obj:
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if kind and kind != self.info.kind:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({self.info.api_version})"
                if api_version and api_version != self.info.api_version
                else f'{kind} in version "{self.info.version}" cannot be handled as a {self.info.kind}: '
                f"the kind in the data ({kind}) does not match the expected kind ({self.info.kind})"
            )
        if api_version and api_version != self.info.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({self.info.api_version})"
            )
        obj["apiVersion"] = self.info.api_version
        obj["kind"] = self.info.kind
        return obj

    def _check_namespace(self, meta: Obj, namespace: str) -> None:
        if self.info.namespaced:
            given = meta.get("namespace")
            if given and given != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

    async def update(
        self, namespace: str, name: str, obj: Obj, ctx: RequestContext, raw: bytes | None = None, subresource: str = ""
    ) -> tuple[Obj, bool]:
        """PUT. Returns (object, created)."""
        obj = self._check_type_meta(obj)
        meta = obj.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        self._check_namespace(meta, namespace)
        self.schema.check_decoded(obj, ctx, raw, name)
        rv = meta.get("resourceVersion", "")
        current = self.cache.get(namespace if self.info.namespaced else "", name)
        if current is None:
            await self.watch_cache.wait_fresh()
            current = self.cache.get(namespace if self.info.namespaced else "", name)
        if current is None:
            if self.strategy.allow_create_on_update and not subresource:
                meta.pop("resourceVersion", None)
                return await self.create(namespace, obj, ctx), True
            raise self._not_found(name)
        if rv == "" and not self.strategy.allow_unconditional_update:
            raise errors.invalid(
                self.info.kind,
                self.info.group,
                name,
                [errors.cause("metadata.resourceVersion", "must be specified for an update", "FieldValueInvalid")],
            )
        return await self._update_from(current, obj, ctx, rv, subresource), False

    async def _update_from(self, current: Obj, new: Obj, ctx: RequestContext, rv: str, subresource: str) -> Obj:
        """Apply strategy, validation and managed fields to `new` (a replacement of `current`) and store it."""
        current = self.to_external(current)
        old_meta = current["metadata"]
        name = old_meta["name"]
        if rv and rv != old_meta.get("resourceVersion"):
            raise errors.stale_conflict(self.info.resource, self.info.group, name)
        new = await self._admit_update(new, current, ctx, subresource)
        try:
            return await self._store_update(current, self._track(current, new, ctx, subresource), ctx)
        finally:
            self.strategy.release(new, self.registry)

    async def guaranteed_update(
        self, namespace: str, name: str, mutate: Callable[[Obj], None], ctx: RequestContext, attempts: int = 5
    ) -> Obj:
        """A system write as upstream's GuaranteedUpdate (pods/binding uses it): `mutate` edits a
        fresh copy of the current object, raising StatusError to refuse; it is stored with a
        compare-and-swap and retried on a lost race. No admission, validation or managedFields:
        the caller vouches for the change."""
        for _ in range(attempts):
            current = self.to_external(await self.get(namespace, name, copy=False))
            new = copy_json(current)
            mutate(new)  # its refusals propagate; only a lost compare-and-swap is retried
            try:
                return await self._store_update(current, new, ctx)
            except errors.StatusError as exc:
                if exc.code != 409:
                    raise
        raise errors.conflict(self.info.resource, self.info.group, name, "too many concurrent changes")

    def _delete_during_update(self, current: Obj, new: Obj) -> bool:
        """upstream's ShouldDeleteDuringUpdate: a deleted object without finalizers goes when its
        update removed the last one, or its grace period is zero — not when, say, a pod in its
        grace period gets a status or label update."""
        meta = new["metadata"]
        if not meta.get("deletionTimestamp") or meta.get("finalizers") or self.strategy.spec_finalizers(new):
            return False
        had_finalizers = bool(current["metadata"].get("finalizers") or self.strategy.spec_finalizers(current))
        return had_finalizers or meta.get("deletionGracePeriodSeconds") in (0, None)

    async def _store_update(self, current: Obj, new: Obj, ctx: RequestContext) -> Obj:
        _drop_empty_meta(new)
        meta = new["metadata"]
        name = meta["name"]
        namespace = meta.get("namespace", "")
        expected = int(current["metadata"]["resourceVersion"])
        if self._delete_during_update(current, new):
            # the last finalizer is gone (or a zero grace period ended it): the object goes away now
            if ctx.dry_run:
                return new
            try:
                gone = await self.backend.delete(self.key(namespace, name), expected)
            except RevisionMismatchError:
                raise errors.stale_conflict(self.info.resource, self.info.group, name) from None
            except KeyNotFoundError:
                raise self._not_found(name) from None
            await self.watch_cache.wait_for(gone.mod_revision)
            await self.strategy.after_delete(new, self.registry)
            return new
        if _same_content(new, current):
            return current  # a no-op write does not make a new revision
        data = self._to_storage(new)
        if ctx.dry_run:
            return new
        try:
            revision = await self.backend.update(self.key(namespace, name), data, expected)
        except RevisionMismatchError:
            raise errors.stale_conflict(self.info.resource, self.info.group, name) from None
        except KeyNotFoundError:
            raise self._not_found(name) from None
        await self.watch_cache.wait_for(revision)
        meta["resourceVersion"] = str(revision)
        return new

    async def patch(
        self,
        namespace: str,
        name: str,
        patch_type: str,
        patch: Any,
        ctx: RequestContext,
        force: bool = False,
        subresource: str = "",
    ) -> tuple[Obj, bool]:
        """PATCH with json / merge / strategic / apply patches. Returns (object, created)."""
        ns = namespace if self.info.namespaced else ""
        # The first attempt trusts the cache: the write is a compare-and-swap on the revision, so a
        # stale read only costs a retry after a fresh one (a round trip saved with a remote store).
        fresh = ctx.dry_run
        for _attempt in range(UPDATE_RETRIES):
            if fresh:
                await self.watch_cache.wait_fresh()
            stored = self.cache.get(ns, name)
            if stored is None:
                if not fresh:
                    fresh = True
                    continue
                if patch_type == "apply" and not subresource:
                    obj = await self._apply_create(namespace, name, patch, ctx, force)
                    return obj, True
                raise self._not_found(name)
            current = self.to_external(stored)
            new = self._patched(current, patch_type, patch, ctx, force, subresource)
            self.schema.check_decoded(new, ctx, None, name)
            rv = _patch_precondition(patch, patch_type)
            try:
                if patch_type == "apply":
                    return await self._apply_store(current, new, ctx, rv, subresource), False
                return await self._update_from(stored, new, ctx, rv, subresource), False
            except errors.StatusError as exc:
                if exc.code == 409 and exc.reason == "Conflict" and (not fresh or (not rv and "modified" in exc.message)):
                    fresh = True
                    continue
                raise
        raise errors.stale_conflict(self.info.resource, self.info.group, name)

    def _patched(self, current: Obj, patch_type: str, patch: Any, ctx: RequestContext, force: bool, subresource: str) -> Obj:
        if patch_type == "json":
            if not isinstance(patch, list):
                raise errors.bad_request("json patch must be a list of operations")
            new = apply_json_patch(current, patch)
        elif patch_type == "merge":
            new = apply_merge_patch(current, _require_object(patch))
        elif patch_type == "strategic":
            if self.info.crd or self.schema.node is None:
                raise errors.StatusError(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: "
                    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                )
            new = apply_strategic_merge_patch(current, _require_object(patch), self.schema.node)
        elif patch_type == "apply":
            config = _require_object(patch)
            self._check_apply_identity(config, current["metadata"]["name"], current["metadata"].get("namespace", ""))
            new = self._apply(current, config, ctx, force, subresource)
        else:
            raise errors.StatusError(415, "UnsupportedMediaType", f"unsupported patch type {patch_type}")
        if not isinstance(new, dict):
            raise errors.bad_request("the patched object must be a JSON object")
        new.setdefault("metadata", {})
        if new.get("apiVersion") != self.info.api_version or new.get("kind") != self.info.kind:
            new["apiVersion"], new["kind"] = self.info.api_version, self.info.kind
        new["metadata"]["name"] = current["metadata"]["name"]
        if self.info.namespaced:
            new["metadata"]["namespace"] = current["metadata"]["namespace"]
        return new

    def _check_apply_identity(self, config: Obj, name: str, namespace: str) -> None:
        meta = config.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if not config.get("apiVersion") or not config.get("kind"):
            raise errors.bad_request("apiVersion and kind must be set in an applied configuration")
        self._check_type_meta(dict(config))

    async def _apply_create(self, namespace: str, name: str, patch: Any, ctx: RequestContext, force: bool) -> Obj:
        config = _require_object(patch)
        self._check_apply_identity(config, name, namespace)
        obj = self._apply(None, config, ctx, force)
        obj = self._check_type_meta(obj)
        meta = obj.setdefault("metadata", {})
        meta["name"] = name
        self._check_namespace(meta, namespace)
        if self.info.namespaced:
            await self.registry.require_namespace_open(namespace, self.info.resource, self.info.group, name)
        self.schema.check_decoded(obj, ctx, None, name)
        managed = meta.get("managedFields")
        await self._admit_new(obj, ctx)
        try:
            if managed is not None:
                obj["metadata"]["managedFields"] = managed
            return await self._store_new(obj, ctx)
        finally:
            self.strategy.release(obj, self.registry)

    async def _apply_store(self, current: Obj, new: Obj, ctx: RequestContext, rv: str, subresource: str) -> Obj:
        name = current["metadata"]["name"]
        if rv and rv != current["metadata"].get("resourceVersion"):
            raise errors.stale_conflict(self.info.resource, self.info.group, name)
        managed = new["metadata"].get("managedFields")
        new = await self._admit_update(new, current, ctx, subresource)
        try:
            if managed is not None:
                new["metadata"]["managedFields"] = managed
            return await self._store_update(current, new, ctx)
        finally:
            self.strategy.release(new, self.registry)

    async def delete(self, namespace: str, name: str, opts: DeleteOptions, ctx: RequestContext) -> tuple[Obj, bool]:
        """Returns (object, deleted_now). Objects with finalizers or a grace period get a
        deletionTimestamp instead and stay until their finalizers are gone."""
        opts.validate()
        ns = namespace if self.info.namespaced else ""
        fresh = ctx.dry_run  # optimistic first read, as in patch
        for _attempt in range(UPDATE_RETRIES):
            try:
                return await self._delete_once(ns, name, opts, ctx, fresh)
            except _StaleRead:
                fresh = True
            except errors.StatusError as exc:
                if fresh or exc.code not in (404, 409):
                    raise
                fresh = True
        raise errors.stale_conflict(self.info.resource, self.info.group, name)

    async def _delete_once(
        self, ns: str, name: str, opts: DeleteOptions, ctx: RequestContext, fresh: bool
    ) -> tuple[Obj, bool]:
        if fresh:
            await self.watch_cache.wait_fresh()
        stored = self.cache.get(ns, name)
        if stored is None:
            raise self._not_found(name)
        current = self.to_external(stored)
        meta = current["metadata"]
        if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
            raise self._precondition_failed(
                ns, name, f"UID in precondition: {opts.precondition_uid}, UID in object meta: {meta.get('uid')}"
            )
        if opts.precondition_rv and opts.precondition_rv != meta.get("resourceVersion"):
            raise self._precondition_failed(
                ns,
                name,
                f"ResourceVersion in precondition: {opts.precondition_rv}, "
                f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
            )
        new = copy.deepcopy(current)
        new_meta = new["metadata"]
        finalizers = list(new_meta.get("finalizers") or [])
        policy = opts.propagation_policy
        if policy == "Foreground" and "foregroundDeletion" not in finalizers and self.registry.has_dependents(current):
            finalizers.append("foregroundDeletion")
        elif policy == "Orphan" and "orphan" not in finalizers and self.registry.has_dependents(current):
            finalizers.append("orphan")
        grace = self.strategy.graceful_period(current, opts.grace_period_seconds)
        holding = finalizers + self.strategy.spec_finalizers(current)
        if meta.get("deletionTimestamp"):
            if grace <= 0 and not holding:
                return await self._delete_now(current, ctx), True
            current_grace = meta.get("deletionGracePeriodSeconds")
            shorter = grace > 0 and current_grace is not None and grace < int(current_grace)
            if finalizers == list(meta.get("finalizers") or []) and not shorter:
                return current, False  # already terminating; waiting for finalizers or the kubelet
            if shorter:  # a second delete may shorten the grace period, never lengthen it
                new_meta["deletionTimestamp"] = _rfc3339_in(grace)
                new_meta["deletionGracePeriodSeconds"] = grace
        elif not holding and grace <= 0:
            return await self._delete_now(current, ctx), True
        new_meta["finalizers"] = finalizers
        if not new_meta["finalizers"]:
            del new_meta["finalizers"]
        if not meta.get("deletionTimestamp"):
            new_meta["deletionTimestamp"] = _rfc3339_in(grace)
            new_meta["deletionGracePeriodSeconds"] = max(grace, 0)
            self.strategy.on_terminating(new)
        data = self._to_storage(new)
        if ctx.dry_run:
            return new, False
        try:
            revision = await self.backend.update(self.key(ns, name), data, int(meta["resourceVersion"]))
        except RevisionMismatchError:
            raise _StaleRead() from None
        except KeyNotFoundError:
            raise self._not_found(name) from None
        await self.watch_cache.wait_for(revision)
        new_meta["resourceVersion"] = str(revision)
        return new, False

    def _precondition_failed(self, namespace: str, name: str, detail: str) -> errors.StatusError:
        """Upstream reports failed delete preconditions as the storage layer's error text."""
        return errors.conflict(
            self.info.resource,
            self.info.group,
            name,
            f"StorageError: invalid object, Code: 4, Key: {self.key(namespace, name)}, ResourceVersion: 0, "
            f"AdditionalErrorMsg: Precondition failed: {detail}",
        )

    async def _delete_now(self, current: Obj, ctx: RequestContext) -> Obj:
        meta = current["metadata"]
        if ctx.dry_run:
            return current
        try:
            gone = await self.backend.delete(self.key(meta.get("namespace", ""), meta["name"]), int(meta["resourceVersion"]))
        except RevisionMismatchError:
            raise errors.stale_conflict(self.info.resource, self.info.group, meta["name"]) from None
        except KeyNotFoundError:
            raise self._not_found(meta["name"]) from None
        await self.watch_cache.wait_for(gone.mod_revision)
        await self.strategy.after_delete(current, self.registry)
        return current

    async def delete_collection(
        self, namespace: str | None, list_opts: ListOptions, opts: DeleteOptions, ctx: RequestContext
    ) -> builtins.list[Obj]:
        listed = await self.list(namespace, ListOptions(list_opts.label_selector, list_opts.field_selector))
        deleted = []
        for obj in listed.items:
            meta = obj["metadata"]
            try:
                gone, _ = await self.delete(meta.get("namespace", ""), meta["name"], opts, ctx)
                deleted.append(gone)
            except errors.StatusError as exc:
                if exc.code != 404:
                    raise
        return deleted


class _StaleRead(Exception):
    """The object changed between our read and our write: read again, freshly."""


def _same_content(new: Obj, current: Obj) -> bool:
    """Equal but for resourceVersion (key order does not matter; JSON types do)."""
    if new.keys() != current.keys():
        return False
    for key, value in new.items():
        if key == "metadata":
            other = current["metadata"]
            if {k: v for k, v in value.items() if k != "resourceVersion"} != {
                k: v for k, v in other.items() if k != "resourceVersion"
            }:
                return False
        elif not json_equal(value, current[key]):
            return False
    return True


_OMITTED_WHEN_EMPTY = ("labels", "annotations", "finalizers", "ownerReferences", "managedFields")


def _drop_empty_meta(obj: Obj) -> None:
    """Empty metadata maps and lists are omitted, as Go's `omitempty` encoding does upstream."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key in _OMITTED_WHEN_EMPTY:
            if key in meta and not meta[key]:
                del meta[key]


def _require_object(patch: Any) -> Obj:
    if not isinstance(patch, dict):
        raise errors.bad_request("the patch must be a JSON object")
    return patch


def _patch_precondition(patch: Any, patch_type: str) -> str:
    if patch_type in ("merge", "strategic", "apply") and isinstance(patch, dict):
        meta = patch.get("metadata")
        if isinstance(meta, dict):
            rv = meta.get("resourceVersion")
            if isinstance(rv, str):
                return rv
    return ""


def _make_predicate(
    labels: LabelSelector | None, fields: FieldSelector | None, getters: dict[str, Callable[[Obj], str]]
) -> Callable[[Obj], bool]:
    def predicate(obj: Obj) -> bool:
        if labels is not None and not labels.matches(obj.get("metadata", {}).get("labels") or {}):
            return False
        if fields is not None:
            values = {name: getters[name](obj) for name, _op, _v in fields.requirements}
            if not fields.matches(values):
                return False
        return True

    return predicate


def _encode_continue(revision: int, start: str) -> str:
    token = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start + "\x00"})
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        revision = int(data["rv"])
        start = str(data["start"])
    except Exception:
        raise errors.bad_request("continue key is not valid: the continue token is malformed") from None
    if start.endswith("\x00"):
        start = start[:-1]
    return revision, start


def _rfc3339_in(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + max(seconds, 0)))


async def gather_limited(coros: list[Any], limit: int = 16) -> list[Any]:
    sem = asyncio.Semaphore(limit)

    async def run(c: Any) -> Any:
        async with sem:
            return await c

    return await asyncio.gather(*(run(c) for c in coros))
