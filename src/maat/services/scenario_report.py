"""The report of a scenario run, measured against shared/THREAT.md: for each step of the
chain, which controls acted, when (simulated time), what they did, and which controls meant
for it did not act (a miss, never hidden); then the benign days and what followed.

Three renderings: :func:`report_json` (``maat demo --format json``, a stable interface),
:func:`report_html` (written beside the run), and the Rich narrative in the CLI.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from maat.scenario.chain import CHAIN, CONTROLS, NOT_BUILT
from maat.services.scenario_run import Observation, ScenarioRun

__all__ = ["ScenarioReport", "StepReport", "build_report", "report_html", "report_json"]

MAX_ACTIONS = 12  # per step in the report; the rest are counted


@dataclass(frozen=True)
class StepReport:
    """One row of THREAT.md's table, as the run went."""

    id: str
    techniques: tuple[str, ...]
    what: str
    intended: str
    happened_at: datetime | None
    caught: bool
    controls: tuple[str, ...]
    detected_at: datetime | None
    actions: tuple[str, ...]
    misses: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON form (``technique`` is the first ATT&CK id, ``techniques`` all of them)."""
        return {
            "id": self.id, "technique": self.techniques[0], "techniques": list(self.techniques),
            "what": self.what, "caught": self.caught, "controls": list(self.controls),
            "happened_at": _iso(self.happened_at), "detected_at": _iso(self.detected_at),
            "actions": list(self.actions), "misses": list(self.misses),
        }  # fmt: skip


@dataclass(frozen=True)
class ScenarioReport:
    """The whole report."""

    steps: tuple[StepReport, ...]
    benign_events: int
    attack_events: int
    benign_alerts: tuple[str, ...]
    benign_high_alerts: int
    benign_refusals: tuple[str, ...]
    after: tuple[str, ...]
    decisions: dict[str, int]
    notes: tuple[str, ...]
    seed: int
    days: int
    elapsed_seconds: float

    @property
    def caught(self) -> int:
        """Steps some control caught."""
        return sum(1 for s in self.steps if s.caught)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _actions(observations: list[Observation]) -> tuple[str, ...]:
    """Distinct actions in time order, repeated ones counted, at most :data:`MAX_ACTIONS`."""
    counts = Counter(o.action for o in observations)
    ordered = list(dict.fromkeys(o.action for o in observations))
    shown = [a if counts[a] == 1 else f"{a} (x{counts[a]})" for a in ordered[:MAX_ACTIONS]]
    if len(ordered) > MAX_ACTIONS:
        shown.append(f"... and {len(ordered) - MAX_ACTIONS} more")
    return tuple(shown)


def build_report(run: ScenarioRun, *, elapsed: float) -> ScenarioReport:
    """The report of ``run``: each chain step with what acted on it and what did not."""
    by_step: dict[str, list[Observation]] = {}
    for observation in sorted(run.observations, key=lambda o: o.at):
        by_step.setdefault(observation.step, []).append(observation)
    steps = []
    for step in CHAIN:
        seen = by_step.get(step.id, [])
        fired = tuple(dict.fromkeys(o.control for o in seen))
        misses = tuple(
            f"{c}: {'not built yet' if c in NOT_BUILT else 'did not act'} ({CONTROLS[c]})"
            for c in step.controls
            if c not in fired
        )
        steps.append(StepReport(
            step.id, step.techniques, step.what, step.control, run.happened.get(step.id),
            bool(seen), fired, seen[0].at if seen else None, _actions(seen), misses,
        ))  # fmt: skip
    benign = by_step.get("benign", [])
    alerts = [o for o in benign if o.level is not None]
    return ScenarioReport(
        steps=tuple(steps),
        benign_events=run.events.get("benign", 0),
        attack_events=run.events.get("attack", 0),
        benign_alerts=_actions(alerts),
        benign_high_alerts=sum(1 for o in alerts if o.level in ("high", "critical")),
        benign_refusals=_actions([o for o in benign if o.level is None]),
        after=_actions(by_step.get("after", [])),
        decisions=dict(run.decisions),
        notes=tuple(run.notes),
        seed=run.options.seed,
        days=run.options.days,
        elapsed_seconds=round(elapsed, 1),
    )


def report_json(report: ScenarioReport) -> dict[str, Any]:
    """``maat demo --format json``: ``{"steps": [...], "benign": {...}, ...}``, one step
    per row of shared/THREAT.md (0, A1-A3, B1-B9)."""
    return {
        "steps": [s.as_dict() for s in report.steps],
        "summary": {"steps": len(report.steps), "caught": report.caught,
                    "missed": [s.id for s in report.steps if not s.caught]},
        "benign": {"events": report.benign_events, "alerts": list(report.benign_alerts),
                   "high_alerts": report.benign_high_alerts,
                   "refusals": list(report.benign_refusals)},
        "after": list(report.after),
        "scenario": {"seed": report.seed, "benign_days": report.days,
                     "attack_events": report.attack_events, "decisions": report.decisions},
        "notes": list(report.notes),
        "elapsed_seconds": report.elapsed_seconds,
    }  # fmt: skip


def _li(items: tuple[str, ...]) -> str:
    if not items:
        return "<p class=none>none</p>"
    return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def report_html(report: ScenarioReport) -> str:
    """A self-contained HTML page of the report (no scripts, no external resources)."""
    rows = []
    for s in report.steps:
        verdict = "caught" if s.caught else "missed"
        rows.append(
            f"<tr class={verdict}><td>{html.escape(s.id)}</td>"
            f"<td>{html.escape(', '.join(s.techniques))}</td><td>{html.escape(s.what)}</td>"
            f"<td>{verdict}</td><td>{html.escape(', '.join(s.controls) or '-')}</td>"
            f"<td>{html.escape(_iso(s.detected_at) or '-')}</td>"
            f"<td>{_li(s.actions)}{_li(s.misses) if s.misses else ''}</td></tr>"
        )
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>Maat: the Earth Ammit scenario</title>
<style>
body{{font:14px system-ui,sans-serif;margin:2em;color:#222}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.4em;vertical-align:top;text-align:left}}
tr.caught td:nth-child(4){{color:#176e2c;font-weight:bold}}
tr.missed td:nth-child(4){{color:#a1260d;font-weight:bold}} ul{{margin:0;padding-left:1.2em}}
.none{{color:#777;margin:0}}
</style></head><body>
<h1>The Earth Ammit chain against Maat</h1>
<p>Seed {report.seed}, {report.days} benign days ({report.benign_events} events), then
the attack ({report.attack_events} events). {report.caught} of {len(report.steps)} steps
caught. Times are simulated.</p>
<table><tr><th>step</th><th>ATT&amp;CK</th><th>what happens</th><th>verdict</th>
<th>controls</th><th>detected at</th><th>what was done / misses</th></tr>
{"".join(rows)}</table>
<h2>Benign days</h2><p>{report.benign_high_alerts} high or critical alerts.</p>
{_li(report.benign_alerts)}<h3>Refused requests and blocked files</h3>{_li(report.benign_refusals)}
<h2>After the chain</h2>{_li(report.after)}
<h2>Notes</h2>{_li(report.notes)}
</body></html>
"""
