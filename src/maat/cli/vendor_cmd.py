"""``maat vendor``: the vendor register, scores, scorecards and breaches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from maat.cli.context import CliState, console, plain, shown
from maat.core._validate import parse_timestamp
from maat.core.enums import Criticality
from maat.errors import InvalidInput, NotFound
from maat.vendors.records import TIERS, parse_contact

app = typer.Typer(
    help="Vendors: register, score, scorecard, breach blast radius.", no_args_is_help=True
)
FormatOption = Annotated[str, typer.Option("--format", help="text or json.")]


@app.command("add")
def add(
    ctx: typer.Context,
    name: str,
    criticality: Annotated[
        Criticality, typer.Option(help="How much we depend on it.")
    ] = Criticality.MEDIUM,
    tier: Annotated[
        list[str] | None, typer.Option(help=f"Access tier: {', '.join(TIERS)}.")
    ] = None,
    contact: Annotated[str | None, typer.Option(help='Security contact "Name <email>".')] = None,
    website: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Register a vendor."""
    from maat.services.vendors import add_vendor

    state: CliState = ctx.obj
    contacts = [parse_contact(contact)] if contact else []
    with state.platform() as platform:
        record = add_vendor(platform, state.actor, name, criticality=criticality, tiers=tier or [],
                            contacts=contacts, website=website)  # fmt: skip
    console().print(f"vendor {shown(record.name)} added ({record.id})")


@app.command("import")
def import_csv(ctx: typer.Context, file: Path) -> None:
    """Vendors from CSV (name,criticality,tiers,security_contact,website; tiers split by ';').
    Bad lines are reported with their line and field; the others are imported."""
    from maat.adapters.feeds.files import read_file
    from maat.services.vendors import import_vendors

    state: CliState = ctx.obj
    with state.platform() as platform:
        done, errors = import_vendors(platform, state.actor, read_file(file), path=str(file))
    out = console()
    for error in errors:
        out.print(f"[red]✗[/red] {shown(error.diagnostics())}", highlight=False)
    out.print(f"{len(done)} vendor(s) imported, {len(errors)} line(s) refused")
    if errors:
        raise typer.Exit(1)


@app.command("list")
def list_cmd(ctx: typer.Context, output_format: FormatOption = "text") -> None:
    """Every vendor with its criticality and tiers."""
    from maat.services.vendors import list_vendors

    state: CliState = ctx.obj
    with state.platform() as platform:
        vendors = list_vendors(platform)
    if output_format == "json":
        typer.echo(json.dumps([{"id": v.id, "name": v.name, "criticality": v.criticality.value,
                                "tiers": list(v.tiers), "breached_at": v.breached_at.isoformat()
                                if v.breached_at else None} for v in vendors]))  # fmt: skip
        return
    for v in vendors:
        flag = "  BREACHED" if v.breached_at else ""
        typer.echo(f"{v.name:<30} {v.criticality.value:<9} {','.join(v.tiers)}{flag}")


@app.command("link-account")
def link(
    ctx: typer.Context,
    user: str,
    vendor: Annotated[str | None, typer.Argument(help="Vendor name; omit to unlink.")] = None,
) -> None:
    """Say which vendor an account (remote access, API client) belongs to."""
    from maat.services.vendors import link_account

    state: CliState = ctx.obj
    with state.platform() as platform:
        link_account(platform, state.actor, user, vendor)
    console().print(f"{shown(user)} -> {shown(vendor or 'no vendor')}")


@app.command("score")
def score_cmd(ctx: typer.Context, name: str, output_format: FormatOption = "text") -> None:
    """The vendor's score from the evidence Maat holds, with every contribution."""
    from maat.services.vendors import vendor_score

    state: CliState = ctx.obj
    with state.platform() as platform:
        result = vendor_score(platform, name)
    if output_format == "json":
        typer.echo(json.dumps(result.as_dict()))
        return
    typer.echo(f"{result.vendor}: {result.score}/100, grade {result.grade}")
    for c in result.contributions:
        typer.echo(f"  {c.points:>4}  {c.name:<22} {c.detail}")


