"""The ``tether`` command. Parse, call the library, render; exit codes are mapped here, once."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tether`` script: run the CLI and exit with the documented code."""
    code = run(argv)
    sys.exit(code)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code (the one place errors become exit codes)."""
    import typer

    try:  # recent typer vendors click as typer._click; older ones use click itself
        from typer._click import exceptions as cx
    except ImportError:  # pragma: no cover
        from click import exceptions as cx

    from ..errors import TetherError
    from . import render
    from .app import build_app

    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    import typer.main

    command = typer.main.get_command(build_app(args))
    try:
        result = command.main(args=args, prog_name="tether", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except TetherError as exc:
        render.error(exc, as_json=as_json)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        render.note("aborted")
        return 130
    except cx.ClickException as exc:  # usage errors: unknown option, missing argument …
        exc.show()
        return 2
    except KeyboardInterrupt:
        render.note("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so in one line; TETHER_DEBUG=1 shows the traceback
        import os

        if os.environ.get("TETHER_DEBUG"):
            raise
        render.error(
            TetherError(
                f"internal error: {type(exc).__name__}: {exc}", hint="rerun with TETHER_DEBUG=1 and report it"
            ),
            as_json=as_json,
        )
        return 1
