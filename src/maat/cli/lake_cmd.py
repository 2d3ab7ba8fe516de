"""``maat lake``: verify, query, retain and hold the telemetry lake."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from maat.adapters.lake.hunt import HuntLimits
from maat.adapters.lake.parquet import ParquetLake, lake_key
from maat.cli.context import CliState, console
from maat.errors import IntegrityError, InvalidInput
from maat.lake.manifest import parse_anchor
from maat.lake.retention import summary
from maat.services.platform import read_master_secret

app = typer.Typer(
    help="The telemetry lake: Parquet files under a hash-chained manifest.", no_args_is_help=True
)

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table or json")]


@contextmanager
def _lake(state: CliState, *, write: bool = False) -> Iterator[ParquetLake]:
    """The lake of the configured data directory, keyed from the master secret. Only a
    command that changes the lake runs crash recovery: verify must see the lake as it is."""
    settings = state.settings()
    secret = read_master_secret(settings.effective_secret_key_file, create=False)
    lake = ParquetLake(
        settings.lake_path,
        key=lake_key(secret),
        batch_rows=settings.telemetry.lake_batch_rows,
        now=lambda: datetime.now(UTC),
        recover=write,
        limits=HuntLimits.from_settings(settings.telemetry),
    )
    try:
        yield lake
    finally:
        lake.close()


def _check_format(fmt: str) -> bool:
    if fmt not in ("table", "json"):
        raise InvalidInput("--format must be table or json", field="format")
    return fmt == "json"


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _audit(state: CliState, action: str, target: str, **details: Any) -> None:
    """Record a change to the lake in the audit log (who placed a hold, who deleted data)."""
    with state.platform() as platform, platform.transaction() as uow:
        platform.audit(uow, state.actor, action, target, **details)


@app.command("verify")
def verify(
    ctx: typer.Context,
    anchor: Annotated[
        str | None,
        typer.Option(help="SEQ:MAC printed by an earlier verify, to detect a cut-off tail."),
    ] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Re-hash every file and check the manifest's chain; name each file changed, missing or
    inserted and each broken line. Exit 1 on any finding."""
    as_json = _check_format(fmt)
    state: CliState = ctx.obj
    expected = parse_anchor(anchor) if anchor else None
    with _lake(state) as lake:
        report = lake.verify(anchor=expected)
    out = console()
    if as_json:
        typer.echo(_json(report.as_dict()))
    else:
        for finding in report.findings:
            out.print(
                f"[red]✗[/red] {finding.kind}: {finding.where}: {finding.detail}",
                highlight=False,
                markup=True,
            )
    if not report.ok:
        raise IntegrityError(
            f"the lake has {len(report.findings)} problem(s) in {report.files} listed files",
            hint="the files and manifest lines named above were changed outside Maat",
        )
    if not as_json:
        out.print(
            f"[green]✓[/green] {report.files:,} files, {report.rows:,} rows verified",
            highlight=False,
        )
        out.print(
            f"anchor (keep it to check later with --anchor): {report.anchor}",
            highlight=False,
            soft_wrap=True,
        )


@app.command("query")
def query(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(help="One read-only statement over the view 'events'.")],
    fmt: FormatOpt = "table",
    limit: Annotated[int, typer.Option(help="Rows shown at most.", min=1)] = 100,
) -> None:
    """Run read-only SQL (DuckDB) over the events of the lake's listed files."""
    as_json = _check_format(fmt)
    state: CliState = ctx.obj
    with _lake(state) as lake:
        result = lake.query(sql, max_rows=limit)
    if as_json:
        typer.echo(
            _json(
                {
                    "columns": list(result.columns),
                    "rows": [list(r) for r in result.rows],
                    "truncated": result.truncated,
                }
            )
        )
        return
    table = Table(*result.columns)
    for row in result.rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out = console()
    out.print(table)
    if result.truncated:
        out.print(f"(first {limit} rows shown; raise --limit for more)", style="dim")


