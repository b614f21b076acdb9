"""``tether audit``: who else could drive the apps found here, as a table or JSON, with an exit
status a CI job or a lab admin can gate on."""

from __future__ import annotations

from typing import Annotated

import typer

from . import render
from .command import JsonOpt, SshConfigOpt
from .hosts import DEFAULT_PARALLEL, HostsFileOpt, ParallelOpt

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
            help="Audit this host instead of this machine: ssh://[USER@]HOST[:PORT] has its socket "
            "table read over OpenSSH, another name its apps' default ports probed from here (repeatable).",
        ),
    ] = None,
    hosts_file: HostsFileOpt = None,
    parallel: ParallelOpt = DEFAULT_PARALLEL,
    timeout: Annotated[float, typer.Option("--timeout", "-t", help="Deadline in seconds per probe.")] = 1.0,
    ssh_config: SshConfigOpt = None,
) -> None:
    """Report who else could drive the apps found here: each finding with its severity, evidence and fix.

    Evidence: the bind address, the app's own settings, the process's command line, read-only requests.

    Nothing is sent beyond each app's safe probe and read-only requests.

    Exit codes: 0 nothing at or above --fail-on (default critical); 7 a finding at or above it; 2 bad input;
    with several hosts, a host that could not be audited is listed with its error and exits with its code
    (4 unreachable) unless a finding makes it 7.
    """
    from ..audit import SEVERITIES
    from ..audit import audit as run_audit
    from ..errors import UsageError

    if fail_on not in SEVERITIES:
        raise UsageError(f"--fail-on must be one of {', '.join(SEVERITIES)}, not {fail_on!r}")
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    from .. import fleet

    hosts = fleet.hosts_from(host, hosts_file)
    failed: list = []
    with render.progress("auditing", enabled=not json_):
        if len(hosts) > 1 or hosts_file:
            results = fleet.audit(
                hosts, timeout=timeout, parallel=fleet.check_parallel(parallel), ssh_config=ssh_config
            )
            findings = [f for r in results if r.ok for f in r.value]
            failed = [r for r in results if not r.ok]
        else:
            findings = run_audit(hosts or None, timeout=timeout, ssh_config=ssh_config)
    if json_:
        render.print_json([*(f.to_dict() for f in findings), *(r.error_row() for r in failed)])
    else:
        rows = []
        for f in findings:
            row = f.to_dict()
            row["address"] = f"{f.host}:{f.port}" if f.port is not None else f.host
            row["app"] = f.app or "?"
            rows.append(row)
        for r in failed:  # a host that could not be audited is a row too, its error the finding
            rows.append({"severity": "error", "address": r.host, "finding": r.error.message, "app": "-"})
        render.table(rows, COLUMNS, empty="no findings")
        if findings:
            counts = {s: sum(f.severity == s for f in findings) for s in reversed(SEVERITIES)}
            render.note(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    if any(f.at_least(fail_on) for f in findings):
        raise typer.Exit(EXIT_FINDINGS)
    if failed:
        raise typer.Exit(fleet.exit_code(failed))
