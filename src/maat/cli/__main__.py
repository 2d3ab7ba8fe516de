"""``python -m maat.cli``."""

from maat.cli.main import run

if __name__ == "__main__":
    run()
