"""Sigma correlation rules on event time: counts, distinct values, sums, temporal and
ordered sequences, group-by with aliases, bounded state, and the rule forms that cannot run
listed with their reason."""

from __future__ import annotations

from typing import Any

from maat.detect.correlation import Correlator
from maat.detect.sigma import Engine, load_rules

SYSMON = "Microsoft-Windows-Sysmon/Operational"

BASE = """
title: {title}
name: {name}
id: {ident}
level: medium
logsource: {{product: windows, category: {category}}}
detection:
    sel:
        {field}|contains: '{value}'
    condition: sel
"""


def base(name: str, ident: str, field: str, value: str, category: str = "process_creation") -> str:
    return BASE.format(title=name, name=name, ident=ident, field=field, value=value,
                       category=category)  # fmt: skip


LOGON_FAIL = base(
    "failed_logon_tool", "00000000-0000-0000-0000-000000000001", "CommandLine", "runas"
)
WHOAMI = base("whoami", "00000000-0000-0000-0000-000000000002", "CommandLine", "whoami")
LSASS = base("lsass_dump", "00000000-0000-0000-0000-000000000003", "CommandLine", "lsass")


def correlation(body: str) -> str:
    return f"title: correlated\nid: 99999999-0000-0000-0000-000000000000\nlevel: high\n{body}"


def engine(*texts: str) -> Engine:
    built = Engine(load_rules([(f"r{i}.yml", t) for i, t in enumerate(texts)]))
    assert not built.problems, built.problems
    return built


def proc(
    second: int, command: str, host: str = "ws1", user: str = "alice", **extra: Any
) -> dict[str, Any]:
    event = {
        "winlog.channel": SYSMON, "winlog.event_id": 1, "host.name": host,
        "@timestamp": f"2026-11-25T10:{second // 60:02d}:{second % 60:02d}Z",
        "event.id": f"e{second}-{host}-{command}",
        "winlog.event_data.CommandLine": command, "winlog.event_data.User": user,
        "winlog.computer_name": host,
    }  # fmt: skip
    event.update({f"winlog.event_data.{k}": v for k, v in extra.items()})
    return event


def fired(built: Engine, events: list[dict[str, Any]]) -> list[Any]:
    return [h for e in events for h in built.match(e) if h.route == "correlation"]


def test_password_spraying_burst_fires_event_count_once_per_group() -> None:
    built = engine(
        LOGON_FAIL,
        correlation("""
correlation:
    type: event_count
    rules: [failed_logon_tool]
    group-by: [Computer]
    timespan: 1m
    condition: {gte: 3}
"""),
    )
    events = [proc(s, "runas /user:x") for s in (0, 10, 20, 30)] + [proc(5, "runas", host="ws2")]
    hits = fired(built, events)
    assert len(hits) == 1  # the 4th event starts a new, not yet full, window
    assert hits[0].correlation.group == {"Computer": "ws1"}
    assert hits[0].correlation.value == 3 and len(hits[0].correlation.event_ids) == 3
    # Spread out beyond the timespan: nothing.
    slow = engine(
        LOGON_FAIL,
        correlation("""
correlation: {type: event_count, rules: [failed_logon_tool], group-by: [Computer], timespan: 1m,
              condition: {gte: 3}}
"""),
    )
    assert fired(slow, [proc(s, "runas") for s in (0, 50, 110, 170)]) == []


def test_value_count_counts_distinct_users_per_host() -> None:
    built = engine(
        LOGON_FAIL,
        correlation("""
correlation:
    type: value_count
    rules: [failed_logon_tool]
    group-by: [Computer]
    timespan: 5m
    condition: {gte: 3, field: User}
"""),
    )
    same_user = [proc(s, "runas", user="bob") for s in range(0, 50, 10)]
    assert fired(built, same_user) == []
    many = [proc(s, "runas", user=u) for s, u in ((60, "a"), (70, "b"), (80, "c"))]
    [hit] = fired(built, many)
    assert hit.correlation.value == 3


