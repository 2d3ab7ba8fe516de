"""``maat segments lint|apply|compile|ruleset``: micro-segmentation as data, nftables out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from maat.access.nftables import host_ruleset
from maat.access.segments import Segmentation, read_segmentation
from maat.cli.context import CliState, console, shown
from maat.errors import InvalidInput, NotFound
from maat.services import access

app = typer.Typer(help="Micro-segmentation: segments, allowed flows, nftables rulesets.",
                  no_args_is_help=True)  # fmt: skip


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read: {exc}", file=str(path)) from exc


def _load(path: Path) -> Segmentation:
    segmentation, problems = read_segmentation(_read(path), source=str(path))
    if segmentation is None:
        err = console(stderr=True)
        for problem in problems:
            err.print(f"✗ {shown(problem)}", highlight=False)
        raise typer.Exit(1)
    return segmentation


@app.command("lint")
def lint(path: Annotated[Path, typer.Argument(help="The segmentation (YAML).")]) -> None:
    """List every problem with file, line and key path; exit 1 on any."""
    segmentation = _load(path)
    for warning in segmentation.warnings():
        console().print(f"[yellow]![/yellow] {shown(warning)}", highlight=False)
    console().print(f"{shown(path)}: {len(segmentation.segments)} segment(s), "
                    f"{len(segmentation.flows)} allowed flow(s)", highlight=False)  # fmt: skip


@app.command("apply")
def apply(ctx: typer.Context, path: Annotated[Path, typer.Argument()]) -> None:
    """Make ``path`` the segmentation in force (a new, audited version)."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        version = access.apply_segments(platform, state.actor, _read(path), source=str(path))
    console().print(f"segmentation {shown(version.name)} version {version.version} applied",
                    highlight=False)  # fmt: skip


@app.command("compile")
def compile_(
    path: Annotated[Path, typer.Argument(help="The segmentation (YAML).")],
    segment: Annotated[str, typer.Option(help="The host's segment.")],
    host: Annotated[str, typer.Option(help="The host's name (a comment).")] = "",
) -> None:
    """Print the nftables ruleset of a host in SEGMENT (load it with `nft -f`); no server."""
    segmentation = _load(path)
    if segmentation.segment(segment) is None:
        raise NotFound(f"no segment {segment!r} in {path}")
    for warning in segmentation.warnings():
        console(stderr=True).print(f"! {shown(warning)}", highlight=False)
    typer.echo(host_ruleset(segmentation, segment, host=host), nl=False)


@app.command("ruleset")
def ruleset(ctx: typer.Context, device: Annotated[str, typer.Argument()]) -> None:
    """Print the nftables ruleset of an enrolled device under the segmentation in force
    (its segment from its tags, address or quarantine)."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        text = access.device_ruleset(platform, device)
    typer.echo(text, nl=False)
