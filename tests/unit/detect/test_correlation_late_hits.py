"""Correlation windows when the sender controls event time and delivery order: late hits are
judged over the windows in-order delivery would have judged, a future-dated hit cannot make
the real ones late, a flood of late hits costs a bounded amount of work each, and a
threshold the configured bounds put out of reach is said."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sigma.correlations import SigmaCorrelationConditionOperator as Op

from maat.detect.correlation import _FIRING_OPS, CorrelationSpec, Correlator, Fired

BASE = 1_780_000_000.0
OPS = {"gt": Op.GT, "gte": Op.GTE, "eq": Op.EQ, "neq": Op.NEQ}


def spec(
    kind: str, op: str, threshold: float, span: float, refs: Sequence[str] = ("A",)
) -> CorrelationSpec:
    fieldref = "V" if kind in ("value_count", "value_sum", "value_avg") else None
    return CorrelationSpec(
        kind=kind, refs=tuple(refs), seconds=float(span), group_by=("G",), aliases={},
        op=_FIRING_OPS[OPS[op]], threshold=float(threshold), fieldref=fieldref,
        generate=True, title="burst",
    )  # fmt: skip


def correlator(rule: CorrelationSpec, **limits: object) -> Correlator:
    settings: dict[str, object] = {
        "max_groups": 100_000, "max_entries": 1_000_000, "max_skew": 300.0,
        "lateness": 3600.0, "clock": lambda: BASE + 10**7,
    } | limits  # fmt: skip
    return Correlator([rule], **settings)  # type: ignore[arg-type]


def feed(
    c: Correlator, t: float, eid: str, rule: str = "A", value: str | None = None
) -> list[Fired]:
    stamp = datetime.fromtimestamp(BASE + t, UTC).isoformat().replace("+00:00", "Z")
    event = {"@timestamp": stamp, "event.id": eid, "G": "alice"}
    if value is not None:
        event["V"] = value
    return c.feed(event, [(rule, lambda name: name)])


def test_a_late_hit_admitted_within_the_allowance_is_judged_over_its_whole_window() -> None:
    c = correlator(spec("event_count", "gte", 4, 300), lateness=3600)
    for t, eid in ((0, "a"), (10, "b"), (20, "c")):
        assert feed(c, t, eid) == []
    assert feed(c, 3950, "newest") == []
    fired = feed(c, 60, "late")  # 3890 s behind: within timespan + lateness, admitted
    assert c.late_hits == 0
    assert len(fired) == 1 and set(fired[0].event_ids) == {"a", "b", "c", "late"}
    # Further behind than timespan + lateness: counted, never judged over a partial window.
    assert feed(c, 10_000, "new") == [] and feed(c, 10_000 - 3901, "too-late") == []
    assert c.late_hits == 1


@pytest.mark.parametrize(
    ("kind", "op", "threshold", "values"),
    [
        ("value_avg", "gt", 50, ["0", "120", "0", "0"]),
        ("value_sum", "gt", 100, ["0", "120", "-50", "-50"]),
        ("value_sum", "eq", 120, ["0", "120", "-50", "-50"]),
    ],
)
def test_a_late_hit_is_judged_over_the_window_that_ends_at_it(
    kind: str, op: str, threshold: float, values: list[str]
) -> None:
    def run(order: Sequence[int]) -> list[Fired]:
        c = correlator(spec(kind, op, threshold, 10))
        times = (0, 4, 8, 12)
        return [f for i in order for f in feed(c, times[i], f"e{i}", value=values[i])]

    in_order = run([0, 1, 2, 3])
    assert len(in_order) == 1  # at e1: the window [-6, 4] holds e0 and e1
    late = run([0, 2, 3, 1])  # e1 arrives 8 s late: the same window still ends at it
    assert len(late) == 1 and set(late[0].event_ids) == {"e0", "e1"}


def _trailing_fires(rule: CorrelationSpec, hits: list[tuple[float, str, str]]) -> bool:
    """Brute force: whether some window [e - timespan, e] ending at a hit meets the
    condition over every hit (what in-order delivery judges)."""
    c = correlator(rule)
    ordered = sorted(hits, key=lambda hit: hit[0])
    return any(feed(c, t, eid, value=v) for t, eid, v in ordered)


def test_a_reordered_delivery_cannot_hide_a_burst() -> None:
    """Whatever order the sender delivers in (within the lateness allowance): a burst
    in-order delivery finds is found, and for counts (which only grow with the window) no
    other order finds one it would not."""
    rnd = random.Random(7)
    cases = [("event_count", "gte", 3), ("value_count", "gt", 2), ("value_sum", "gt", 4),
             ("value_sum", "eq", 3), ("value_avg", "gt", 2), ("event_count", "eq", 2)]  # fmt: skip
    for kind, op, threshold in cases:
        for _ in range(300):
            rule = spec(kind, op, threshold, rnd.choice([5, 10]))
            times = rnd.sample(range(40), rnd.randint(1, 12))  # distinct: one order in time
            hits = [(float(t), f"e{i}", str(rnd.randint(-2, 3))) for i, t in enumerate(times)]
            expected = _trailing_fires(rule, hits)
            shuffled = rnd.sample(hits, len(hits))
            c = correlator(rule)
            got = any(feed(c, t, eid, value=v) for t, eid, v in shuffled)
            if expected:
                assert got, (kind, op, hits, shuffled)
            if kind in ("event_count", "value_count") and op in ("gt", "gte"):
                assert got == expected, (kind, op, hits, shuffled)


def test_late_hits_cannot_make_the_detector_do_quadratic_work() -> None:
    """Each hit backdated a little below the last: every one is late, with every earlier
    one within its timespan. The entries one late hit examines stay under max_scan."""
    c = correlator(spec("value_avg", "gt", 5, 3600), max_scan=50)
    feed(c, 3600, "top", value="1")
    per_hit = []
    for i in range(500):
        before = c.scanned
        assert feed(c, 3599 - i * 0.01, f"e{i}", value="1") == []
        per_hit.append(c.scanned - before)
    assert max(per_hit) <= 50 and c.truncated_scans == 500 - 49
    assert c.late_hits == 0  # judged (over the nearest hits), not dropped
    # A sum under a threshold its positive hits together cannot reach is not scanned at all.
    sums = correlator(spec("value_sum", "gt", 10**6, 3600), max_scan=50)
    for i in range(500):
        feed(sums, 3599 - i * 0.01, f"e{i}", value="1")
    assert sums.scanned == 0


def test_temporal_ordered_in_order_hits_do_constant_work() -> None:
    c = correlator(spec("temporal_ordered", "gte", 2, 86400, refs=("A", "B")))
    for i in range(3000):
        assert feed(c, i * 0.01, f"e{i}", rule="A") == []
    assert c.scanned == 0  # the chains are carried forward, never rescanned
    [fired] = feed(c, 30.0, "b", rule="B")
    assert "b" in fired.event_ids


def test_a_late_step_of_an_ordered_sequence_still_completes_it() -> None:
    """A late hit can start a chain the in-order updates never saw: the next in-order hit
    rebuilds the chains from the live window (once) before judging."""
    c = correlator(spec("temporal_ordered", "gte", 3, 60, refs=("A", "B", "C")))
    assert feed(c, 10, "b", rule="B") == []
    assert feed(c, 5, "a", rule="A") == []  # late: A then B, no C yet
    [fired] = feed(c, 20, "c", rule="C")
    assert set(fired.event_ids) == {"a", "b", "c"}


def test_a_threshold_above_max_correlation_entries_is_refused_or_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A group holds at most max_correlation_entries hits: a count above it never fires,
    which the server says (log and problems) rather than running it silently."""
    c = correlator(spec("event_count", "gte", 50, 3600))
    assert c.problems == []
    with caplog.at_level(logging.WARNING, logger="maat.detect.correlation"):
        c.configure(max_groups=10, max_entries=10, max_skew=300, lateness=3600,
                    clock=lambda: BASE + 10**7)  # fmt: skip
    [problem] = c.problems
    assert "'burst'" in problem and "can never be reached" in problem and "at most 10" in problem
    assert "max_correlation_entries" in caplog.text
    c.configure(max_groups=10, max_entries=50, max_skew=300, lateness=3600, clock=time_now)
    assert c.problems == []


def time_now() -> float:
    return BASE


def test_lateness_below_max_skew_lets_a_future_hit_blind_a_group() -> None:
    """A hit just within max_skew ahead of the clock becomes the group's newest; lateness is
    measured from the clock then, so the real hits after it are not late."""
    now = BASE + 1000
    c = correlator(spec("event_count", "gte", 3, 60), lateness=0, max_skew=300,
                   clock=lambda: now)  # fmt: skip
    feed(c, 1000 + 290, "forged")
    fired = [f for t in (1000, 1001, 1002) for f in feed(c, t, f"real{t}")]
    assert fired and c.late_hits == 0
