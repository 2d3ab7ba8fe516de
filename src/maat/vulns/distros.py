"""Operating-system identity: ``/etc/os-release``, OSV ecosystems, purl namespaces, end of life.

The caller reads ``/etc/os-release`` (or ``/usr/lib/os-release``) and hands over its text;
:func:`parse_os_release` follows os-release(5): shell-style ``KEY=value`` assignments, values in
double quotes (``\\$ \\" \\\\ \\``` escaped), single quotes (literal) or bare (backslash escapes
the next character), ``#`` comments and blank lines ignored, ``ID`` defaulting to ``linux``.

:func:`osv_ecosystem` names the OSV ecosystem advisories for that release are filed under
(``Debian:12``, ``Ubuntu:22.04:LTS``, ``Alpine:v3.19``, ``Rocky Linux:9`` ...), and
:func:`purl_type_and_namespace` the purl type and namespace of its packages.

:data:`END_OF_LIFE` is a table of public end-of-life dates; :func:`end_of_life` says whether a
release is past its end of free security support on a given day. Windows hosts have no
os-release: build their identity with :func:`os_release_for` (``"windows"``, ``"10"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from maat.errors import InvalidInput, Problem

__all__ = [
    "END_OF_LIFE",
    "MAX_OS_RELEASE_BYTES",
    "EndOfLife",
    "OsRelease",
    "end_of_life",
    "find_end_of_life",
    "os_release_for",
    "osv_ecosystem",
    "parse_os_release",
    "purl_type_and_namespace",
]

MAX_OS_RELEASE_BYTES = 64 * 1024
"""Longest os-release text accepted (real files are well under 1 KiB)."""


@dataclass(frozen=True)
class OsRelease:
    """The identity of an operating system release, as os-release(5) describes it.

    ``id`` and ``id_like`` are lower-case distribution ids (``debian``, ``rhel``); ``raw``
    holds every assignment read, by key. ``problems`` lists lines that were not understood
    (they were ignored, as systemd ignores them).
    """

    id: str
    version_id: str | None
    version_codename: str | None
    pretty_name: str | None
    id_like: tuple[str, ...]
    raw: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    problems: tuple[Problem, ...] = ()

    @property
    def label(self) -> str:
        """A name for people: ``PRETTY_NAME`` or ``ID VERSION_ID``."""
        if self.pretty_name:
            return self.pretty_name
        return f"{self.id} {self.version_id}" if self.version_id else self.id


def os_release_for(
    distro_id: str, version_id: str | None = None, *, pretty_name: str | None = None
) -> OsRelease:
    """An :class:`OsRelease` built from an id and version, for hosts without os-release.

    Windows hosts use ``"windows"`` with ``"7"``, ``"8.1"``, ``"10"``, ``"server-2008"``,
    ``"server-2008-r2"``, ``"server-2012"``, ``"server-2012-r2"`` or ``"server-2016"``.
    """
    distro = distro_id.strip().lower()
    if not distro:
        raise InvalidInput("distribution id must not be empty", field="ID")
    version = version_id.strip().lower() if version_id and version_id.strip() else None
    raw = {"ID": distro}
    if version:
        raw["VERSION_ID"] = version
    return OsRelease(
        id=distro,
        version_id=version,
        version_codename=None,
        pretty_name=pretty_name,
        id_like=(),
        raw=MappingProxyType(raw),
    )


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
_DOUBLE_QUOTE_ESCAPES = frozenset('$"\\`')


class _Unparsable(InvalidInput):
    """A value that does not follow the os-release quoting rules."""


def _shell_value(text: str) -> str:
    """The value of one shell-style word (quotes removed, escapes applied).

    Concatenated quoted parts are accepted (a shell would); anything after unquoted
    whitespace must be a comment.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while True:
                if i >= n:
                    raise _Unparsable("double quote is not closed")
                ch = text[i]
                if ch == '"':
                    i += 1
                    break
                if ch == "\\" and i + 1 < n and text[i + 1] in _DOUBLE_QUOTE_ESCAPES:
                    out.append(text[i + 1])
                    i += 2
                    continue
                out.append(ch)
                i += 1
        elif ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise _Unparsable("single quote is not closed")
            out.append(text[i + 1 : end])
            i = end + 1
        elif ch == "\\":
            if i + 1 >= n:
                raise _Unparsable("backslash at the end of the line")
            out.append(text[i + 1])
            i += 2
        elif ch in " \t":
            rest = text[i:].strip()
            if rest and not rest.startswith("#"):
                raise _Unparsable(f"unquoted space before {rest[:40]!r}; quote the value")
            break
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse_os_release(text: str, *, source: str = "/etc/os-release") -> OsRelease:
    """Parse the text of an os-release file (os-release(5)).

    Lines that cannot be understood are ignored and listed in ``problems`` with their line
    number. Raises :class:`~maat.errors.InvalidInput` when the text is too long or holds no
    assignment at all (it is then not an os-release file).
    """
    if len(text) > MAX_OS_RELEASE_BYTES:
        raise InvalidInput(
            f"os-release text is longer than {MAX_OS_RELEASE_BYTES} characters",
            file=source,
            hint="pass the contents of /etc/os-release or /usr/lib/os-release",
        )
    values: dict[str, str] = {}
    problems: list[Problem] = []
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ASSIGNMENT.fullmatch(stripped)
        if match is None:
            problems.append(
                Problem.at(
                    f"not a KEY=value assignment: {stripped[:60]!r}; ignored",
                    file=source,
                    line=number,
                )
            )
            continue
        key, value_text = match.groups()
        try:
            values[key] = _shell_value(value_text)
        except _Unparsable as exc:
            problems.append(Problem.at(f"{exc}; ignored", file=source, line=number, field=key))
    if not values:
        raise InvalidInput(
            "not an os-release file: no KEY=value assignment found",
            file=source,
            hint="pass the contents of /etc/os-release or /usr/lib/os-release",
        )

    def get(key: str) -> str | None:
        value = values.get(key, "").strip()
        return value or None

    distro = (get("ID") or "linux").lower()
    id_like = tuple(part.lower() for part in (get("ID_LIKE") or "").split())
    return OsRelease(
        id=distro,
        version_id=get("VERSION_ID"),
        version_codename=get("VERSION_CODENAME"),
        pretty_name=get("PRETTY_NAME"),
        id_like=id_like,
        raw=MappingProxyType(values),
        problems=tuple(problems),
    )


