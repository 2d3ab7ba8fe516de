"""The Earth Ammit scenario replayed through the real server (``maat demo``).

The generator's world, supply chain, benign days and attack are written to disk in their
real formats, then played, in simulated time, into a fresh single-node Maat as its users
and sensors would: the security team sets up vendors, contracts, SBOMs, signing,
execution and access policies and the segmentation through the services the CLI uses;
agents send their telemetry to ``POST /v1/events``, ask ``/v1/exec/decide`` before a binary
runs and send heartbeats; the proxy asks ``/v1/access/decide`` for each request; days
later the ERP vendor's certificate is revoked and its compliance reviewed.

After each thing that happens, every alert it raised and every refusal it met is kept as an
:class:`Observation` of the step it belongs to (the generator's tags, which detection never
reads). :mod:`maat.services.scenario_report` turns them into the report.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from maat.detect.records import AlertRecord
from maat.errors import InvalidInput
from maat.scenario.activity import activity
from maat.scenario.attack import earth_ammit
from maat.scenario.benign import benign_days
from maat.scenario.supply import (
    Supply,
    assessment_yaml,
    build_supply,
    contract_yaml,
    cyclonedx,
    exec_policies_yaml,
    osv_advisory,
    stix_bundle,
)
from maat.scenario.supply import access_policy_yaml as access_yaml
from maat.scenario.world import World, build_world

__all__ = ["Observation", "ScenarioOptions", "ScenarioRun", "SimulatedClock", "run_scenario"]

ACTOR = "secops"  # the maker's security team in the audit log


@dataclass(frozen=True)
class ScenarioOptions:
    """What to play: the seed, when the benign days start and how many, and where the
    Sigma rules and extra indicator lists are (either may be absent: the steps that need
    them are then reported as misses), and the token for the signing keys."""

    seed: int = 20240501
    start: datetime = datetime(2024, 5, 6, tzinfo=UTC)
    days: int = 3
    sigma_rules: Path | None = None
    trails: Path | None = None
    pkcs11: Mapping[str, str] | None = None
    """The ``[pkcs11]`` settings of a token for the signing keys; None: a file key store."""


@dataclass(frozen=True)
class Observation:
    """What a control did about one step (or about the benign days)."""

    step: str
    at: datetime
    control: str
    action: str
    level: str | None = None


@dataclass
class ScenarioRun:
    """Everything the replay saw, for the report."""

    options: ScenarioOptions
    world: World
    observations: list[Observation] = field(default_factory=list)
    happened: dict[str, datetime] = field(default_factory=dict)
    """When each step of the chain happened (its first record)."""
    events: dict[str, int] = field(default_factory=dict)
    """Events sent: ``benign`` and ``attack``."""
    decisions: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    output: Path | None = None


class SimulatedClock:
    """The scenario's time: set forward by the replay, read by every service and route."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The simulated present."""
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        """Move to ``moment`` (never backwards)."""
        with self._lock:
            self._now = max(self._now, moment)


@dataclass(frozen=True)
class _Item:
    at: datetime
    step: str
    kind: str  # events | exec | access | sign | revoke
    payload: Any = None


def _timestamp(line: bytes, *, path: str, number: int) -> datetime:
    """When a generated record happened: ``@timestamp`` (Windows), ``ts`` (Zeek) or
    ``time_iso8601`` (nginx)."""
    record = json.loads(line)
    if "ts" in record:
        return datetime.fromtimestamp(float(record["ts"]), UTC)
    for key in ("@timestamp", "time_iso8601"):
        if key in record:
            return datetime.fromisoformat(str(record[key]).replace("Z", "+00:00"))
    raise InvalidInput("a generated record has no time", file=path, line=number)


def _event_items(files: dict[str, list[bytes]], *, attack: bool) -> list[_Item]:
    """Benign events in hourly batches per file; attack events one by one, by step."""
    items: list[_Item] = []
    for path, lines in files.items():
        batches: dict[tuple[datetime, str], list[bytes]] = {}
        for number, line in enumerate(lines, 1):
            moment = _timestamp(line, path=path, number=number)
            if attack:
                step = str(json.loads(line).get("maat.scenario.step", "benign"))
                batches.setdefault((moment, step), []).append(line)
            else:
                hour = moment.replace(minute=59, second=59, microsecond=0)
                batches.setdefault((hour, "benign"), []).append(line)
        for (moment, step), batch in batches.items():
            items.append(_Item(moment, step, "events", (path, batch)))
    return items


