"""The CertificateSigningRequest strategy, as upstream's: create records who asks (spec.username,
uid, groups) and starts with an empty status; the main resource never changes spec or status;
/approval changes only the conditions (adds Approved or Denied), /status only the certificate and
the other conditions; Approved, Denied and Failed conditions are never removed, and a
certificate, once set, never changes. Validation checks the PKCS#10 request and its signature,
the usages, the signer name, expirationSeconds and the conditions.

Must not approve or sign anything (the controllers in kubelite.controllers.certificates do).
"""

from __future__ import annotations

import base64
import copy
import re
from typing import Any

from cryptography import x509

from kubelite.api import certificates as csrs
from kubelite.api import errors
from kubelite.registry.context import RequestContext
from kubelite.registry.strategy import Strategy, now_rfc3339

Obj = dict[str, Any]

MIN_EXPIRATION_SECONDS = 600
_TRUE_ONLY = (csrs.APPROVED, csrs.DENIED, csrs.FAILED)
_STATUS_VALUES = ("False", "True", "Unknown")
_SIGNER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+/[^/]+$")
_DOMAIN_HINT = "must be a fully qualified domain and path of the form 'example.com/signer-name'"


class CertificateSigningRequestStrategy(Strategy):
    def prepare_for_create(self, obj: Obj, ctx: RequestContext) -> None:
        super().prepare_for_create(obj, ctx)
        spec = obj.setdefault("spec", {})
        for derived in ("username", "uid", "groups", "extra"):
            spec.pop(derived, None)
        spec["username"] = ctx.user.name
        if ctx.user.uid:
            spec["uid"] = ctx.user.uid
        if ctx.user.groups:
            spec["groups"] = list(ctx.user.groups)

    def default(self, obj: Obj) -> None:
        super().default(obj)
        for condition in (obj.get("status") or {}).get("conditions") or []:
            if isinstance(condition, dict) and not condition.get("status"):
                condition["status"] = "True"  # v1 defaulting

    def prepare_for_update(self, new: Obj, old: Obj, ctx: RequestContext, subresource: str = "") -> None:
        requested = new.get("status") if isinstance(new.get("status"), dict) else {}
        super().prepare_for_update(new, old, ctx, subresource)  # keeps the old status
        new["spec"] = copy.deepcopy(old.get("spec") or {})
        if subresource != "approval":
            return
        self.default({"status": requested})
        status = copy.deepcopy(old.get("status") or {})
        status["conditions"] = [c for c in (requested or {}).get("conditions") or [] if isinstance(c, dict)]
        _preserve(status, old, csrs.FAILED)
        if not status["conditions"]:
            status.pop("conditions")
        new["status"] = status
        _stamp_conditions(new, old)
        _raise_if(self.info.kind, new, _update_causes(new, old, approval=True, certificate=False))

    def prepare_for_status_update(self, new: Obj, old: Obj) -> Obj:
        result = super().prepare_for_status_update(new, old)
        status = result.get("status")
        if not isinstance(status, dict):
            status = result["status"] = {}
        self.default(result)
        for kind in (csrs.APPROVED, csrs.DENIED):
            _preserve(status, old, kind)
        _stamp_conditions(result, old)
        _raise_if(self.info.kind, result, _update_causes(result, old, approval=False, certificate=True))
        return result

    def validate(self, obj: Obj, old: Obj | None) -> list[dict[str, str]]:
        causes = super().validate(obj, old)
        spec = obj.get("spec") or {}
        try:
            csrs.parse_request(obj)
        except ValueError as exc:
            causes.append(errors.cause("spec.request", f"Invalid value: \"<request data>\": {exc}"))
        usages = spec.get("usages") or []
        if not usages:
            causes.append(errors.cause("spec.usages", "Required value", "FieldValueRequired"))
        seen: set[str] = set()
        for index, usage in enumerate(usages):
            if usage not in csrs.VALID_USAGES:
                allowed = ", ".join(f'"{u}"' for u in csrs.VALID_USAGES)
                causes.append(
                    errors.cause(f"spec.usages[{index}]", f'Unsupported value: "{usage}": supported values: {allowed}', "FieldValueNotSupported")
                )
            elif usage in seen:
                causes.append(errors.cause(f"spec.usages[{index}]", f'Duplicate value: "{usage}"', "FieldValueDuplicate"))
            seen.add(usage)
        signer = spec.get("signerName") or ""
        if not signer:
            causes.append(errors.cause("spec.signerName", "Required value", "FieldValueRequired"))
        elif not _SIGNER_NAME.match(signer):
            causes.append(errors.cause("spec.signerName", f'Invalid value: "{signer}": {_DOMAIN_HINT}'))
        expiration = spec.get("expirationSeconds")
        if expiration is not None and isinstance(expiration, int) and expiration < MIN_EXPIRATION_SECONDS:
            causes.append(
                errors.cause("spec.expirationSeconds", f"Invalid value: {expiration}: may not specify a duration less than 600 seconds (10 minutes)")
            )
        causes.extend(_condition_causes(obj))
        certificate = (obj.get("status") or {}).get("certificate") or ""
        unchanged = old is not None and certificate == ((old.get("status") or {}).get("certificate") or "")
        if certificate and not unchanged:
            problem = _certificate_problem(certificate)
            if problem:
                causes.append(errors.cause("status.certificate", f'Invalid value: "<certificate data>": {problem}'))
        return causes


