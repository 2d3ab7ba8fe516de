"""Review of the C hot path (``src/native``): each test is named after the attack or the wrong
answer it stops. The Python paths are the reference: the C prefilter may choose other rules to
run than Python's, never miss a hit, and the C reader may decline a line, never answer differently.

Skipped when ``maat._native`` is not built; with ``MAAT_TEST_REQUIRE_NATIVE=1`` they fail
instead, so that a build that silently lost the extension is noticed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest

from maat.detect.sigma import Engine
from maat.native import NATIVE
from native_kit import require_native
from sigma_kit import EVIL, TOOL, event, process_rules


@pytest.fixture(autouse=True)
def _native() -> None:
    require_native()


def _titles(built: Engine, ev: dict[str, Any]) -> list[str]:
    return sorted(hit.rule.title for hit in built.match(ev))


def _run_alone(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a Python of its own: a memory error kills that process, not the tests."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


# --- the prefilter: one object's marks, shared by every match on it -------------------------


def test_a_match_that_another_match_interleaves_with_keeps_the_literals_it_found() -> None:
    # Reading a value the C path does not lower itself runs Python code (the lowered
    # values, a value's __str__), and another match on the same engine can run then: from
    # this thread, as here, or from another thread the interpreter switches to. It reset
    # the prefilter's marks, and the first match lost the literal it had found before.
    rules = process_rules(EVIL, TOOL)
    for native in (False, True):
        built = Engine(rules, native=native)
        assert (built._router is not None) is native
        hit = event(1, CommandLine="run EvilPayload now", Image=_Interleaved(built))
        assert _titles(built, hit) == ["rule 0", "rule 1"], f"native={native}"


class _Interleaved:
    """A value whose text is read in Python, where another match runs first."""

    def __init__(self, built: Engine) -> None:
        self.built = built

    def __str__(self) -> str:
        self.built.match(event(1, CommandLine="benign", Image="c:\\x\\other.exe"))
        return "c:\\x\\tool.exe"


def test_two_threads_matching_on_one_engine_never_lose_a_hit() -> None:
    built = Engine(process_rules(EVIL, TOOL))
    assert built._router is not None
    # Non-ASCII values: the C path asks Python for their lowered form, where the interpreter
    # may switch threads.
    other = event(1, CommandLine="benign \u00e9", Image="c:\\x\\other.exe")
    mine = event(1, CommandLine="run EvilPayload now", Image="c:\\x\\t\u00f6\u00f6l.exe")
    stop = threading.Event()

    def the_other_thread() -> None:
        while not stop.is_set():
            built.match(other)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    thread = threading.Thread(target=the_other_thread)
    thread.start()
    try:
        missed = sum(not built.match(mine) for _ in range(100_000))
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert missed == 0


def test_emptying_the_rules_list_after_cannot_make_a_prefilter_read_freed_memory() -> None:
    done = _run_alone("""
        from maat.native import NATIVE
        rules = ["rule 0", "rule 1"]
        prefilter = NATIVE.Prefilter([("F", ["ab"])], [(0, 1)], [], [[[]], [[]]], [[], []], rules)
        rules.clear()
        print(prefilter({"F": "xaby"}, {}))
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['rule 1']"


def test_a_prefilter_index_that_would_run_python_code_while_it_is_built_is_refused() -> None:
    # An __index__ runs Python code between the pass that counts the clauses and the pass
    # that copies them: it could grow a list the first pass counted, past the buffer.
    class Sneaky:
        def __index__(self) -> int:
            return 0

    assert NATIVE is not None
    with pytest.raises(TypeError):
        NATIVE.Prefilter([("F", ["ab"])], [(0, 0)], [], [[[Sneaky()]]], [[]], ["rule 0"])
    with pytest.raises(TypeError):
        NATIVE.Prefilter([("F", ["ab"])], [(Sneaky(), 0)], [], [[[]]], [[]], ["rule 0"])


def test_a_prefilter_whose_build_failed_half_way_cannot_be_run() -> None:
    done = _run_alone("""
        from maat.native import NATIVE
        prefilter = NATIVE.Prefilter.__new__(NATIVE.Prefilter)
        try:  # the literals are read, then the clauses are refused
            prefilter.__init__([("F", ["ab"])], [(0, 0)], [], [["not a clause"]], [[]], ["r"])
        except TypeError:
            pass
        try:
            prefilter({"F": "ab"}, {})
        except TypeError as exc:
            print("refused:", exc)
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("refused:")


def test_a_router_whose_build_failed_half_way_does_not_route_without_its_other_buckets() -> None:
    assert NATIVE is not None
    anchored = NATIVE.Prefilter([("F", ["ab"])], [(0, 0)], [], [[[]]], [[]], ["by id"])
    router = NATIVE.Router.__new__(NATIVE.Router)
    with pytest.raises(TypeError):
        # the (channel, None) bucket is refused after the (channel, 1) one was filed
        router.__init__({("c", 1): anchored, ("c", None): "not a prefilter"}, {}, dict)
    with pytest.raises(TypeError):
        router({"winlog.channel": "C", "winlog.event_id": 1, "F": "ab"})


# --- the reader: its key cache ---------------------------------------------------------------


def test_keys_made_to_collide_in_the_key_cache_cost_no_more_than_new_keys() -> None:
    # The cache of event-data keys hashes with FNV-1a, which has no secret: keys whose
    # hashes share their low bits take a few tries each, and (open addressing, nothing ever
    # evicted) one line of them made a run of thousands of slots that every later key landing
    # there walked through, for as long as the process lived.
    done = _run_alone("""
        import random, time
        from maat.telemetry.native import FLAT_WINDOWS
        M, P, MASK = (1 << 64) - 1, 1099511628211, (1 << 14) - 1
        PLAIN = [b for b in range(0x21, 0x7f) if b not in (0x22, 0x5c)]
        def fnv(h, data):
            for b in data:
                h = ((h ^ b) * P) & M
            return h
        # 14 pairs of 3-byte blocks, each pair leading to the same low 14 bits of the state:
        # any choice of one block per pair gives the same cache slot (2 ** 14 keys)
        rnd = random.Random(7)
        state, blocks = fnv(1469598103934665603, b"K"), []
        for _ in range(14):
            seen = {}
            while True:
                block = bytes(rnd.choice(PLAIN) for _ in range(3))
                low = fnv(state, block) & MASK
                if seen.get(low, block) != block:
                    blocks.append((seen[low], block))
                    state = fnv(state, block)
                    break
                seen[low] = block
        def colliding(i):
            return b"K" + b"".join(pair[(i >> bit) & 1] for bit, pair in enumerate(blocks))
        def line(keys):
            return b'{"EventID":1,"Channel":"c",' + b",".join(b'"%s":"v"' % k for k in keys) + b"}"
        def cost(data):
            start = time.perf_counter()
            assert FLAT_WINDOWS(data, "2024-01-01T00:00:00.000000Z") is not None
            return time.perf_counter() - start
        fresh = min(cost(line([b"fresh%d-%d" % (n, i) for i in range(1000)])) for n in range(3))
        cost(line([colliding(i) for i in range(8192)]))  # the attacker's line
        after = min(cost(line([colliding(i) for i in range(8192, 9192)])) for _ in range(3))
        print(after / fresh)
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout) < 4, "a key costs ten times more after one crafted line"


