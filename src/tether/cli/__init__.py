"""The ``tether`` command. Parse, call the library, render; exit codes are mapped in one place
(:func:`tether.cli.command.run`)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tether`` script: run the CLI and exit with the documented code."""
    from .command import run

    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code (see :func:`tether.cli.command.run`)."""
    from .command import run as run_cli

    return run_cli(argv)
