"""One event the rules cannot be run on never costs the rest of its batch their alerts.

An attacker who can put one odd value in front of the detector (a field the C router reads
through Python code that raises, say) must not blind it to the other events of the batch:
before, ``Engine.match_many`` raised for the whole batch, and ``maat detect`` and the
server's detector lost every alert in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from maat.detect.sigma import Engine, load_rules
from maat.services.detection import DetectionRun, detect_files
from native_kit import require_native
from sigma_kit import EVIL, TOOL, event, process_rules


class _Unreadable:
    """A value whose text cannot be read: every reader of it raises."""

    def __str__(self) -> str:
        raise RuntimeError("no text here")


def _batch() -> list[dict[str, Any]]:
    return [
        event(1, CommandLine="run EvilPayload now"),
        event(1, Image=_Unreadable(), CommandLine="x"),  # the rules must read Image
        event(1, Image="c:\\bin\\tool.exe"),
        event(1, CommandLine="nothing to see"),
    ]


@pytest.mark.parametrize("native", [True, False])
def test_an_unreadable_value_in_one_event_does_not_hide_the_other_events_alerts(
    native: bool,
) -> None:
    built = Engine(process_rules(EVIL, TOOL), native=native)
    errors: list[tuple[int, Exception]] = []
    found = built.match_many(_batch(), errors)
    assert {i: [h.rule.title for h in hits] for i, hits in found.items()} == {
        0: ["rule 0"],
        2: ["rule 1"],
    }
    assert [index for index, _ in errors] == [1]
    assert isinstance(errors[0][1], RuntimeError)


@pytest.mark.parametrize("native", [True, False])
def test_without_an_error_list_the_error_is_raised_as_match_raises_it(native: bool) -> None:
    built = Engine(process_rules(EVIL, TOOL), native=native)
    with pytest.raises(RuntimeError):
        built.match(_batch()[1])
    with pytest.raises(RuntimeError):
        built.match_many(_batch())


@pytest.mark.parametrize("native", [True, False])
def test_a_value_only_the_router_reads_leaves_the_decision_to_the_rules(native: bool) -> None:
    """The C router reads every field its literals are in; a rule that matches on another
    field alone must still fire, as the Python path (the reference) decides."""
    built = Engine(process_rules(EVIL, TOOL), native=native)
    odd = event(1, CommandLine="EVILPAYLOAD", Image=_Unreadable())
    reference = Engine(process_rules(EVIL, TOOL), native=False)
    try:
        want: list[str] | type[Exception] = [h.rule.title for h in reference.match(odd)]
    except RuntimeError:
        want = RuntimeError
    errors: list[tuple[int, Exception]] = []
    found = built.match_many([odd, event(1, Image="c:\\tool.exe")], errors)
    if want is RuntimeError:
        assert [index for index, _ in errors] == [0]
        assert [h.rule.title for h in found[1]] == ["rule 1"]
    else:
        assert not errors
        assert [h.rule.title for h in found.get(0, [])] == want


def test_maat_detect_reports_the_event_by_its_line_and_keeps_the_others_alerts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = Engine(process_rules(EVIL, TOOL))
    path = tmp_path / "events.json"
    lines = [
        '{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", '
        '"SourceName": "Microsoft-Windows-Sysmon", "Hostname": "ws1", '
        f'"@timestamp": "2024-05-01T10:00:0{n}Z", "CommandLine": "{text}", '
        '"Image": "c:\\\\x.exe"}'
        for n, text in enumerate(["evilpayload one", "evilpayload two", "evilpayload three"])
    ]
    path.write_text("\n".join(lines) + "\n")
    original = Engine._hits

    def failing_on_the_second(self: Engine, ev: Any, *rest: Any) -> Any:
        if "two" in str(ev.get("process.command_line", "")):
            raise RuntimeError("cannot run the rules")
        return original(self, ev, *rest)

    monkeypatch.setattr(Engine, "_hits", failing_on_the_second)
    run = DetectionRun()
    alerts = list(detect_files(built, [path], source="auto", max_event_bytes=1 << 20, run=run))
    assert run.events == 3 and run.alerts == 2 == len(alerts)
    assert run.errors is not None
    assert [(e.line, "could not be run" in e.reason) for e in run.errors] == [(2, True)]


_RUNAS = """
title: runas
name: runas
id: 00000000-0000-0000-0000-0000000000aa
level: medium
logsource: {product: windows, category: process_creation}
detection:
    sel:
        CommandLine|contains: 'runas'
    condition: sel
