"""Distribution package inventories: dpkg and rpm, and what every distribution kind shares.

Each parser reads the lines into raw records first, then gives them the distribution's OSV
ecosystem and purl namespace: from the host's os-release when the caller passes it, else
guessed from tell-tale packages and versions (the bare distribution name), else none, with a
problem saying that the host's ``/etc/os-release`` is needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from maat.errors import InvalidInput
from maat.vulns.distros import OsRelease, osv_ecosystem, purl_type_and_namespace
from maat.vulns.inventory_model import Collector, InventoryPackage, quote, text_lines

__all__ = [
    "DPKG_QUERY_FORMAT",
    "RPM_ARCHES",
    "Record",
    "distro_target",
    "emit",
    "parse_dpkg",
    "parse_rpm",
]


@dataclass
class Record:
    """One package line or stanza, before it gets the distribution's ecosystem and purl."""

    name: str
    version: str  # as the OSV ecosystem writes it
    purl_version: str
    arch: str | None
    source: str | None
    line: int
    qualifiers: dict[str, str] = field(default_factory=dict)
    source_version: str | None = None  # when the inventory names it (Debian)


@dataclass(frozen=True)
class Target:
    """What the packages of one inventory get: OSV ecosystem ("" when unknown), purl type,
    purl namespace (``None``: no purl) and the purl ``distro`` qualifier."""

    ecosystem: str
    purl_type: str
    namespace: str | None
    distro: str | None


_NAMESPACE_OF_BARE: Mapping[str, str] = MappingProxyType(
    {
        "Debian": "debian",
        "Ubuntu": "ubuntu",
        "Alpine": "alpine",
        "Wolfi": "wolfi",
        "Red Hat": "redhat",
        "Rocky Linux": "rocky-linux",
        "AlmaLinux": "almalinux",
        "openSUSE": "opensuse",
        "SUSE": "suse",
        "Mageia": "mageia",
    }
)


def distro_target(
    purl_type: str,
    kind: str,
    os_release: OsRelease | None,
    guessed: str | None,
    collector: Collector,
) -> Target:
    """The ecosystem, purl namespace and distro qualifier the packages get."""
    if os_release is not None:
        namespace: str | None
        try:
            found_type, namespace = purl_type_and_namespace(os_release)
        except InvalidInput as exc:
            collector.problem(f"{exc.message}; packages get no purl", field="os_release")
            found_type, namespace = purl_type, None
        if found_type != purl_type:
            raise InvalidInput(
                f"the os-release given is {os_release.label!r}, whose packages are "
                f"{found_type!r}, but this is a {kind} inventory",
                file=collector.source,
                hint="pass the os-release of the host the inventory was taken on",
            )
        ecosystem = osv_ecosystem(os_release)
        if ecosystem is None:
            collector.problem(
                f"OSV has no ecosystem for {os_release.label!r}: packages are listed without "
                "one and cannot be matched against advisories",
                field="os_release",
            )
        distro = os_release.id
        if os_release.version_id:
            distro = f"{os_release.id}-{os_release.version_id}"
        return Target(ecosystem or "", purl_type, namespace, distro)
    if guessed is not None:
        collector.problem(
            f"no os-release given: ecosystem {guessed!r} was told from the packages, without "
            "the release; pass the host's /etc/os-release to match advisories by release "
            f"(e.g. {guessed}:<release>)",
            field="os_release",
        )
        return Target(guessed, purl_type, _NAMESPACE_OF_BARE[guessed], None)
    collector.problem(
        "no os-release given and the distribution cannot be told from the packages: pass "
        "the host's /etc/os-release so that packages get an OSV ecosystem and a purl",
        field="os_release",
    )
    return Target("", purl_type, None, None)


def emit(records: Iterable[Record], target: Target, collector: Collector) -> None:
    """Add each record to ``collector`` as a package of ``target``'s ecosystem."""
    for record in records:
        purl = None
        if target.namespace is not None:
            purl = collector.purl(
                target.purl_type,
                record.name,
                namespace=target.namespace,
                version=record.purl_version,
                qualifiers={
                    "arch": record.arch or "",
                    "distro": target.distro or "",
                    **record.qualifiers,
                },
                line=record.line,
            )
        collector.add(
            InventoryPackage(
                name=record.name,
                version=record.version,
                ecosystem=target.ecosystem,
                purl=purl,
                source_name=record.source,
                arch=record.arch,
                location=collector.where(record.line),
                source_version=record.source_version,
            )
        )


