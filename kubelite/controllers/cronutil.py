"""CronJob time arithmetic as upstream's controller uses robfig/cron v3 and
pkg/controller/cronjob/utils.go: a schedule parsed into field bit sets (or an `@every` delay),
its next activation after a moment (in the schedule's time zone, DST included, as robfig steps
through wall-clock fields), the most recent missed activation of a CronJob, how long until the
next one, and the Job a CronJob starts for a scheduled time (name `<cronjob>-<minutes since
epoch>`, the scheduled-timestamp annotation).

Schedules are checked first with kubelite.schema.cronschedule (whose messages are upstream's);
without a zone, schedules run in UTC (the zone of a containerized kube-controller-manager).

Must not do I/O or read a clock: callers pass `now` as epoch seconds.
"""

from __future__ import annotations

import calendar
import math
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any

from kubelite.controllers.podutil import parse_time
from kubelite.controllers.replicaset import deep_copy
from kubelite.schema.cronschedule import load_location_error, schedule_error

Obj = dict[str, Any]

SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1  # requeue padding for clock skew, as upstream
MANY_MISSED = 100
YEARS_TO_SEARCH = 5

NONE_MISSED, FEW_MISSED, LOTS_MISSED = 0, 1, 2

_MONTHS = {
    name: i + 1
    for i, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DAYS = {name: i for i, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_BOUNDS = ((0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTHS), (0, 6, _DAYS))
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class ScheduleError(ValueError):
    """A schedule or time zone that cannot be used; the message is upstream's."""


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """Bit sets of the matching minutes, hours, days of month, months and weekdays (a star in the
    day fields makes both day fields required), or a fixed delay for `@every`."""

    minutes: int = 0
    hours: int = 0
    days: int = 0
    months: int = 0
    weekdays: int = 0
    days_star: bool = False
    weekdays_star: bool = False
    zone: tzinfo = UTC
    every: float = 0.0

    def next(self, after: float) -> float | None:
        """The first activation strictly after `after` (epoch seconds), or None when there is
        none within five years."""
        if self.every:
            return math.floor(after) + self.every
        return _next_activation(self, after)

    def _day_matches(self, when: datetime) -> bool:
        day = bool(self.days >> when.day & 1)
        weekday = bool(self.weekdays >> ((when.weekday() + 1) % 7) & 1)
        if self.days_star or self.weekdays_star:
            return day and weekday
        return day or weekday


def _field_bits(text: str, low: int, high: int, names: dict[str, int] | None) -> tuple[int, bool]:
    bits = 0
    star = False
    for expr in text.split(","):
        if not expr:
            continue
        range_and_step = expr.split("/")
        low_high = range_and_step[0].split("-")
        if low_high[0] in ("*", "?"):
            start, end, extra = low, high, True
        else:
            start = _number(low_high[0], names)
            end = _number(low_high[1], names) if len(low_high) > 1 else start
            extra = False
        step = 1
        if len(range_and_step) == 2:
            step = int(range_and_step[1])
            if len(low_high) == 1:
                end = high
            if step > 1:
                extra = False
        for value in range(start, end + 1, step):
            bits |= 1 << value
        star = star or extra
    return bits, star


def _number(text: str, names: dict[str, int] | None) -> int:
    if names is not None and text.lower() in names:
        return names[text.lower()]
    return int(text)


def _every_seconds(text: str) -> float:
    """Go's time.ParseDuration of a checked duration, then robfig's Every: at least one second,
    whole seconds."""
    sign = -1.0 if text.startswith("-") else 1.0
    seconds = sign * sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))
    return float(max(1, math.floor(seconds + 1e-9)))


def _zone(name: str) -> tzinfo:
    if name in ("", "UTC"):
        return UTC
    return zoneinfo.ZoneInfo(name)


@lru_cache(maxsize=1024)
def parse_schedule(schedule: str, time_zone: str | None = None) -> CronSchedule:
    """A CronJob's schedule in its time zone (upstream formatSchedule + cron.ParseStandard):
    a `TZ=`/`CRON_TZ=` prefix wins over `time_zone`. Raises ScheduleError."""
    spec = schedule
    if "TZ" not in schedule and time_zone is not None and load_location_error(time_zone) is None:
        spec = f"TZ={time_zone} {schedule}"
    error = schedule_error(spec)
    if error is not None:
        raise ScheduleError(error)
    zone: tzinfo = UTC
    if spec.startswith(("TZ=", "CRON_TZ=")):
        prefix, _, spec = spec.partition(" ")
        zone = _zone(prefix.partition("=")[2])
        spec = spec.strip()
    if spec.startswith("@every "):
        return CronSchedule(zone=zone, every=_every_seconds(spec[len("@every ") :].strip()))
    fields = _DESCRIPTORS.get(spec, spec).split()
    parsed = [
        _field_bits(text, low, high, names) for text, (low, high, names) in zip(fields, _BOUNDS, strict=True)
    ]
    return CronSchedule(
        minutes=parsed[0][0],
        hours=parsed[1][0],
        days=parsed[2][0],
        months=parsed[3][0],
        weekdays=parsed[4][0],
        days_star=parsed[2][1],
        weekdays_star=parsed[4][1],
        zone=zone,
    )


# ---------------------------------------------------------------------------- wall-clock steps
def _at(zone: tzinfo, seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, zone)


