"""``maat ca|sign|verify|exec``: code signing and the execution policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rich.table import Table

from maat.adapters.feeds.files import read_file
from maat.cli.context import CliState, console
from maat.errors import InvalidInput, VerificationFailed
from maat.services import execution, revocation, signing
from maat.services.platform import Platform

ca_app = typer.Typer(help="Maat's certificate authority (keys in the HSM).", no_args_is_help=True)
exec_app = typer.Typer(help="Execution policy: run or block every binary.", no_args_is_help=True)

BUNDLE_SUFFIX = ".maat-sig.json"


@ca_app.command("init")
def ca_init(
    ctx: typer.Context,
    organisation: Annotated[
        str, typer.Option(help="Organisation named in the CA certificates.")
    ] = "Maat",
    country: Annotated[str | None, typer.Option(help="Two-letter country code.")] = None,
) -> None:
    """Create the root, intermediate and timestamping keys (in the key store) and certificates."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        info = signing.ca_init(platform, state.actor, organisation=organisation, country=country)
    out = console()
    out.print(f"root: {info.root.subject.rfc4514_string()} ({signing.fingerprint(info.root)})")
    out.print(f"intermediate: {info.intermediate.subject.rfc4514_string()}")
    out.print(f"timestamping: {info.tsa.subject.rfc4514_string()}")


@ca_app.command("issue")
def ca_issue(
    ctx: typer.Context,
    subject: Annotated[str, typer.Option(help="Common name: the vendor or team that signs.")],
    organisation: Annotated[str | None, typer.Option(help="Organisation of the signer.")] = None,
    vendor: Annotated[str | None, typer.Option(help="Vendor this signer belongs to.")] = None,
) -> None:
    """Issue a code-signing certificate; its key is generated in the key store."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        record = signing.ca_issue(
            platform, state.actor, subject=subject, organisation=organisation, vendor=vendor
        )
    console().print(
        f"issued {record.subject}\nserial {record.serial}\nfingerprint {record.fingerprint}"
    )


@ca_app.command("revoke")
def ca_revoke(
    ctx: typer.Context,
    certificate: Annotated[str, typer.Argument(help="Fingerprint or serial.")],
    reason: Annotated[
        str, typer.Option(help="RFC 5280 reason, e.g. key_compromise, superseded.")
    ] = "unspecified",
) -> None:
    """Revoke a certificate, publish a new CRL and run the retro-hunt."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        record = signing.ca_revoke(platform, state.actor, certificate, reason=reason)
        hunt = execution.retro_hunt(platform, state.actor, record.fingerprint)
    out = console()
    out.print(f"revoked {record.subject} ({reason})")
    out.print(
        f"retro-hunt: {len(hunt.artifacts)} artifacts, hosts: {', '.join(hunt.hosts) or 'none'} "
        f"(alert {hunt.alert_id})"
    )


