"""State shared by CLI commands: global options, settings, the platform."""

from __future__ import annotations

import getpass
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from maat.config import Settings
from maat.services.platform import Platform


@dataclass
class CliState:
    """Global options of one ``maat`` invocation."""

    verbose: bool = False
    config_file: Path | None = None

    def settings(self) -> Settings:
        """Settings from the TOML file and the environment."""
        return Settings.load(config_file=self.config_file)

    @property
    def actor(self) -> str:
        """How the audit log names the person at the terminal."""
        try:
            return f"cli:{getpass.getuser()}"
        except (KeyError, OSError):  # no passwd entry (containers)
            return "cli:unknown"

    @contextmanager
    def platform(self) -> Iterator[Platform]:
        """The opened platform, schema checked, closed afterwards."""
        platform = Platform.open(self.settings())
        try:
            platform.store.check_schema()
            yield platform
        finally:
            platform.close()


def console(*, stderr: bool = False) -> Console:
    """A Rich console; wide when output goes to a file or pipe, so tables do not wrap ids."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 200
    return Console(stderr=stderr, soft_wrap=True, width=width)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: object) -> str:
    """Data printed without Rich: control characters (terminal escape sequences) replaced."""
    return _CONTROL.sub("?", str(text))


def shown(text: object) -> str:
    """Data (a rule title, a vendor name, an indicator id) made safe to print: Rich markup
    escaped, control characters (terminal escape sequences) replaced."""
    return escape(_CONTROL.sub("?", str(text)))