def test_value_sum_over_a_numeric_field() -> None:
    built = engine(
        LOGON_FAIL,
        correlation("""
correlation:
    type: value_sum
    rules: [failed_logon_tool]
    group-by: [Computer]
    timespan: 1h
    condition: {gt: 100, field: Size}
"""),
    )
    assert fired(built, [proc(s, "runas", Size="40") for s in (0, 1)]) == []
    [hit] = fired(built, [proc(2, "runas", Size="30")])
    assert hit.correlation.value == 110


def test_credential_theft_sequence_fires_temporal_ordered_only_in_order() -> None:
    text = correlation("""
correlation:
    type: temporal_ordered
    rules: [whoami, lsass_dump]
    group-by: [Computer]
    timespan: 10m
""")
    built = engine(WHOAMI, LSASS, text)
    assert fired(built, [proc(0, "lsass minidump"), proc(30, "whoami /all")]) == []
    [hit] = fired(built, [proc(60, "whoami"), proc(90, "procdump lsass")])
    assert hit.rule.title == "correlated" and hit.correlation.value == 2
    other = engine(WHOAMI, LSASS, text)
    assert fired(other, [proc(0, "whoami"), proc(900, "lsass")]) == []  # too far apart


def test_temporal_any_order_and_aliases_across_field_names() -> None:
    built = engine(
        WHOAMI,
        LSASS,
        correlation("""
correlation:
    type: temporal
    rules: [whoami, lsass_dump]
    group-by: [who]
    aliases:
        who:
            whoami: User
            lsass_dump: Operator
    timespan: 10m
"""),
    )
    events = [proc(0, "lsass", Operator="mallory"), proc(10, "whoami", user="mallory")]
    [hit] = fired(built, events)
    assert hit.correlation.group == {"who": "mallory"}
    assert fired(built, [proc(20, "lsass", Operator="x"), proc(30, "whoami", user="y")]) == []


def test_base_rules_of_a_non_generating_correlation_alert_only_through_it() -> None:
    body = """
correlation:
    type: event_count
    rules: [failed_logon_tool]
    group-by: [Computer]
    timespan: 1m
    condition: {gte: 2}
"""
    quiet = engine(LOGON_FAIL, correlation(body))
    assert [h.route for h in quiet.match(proc(0, "runas"))] == []
    loud = engine(LOGON_FAIL, correlation(body + "    generate: true\n"))
    assert [h.route for h in loud.match(proc(0, "runas"))] == ["sysmon/process_creation"]


def test_state_is_bounded_by_evicting_the_oldest_group() -> None:
    built = engine(
        LOGON_FAIL,
        correlation("""
correlation: {type: event_count, rules: [failed_logon_tool], group-by: [Computer],
              timespan: 1h, condition: {gte: 2}}
"""),
    )
    correlator = built._correlator
    assert isinstance(correlator, Correlator)
    correlator.max_groups = 10
    for n in range(50):
        built.match(proc(n, "runas", host=f"h{n}"))
    assert len(correlator._states[0]) == 10
    # h0 was evicted: its second event starts over; h49 is still there and fires.
    assert fired(built, [proc(55, "runas", host="h0")]) == []
    assert len(fired(built, [proc(56, "runas", host="h49")])) == 1


def test_correlations_that_cannot_run_are_listed_with_the_reason() -> None:
    texts = [LOGON_FAIL,
             correlation("correlation: {type: event_count, rules: [failed_logon_tool], "
                         "group-by: [Computer], timespan: 1m, condition: {lt: 2}}"),
             correlation("correlation: {type: event_count, rules: [no_such_rule], "
                         "group-by: [Computer], timespan: 1m, condition: {gte: 2}}")]  # fmt: skip
    built = Engine(load_rules([(f"c{i}.yml", t) for i, t in enumerate(texts)]))
    reasons = sorted(p.reason for p in built.problems)
    assert len(reasons) == 2
    assert "needs the end of a window" in reasons[0] or "needs the end of a window" in reasons[1]
    assert any("no_such_rule" in r for r in reasons)