@ca_app.command("crl")
def ca_crl(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the DER CRL here.")
    ] = None,
) -> None:
    """Sign and store a fresh CRL (also served at /pki/intermediate.crl)."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        crl = signing.ca_crl(platform, state.actor)
    if output is not None:
        output.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    console().print(
        f"CRL number {number}, {len(list(crl))} revoked, next update {crl.next_update_utc}"
    )


@ca_app.command("import-crl")
def ca_import_crl(ctx: typer.Context, file: Path) -> None:
    """Import a CRL; certificates it newly revokes are marked and retro-hunted.

    Its issuing CA must be known ('maat ca import-cert'): a CRL whose signature cannot be
    checked is refused.
    """
    state: CliState = ctx.obj
    with state.platform() as platform:
        result = revocation.import_crl(platform, state.actor, read_file(file), source=str(file))
        hunts = [
            execution.retro_hunt(platform, state.actor, c.fingerprint) for c in result.newly_revoked
        ]
    out = console()
    newly = len(result.newly_revoked)
    out.print(f"CRL of {result.issuer}: {result.entries} entries, {newly} newly revoked")
    for hunt in hunts:
        out.print(
            f"retro-hunt {hunt.certificate}: {len(hunt.artifacts)} artifacts, hosts: "
            f"{', '.join(hunt.hosts) or 'none'} (alert {hunt.alert_id})",
            highlight=False,
        )


@ca_app.command("watch")
def ca_watch(
    ctx: typer.Context,
    url: Annotated[
        list[str] | None, typer.Option(help="CRL URL (default: signing.crl_urls).")
    ] = None,
    once: Annotated[bool, typer.Option(help="Poll once and exit.")] = False,
) -> None:
    """Poll CRL URLs; certificates they newly revoke are marked and retro-hunted."""
    import time

    state: CliState = ctx.obj
    out = console()
    while True:
        with state.platform() as platform:
            results = revocation.poll_crls(platform, state.actor, url)
            for r in results:
                if r.error is not None:
                    out.print(f"[yellow]{r.url}: {r.error}[/yellow]", highlight=False)
                    continue
                assert r.result is not None
                for cert in r.result.newly_revoked:
                    hunt = execution.retro_hunt(platform, state.actor, cert.fingerprint)
                    out.print(
                        f"revoked {cert.subject}: hosts {', '.join(hunt.hosts) or 'none'} "
                        f"(alert {hunt.alert_id})",
                        highlight=False,
                    )
                out.print(f"{r.url}: {r.result.entries} entries", highlight=False)
            interval = float(platform.settings.signing.crl_poll_interval)
        if once:
            return
        time.sleep(interval)


@ca_app.command("import-cert")
def ca_import_cert(
    ctx: typer.Context,
    file: Path,
    role: Annotated[
        str, typer.Option(help="external (a vendor's signer or CA) or trusted-root")
    ] = "external",
    vendor: Annotated[str | None, typer.Option(help="Vendor the certificate belongs to.")] = None,
) -> None:
    """Record a certificate Maat did not issue."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        record = revocation.import_certificate(
            platform, state.actor, read_file(file), role=role, vendor=vendor
        )
    console().print(f"{record.role}: {record.subject} ({record.fingerprint})")


@ca_app.command("list")
def ca_list(ctx: typer.Context) -> None:
    """Certificates Maat issued or knows."""
    state: CliState = ctx.obj
    with state.platform() as platform, platform.transaction(write=False) as uow:
        records = uow.certificates.list()
    table = Table("role", "subject", "serial", "expires", "revoked")
    for r in records:
        table.add_row(
            r.role,
            r.subject,
            r.serial[:16],
            r.not_after.date().isoformat(),
            f"{r.revocation_reason} {r.revoked_at:%Y-%m-%d}" if r.revoked_at else "",
        )
    console().print(table)