# --------------------------------------------------------------------------------------------
# dpkg
# --------------------------------------------------------------------------------------------

_DEB_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_DEB_VERSION = re.compile(r"(?:\d+:)?[0-9][A-Za-z0-9.+~:-]*")  # upstream starts with a digit
_DEB_ARCH = re.compile(r"[a-z0-9][a-z0-9-]*")
_DEB_NOT_INSTALLED = frozenset({"not-installed", "config-files"})
_UBUNTU_MARK = re.compile(r"ubuntu", re.IGNORECASE)
_DEBIAN_MARK = re.compile(r"[+~]deb\d+u\d+|\+deb\d+")
_DEB_SOURCE = re.compile(r"(?P<name>[^\s(]+)\s*(?:\((?P<version>[^)]*)\))?")
DPKG_QUERY_FORMAT = (
    "${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\t${source:Version}\\n"
)
"""The ``dpkg-query -W -f`` format Maat asks for (as typed in a shell, in single quotes)."""


def _deb_version_ok(version: str) -> bool:
    bad_epoch = ":" in version and not version.partition(":")[0].isdigit()
    return not bad_epoch and _DEB_VERSION.fullmatch(version) is not None


def _deb_record(
    name: str,
    version: str,
    arch: str | None,
    source: str | None,
    line: int,
    collector: Collector,
    source_version: str | None = None,
) -> Record | None:
    """A record of one package; ``source`` is a source package name, optionally followed by
    its version in parentheses (``lvm2 (2.03.16-2)``, as dpkg's Source field writes it when
    the versions differ); ``source_version`` (``${source:Version}``) wins over that."""
    if not _DEB_NAME.fullmatch(name):
        collector.problem(f"not a Debian package name: {quote(name)}; skipped", line=line)
        return None
    if not version:
        collector.problem(
            f"{name}: no version (known to dpkg but not installed); skipped", line=line
        )
        return None
    if not _deb_version_ok(version):
        collector.problem(f"{name}: not a Debian version: {quote(version)}; skipped", line=line)
        return None
    if arch is not None and not _DEB_ARCH.fullmatch(arch):
        collector.problem(f"{name}: not an architecture: {quote(arch)}; ignored", line=line)
        arch = None
    if source is not None:
        parsed = _DEB_SOURCE.fullmatch(source.strip())
        written = parsed.group("name") if parsed is not None else source.strip()
        if parsed is not None and parsed.group("version") and not source_version:
            source_version = parsed.group("version").strip()
        source = written or None
        if source is not None and not _DEB_NAME.fullmatch(source):
            collector.problem(f"{name}: not a source package name: {quote(source)}", line=line)
            source = None
    if source is None:
        source_version = None  # a version of an unknown source package says nothing
    elif source_version is not None and not _deb_version_ok(source_version):
        collector.problem(
            f"{name}: not a Debian source version: {quote(source_version)}; the package's "
            "own version is used",
            line=line,
        )
        source_version = None
    if source_version == version:
        source_version = None
    return Record(name, version, version, arch, source, line, source_version=source_version)


def _dpkg_query_lines(lines: Iterable[tuple[int, str]], collector: Collector) -> list[Record]:
    records: list[Record] = []
    for number, line in lines:
        if not line.strip():
            continue
        columns = [c.strip() for c in (line.split("\t") if "\t" in line else line.split())]
        if not 2 <= len(columns) <= 5:
            collector.problem(
                "expected 2 to 5 tab-separated columns (package, version, architecture, "
                f"source package, source version), got {len(columns)}; skipped",
                line=number,
            )
            continue
        name, version = columns[0], columns[1]
        arch = columns[2] if len(columns) > 2 and columns[2] else None
        source = columns[3] if len(columns) > 3 and columns[3] else None
        source_version = columns[4].removeprefix("(").removesuffix(")") if len(columns) > 4 else ""
        if ":" in name:  # ${binary:Package} writes multi-arch packages as name:arch
            name, _, name_arch = name.partition(":")
            arch = arch or name_arch
        record = _deb_record(
            name, version, arch, source, number, collector, source_version.strip() or None
        )
        if record is not None:
            records.append(record)
    return records