"""
_BY_HOST = """title: burst by host
id: 99999999-0000-0000-0000-000000000001
level: high
correlation: {type: event_count, rules: [runas], group-by: [Computer], timespan: 1m,
              condition: {gte: 2}}
"""
_BY_USER = """title: burst by user
id: 99999999-0000-0000-0000-000000000002
level: high
correlation: {type: event_count, rules: [runas], group-by: [User], timespan: 1m,
              condition: {gte: 5}}
"""


def _runas(second: int, user: object) -> dict[str, Any]:
    return {
        **event(1, CommandLine="runas /user:x", User=user),
        "winlog.computer_name": "ws1",
        "@timestamp": f"2026-11-25T10:00:{second:02d}Z",
        "event.id": f"e{second}",
    }


@pytest.mark.parametrize("native", [True, False])
def test_a_correlation_that_fired_is_kept_when_another_cannot_read_the_event(
    native: bool,
) -> None:
    """The burst by host fires on the second event (and its group is cleared); the burst
    by user cannot read that event's user. Raising lost the fired alert for good."""
    rules = load_rules([("a.yml", _RUNAS), ("b.yml", _BY_HOST), ("c.yml", _BY_USER)])
    built = Engine(rules, native=native)
    errors: list[tuple[int, Exception]] = []
    found = built.match_many([_runas(0, "alice"), _runas(1, _Unreadable())], errors)
    assert [h.rule.title for h in found[1]] == ["burst by host"]
    assert [index for index, _ in errors] == [1]


@pytest.mark.parametrize("native", [True, False])
def test_running_out_of_memory_is_not_one_event_s_problem(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = Engine(process_rules(EVIL, TOOL), native=native)

    def no_memory(*_: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(Engine, "_hits", no_memory)
    with pytest.raises(MemoryError):
        built.match_many(_batch(), [])


def test_a_router_that_fails_is_counted_and_logged_and_python_decides(
    caplog: pytest.LogCaptureFixture,
) -> None:
    require_native()
    built = Engine(process_rules(EVIL, TOOL), native=True)
    assert built._router is not None

    class Broken:
        def __call__(self, event: Any) -> Any:
            raise SystemError("router bug")

        def many(self, events: Any) -> Any:
            raise SystemError("router bug")

    built._router = Broken()  # type: ignore[assignment]
    batch = [event(1, CommandLine="evilpayload"), event(1, Image="c:\\tool.exe")]
    with caplog.at_level("WARNING"):
        found = built.match_many(batch, [])
        single = built.match(batch[0])
    assert {i: [h.rule.title for h in hits] for i, hits in found.items()} == {
        0: ["rule 0"],
        1: ["rule 1"],
    }
    assert [h.rule.title for h in single] == ["rule 0"]
    assert built.router_fallbacks == 4  # the batch, each of its events, the single match
    assert [r.levelname for r in caplog.records if "C rule router" in r.getMessage()] == ["WARNING"]


def test_maat_detect_writes_its_first_alerts_before_the_whole_file_is_matched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large file used to be matched whole before its first alert came out: an analyst
    waited (and the matcher held every event's state) for nothing."""
    path = tmp_path / "events.json"
    lines = [
        '{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", '
        '"SourceName": "Microsoft-Windows-Sysmon", "Hostname": "ws1", '
        f'"@timestamp": "2024-05-01T10:00:00Z", "CommandLine": "evilpayload {n}"}}'
        for n in range(25)
    ]
    path.write_text("\n".join(lines) + "\n")
    built = Engine(process_rules(EVIL))
    batches: list[int] = []
    original = Engine.match_many

    def counted(self: Engine, events: Any, *rest: Any) -> Any:
        batches.append(len(events))
        return original(self, events, *rest)

    monkeypatch.setattr(Engine, "match_many", counted)
    run = DetectionRun()
    alerts = detect_files(built, [path], source="auto", max_event_bytes=1 << 20, run=run, batch=10)
    first = next(alerts)
    assert first["source.line"] == 1 and batches == [10]  # one batch matched so far
    rest = list(alerts)
    assert batches == [10, 10, 5]
    assert [a["source.line"] for a in [first, *rest]] == list(range(1, 26))
    assert run.alerts == 25 and run.events == 25