def sign(
    ctx: typer.Context,
    file: Path,
    signer: Annotated[
        str | None, typer.Option(help="Fingerprint of the code-signing certificate.")
    ] = None,
    product: Annotated[str | None, typer.Option(help="Product the file belongs to.")] = None,
    version: Annotated[str | None, typer.Option(help="Product version.")] = None,
) -> None:
    """Sign FILE; the bundle is written to FILE.maat-sig.json."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        chosen = signer or _only_signer(platform)
        bundle = signing.sign_file(
            platform,
            state.actor,
            read_file(file),
            file.name,
            signer=chosen,
            product=product,
            version=version,
        )
    target = file.with_name(file.name + BUNDLE_SUFFIX)
    target.write_bytes(bundle)
    console().print(f"signed {file.name} → {target.name}")


def _only_signer(platform: Platform) -> str:
    with platform.transaction(write=False) as uow:
        usable = [c for c in uow.certificates.by_role("code-signing") if c.revoked_at is None]
    if len(usable) != 1:
        raise InvalidInput(
            f"{len(usable)} usable code-signing certificates",
            field="--signer",
            hint="name one with --signer FINGERPRINT ('maat ca list')",
        )
    return usable[0].fingerprint


def verify(
    ctx: typer.Context,
    file: Path,
    bundle: Annotated[
        Path | None, typer.Option(help="Bundle (default FILE.maat-sig.json).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
    sigstore: Annotated[
        Path | None, typer.Option(help="A Sigstore bundle to verify offline instead.")
    ] = None,
    trusted_root: Annotated[
        Path | None, typer.Option(help="Sigstore trusted root (trusted_root.json).")
    ] = None,
    identity: Annotated[str | None, typer.Option(help="Expected signer identity (SAN).")] = None,
    issuer: Annotated[str | None, typer.Option(help="Expected OIDC issuer.")] = None,
    unsafe_any_identity: Annotated[
        bool,
        typer.Option(
            "--unsafe-any-identity",
            help="UNSAFE: accept a Sigstore signature without --identity and/or --issuer "
            "(anyone's signature may pass; warns every time).",
        ),
    ] = False,
) -> None:
    """Verify FILE against its bundle: exit 0 when verified, 1 when refused (with the reason).

    With --sigstore and --trusted-root, FILE is checked against a Sigstore bundle offline;
    --identity and --issuer are required unless --unsafe-any-identity waives what is missing.
    """
    if sigstore is not None:
        _verify_sigstore(
            file, sigstore, trusted_root, identity, issuer, unsafe_any_identity=unsafe_any_identity
        )
        return
    state: CliState = ctx.obj
    bundle_path = bundle or file.with_name(file.name + BUNDLE_SUFFIX)
    data = read_file(file)
    with state.platform() as platform:
        if bundle is None and not bundle_path.exists() and data[:2] == b"MZ":
            # A Windows PE without a Maat bundle: its Authenticode signature is checked.
            verdict = signing.verify_pe(platform, data, name=file.name)
        else:
            verdict = signing.verify_file(platform, data, read_file(bundle_path), name=file.name)
    if fmt == "json":
        print(
            json.dumps(
                {
                    "verified": verdict.passed,
                    "steps": [
                        {"step": s.number, "name": s.name, "passed": s.passed, "detail": s.detail}
                        for s in verdict.steps
                    ],
                },
                indent=2,
            )
        )
    else:
        out = console()
        for s in verdict.steps:
            mark = "[green]✓[/green]" if s.passed else "[red]✗[/red]"
            out.print(f"{mark} {s.number}. {s.name}: {s.detail}", highlight=False)
    if not verdict.passed:
        raise VerificationFailed(
            f"{file.name} is not verified",
            reasons=tuple(
                f"step {s.number} ({s.name}): {s.detail}" for s in verdict.steps if not s.passed
            ),
        )


def _verify_sigstore(
    file: Path,
    bundle: Path,
    trusted_root: Path | None,
    identity: str | None,
    issuer: str | None,
    *,
    unsafe_any_identity: bool,
) -> None:
    from maat.signing.sigstore import verify_sigstore_bundle

    if trusted_root is None:
        raise InvalidInput("a Sigstore bundle needs --trusted-root", field="--trusted-root")
    verdict = verify_sigstore_bundle(
        read_file(bundle),
        artifact=read_file(file),
        trusted_root_json=read_file(trusted_root),
        identity=identity,
        issuer=issuer,
        unsafe_any_identity=unsafe_any_identity,
    )
    mark = "[green]✓[/green]" if verdict.passed else "[red]✗[/red]"
    console().print(f"{mark} sigstore: {verdict.reason}", highlight=False)
    if not verdict.passed:
        raise VerificationFailed(f"{file.name} is not verified", reasons=(verdict.reason,))


@exec_app.command("load")
def exec_load(ctx: typer.Context, file: Path) -> None:
    """Validate and activate an execution policy (a new version)."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        record = execution.load_policy_text(
            platform, state.actor, read_file(file).decode("utf-8"), source=str(file)
        )
    console().print(f"policy {record.name} version {record.version} active ({record.digest[:16]})")


@exec_app.command("lint")
def exec_lint(files: list[Path]) -> None:
    """Check policy files in one pass; every problem is listed with its file and line."""
    from maat.signing.policy import lint_policies

    problems = lint_policies([(str(f), read_file(f).decode("utf-8", "replace")) for f in files])
    out = console()
    for p in problems:
        out.print(f"[red]✗[/red] {p}", highlight=False)
    if problems:
        raise InvalidInput(f"{len(problems)} problem(s) in {len(files)} file(s)")
    out.print(f"[green]✓[/green] {len(files)} policy file(s) valid")


@exec_app.command("decide")
def exec_decide(
    ctx: typer.Context,
    sha256: str,
    path: Annotated[str, typer.Option(help="Where the binary is.")] = "",
    host: Annotated[str, typer.Option(help="Host name.")] = "cli",
    group: Annotated[str, typer.Option(help="Host group.")] = "default",
) -> None:
    """Ask the policy whether a binary may run (the sighting is not recorded)."""
    state: CliState = ctx.obj
    with state.platform() as platform:
        decision = execution.decide(
            platform, execution.Sighted(host, sha256, path, group), record=False
        )
    console().print(f"{decision.action}: {'; '.join(decision.reasons)}", highlight=False)
