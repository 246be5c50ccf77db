"""Checks a CronJob schedule the way upstream's `cron.ParseStandard` (robfig/cron v3) parses it:
five fields (minute hour day-of-month month day-of-week), or a descriptor (`@hourly`,
`@every 5m`...), optionally behind a `TZ=`/`CRON_TZ=` prefix, and time-zone names as Go's
`time.LoadLocation` accepts them. Errors are upstream's message texts.

Must not compute next run times or know about CronJob objects; it only says why a schedule string
or a zone name is rejected.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache
from typing import NamedTuple

from kubelite.api.gofmt import go_quote


class _Bounds(NamedTuple):
    low: int
    high: int
    names: dict[str, int] | None


_MONTH_NAMES = {n: i + 1 for i, n in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_DOW_NAMES = {n: i for i, n in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_FIELDS = (
    _Bounds(0, 59, None),  # minute
    _Bounds(0, 23, None),  # hour
    _Bounds(1, 31, None),  # day of month
    _Bounds(1, 12, _MONTH_NAMES),
    _Bounds(0, 6, _DOW_NAMES),
)
_DESCRIPTORS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_DURATION_RE = re.compile(r"[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+\Z")
_DURATION_NO_UNIT_RE = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)\Z")
_ATOI_RE = re.compile(r"[-+]?\d+\Z")
_MAX_INT64 = 2**63 - 1


def _go_fields(fields: list[str]) -> str:
    """%s of a []string: `[a b c]`."""
    return "[" + " ".join(fields) + "]"


@lru_cache(maxsize=256)
def load_location_error(name: str) -> str | None:
    """Go's time.LoadLocation error text for `name`, or None when it loads."""
    if name in ("", "UTC", "Local"):
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {name}"
    return None


def _parse_duration_error(text: str) -> str | None:
    if text in ("0", "+0", "-0") or _DURATION_RE.match(text):
        return None
    if _DURATION_NO_UNIT_RE.match(text):
        return f"time: missing unit in duration {go_quote(text)}"
    return f"time: invalid duration {go_quote(text)}"


def _atoi(expr: str) -> tuple[int | None, str | None]:
    """strconv.Atoi, then robfig's negative check."""
    if not _ATOI_RE.match(expr):
        return None, f"failed to parse int from {expr}: strconv.Atoi: parsing {go_quote(expr)}: invalid syntax"
    number = int(expr)
    if abs(number) > _MAX_INT64:
        return None, f"failed to parse int from {expr}: strconv.Atoi: parsing {go_quote(expr)}: value out of range"
    if number < 0:
        return None, f"negative number ({number}) not allowed: {expr}"
    return number, None


def _int_or_name(expr: str, names: dict[str, int] | None) -> tuple[int | None, str | None]:
    if names is not None and expr.lower() in names:
        return names[expr.lower()], None
    return _atoi(expr)


def _range_error(expr: str, bounds: _Bounds) -> str | None:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    if low_and_high[0] in ("*", "?"):
        start, end = bounds.low, bounds.high
    else:
        parsed_start, err = _int_or_name(low_and_high[0], bounds.names)
        if err is not None or parsed_start is None:
            return err
        start = parsed_start
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            parsed_end, err = _int_or_name(low_and_high[1], bounds.names)
            if err is not None or parsed_end is None:
                return err
            end = parsed_end
        else:
            return f"too many hyphens: {expr}"
    step = 1
    if len(range_and_step) == 2:
        parsed_step, err = _atoi(range_and_step[1])
        if err is not None or parsed_step is None:
            return err
        step = parsed_step
        if single:
            end = bounds.high
    elif len(range_and_step) > 2:
        return f"too many slashes: {expr}"
    if start < bounds.low:
        return f"beginning of range ({start}) below minimum ({bounds.low}): {expr}"
    if end > bounds.high:
        return f"end of range ({end}) above maximum ({bounds.high}): {expr}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {expr}"
    if step == 0:
        return f"step of range should be a positive number: {expr}"
    return None


def _descriptor_error(spec: str) -> str | None:
    if spec in _DESCRIPTORS:
        return None
    if spec.startswith("@every "):
        err = _parse_duration_error(spec[len("@every ") :])
        return None if err is None else f"failed to parse duration {spec}: {err}"
    return f"unrecognized descriptor: {spec}"


@lru_cache(maxsize=1024)
def schedule_error(spec: str) -> str | None:
    """The error `cron.ParseStandard(spec)` returns, or None when the schedule parses."""
    if not spec:
        return "empty spec string"
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        equals = spec.find("=")
        zone = spec[equals + 1 : space] if space >= 0 else spec[equals + 1 :]
        err = load_location_error(zone)
        if err is not None:
            return f"provided bad location {zone}: {err}"
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        return _descriptor_error(spec)
    fields = spec.split()
    if len(fields) != len(_FIELDS):
        return f"expected exactly {len(_FIELDS)} fields, found {len(fields)}: {_go_fields(fields)}"
    for text, bounds in zip(fields, _FIELDS, strict=True):
        for expr in (part for part in text.split(",") if part):
            err = _range_error(expr, bounds)
            if err is not None:
                return err
    return None


_TIME_ZONE_PART_RE = re.compile(r"[A-Za-z.\-_0-9+]{1,14}\Z")


def time_zone_errors(zone: str) -> list[str]:
    """Upstream's validateTimeZone messages for a non-nil spec.timeZone."""
    if not zone:
        return ["timeZone must be nil or non-empty string"]
    for part in zone.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TIME_ZONE_PART_RE.match(part):
            return [f"unknown time zone {zone}"]
    errs = []
    if zone.lower() == "local":
        errs.append("timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")
    err = load_location_error(zone)
    if err is not None:
        errs.append(err)
    return errs
