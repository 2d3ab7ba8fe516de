"""``maat detect`` (one-shot Sigma over event files) and ``maat rules lint|list|test``.

No server and no state: rules and events are read from the paths given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from maat.cli.context import CliState, console, plain, shown
from maat.config import DetectSettings
from maat.detect.iocs import newer_version
from maat.errors import InvalidInput
from maat.services.detection import (
    DetectionRun,
    detect_files,
    load_ioc_files,
    load_rule_files,
    regression_cases,
)
from maat.services.event_files import parse_event_file
from maat.services.telemetry import read_inputs, tune_process

rules_app = typer.Typer(
    help="Sigma rules: check, list, and test against cases.", no_args_is_help=True
)

FormatOption = Annotated[str, typer.Option("--format", help="text or jsonl/json.")]


def _max_event_bytes(ctx: typer.Context) -> int:
    state: CliState = ctx.obj
    return int(state.settings().telemetry.max_event_bytes)


def detect(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Event files or folders (walked).")],
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", help="Sigma rule files or folders (repeatable)."),
    ] = None,
    iocs: Annotated[
        list[Path] | None,
        typer.Option("--iocs", help="STIX 2.x bundles or trail lists (repeatable)."),
    ] = None,
    source: Annotated[str, typer.Option(help="Force a parser; default detects.")] = "auto",
    output_format: FormatOption = "text",
) -> None:
    """Run Sigma rules and indicators of compromise over event files (any format `maat
    ingest` reads, EVTX included) and print one alert per hit; no server, nothing stored."""
    if output_format not in ("text", "jsonl"):
        raise InvalidInput("--format must be text or jsonl", field="format")
    if not rules and not iocs:
        raise InvalidInput("give --rules, --iocs or both", field="rules")
    err = console(stderr=True)
    state: CliState = ctx.obj
    tune_process(state.settings())
    engine = load_rule_files(rules)[1] if rules else None
    for problem in engine.problems if engine is not None else ():
        if problem.severity == "error":
            err.print(f"rule {problem.path}: {problem.reason}", markup=False, highlight=False)
    index = load_ioc_files(iocs) if iocs else None
    for bad in index.problems if index is not None else ():
        err.print(f"ioc {bad.source}: {bad.indicator}: {bad.reason}", markup=False,
                  highlight=False)  # fmt: skip
    run = DetectionRun()
    files = list(read_inputs(paths))
    limit = _max_event_bytes(ctx)
    batch = int(state.settings().detect.match_batch_events)
    alerts = detect_files(
        engine, files, source=source, max_event_bytes=limit, run=run, iocs=index, batch=batch
    )
    for alert in alerts:
        if output_format == "jsonl":
            typer.echo(orjson.dumps(alert).decode())
        else:
            line = f"{alert['rule.level']:>13}  {alert['rule.title']}  {alert['source.path']}"
            typer.echo(f"{plain(line)}:{alert['source.line']}")
    for error in run.errors or []:
        err.print(f"{error.path}:{error.line}: {error.reason}", markup=False, highlight=False)
    if run.errors is not None and run.errors.dropped:
        err.print(f"... and {run.errors.dropped:,} more unreadable record(s)", markup=False)
    for skipped, why in run.skipped or []:
        err.print(f"skipped {skipped}: {why}", markup=False, highlight=False)
    ran = len(engine.rules) if engine is not None else 0
    indicators = index.count if index is not None else 0
    err.print(
        f"{run.alerts:,} alert(s) from {run.events:,} event(s) in {len(files):,} file(s); "
        f"{ran:,} rule(s) and {indicators:,} indicator(s) ran",
        markup=False,
        highlight=False,
    )


@rules_app.command("lint")
def rules_lint(
    paths: Annotated[list[Path], typer.Argument(help="Rule files or folders.")],
    output_format: FormatOption = "text",
) -> None:
    """Load and compile every rule in one pass; list each problem with its file. Exit 1
    when a rule is broken (rules Maat has no log source for are warnings)."""
    _, engine = load_rule_files(paths)
    errors = [p for p in engine.problems if p.severity == "error"]
    if output_format == "json":
        payload = {"rules": len(engine.rules), "problems": [p.as_dict() for p in engine.problems]}
        typer.echo(json.dumps(payload))
    else:
        out = console()
        for p in engine.problems:
            mark = "[red]✗[/red]" if p.severity == "error" else "[yellow]![/yellow]"
            out.print(
                f"{mark} {shown(p.path)}: {shown(p.rule)}: {shown(p.reason)}", highlight=False
            )
        out.print(
            f"{len(engine.rules):,} rule(s) compiled, {len(errors):,} error(s), "
            f"{len(engine.problems) - len(errors):,} warning(s)"
        )
    if errors:
        raise typer.Exit(1)


@rules_app.command("list")
def rules_list(
    paths: Annotated[list[Path], typer.Argument(help="Rule files or folders.")],
    output_format: FormatOption = "text",
) -> None:
    """List the rules that run (id, level, log source, title)."""
    _, engine = load_rule_files(paths)
    if output_format == "json":
        typer.echo(json.dumps([r.as_dict() for r in engine.rules]))
        return
    for rule in engine.rules:
        typer.echo(f"{rule.id}  {rule.level:>13}  {rule.logsource:<45}  {rule.title}")


@rules_app.command("test")
def rules_test(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Rule files or folders.")],
    cases: Annotated[Path, typer.Option(help="Regression cases (SigmaHQ regression_data layout).")],
) -> None:
    """Check that every regression case fires the rule it names (JSON and EVTX events).
    Exit 1 on any case that does not."""
    _, engine = load_rule_files(paths)
    by_id = {rule.id: rule for rule in engine.rules}
    limit = _max_event_bytes(ctx)
    out = console()
    failed = 0
    checked = 0
    for case in regression_cases(cases):
        if case.rule_id not in by_id:
            continue  # a case for a rule not among the paths given
        for event_file in case.events:
            checked += 1
            outcome = parse_event_file(event_file, source="auto", max_event_bytes=limit)
            fired = any(
                hit.rule.id == case.rule_id for e in outcome.events for hit in engine.match(e)
            )
            if not fired:
                failed += 1
                out.print(f"[red]✗[/red] {shown(case.title)}: {shown(event_file)}", highlight=False)
    out.print(f"{checked - failed:,} of {checked:,} case file(s) fire their rule")
    if failed or not checked:
        raise typer.Exit(1)


alerts_app = typer.Typer(help="Alerts recorded by the server's detection.", no_args_is_help=True)


@alerts_app.command("list")
def alerts_list(
    ctx: typer.Context,
    rule: Annotated[str | None, typer.Option(help="Only this rule id.")] = None,
    host: Annotated[str | None, typer.Option(help="Only alerts naming this host.")] = None,
    level: Annotated[str | None, typer.Option(help="Only this level.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    output_format: FormatOption = "text",
) -> None:
    """Newest alerts first: level, count, rule title, hosts."""
    from maat.services.alerts import list_alerts

    state: CliState = ctx.obj
    with state.platform() as platform:
        found = list_alerts(platform, rule_id=rule, host=host, level=level, limit=limit)
    if output_format == "json":
        typer.echo(json.dumps([_alert_dict(a) for a in found], default=str))
        return
    for alert in found:
        hosts = ",".join(alert.entities.get("hosts") or alert.entities.get("reach_hosts") or ())
        # Host names and titles come from event data: no terminal escapes, no extra lines.
        hosts = _one_line(hosts or "-")
        typer.echo(f"{alert.created_at:%Y-%m-%d %H:%M:%S}  {alert.level:>13}  x{alert.count:<5} "
                   f"{hosts:<20}  {_one_line(alert.title)}")  # fmt: skip


def _one_line(text: object) -> str:
    """Event data shown in one row: control characters replaced, line breaks too (``plain``
    keeps them), so a crafted host name cannot forge rows."""
    return plain(text).replace("\n", "?")


def _alert_dict(alert: Any) -> dict[str, Any]:
    return {
        "id": alert.id, "rule_id": alert.rule_id, "title": alert.title, "level": alert.level,
        "techniques": list(alert.techniques), "entities": dict(alert.entities),
        "event_ids": list(alert.event_ids), "count": alert.count,
        "created_at": alert.created_at.isoformat(),
        "last_seen": alert.last_seen.isoformat() if alert.last_seen else None,
    }  # fmt: skip


iocs_app = typer.Typer(
    help="Indicators of compromise: check files, pull TAXII.", no_args_is_help=True
)


@iocs_app.command("lint")
def iocs_lint(
    paths: Annotated[list[Path], typer.Argument(help="STIX bundles or trail lists.")],
    output_format: FormatOption = "text",
) -> None:
    """Load indicators and list each one that will not run, with the reason."""
    index = load_ioc_files(paths)
    if output_format == "json":
        payload = {"indicators": index.count, "problems": [p.as_dict() for p in index.problems]}
        typer.echo(json.dumps(payload))
        return
    out = console()
    for p in index.problems:
        text = f"{shown(p.source)}: {shown(p.indicator)}: {shown(p.reason)}"
        out.print(f"[yellow]![/yellow] {text}", highlight=False)
    out.print(f"{index.count:,} indicator(s) run, {len(index.problems):,} not")


def _pull_state(state: Path | None) -> str | None:
    """Where the last pull stopped (``--state``), or ``None`` for a first pull."""
    if state is None or not state.exists():
        return None
    try:
        return state.read_text().strip() or None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the pull state: {exc}", file=str(state)) from None


@iocs_app.command("pull")
def iocs_pull(
    ctx: typer.Context,
    api_root: Annotated[str, typer.Argument(help="TAXII 2.1 API root URL.")],
    collection: Annotated[str, typer.Option(help="Collection id.")],
    out: Annotated[Path, typer.Option(help="Where to write the STIX bundle.")],
    user: Annotated[str | None, typer.Option(help="HTTP basic user.")] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the password.")
    ] = None,
    token_env: Annotated[
        str | None, typer.Option(help="Environment variable holding a bearer token.")
    ] = None,
    state: Annotated[
        Path | None, typer.Option(help="File keeping where the last pull stopped.")
    ] = None,
) -> None:
    """Pull a TAXII 2.1 collection into a STIX bundle file (``[detect] iocs`` reads it);
    with ``--state``, only what was added since the last pull, merged into the file."""
    import os

    from maat.adapters.feeds.taxii import pull_collection

    since = _pull_state(state)
    password = os.environ.get(password_env) if password_env else None
    token = os.environ.get(token_env) if token_env else None
    limits = ctx.obj.settings().detect if isinstance(ctx.obj, CliState) else DetectSettings()
    pulled = pull_collection(api_root, collection, added_after=since, user=user,
                             password=password, token=token,
                             max_bytes=int(limits.taxii_max_bytes),
                             max_objects=int(limits.taxii_max_objects))  # fmt: skip
    bundle = pulled.bundle()
    if since is not None and out.exists():
        # Incremental: the file keeps the collection; newer versions of an object replace it.
        try:
            kept = orjson.loads(out.read_bytes()).get("objects") or []
        except (OSError, orjson.JSONDecodeError, AttributeError) as exc:
            raise InvalidInput(f"cannot merge into it: {exc}", file=str(out)) from exc
        merged = {o.get("id"): o for o in kept if isinstance(o, dict)}
        for obj in pulled.objects:
            old = merged.get(obj.get("id"))
            if old is None or newer_version(obj, old):  # times compared, not their text
                merged[obj.get("id")] = obj
        bundle["objects"] = list(merged.values())
    try:
        out.write_bytes(orjson.dumps(bundle))
        if state is not None and pulled.added_last:
            state.write_text(pulled.added_last + "\n")
    except OSError as exc:
        raise InvalidInput(f"cannot write: {exc.strerror}", file=str(out)) from exc
    indicators = sum(1 for o in pulled.objects if o.get("type") == "indicator")
    console().print(f"{len(pulled.objects):,} object(s), {indicators:,} indicator(s) in "
                    f"{pulled.pages} page(s) -> {out}")  # fmt: skip
