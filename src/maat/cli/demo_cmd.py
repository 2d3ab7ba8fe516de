"""``maat demo``: the Earth Ammit scenario played through a fresh single-node Maat, and the
report of what caught each step of the chain (shared/THREAT.md)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

import maat
from maat.cli.context import console
from maat.errors import IntegrityError, InvalidInput
from maat.services.demo import run_foundation_demo
from maat.services.scenario_report import ScenarioReport, build_report, report_html, report_json
from maat.services.scenario_run import ScenarioOptions, run_scenario

MARKER = ".maat-demo"


class DemoFormat(StrEnum):
    """How ``maat demo`` prints its report."""

    text = "text"
    json = "json"


def _shared_data(*parts: str) -> Path:
    """``shared/data/...`` beside the checkout (from the working directory or the source
    tree); the first candidate when neither exists, so the report can name it."""
    candidates = [Path.cwd().parent / "shared" / "data", Path(maat.__file__).resolve().parents[3]
                  / "shared" / "data"]  # fmt: skip
    for base in candidates:
        if base.exists():
            return base.joinpath(*parts)
    return candidates[0].joinpath(*parts)


SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


def _demo_hsm(folder: Path) -> dict[str, str] | None:
    """A SoftHSM2 token of the demo's own (in ``folder``) when SoftHSM2 is installed, so
    the demo's keys live in an HSM as in production; None otherwise."""
    util = shutil.which("softhsm2-util")
    module = next((m for m in SOFTHSM_MODULES if Path(m).is_file()), None)
    if util is None or module is None:
        return None
    tokens = folder / "tokens"
    tokens.mkdir(parents=True, mode=0o700, exist_ok=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")  # fmt: skip
    pin = secrets.token_hex(8)
    try:
        done = subprocess.run(  # noqa: S603 - a fixed tool, arguments of our own
            [util, "--init-token", "--free", "--label", "maat-demo", "--pin", pin,
             "--so-pin", secrets.token_hex(8)],
            capture_output=True, text=True, timeout=120, check=False,
            env=dict(os.environ, SOFTHSM2_CONF=str(conf)),
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return {"module": os.path.realpath(module), "token": "maat-demo", "pin": pin,
            "conf": str(conf)}  # fmt: skip


# What a run writes in its folder; a new run removes these and leaves anything else alone.
_WRITTEN = ("scenario", "data", "softhsm", "report.html", "report.json")


def _prepare(out: Path) -> None:
    """``out`` must be a folder that is new, empty, or a previous demo's (whose outputs are
    replaced; other files in it are left alone)."""
    try:
        if out.is_symlink() or (out.exists() and not out.is_dir()):
            raise InvalidInput("--out must be a folder (not a file or a symbolic link)",
                               file=str(out))  # fmt: skip
        if out.exists() and not (out / MARKER).exists() and any(out.iterdir()):
            raise InvalidInput("the folder exists and is not a previous demo's; give another "
                               "--out or empty it", file=str(out))  # fmt: skip
        for name in _WRITTEN:
            target = out / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("written by maat demo; its outputs are replaced next run\n")
    except OSError as exc:
        raise InvalidInput(f"cannot prepare the demo's folder: {exc.strerror}",
                           file=str(out)) from exc  # fmt: skip


def demo(
    output_format: Annotated[
        DemoFormat, typer.Option("--format", help="text (narrative) or json (the report).")
    ] = DemoFormat.text,
    out: Annotated[
        Path, typer.Option(help="Folder for the scenario, Maat's data and report.html.")
    ] = Path("maat-demo"),
    seed: Annotated[int, typer.Option(help="The scenario's seed.")] = 20240501,
    days: Annotated[int, typer.Option(min=2, max=14, help="Benign days before the attack.")] = 3,
    sigma_rules: Annotated[
        Path | None,
        typer.Option(help="Sigma rules (default: SigmaHQ's Windows rules in shared/data)."),
    ] = None,
    trails: Annotated[
        Path | None,
        typer.Option(help="Extra trail lists (default: the TIDRONE trails in shared/data)."),
    ] = None,
    walkthrough: Annotated[
        bool, typer.Option(help="First walk through login, tokens and the audit chain.")
    ] = False,
) -> None:
    """Play the Earth Ammit scenario through a fresh single-node Maat and report, step by
    step, which control caught it, when, and what it did; misses are shown as misses."""
    out_console = console()
    quiet = output_format is DemoFormat.json
    if walkthrough:
        _walkthrough(quiet)
    _prepare(out)
    hsm = _demo_hsm(out / "softhsm")
    conf = hsm.pop("conf") if hsm else None
    options = ScenarioOptions(
        seed=seed, days=days, pkcs11=hsm,
        sigma_rules=sigma_rules or _shared_data("sigma", "rules", "windows"),
        trails=trails or _shared_data("iocs-maltrail-tidrone"),
    )  # fmt: skip
    started = time.monotonic()
    progress = (lambda _: None) if quiet else (lambda m: out_console.print(f"[dim]… {m}[/dim]"))
    with _environment("SOFTHSM2_CONF", conf):  # the module reads it when it first loads
        run = run_scenario(out, options, progress=progress)
    report = build_report(run, elapsed=time.monotonic() - started)
    document = report_json(report)
    (out / "report.json").write_text(json.dumps(document, indent=2) + "\n")
    (out / "report.html").write_text(report_html(report))
    if quiet:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    _narrative(report)
    out_console.print(f"Report written to {out / 'report.html'} and {out / 'report.json'}; "
                      f"the scenario's files are under {out / 'scenario'}.")  # fmt: skip


@contextmanager
def _environment(name: str, value: str | None) -> Iterator[None]:
    """``name`` set to ``value`` (when given) for the block, restored afterwards."""
    before = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _walkthrough(quiet: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="maat-demo-") as tmp:
        steps = run_foundation_demo(Path(tmp) / "data")
    if not quiet:
        out = console()
        out.rule("The platform: login, tokens, audit chain")
        table = Table("", "what happened", "detail")
        for s in steps:
            table.add_row("[green]✓[/green]" if s.passed else "[red]✗[/red]", s.title, s.detail)
        out.print(table)
    if not all(s.passed for s in steps):
        raise IntegrityError("a walk-through step did not behave as it must (see ✗ above)")


def _narrative(report: ScenarioReport) -> None:
    out = console()
    out.rule("Earth Ammit (VENOM, TIDRONE) against Maat")
    out.print(f"A drone maker (seed {report.seed}): {report.days} benign days, "
              f"{report.benign_events} events, then the chain: {report.attack_events} events, "
              f"{sum(report.decisions.values())} execution and access decisions. "
              "Times are simulated.\n")  # fmt: skip
    for s in report.steps:
        mark = "[green]caught[/green]" if s.caught else "[red]MISSED[/red]"
        when = s.detected_at.strftime("%a %d %b %H:%M:%S") if s.detected_at else "-"
        out.print(f"[bold]{s.id}[/bold] {escape(s.what)} [dim]({', '.join(s.techniques)})[/dim]"
                  f"  {mark}  by {', '.join(s.controls) or 'nothing'}  at {when}")  # fmt: skip
        for action in s.actions:
            out.print(f"    • {escape(action)}", soft_wrap=False, overflow="ellipsis",
                      no_wrap=True)  # fmt: skip
        for miss in s.misses:
            out.print(f"    [yellow]miss: {escape(miss)}[/yellow]")
    out.rule("Coverage")
    table = Table("step", "ATT&CK", "caught", "controls that acted", "misses")
    for s in report.steps:
        table.add_row(s.id, s.techniques[0], "[green]yes[/green]" if s.caught else "[red]no[/red]",
                      ", ".join(s.controls) or "-",
                      "; ".join(m.split(" (")[0] for m in s.misses) or "-")  # fmt: skip
    out.print(table)
    out.print(f"{report.caught} of {len(report.steps)} steps caught. Benign days: "
              f"{report.benign_high_alerts} high alerts, {len(report.benign_alerts)} alerts in "
              f"all, {len(report.benign_refusals)} refusals.")  # fmt: skip
    for line in report.after:
        out.print(f"After the chain: {escape(line)}")
    for note in report.notes:
        out.print(f"[dim]Note: {escape(note)}[/dim]")
    out.print(f"[dim]Ran in {report.elapsed_seconds} s.[/dim]")
