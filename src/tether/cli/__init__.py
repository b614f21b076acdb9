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
    args = list(sys.argv[1:] if argv is None else argv)
    completing = _completing()
    plain = _plain_scan(args) if completing is None else None
    if plain is not None:
        return _scan_json(plain)

    import typer.main

    from .app import build_app
    from .command import exit_code

    # while completing, the whole app: click completes from every command of the named adapter
    command = root_command(args) if completing is None else typer.main.get_command(build_app(completing))
    try:
        result = command.main(args=args, prog_name="tether", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except BaseException as exc:  # every outcome becomes a documented exit code
        if isinstance(exc, SystemExit):
            raise
        return exit_code(exc, as_json="--json" in args)


#: ``scan --json``'s options the short path takes (what another machine's tether is asked over ssh)
_FLAGS = {"--json": "json", "--all": "include_unknown", "--no-probe": "no_probe", "--deep": "deep"}


def _plain_scan(args: list[str]) -> dict[str, Any] | None:
    """The options of ``tether scan --json`` given only ``--timeout``, ``--app``, ``--all``,
    ``--no-probe`` and ``--deep`` — the command a fleet scan runs on each host — else ``None``
    (everything else, ``--help`` and mistakes included, goes through typer). Such a scan needs
    no command line framework: it starts in about half the time (no typer, click or rich)."""
    if len(args) < 2 or args[0] != "scan":
        return None
    opts: dict[str, Any] = {"apps": [], "timeout": 1.0}
    words = iter(args[1:])
    for word in words:
        name, eq, value = word.partition("=")
        if word in _FLAGS:
            opts[_FLAGS[word]] = True
            continue
        if name not in ("--timeout", "-t", "--app", "-a") or (eq and name[1] != "-"):
            return None
        if not eq:
            value = next(words, None)
            if value is None:
                return None
        if name in ("--app", "-a"):
            opts["apps"].append(value)
            continue
        try:
            opts["timeout"] = float(value)
        except ValueError:
            return None
    return opts if opts.get("json") else None


def _scan_json(opts: dict[str, Any]) -> int:
    """``tether scan --json`` on this machine, as the typer command does it (same scan, same
    JSON, same exit codes)."""
    try:
        from ..api import scan
        from .render import print_json

        print_json(
            scan(
                opts["apps"] or None,
                probe=not opts.get("no_probe"),
                include_unknown=bool(opts.get("include_unknown")),
                deep=bool(opts.get("deep")),
                timeout=opts["timeout"],
            )
        )
        return 0
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        from .command import exit_code

        return exit_code(exc, as_json=True)


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
