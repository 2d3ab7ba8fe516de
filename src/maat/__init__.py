"""Maat: one trust graph against software-supply-chain intrusions."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("maat")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
