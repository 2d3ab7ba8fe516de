"""The extra steps the C mapping runs itself (windows_mapping.user and file_fields) give the
event the Python steps give, for every odd value: an account with no domain, a path with no
directory, a dotfile, a value that is not text (which the Python step runs on)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from maat.errors import InvalidInput
from maat.native import NATIVE
from maat.telemetry.model import finish
from maat.telemetry.native import FLAT_WINDOWS  # configures maat._native for Windows
from maat.telemetry.windows import FlatSource
from native_kit import require_native

FLAT = FlatSource()
RECEIVED = "2026-11-25T10:00:00.000000Z"


@pytest.fixture(autouse=True)
def _native() -> None:
    require_native()


def both(record: dict[str, Any]) -> tuple[Any, Any]:
    """(C's event or None, Python's event or the error class name) for ``record``."""
    line = orjson.dumps(record)
    assert NATIVE is not None and FLAT_WINDOWS is not None
    made = FLAT_WINDOWS(line, RECEIVED)
    try:
        expected: Any = finish(FLAT.normalise(orjson.loads(line)), module=FLAT.name, raw=line,
                               received=RECEIVED)  # fmt: skip
    except InvalidInput as exc:
        expected = type(exc).__name__
    return made, expected


USERS = ["CORP\\alice", "alice", "\\alice", "CORP\\", "\\", "-", "", "A\\B\\C", "DOMÄNE\\jürgen",
         "Ω\\𝄞", "NT AUTHORITY\\SYSTEM", " CORP\\ x "]  # fmt: skip
PATHS = ["C:\\Windows\\System32\\cmd.exe", "cmd.exe", ".bashrc", "a.", "dir\\", "C:\\x\\.hidden",
         "/usr/bin/python3.11", "C:/mixed\\sep/name.tar.gz", "\\\\server\\share\\f.txt", "-", "",
         "\\lead.txt", "ünï\\cödé.ps1", "no_ext", "..", "."]  # fmt: skip


@pytest.mark.parametrize("value", USERS)
def test_an_account_is_split_into_domain_and_name_as_python_splits_it(value: str) -> None:
    """A wrong user.name is a wrong answer to "who ran it" in every hunt and rule."""
    record = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
              "SourceName": "Microsoft-Windows-Sysmon", "Image": "C:\\x.exe", "User": value}  # fmt: skip
    made, expected = both(record)
    assert made is not None, "the C path declined a plain Sysmon record"
    assert made == expected  # (the key order may differ between the paths: ADR 0020)


@pytest.mark.parametrize("value", PATHS)
def test_a_path_gives_the_file_fields_python_gives(value: str) -> None:
    record = {"EventID": 11, "Channel": "Microsoft-Windows-Sysmon/Operational",
              "SourceName": "Microsoft-Windows-Sysmon", "Image": "C:\\x.exe",
              "TargetFilename": value}  # fmt: skip
    made, expected = both(record)
    assert made is not None, "the C path declined a plain Sysmon record"
    assert made == expected


@pytest.mark.parametrize("value", [1234, True, ["CORP\\a"], {"a": 1}, None])
def test_a_value_that_is_not_text_gets_what_the_python_step_makes_of_it(value: Any) -> None:
    """The C step hands such a value to the Python step (or the line to Python): the same
    event, or the same refusal, either way."""
    for record in (
        {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "User": value},
        {"EventID": 11, "Channel": "Microsoft-Windows-Sysmon/Operational",
         "TargetFilename": value},
    ):  # fmt: skip
        made, expected = both(record)
        if made is not None:
            assert made == expected
