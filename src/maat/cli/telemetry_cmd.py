"""``maat ingest``: read event files and folders into the lake, no server needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from maat.cli.context import CliState, console
from maat.errors import InvalidInput, PayloadTooLarge
from maat.services.alerts import Detector
from maat.services.enrichment import StoreFacts
from maat.services.event_files import parse_event_file
from maat.services.telemetry import IngestReport, Telemetry, read_inputs, tune_process
from maat.telemetry.dispatch import names
from maat.telemetry.model import ParseError
from maat.telemetry.pipeline import ParseOutcome


def _parse_file(telemetry: Telemetry, path: Path, source: str) -> ParseOutcome:
    limit = int(telemetry.settings.telemetry.max_event_bytes)
    return parse_event_file(path, source=source, max_event_bytes=limit)


def _ingest_files(
    telemetry: Telemetry, files: list[Path], source: str, quiet: bool, report: IngestReport
) -> None:
    out = console(stderr=True)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        console=out, disable=quiet or not out.is_terminal,
    ) as progress:  # fmt: skip
        task = progress.add_task("ingesting", total=len(files))
        for path in files:
            progress.update(task, description=f"ingesting {path.name}")
            try:
                outcome = _parse_file(telemetry, path, source)
            except (InvalidInput, PayloadTooLarge) as exc:
                # This file only (a truncated .gz a rotator is still writing, one too
                # large): reported, and the other files' events are still written.
                report.add(IngestReport(rejected=1, errors=[ParseError(str(path), 0, exc.message)]))
                progress.advance(task)
                continue
            report.add(telemetry.publish(outcome, path=str(path)))
            del outcome
            if telemetry.handoff.full:  # write what was handed over before it is dropped
                telemetry.drain()
            progress.advance(task)


def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Event files or folders (walked).")],
    source: Annotated[
        str, typer.Option(help="Force a parser (windows, zeek, auditd, ...); default detects.")
    ] = "auto",
    output_format: Annotated[
        str, typer.Option("--format", help="text (progress and summary) or json.")
    ] = "text",
) -> None:
    """Read event files (JSON lines, EVTX, Zeek, auditd, ...; .gz too) into the lake.

    Prints, once the events are durable in the lake, ``{"accepted", "rejected",
    "duplicates", "errors": [{"path", "line", "reason"}]}`` with ``--format json``.
    Exit code 1 when any record was rejected.
    """
    if output_format not in ("text", "json"):
        raise InvalidInput("--format must be text or json", field="format")
    if source not in names():  # the caller's mistake, not each file's
        known = ", ".join(names())
        raise InvalidInput(f"no parser is named {source!r}", field="source", hint=known)
    state: CliState = ctx.obj
    files = list(read_inputs(paths))
    report = IngestReport()
    with state.platform() as platform:
        tune_process(platform.settings)
        telemetry = Telemetry.open(
            platform.settings, facts=StoreFacts(platform), detector=Detector.from_settings(platform)
        )
        try:
            _ingest_files(telemetry, files, source, output_format == "json", report)
            telemetry.drain()  # the answer comes once the events are in the lake
        finally:
            telemetry.close()
    if output_format == "json":
        typer.echo(json.dumps(report.as_dict()))
    else:
        text = console()
        text.print(
            f"{report.accepted:,} events accepted ({report.duplicates:,} already known), "
            f"{report.rejected:,} rejected, from {len(files):,} file(s)"
        )
        for error in report.errors[:50]:
            text.print(f"  {error.path}:{error.line}: {error.reason}", markup=False)
        for skipped, why in report.skipped:
            text.print(f"  skipped {skipped}: {why}", markup=False)
    if report.rejected:
        raise typer.Exit(1)
