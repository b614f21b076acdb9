"""The ``tether`` command. Parse, call the library, render; errors become exit codes in one
place (:func:`tether.cli.command.exit_code`)."""

from __future__ import annotations

import sys
from typing import Any


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tether`` script: run the CLI and exit with the documented code."""
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code."""
    import typer.main

    from .app import build_app
    from .command import exit_code

    args = list(sys.argv[1:] if argv is None else argv)
    completing = _completing()
    # while completing, the whole app: click completes from every command of the named adapter
    command = root_command(args) if completing is None else typer.main.get_command(build_app(completing))
    try:
        result = command.main(args=args, prog_name="tether", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except BaseException as exc:  # every outcome becomes a documented exit code
        if isinstance(exc, SystemExit):
            raise
        return exit_code(exc, as_json="--json" in args)


def root_command(words: list[str]) -> Any:
    """The click command ``tether`` runs for ``words`` (its arguments): built with the named
    adapter's commands only, and only the commands the words name (see ``app.narrowed``). A new
    one each call: typer's command wrappers keep per-call state."""
    import typer.main

    from .app import build_app, narrowed

    return typer.main.get_command(narrowed(build_app(words), words))


def _completing() -> list[str] | None:
    """The words typed so far when the shell asks for completions (``_TETHER_COMPLETE`` set by the
    script ``--install-completion`` installs), so that the adapter named there has its commands
    loaded; ``None`` otherwise. bash passes ``COMP_WORDS``; zsh and fish ``_TYPER_COMPLETE_ARGS``."""
    import os

    if not os.environ.get("_TETHER_COMPLETE"):
        return None
    words = (os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS") or "").split()
    return words[1:]