# --------------------------------------------------------------------------------------------
# OSV ecosystems and purl namespaces
# --------------------------------------------------------------------------------------------

_DEBIAN_CODENAMES: Mapping[str, str] = MappingProxyType(
    {
        "jessie": "8",
        "stretch": "9",
        "buster": "10",
        "bullseye": "11",
        "bookworm": "12",
        "trixie": "13",
        "forky": "14",
        "duke": "15",
    }
)

_OPENSUSE_IDS = frozenset(
    {"opensuse", "opensuse-leap", "opensuse-tumbleweed", "opensuse-microos", "opensuse-slowroll"}
)
_SUSE_IDS = frozenset({"sles", "sled", "sles_sap", "sle-micro", "sl-micro", "suse"})

_PURL: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "debian": ("deb", "debian"),
        "ubuntu": ("deb", "ubuntu"),
        "alpine": ("apk", "alpine"),
        "wolfi": ("apk", "wolfi"),
        "chainguard": ("apk", "chainguard"),
        "rhel": ("rpm", "redhat"),
        "rocky": ("rpm", "rocky-linux"),
        "almalinux": ("rpm", "almalinux"),
        "centos": ("rpm", "centos"),
        "fedora": ("rpm", "fedora"),
        "amzn": ("rpm", "amazonlinux"),
        "ol": ("rpm", "oracle"),
        "photon": ("rpm", "photon"),
        "mageia": ("rpm", "mageia"),
        "arch": ("alpm", "arch"),
        **dict.fromkeys(_OPENSUSE_IDS, ("rpm", "opensuse")),
        **dict.fromkeys(_SUSE_IDS, ("rpm", "suse")),
    }
)

