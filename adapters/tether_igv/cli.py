"""`tether igv …`: commands for IGV. Thin: parse, call the client, render."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tether.cli import render
from tether.cli.common import HostOpt, JsonOpt, PortOpt, TimeoutOpt, find_endpoint, status_command

if TYPE_CHECKING:  # pragma: no cover
    from .client import IGVClient
    from .protocol import Reply

app = typer.Typer(no_args_is_help=True, help="Drive IGV.")
app.command("status")(status_command("igv"))

TrackArg = Annotated[str | None, typer.Argument(help="Track name (default: all tracks).")]


def _igv(host: str | None, port: int | None, timeout: float | None) -> IGVClient:
    """The verified IGV (scan, or probe of --host/--port), looked up only once the arguments passed
    their checks; ``--timeout`` overrides every deadline."""
    from .client import IGVClient

    probe = timeout if timeout is not None else 2.0
    return IGVClient.deferred(lambda: find_endpoint("igv", host, port, probe), timeout=timeout)


def _done(reply: Reply, json_: bool) -> None:
    render.emit(reply, as_json=json_, text=reply.text)


@app.command()
def goto(
    loci: Annotated[
        list[str], typer.Argument(help="chr:start-end, chr:pos or a gene name; several for a split view.")
    ],
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,  # type: ignore[assignment]
    json_: JsonOpt = False,
) -> None:
    """Go to one or several loci (checked against the loaded genome before sending)."""
    _done(_igv(host, port, timeout).goto(*loci), json_)


@app.command()
def load(
    files: Annotated[list[str], typer.Argument(help="Files or URLs (local paths are made absolute).")],
    index: Annotated[str | None, typer.Option("--index", help="Index file or URL.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Track name.")] = None,
    format_: Annotated[str | None, typer.Option("--format", help="File format (bam, bed, vcf …).")] = None,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,  # type: ignore[assignment]
    json_: JsonOpt = False,
) -> None:
    """Load data files or URLs as tracks."""
    _done(_igv(host, port, timeout).load(*files, index=index, name=name, format=format_), json_)


@app.command()
def genome(
    genome_: Annotated[str, typer.Argument(metavar="GENOME", help="Genome id (hg38) or FASTA/JSON path.")],
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,  # type: ignore[assignment]
    json_: JsonOpt = False,
) -> None:
    """Load a genome."""
    _done(_igv(host, port, timeout).genome(genome_), json_)


@app.command()
def new(
    host: HostOpt = None, port: PortOpt = None, timeout: TimeoutOpt = None, json_: JsonOpt = False
) -> None:  # type: ignore[assignment]
    """Unload every track (a new session)."""
    _done(_igv(host, port, timeout).new(), json_)


@app.command()
def region(
    locus: Annotated[str, typer.Argument(help="chr:start-end")],
    description: Annotated[str | None, typer.Argument(help="Description.")] = None,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,  # type: ignore[assignment]
    json_: JsonOpt = False,
) -> None:
    """Mark a region of interest."""
    _done(_igv(host, port, timeout).region(locus, description), json_)


@app.command()
def snapshot(
    file: Annotated[Path, typer.Argument(help="Output .png or .svg (its directory is set for you).")],
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,  # type: ignore[assignment]
    json_: JsonOpt = False,
) -> None:
    """Save a snapshot of the current view."""
    path = _igv(host, port, timeout).snapshot(file)
    render.emit(
        {"file": str(path), "bytes": path.stat().st_size if path.exists() else None},
        as_json=json_,
        text=str(path),
    )


def _track_command(verb: str, doc: str) -> None:
    def command(
        track: TrackArg = None,
        host: HostOpt = None,
        port: PortOpt = None,
        timeout: TimeoutOpt = None,  # type: ignore[assignment]
        json_: JsonOpt = False,
    ) -> None:
        _done(getattr(_igv(host, port, timeout), verb)(track), json_)

    command.__doc__ = doc
    app.command(verb)(command)


_track_command("collapse", "Collapse a track (all tracks by default).")
_track_command("expand", "Expand a track (all tracks by default).")
_track_command("squish", "Squish a track (all tracks by default).")


@app.command()
def sort(
    option: Annotated[
        str, typer.Argument(help="base, strand, quality, sample, readGroup, insertSize, tag …")
    ],
    locus: Annotated[str | None, typer.Argument(help="Where to sort (default: the centre).")] = None,
    reverse: Annotated[bool, typer.Option("--reverse", help="Reverse the order.")] = False,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,  # type: ignore[assignment]
    json_: JsonOpt = False,
) -> None:
    """Sort alignments."""
    _done(_igv(host, port, timeout).sort(option, locus, reverse=reverse), json_)


@app.command()
def group(
    option: Annotated[str, typer.Argument(help="strand, sample, library, read_group, tag, base_at_pos …")],
    value: Annotated[str | None, typer.Argument(help="The tag, or chr:pos for base_at_pos.")] = None,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,  # type: ignore[assignment]
    json_: JsonOpt = False,
) -> None:
    """Group alignments."""
    _done(_igv(host, port, timeout).group(option, value), json_)


@app.command("color-by")
def color_by(
    option: Annotated[str, typer.Argument(help="read_strand, insert_size, pair_orientation, tag …")],
    tag: Annotated[str | None, typer.Argument(help="The tag, for 'tag'.")] = None,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,  # type: ignore[assignment]
    json_: JsonOpt = False,
) -> None:
    """Colour alignments."""
    _done(_igv(host, port, timeout).color_by(option, tag), json_)


@app.command("view-as-pairs")
def view_as_pairs(
    track: TrackArg = None,
    off: Annotated[bool, typer.Option("--off", help="Turn pair view off.")] = False,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,  # type: ignore[assignment]
    json_: JsonOpt = False,
) -> None:
    """Show paired reads as pairs."""
    _done(_igv(host, port, timeout).view_as_pairs(not off, track), json_)


@app.command()
def preference(
    key: str,
    value: str,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,  # type: ignore[assignment]
    json_: JsonOpt = False,
) -> None:
    """Override a preference for this IGV session."""
    _done(_igv(host, port, timeout).preference(key, value), json_)


@app.command("max-panel-height")
def max_panel_height(
    height: int,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,
    json_: JsonOpt = False,  # type: ignore[assignment]
) -> None:
    """Maximum track-panel height in snapshots (-1: the visible area)."""
    _done(_igv(host, port, timeout).max_panel_height(height), json_)


@app.command("set-sleep-interval")
def set_sleep_interval(
    ms: int,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,
    json_: JsonOpt = False,  # type: ignore[assignment]
) -> None:
    """Milliseconds IGV sleeps after every later command (all clients)."""
    _done(_igv(host, port, timeout).set_sleep_interval(ms), json_)


@app.command()
def echo(
    text: Annotated[str | None, typer.Argument()] = None,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,  # type: ignore[assignment]
    json_: JsonOpt = False,
) -> None:
    """Ask IGV to echo (proves it is serving this client)."""
    answer = _igv(host, port, timeout).echo(text)
    render.emit({"echo": answer}, as_json=json_, text=answer)


@app.command()
def version(
    host: HostOpt = None, port: PortOpt = None, timeout: TimeoutOpt = None, json_: JsonOpt = False
) -> None:  # type: ignore[assignment]
    """IGV's version (from IGV, else from its jar or package)."""
    value = _igv(host, port, timeout).version()
    render.emit({"version": value}, as_json=json_, text=value or "unknown")


