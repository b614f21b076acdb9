"""IPython/Jupyter: ``%load_ext tether`` gives a line magic per app and one for tether itself.

    %load_ext tether
    %igv goto chr1:1-100                 # what `tether igv goto chr1:1-100` does, output as text
    %firefox title --port 2828           # the CLI's options, --port included
    %qserver status
    %tether scan                         # scan, wait, doctor
    data = %firefox title --json         # with --json the magic returns the parsed data

Each magic runs the CLI's own command in the kernel (same options, same exit codes) with its
output captured as text; a failing command shows its message and exit code, never a traceback.
Pictures display through :class:`tether.image.PNG` (``PNG.read("snapshot.png")``).

Needs IPython (``pip install 'tether[jupyter]'``); imported only by ``%load_ext tether``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import sys
from typing import Any

FORCING_COLOR = ("FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def run_command(args: list[str]) -> tuple[int, str, str]:
    """Run ``tether ARGS`` in this process; returns (exit code, stdout, stderr)."""
    from .cli import run

    out, err = io.StringIO(), io.StringIO()
    # ipykernel sets FORCE_COLOR/CLICOLOR_FORCE for its own output: the captured text stays plain
    forced = {k: os.environ.pop(k) for k in FORCING_COLOR if k in os.environ}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = run(args)
            except SystemExit as exc:  # --help, --version and the like end with SystemExit in click
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.update(forced)
    return code, out.getvalue(), err.getvalue()


def magic(prefix: list[str]) -> Any:
    """The line magic for ``tether PREFIX …``."""

    def line_magic(line: str) -> Any:
        try:
            args = prefix + shlex.split(line)
        except ValueError as exc:  # an unclosed quote
            print(f"error: {exc}", file=sys.stderr)
            return None
        code, out, err = run_command(args)
        if code == 0 and "--json" in args and out.strip():
            try:
                return json.loads(out)
            except ValueError:
                pass  # a stream of JSON lines, or text: shown as it is
        if out:
            sys.stdout.write(out)
        if err:
            sys.stderr.write(err)
        if code != 0:
            sys.stderr.write(f"(tether {' '.join(args[:2])} exited {code})\n")
        return None

    line_magic.__name__ = "_".join(["tether", *prefix]) or "tether"
    line_magic.__doc__ = f"Run `tether {' '.join(prefix)} …` (the CLI's options; `--help` lists them)."
    return line_magic


def load(ipython: Any) -> None:
    """Register ``%tether`` and one line magic per adapter (``%igv``, ``%firefox``, ``%qserver`` …)."""
    from . import registry

    ipython.register_magic_function(magic([]), magic_kind="line", magic_name="tether")
    for adapter in registry.adapters():
        ipython.register_magic_function(magic([adapter.name]), magic_kind="line", magic_name=adapter.name)


__all__ = ["load", "magic", "run_command"]
