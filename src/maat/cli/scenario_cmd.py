"""``maat scenario generate``: the Earth Ammit scenario's world and benign background."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from maat.cli.context import console, shown
from maat.core._validate import parse_timestamp
from maat.services.scenario import write_background

app = typer.Typer(help="The Earth Ammit scenario's world and days.", no_args_is_help=True)


@app.command("generate")
def generate(
    out: Annotated[Path, typer.Argument(help="Folder to write into.")],
    seed: Annotated[int, typer.Option(help="The same seed gives the same files.")] = 20240501,
    days: Annotated[int, typer.Option(help="Working days of benign activity.")] = 2,
    start: Annotated[str, typer.Option(help="First day (ISO 8601, UTC midnight).")] = (
        "2024-05-06T00:00:00Z"
    ),
    attack: Annotated[bool, typer.Option(help="Add the Earth Ammit chain (events/attack).")] = (
        False
    ),
) -> None:
    """Write the drone maker's world (world.json, segments.yml) and days of benign activity
    (Sysmon/Security JSON per host, the Zeek conn log) that `maat ingest` and `maat detect`
    read; with --attack, the Earth Ammit chain too."""
    first = parse_timestamp(start, field="start", file=None).astimezone(UTC)
    midnight = datetime(first.year, first.month, first.day, tzinfo=UTC)
    counts = write_background(out, seed=seed, start=midnight, days=days, attack=attack)
    console().print(f"{sum(counts.values()):,} events in {len(counts)} file(s) under "
                    f"{shown(out / 'events')}", highlight=False)  # fmt: skip