def _offset(zone: tzinfo, seconds: float) -> float:
    offset = _at(zone, seconds).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def _wall(zone: tzinfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Go's time.Date: the wall-clock time in zone (days past the month's end roll over; in a
    DST gap or overlap the zone's offset is chosen as Go does)."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    naive = calendar.timegm((year, month, 1, hour, minute, 0)) + (day - 1) * 86400
    return _at(zone, naive - _offset(zone, naive - _offset(zone, naive)))


def _plus(when: datetime, seconds: float) -> datetime:
    return _at(when.tzinfo or UTC, when.timestamp() + seconds)


def _next_activation(schedule: CronSchedule, after: float) -> float | None:
    """robfig/cron v3 SpecSchedule.Next: from the next whole second, advance month, day, hour and
    minute (resetting the smaller fields the first time one moves) until all match."""
    zone = schedule.zone
    when = _at(zone, math.floor(after) + 1)
    reset = False
    year_limit = when.year + YEARS_TO_SEARCH
    while True:
        if when.year > year_limit:
            return None
        wrapped = False
        while not schedule.months >> when.month & 1:
            if not reset:
                reset = True
                when = _wall(zone, when.year, when.month, 1)
            when = _wall(zone, when.year, when.month + 1, when.day, when.hour, when.minute)
            if when.month == 1:
                wrapped = True
                break
        if wrapped:
            continue
        while not schedule._day_matches(when):
            if not reset:
                reset = True
                when = _wall(zone, when.year, when.month, when.day)
            when = _wall(zone, when.year, when.month, when.day + 1, when.hour, when.minute)
            if when.hour != 0:  # midnight skipped or repeated by DST
                when = _plus(when, (24 - when.hour) * 3600 if when.hour > 12 else -when.hour * 3600)
            if when.day == 1:
                wrapped = True
                break
        if wrapped:
            continue
        while not schedule.hours >> when.hour & 1:
            if not reset:
                reset = True
                when = _wall(zone, when.year, when.month, when.day, when.hour)
            when = _plus(when, 3600)
            if when.hour == 0:
                wrapped = True
                break
        if wrapped:
            continue
        while not schedule.minutes >> when.minute & 1:
            if not reset:
                reset = True
                when = _plus(when, -when.second)
            when = _plus(when, 60)
            if when.minute == 0:
                wrapped = True
                break
        if wrapped:
            continue
        if when.second != 0:  # only second 0 matches: on to the next minute, then check again
            reset = True
            when = _plus(when, 60 - when.second)
            continue
        return when.timestamp()


# ---------------------------------------------------------------------------- CronJobs
def most_recent_schedule_time(
    cron_job: Obj, now: float, schedule: CronSchedule, include_deadline: bool
) -> tuple[float, float | None, int]:
    """(earliest considered time, most recent activation not after now or None, how many were
    missed: NONE_MISSED / FEW_MISSED / LOTS_MISSED). Raises ScheduleError for schedules whose
    activations are less than a second apart (impossible dates)."""
    status = cron_job.get("status") or {}
    spec = cron_job.get("spec") or {}
    earliest = parse_time((cron_job.get("metadata") or {}).get("creationTimestamp") or "")
    if status.get("lastScheduleTime"):
        earliest = parse_time(status["lastScheduleTime"])
    deadline = spec.get("startingDeadlineSeconds")
    if include_deadline and deadline is not None:
        earliest = max(earliest, now - deadline)
    first = schedule.next(earliest)
    second = schedule.next(first) if first is not None else None
    if first is not None and now < first:
        return earliest, None, NONE_MISSED
    if first is not None and second is not None and now < second:
        return earliest, first, NONE_MISSED
    between = round(second - first) if first is not None and second is not None else 0
    if first is None or between < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    missed = int(now - first) // between + 1
    most_recent: float | None = None
    moment = schedule.next(first + (missed - 2) * between)
    while moment is not None and moment <= now:
        most_recent = moment
        moment = schedule.next(moment)
    how_many = LOTS_MISSED if missed > MANY_MISSED else FEW_MISSED
    return earliest, most_recent, how_many


def next_schedule_delay(cron_job: Obj, now: float, schedule: CronSchedule) -> float | None:
    """Seconds until the sync after the next activation (upstream nextScheduleTimeDuration)."""
    try:
        earliest, most_recent, missed = most_recent_schedule_time(cron_job, now, schedule, False)
    except ScheduleError:
        most_recent = now
    else:
        if most_recent is None:
            most_recent = earliest if missed == NONE_MISSED else now
    upcoming = schedule.next(most_recent)
    return None if upcoming is None else upcoming + NEXT_SCHEDULE_DELTA - now


def job_name(cron_job: Obj, scheduled: float) -> str:
    return f"{cron_job['metadata']['name']}-{int(scheduled) // 60}"


def scheduled_timestamp(scheduled: float, time_zone: str | None) -> str:
    """RFC 3339 in the CronJob's zone (UTC without one), `Z` for a zero offset as Go prints it."""
    when = _at(_zone(time_zone or ""), scheduled)
    offset = when.utcoffset()
    if not offset:
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return when.isoformat(timespec="seconds")


def job_from_template(cron_job: Obj, scheduled: float, owner_ref: Obj) -> Obj:
    """The Job a CronJob starts for a scheduled time (upstream getJobFromTemplate2)."""
    template = (cron_job.get("spec") or {}).get("jobTemplate") or {}
    template_meta = template.get("metadata") or {}
    annotations = dict(template_meta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = scheduled_timestamp(
        scheduled, (cron_job.get("spec") or {}).get("timeZone")
    )
    metadata: Obj = {
        "name": job_name(cron_job, scheduled),
        "annotations": annotations,
        "ownerReferences": [owner_ref],
    }
    if template_meta.get("labels"):
        metadata["labels"] = dict(template_meta["labels"])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": deep_copy(template.get("spec") or {}),
    }
