"""`tether qserver …`: commands for the Bluesky HTTP Server. Thin: parse, call the client, render."""

from __future__ import annotations

import typer

from tether.cli.common import status_command

app = typer.Typer(no_args_is_help=True, help="Drive the Bluesky HTTP Server.")
app.command("status")(status_command("qserver"))
