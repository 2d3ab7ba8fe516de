"""The C prefilter of one rule bucket (``maat._native.Prefilter``), when it was built.

The Python prefilter in :mod:`maat.detect.sigma` (``_Bucket`` and ``Engine._match_bucket``)
is the reference for what a rule matches: the prefilters only choose which rules to run on
an event, from literals every match needs, and each rule's own test decides. In Python, a
rule runs when it is always run or an anchor literal of it is found in the event's
lowercased value of the anchor's key, and its confirm groups each have a literal found.
:func:`native_prefilter` finds every literal of a bucket in one Aho-Corasick pass per key in
C, and also drops the rules none of whose clauses (alternatives of necessary groups) holds
and those whose veto is found (ADR 0020): a sharper, still sound, choice; the hits are the
same, which the differential tests check. ``None`` when the extension is absent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from maat.detect.sigma_compile import Anchors, Clause, Group
from maat.native import NATIVE

__all__ = ["Prefilter", "Router", "native_prefilter", "native_router"]

R = TypeVar("R")


class Prefilter(Protocol[R]):
    """``prefilter(event, low)``: the bucket's rules to run on ``event``, in order."""

    def __call__(self, event: dict[str, Any], low: Mapping[str, Any], /) -> list[R]: ...


class Router(Protocol[R]):
    """``router(event)``: the rules to run on a Windows event, or None: route it in Python;
    ``router.many(events)``: ``(indices, found)`` for the events of a batch with rules to run
    (or None: route in Python), the others left out."""

    def __call__(self, event: dict[str, Any], /) -> list[R] | None: ...

    def many(self, events: list[Any], /) -> tuple[list[int], list[list[R] | None]]: ...


def native_prefilter(
    anchors: Sequence[Anchors],
    clauses: Sequence[Sequence[Clause]],
    vetoes: Sequence[Group],
    rules: list[R],
) -> Prefilter[R] | None:
    """The C prefilter of a bucket whose rule ``rules[i]`` has ``anchors[i]`` (None: always
    run), ``clauses[i]`` (alternatives of necessary groups: one must have a literal of each
    of its groups found) and ``vetoes[i]`` (literals any one of which, found, proves the rule
    false); None without the extension."""
    if NATIVE is None:
        return None
    # 1. every (key, literal) the bucket searches, numbered key by key
    literals: dict[str, dict[str, None]] = {}
    for group in anchors:
        for key, literal in group or ():
            literals.setdefault(key, {})[literal] = None
    for alternatives in clauses:
        for clause in alternatives:
            for group in clause:
                for key, literal in group:
                    literals.setdefault(key, {})[literal] = None
    for group in vetoes:
        for key, literal in group:
            literals.setdefault(key, {})[literal] = None
    ids: dict[tuple[str, str], int] = {}
    for key, found in literals.items():
        for literal in found:
            ids[(key, literal)] = len(ids)
    # 2. the rules each literal anchors, the rules always run, each rule's confirm groups
    return NATIVE.Prefilter(  # type: ignore[no-any-return]
        [(key, list(found)) for key, found in literals.items()],
        [(ids[pair], index) for index, group in enumerate(anchors) for pair in group or ()],
        [index for index, group in enumerate(anchors) if group is None],
        [
            [[[ids[pair] for pair in group] for group in clause] for clause in alternatives]
            for alternatives in clauses
        ],
        [[ids[pair] for pair in group] for group in vetoes],
        rules,
    )  # fmt: skip


def native_router(
    buckets: Mapping[tuple[str, int | None], Prefilter[R]],
    special: Mapping[str, frozenset[int]],
    make_low: Callable[[dict[str, Any]], Mapping[str, Any]],
) -> Router[R] | None:
    """The C router over ``buckets`` (route key -> its prefilter): for a Windows event, the
    rules of its ``(channel, id)`` and ``(channel, None)`` buckets to run, in order; None
    for any other event and for the ``special`` event ids of a channel, which Python
    routes. ``make_low(event)`` gives the event's lowered values where the C path does not
    lower a value itself (not ASCII text)."""
    if NATIVE is None:
        return None
    return NATIVE.Router(dict(buckets), dict(special), make_low)  # type: ignore[no-any-return]
