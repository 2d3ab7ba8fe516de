"""One exception hierarchy: every error class Maat defines is a MaatError with diagnostics."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from types import ModuleType
from typing import Any

import pytest

import maat
from maat.errors import InvalidInput, MaatError, RateLimited

# Required keyword arguments beyond ``message`` that some errors take.
EXTRA_ARGUMENTS: dict[str, Any] = {"retry_after": 1}


def _import_all() -> tuple[list[ModuleType], list[str]]:
    """Import every module of the package; failures are collected, never skipped."""
    failures: list[str] = []

    def onerror(name: str) -> None:
        failures.append(f"{name}: package could not be walked")

    modules = [maat]
    saved_argv = sys.argv
    # A module that runs code on import (e.g. an unguarded __main__) must only see a
    # harmless command line; its import is still reported as a failure below.
    sys.argv = ["maat", "--help"]
    try:
        for info in pkgutil.walk_packages(maat.__path__, prefix="maat.", onerror=onerror):
            try:
                modules.append(importlib.import_module(info.name))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # SystemExit on import is a finding too
                failures.append(f"{info.name}: {type(exc).__name__}: {exc}")
    finally:
        sys.argv = saved_argv
    return modules, failures


MODULES, IMPORT_FAILURES = _import_all()


def _defined_exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in MODULES:
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


EXCEPTIONS = _defined_exception_classes()


def _maat_error_classes() -> list[type[MaatError]]:
    seen: set[type[MaatError]] = set()
    stack: list[type[MaatError]] = [MaatError]
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.add(cls)
            stack.extend(cls.__subclasses__())
    seen.update(c for c in EXCEPTIONS if isinstance(c, type) and issubclass(c, MaatError))
    seen = {c for c in seen if c.__module__.split(".")[0] == "maat"}
    return sorted(seen, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _construct(cls: type[MaatError], message: str) -> MaatError:
    kwargs: dict[str, Any] = {}
    parameters = list(inspect.signature(cls).parameters.values())
    for parameter in parameters[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is parameter.empty:
            assert parameter.name in EXTRA_ARGUMENTS, (
                f"{cls.__qualname__} needs {parameter.name!r}: add a sample to EXTRA_ARGUMENTS"
            )
            kwargs[parameter.name] = EXTRA_ARGUMENTS[parameter.name]
    return cls(message, **kwargs)


def test_every_maat_module_imports_without_side_effects() -> None:
    assert not IMPORT_FAILURES, "modules that cannot be imported:\n" + "\n".join(IMPORT_FAILURES)
    names = {m.__name__ for m in MODULES}
    assert {"maat.errors", "maat.config", "maat.auth.totp", "maat.audit.chain"} <= names


def test_exception_classes_are_collected() -> None:
    names = {c.__qualname__ for c in EXCEPTIONS}
    assert {"MaatError", "InvalidInput", "RateLimited"} <= names


@pytest.mark.parametrize(
    "cls", [c for c in EXCEPTIONS if not issubclass(c, Warning)], ids=lambda c: c.__qualname__
)
def test_every_error_class_derives_from_maat_error(cls: type[BaseException]) -> None:
    # Boundaries catch MaatError once; an error class outside the tree would escape as a 500.
    assert issubclass(cls, MaatError), f"{cls.__module__}.{cls.__qualname__} is not a MaatError"


@pytest.mark.parametrize(
    "cls", [c for c in EXCEPTIONS if issubclass(c, Warning)], ids=lambda c: c.__qualname__
)
def test_warning_categories_are_warnings_not_errors(cls: type[BaseException]) -> None:
    # Warning categories are issued with warnings.warn, never raised as errors; they are the
    # only BaseException subclasses allowed outside MaatError.
    assert issubclass(cls, UserWarning)
    assert not issubclass(cls, MaatError)


@pytest.mark.parametrize("cls", _maat_error_classes(), ids=lambda c: c.__qualname__)
def test_every_maat_error_constructs_and_diagnoses_with_its_message(
    cls: type[MaatError],
) -> None:
    message = f"something specific went wrong in {cls.__qualname__}"
    error = _construct(cls, message)
    assert error.message == message
    assert str(error) == message
    text = error.diagnostics()
    assert isinstance(text, str)
    assert text.strip()
    assert message in text
    assert 400 <= cls.status <= 599
    assert cls.slug


@pytest.mark.parametrize("cls", _maat_error_classes(), ids=lambda c: c.__qualname__)
def test_every_maat_error_diagnostics_include_the_hint(cls: type[MaatError]) -> None:
    error = _construct(cls, "failed")
    error.hint = "do this instead"
    assert "do this instead" in error.diagnostics()


def test_invalid_input_diagnostics_say_file_line_and_field() -> None:
    text = InvalidInput("bad value", file="a.yaml", line=3, field="x").diagnostics()
    assert "a.yaml:3" in text
    assert "'x'" in text
    assert "bad value" in text


def test_invalid_input_without_location_still_diagnoses() -> None:
    assert "bad" in InvalidInput("bad").diagnostics()
    assert "line 4" in InvalidInput("bad", line=4).diagnostics()


def test_rate_limited_carries_retry_after() -> None:
    assert RateLimited("slow down", retry_after=7).retry_after == 7


def test_an_unsafe_option_is_named_every_time_it_is_used_not_once() -> None:
    """Python's default shows a warning once per place in the code: a second use of an
    insecure option from the same line would pass in silence."""
    import subprocess
    import sys

    code = (
        "from maat.errors import warn_unsafe\n"
        "def use():\n    warn_unsafe('unsafe_x', 'nothing is checked')\n"
        "for _ in range(3):\n    use()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stderr.count("unsafe_x is enabled") == 3
