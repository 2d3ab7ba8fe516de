"""``maat scan|sbom|advisories|inventory|findings|remediate``: vulnerability management."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from maat import __version__
from maat.adapters.feeds.files import read_file
from maat.cli.context import CliState, console
from maat.config import Settings, parse_duration
from maat.errors import InvalidInput
from maat.sbom import parse_sbom
from maat.services import findings as findings_service
from maat.services import vulns
from maat.vulns import distros, inventory
from maat.vulns.formats import to_cyclonedx_vex, to_sarif
from maat.vulns.scan import ScanReport, report_dict
from maat.vulns.subjects import subject_from_component, subject_from_package

scan_app = typer.Typer(
    help="Scan an SBOM or a host inventory (no server, no state).", no_args_is_help=True
)
sbom_app = typer.Typer(help="Store SBOMs per product.", no_args_is_help=True)
advisories_app = typer.Typer(help="Import OSV advisories, KEV and EPSS.", no_args_is_help=True)
inventory_app = typer.Typer(help="Store host package inventories.", no_args_is_help=True)
findings_app = typer.Typer(help="Stored findings and their SLA clocks.", no_args_is_help=True)
vex_app = typer.Typer(help="Keep VEX statements for stored scans.", no_args_is_help=True)


@vex_app.command("import")
def vex_import(ctx: typer.Context, file: Path) -> None:
    """Keep a VEX document (CycloneDX, OpenVEX, CSAF): later stored scans honour it."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        count = vulns.import_vex(platform, state.actor, file)
    console().print(
        f"{count} VEX statements kept; they apply from the next SBOM or inventory import"
    )


class ReportFormat(StrEnum):
    """Output formats of a scan."""

    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"
    VEX = "vex"


AdvisoriesOpt = Annotated[
    Path, typer.Option("--advisories", "-a", help="OSV file, folder, zip dump, or a Maat index.")
]
KevOpt = Annotated[Path | None, typer.Option("--kev", help="CISA KEV catalogue (JSON or CSV).")]
EpssOpt = Annotated[Path | None, typer.Option("--epss", help="EPSS scores (CSV).")]
VexOpt = Annotated[
    list[Path] | None,
    typer.Option("--vex", help="VEX document (CycloneDX, OpenVEX, CSAF); repeatable."),
]
FormatOpt = Annotated[ReportFormat, typer.Option("--format", "-f", help="Output format.")]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
]


def _settings() -> Settings:
    # Stateless scans need limits only; a configuration file is optional.
    return Settings.load()


def _emit(report: ScanReport, fmt: ReportFormat, *, source: str, output: Path | None) -> None:
    if fmt is ReportFormat.TABLE:
        _table(report)
        return
    if fmt is ReportFormat.JSON:
        document: Any = report_dict(report)
    elif fmt is ReportFormat.SARIF:
        document = to_sarif(report, source=source, tool_version=__version__)
    else:
        document = to_cyclonedx_vex(report, now=datetime.now(UTC), tool_version=__version__)
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if output is None:
        print(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


def _table(report: ScanReport) -> None:
    out = console()
    table = Table("priority", "severity", "component", "version", "advisory", "fixed in", "KEV")
    for f in report.findings:
        table.add_row(
            f"{f.priority.label} {f.priority.score:.0f}",
            f.severity,
            f.subject.name,
            f.subject.version or "",
            f.match.advisory.id,
            ", ".join(f.match.fixed_versions) or "-",
            "yes" if f.kev else "",
        )
    out.print(table)
    out.print(
        f"{report.subjects} components, {len(report.findings)} findings, "
        f"{len(report.suppressed)} suppressed by VEX, {len(report.skipped)} skipped"
    )
    reasons: dict[str, int] = {}
    for s in report.skipped:
        reasons[s.reason] = reasons.get(s.reason, 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])[:10]:
        out.print(f"  skipped {count}× : {reason}", style="dim", highlight=False)


@scan_app.command("sbom")
def scan_sbom(
    file: Path,
    advisories: AdvisoriesOpt,
    kev: KevOpt = None,
    epss: EpssOpt = None,
    vex: VexOpt = None,
    fmt: FormatOpt = ReportFormat.TABLE,
    output: OutputOpt = None,
) -> None:
    """Match an SBOM's components against advisories. Exit 0 with or without findings."""
    limits = _settings().vulns
    sbom = parse_sbom(
        read_file(file, max_bytes=int(limits.max_sbom_bytes)),
        source=str(file),
        max_bytes=int(limits.max_sbom_bytes),
        max_components=limits.max_sbom_components,
    )
    intel = vulns.load_intel(advisories, kev_file=kev, epss_file=epss, vex_files=vex or ())
    product = sbom.metadata_component
    report = vulns.run_scan(
        [subject_from_component(c) for c in sbom.components],
        intel,
        product_purl=str(product.purl)
        if product is not None and product.purl is not None
        else None,
    )
    _warn_problems([*sbom.problems, *(intel.problems or []), *intel.index.problems])
    _emit(report, fmt, source=str(file), output=output)