def write_scenario(out: Path, options: ScenarioOptions) -> tuple[World, Supply, list[_Item]]:
    """Generate the scenario into ``out`` (real formats) and return its timeline."""
    world = build_world(options.seed)
    supply = build_supply(world)
    start, days = options.start, options.days
    digests = {f.name: f.sha256 for r in supply.releases for f in r.files}
    benign = benign_days(world, start=start, days=days, digests=digests)
    chain = earth_ammit(world, start=start + timedelta(days=days - 1))
    acts = activity(world, supply, start=start, days=days)
    published = start - timedelta(days=1)
    files: dict[str, bytes] = {
        "world.json": json.dumps(asdict(world), indent=2).encode(),
        "segments.yml": world.segmentation_yaml().encode(),
        "access-policy.yml": access_yaml().encode(),
        "intel/earth-ammit.stix.json": stix_bundle(at=published),
        f"advisories/{'SKY-2024-0001'}.json": osv_advisory(at=published),
        "contracts/contoso-erp.yml": contract_yaml(world.suppliers[0]).encode(),
    }
    for supplier in world.suppliers:
        slug = supplier.name.lower().replace(" ", "-")
        answered = start - timedelta(days=120)
        files[f"assessments/{slug}.yml"] = assessment_yaml(supplier, answered=answered).encode()
    for i, text in enumerate(exec_policies_yaml(world)):
        files[f"exec-policies/{i + 1}.yml"] = text.encode()
    for release in supply.releases:
        slug = release.supplier.product.lower().replace(" ", "-")
        files[f"sboms/{slug}-{release.version}.cdx.json"] = cyclonedx(release, at=published)
    attack = {f"attack/{k}": v for k, v in chain.files.items()}
    for path, lines in [*benign.files.items(), *attack.items(), *acts.jsonl().items()]:
        files[f"events/{path}" if not path.startswith("decisions/") else path] = (
            b"\n".join(lines) + b"\n"
        )
    for name, data in files.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    items = _event_items(benign.files, attack=False)
    items += _event_items(attack, attack=True)
    items += [_Item(e.at, e.step, "exec", e) for e in acts.executions]
    items += [_Item(a.at, a.step, "access", a) for a in acts.access]
    venom_done = max(t for s, t in chain.steps.items() if s.startswith("A"))
    items.append(_Item(venom_done + timedelta(minutes=30), "B1", "sign"))
    # Our response days later is not part of any step: the report shows it after the chain.
    items.append(_Item(start + timedelta(days=days + 3, hours=10), "after", "revoke"))
    items.sort(key=lambda i: (i.at, i.kind != "events"))
    return world, supply, items


def run_scenario(
    out: Path, options: ScenarioOptions, *, progress: Callable[[str], None] | None = None
) -> ScenarioRun:
    """Generate, set up, replay and observe (numbered steps):

    1. write the scenario's files under ``out/scenario``;
    2. initialise Maat in ``out/data`` on the simulated clock, with the rules and indicators;
    3. set up the maker's trust graph as its security team would;
    4. start the real API on loopback and play the timeline through it;
    5. return what every control did, by step.
    """
    from maat.services.scenario_setup import Replay  # the setup needs the heavier services

    say = progress or (lambda _: None)
    say("generating the world, its supply chain, benign days and the attack")
    world, supply, items = write_scenario(out / "scenario", options)
    run = ScenarioRun(options, world, output=out)
    with Replay.open(out, options, world, supply, run, say) as replay:
        say(f"replaying {len(items)} moments through the API")
        replay.play(items)
    return run


def new_alerts(before: dict[str, int], alerts: list[AlertRecord]) -> list[AlertRecord]:
    """Alerts raised or grown (more hits) since ``before`` (alert id -> hit count)."""
    return [a for a in alerts if before.get(a.id, 0) < a.count]
