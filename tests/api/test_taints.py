"""kubelite.api.taints: toleration matching as upstream's ToleratesTaint/GetMatchingTolerations and
reconciling the taints a controller owns without touching the others."""

from __future__ import annotations

from kubelite.api.taints import matching_tolerations, reconcile_taints, tolerates, toleration_seconds

TAINT = {"key": "k", "value": "v", "effect": "NoExecute"}


def test_tolerates() -> None:
    assert tolerates({"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute"}, TAINT)
    assert tolerates({"key": "k", "value": "v"}, TAINT)  # empty operator is Equal, empty effect any
    assert not tolerates({"key": "k", "value": "w"}, TAINT)
    assert tolerates({"key": "k", "operator": "Exists"}, TAINT)
    assert tolerates({"operator": "Exists"}, TAINT)  # empty key with Exists: every taint
    assert not tolerates({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, TAINT)
    assert not tolerates({"key": "k", "operator": "Gt", "value": "v"}, TAINT)


def test_matching_tolerations_takes_the_first_match_per_taint() -> None:
    first = {"key": "k", "operator": "Exists", "tolerationSeconds": 5}
    second = {"operator": "Exists"}
    assert matching_tolerations([TAINT], [first, second]) == (True, [first])
    other = {"key": "x", "effect": "NoExecute"}
    assert matching_tolerations([TAINT, other], [first]) == (False, [])
    assert matching_tolerations([], []) == (True, [])
    assert toleration_seconds(first) == 5 and toleration_seconds(second) is None
    assert toleration_seconds({"tolerationSeconds": -3}) == 0


def test_reconcile_keeps_foreign_taints_and_existing_time_added() -> None:
    owned = frozenset({("a", "NoSchedule"), ("b", "NoSchedule")})
    current = [{"key": "a", "effect": "NoSchedule", "timeAdded": "old"}, {"key": "mine", "effect": "NoSchedule"}]
    assert reconcile_taints(current, owned, {("a", "NoSchedule"), ("b", "NoSchedule")}, "now") == [
        {"key": "a", "effect": "NoSchedule", "timeAdded": "old"},
        {"key": "mine", "effect": "NoSchedule"},
        {"key": "b", "effect": "NoSchedule", "timeAdded": "now"},
    ]
    assert reconcile_taints(current, owned, set(), "now") == [{"key": "mine", "effect": "NoSchedule"}]
    assert reconcile_taints(None, owned, set(), "now") == []
