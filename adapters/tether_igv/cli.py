"""`tether igv …`: commands for IGV. Thin: parse, call the client, render."""

from __future__ import annotations

import typer

from tether.cli.common import status_command

app = typer.Typer(no_args_is_help=True, help="Drive IGV.")
app.command("status")(status_command("igv"))