_VERSION_PARTS = re.compile(r"(\d+)(?:\.(\d+))?")


def _major(version: str | None) -> str | None:
    match = _VERSION_PARTS.match(version or "")
    return match.group(1) if match else None


def _major_minor(version: str | None) -> str | None:
    match = _VERSION_PARTS.match(version or "")
    if match is None or match.group(2) is None:
        return None
    return f"{match.group(1)}.{match.group(2)}"


def _debian_release(os_release: OsRelease) -> str | None:
    major = _major(os_release.version_id)
    if major is not None:
        return major
    return _DEBIAN_CODENAMES.get((os_release.version_codename or "").lower())


def osv_ecosystem(os_release: OsRelease) -> str | None:
    """The OSV ecosystem of this release's packages, or ``None`` when OSV has none for it.

    Debian, Ubuntu, Alpine, Rocky Linux, AlmaLinux, Photon OS and Mageia carry the release
    (``Debian:12``, ``Ubuntu:22.04:LTS`` for LTS releases and ``Ubuntu:23.10`` otherwise,
    ``Alpine:v3.19``, ``Rocky Linux:9``, ``AlmaLinux:9``, ``Photon OS:5.0``, ``Mageia:9``);
    Red Hat, openSUSE and SUSE are given without one (``Red Hat``, ``openSUSE``, ``SUSE``):
    their OSV ecosystems add a product stream that os-release does not name. Wolfi and
    Chainguard are rolling (``Wolfi``, ``Chainguard``). A release that cannot be told
    (Debian sid without a version) gives the bare name.
    """
    distro = os_release.id
    version = os_release.version_id
    if distro == "debian":
        release = _debian_release(os_release)
        return f"Debian:{release}" if release else "Debian"
    if distro == "ubuntu":
        match = re.fullmatch(r"(\d+)\.(\d+)", version or "")
        if match is None:
            return "Ubuntu"
        year, month = int(match.group(1)), match.group(2)
        lts = month == "04" and year % 2 == 0
        return f"Ubuntu:{version}:LTS" if lts else f"Ubuntu:{version}"
    if distro == "alpine":
        release = _major_minor(version)
        return f"Alpine:v{release}" if release else "Alpine"
    if distro == "rhel":
        return "Red Hat"
    if distro in ("rocky", "almalinux"):
        name = "Rocky Linux" if distro == "rocky" else "AlmaLinux"
        major = _major(version)
        return f"{name}:{major}" if major else name
    if distro in _OPENSUSE_IDS:
        return "openSUSE"
    if distro in _SUSE_IDS:
        return "SUSE"
    if distro == "photon":
        release = _major_minor(version)
        return f"Photon OS:{release}" if release else "Photon OS"
    if distro == "wolfi":
        return "Wolfi"
    if distro == "chainguard":
        return "Chainguard"
    if distro == "mageia":
        major = _major(version)
        return f"Mageia:{major}" if major else "Mageia"
    return None


def purl_type_and_namespace(os_release: OsRelease) -> tuple[str, str]:
    """The purl type and namespace of this release's packages: ``("deb", "debian")``,
    ``("rpm", "redhat")``, ``("apk", "alpine")`` ...

    A derivative unknown here (Linux Mint, Kali) takes the type of the first known
    distribution in its ``ID_LIKE`` and its own id as namespace (``("deb", "linuxmint")``).
    Raises :class:`~maat.errors.InvalidInput` when neither tells the package format.
    """
    known = _PURL.get(os_release.id)
    if known is not None:
        return known
    for like in os_release.id_like:
        parent = _PURL.get(like)
        if parent is not None and re.fullmatch(r"[a-z0-9][a-z0-9._-]*", os_release.id):
            return parent[0], os_release.id
    raise InvalidInput(
        f"unknown distribution {os_release.id!r}: cannot tell its package format",
        field="ID",
        hint="Maat knows Debian, Ubuntu, Alpine, Wolfi, Chainguard, RHEL, Rocky, AlmaLinux, "
        "CentOS, Fedora, Amazon Linux, Oracle Linux, openSUSE, SUSE, Photon OS, Mageia, Arch "
        "and their derivatives that set ID_LIKE",
    )