@scan_app.command("inventory")
def scan_inventory(
    file: Path,
    advisories: AdvisoriesOpt,
    os_release: Annotated[Path | None, typer.Option(help="The host's /etc/os-release.")] = None,
    kind: Annotated[
        str | None, typer.Option(help="dpkg, rpm, apk, pip, requirements, npm, gomod")
    ] = None,
    kev: KevOpt = None,
    epss: EpssOpt = None,
    vex: VexOpt = None,
    fmt: FormatOpt = ReportFormat.TABLE,
    output: OutputOpt = None,
) -> None:
    """Match a host package inventory against advisories."""
    limits = _settings().vulns
    release = (
        distros.parse_os_release(
            read_file(os_release).decode("utf-8", "replace"), source=str(os_release)
        )
        if os_release
        else None
    )
    inv = inventory.parse_inventory(
        read_file(file, max_bytes=int(limits.max_inventory_bytes)),
        source=str(file),
        kind=kind,
        os_release=release,
        max_bytes=int(limits.max_inventory_bytes),
        max_packages=limits.max_inventory_packages,
    )
    intel = vulns.load_intel(advisories, kev_file=kev, epss_file=epss, vex_files=vex or ())
    report = vulns.run_scan([subject_from_package(p) for p in inv.packages], intel)
    _warn_problems([*inv.problems, *(intel.problems or [])])
    _emit(report, fmt, source=str(file), output=output)


def _warn_problems(problems: list[Any]) -> None:
    if not problems:
        return
    err = console(stderr=True)
    for p in problems[:20]:
        err.print(f"warning: {p}", style="yellow", highlight=False)
    if len(problems) > 20:
        err.print(f"warning: … and {len(problems) - 20} more problems", style="yellow")


@advisories_app.command("import")
def advisories_import(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Argument(help="OSV file, folder or zip dump.")] = None,
    kev: KevOpt = None,
    epss: EpssOpt = None,
) -> None:
    """Build the advisory index of this installation (and keep KEV and EPSS beside it)."""
    state: CliState = ctx.obj
    if path is None and kev is None and epss is None:
        raise InvalidInput("nothing to import", hint="give an OSV path, --kev or --epss")
    with state.platform() as platform:
        summary = vulns.import_advisories(platform, state.actor, path, kev_file=kev, epss_file=epss)
    out = console()
    if path is not None:
        out.print(f"{summary.advisories} advisories for {summary.packages} packages indexed")
    if summary.kev is not None:
        out.print(f"KEV: {summary.kev} known exploited vulnerabilities")
    if summary.epss is not None:
        out.print(f"EPSS: {summary.epss} scores")
    _warn_problems(summary.problems)


@sbom_app.command("import")
def sbom_import(
    ctx: typer.Context,
    file: Path,
    product: Annotated[str, typer.Option("--product", "-p", help="Product the SBOM describes.")],
    vendor: Annotated[str | None, typer.Option(help="The product's vendor.")] = None,
) -> None:
    """Store an SBOM for a product and record its findings."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        data = read_file(file, max_bytes=int(platform.settings.vulns.max_sbom_bytes))
        stored = findings_service.import_sbom(
            platform, state.actor, product, data, source=str(file), vendor=vendor
        )
    c = stored.changes
    console().print(
        f"{product}: {len(stored.report.findings)} findings "
        f"({c.opened} new, {c.reopened} reopened, {c.fixed} fixed), "
        f"{len(stored.report.skipped)} components skipped"
    )


@inventory_app.command("import")
def inventory_import(
    ctx: typer.Context,
    file: Path,
    host: Annotated[str, typer.Option("--host", help="Host name.")],
    os_release: Annotated[Path | None, typer.Option(help="The host's /etc/os-release.")] = None,
    group: Annotated[str, typer.Option(help="Host group (Ansible inventory group).")] = "all",
    criticality: Annotated[str, typer.Option(help="low, medium, high, critical")] = "medium",
    exposure: Annotated[str, typer.Option(help="internet, internal, isolated")] = "internal",
) -> None:
    """Store a host's packages, record its findings, flag it if legacy."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        data = read_file(file, max_bytes=int(platform.settings.vulns.max_inventory_bytes))
        release = read_file(os_release).decode("utf-8", "replace") if os_release else None
        stored = findings_service.import_inventory(
            platform,
            state.actor,
            host,
            data,
            source=str(file),
            os_release_text=release,
            group=group,
            criticality=criticality,
            exposure=exposure,
        )
    out = console()
    c = stored.changes
    out.print(f"{host}: {len(stored.report.findings)} findings ({c.opened} new, {c.fixed} fixed)")
    for reason in stored.isolation_reasons:
        out.print(f"[yellow]flagged for isolation:[/yellow] {reason}", highlight=False)