@app.command("current-genome")
def current_genome(
    host: HostOpt = None, port: PortOpt = None, timeout: TimeoutOpt = None, json_: JsonOpt = False
) -> None:  # type: ignore[assignment]
    """The genome IGV has loaded, and where tether learned it."""
    info = _igv(host, port, timeout).current_genome()
    text = f"{info['genome'] or 'unknown'}" + (f" (source: {info['source']})" if info["source"] else "")
    render.emit(info, as_json=json_, text=text)


@app.command()
def send(
    command: Annotated[str, typer.Argument(help='Any batch command, quoted: "setColor 255,0,0 reads.bam".')],
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,  # type: ignore[assignment]
    json_: JsonOpt = False,
) -> None:
    """Send a raw batch command (line breaks and NUL are refused)."""
    _done(_igv(host, port, timeout).send(command), json_)


@app.command()
def batch(
    script: Annotated[
        Path,
        typer.Argument(
            help="An IGV batch script (one command a line; # and // comments), or - for stdin. "
            "Relative paths in it are resolved against its directory (stdin: the current one)."
        ),
    ],
    keep_going: Annotated[
        bool, typer.Option("--keep-going", help="Run every line; report all failures.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the commands as they would be sent (paths resolved); send nothing."
        ),
    ] = False,
    host: HostOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = None,  # type: ignore[assignment]
    json_: JsonOpt = False,
) -> None:
    """Run a batch script over the port, line by line, with a progress bar."""
    import sys

    from tether.errors import UsageError

    if str(script) == "-":
        name, base = "stdin", Path.cwd()
        lines = sys.stdin.read().splitlines()
    else:
        name, base = script.name, script.absolute().parent  # IGV's BatchRunner: the script's parent
        try:
            lines = script.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read {script}: {exc.strerror or exc}") from exc
    if dry_run:
        from .script import prepare

        prepared = [line for line in prepare(lines, base) if not line.skipped]
        render.emit(
            {"base_dir": str(base), "lines": [line.to_dict() for line in prepared]},
            as_json=json_,
            text="\n".join(command for line in prepared for command in line.commands),
        )
        return
    igv = _igv(host, port, timeout)
    with render.progress(f"running {name}", total=len(lines), enabled=not json_) as bar:
        result = igv.batch(lines, base_dir=base, keep_going=keep_going, on_line=lambda *_: bar.advance())
    render.emit(
        result, as_json=json_, text=f"{result.done} command(s) done, {result.skipped} line(s) skipped"
    )


