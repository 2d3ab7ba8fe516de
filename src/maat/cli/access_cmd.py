"""``maat access decide`` and ``maat policy lint|test``: access policies without a server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from maat.access.cases import run_cases
from maat.access.evaluator import AccessDecision, AccessRequest
from maat.cli.context import CliState, console, plain, shown
from maat.errors import InvalidInput
from maat.services import access, devices
from maat.services.access_files import evaluator_from_file, read_cases_file, read_policy_file

access_app = typer.Typer(help="Access decisions (zero trust).", no_args_is_help=True)
policy_app = typer.Typer(help="Access policies: check and test.", no_args_is_help=True)

MAX_REQUEST_LINE = 1024 * 1024


@access_app.command("decide")
def decide(
    policy: Annotated[Path, typer.Option("--policy", help="The access policy (YAML).")],
    input_file: Annotated[
        Path, typer.Option("--input", help="JSON lines, one request each; '-' for stdin.")
    ],
    output_format: Annotated[str, typer.Option("--format", help="jsonl or text.")] = "jsonl",
) -> None:
    """Decide each request of a JSON lines file (subject, device, resource, action, context)
    and print one line per request. Exit 1 when the policy does not load (every request is
    then denied and printed so)."""
    if output_format not in ("jsonl", "text"):
        raise InvalidInput("--format must be jsonl or text", field="format")
    err = console(stderr=True)
    evaluator, problems = evaluator_from_file(policy)
    for problem in problems:
        err.print(shown(problem), highlight=False)
    try:
        stream = sys.stdin.buffer if str(input_file) == "-" else input_file.open("rb")
    except OSError as exc:
        raise InvalidInput(f"cannot read: {exc}", file=str(input_file)) from exc
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            where = f"{input_file}:{number}"
            try:
                if len(line) > MAX_REQUEST_LINE:
                    raise InvalidInput(f"line longer than {MAX_REQUEST_LINE:,} bytes")
                try:
                    data = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise InvalidInput(f"not JSON: {exc}") from None
                decision = evaluator.decide(AccessRequest.from_dict(data))
            except InvalidInput as exc:
                err.print(f"{shown(where)}: {shown(exc.message)}", highlight=False)
                field = f" ({exc.location.field})" if exc.location.field else ""
                decision = AccessDecision("deny", (f"line {number}{field}: {exc.message}",))
            if output_format == "jsonl":
                typer.echo(orjson.dumps(decision.as_dict()).decode())
            else:
                typer.echo(f"{number}: {decision.decision}  {'; '.join(decision.reasons)}")
    if evaluator.policy is None:
        raise typer.Exit(1)


@policy_app.command("lint")
def lint(paths: Annotated[list[Path], typer.Argument(help="Policy files.")]) -> None:
    """Load every policy and list each problem with file, line and key path; exit 1 on any."""
    out = console()
    failed = 0
    for path in paths:
        loaded, problems = read_policy_file(path)
        for problem in problems:
            out.print(f"[red]✗[/red] {shown(problem)}", highlight=False)
        if loaded is None:
            failed += 1
            continue
        note = " (empty: it denies everything)" if not loaded.rules else ""
        out.print(f"{shown(path)}: {len(loaded.rules):,} rule(s){note}", highlight=False)
    if failed:
        raise typer.Exit(1)


@policy_app.command("test")
def test(
    policy: Annotated[Path, typer.Argument(help="The access policy (YAML).")],
    cases: Annotated[Path, typer.Option("--cases", help="Policy cases (YAML).")],
) -> None:
    """Run the policy on each case and compare decisions (and rules, when given); exit 1 when
    the policy or the cases do not load, or any case fails."""
    out = console()
    evaluator, problems = evaluator_from_file(policy)
    loaded, case_problems = read_cases_file(cases)
    for problem in [*problems, *case_problems]:
        out.print(f"[red]✗[/red] {shown(problem)}", highlight=False)
    if evaluator.policy is None or case_problems:
        raise typer.Exit(1)
    failed = 0
    for result in run_cases(evaluator, loaded):
        case, decision = result.case, result.decision
        if result.passed:
            out.print(f"[green]✓[/green] {shown(case.name)}", highlight=False)
            continue
        failed += 1
        expected = case.expect + (f" by {', '.join(case.rules)}" if case.rules else "")
        got = decision.decision + (f" by {', '.join(decision.rules)}" if decision.rules else "")
        out.print(f"[red]✗[/red] {shown(cases)}:{case.line}: {shown(case.name)}: expected "
                  f"{shown(expected)}, got {shown(got)} ({shown('; '.join(decision.reasons))})",
                  highlight=False)  # fmt: skip
    out.print(f"{len(loaded) - failed:,} of {len(loaded):,} case(s) passed")
    if failed:
        raise typer.Exit(1)


@policy_app.command("apply")
def apply(
    ctx: typer.Context, path: Annotated[Path, typer.Argument(help="The access policy (YAML).")]
) -> None:
    """Make ``path`` the access policy in force (a new, audited version); refused with every
    problem listed when it does not load."""
    state: CliState = ctx.obj
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read: {exc}", file=str(path)) from exc
    with state.platform() as platform:
        version = access.apply_policy(platform, state.actor, text, source=str(path))
    console().print(f"access policy {shown(version.name)} version {version.version} applied "
                    f"(sha256 {version.digest[:16]}…)", highlight=False)  # fmt: skip


@policy_app.command("history")
def history(ctx: typer.Context) -> None:
    """Every applied version of the access policy: who applied it, when, its digest."""
    state: CliState = ctx.obj
    with state.platform() as platform, platform.transaction(write=False) as uow:
        versions = uow.policy_versions.history(access.ACCESS)
    for v in versions:
        typer.echo(f"v{v.version}  {v.created_at.isoformat(timespec='seconds')}  "
                   f"{plain(v.created_by)}  {v.digest[:16]}  {plain(v.name)}")  # fmt: skip


device_app = typer.Typer(help="Devices: enrol, posture, quarantine.", no_args_is_help=True)


@device_app.command("add")
def device_add(
    ctx: typer.Context,
    name: str,
    host: Annotated[str | None, typer.Option(help="Its host.name in telemetry.")] = None,
    agent_user: Annotated[
        str | None, typer.Option(help="Make the device's own agent token for this user.")
    ] = None,
    address: Annotated[str | None, typer.Option(help="Its IP address.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="A tag (repeatable).")] = None,
    cert: Annotated[
        Path | None, typer.Option(help="Its client certificate (PEM or DER), for mTLS proxies.")
    ] = None,
) -> None:
    """Enrol a device; with --agent-user, print its agent token once."""
    state: CliState = ctx.obj
    try:
        certificate = cert.read_bytes() if cert is not None else None
    except OSError as exc:
        raise InvalidInput(f"cannot read: {exc}", file=str(cert)) from exc
    with state.platform() as platform:
        device, token = devices.enrol_device(
            platform, state.actor, name, host=host, agent_user=agent_user, address=address,
            tags=tuple(tag or ()), certificate=certificate,
        )  # fmt: skip
    console().print(f"device {shown(device.name)} enrolled (host {shown(device.host)})",
                    highlight=False)  # fmt: skip
    if token:
        typer.echo(token)


@device_app.command("list")
def device_list(ctx: typer.Context) -> None:
    """Every enrolled device with its posture."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        for device in devices.list_devices(platform):
            posture = devices.device_posture(platform, device.name)
            typer.echo(f"{plain(device.name):<30} {plain(device.host):<30} {posture.level:<12} "
                       f"risk {posture.risk:>3}")  # fmt: skip


