"""The event correlator as client-go's: identical repeats counted on the first event, ten
different messages of one reason combined, 25 writes per source and object then one per five
minutes (the count still growing underneath)."""

from __future__ import annotations

from kubelite.client.eventcorrelator import COMBINED_PREFIX, Correlated, EventCorrelator

POD = {"kind": "Pod", "apiVersion": "v1", "namespace": "ns", "name": "web", "uid": "u-1"}
SOURCE = ("kubelet", "node-a")
WALL = 1_750_000_000.0


def correlate(correlator: EventCorrelator, message: str, now: float = 0.0, *, reason: str = "BackOff", ref: dict | None = None) -> Correlated | None:
    return correlator.correlate(SOURCE, ref or POD, "Warning", reason, message, now, WALL + now)


def test_identical_repeats_count_on_the_first_event() -> None:
    correlator = EventCorrelator()
    first = correlate(correlator, "Back-off restarting failed container")
    again = correlate(correlator, "Back-off restarting failed container", 30.0)
    assert first == Correlated(f"web.{int(WALL * 1e9):x}", 1, "Back-off restarting failed container", WALL)
    assert again == Correlated(first.name, 2, first.message, WALL)  # type: ignore[union-attr]
    other = correlate(correlator, "Back-off restarting failed container", 31.0, ref={**POD, "fieldPath": "spec.containers{b}"})
    assert other is not None and other.count == 1 and other.name != first.name  # type: ignore[union-attr]


def test_ten_different_messages_of_one_reason_are_combined() -> None:
    correlator = EventCorrelator()
    results = [correlate(correlator, f"Created pod: web-{i}", float(i), reason="SuccessfulCreate") for i in range(12)]
    assert all(r is not None for r in results)
    singles = [r for r in results[:9] if r is not None]
    assert [r.message for r in singles] == [f"Created pod: web-{i}" for i in range(9)]
    assert len({r.name for r in singles}) == 9 and all(r.count == 1 for r in singles)
    tenth, eleventh, twelfth = results[9], results[10], results[11]
    assert tenth is not None and eleventh is not None and twelfth is not None
    assert tenth.message == COMBINED_PREFIX + "Created pod: web-9" and tenth.count == 1
    assert (eleventh.name, eleventh.count, eleventh.message) == (tenth.name, 2, COMBINED_PREFIX + "Created pod: web-10")
    assert (twelfth.name, twelfth.count) == (tenth.name, 3)


def test_similar_events_far_apart_are_not_combined() -> None:
    correlator = EventCorrelator()
    for i in range(12):
        result = correlate(correlator, f"Created pod: web-{i}", i * 601.0, reason="SuccessfulCreate")
        assert result is not None and not result.message.startswith(COMBINED_PREFIX)


def test_spam_filter_lets_25_through_then_one_per_five_minutes() -> None:
    correlator = EventCorrelator()
    passed = [correlate(correlator, "Back-off restarting failed container", float(i)) for i in range(40)]
    assert [r is not None for r in passed] == [True] * 25 + [False] * 15
    assert passed[24] is not None and passed[24].count == 25
    later = correlate(correlator, "Back-off restarting failed container", 39.0 + 300.0)
    assert later is not None and later.count == 41  # the dropped repeats still counted
    assert correlate(correlator, "Back-off restarting failed container", 340.0) is None
    # another object has its own budget
    assert correlate(correlator, "Back-off restarting failed container", 340.0, ref={**POD, "name": "db", "uid": "u-2"}) is not None


def test_names_are_unique_even_at_the_same_instant() -> None:
    correlator = EventCorrelator()
    names = {correlate(correlator, f"m{i}", 0.0, reason=f"R{i}").name for i in range(5)}  # type: ignore[union-attr]
    assert len(names) == 5
