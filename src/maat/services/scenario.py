"""Writes the scenario's world and benign days to a folder, as a sensor fleet would."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

from maat.errors import InvalidInput
from maat.scenario.attack import earth_ammit
from maat.scenario.benign import benign_days
from maat.scenario.supply import build_supply
from maat.scenario.world import build_world

__all__ = ["write_background"]

MAX_DAYS = 30


def write_background(
    out: Path, *, seed: int, start: datetime, days: int, attack: bool = False
) -> dict[str, int]:
    """Write ``world.json``, ``segments.yml`` and the benign event files (under
    ``out/events``) into ``out``, and with ``attack`` the Earth Ammit chain on the last day
    (under ``out/events/attack``); returns the number of events per file."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be 1 to {MAX_DAYS}", field="days")
    world = build_world(seed)
    supply = build_supply(world)
    digests = {f.name: f.sha256 for r in supply.releases for f in r.files}
    files = dict(benign_days(world, start=start, days=days, digests=digests).files)
    if attack:
        chain = earth_ammit(world, start=start + timedelta(days=days - 1))
        files.update({f"attack/{name}": lines for name, lines in chain.files.items()})
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "world.json").write_text(json.dumps(asdict(world), indent=2) + "\n")
        (out / "segments.yml").write_text(world.segmentation_yaml())
        for name, lines in files.items():
            target = out / "events" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"\n".join(lines) + b"\n")
    except OSError as exc:
        raise InvalidInput(f"cannot write the scenario: {exc}", file=str(out)) from exc
    return {name: len(lines) for name, lines in files.items()}