# --- the reader: the mapping plans Python hands it ------------------------------------------


def test_a_mapping_plan_of_the_wrong_shape_sends_the_line_to_python_instead_of_crashing() -> None:
    # The plans are read with unchecked tuple access: a slip in the Python glue (a list
    # where a tuple of pairs belongs) made the C reader follow garbage pointers.
    done = _run_alone("""
        from maat import native
        from maat.telemetry.windows_fields import EVENT_DATA
        NATIVE, tables = native.NATIVE, {}
        configure = NATIVE.configure
        NATIVE.configure = lambda **kwargs: tables.update(kwargs)  # what Maat configures
        import maat.telemetry.native
        plans = {
            "strings as a list": ((), (), [(EVENT_DATA + "Image", "process.executable")],
                                  (), (), (), (), (), int),
            "a pair of one": ((), (), ((EVENT_DATA + "Image",),), (), (), (), (), (), int),
            "a table that is not a dict": ((), (), (), (), (), ((EVENT_DATA + "Image", "x", []),),
                                           (), (), int),
            "a category that is not a list": ((("event.category", "process"),), (), (), (), (),
                                              (), (), (), int),
            "too short": ((), ()),
        }
        for name, plan in plans.items():
            configure(**{**tables, "mapper": lambda provider, channel, eid, plan=plan: plan})
            line = b'{"EventID": 1, "Channel": "c", "Image": "C:\\\\\\\\x.exe"}'
            print(name, NATIVE.flat_windows(line, "2024-01-01T00:00:00.000000Z"))
        configure(**tables)
        print("maat's own", type(NATIVE.flat_windows(line, "2024-01-01T00:00:00Z")).__name__)
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "strings as a list None", "a pair of one None", "a table that is not a dict None",
        "a category that is not a list None", "too short None", "maat's own dict",
    ]  # fmt: skip


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


def _titles_by_index(found: dict[int, list[Any]]) -> dict[int, list[str]]:
    return {index: [hit.rule.title for hit in hits] for index, hits in found.items()}


@pytest.mark.parametrize("native", [True, False])
def test_a_batch_that_grows_while_it_is_matched_keeps_each_event_s_hits_at_its_own_index(
    native: bool,
) -> None:
    # The C router numbered the events of the live list, and Python then took
    # batch[index] of a list that had changed since: an event was matched (and fed to the
    # correlations) twice, another's candidate rules were tested on the event now at its
    # index, and the hits were answered at indices the caller's events do not have.
    built = Engine(process_rules(EVIL, TOOL), native=native)
    assert (built._router is not None) is native
    batch: list[Any] = []
    first = event(1, Image=_Mutating(lambda: batch.insert(0, {"event.dataset": "x"})))
    batch += [first, event(1, CommandLine="run EvilPayload now")]
    assert _titles_by_index(built.match_many(batch)) == {0: ["rule 1"], 1: ["rule 0"]}


@pytest.mark.parametrize("native", [True, False])
def test_a_batch_emptied_while_it_is_matched_still_answers_for_every_event_given(
    native: bool,
) -> None:
    # The router stopped at the list's new end and Python read batch[0] of an empty list:
    # IndexError, and the event after the first was never matched.
    built = Engine(process_rules(EVIL, TOOL), native=native)
    batch: list[Any] = []
    batch += [event(1, Image=_Mutating(batch.clear)), event(1, CommandLine="evilpayload")]
    assert _titles_by_index(built.match_many(batch)) == {0: ["rule 1"], 1: ["rule 0"]}


def test_a_batch_gives_what_matching_each_event_alone_gives_for_odd_events() -> None:
    # Not dicts, not Windows, ids as text or bool, a dict subclass, a channel that is not
    # text: each routed as match routes it (in Python), at its own index.
    class Sub(dict[str, Any]):
        pass

    rules = process_rules(EVIL, TOOL)
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
        assert _titles_by_index(many.match_many(odd)) == {i: t for i, t in want.items() if t}
        assert _titles_by_index(many.match_many(tuple(odd))) == {i: t for i, t in want.items() if t}