def test_events_arriving_out_of_order_are_windowed_by_their_own_time() -> None:
    built = engine(
        LOGON_FAIL,
        correlation("""
correlation: {type: event_count, rules: [failed_logon_tool], group-by: [Computer],
              timespan: 1m, condition: {gte: 3}}
"""),
    )
    # 20 minutes apart in event time, whatever the order they arrive in: no burst.
    assert fired(built, [proc(1200, "runas"), proc(0, "runas"), proc(600, "runas")]) == []
    sequence = engine(
        WHOAMI,
        LSASS,
        correlation("""
correlation: {type: temporal_ordered, rules: [whoami, lsass_dump], group-by: [Computer],
              timespan: 10m}
"""),
    )
    # lsass at 30 s, whoami at 35 s: whoami came last in event time, so no sequence yet...
    assert fired(sequence, [proc(30, "lsass"), proc(35, "whoami")]) == []
    # ...the true order (whoami at 40 s, then lsass at 50 s) delivered in reverse still fires.
    assert len(fired(sequence, [proc(50, "procdump lsass"), proc(40, "whoami /all")])) == 1


def test_one_event_matching_two_rules_or_delivered_twice_counts_once() -> None:
    built = engine(WHOAMI, base("whoami_groups", "00000000-0000-0000-0000-000000000009",
                                "CommandLine", "/groups"), correlation("""
correlation: {type: event_count, rules: [whoami, whoami_groups], group-by: [Computer],
              timespan: 10m, condition: {gte: 2}}
"""))  # fmt: skip
    event = proc(0, "whoami /groups")
    assert fired(built, [event, event]) == []
    assert len(fired(built, [proc(5, "whoami")])) == 1


def _burst(condition: str = "{gte: 3}", timespan: str = "5m", group_by: str = "Computer") -> Engine:
    return engine(LOGON_FAIL, correlation(f"""
correlation: {{type: event_count, rules: [failed_logon_tool], group-by: [{group_by}],
              timespan: {timespan}, condition: {condition}}}
"""))  # fmt: skip


def _clocked(built: Engine, stamp: str = "2026-11-25T11:00:00Z", **limits: float) -> Correlator:
    """The engine's correlator on a fixed clock (the server passes its own)."""
    from datetime import datetime

    correlator = built._correlator
    assert correlator is not None
    now = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    settings = {"max_groups": 100_000, "max_entries": 1_000_000, "max_skew": 300.0,
                "lateness": 3600.0} | limits  # fmt: skip
    correlator.configure(clock=lambda: now, **settings)  # type: ignore[arg-type]
    return correlator


def test_a_future_dated_event_cannot_blind_a_correlation() -> None:
    built = _burst()
    correlator = _clocked(built)
    forged = proc(0, "runas /user:admin")
    forged["@timestamp"], forged["event.id"] = "2099-01-01T00:00:00Z", "forged"
    assert fired(built, [forged]) == []
    assert correlator.future_hits == 1 and correlator.entries == 0  # never admitted
    # A real burst after it is judged on its own time: it fires.
    assert len(fired(built, [proc(s, "runas /user:admin") for s in (0, 1, 2)])) == 1
    # Within the allowed skew (five minutes ahead of the clock at 11:00) is still admitted.
    near = proc(0, "runas")
    near["@timestamp"], near["event.id"] = "2026-11-25T11:04:00Z", "near"
    fired(built, [near])
    assert correlator.future_hits == 1 and correlator.entries == 1


