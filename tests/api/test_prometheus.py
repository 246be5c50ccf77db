"""The Prometheus text format: Go-style values, headers, samples, histograms, parsing, process_*."""

from __future__ import annotations

import math

import pytest

from kubelite.api import prometheus as prom


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (1, "1"),
        (110, "110"),
        (0.5, "0.5"),
        (32479.158256, "32479.158256"),
        (999999, "999999"),
        (1234567, "1.234567e+06"),
        (1.2715470848e10, "1.2715470848e+10"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-3.5, "-3.5"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_values_are_printed_as_go_does(value: float, text: str) -> None:
    assert prom.format_value(value) == text


def test_header_and_sample_lines() -> None:
    assert prom.header("node_cpu_usage_seconds_total", "Cumulative cpu time", "counter", "STABLE") == (
        "# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time\n# TYPE node_cpu_usage_seconds_total counter\n"
    )
    line = prom.sample("m", (("a", 'x"y\\z\nw'), ("b", "")), 2.5, 1700000000123)
    assert line == 'm{a="x\\"y\\\\z\\nw",b=""} 2.5 1700000000123\n'
    assert prom.sample("m", (), 3) == "m 3\n"


def test_histogram_buckets_are_cumulative() -> None:
    text = prom.histogram("d", (("verb", "GET"),), (0.1, 1.0), [2, 1, 4], 9.5)
    assert text.splitlines() == [
        'd_bucket{verb="GET",le="0.1"} 2',
        'd_bucket{verb="GET",le="1"} 3',
        'd_bucket{verb="GET",le="+Inf"} 7',
        'd_sum{verb="GET"} 9.5',
        'd_count{verb="GET"} 7',
    ]


def test_parse_reads_back_what_is_written() -> None:
    text = (
        prom.header("c", "help", "counter")
        + prom.sample("c", (("container", "a b"), ("pod", 'p"1')), 1.2715470848e10, 17)
        + prom.sample("g", (), 0.25)
        + "\n# a comment\n"
    )
    samples = prom.parse(text)
    assert samples == [
        prom.Sample("c", {"container": "a b", "pod": 'p"1'}, 1.2715470848e10, 17),
        prom.Sample("g", {}, 0.25, None),
    ]


@pytest.mark.parametrize("bad", ["m{a=1} 2", 'm{a="x} 2', "m", "m 1 2 3", "m abc"])
def test_parse_rejects_malformed_lines(bad: str) -> None:
    with pytest.raises(prom.ParseError):
        prom.parse(bad)


def test_process_metrics_from_proc_texts() -> None:
    stat = "4242 (python3 (x)) S " + " ".join(["0"] * 10) + " 250 150 " + " ".join(["0"] * 6) + " 1000 2048000 300"
    files = {"/proc/self/stat": stat, "/proc/stat": "cpu 1 2 3\nbtime 1700000000\n"}
    text = prom.process_metrics(files.__getitem__, lambda path: 7, 1024, 100, 4096)
    values = {s.name: s.value for s in prom.parse(text)}
    assert values == {
        "process_cpu_seconds_total": 4.0,
        "process_max_fds": 1024,
        "process_open_fds": 7,
        "process_resident_memory_bytes": 300 * 4096,
        "process_start_time_seconds": 1700000010.0,
        "process_virtual_memory_bytes": 2048000,
    }


def test_process_metrics_leave_out_what_cannot_be_read() -> None:
    def unreadable(path: str) -> str:
        raise OSError(path)

    def no_fds(path: str) -> int:
        raise OSError(path)

    assert prom.process_metrics(unreadable, no_fds, 1024, 100, 4096) == ""
