"""The root typer app: ``scan``, ``doctor``, ``--version``, and each adapter's sub-app."""

from __future__ import annotations

from typing import Annotated

import typer

from . import render
from .command import JsonOpt, SshConfigOpt

TimeoutOpt = Annotated[float, typer.Option("--timeout", "-t", help="Deadline in seconds per probe.")]

SCAN_COLUMNS = [
    ("app_title", "APP"),
    ("version", "VERSION"),
    ("port", "PORT"),
    ("bind", "BIND"),
    ("pid", "PID"),
    ("process", "PROCESS"),
    ("confidence", "CONFIDENCE"),
]


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        render.line(f"tether {__version__}")
        raise typer.Exit(0)


def scan(
    json_: JsonOpt = False,
    all_: Annotated[bool, typer.Option("--all", help="Also list listeners no adapter claims.")] = False,
    no_probe: Annotated[
        bool, typer.Option("--no-probe", help="Passive: report hints only, send nothing.")
    ] = False,
    deep: Annotated[
        bool, typer.Option("--deep", help="Also read a banner (sending nothing) from every other listener.")
    ] = False,
    app: Annotated[
        list[str] | None, typer.Option("--app", "-a", help="Only these adapters (repeatable).")
    ] = None,
    timeout: TimeoutOpt = 1.0,
    host: Annotated[
        list[str] | None,
        typer.Option(
            "--host",
            help="Scan this machine over OpenSSH: ssh://[USER@]HOST[:PORT] (repeatable: in parallel).",
        ),
    ] = None,
    ssh_config: SshConfigOpt = None,
) -> None:
    """List the apps listening on this machine's ports, each proved by its own protocol."""
    from ..api import scan as do_scan
    from ..api import scan_hosts

    errors: list = []
    with render.progress("scanning", enabled=not json_):
        opts = {"probe": not no_probe, "include_unknown": all_, "deep": deep, "timeout": timeout}
        if host:
            eps, errors = scan_hosts(host, app or None, ssh_config=ssh_config, **opts)
            if errors and len(errors) == len(set(host)):
                raise errors[0][1]  # nothing scanned: the error is the result
        else:
            eps = do_scan(app or None, **opts)
    for where, exc in errors:  # some hosts failed: their rows are missing, the exit code says so
        render.note(f"{where}: {exc.message}")
    if json_:
        render.print_json(eps)
    else:
        rows = []
        for e in eps:
            row = e.to_dict()
            row["app_title"] = e.title or "?"
            row["bind"] = f"{e.bind} ({row['scope']})" if e.bind else "-"
            rows.append(row)
        columns = [("host", "HOST"), *SCAN_COLUMNS] if host else SCAN_COLUMNS
        render.table(rows, columns, empty="no known app is listening (try --all)")
    if errors:
        raise typer.Exit(errors[0][1].exit_code)


def doctor(json_: JsonOpt = False, timeout: TimeoutOpt = 1.0) -> None:
    """Check adapters, socket-listing permissions, and which apps are found."""
    from .. import registry
    from ..api import scan as do_scan
    from ..discovery import list_listeners

    disc = list_listeners()
    eps = do_scan(discovery=disc, timeout=timeout)
    adapters = []
    for a in registry.adapters():
        problems = a.check()
        found = [e for e in eps if e.app == a.name]
        unavailable = isinstance(a, registry.UnavailableAdapter)
        origin = registry.distribution(a.name)
        adapters.append(
            {
                "adapter": a.name,
                "distribution": f"{origin['distribution'] or '?'} {origin['version'] or ''}".strip(),
                "bundled": origin["bundled"],
                "state": "unavailable" if unavailable else ("ok" if not problems else "degraded"),
                "problems": problems,
                "default_ports": list(a.default_ports),
                "found": [
                    f"{e.address} {e.confidence}" + (f" (pid {e.pid})" if e.pid else "") for e in found
                ],
            }
        )
    report = {
        "discovery": {
            "method": disc.method,
            "permission": disc.permission,
            "listeners": len(disc.listeners),
            "notes": disc.notes,
        },
        "adapters": adapters,
    }
    if json_:
        render.print_json(report)
        return
    d = report["discovery"]
    render.line(
        f"discovery: {d['method']}, permission {d['permission']}, {d['listeners']} listening socket(s)"
    )
    for n in d["notes"]:
        render.line(f"  note: {n}")
    render.table(
        [{**a, "found": a["found"] or "not found", "problems": a["problems"] or "-"} for a in adapters],
        [
            ("adapter", "ADAPTER"),
            ("distribution", "FROM"),
            ("state", "STATE"),
            ("default_ports", "DEFAULT PORTS"),
            ("found", "FOUND"),
            ("problems", "PROBLEMS"),
        ],
    )


def mcp(
    allow_destructive: Annotated[
        bool,
        typer.Option(
            "--allow-destructive",
            help="Allow the tools that stop or destroy something (igv exit, firefox quit, "
            "qserver env destroy …); refused otherwise.",
        ),
    ] = False,
) -> None:
    """Serve every tether command as a Model Context Protocol tool over stdio (for AI agents)."""
    from .mcp import serve

    serve(build_app(None), allow_destructive=allow_destructive)  # None: every adapter's commands


def build_app(args: list[str] | None = None) -> typer.Typer:
    """The root app with the adapters' sub-apps.

    Only the adapter named on the command line has its commands imported; the others are
    mounted as empty groups carrying their one-line help, so ``tether --help`` and
    ``tether scan`` do not pay for importing every adapter's CLI.
    """
    from .. import registry

    wanted = next((a for a in (args or []) if not a.startswith("-")), None) if args is not None else "*"

    app = typer.Typer(
        name="tether",
        help="Find the apps listening on this machine's ports and drive them through their own protocols.\n\n"
        "Exit codes: 0 done, 1 the app refused the command, 2 bad input (nothing sent), 3 not found, "
        "4 unreachable/busy/timed out, 5 auth or permission failure, 6 another app answers on that port.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def _root(
        version: Annotated[
            bool,
            typer.Option(
                "--version", callback=_version, is_eager=True, help="Print tether's version and exit."
            ),
        ] = False,
    ) -> None:
        """tether: detect, verify, drive."""

    app.command("scan")(scan)
    app.command("doctor")(doctor)
    app.command("mcp")(mcp)
    for adapter in registry.adapters():
        help_text = adapter.description or f"Drive {adapter.title}."
        if wanted not in ("*", adapter.name):
            app.add_typer(typer.Typer(), name=adapter.name, help=help_text)
            continue
        try:
            sub = adapter.cli()
        except Exception as exc:  # a broken adapter CLI must not take the others down
            sub = None
            render.note(f"warning: the {adapter.name} adapter's commands failed to load: {exc}")
        if sub is not None:
            app.add_typer(sub, name=adapter.name, help=help_text)
    return app