def _dpkg_status(lines: Iterable[tuple[int, str]], collector: Collector) -> list[Record]:
    """Records of a ``/var/lib/dpkg/status`` file (RFC 822 stanzas)."""
    records: list[Record] = []
    stanza: dict[str, str] = {}
    start = 0

    def flush() -> None:
        if not stanza:
            return
        name = stanza.get("Package", "")
        if not name:
            collector.problem("stanza without a Package field; skipped", line=start)
            return
        status = stanza.get("Status", "").split()
        if status and status[-1] in _DEB_NOT_INSTALLED:
            return  # removed, only its configuration files remain: not installed
        record = _deb_record(
            name,
            stanza.get("Version", ""),
            stanza.get("Architecture") or None,
            stanza.get("Source") or name,
            start,
            collector,
        )
        if record is not None:
            records.append(record)

    for number, line in lines:
        if not line.strip():
            flush()
            stanza = {}
            continue
        if line[0] in " \t":
            continue  # continuation of a multi-line field (Description, Conffiles)
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            collector.problem(f"not a 'Field: value' line: {quote(line)}", line=number)
            continue
        if not stanza:
            start = number
        stanza.setdefault(key.strip(), value.strip())
    flush()
    return records


def _guess_deb(records: list[Record]) -> str | None:
    if any(_UBUNTU_MARK.search(r.version) for r in records):
        return "Ubuntu"
    if any(_DEBIAN_MARK.search(r.version) for r in records):
        return "Debian"
    for record in records:
        if record.name == "base-files" and re.fullmatch(r"\d+(\.\d+)*", record.version):
            return "Debian"
    return None


def parse_dpkg(data: bytes, collector: Collector, os_release: OsRelease | None) -> None:
    """Packages of ``dpkg-query -W`` output (2 to 5 tab-separated columns: package with an
    optional ``:arch``, version, architecture, source package — optionally followed by its
    version in parentheses, as ``${Source}`` writes it — and source version) or of
    ``/var/lib/dpkg/status``. Source packages and their versions are what Debian and Ubuntu
    advisories name; :data:`DPKG_QUERY_FORMAT` gives them all.
    """
    lines = list(text_lines(data, collector))
    first = next((line for _, line in lines if line.strip()), "")
    if first.startswith("Desired=") or first.startswith("| Status="):
        raise InvalidInput(
            "this is 'dpkg -l' output, whose columns are cut to the terminal width",
            file=collector.source,
            hint=f"use dpkg-query -W -f '{DPKG_QUERY_FORMAT}' or pass /var/lib/dpkg/status",
        )
    if first.startswith("Package:"):
        records = _dpkg_status(lines, collector)
    else:
        records = _dpkg_query_lines(lines, collector)
    target = distro_target("deb", "dpkg", os_release, _guess_deb(records), collector)
    if records and all(r.source is None for r in records):
        collector.problem(
            "source packages are unknown: Debian and Ubuntu advisories name source packages "
            "and their versions (libssl3 is built from openssl), so matching by binary name "
            f"misses some; list packages with dpkg-query -W -f '{DPKG_QUERY_FORMAT}' or pass "
            "/var/lib/dpkg/status"
        )
    emit(records, target, collector)


# --------------------------------------------------------------------------------------------
# rpm
# --------------------------------------------------------------------------------------------

RPM_ARCHES = frozenset(
    {
        "noarch",
        "x86_64",
        "i386",
        "i486",
        "i586",
        "i686",
        "athlon",
        "aarch64",
        "armv7hl",
        "armv7l",
        "armv6hl",
        "armhfp",
        "ppc",
        "ppc64",
        "ppc64le",
        "ppc64p7",
        "s390",
        "s390x",
        "ia64",
        "riscv64",
        "loongarch64",
        "mips64el",
        "sparc64",
        "src",
        "nosrc",
    }
)
_RPM_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]*")
_RPM_PART = re.compile(r"[A-Za-z0-9._+~^]+")
_RPM_EVR = re.compile(r"(?:(\d+|\(none\)):)?([^-:\s]+)-([^-:\s]+)")
_RELEASE_PACKAGES: Mapping[str, str] = MappingProxyType(
    {
        "redhat-release": "Red Hat",
        "redhat-release-server": "Red Hat",
        "rocky-release": "Rocky Linux",
        "almalinux-release": "AlmaLinux",
        "openSUSE-release": "openSUSE",
        "sles-release": "SUSE",
        "mageia-release": "Mageia",
    }
)


