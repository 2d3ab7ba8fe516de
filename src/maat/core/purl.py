"""Package URLs (purl), validated and in canonical form.

Parsing and normalisation follow the purl specification as implemented by
``packageurl-python`` (type lower-case, qualifiers sorted with lower-case keys, empty
qualifiers dropped, subpath cleaned, per-type case folding such as pypi, npm, github, composer,
apk; pypi names with ``_`` written ``-``). On top of that Maat applies the spec's rules the
library leaves out (deb namespace and name, rpm namespace: lower-case), rejects purls that break
their type's namespace rule (``pkg:maven/x`` has no group) and purls whose canonical string
would not parse back to the same value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from types import MappingProxyType

from packageurl import PackageURL
from packageurl.validate import DEFINITIONS_BY_TYPE

from maat.errors import InvalidInput

__all__ = ["MAX_PURL_LENGTH", "Purl"]

MAX_PURL_LENGTH = 4096
"""Longest purl text accepted."""

_ECOSYSTEM_BY_TYPE: Mapping[str, str] = MappingProxyType(
    {
        "pypi": "PyPI",
        "npm": "npm",
        "golang": "Go",
        "maven": "Maven",
        "cargo": "crates.io",
        "gem": "RubyGems",
        "nuget": "NuGet",
        "composer": "Packagist",
        "hex": "Hex",
        "pub": "Pub",
        "hackage": "Hackage",
        "cran": "CRAN",
        "swift": "SwiftURL",
        "bitnami": "Bitnami",
        "conan": "ConanCenter",
    }
)

_ECOSYSTEM_BY_NAMESPACE: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "deb": {"debian": "Debian", "ubuntu": "Ubuntu"},
        "apk": {"alpine": "Alpine", "wolfi": "Wolfi", "chainguard": "Chainguard"},
        "rpm": {
            "redhat": "Red Hat",
            "rhel": "Red Hat",
            "rocky": "Rocky Linux",
            "rocky-linux": "Rocky Linux",
            "almalinux": "AlmaLinux",
            "alma": "AlmaLinux",
            "opensuse": "openSUSE",
            "suse": "SUSE",
            "sles": "SUSE",
            "mageia": "Mageia",
        },
    }
)

# Types whose OSV package name joins namespace and name, and the separator used.
_JOINED_NAME: Mapping[str, str] = MappingProxyType(
    {
        "maven": ":",
        "npm": "/",
        "golang": "/",
        "composer": "/",
        "github": "/",
        "gitlab": "/",
        "bitbucket": "/",
        "swift": "/",
    }
)

# Purls that lack a namespace their type requires, yet are in common use: syft names the Go
# standard library pkg:golang/stdlib@1.21.0, and OSV files its advisories under the Go
# package "stdlib".
_NAMESPACE_EXEMPT = frozenset({("golang", None, "stdlib")})

_LOWER_NAMESPACE = frozenset({"deb", "rpm"})
_LOWER_NAME = frozenset({"deb"})


def _fail(reason: str, field: str, file: str | None) -> InvalidInput:
    return InvalidInput(f"invalid purl: {reason}", file=file, field=field)


@dataclass(frozen=True, slots=True)
class Purl:
    """A validated, canonical package URL.

    Build one with :meth:`parse` or :meth:`from_parts`; the constructor normalises and
    validates as well. Qualifiers are a tuple of ``(key, value)`` pairs sorted by key
    (:attr:`qualifier_map` gives a read-only mapping). ``str(p)`` is the canonical purl.
    """

    type: str
    name: str
    namespace: str | None = None
    version: str | None = None
    qualifiers: tuple[tuple[str, str], ...] = ()
    subpath: str | None = None

    def __post_init__(self) -> None:
        canonical = _canonical_parts(
            self.type,
            self.namespace,
            self.name,
            self.version,
            dict(self.qualifiers),
            self.subpath,
            field="purl",
            file=None,
        )
        for key, value in zip(
            ("type", "namespace", "name", "version", "qualifiers", "subpath"),
            canonical,
            strict=True,
        ):
            object.__setattr__(self, key, value)

    @classmethod
    def parse(cls, text: object, field: str = "purl", *, file: str | None = None) -> Purl:
        """Parse and normalise a purl string such as ``"pkg:pypi/django@4.2"``.

        Raises :class:`~maat.errors.InvalidInput` naming ``field`` with the reason when the
        text is not a valid purl.
        """
        if not isinstance(text, str):
            raise _fail(f"expected a string, got {type(text).__name__}", field, file)
        if len(text) > MAX_PURL_LENGTH:
            raise _fail(f"longer than {MAX_PURL_LENGTH} characters", field, file)
        try:
            return _parse_cached(text.strip())
        except InvalidInput as exc:
            raise InvalidInput(exc.message, file=file, field=field) from None

    @classmethod
    def from_parts(
        cls,
        type: str,
        name: str,
        *,
        namespace: str | None = None,
        version: str | None = None,
        qualifiers: Mapping[str, str] | None = None,
        subpath: str | None = None,
        field: str = "purl",
        file: str | None = None,
    ) -> Purl:
        """Build a purl from its components (unencoded), normalising and validating them."""
        parts = _canonical_parts(
            type,
            namespace,
            name,
            version,
            dict(qualifiers or {}),
            subpath,
            field=field,
            file=file,
        )
        return cls(
            type=parts[0],
            namespace=parts[1],
            name=parts[2],
            version=parts[3],
            qualifiers=parts[4],
            subpath=parts[5],
        )

    @property
    def qualifier_map(self) -> Mapping[str, str]:
        """The qualifiers as a read-only mapping."""
        return MappingProxyType(dict(self.qualifiers))

    def qualifier(self, key: str) -> str | None:
        """Return the value of qualifier ``key`` (keys are lower-case), or ``None``."""
        for k, v in self.qualifiers:
            if k == key:
                return v
        return None

    @property
    def ecosystem(self) -> str | None:
        """The OSV ecosystem name for this package, or ``None`` when OSV has none for it.

        deb, apk and rpm depend on the namespace (the distribution): ``pkg:deb/ubuntu/…`` is
        ``Ubuntu``, ``pkg:rpm/redhat/…`` is ``Red Hat``; unknown distributions give ``None``.
        """
        by_namespace = _ECOSYSTEM_BY_NAMESPACE.get(self.type)
        if by_namespace is not None:
            return by_namespace.get(self.namespace or "")
        return _ECOSYSTEM_BY_TYPE.get(self.type)

    @property
    def package_name(self) -> str:
        """The package name as OSV writes it: ``group:artifact`` for maven, ``@scope/name``
        for npm, the module path for golang, ``vendor/name`` for composer, else the name."""
        separator = _JOINED_NAME.get(self.type)
        if separator is not None and self.namespace:
            return f"{self.namespace}{separator}{self.name}"
        return self.name

    def without_version(self) -> Purl:
        """The same purl with no version (qualifiers and subpath are kept)."""
        return replace(self, version=None)

    def __str__(self) -> str:
        return str(
            PackageURL(
                type=self.type,
                namespace=self.namespace,
                name=self.name,
                version=self.version,
                qualifiers=dict(self.qualifiers),
                subpath=self.subpath,
            )
        )


_TYPE = re.compile(r"[a-z][a-z0-9._-]*")


def _required(value: object, label: str, field: str, file: str | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"{label} is required and must be a string", field, file)
    return value


def _optional(value: object, label: str, field: str, file: str | None) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _fail(f"{label} must be a string", field, file)
    return value


_Parts = tuple[str, str | None, str, str | None, tuple[tuple[str, str], ...], str | None]


def _canonical_parts(
    type: object,
    namespace: object,
    name: object,
    version: object,
    qualifiers: dict[str, str],
    subpath: object,
    *,
    field: str,
    file: str | None,
) -> _Parts:
    ptype_in = _required(type, "type", field, file)
    name_in = _required(name, "name", field, file)
    for key, value in qualifiers.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise _fail("qualifier keys and values must be strings", field, file)
    try:
        purl = PackageURL(
            type=ptype_in,
            namespace=_optional(namespace, "namespace", field, file),
            name=name_in,
            version=_optional(version, "version", field, file),
            qualifiers=qualifiers,
            subpath=_optional(subpath, "subpath", field, file),
        )
    except ValueError as exc:
        raise _fail(str(exc), field, file) from None
    ptype = purl.type
    if not _TYPE.fullmatch(ptype):
        raise _fail(
            f"type must be ASCII letters, digits, '.', '-' or '_' and start with a letter, "
            f"got {ptype[:40]!r}",
            field,
            file,
        )
    ns = purl.namespace or None
    pname = purl.name
    if ptype in _LOWER_NAMESPACE and ns:
        ns = ns.lower()
    if ptype in _LOWER_NAME:
        pname = pname.lower()
    if "/" in pname:
        raise _fail(f"name must not contain '/', got {pname[:80]!r}", field, file)
    definition = DEFINITIONS_BY_TYPE.get(ptype)
    if definition is not None:
        requirement = definition.namespace_requirement
        if (ptype, ns, pname) in _NAMESPACE_EXEMPT:
            requirement = "optional"
        if requirement == "required" and not ns:
            raise _fail(f"type {ptype!r} requires a namespace", field, file)
        if requirement == "prohibited" and ns:
            raise _fail(f"type {ptype!r} does not allow a namespace", field, file)
    pairs = tuple(sorted((k, v) for k, v in (purl.qualifiers or {}).items()))
    return ptype, ns, pname, purl.version or None, pairs, purl.subpath or None


def _from_package_url(raw: PackageURL) -> Purl:
    return Purl.from_parts(
        raw.type,
        raw.name,
        namespace=raw.namespace,
        version=raw.version,
        qualifiers=raw.qualifiers,
        subpath=raw.subpath,
    )


@lru_cache(maxsize=16384)
def _parse_cached(text: str) -> Purl:
    try:
        purl = _from_package_url(PackageURL.from_string(text))
    except ValueError as exc:
        raise _fail(str(exc), "purl", None) from None
    canonical = str(purl)
    if canonical == text:  # parsing is deterministic: the same text gives the same purl
        return purl
    try:
        again: Purl | None = _from_package_url(PackageURL.from_string(canonical))
    except (ValueError, InvalidInput):
        again = None
    if again != purl:
        raise _fail(f"{text[:80]!r} has no canonical form that parses back to it", "purl", None)
    return purl
