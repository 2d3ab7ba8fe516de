"""Language inventories: pip, requirements.txt, package-lock.json, go.mod, go.sum."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from maat.errors import InvalidInput
from maat.vulns.inventory import Inventory, InventoryPackage, parse_inventory


def by_name(inventory: Inventory) -> dict[str, InventoryPackage]:
    return {p.name: p for p in inventory.packages}


def problems_by_line(inventory: Inventory) -> dict[int | None, str]:
    return {p.location.line: p.message for p in inventory.problems}


# --------------------------------------------------------------------------------------------
# pip
# --------------------------------------------------------------------------------------------

PIP_JSON = orjson.dumps(
    [
        {"name": "certifi", "version": "2024.2.2"},
        {"name": "Django", "version": "4.2.11"},
        {"name": "zope.interface", "version": "6.2"},
        {"name": "ruamel.yaml", "version": "0.18.6"},
        {"name": "mypkg", "version": "0.1.0", "editable_project_location": "/src/mypkg"},
        {"name": 5, "version": "1"},
        "not an object",
        {"name": "nover"},
    ]
)


def test_pip_list_json() -> None:
    inventory = parse_inventory(PIP_JSON, source="venv/pip.json", kind="pip")
    packages = by_name(inventory)
    assert set(packages) == {"certifi", "django", "zope-interface", "ruamel-yaml", "mypkg"}
    django = packages["django"]
    assert (django.version, django.ecosystem, str(django.purl)) == (
        "4.2.11",
        "PyPI",
        "pkg:pypi/django@4.2.11",
    )
    assert str(packages["zope-interface"].purl) == "pkg:pypi/zope-interface@6.2"
    assert django.location.field == "[1]"
    assert sorted(p.location.field or "" for p in inventory.problems) == ["[5]", "[6]", "[7]"]


def test_pip_list_columns() -> None:
    data = b"Package    Version\n---------- -------\npip        23.3.1\nmypkg      0.1    /src/mypkg\nbroken\n"
    inventory = parse_inventory(data, source="pip.txt")
    assert inventory.kind == "pip"
    assert {p.name: p.version for p in inventory.packages} == {"pip": "23.3.1", "mypkg": "0.1"}
    assert list(problems_by_line(inventory)) == [5]


def test_pip_json_that_is_not_a_list() -> None:
    with pytest.raises(InvalidInput, match="JSON array"):
        parse_inventory(b'{"name": "a", "version": "1"}', source="p", kind="pip")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        parse_inventory(b"[1, 2", source="p", kind="pip")


# --------------------------------------------------------------------------------------------
# requirements.txt
# --------------------------------------------------------------------------------------------

REQUIREMENTS = b"""# production dependencies
--index-url https://pypi.org/simple
-r base.txt
-c constraints.txt
-e git+https://github.com/org/proj.git#egg=proj
Django==4.2.11  # pinned
requests[security,socks]==2.31.0 \\
    --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f \\
    --hash=sha256:942c5a758f98d790eaed1a29cb6eefc7ffb0d1cf7af05c3d2791656dbd6ad1e1
urllib3>=1.26,<3
numpy
Zope.Interface==6.2
cryptography==42.0.5 ; python_version >= "3.7"
pkg @ https://example.com/pkg-1.0.tar.gz
./local/path
ruamel.yaml===0.18.6
black==24.*
flask == 3.0.2
attrs==not-a-version!
typing_extensions==4.9.0;python_version<"3.11"
idna==3.6 --hash=sha256:c05567e9c24a6b9faaa835c4821bad0590fbb9d5779e7caa6e1cc4978e7eb24f
  # indented comment
