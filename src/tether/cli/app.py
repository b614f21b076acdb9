"""The root typer app: ``scan``, ``doctor``, ``--version``, and each adapter's sub-app."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from . import render
from .audit import audit
from .command import JsonOpt, PortOpt, SshConfigOpt
from .hosts import (
    DEFAULT_PARALLEL,
    STATUS_COLUMNS,
    FleetHostOpt,
    HostsFileOpt,
    ParallelOpt,
    fleet_out,
    status_rows,
)

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
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", "-w", help="Keep scanning: a live table, or one JSON event a line with --json."
        ),
    ] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between scans with --watch.")] = 1.0,
    for_: Annotated[
        float | None, typer.Option("--for", help="Stop watching after this many seconds (default: Ctrl-C).")
    ] = None,
    host: FleetHostOpt = None,
    hosts_file: HostsFileOpt = None,
    parallel: ParallelOpt = DEFAULT_PARALLEL,
    ssh_config: SshConfigOpt = None,
) -> None:
    """List the apps listening on this machine's ports, each proved by its own protocol.

    With --host (repeatable) or --hosts FILE: those machines, in parallel, in one table with a HOST
    column; a host that fails is listed with its error (exit 4 when unreachable), the others still."""
    from ..api import scan as do_scan

    hosts: list[str] = []
    if host or hosts_file:  # (tether.fleet loads for a fleet only: a plain scan stays light)
        from .. import fleet

        hosts = fleet.hosts_from(host, hosts_file)
    if watch:
        if hosts:
            from ..errors import UsageError

            raise UsageError("scan --watch watches this machine; --host is not supported with it")
        options = {"probe": not no_probe, "include_unknown": all_, "deep": deep, "timeout": timeout}
        _watch(app, options, interval, for_, json_)
        return
    opts = {"probe": not no_probe, "include_unknown": all_, "deep": deep, "timeout": timeout}
    if not hosts:
        with render.progress("scanning", enabled=not json_):
            eps = do_scan(app or None, **opts)
        if json_:
            render.print_json(eps)
        else:
            render.table(_scan_rows(eps), SCAN_COLUMNS, empty="no known app is listening (try --all)")
        return
    from .. import fleet

    fleet.check_parallel(parallel)
    with render.progress(f"scanning {len(hosts)} host(s)", enabled=not json_):
        results = fleet.scan(hosts, app or None, parallel=parallel, ssh_config=ssh_config, **opts)
    if len(results) == 1 and results[0].error is not None:
        raise results[0].error  # one host, and it failed: its error is the result
    fleet_out(
        results, _scan_rows, [("host", "HOST"), *SCAN_COLUMNS], json_, empty="no known app is listening"
    )


def _scan_rows(eps) -> list[dict]:
    rows = []
    for e in eps:
        row = e.to_dict()
        row["app_title"] = e.title or "?"
        row["bind"] = f"{e.bind} ({row['scope']})" if e.bind else "-"
        rows.append(row)
    return rows


def _watch(apps, options: dict, interval: float, duration: float | None, json_: bool) -> None:
    """``scan --watch``: NDJSON events with ``--json``; a live table on a terminal; else event lines."""
    from ..errors import UsageError
    from ..watch import Watcher, poll_every

    if duration is not None and duration <= 0:
        raise UsageError(f"--for must be positive, not {duration:g}")
    watcher = Watcher(apps or None, **options)
    with render.live(enabled=not json_) as view:
        for events in poll_every(watcher, interval=interval, duration=duration):
            if view is not None:
                eps = sorted(watcher.endpoints, key=lambda e: (e.app or "~", e.port))
                view.update(
                    render.renderable_table(_scan_rows(eps), SCAN_COLUMNS, empty="no known app is listening")
                )
                continue
            for event in events:
                if json_:
                    render.json_line(event)
                else:
                    ep = event.endpoint
                    render.line(
                        f"{event.kind:8} {ep.title or '?'} {ep.address} {ep.confidence}"
                        + (f" pid {ep.pid}" if ep.pid else "")
                    )


def _complete_app(incomplete: str) -> list[tuple[str, str]]:
    """Shell completion of an app name: the adapters tether has."""
    try:
        from .. import registry

        return [(a.name, a.title) for a in registry.adapters() if a.name.startswith(incomplete)]
    except Exception:
        return []


def wait(
    app: Annotated[
        str,
        typer.Argument(help="The app to wait for (igv, firefox, qserver …).", autocompletion=_complete_app),
    ],
    host: Annotated[
        list[str] | None,
        typer.Option(
            "--host",
            help="Host of the app (default: this machine); ssh://[USER@]HOST[:PORT] reaches it over OpenSSH "
            "(repeatable: wait on every host, in parallel, each with its own --timeout).",
        ),
    ] = None,
    port: PortOpt = None,
    timeout: Annotated[
        float, typer.Option("--timeout", "-t", help="Give up (exit 4) after this many seconds.")
    ] = 30.0,
    json_: JsonOpt = False,
    hosts_file: HostsFileOpt = None,
    parallel: ParallelOpt = DEFAULT_PARALLEL,
    ssh_config: SshConfigOpt = None,
) -> None:
    """Wait until APP answers as itself; exit 0 at once, 4 at the deadline. For scripts and CI jobs."""
    import time

    from .. import fleet
    from ..watch import wait as do_wait

    hosts = fleet.hosts_from(host, hosts_file)
    if len(hosts) > 1 or hosts_file:
        with render.progress(f"waiting for {app} on {len(hosts)} host(s)", enabled=not json_):
            results = fleet.wait(
                app,
                hosts,
                port,
                timeout=timeout,
                parallel=fleet.check_parallel(parallel),
                ssh_config=ssh_config,
            )
        fleet_out(results, status_rows, [("host", "HOST"), *STATUS_COLUMNS], json_, empty="no host")
        return
    started = time.monotonic()
    with render.progress(f"waiting for {app}", enabled=not json_) as bar:

        def attempt(n: int, exc: Exception) -> None:
            bar.update(description=f"waiting for {app} (attempt {n}: {getattr(exc, 'message', exc)})")

        ep = do_wait(
            app, hosts[0] if hosts else None, port, timeout=timeout, on_attempt=attempt, ssh_config=ssh_config
        )
    if json_:
        render.print_json(ep)
        return
    took = time.monotonic() - started
    render.line(
        f"{ep.title} {ep.version or ''} ready at {ep.address}".replace("  ", " ")
        + (f" (pid {ep.pid})" if ep.pid else "")
        + f" after {took:.1f} s"
    )


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
    for name, why in registry.disabled_adapters().items():
        origin = registry.distribution(name)
        adapters.append(
            {
                "adapter": name,
                "distribution": f"{origin['distribution'] or '?'} {origin['version'] or ''}".strip(),
                "bundled": origin["bundled"],
                "state": "disabled",
                "problems": [f"disabled by {why}"],
                "default_ports": [],
                "found": [],
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
        [
            {
                **a,
                "found": a["found"] or ("-" if a["state"] == "disabled" else "not found"),
                "problems": a["problems"] or "-",
            }
            for a in adapters
        ],
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


def _disabled(name: str, why: str):
    """The command standing in for disabled adapter ``name``: any words, exit 2 saying why."""

    def disabled(ctx: typer.Context) -> None:
        from .. import registry

        raise registry.disabled_error(name, why)

    return disabled


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
        "4 unreachable/busy/timed out, 5 auth or permission failure, 6 another app answers on that port, "
        "7 tether audit found something at or above --fail-on.",
        no_args_is_help=True,
        add_completion=True,
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
    app.command("wait")(wait)
    app.command("doctor")(doctor)
    app.command("audit")(audit)
    app.command("mcp")(mcp)
    for name, why in registry.disabled_adapters().items():  # says it is disabled, not "No such command"
        app.command(
            name,
            help=f"(disabled by {why})",
            add_help_option=False,
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        )(_disabled(name, why))
    for adapter in registry.adapters():
        help_text = adapter.description or f"Drive {adapter.title}."
        if wanted not in ("*", adapter.name):
            app.add_typer(typer.Typer(), name=adapter.name, help=help_text)
            continue
        try:
            sub = adapter.cli()
        except Exception as exc:  # a broken adapter CLI must not take the others down
            sub = None
            if not os.environ.get("_TETHER_COMPLETE"):  # never into the shell's line while completing
                render.note(f"warning: the {adapter.name} adapter's commands failed to load: {exc}")
        if sub is not None:
            app.add_typer(sub, name=adapter.name, help=help_text)
    return app


def _command_name(info: typer.models.CommandInfo) -> str | None:
    if info.name:
        return info.name
    callback = info.callback
    return callback.__name__.lower().replace("_", "-") if callback is not None else None


def narrowed(app: typer.Typer, words: list[str], *, top: bool = True) -> typer.Typer:
    """``app`` keeping, at each level, only the commands and groups that ``words`` name.

    typer turns every registered command into a click command (its parameters, their types,
    its help) before it runs one: for an adapter of thirty commands that is most of a
    one-shot command's start-up. ``tether igv goto …`` needs the ``goto`` command only.
    A level where no word names a command (``tether igv --help``, a typo) keeps all of them,
    so help lists them and click's "No such command" suggests them; a word that is an option's
    value and a command's name keeps that command too — never fewer than the command line
    needs. A copy: the adapter's own typer apps are left whole.
    """
    import copy

    names = set(words)
    commands = [c for c in app.registered_commands if _command_name(c) in names]
    groups = [g for g in app.registered_groups if g.name in names]
    if not commands and not groups:
        return app
    if any(_command_name(c) is None for c in app.registered_commands) or any(
        g.name is None for g in app.registered_groups
    ):
        return app  # a name typer resolves some other way: keep everything
    if top and not (app.registered_callback or app.info.callback or groups) and len(commands) == 1:
        return app  # typer would run a lone top-level command as the whole program: keep a group
    out = copy.copy(app)
    out.registered_commands = commands
    out.registered_groups = []
    for group in groups:
        group = copy.copy(group)
        if group.typer_instance is not None:
            group.typer_instance = narrowed(group.typer_instance, words, top=False)
        out.registered_groups.append(group)
    return out