def _preserve(status: Obj, old: Obj, condition_type: str) -> None:
    """Put back the old instances of a condition type when the caller kept as many (upstream's
    preserveConditionInstances); a changed count is left for validation to refuse."""
    conditions = status.get("conditions") or []
    new_indices = [i for i, c in enumerate(conditions) if c.get("type") == condition_type]
    old_instances = csrs.conditions_of(old, condition_type)
    if len(new_indices) != len(old_instances):
        return
    for index, instance in zip(new_indices, old_instances, strict=True):
        conditions[index] = copy.deepcopy(instance)


def _stamp_conditions(new: Obj, old: Obj) -> None:
    """lastUpdateTime now when unset; lastTransitionTime kept from an old condition of the same
    type and status, else now."""
    now = now_rfc3339()
    old_conditions = (old.get("status") or {}).get("conditions") or []
    for condition in (new.get("status") or {}).get("conditions") or []:
        if not condition.get("lastUpdateTime"):
            condition["lastUpdateTime"] = now
        if not condition.get("lastTransitionTime"):
            condition["lastTransitionTime"] = next(
                (
                    o["lastTransitionTime"]
                    for o in old_conditions
                    if o.get("type") == condition.get("type") and o.get("status") == condition.get("status") and o.get("lastTransitionTime")
                ),
                now,
            )


def _condition_causes(obj: Obj) -> list[dict[str, str]]:
    causes: list[dict[str, str]] = []
    seen: set[str] = set()
    approved = denied = False
    for index, condition in enumerate((obj.get("status") or {}).get("conditions") or []):
        path = f"status.conditions[{index}]"
        kind = condition.get("type") or ""
        if not kind:
            causes.append(errors.cause(f"{path}.type", "Required value", "FieldValueRequired"))
        allowed = ("True",) if kind in _TRUE_ONLY else _STATUS_VALUES
        value = condition.get("status") or ""
        if not value:
            causes.append(errors.cause(f"{path}.status", "Required value", "FieldValueRequired"))
        elif value not in allowed:
            listed = ", ".join(f'"{v}"' for v in allowed)
            causes.append(errors.cause(f"{path}.status", f'Unsupported value: "{value}": supported values: {listed}', "FieldValueNotSupported"))
        if kind == csrs.APPROVED:
            approved = True
        elif kind == csrs.DENIED:
            denied = True
        if approved and denied and kind in (csrs.APPROVED, csrs.DENIED):
            causes.append(errors.cause(f"{path}.type", f'Invalid value: "{kind}": Approved and Denied conditions are mutually exclusive'))
        if kind in seen:
            causes.append(errors.cause(f"{path}.type", f'Duplicate value: "{kind}"', "FieldValueDuplicate"))
        seen.add(kind)
    return causes


def _update_causes(new: Obj, old: Obj, *, approval: bool, certificate: bool) -> list[dict[str, str]]:
    causes: list[dict[str, str]] = []
    for kind in (csrs.APPROVED, csrs.DENIED, csrs.FAILED):
        if len(csrs.conditions_of(new, kind)) < len(csrs.conditions_of(old, kind)):
            causes.append(errors.cause("status.conditions", f'Forbidden: updates may not remove a condition of type "{kind}"', "FieldValueForbidden"))
    if not approval:
        for kind in (csrs.APPROVED, csrs.DENIED):
            before, after = csrs.conditions_of(old, kind), csrs.conditions_of(new, kind)
            if len(after) > len(before):
                causes.append(errors.cause("status.conditions", f'Forbidden: updates may not add a condition of type "{kind}"', "FieldValueForbidden"))
            elif len(after) == len(before) and after != before:
                causes.append(errors.cause("status.conditions", f'Forbidden: updates may not modify a condition of type "{kind}"', "FieldValueForbidden"))
    new_cert = (new.get("status") or {}).get("certificate") or ""
    old_cert = (old.get("status") or {}).get("certificate") or ""
    if new_cert != old_cert:
        if not certificate:
            causes.append(errors.cause("status.certificate", "Forbidden: updates may not set certificate content", "FieldValueForbidden"))
        elif old_cert:
            causes.append(errors.cause("status.certificate", "Forbidden: updates may not modify existing certificate content", "FieldValueForbidden"))
    return causes


def _raise_if(kind: str, obj: Obj, causes: list[dict[str, str]]) -> None:
    if causes:
        raise errors.invalid(kind, "certificates.k8s.io", (obj.get("metadata") or {}).get("name", ""), causes)


def _certificate_problem(encoded: str) -> str:
    try:
        pem = base64.b64decode(encoded, validate=True)
    except (ValueError, TypeError):
        return "must contain at least one CERTIFICATE PEM block"
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        return "must contain at least one CERTIFICATE PEM block"
    try:
        x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        return str(exc)
    return ""