six (==1.16.0)
"""


def test_requirements_keeps_only_exact_pins_and_explains_the_rest() -> None:
    inventory = parse_inventory(REQUIREMENTS, source="app/requirements.txt")
    assert inventory.kind == "requirements"
    assert {p.name: p.version for p in inventory.packages} == {
        "django": "4.2.11",
        "requests": "2.31.0",
        "zope-interface": "6.2",
        "ruamel-yaml": "0.18.6",
        "flask": "3.0.2",
        "idna": "3.6",
        "six": "1.16.0",
    }
    packages = by_name(inventory)
    assert packages["requests"].location.line == 7
    assert str(packages["requests"].purl) == "pkg:pypi/requests@2.31.0"
    assert packages["six"].location.line == 23
    problems = problems_by_line(inventory)
    assert set(problems) == {2, 3, 4, 5, 10, 11, 13, 14, 15, 17, 19, 20}
    assert "option --index-url" in problems[2]
    assert "base.txt" in problems[3]
    assert "constraints" in problems[4]
    assert "editable" in problems[5]
    assert "not pinned" in problems[10]
    assert "not pinned" in problems[11] and "no version" in problems[11]
    assert "python_version" in problems[13]
    assert "URL or path" in problems[14]
    assert "URL or path" in problems[15]
    assert "not pinned" in problems[17]
    assert "PEP 440" in problems[19]
    assert "cannot be evaluated" in problems[20]
    assert all(p.location.file == "app/requirements.txt" for p in inventory.problems)


def test_requirements_edge_lines() -> None:
    data = b"foo==1.0,!=1.1\nbar==1.0,==2.0\nbaz[extra]\n-rother.txt\nqux>=\n\\\n"
    inventory = parse_inventory(data, source="r.txt", kind="requirements")
    assert {p.name: p.version for p in inventory.packages} == {"foo": "1.0"}
    problems = problems_by_line(inventory)
    assert "not pinned" in problems[2]
    assert "not pinned" in problems[3]
    assert "other.txt" in problems[4]
    assert "not a version specifier" in problems[5]


# --------------------------------------------------------------------------------------------
# npm
# --------------------------------------------------------------------------------------------

LOCK_V3 = b"""{
  "name": "webapp",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "webapp",
      "version": "1.0.0",
      "workspaces": ["packages/*"],
      "dependencies": {
        "@babel/core": "^7.23.0",
        "express": "^4.18.2"
      }
    },
    "node_modules/@babel/core": {
      "version": "7.23.0",
      "resolved": "https://registry.npmjs.org/@babel/core/-/core-7.23.0.tgz",
      "integrity": "sha512-97z/ju/Jy1rZmDxybphrBuI+jtJjFVoz7Mr9yUQVVVi+DNZE333uFQeMOqcCIy1x3WYBIbWftUSLmbNXNT7qFQ=="
    },
    "node_modules/express": {
      "version": "4.18.2"
    },
    "node_modules/express/node_modules/debug": {
      "version": "2.6.9"
    },
    "node_modules/debug": {
      "version": "4.3.4"
    },
    "node_modules/@types/node": {
      "version": "20.10.0",
      "dev": true
    },
    "node_modules/my-lib": {
      "resolved": "packages/my-lib",
      "link": true
    },
    "packages/my-lib": {
      "name": "my-lib",
      "version": "0.0.1"
    },
    "node_modules/string-width-cjs": {
      "name": "string-width",
      "version": "4.2.3"
    },
    "node_modules/a/node_modules/debug": {
      "version": "4.3.4"
    },
    "node_modules/broken": {
      "resolved": "https://example.com/broken.tgz"
    }
  }
}
"""


def test_package_lock_v3() -> None:
    inventory = parse_inventory(LOCK_V3, source="web/package-lock.json")
    assert inventory.kind == "npm"
    pairs = sorted((p.name, p.version) for p in inventory.packages)
    assert pairs == [
        ("@babel/core", "7.23.0"),
        ("@types/node", "20.10.0"),
        ("debug", "2.6.9"),
        ("debug", "4.3.4"),  # listed once though installed twice
        ("express", "4.18.2"),
        ("string-width", "4.2.3"),
    ]
    babel = next(p for p in inventory.packages if p.name == "@babel/core")
    assert str(babel.purl) == "pkg:npm/%40babel/core@7.23.0"
    assert babel.ecosystem == "npm"
    assert babel.location.line == 16
    assert babel.location.field == "packages['node_modules/@babel/core']"
    nested = next(p for p in inventory.packages if p.version == "2.6.9")
    assert nested.location.line == 24
    assert [(p.location.line, "no version" in p.message) for p in inventory.problems] == [
        (49, True)
    ]


LOCK_V1 = orjson.dumps(
    {
        "name": "legacy",
        "version": "1.0.0",
        "lockfileVersion": 1,
        "requires": True,
        "dependencies": {
            "lodash": {"version": "4.17.21", "resolved": "https://r/lodash-4.17.21.tgz"},
            "@scope/pkg": {
                "version": "1.2.0",
                "requires": {"debug": "^3.0.0"},
                "dependencies": {
                    "debug": {"version": "3.2.7", "dependencies": {"ms": {"version": "2.1.3"}}}
                },
            },
            "debug": {"version": "4.3.4"},
            "sw": {"version": "npm:string-width@4.2.3"},
            "from-git": {"version": "github:user/repo#abc123"},
            "local": {"version": "file:../local"},
        },
    },
    option=orjson.OPT_INDENT_2,
)


def test_package_lock_v1_dependency_tree() -> None:
    inventory = parse_inventory(LOCK_V1, source="package-lock.json")
    pairs = sorted((p.name, p.version) for p in inventory.packages)
    assert pairs == [
        ("@scope/pkg", "1.2.0"),
        ("debug", "3.2.7"),
        ("debug", "4.3.4"),
        ("lodash", "4.17.21"),
        ("ms", "2.1.3"),
        ("string-width", "4.2.3"),
    ]
    debug3 = next(p for p in inventory.packages if p.version == "3.2.7")
    assert debug3.location.field == "dependencies['@scope/pkg'].dependencies['debug']"
    # The "requires" entry for debug comes first in the file; the package line is found.
    text_lines = LOCK_V1.decode().splitlines()
    assert debug3.location.line is not None
    assert text_lines[debug3.location.line - 1].strip().startswith('"debug": {')
    ms = next(p for p in inventory.packages if p.name == "ms")
    assert ms.location.line is not None
    assert text_lines[ms.location.line - 1].strip().startswith('"ms": {')
    assert len(inventory.problems) == 2
    assert all("not a registry version" in p.message for p in inventory.problems)


def test_package_lock_v2_prefers_the_packages_map() -> None:
    data = orjson.dumps(
        {
            "lockfileVersion": 2,
            "packages": {"": {"name": "x"}, "node_modules/left-pad": {"version": "1.3.0"}},
            "dependencies": {"left-pad": {"version": "1.3.0"}, "only-in-v1": {"version": "9.9.9"}},
        }
    )
    inventory = parse_inventory(data, source="package-lock.json")
    assert [(p.name, p.version) for p in inventory.packages] == [("left-pad", "1.3.0")]


def test_package_lock_unknown_version_and_non_lock_json() -> None:
    data = orjson.dumps(
        {"lockfileVersion": 9, "packages": {"node_modules/a": {"version": "1.0.0"}}}
    )
    inventory = parse_inventory(data, source="package-lock.json")
    assert len(inventory.packages) == 1
    assert inventory.problems[0].location.field == "lockfileVersion"
    with pytest.raises(InvalidInput, match=r"not a package-lock\.json"):
        parse_inventory(b'{"name": "x"}', source="package-lock.json")
    with pytest.raises(InvalidInput, match="JSON object"):
        parse_inventory(b"[]", source="package-lock.json")


# --------------------------------------------------------------------------------------------
# Go
# --------------------------------------------------------------------------------------------

GO_MOD = b"""module example.com/app