# --------------------------------------------------------------------------------------------
# End of life
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndOfLife:
    """When a release stops getting security updates.

    ``distro`` is the os-release ``ID`` (``debian``, ``ubuntu``, ``alpine``, ``rhel``,
    ``rocky``, ``almalinux``, ``centos``, ``windows``); ``version`` the release as the table
    writes it (``12``, ``22.04``, ``3.19``, ``9``, ``server-2012-r2``). ``eol`` is the last day
    of free public security updates from the vendor or project (Debian: the end of Debian LTS;
    Ubuntu: standard support; RHEL: the end of Maintenance Support; Windows: extended
    support). ``extended_until`` is the last day of paid extended support when there is one
    (Freexian ELTS, Ubuntu Pro ESM, RHEL ELS, Windows ESU).
    """

    distro: str
    version: str
    eol: date
    extended_until: date | None
    label: str = ""

    def past_eol(self, today: date) -> bool:
        """Whether ``today`` is after the end of free security updates."""
        return today > self.eol

    def past_extended(self, today: date) -> bool:
        """Whether ``today`` is after every kind of support, paid included."""
        return today > (self.extended_until or self.eol)


def _eol(distro: str, version: str, eol: date, extended: date | None, label: str) -> EndOfLife:
    return EndOfLife(distro, version, eol, extended, label)


_D = date