@app.command("exit")
def exit_(
    host: HostOpt = None, port: PortOpt = None, timeout: TimeoutOpt = None, json_: JsonOpt = False
) -> None:  # type: ignore[assignment]
    """Quit IGV (and the Xvfb tether started for it, if any)."""
    from .launch import load_record

    igv = _igv(host, port, timeout)
    rec = load_record(igv.port)
    igv.exit()
    if rec is not None:
        rec.wait(timeout or 10.0)  # let IGV finish exiting before anything is signalled
        rec.stop()  # ends the Xvfb we started for it and forgets the record
    render.emit(
        {"exited": True, "port": igv.port, "pid": igv.pid},
        as_json=json_,
        text=f"IGV on port {igv.port} exited",
    )


@app.command()
def launch(
    genome_: Annotated[
        str | None, typer.Option("--genome", "-g", help="Genome id or FASTA/JSON path.")
    ] = None,
    headless: Annotated[
        bool, typer.Option("--headless", help="Run under a private Xvfb even with a display.")
    ] = False,
    port: PortOpt = None,
    memory: Annotated[str | None, typer.Option("--memory", help="Java heap limit, e.g. 2g.")] = None,
    timeout: TimeoutOpt = 60.0,
    json_: JsonOpt = False,
) -> None:
    """Start IGV on a free port with its own preferences (no dialogs offline); print the endpoint."""
    from .launch import launch as do_launch

    with render.progress("starting IGV", enabled=not json_):
        rec = do_launch(genome_, port=port, headless=headless, memory=memory, timeout=timeout)
    render.emit(
        rec,
        as_json=json_,
        text=f"IGV ready on {rec.host}:{rec.port} (pid {rec.pid}, genome {rec.genome}"
        + (f", Xvfb {rec.display}" if rec.xvfb_pid else "")
        + ")",
    )


@app.command()
def stop(
    port: PortOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Stop an IGV that tether launched (by pid, with its Xvfb), e.g. when it no longer answers."""
    from tether.errors import NotFound, UsageError

    from .launch import load_record, records

    if port is not None:
        recs = [r for r in [load_record(port, live_only=False)] if r]
    else:
        recs = records(live_only=False)
        if len(recs) > 1:
            raise UsageError(
                f"tether launched {len(recs)} IGVs; name one with --port",
                hint=", ".join(str(r.port) for r in recs),
            )
    if not recs:
        raise NotFound(
            "no running IGV launched by tether" + (f" on port {port}" if port else ""), looked_at=[]
        )
    rec = recs[0]
    was_running = rec.stop()
    render.emit(
        {"port": rec.port, "pid": rec.pid, "was_running": was_running, "xvfb_pid": rec.xvfb_pid},
        as_json=json_,
        text=f"stopped IGV pid {rec.pid}" if was_running else f"IGV pid {rec.pid} was gone; cleaned up",
    )


url = typer.Typer(no_args_is_help=True, help="Print an encoded 'View in IGV' HTTP link (nothing is sent).")
app.add_typer(url, name="url")


@url.command("goto")
def url_goto(
    loci: Annotated[list[str], typer.Argument(help="One or several loci.")],
    port: PortOpt = None,
    json_: JsonOpt = False,
) -> None:
    """A link that makes a running IGV go to the loci."""
    from .links import goto_url

    _link(goto_url(loci, port=port), json_)


@url.command("load")
def url_load(
    files: Annotated[list[str], typer.Argument(help="File URLs or paths.")],
    locus: Annotated[str | None, typer.Option("--locus", help="Go there after loading.")] = None,
    genome_: Annotated[str | None, typer.Option("--genome", help="Genome id.")] = None,
    index: Annotated[str | None, typer.Option("--index", help="Index URL or path.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Track name.")] = None,
    format_: Annotated[str | None, typer.Option("--format", help="File format.")] = None,
    merge: Annotated[bool | None, typer.Option("--merge/--no-merge", help="Keep the current tracks.")] = None,
    port: PortOpt = None,
    json_: JsonOpt = False,
) -> None:
    """A link that makes a running IGV load files (for a web page or Galaxy)."""
    from .links import load_url

    _link(
        load_url(
            files, locus=locus, genome=genome_, index=index, name=name, format=format_, merge=merge, port=port
        ),
        json_,
    )


def _link(link: str, json_: bool) -> None:
    data: dict[str, Any] = {"url": link}
    render.emit(data, as_json=json_, text=link)