@app.command("retain")
def retain(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option(help="Allow a retention below 180 days. Held data is never deleted.")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Show what would go; delete nothing.")] = False,
    fmt: FormatOpt = "table",
) -> None:
    """Delete files older than telemetry.retention_days (never under 180 days without --force,
    never under a legal hold)."""
    as_json = _check_format(fmt)
    state: CliState = ctx.obj
    days = state.settings().telemetry.retention_days
    with _lake(state, write=not dry_run) as lake:
        report = lake.apply_retention(retention_days=days, force=force, dry_run=dry_run)
    if not dry_run and report.deleted:
        _audit(
            state,
            "lake.retain",
            "lake",
            files=len(report.deleted),
            rows=report.rows_deleted,
            retention_days=report.effective_days,
            force=force,
        )
    if as_json:
        typer.echo(_json(report.as_dict()))
        return
    out = console()
    for note in report.notes:
        out.print(f"[yellow]![/yellow] {note}", highlight=False)
    verb = "would delete" if dry_run else "deleted"
    out.print(
        f"{verb} {len(report.deleted):,} files ({report.rows_deleted:,} rows) older than "
        f"{report.effective_days} days",
        highlight=False,
    )
    for path in report.deleted[:50]:
        out.print(f"  {path}", markup=False, highlight=False)
    for reason, count in summary(report.kept).items():
        out.print(f"kept {count:,} files: {reason}", markup=False, highlight=False)


@app.command("hold")
def hold(
    ctx: typer.Context,
    day_from: Annotated[str, typer.Option("--from", help="First day held (YYYY-MM-DD).")],
    day_to: Annotated[str, typer.Option("--to", help="Last day held (YYYY-MM-DD).")],
    reason: Annotated[str, typer.Option(help="Why (case, order): recorded with the hold.")],
    module: Annotated[str | None, typer.Option(help="Only this module (default: all).")] = None,
) -> None:
    """Place a legal hold: retention never deletes the held days, even with --force."""
    state: CliState = ctx.obj
    with _lake(state, write=True) as lake:
        placed = lake.hold(day_from, day_to, module, reason)
    _audit(
        state,
        "lake.hold",
        placed.id,
        day_from=placed.day_from,
        day_to=placed.day_to,
        module=placed.module,
        reason=placed.reason,
    )
    console().print(f"legal hold {placed.describe()} placed", markup=False, highlight=False)
    typer.echo(placed.id)


@app.command("release")
def release(
    ctx: typer.Context,
    hold_id: Annotated[str, typer.Argument(help="The hold's id (hold-N).")],
    reason: Annotated[str, typer.Option(help="Why the hold ends.")] = "released",
) -> None:
    """Release a legal hold; its days become subject to retention again."""
    state: CliState = ctx.obj
    with _lake(state, write=True) as lake:
        released = lake.release(hold_id, reason=reason)
    _audit(state, "lake.release", released.id, reason=reason)
    console().print(f"legal hold {released.describe()} released", markup=False, highlight=False)


@app.command("stats")
def stats(ctx: typer.Context, fmt: FormatOpt = "table") -> None:
    """Files, rows, bytes, days and modules in the lake, active holds and the anchor."""
    as_json = _check_format(fmt)
    state: CliState = ctx.obj
    with _lake(state) as lake:
        figures = lake.stats()
    anchor = f"{figures.head_seq}:{figures.head_mac}"
    if as_json:
        typer.echo(
            _json(
                {
                    "files": figures.files,
                    "rows": figures.rows,
                    "bytes": figures.bytes,
                    "first_day": figures.first_day,
                    "last_day": figures.last_day,
                    "modules": dict(figures.modules),
                    "retired_files": figures.retired_files,
                    "holds": [dict(h) for h in figures.active_holds],
                    "anchor": anchor,
                }
            )
        )
        return
    out = console()
    span = f"{figures.first_day} .. {figures.last_day}" if figures.files else "no data"
    out.print(
        f"{figures.files:,} files, {figures.rows:,} rows, {figures.bytes / 1e6:,.1f} MB; {span}",
        highlight=False,
    )
    for name, rows in figures.modules.items():
        out.print(f"  {name}: {rows:,} rows", markup=False, highlight=False)
    out.print(f"{figures.retired_files:,} files retired by retention", highlight=False)
    for held in figures.active_holds:
        scope = f"{held.get('from')}..{held.get('to')}"
        if held.get("module"):
            scope += f", {held.get('module')}"
        out.print(f"hold {held.get('id')} ({scope}): {held.get('reason')}", markup=False)
    out.print(f"anchor: {anchor}", highlight=False, soft_wrap=True)
