"""Write Maat's own SBOM (CycloneDX 1.5 JSON) from the hash-locked requirements.

Usage: python tools/lock_to_sbom.py requirements/lock.txt sbom/maat.cdx.json
Every locked distribution becomes a component with its pypi purl and the SHA-256 hashes the
lock accepts; ``make sbom`` runs this and the tests check the file matches the lock.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def read_lock(text: str) -> list[tuple[str, str, list[str]]]:
    """(name, version, sha256 hashes) for every pin, in file order."""
    pins: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins.append((match.group(1).lower(), match.group(2), []))
        elif pins:
            pins[-1][2].extend(_HASH.findall(line))
    return pins


def sbom(lock_text: str, project: dict[str, object]) -> dict[str, object]:
    """The CycloneDX document for the locked environment."""
    name, version = str(project["name"]), str(project["version"])
    components = [
        {
            "type": "library",
            "bom-ref": f"pkg:pypi/{pkg}@{ver}",
            "name": pkg,
            "version": ver,
            "purl": f"pkg:pypi/{pkg}@{ver}",
            "hashes": [{"alg": "SHA-256", "content": h} for h in sorted(hashes)],
        }
        for pkg, ver, hashes in sorted(read_lock(lock_text))
    ]
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "component": {"type": "application", "bom-ref": f"pkg:pypi/{name}@{version}",
                          "name": name, "version": version, "purl": f"pkg:pypi/{name}@{version}"},
        },
        "components": components,
        "dependencies": [{"ref": f"pkg:pypi/{name}@{version}",
                          "dependsOn": [c["bom-ref"] for c in components]}],
    }


def main(argv: list[str]) -> int:
    lock, out = Path(argv[1]), Path(argv[2])
    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    out.write_text(json.dumps(sbom(lock.read_text(), project), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
