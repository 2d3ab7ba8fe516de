"""The ``maat`` command line (Typer + Rich): thin commands over services."""
