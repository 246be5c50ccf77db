"""The Prometheus text exposition format (version 0.0.4), as the kubelet and the API server write
it and metrics-server reads it: `# HELP` / `# TYPE` headers with component-base's stability
prefix (`[STABLE]`, `[ALPHA]`), samples `name{label="value",...} value [timestamp_ms]` with values
printed as Go's strconv 'g' format does (so `1.2715470848e+10`, `0.5`, `110`), histograms as
cumulative `_bucket{le=...}`, `_sum` and `_count`; a parser for such text; and the standard
`process_*` metrics computed from /proc texts handed in by the caller.

Must not do I/O (callers read /proc and sockets), nor keep metric state (the components that
count own their counters).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Labels = Sequence[tuple[str, str]]


def format_value(value: float) -> str:
    """A sample value as Go's strconv.FormatFloat(v, 'g', -1, 64): the shortest digits that read
    back, in exponent form when the exponent is below -4 or at least 6 (e.g. `1.2e+07`)."""
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digit_tuple, exponent = Decimal(repr(float(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(str(d) for d in digit_tuple)
    point = len(digits) + exponent  # where the decimal point falls in `digits`
    exp10 = point - 1
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{'+' if exp10 >= 0 else '-'}{abs(exp10):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def header(name: str, help_text: str, metric_type: str, stability: str = "ALPHA") -> str:
    """The `# HELP` and `# TYPE` lines of a family (stability "" leaves the prefix out)."""
    text = help_text.replace("\\", "\\\\").replace("\n", "\\n")
    prefix = f"[{stability}] " if stability else ""
    return f"# HELP {name} {prefix}{text}\n# TYPE {name} {metric_type}\n"


def sample(name: str, labels: Labels, value: float, timestamp_ms: int | None = None) -> str:
    """One sample line."""
    label_text = ",".join(f'{key}="{_escape_label(val)}"' for key, val in labels)
    line = f"{name}{{{label_text}}} {format_value(value)}" if label_text else f"{name} {format_value(value)}"
    if timestamp_ms is not None:
        line += f" {timestamp_ms}"
    return line + "\n"


def histogram(name: str, labels: Labels, bounds: Sequence[float], counts: Sequence[int], total: float) -> str:
    """A histogram's lines from per-bucket (non-cumulative) counts: counts[i] for values <= bounds[i]
    (and above bounds[i-1]); counts[len(bounds)] for the values above every bound."""
    lines = []
    running = 0
    for bound, count in zip(bounds, counts, strict=False):
        running += count
        lines.append(sample(f"{name}_bucket", (*labels, ("le", format_value(bound))), running))
    running += counts[len(bounds)] if len(counts) > len(bounds) else 0
    lines.append(sample(f"{name}_bucket", (*labels, ("le", "+Inf")), running))
    lines.append(sample(f"{name}_sum", labels, total))
    lines.append(sample(f"{name}_count", labels, running))
    return "".join(lines)


# ---------------------------------------------------------------------------------------- parsing
@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float
    timestamp_ms: int | None = None


class ParseError(ValueError):
    pass


def _parse_value(text: str) -> float:
    lowered = text.lower()
    if lowered in ("+inf", "inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    if lowered == "nan":
        return math.nan
    return float(text)


def _parse_labels(line: str, start: int) -> tuple[dict[str, str], int]:
    """Labels from just after `{`; returns them and the index after the closing `}`."""
    labels: dict[str, str] = {}
    index = start
    length = len(line)
    while True:
        while index < length and line[index] in " ,":
            index += 1
        if index < length and line[index] == "}":
            return labels, index + 1
        equals = line.find("=", index)
        if equals < 0 or equals + 1 >= length or line[equals + 1] != '"':
            raise ParseError(f"malformed labels in {line!r}")
        key = line[index:equals].strip()
        index = equals + 2
        value: list[str] = []
        while True:
            if index >= length:
                raise ParseError(f"unterminated label value in {line!r}")
            char = line[index]
            if char == "\\" and index + 1 < length:
                following = line[index + 1]
                value.append("\n" if following == "n" else following)
                index += 2
            elif char == '"':
                index += 1
                break
            else:
                value.append(char)
                index += 1
        labels[key] = "".join(value)


def parse(text: str) -> list[Sample]:
    """Every sample of an exposition text (comments and blank lines skipped). Raises ParseError."""
    samples: list[Sample] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        brace = line.find("{")
        space = line.find(" ")
        if brace >= 0 and (space < 0 or brace < space):
            name = line[:brace]
            labels, after = _parse_labels(line, brace + 1)
            rest = line[after:].split()
        else:
            name, *rest = line.split()
            labels = {}
        if not name or not rest or len(rest) > 2:
            raise ParseError(f"malformed sample {line!r}")
        try:
            value = _parse_value(rest[0])
            timestamp = int(rest[1]) if len(rest) == 2 else None
        except ValueError:
            raise ParseError(f"malformed sample {line!r}") from None
        samples.append(Sample(name, labels, value, timestamp))
    return samples


# ---------------------------------------------------------------------------------------- process
def process_metrics(read_text: Callable[[str], str], count_entries: Callable[[str], int], max_fds: int, clock_ticks: int, page_size: int) -> str:
    """The standard process_* families of the calling process, from /proc texts read by
    `read_text(path)` and the number of open descriptors `count_entries("/proc/self/fd")`;
    families whose source cannot be read are left out."""
    parts: list[str] = []
    try:
        fields = read_text("/proc/self/stat").rpartition(")")[2].split()
        utime, stime = int(fields[11]), int(fields[12])
        start_ticks, vsize, rss_pages = int(fields[19]), int(fields[20]), int(fields[21])
    except (OSError, ValueError, IndexError):
        fields = []
    if fields:
        parts.append(header("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", ""))
        parts.append(sample("process_cpu_seconds_total", (), (utime + stime) / clock_ticks))
    try:
        open_fds = count_entries("/proc/self/fd")
    except OSError:
        open_fds = -1
    if open_fds >= 0:
        parts.append(header("process_max_fds", "Maximum number of open file descriptors.", "gauge", ""))
        parts.append(sample("process_max_fds", (), max_fds))
        parts.append(header("process_open_fds", "Number of open file descriptors.", "gauge", ""))
        parts.append(sample("process_open_fds", (), open_fds))
    if fields:
        parts.append(header("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", ""))
        parts.append(sample("process_resident_memory_bytes", (), rss_pages * page_size))
        boot_time = _boot_time(read_text)
        if boot_time is not None:
            parts.append(header("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge", ""))
            parts.append(sample("process_start_time_seconds", (), boot_time + start_ticks / clock_ticks))
        parts.append(header("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", ""))
        parts.append(sample("process_virtual_memory_bytes", (), vsize))
    return "".join(parts)


def _boot_time(read_text: Callable[[str], str]) -> float | None:
    try:
        for line in read_text("/proc/stat").splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None