@app.command("report")
def report(
    ctx: typer.Context,
    name: str,
    output_format: Annotated[str, typer.Option("--format", help="json or html.")] = "json",
    out: Annotated[Path | None, typer.Option(help="Write here instead of printing.")] = None,
) -> None:
    """The vendor's scorecard: score, contributions and what the vendor reaches."""
    from maat.services.vendors import blast_radius, list_vendors, report_html, vendor_score

    if output_format not in ("json", "html"):
        raise InvalidInput("--format must be json or html", field="format")
    state: CliState = ctx.obj
    with state.platform() as platform:
        result = vendor_score(platform, name)
        vendor = next(v for v in list_vendors(platform) if v.name == result.vendor)
        reach = blast_radius(platform, "vendor", vendor.name)
    if output_format == "html":
        text = report_html(vendor, result, reach)
    else:
        payload = {**result.as_dict(), "criticality": vendor.criticality.value,
                   "tiers": list(vendor.tiers), "in_reach": reach.as_dict()}  # fmt: skip
        text = json.dumps(payload)
    if out is None:
        typer.echo(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write: {exc.strerror}", file=str(out)) from exc


@app.command("breach")
def breach(
    ctx: typer.Context,
    name: str,
    note: Annotated[str, typer.Option(help="What is known of the breach.")] = "",
    output_format: FormatOption = "text",
) -> None:
    """Record a breach at the vendor: blast radius (products, artifacts, hosts, identities,
    API tokens), the containment actions it calls for, and an alert."""
    from maat.services.vendors import record_breach

    state: CliState = ctx.obj
    with state.platform() as platform:
        result = record_breach(platform, state.actor, name, note=note)
    if output_format == "json":
        typer.echo(json.dumps(result.as_dict()))
        return
    out = console()
    out.print(
        f"[bold]Breach recorded at {shown(result.vendor.name)}[/bold] (alert {result.alert_id})"
    )
    for kind, keys in result.reach.as_dict().items():
        out.print(
            f"  {kind + 's':<12} {len(keys):>4}  {shown(', '.join(keys[:10]))}", highlight=False
        )
    out.print("Containment (not executed: no response playbooks yet):")
    for action in result.actions:
        out.print(f"  - {shown(action)}", highlight=False)


@app.command("assess")
def assess_cmd(
    ctx: typer.Context,
    answers: Annotated[Path, typer.Argument(help="The vendor's answers (YAML).")],
    questionnaire: Annotated[
        Path | None, typer.Option(help="A questionnaire (YAML); default: Maat's own.")
    ] = None,
    output_format: FormatOption = "text",
) -> None:
    """Score a vendor's answers (evidence files stored by SHA-256); the vendor's score uses
    the latest assessment and its expiry."""
    from maat.services.assessments import assess_vendor, load_questionnaire

    state: CliState = ctx.obj
    form = None
    if questionnaire is not None:
        try:
            text = questionnaire.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read: {exc}", file=str(questionnaire)) from exc
        form = load_questionnaire(text, source=str(questionnaire))
    with state.platform() as platform:
        record = assess_vendor(platform, state.actor, answers, questionnaire=form)
    if output_format == "json":
        typer.echo(json.dumps({
            "id": record.id, "score": record.score, "expires_at": record.expires_at.isoformat(),
            "points": [list(p) for p in record.points], "missing": list(record.missing),
            "evidence": list(record.evidence),
        }))  # fmt: skip
        return
    typer.echo(f"assessment {record.id}: {record.score:.1f}/100, valid until "
               f"{record.expires_at:%Y-%m-%d}")  # fmt: skip
    for question, earned, possible, why in record.points:
        typer.echo(f"  {earned:>5.2f}/{possible:<5.2f} {question:<28} {plain(why)}")


@app.command("reminders")
def reminders_cmd(
    ctx: typer.Context,
    within: Annotated[int, typer.Option(min=0, max=3650, help="Days ahead.")] = 30,
    output_format: FormatOption = "text",
) -> None:
    """Vendors to reassess: never assessed, lapsed, or lapsing within ``--within`` days."""
    from maat.services.assessments import reminders

    state: CliState = ctx.obj
    with state.platform() as platform:
        due = reminders(platform, within_days=within)
    if output_format == "json":
        typer.echo(json.dumps([{"vendor": r.vendor, "state": r.state,
                                "expires_at": r.expires_at.isoformat() if r.expires_at else None}
                               for r in due]))  # fmt: skip
        return
    for r in due:
        when = f" ({r.expires_at:%Y-%m-%d})" if r.expires_at else ""
        typer.echo(f"{plain(r.vendor):<30} {r.state}{when}")


@app.command("contract")
def contract_cmd(ctx: typer.Context, file: Path) -> None:
    """Store a vendor's contract terms (YAML: vendor, signed, terms)."""
    from maat.adapters.feeds.files import read_file
    from maat.services.contracts import set_contract

    state: CliState = ctx.obj
    text = read_file(file).decode("utf-8", "replace")
    with state.platform() as platform:
        contract = set_contract(platform, state.actor, text, source=str(file))
    console().print(f"contract of {shown(contract.vendor)}: {', '.join(sorted(contract.terms))}")


@app.command("compliance")
def compliance_cmd(ctx: typer.Context, name: str, output_format: FormatOption = "text") -> None:
    """Contract breaches measured from Maat's data (late critical fixes, unsigned or unlisted
    delivered files, products without an SBOM, late incident notices), each kept as a
    finding against the vendor until it no longer holds; and what could not be measured."""
    from maat.services.contracts import review_compliance

    state: CliState = ctx.obj
    with state.platform() as platform:
        review = review_compliance(platform, state.actor, name)
    result = review.compliance
    if output_format == "json":
        typer.echo(json.dumps({
            "vendor": result.vendor,
            "terms": result.contract.terms if result.contract else None,
            "breaches": [{"term": b.term, "detail": b.detail, "evidence": b.evidence}
                         for b in result.breaches],
            "notes": list(result.notes),
            "findings": {"opened": len(review.opened), "closed": len(review.closed),
                         "open": [_finding(f) for f in review.open]},
        }, default=str))  # fmt: skip
        return
    typer.echo(f"{plain(result.vendor)}: {len(result.breaches)} breach(es); findings "
               f"{len(review.opened)} opened, {len(review.closed)} closed, "
               f"{len(review.open)} open")  # fmt: skip
    for b in result.breaches:
        typer.echo(f"  {b.term:<28} {plain(b.detail)}")
    for note in result.notes:
        typer.echo(f"  note: {plain(note)}")


def _finding(f: Any) -> dict[str, Any]:
    return {"id": f.id, "term": f.term, "detail": f.detail, "opened_at": f.opened_at,
            "closed_at": f.closed_at}  # fmt: skip


@app.command("notice")
def notice_cmd(
    ctx: typer.Context,
    name: str,
    occurred_at: Annotated[str, typer.Option(help="When the incident began (ISO 8601).")],
    notified_at: Annotated[str, typer.Option(help="When the vendor told you (ISO 8601).")],
    note: Annotated[str, typer.Option(help="What they said.")] = "",
) -> None:
    """Record a vendor's incident notice; a contract's incident_notification_hours is
    measured against it."""
    from maat.services.contracts import record_notice

    state: CliState = ctx.obj
    times = [parse_timestamp(occurred_at, field="occurred-at", file=None),
             parse_timestamp(notified_at, field="notified-at", file=None)]  # fmt: skip
    with state.platform() as platform:
        record_notice(platform, state.actor, name, occurred_at=times[0], notified_at=times[1],
                      note=note)  # fmt: skip
    hours = (times[1] - times[0]).total_seconds() / 3600
    console().print(f"notice recorded: told {hours:.1f} h after the incident began")


@app.command("findings")
def findings_cmd(
    ctx: typer.Context, name: str, output_format: FormatOption = "text",
    all_: Annotated[bool, typer.Option("--all", help="Closed ones too.")] = False,
) -> None:  # fmt: skip
    """Findings against the vendor (contract breaches), open ones unless --all."""
    state: CliState = ctx.obj
    with state.platform() as platform, platform.transaction(write=False) as uow:
        vendor = uow.vendors.by_name(name)
        if vendor is None:
            raise NotFound(f"no vendor named {name!r}")
        found = uow.vendor_findings.of_vendor(vendor.id, open_only=not all_)
    if output_format == "json":
        typer.echo(json.dumps([_finding(f) for f in found], default=str))
        return
    for f in found:
        state_text = "open" if f.closed_at is None else f"closed {f.closed_at:%Y-%m-%d}"
        typer.echo(f"{f.opened_at:%Y-%m-%d}  {state_text:<17} {f.term:<28} {plain(f.detail)}")
