"""Second review of the C hot path (``src/native``) and of the batch call into it
(``Engine.match_many``): each test is named after the wrong answer it stops. The Python paths
are the reference.

Skipped when ``maat._native`` is not built; with ``MAAT_TEST_REQUIRE_NATIVE=1`` they fail
instead, so that a build that silently lost the extension is noticed."""

from __future__ import annotations

import os
import textwrap
from typing import Any

import pytest

from maat.detect.sigma import Engine, RuleSet, load_rules
from maat.native import NATIVE
from sigma_kit import event

_REQUIRED = os.environ.get("MAAT_TEST_REQUIRE_NATIVE") == "1"


@pytest.fixture(autouse=True)
def _native() -> None:
    if NATIVE is None:
        if _REQUIRED:
            pytest.fail("MAAT_TEST_REQUIRE_NATIVE=1, but maat._native is not built (or stale)")
        pytest.skip("maat._native is not built: Maat runs the Python paths only")


def _rules(*detections: str) -> RuleSet:
    texts = [
        (f"rule{index}.yml", f"""
title: rule {index}
id: 00000000-0000-0000-0000-{index:012d}
status: test
level: high
logsource:
    product: windows
    category: process_creation
detection:
{textwrap.indent(textwrap.dedent(detection).strip(), "    ")}
""")
        for index, detection in enumerate(detections)
    ]  # fmt: skip
    rules = load_rules(texts)
    assert not rules.problems, rules.problems
    return rules


_EVIL = """
    selection:
        CommandLine|contains: 'evilpayload'
    condition: selection"""
_TOOL = """
    selection:
        Image|endswith: '\\\\tool.exe'
    condition: selection"""


# --- the batch call: indices are those of the events as given ------------------------------


class _Mutating:
    """A value whose text is read in Python (the C path asks for it while it routes the
    batch), and which changes the caller's list of events the first time it is read: as a
    value's ``__str__``, or another thread, may."""

    def __init__(self, change: Any) -> None:
        self.change: Any = change

    def __str__(self) -> str:
        change, self.change = self.change, None
        if change is not None:
            change()
        return "c:\\x\\tool.exe"


def _titles(found: dict[int, list[Any]]) -> dict[int, list[str]]:
    return {index: [hit.rule.title for hit in hits] for index, hits in found.items()}


@pytest.mark.parametrize("native", [True, False])
def test_a_batch_that_grows_while_it_is_matched_keeps_each_event_s_hits_at_its_own_index(
    native: bool,
) -> None:
    # The C router numbered the events of the live list, and Python then took
    # batch[index] of a list that had changed since: an event was matched (and fed to the
    # correlations) twice, another's candidate rules were tested on the event now at its
    # index, and the hits were answered at indices the caller's events do not have.
    built = Engine(_rules(_EVIL, _TOOL), native=native)
    assert (built._router is not None) is native
    batch: list[Any] = []
    first = event(1, Image=_Mutating(lambda: batch.insert(0, {"event.dataset": "x"})))
    batch += [first, event(1, CommandLine="run EvilPayload now")]
    assert _titles(built.match_many(batch)) == {0: ["rule 1"], 1: ["rule 0"]}


@pytest.mark.parametrize("native", [True, False])
def test_a_batch_emptied_while_it_is_matched_still_answers_for_every_event_given(
    native: bool,
) -> None:
    # The router stopped at the list's new end and Python read batch[0] of an empty list:
    # IndexError, and the event after the first was never matched.
    built = Engine(_rules(_EVIL, _TOOL), native=native)
    batch: list[Any] = []
    batch += [event(1, Image=_Mutating(batch.clear)), event(1, CommandLine="evilpayload")]
    assert _titles(built.match_many(batch)) == {0: ["rule 1"], 1: ["rule 0"]}


def test_a_batch_gives_what_matching_each_event_alone_gives_for_odd_events() -> None:
    # Not dicts, not Windows, ids as text or bool, a dict subclass, a channel that is not
    # text: each routed as match routes it (in Python), at its own index.
    class Sub(dict[str, Any]):
        pass

    rules = _rules(_EVIL, _TOOL)
    odd: list[Any] = [
        event(1, CommandLine="evilpayload"),
        {"event.dataset": "zeek.conn"},
        {**event(1, CommandLine="evilpayload"), "winlog.event_id": "1"},
        {**event(1, CommandLine="evilpayload"), "winlog.event_id": True},
        Sub(event(1, Image="c:\\x\\TOOL.exe")),
        {**event(1, Image="c:\\x\\tool.exe"), "winlog.channel": 5},
        event(2, CommandLine="evilpayload"),
        {},
        event(1, CommandLine="nothing"),
        event(1, Image="C:\\X\\T\u00d6\u00d6L.EXE\u0130"),
        event(1, Image="c:\\x\\tool.exe", CommandLine="EVILPAYLOAD"),
    ]
    for native in (True, False):
        alone, many = Engine(rules, native=native), Engine(rules, native=native)
        want = {i: [h.rule.title for h in alone.match(e)] for i, e in enumerate(odd)}
        assert _titles(many.match_many(odd)) == {i: t for i, t in want.items() if t}
        assert _titles(many.match_many(tuple(odd))) == {i: t for i, t in want.items() if t}