# Public end-of-life dates as known in November 2026. Entries marked "uncertain" are planned
# dates or dates whose exact day could not be confirmed (month and year are right).
END_OF_LIFE: tuple[EndOfLife, ...] = (
    # Debian: eol = end of Debian LTS; extended = Freexian ELTS.
    # Regular security-team support ended: 9 on 2020-07-06, 10 on 2022-09-10, 11 on
    # 2024-08-14; 12 about June 2026 (uncertain day).
    _eol("debian", "9", _D(2022, 6, 30), _D(2027, 6, 30), "Debian 9 (stretch)"),
    # ELTS end for 10 and 11: uncertain
    _eol("debian", "10", _D(2024, 6, 30), _D(2029, 6, 30), "Debian 10 (buster)"),
    _eol("debian", "11", _D(2026, 8, 31), _D(2031, 6, 30), "Debian 11 (bullseye)"),
    _eol("debian", "12", _D(2028, 6, 30), None, "Debian 12 (bookworm)"),  # planned LTS end
    _eol("debian", "13", _D(2030, 6, 30), None, "Debian 13 (trixie)"),  # planned, uncertain
    # Ubuntu LTS: eol = end of standard security maintenance; extended = Ubuntu Pro ESM (the
    # Legacy add-on goes further and is not listed).
    _eol("ubuntu", "16.04", _D(2021, 4, 30), _D(2026, 4, 30), "Ubuntu 16.04 LTS (xenial)"),
    _eol("ubuntu", "18.04", _D(2023, 5, 31), _D(2028, 4, 30), "Ubuntu 18.04 LTS (bionic)"),
    # 20.04: "end of May 2025" (day uncertain)
    _eol("ubuntu", "20.04", _D(2025, 5, 31), _D(2030, 4, 30), "Ubuntu 20.04 LTS (focal)"),
    # 22.04: "April 2027" (day uncertain); ESM "April 2032"
    _eol("ubuntu", "22.04", _D(2027, 4, 30), _D(2032, 4, 30), "Ubuntu 22.04 LTS (jammy)"),
    # 24.04: "May 2029" (day uncertain); ESM "April 2034"
    _eol("ubuntu", "24.04", _D(2029, 5, 31), _D(2034, 4, 30), "Ubuntu 24.04 LTS (noble)"),
    # 26.04: planned (uncertain)
    _eol("ubuntu", "26.04", _D(2031, 5, 31), _D(2036, 4, 30), "Ubuntu 26.04 LTS"),
    # Ubuntu interim releases: nine months of support, no ESM.
    _eol("ubuntu", "16.10", _D(2017, 7, 20), None, "Ubuntu 16.10 (yakkety)"),
    _eol("ubuntu", "17.04", _D(2018, 1, 13), None, "Ubuntu 17.04 (zesty)"),
    _eol("ubuntu", "17.10", _D(2018, 7, 19), None, "Ubuntu 17.10 (artful)"),
    _eol("ubuntu", "18.10", _D(2019, 7, 18), None, "Ubuntu 18.10 (cosmic)"),
    _eol("ubuntu", "19.04", _D(2020, 1, 23), None, "Ubuntu 19.04 (disco)"),
    _eol("ubuntu", "19.10", _D(2020, 7, 17), None, "Ubuntu 19.10 (eoan)"),
    _eol("ubuntu", "20.10", _D(2021, 7, 22), None, "Ubuntu 20.10 (groovy)"),
    _eol("ubuntu", "21.04", _D(2022, 1, 20), None, "Ubuntu 21.04 (hirsute)"),
    _eol("ubuntu", "21.10", _D(2022, 7, 14), None, "Ubuntu 21.10 (impish)"),
    _eol("ubuntu", "22.10", _D(2023, 7, 20), None, "Ubuntu 22.10 (kinetic)"),
    _eol("ubuntu", "23.04", _D(2024, 1, 25), None, "Ubuntu 23.04 (lunar)"),
    _eol("ubuntu", "23.10", _D(2024, 7, 11), None, "Ubuntu 23.10 (mantic)"),
    _eol("ubuntu", "24.10", _D(2025, 7, 10), None, "Ubuntu 24.10 (oracular)"),
    _eol("ubuntu", "25.04", _D(2026, 1, 15), None, "Ubuntu 25.04 (plucky)"),  # day uncertain
    _eol("ubuntu", "25.10", _D(2026, 7, 9), None, "Ubuntu 25.10 (questing)"),  # day uncertain
    # Alpine: each stable branch gets security fixes in main for two years; no paid support.
    _eol("alpine", "3.12", _D(2022, 5, 1), None, "Alpine Linux 3.12"),
    _eol("alpine", "3.13", _D(2022, 11, 1), None, "Alpine Linux 3.13"),
    _eol("alpine", "3.14", _D(2023, 5, 1), None, "Alpine Linux 3.14"),
    _eol("alpine", "3.15", _D(2023, 11, 1), None, "Alpine Linux 3.15"),
    _eol("alpine", "3.16", _D(2024, 5, 23), None, "Alpine Linux 3.16"),
    _eol("alpine", "3.17", _D(2024, 11, 22), None, "Alpine Linux 3.17"),
    _eol("alpine", "3.18", _D(2025, 5, 9), None, "Alpine Linux 3.18"),
    # 3.19 to 3.22: the published planned dates (day uncertain)
    _eol("alpine", "3.19", _D(2025, 11, 1), None, "Alpine Linux 3.19"),
    _eol("alpine", "3.20", _D(2026, 4, 1), None, "Alpine Linux 3.20"),
    _eol("alpine", "3.21", _D(2026, 11, 1), None, "Alpine Linux 3.21"),
    _eol("alpine", "3.22", _D(2027, 5, 1), None, "Alpine Linux 3.22"),
    # RHEL: eol = end of Maintenance Support; extended = Extended Life Cycle Support.
    # RHEL 7 ELS: June 2028 as first announced (a later extension is uncertain).
    _eol("rhel", "7", _D(2024, 6, 30), _D(2028, 6, 30), "Red Hat Enterprise Linux 7"),
    _eol("rhel", "8", _D(2029, 5, 31), _D(2032, 5, 31), "Red Hat Enterprise Linux 8"),
    _eol("rhel", "9", _D(2032, 5, 31), _D(2035, 5, 31), "Red Hat Enterprise Linux 9"),
    # RHEL 10: planned (uncertain)
    _eol("rhel", "10", _D(2035, 5, 31), _D(2038, 5, 31), "Red Hat Enterprise Linux 10"),
    _eol("centos", "7", _D(2024, 6, 30), None, "CentOS Linux 7"),
    _eol("centos", "8", _D(2021, 12, 31), None, "CentOS Linux 8"),
    _eol("rocky", "8", _D(2029, 5, 31), None, "Rocky Linux 8"),
    _eol("rocky", "9", _D(2032, 5, 31), None, "Rocky Linux 9"),
    _eol("rocky", "10", _D(2035, 5, 31), None, "Rocky Linux 10"),  # planned, uncertain
    _eol("almalinux", "8", _D(2029, 3, 1), None, "AlmaLinux 8"),
    _eol("almalinux", "9", _D(2032, 5, 31), None, "AlmaLinux 9"),
    _eol("almalinux", "10", _D(2035, 5, 31), None, "AlmaLinux 10"),  # planned, uncertain
    # Windows: eol = end of extended support; extended = the last Extended Security Update.
    _eol("windows", "7", _D(2020, 1, 14), _D(2023, 1, 10), "Windows 7"),
    _eol("windows", "8.1", _D(2023, 1, 10), None, "Windows 8.1"),
    # Windows 10: commercial ESU year 3 (consumer ESU ends 2026-10-13)
    _eol("windows", "10", _D(2025, 10, 14), _D(2028, 10, 10), "Windows 10"),
    # Server 2008 / 2008 R2: on-premises ESU ended 2023-01-10, the Azure-only year 2024-01-09
    _eol("windows", "server-2008", _D(2020, 1, 14), _D(2024, 1, 9), "Windows Server 2008"),
    _eol("windows", "server-2008-r2", _D(2020, 1, 14), _D(2024, 1, 9), "Windows Server 2008 R2"),
    _eol("windows", "server-2012", _D(2023, 10, 10), _D(2026, 10, 13), "Windows Server 2012"),
    _eol("windows", "server-2012-r2", _D(2023, 10, 10), _D(2026, 10, 13), "Windows Server 2012 R2"),
    _eol("windows", "server-2016", _D(2027, 1, 12), None, "Windows Server 2016"),
)

