"""The CLI side of fleets (:mod:`tether.fleet`): the ``--host``/``--hosts``/``--parallel`` options
of ``scan``, ``audit``, ``status`` and ``wait``, and the one listing of every host's rows."""

from __future__ import annotations

from typing import Annotated

import typer

from . import render

#: hosts reached at once by default (tether.fleet.DEFAULT_PARALLEL, not imported: --help stays light)
DEFAULT_PARALLEL = 16

FleetHostOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--host",
        help="A machine to look at instead of this one: ssh://[USER@]HOST[:PORT] over OpenSSH, or localhost "
        "(repeatable: the hosts in parallel, one table with a HOST column).",
    ),
]
HostsFileOpt = Annotated[
    str | None,
    typer.Option("--hosts", metavar="FILE", help="Also the hosts in FILE: one host a line, # comments."),
]
ParallelOpt = Annotated[
    int, typer.Option("--parallel", help="Hosts reached at once (each with its own deadline).")
]

#: the columns of one instance per host (``wait`` and ``status`` over several hosts)
STATUS_COLUMNS = [
    ("app_title", "APP"),
    ("version", "VERSION"),
    ("port", "PORT"),
    ("pid", "PID"),
    ("process", "PROCESS"),
    ("confidence", "CONFIDENCE"),
]


def status_rows(eps) -> list[dict]:
    return [{**e.to_dict(), "app_title": e.title or "?"} for e in eps]


def fleet_out(results, rows_of, columns, json_: bool, *, empty: str) -> None:
    """One listing of every host's rows, a failed host's error among them; exit with the first
    failed host's code (an unreachable one: 4) once all are printed."""
    from .. import fleet

    if json_:
        out: list = []
        for r in results:  # in host order: a failed host's row where its endpoints would be
            out += [e.to_dict() for e in fleet.endpoints([r])] if r.ok else [r.error_row()]
        render.print_json(out)
        for r in results:  # and for the person watching: each failed host on stderr, as before
            if not r.ok:
                render.note(f"{r.host}: {r.error.message}")
    else:
        rows = rows_of(fleet.endpoints(results))
        failed = [r for r in results if not r.ok]
        for r in failed:
            rows.append({"host": r.host, "error": f"{type(r.error).__name__}: {r.error.message}"})
        if failed:
            columns = [*columns, ("error", "ERROR")]
        render.table(rows, columns, empty=empty)
    code = fleet.exit_code(results)
    if code:
        raise typer.Exit(code)
