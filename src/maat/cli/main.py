"""The ``maat`` command and its error boundary.

Errors derived from ``MaatError`` print their diagnostics and exit 1 (``-v`` adds the
traceback). Anything else is a bug and is shown whole.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated

import click
import typer

from maat import __version__
from maat.cli import (
    access_cmd,
    audit_cmd,
    demo_cmd,
    detect_cmd,
    lake_cmd,
    scenario_cmd,
    segments_cmd,
    signing_cmd,
    telemetry_cmd,
    token_cmd,
    user_cmd,
    vendor_cmd,
    vulns_cmd,
)
from maat.cli.context import CliState, console
from maat.errors import MaatError

app = typer.Typer(
    name="maat",
    help="Maat: defend an organisation and its suppliers against supply-chain intrusions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(user_cmd.app, name="user")
app.add_typer(token_cmd.app, name="token")
app.add_typer(audit_cmd.app, name="audit")
app.command("demo")(demo_cmd.demo)
app.add_typer(vulns_cmd.scan_app, name="scan")
app.add_typer(vulns_cmd.sbom_app, name="sbom")
app.add_typer(vulns_cmd.advisories_app, name="advisories")
app.add_typer(vulns_cmd.inventory_app, name="inventory")
app.add_typer(vulns_cmd.findings_app, name="findings")
app.add_typer(vulns_cmd.vex_app, name="vex")
app.command("remediate")(vulns_cmd.remediate)
app.add_typer(signing_cmd.ca_app, name="ca")
app.add_typer(signing_cmd.exec_app, name="exec")
app.command("sign")(signing_cmd.sign)
app.command("verify")(signing_cmd.verify)
app.command("ingest")(telemetry_cmd.ingest)
app.command("detect")(detect_cmd.detect)
app.add_typer(detect_cmd.rules_app, name="rules")
app.add_typer(detect_cmd.alerts_app, name="alerts")
app.add_typer(detect_cmd.iocs_app, name="iocs")
app.add_typer(vendor_cmd.app, name="vendor")
app.add_typer(lake_cmd.app, name="lake")
app.add_typer(access_cmd.access_app, name="access")
app.add_typer(access_cmd.policy_app, name="policy")
app.add_typer(access_cmd.device_app, name="device")
app.add_typer(segments_cmd.app, name="segments")
app.add_typer(scenario_cmd.app, name="scenario")

err = console(stderr=True)


@app.callback()
def main(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Show tracebacks.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML settings file (else $MAAT_CONFIG).")
    ] = None,
) -> None:
    """Global options."""
    ctx.obj = CliState(verbose=verbose, config_file=config)


@app.command()
def version() -> None:
    """Print Maat's version."""
    typer.echo(f"maat {__version__}")


@app.command()
def init(
    ctx: typer.Context,
    admin: Annotated[str, typer.Option(help="Name of the first administrator.")] = "admin",
    admin_password_stdin: Annotated[
        bool, typer.Option(help="Read the administrator's password from standard input.")
    ] = False,
) -> None:
    """Create (or upgrade) the data directory, master secret, state store and first admin."""
    from maat.services.bootstrap import initialise

    state: CliState = ctx.obj
    settings = state.settings()
    password = sys.stdin.readline().rstrip("\n") if admin_password_stdin else None
    result = initialise(settings, admin_name=admin, admin_password=password, actor=state.actor)
    out = console()
    out.print(f"state store: {result.database} at schema {result.revision}")
    out.print(f"data directory: {settings.data_dir}")
    if result.admin is not None:
        out.print(f"administrator created: [bold]{result.admin.user.name}[/bold]")
        if result.admin.generated_password:
            out.print(f"initial password (shown once): {result.admin.generated_password}")
        out.print("TOTP enrolment happens at the first login (POST /v1/auth/login).")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the API (OpenAPI at /docs)."""
    import uvicorn

    from maat.api.app import create_app
    from maat.services.alerts import Detector
    from maat.services.enrichment import StoreFacts
    from maat.services.platform import Platform
    from maat.services.telemetry import Telemetry, tune_process

    state: CliState = ctx.obj
    settings = state.settings()
    tune_process(settings)
    platform = Platform.open(settings)
    platform.store.check_schema()
    try:
        telemetry = Telemetry.open(
            settings, facts=StoreFacts(platform), detector=Detector.from_settings(platform)
        )
    except BaseException:
        platform.close()
        raise
    application = create_app(platform, telemetry=telemetry)
    uvicorn.run(
        application,
        host=host or settings.api.host,
        port=port if port is not None else settings.api.port,
        log_level=settings.log_level,
        timeout_keep_alive=5,
        server_header=False,
    )


def run(argv: list[str] | None = None) -> int:
    """Entry point: run the command, turn errors into messages and exit codes."""
    args = sys.argv[1:] if argv is None else argv
    verbose = any(a in ("-v", "--verbose") for a in args)
    try:
        # Outside standalone mode click returns a command's typer.Exit code instead of exiting.
        result = app(args=args, prog_name="maat", standalone_mode=False)
    except MaatError as exc:
        if verbose:
            err.print(traceback.format_exc(), markup=False, highlight=False)
        err.print(f"[bold red]error:[/bold red] {exc.diagnostics()}", markup=True, highlight=False)
        if not verbose:
            err.print("(run with -v for the traceback)", style="dim")
        return _exit(1, argv)
    except click.exceptions.Exit as exc:
        return _exit(exc.exit_code, argv)
    except click.ClickException as exc:
        exc.show()
        return _exit(exc.exit_code, argv)
    except click.exceptions.Abort:
        err.print("aborted")
        return _exit(1, argv)
    return _exit(result if isinstance(result, int) else 0, argv)


def _exit(code: int, argv: list[str] | None) -> int:
    # Called as a console script (argv None): exit the process; from tests: return the code.
    if argv is None:
        sys.exit(code)
    return code