_EOL_INDEX: Mapping[tuple[str, str], EndOfLife] = MappingProxyType(
    {(entry.distro, entry.version): entry for entry in END_OF_LIFE}
)


def find_end_of_life(distro: str, version: str | None) -> EndOfLife | None:
    """The table entry of a release, whether or not it has passed: tried as written, then
    as major.minor (Alpine ``3.19.1`` → ``3.19``), then as major (RHEL ``9.3`` → ``9``)."""
    if not version:
        return None
    distro = distro.lower()
    text = version.strip().lower()
    for candidate in (text, _major_minor(text), _major(text)):
        if candidate is not None:
            entry = _EOL_INDEX.get((distro, candidate))
            if entry is not None:
                return entry
    return None


def end_of_life(os_release: OsRelease, today: date) -> EndOfLife | None:
    """The :data:`END_OF_LIFE` entry of this release if it is past its end of free security
    updates on ``today`` (``today > eol``), else ``None``.

    A release not in the table (unknown distribution, rolling release, Debian sid) gives
    ``None``. Whether paid extended support still covers the host is
    :meth:`EndOfLife.past_extended`.
    """
    version = os_release.version_id
    if os_release.id == "debian" and version is None:
        version = _debian_release(os_release)
    entry = find_end_of_life(os_release.id, version)
    if entry is not None and entry.past_eol(today):
        return entry
    return None
