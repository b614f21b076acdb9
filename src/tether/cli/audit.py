"""``tether audit``: who else could drive the apps found here, as a table or JSON, with an exit
status a CI job or a lab admin can gate on."""

from __future__ import annotations

from typing import Annotated

import typer

from . import render
from .command import JsonOpt

#: the exit status when a finding at or above ``--fail-on`` exists
EXIT_FINDINGS = 7

COLUMNS = [
    ("severity", "SEVERITY"),
    ("app", "APP"),
    ("address", "ADDRESS"),
    ("pid", "PID"),
    ("finding", "FINDING"),
    ("evidence", "EVIDENCE"),
    ("fix", "FIX"),
]


def audit(
    json_: JsonOpt = False,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            metavar="info|warning|critical",
            help=f"Exit {EXIT_FINDINGS} when a finding is at least this severe.",
        ),
    ] = "critical",
    host: Annotated[
        list[str] | None,
        typer.Option(
            "--host",
            help="Audit this host instead of this machine: its apps' default ports are probed from here "
            "(repeatable).",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", "-t", help="Deadline in seconds per probe.")] = 1.0,
) -> None:
    """Report who else could drive the apps found here: each finding with its severity, evidence and fix.

    Evidence: the bind address, the app's own settings, the process's command line, read-only requests.

    Nothing is sent beyond each app's safe probe and read-only requests.

    Exit codes: 0 nothing at or above --fail-on (default critical); 7 a finding at or above it; 2 bad input.
    """
    from ..audit import SEVERITIES
    from ..audit import audit as run_audit
    from ..errors import UsageError

    if fail_on not in SEVERITIES:
        raise UsageError(f"--fail-on must be one of {', '.join(SEVERITIES)}, not {fail_on!r}")
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    with render.progress("auditing", enabled=not json_):
        findings = run_audit(host or None, timeout=timeout)
    if json_:
        render.print_json(findings)
    else:
        rows = []
        for f in findings:
            row = f.to_dict()
            row["address"] = f"{f.host}:{f.port}" if f.port is not None else f.host
            row["app"] = f.app or "?"
            rows.append(row)
        render.table(rows, COLUMNS, empty="no findings")
        if findings:
            counts = {s: sum(f.severity == s for f in findings) for s in reversed(SEVERITIES)}
            render.note(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    if any(f.at_least(fail_on) for f in findings):
        raise typer.Exit(EXIT_FINDINGS)