def _rpm_record(
    name: str,
    epoch: str | None,
    version: str,
    release: str,
    arch: str | None,
    line: int,
    collector: Collector,
) -> Record | None:
    if not _RPM_NAME.fullmatch(name):
        collector.problem(f"not an RPM package name: {quote(name)}; skipped", line=line)
        return None
    if name == "gpg-pubkey":
        collector.problem(
            f"gpg-pubkey-{version}-{release}: an imported signing key, not a package; skipped",
            line=line,
        )
        return None
    if not _RPM_PART.fullmatch(version) or not _RPM_PART.fullmatch(release):
        collector.problem(
            f"{name}: not an RPM version-release: {quote(version + '-' + release)}; skipped",
            line=line,
        )
        return None
    if arch is not None and not re.fullmatch(r"[A-Za-z0-9_]+", arch):
        collector.problem(f"{name}: not an architecture: {quote(arch)}; ignored", line=line)
        arch = None
    if epoch is not None:
        epoch = epoch.lstrip("0") or "0"
    evr = f"{version}-{release}"
    qualifiers: dict[str, str] = {}
    if epoch and epoch != "0":
        qualifiers["epoch"] = epoch
        full = f"{epoch}:{evr}"
    else:
        full = evr
    return Record(name, full, evr, arch, None, line, qualifiers)


def _split_nevra(text: str) -> tuple[str, str | None, str, str, str | None] | str:
    """``(name, epoch, version, release, arch)`` of an NEVRA, or why it is not one."""
    epoch: str | None = None
    match = re.fullmatch(r"(\d+):(.+)", text)
    if match is not None:
        epoch, text = match.group(1), match.group(2)
    arch: str | None = None
    head, dot, tail = text.rpartition(".")
    if dot and tail in RPM_ARCHES:
        text, arch = head, tail
    parts = text.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return "expected name-version-release.arch"
    name, version, release = parts
    if ":" in version:
        version_epoch, _, version = version.partition(":")
        if not version_epoch.isdigit() or (epoch is not None and epoch != version_epoch):
            return f"bad epoch in {version_epoch + ':' + version!r}"
        epoch = version_epoch
    return name, epoch, version, release, arch


def parse_rpm(data: bytes, collector: Collector, os_release: OsRelease | None) -> None:
    """Packages of ``rpm -qa`` output: NEVRA lines (``openssl-libs-3.0.7-25.el9_3.x86_64``,
    ``1:openssl-libs-…`` or ``openssl-libs-1:3.0.7-…``) or tab-separated
    ``%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}`` lines (an optional fourth column,
    such as ``%{SOURCERPM}``, is accepted and not used)."""
    records: list[Record] = []
    tabbed = False
    for number, raw in text_lines(data, collector):
        line = raw.strip()
        if not line:
            continue
        record: Record | None
        if "\t" in line:
            tabbed = True
            columns = [c.strip() for c in line.split("\t")]
            match = _RPM_EVR.fullmatch(columns[1]) if len(columns) >= 2 else None
            if not 2 <= len(columns) <= 4 or match is None:
                collector.problem(
                    "expected name, [epoch:]version-release, architecture separated by tabs; "
                    "skipped",
                    line=number,
                )
                continue
            epoch = match.group(1) if match.group(1) not in (None, "(none)") else None
            arch = columns[2] if len(columns) > 2 and columns[2] not in ("", "(none)") else None
            record = _rpm_record(
                columns[0], epoch, match.group(2), match.group(3), arch, number, collector
            )
        else:
            parts = _split_nevra(line)
            if isinstance(parts, str):
                collector.problem(f"{parts}: {quote(line)}; skipped", line=number)
                continue
            name, epoch, version, release, arch = parts
            record = _rpm_record(name, epoch, version, release, arch, number, collector)
        if record is not None:
            records.append(record)
    guessed = next(
        (_RELEASE_PACKAGES[r.name] for r in records if r.name in _RELEASE_PACKAGES), None
    )
    target = distro_target("rpm", "rpm", os_release, guessed, collector)
    if records and not tabbed and not any("epoch" in r.qualifiers for r in records):
        collector.problem(
            "rpm -qa without a query format leaves out epochs, so packages with one (such as "
            "openssl-libs 1:3.0.7) compare wrong; list packages with rpm -qa --qf "
            "'%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n'"
        )
    emit(records, target, collector)