@device_app.command("posture")
def device_posture(
    ctx: typer.Context, name: str, output_format: Annotated[str, typer.Option("--format")] = "text"
) -> None:
    """A device's posture and risk with every numbered check."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        posture = devices.device_posture(platform, name)
    if output_format == "json":
        typer.echo(orjson.dumps({
            "device": posture.device, "posture": posture.level, "risk": posture.risk,
            "checks": [{"number": c.number, "name": c.name, "passed": c.passed,
                        "detail": c.detail} for c in posture.checks],
        }).decode())  # fmt: skip
        return
    typer.echo(f"{plain(posture.device)}: {posture.level}, risk {posture.risk}")
    for check in posture.checks:
        typer.echo(f"  {plain(check)}")


@device_app.command("quarantine")
def device_quarantine(
    ctx: typer.Context, name: str,
    reason: Annotated[str, typer.Option(help="Why (shown in every decision).")] = "",
    release: Annotated[bool, typer.Option(help="Release it instead.")] = False,
) -> None:  # fmt: skip
    """Quarantine a device (its posture becomes quarantined) or --release it."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        devices.quarantine(platform, state.actor, name, reason=reason, release=release)
    console().print(f"device {shown(name)} {'released' if release else 'quarantined'}",
                    highlight=False)  # fmt: skip
