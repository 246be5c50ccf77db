"""CronJob schedules are accepted and rejected with robfig/cron's ParseStandard messages."""

from __future__ import annotations

import pytest

from kubelite.schema.cronschedule import load_location_error, schedule_error, time_zone_errors


@pytest.mark.parametrize(
    "spec",
    ["* * * * *", "*/5 * * * *", "0 0 1 jan-dec/2 mon-fri", "15,45 9-17 * * 1-5", "@hourly", "@every 1h30m", "TZ=UTC 0 0 * * *"],
)
def test_valid_schedules(spec: str) -> None:
    assert schedule_error(spec) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty spec string"),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("a * * * *", 'failed to parse int from a: strconv.Atoi: parsing "a": invalid syntax'),
        ("* * * * 7", "end of range (7) above maximum (6): 7"),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("@every soon", 'failed to parse duration @every soon: time: invalid duration "soon"'),
        ("TZ=Nowhere/City * * * * *", "provided bad location Nowhere/City: unknown time zone Nowhere/City"),
    ],
)
def test_invalid_schedules(spec: str, message: str) -> None:
    assert schedule_error(spec) == message


def test_time_zones() -> None:
    assert time_zone_errors("America/New_York") == []
    assert time_zone_errors("") == ["timeZone must be nil or non-empty string"]
    assert time_zone_errors("../etc/passwd") == ["unknown time zone ../etc/passwd"]
    assert time_zone_errors("Local") == [
        "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
    ]
    assert load_location_error("UTC") is None