@findings_app.command("list")
def findings_list(
    ctx: typer.Context,
    overdue: Annotated[bool, typer.Option(help="Only findings past their SLA deadline.")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Include fixed and not-affected.")] = False,
    subject: Annotated[str | None, typer.Option(help="One host or product.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    limit: Annotated[int, typer.Option(help="At most this many.")] = 200,
) -> None:
    """Findings, most urgent first."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        views = findings_service.list_findings(
            platform, overdue_only=overdue, include_closed=all_, subject=subject, limit=limit
        )
        now = platform.now()
    if fmt == "json":
        print(json.dumps([_finding_json(v) for v in views], indent=2))
        return
    if not views:
        console().print("no overdue findings" if overdue else "no open findings")
        return
    table = Table("id", "subject", "component", "advisory", "sev", "prio", "status", "due")
    for v in views:
        r = v.record
        due = r.due_at - now
        when = f"[red]overdue {_ago(-due)}[/red]" if v.overdue else f"in {_ago(due)}"
        table.add_row(
            r.id,
            v.subject_name,
            f"{r.component_name} {r.component_version}",
            r.advisory_id,
            r.severity,
            r.priority_label,
            v.effective_status.value,
            when,
        )
    console().print(table)


def _ago(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} h" if abs(hours) < 72 else f"{hours / 24:.0f} d"


def _finding_json(v: findings_service.FindingView) -> dict[str, Any]:
    r = v.record
    return {
        "id": r.id,
        "subject": v.subject_name,
        "subject_kind": r.subject_kind,
        "component": {
            "name": r.component_name,
            "version": r.component_version,
            "purl": r.component_purl,
        },
        "advisory": {"id": r.advisory_id, "aliases": list(r.aliases)},
        "severity": r.severity,
        "priority": r.priority,
        "kev": r.kev,
        "status": v.effective_status.value,
        "overdue": v.overdue,
        "opened_at": r.opened_at.isoformat(),
        "due_at": r.due_at.isoformat(),
        "fixed_versions": list(r.fixed_versions),
    }


@findings_app.command("accept-risk")
def findings_accept(
    ctx: typer.Context,
    finding_id: str,
    approver: Annotated[str, typer.Option(help="Who approves the exception.")],
    reason: Annotated[str, typer.Option(help="Why the risk is acceptable.")],
    until: Annotated[str, typer.Option(help="How long, e.g. 30d.")] = "30d",
) -> None:
    """Accept a finding's risk until a date; it reopens by itself afterwards."""
    state: CliState = ctx.obj
    try:
        lifetime = timedelta(seconds=parse_duration(until))
    except ValueError as exc:
        raise InvalidInput(str(exc), field="--until") from None
    with state.platform() as platform:
        record = findings_service.accept_risk(
            platform,
            state.actor,
            finding_id,
            approver=approver,
            reason=reason,
            expires_at=platform.now() + lifetime,
        )
    console().print(f"{finding_id} risk-accepted until {record.risk_expires_at:%Y-%m-%d %H:%M} UTC")


@findings_app.command("mitigate")
def findings_mitigate(ctx: typer.Context, finding_id: str) -> None:
    """Record that the host is isolated, which mitigates the finding until it is fixed."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        findings_service.mitigate_by_isolation(platform, state.actor, finding_id)
    console().print(f"{finding_id} mitigated by isolation")


@findings_app.command("time-to-fix")
def findings_ttf(ctx: typer.Context) -> None:
    """Time from advisory to fix, per product vendor."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        stats = findings_service.vendor_time_to_fix(platform)
    table = Table("vendor", "fixed", "open", "median h", "p90 h", "max h", "SLA breaches")
    for s in stats:
        table.add_row(
            s.group,
            str(s.fixed),
            str(s.still_open),
            _h(s.median_hours),
            _h(s.p90_hours),
            _h(s.max_hours),
            str(s.sla_breaches),
        )
    console().print(table)


def _h(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def remediate(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="ansible")] = "ansible",
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the playbooks.")
    ] = Path("remediation"),
) -> None:
    """Write one Ansible playbook per host group upgrading to the fixed versions."""
    if fmt != "ansible":
        raise InvalidInput(f"unknown format {fmt!r}", field="--format", hint="ansible")
    state: CliState = ctx.obj
    with state.platform() as platform:
        upgrades, playbooks = findings_service.remediation_plan(platform)
    output.mkdir(parents=True, exist_ok=True)
    for group, text in playbooks.items():
        (output / f"{group}.yml").write_text(text, encoding="utf-8")
    out = console()
    out.print(f"{len(upgrades)} upgrades in {len(playbooks)} playbooks written to {output}/")
    for u in upgrades:
        if u.target is None:
            out.print(
                f"[yellow]no fix:[/yellow] {u.host} {u.package} {u.current} "
                f"({', '.join(u.unfixable)})",
                highlight=False,
            )
