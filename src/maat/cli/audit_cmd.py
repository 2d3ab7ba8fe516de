"""``maat audit``: verify and show the tamper-evident audit log."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from maat.cli.context import CliState, console
from maat.errors import IntegrityError
from maat.services import audit

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
def verify(
    ctx: typer.Context,
    anchor: Annotated[
        str | None,
        typer.Option(help="SEQ:MAC head kept from an earlier run, to detect truncation."),
    ] = None,
) -> None:
    """Check every record's MAC and link; name each edited, deleted or moved record."""
    state: CliState = ctx.obj
    expected = audit.parse_anchor(anchor) if anchor else None
    with state.platform() as platform:
        report = audit.verify_audit(platform, anchor=expected)
    out = console()
    for problem in report.problems:
        out.print(f"[red]✗[/red] {problem.kind}: {problem.message}", highlight=False)
    if not report.ok:
        raise IntegrityError(
            f"the audit log has {len(report.problems)} problem(s) in {report.checked} records",
            hint="the records named above were changed outside Maat",
        )
    head = f"{report.head_seq}:{report.head_mac}"
    out.print(f"[green]✓[/green] {report.checked} records verified", highlight=False)
    out.print(
        f"head (keep it to check later with --anchor): {head}", highlight=False, soft_wrap=True
    )


@app.command("show")
def show(
    ctx: typer.Context,
    after: Annotated[int, typer.Option(help="Show records after this sequence number.")] = 0,
    limit: Annotated[int, typer.Option(help="How many records.")] = 50,
) -> None:
    """Show audit records."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        records = audit.list_audit(platform, after_seq=after, limit=limit)
    table = Table("seq", "at", "actor", "action", "target", "outcome")
    for r in records:
        e = r.entry
        table.add_row(
            str(r.seq), e.at.isoformat(timespec="seconds"), e.actor, e.action, e.target, e.outcome
        )
    console().print(table)