go 1.21

toolchain go1.21.5

require (
\tgithub.com/gin-gonic/gin v1.9.1
\tgolang.org/x/net v0.17.0 // indirect
\tgithub.com/BurntSushi/toml v1.3.2
\tgolang.org/x/crypto v0.0.0-20220722155217-630584e8d5aa // indirect
\tgithub.com/docker/docker v24.0.7+incompatible
\texample.com/local v1.0.0
\tgithub.com/old/lib v1.0.0
\t"github.com/quoted/mod" v0.1.0
\tgithub.com/bad/version latest
)

require gopkg.in/yaml.v3 v3.0.1

replace golang.org/x/net => golang.org/x/net v0.23.0

replace (
\tgithub.com/old/lib v1.0.0 => github.com/fork/lib v1.0.1
\texample.com/local => ../local
)

exclude golang.org/x/text v0.3.0

retract v0.9.0 // published by mistake
"""


def test_go_mod() -> None:
    inventory = parse_inventory(GO_MOD, source="svc/go.mod")
    assert inventory.kind == "gomod"
    packages = by_name(inventory)
    assert {name: p.version for name, p in packages.items()} == {
        "github.com/gin-gonic/gin": "1.9.1",
        "golang.org/x/net": "0.23.0",  # replaced
        "github.com/BurntSushi/toml": "1.3.2",
        "golang.org/x/crypto": "0.0.0-20220722155217-630584e8d5aa",
        "github.com/docker/docker": "24.0.7+incompatible",
        "github.com/fork/lib": "1.0.1",  # replaced by a fork
        "github.com/quoted/mod": "0.1.0",
        "gopkg.in/yaml.v3": "3.0.1",
    }
    gin = packages["github.com/gin-gonic/gin"]
    assert (gin.ecosystem, str(gin.purl), gin.location.line) == (
        "Go",
        "pkg:golang/github.com/gin-gonic/gin@v1.9.1",
        8,
    )
    assert str(packages["golang.org/x/crypto"].purl) == (
        "pkg:golang/golang.org/x/crypto@v0.0.0-20220722155217-630584e8d5aa"
    )
    assert (
        str(packages["github.com/BurntSushi/toml"].purl)
        == "pkg:golang/github.com/BurntSushi/toml@v1.3.2"
    )
    problems = problems_by_line(inventory)
    assert set(problems) == {13, 16}
    assert "directory '../local'" in problems[13]
    assert "not a module version" in problems[16]


def test_go_mod_structure_errors() -> None:
    data = b"module x\nrequire (\n\ta.b/c v1.0.0\nfrobnicate a b\nrequire a.b/d\n"
    inventory = parse_inventory(data, source="go.mod")
    problems = problems_by_line(inventory)
    assert "expected 'require" in problems[4]  # inside the open block: 'frobnicate a b'
    assert "not closed" in problems[2]
    assert [p.name for p in inventory.packages] == ["a.b/c"]


GO_SUM = b"""github.com/gin-gonic/gin v1.9.1 h1:4idEAncQnU5cB7BeOkPtxjfCSye0AAm1R0RVIqJ+Jmg=
github.com/gin-gonic/gin v1.9.1/go.mod h1:hPrL7YrpYKXt5YId3A/Tnip5kqbEAP+KLuI3SUcPTeU=
golang.org/x/net v0.0.0-20190404232315-eb5bcb51f2a3/go.mod h1:t9HGtf8HONx5eT2rtn7q6eTqICYqUVnKs3thJo3Qplg=
golang.org/x/net v0.17.0 h1:pVaXccu2ozPjCXewfr1S2xPpGKYfH5hKEIJmadq3Exs=
not a go.sum line
"""


def test_go_sum() -> None:
    inventory = parse_inventory(GO_SUM, source="go.sum")
    assert inventory.kind == "gosum"
    assert [(p.name, p.version) for p in inventory.packages] == [
        ("github.com/gin-gonic/gin", "1.9.1"),
        ("golang.org/x/net", "0.17.0"),
    ]
    assert list(problems_by_line(inventory)) == [5]


class _CountingBytes(bytes):
    """Bytes that add up how far ``find`` and ``count`` scan."""

    scanned = 0

    def find(self, sub: Any, start: Any = None, end: Any = None) -> int:  # type: ignore[override]
        first = 0 if start is None else start
        last = len(self) if end is None else min(end, len(self))
        found = super().find(sub, first, last)
        type(self).scanned += (last if found < 0 else found + len(sub)) - first
        return found

    def count(self, sub: Any, start: Any = None, end: Any = None) -> int:  # type: ignore[override]
        first = 0 if start is None else start
        last = len(self) if end is None else min(end, len(self))
        type(self).scanned += max(0, last - first)
        return super().count(sub, first, last)


def test_line_finder_scans_a_crafted_lock_file_a_bounded_number_of_times() -> None:
    from maat.vulns.inventory_model import LineFinder

    keys = 5_000
    body = b"".join(b'  "k%d":{},\n' % i for i in range(keys))
    data = _CountingBytes(b"{\n" + body + b"}\n")
    finder = LineFinder(data)
    # Every key looked up in the pretty-printed spelling that is absent, beside the real one,
    # and every other lookup for a key that is not in the file at all.
    lines = []
    for i in range(keys):
        quoted = b'"k%d"' % i
        lines.append(finder.line_of(quoted + b": {", quoted + b":{"))
        finder.line_of(b'"missing%d":' % i)
    assert lines[:3] == [2, 3, 4]  # found while misses remain allowed
    assert lines[-1] is None  # then the finder gives up instead of rescanning
    assert _CountingBytes.scanned < 40 * len(data)  # quadratic would be ~keys/2 times that


def test_line_finder_keeps_finding_keys_in_a_well_formed_file() -> None:
    from maat.vulns.inventory_model import LineFinder

    data = b'{\n  "a": {\n    "b": 1\n  },\n  "c":{}\n}\n'
    finder = LineFinder(data)
    assert finder.line_of(b'"a": {', b'"a":{') == 2
    assert finder.line_of(b'"b":') == 3
    assert finder.line_of(b'"zzz":') is None  # a miss does not move the position
    assert finder.line_of(b'"c": {', b'"c":{') == 5
