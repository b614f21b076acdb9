"""Options and helpers shared by every adapter's commands (``--host --port --timeout --json``).

An adapter command looks like::

    @app.command()
    def goto(locus: str, host: HostOpt = None, port: PortOpt = None,
             timeout: TimeoutOpt = 10.0, json_: JsonOpt = False):
        client = connect_client("igv", host, port, timeout=timeout)
        render.emit(client.goto(locus), as_json=json_)

Errors are not caught here: they propagate to ``tether.cli.main``, the one place that
maps them to exit codes and prints them.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

HostOpt = Annotated[
    str | None,
    typer.Option(
        "--host", help="Host of the app (default: this machine). A remote host only when named here."
    ),
]
PortOpt = Annotated[
    int | None, typer.Option("--port", "-p", help="Port of the app (skips the scan, never the probe).")
]
TimeoutOpt = Annotated[float, typer.Option("--timeout", "-t", help="Deadline in seconds for the command.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def find_endpoint(app: str, host: str | None, port: int | None, timeout: float = 2.0):
    from ..api import find

    return find(app, host, port, timeout=min(timeout, 5.0))


def connect_client(
    app: str, host: str | None, port: int | None, *, probe_timeout: float = 2.0, **options: Any
):
    """The adapter's client for ``app`` (found, or verified at ``host``/``port``).

    ``probe_timeout`` bounds discovery; ``options`` (a client's own ``timeout`` among them)
    go to the client.
    """
    from .. import registry

    return registry.get(app).attach(host, port, timeout=min(probe_timeout, 5.0), **options)


def status_command(app: str):
    """A ready-made ``status`` command: what was found where, or exit 3 naming the ports looked at."""

    def status(
        host: HostOpt = None, port: PortOpt = None, timeout: TimeoutOpt = 2.0, json_: JsonOpt = False
    ) -> None:
        from . import render

        ep = find_endpoint(app, host, port, timeout)
        render.emit(
            ep,
            as_json=json_,
            columns=["app", "version", "host", "port", "pid", "process", "confidence"],
        )

    status.__doc__ = f"Show the {app} instance tether finds (version, port, pid), or exit 3."
    return status