def test_late_events_still_form_the_burst_of_their_own_time() -> None:
    built = _burst(timespan="1m")
    _clocked(built, lateness=3600)
    # 0 s, then one event 20 minutes later, then the two late ones of the first burst.
    events = [proc(0, "runas a"), proc(1200, "runas b"), proc(5, "runas c"), proc(10, "runas d")]
    [hit] = fired(built, events)
    assert hit.correlation.value == 3 and len(hit.correlation.event_ids) == 3
    # Later than the timespan plus the lateness allowance behind the newest: left out, said.
    late = _burst(timespan="1m")
    counted = _clocked(late, lateness=60)
    fired(late, [proc(1200, "runas"), proc(0, "runas"), proc(1, "runas"), proc(2, "runas")])
    assert counted.late_hits == 3


def test_a_nan_or_infinite_value_cannot_poison_a_sum() -> None:
    built = engine(LOGON_FAIL, correlation("""
correlation: {type: value_sum, rules: [failed_logon_tool], group-by: [Computer],
              timespan: 1h, condition: {gt: 100, field: Size}}
"""))  # fmt: skip
    _clocked(built)
    poison = [proc(0, "runas", Size="nan"), proc(1, "runas", Size="inf"),
              proc(2, "runas", Size="-1e999")]  # fmt: skip
    [hit] = fired(built, poison + [proc(s, "runas", Size="40") for s in (3, 4, 5)])
    assert hit.correlation.value == 120


def test_a_flood_of_hits_cannot_grow_correlation_state_without_bound() -> None:
    built = _burst(condition="{gte: 1000}", timespan="1m")
    correlator = _clocked(built, max_entries=100, lateness=0)
    # One group: what leaves the window is let go as the window slides (a late hit's windows
    # reach one timespan behind it: two timespans of hits are kept, 61 at one every 2 s).
    fired(built, [proc(s, "runas", host="steady") for s in range(0, 600, 2)])
    [group] = correlator._states[0].values()
    assert group.size <= 61 and correlator.entries == group.size
    # Many groups: past max_entries the least recently seen groups go first.
    for n in range(40):
        fired(built, [proc(700 + n * 3 + s, "runas", host=f"h{n}") for s in range(3)])
    kept = correlator._states[0]
    assert correlator.entries <= 100 and correlator.entries == sum(g.size for g in kept.values())
    assert ("h39",) in kept and ("steady",) not in kept and ("h0",) not in kept


def test_a_threshold_the_bounded_window_can_never_reach_is_refused() -> None:
    from maat.detect.correlation import MAX_GROUP_ENTRIES

    text = correlation(f"""
correlation: {{type: event_count, rules: [failed_logon_tool], group-by: [Computer],
              timespan: 1d, condition: {{gt: {MAX_GROUP_ENTRIES}}}}}
""")
    built = Engine(load_rules([("a.yml", LOGON_FAIL), ("b.yml", text)]))
    [problem] = built.problems
    assert problem.rule == "correlated" and "can never be reached" in problem.reason
    assert "condition" in problem.reason
    assert built._correlator is None  # it does not run silently
    assert not _burst(condition=f"{{gte: {MAX_GROUP_ENTRIES}}}").problems  # reachable


def test_events_missing_the_group_by_field_cannot_pool_into_one_burst() -> None:
    built = _burst(group_by="IpAddress")
    correlator = _clocked(built)
    events = [proc(s, "runas", host=h) for s, h in ((0, "a"), (1, "b"), (2, "c"))]
    assert fired(built, events) == []
    assert correlator._states[0] == {} and correlator.ungrouped_hits == 3
    sums = engine(LOGON_FAIL, correlation("""
correlation: {type: value_sum, rules: [failed_logon_tool], group-by: [Computer],
              timespan: 1h, condition: {gt: 1, field: Size}}
"""))  # fmt: skip
    # No value for the condition's field: no group state is made for the hit either.
    assert fired(sums, [proc(0, "runas")]) == [] and sums._correlator._states[0] == {}  # type: ignore[union-attr]
