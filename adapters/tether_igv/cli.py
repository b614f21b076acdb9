"""`tether igv …`: each command declares its arguments and calls the client; the shared options
(``--host --port --timeout --json -v``) and the exit codes come from :mod:`tether.cli.command`.

``--timeout`` defaults to None: the client's own deadline per kind of command (seconds for a
goto, minutes for a load). The client finds IGV only when it first needs it, so a bad argument
is refused (exit 2) before any scan or connection.

No ``from __future__ import annotations`` here: typer reads each parameter's ``Annotated``
metadata from the signature the command layer builds, which keeps string annotations unevaluated.
"""

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tether.cli.command import Commands, Target

from .commands import GENERATED, BatchCommand

if TYPE_CHECKING:  # pragma: no cover
    from .client import IGVClient
    from .protocol import Reply

cmd = Commands("igv", help="Drive IGV.")
app = cmd.app

TrackArg = Annotated[str | None, typer.Argument(help="Track name (default: all tracks).")]


def _igv(target: Target) -> "IGVClient":
    """IGV, found at its first command (bad input is refused before any lookup); the lookup's
    probe and the commands share the one ``--timeout``."""
    return target.client(deferred=True)


def _done(target: Target, reply: "Reply") -> None:
    target.emit(reply, text=reply.text)


@cmd("goto", timeout=None)
def goto(
    target: Target,
    loci: Annotated[
        list[str], typer.Argument(help="chr:start-end, chr:pos or a gene name; several for a split view.")
    ],
) -> None:
    """Go to one or several loci (checked against the loaded genome before sending)."""
    _done(target, _igv(target).goto(*loci))


@cmd("load", timeout=None)
def load(
    target: Target,
    files: Annotated[list[str], typer.Argument(help="Files or URLs (local paths are made absolute).")],
    index: Annotated[str | None, typer.Option("--index", help="Index file or URL.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Track name.")] = None,
    format_: Annotated[str | None, typer.Option("--format", help="File format (bam, bed, vcf …).")] = None,
) -> None:
    """Load data files or URLs as tracks."""
    _done(target, _igv(target).load(*files, index=index, name=name, format=format_))


@cmd("genome", timeout=None)
def genome(
    target: Target,
    genome_: Annotated[str, typer.Argument(metavar="GENOME", help="Genome id (hg38) or FASTA/JSON path.")],
) -> None:
    """Load a genome."""
    _done(target, _igv(target).genome(genome_))


@cmd("new", timeout=None)
def new(target: Target) -> None:
    """Unload every track (a new session)."""
    _done(target, _igv(target).new())


@cmd("region", timeout=None)
def region(
    target: Target,
    locus: Annotated[str, typer.Argument(help="chr:start-end")],
    description: Annotated[str | None, typer.Argument(help="Description.")] = None,
) -> None:
    """Mark a region of interest."""
    _done(target, _igv(target).region(locus, description))


@cmd("snapshot", timeout=None)
def snapshot(
    target: Target,
    file: Annotated[Path, typer.Argument(help="Output .png or .svg (its directory is set for you).")],
) -> None:
    """Save a snapshot of the current view."""
    path = _igv(target).snapshot(file)
    size = path.stat().st_size if path.exists() else None
    target.emit({"file": str(path), "bytes": size}, text=str(path))


@cmd("snapshots", timeout=None)
def snapshots(
    target: Target,
    regions: Annotated[
        list[str],
        typer.Argument(help="A VCF, a BED file, a file of loci (one a line), or loci.", metavar="REGIONS"),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for the images, manifest.json and index.html.")
    ],
    track: Annotated[
        list[str] | None,
        typer.Option(
            "--track",
            help="A track to load once per IGV (BAM/CRAM with index, VCF, BED, bigWig…); repeatable.",
        ),
    ] = None,
    genome_: Annotated[
        str | None,
        typer.Option(
            "--genome", "-g", help="Genome id or indexed FASTA (the pool's; loaded into a running IGV)."
        ),
    ] = None,
    flank: Annotated[
        int, typer.Option("--flank", help="Bases shown each side of a VCF record or chr:pos.")
    ] = 50,
    sort_: Annotated[
        str | None, typer.Option("--sort", help="Sort alignments at each variant: base, strand, quality …")
    ] = None,
    collapse_: Annotated[bool, typer.Option("--collapse", help="Collapse every track.")] = False,
    squish_: Annotated[bool, typer.Option("--squish", help="Squish every track.")] = False,
    expand_: Annotated[bool, typer.Option("--expand", help="Expand every track.")] = False,
    max_panel_height_: Annotated[
        int | None, typer.Option("--max-panel-height", help="Cap each panel's height in the images (pixels).")
    ] = None,
    width: Annotated[
        int | None, typer.Option("--width", help="Image width in pixels (with --parallel).")
    ] = None,
    height: Annotated[
        int | None, typer.Option("--height", help="IGV's window height (with --parallel).")
    ] = None,
    parallel: Annotated[
        int | None,
        typer.Option("--parallel", "-j", help="Launch N private headless IGVs for the run (stopped after)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Draw only the regions whose image is missing or unfinished.")
    ] = False,
    memory: Annotated[
        str | None, typer.Option("--memory", help="Java heap of each pool IGV, e.g. 1g.")
    ] = None,
    format_: Annotated[str, typer.Option("--format", help="png or svg.")] = "png",
    title: Annotated[str | None, typer.Option("--title", help="The page's title.")] = None,
) -> None:
    """One image per region into --out, with manifest.json and index.html (a review page with
    verdicts). Bad regions are skipped and listed (exit 1 at the end)."""
    from tether.cli import render

    from .review import ReviewOptions, review

    modes = [m for m, on in (("collapse", collapse_), ("squish", squish_), ("expand", expand_)) if on]
    if len(modes) > 1:
        from tether.errors import UsageError

        raise UsageError("refused: give one of --collapse, --squish, --expand")
    options = ReviewOptions(
        tracks=list(track or []),
        genome=genome_,
        flank=flank,
        sort=sort_,
        display=modes[0] if modes else None,
        max_panel_height=max_panel_height_,
        width=width,
        height=height,
        title=title,
        format=format_,
    )
    pool = None
    if parallel is not None:
        from .pool import Pool

        pool = Pool(parallel, genome=genome_, width=width, height=height, memory=memory)  # checks N
    igv = None if pool is not None else _igv(target)
    what = f"snapshots ({parallel} IGVs)" if parallel else "snapshots"
    with target.progress(what, total=0) as bar:
        result = review(
            igv,
            regions,
            out,
            pool=pool,
            resume=resume,
            options=options,
            on_start=lambda n: bar.update(total=n),
            on_progress=lambda _e: bar.advance(),
            on_note=lambda message: render.note(message),
        )
    text = f"{len(result.done)} image(s), {result.resumed} kept from before: {result.page}"
    target.emit(result, text=text)


@cmd("save-session", timeout=None)
def save_session(
    target: Target,
    file: Annotated[Path, typer.Argument(help="Session file (IGV 2.x: .xml, 3.0: .json); any path.")],
) -> None:
    """Save IGV's session (tracks, their ranges, colours, heights, overlays) to FILE."""
    path = _igv(target).save_session(file)
    target.emit({"file": str(path), "bytes": path.stat().st_size if path.exists() else None}, text=str(path))


@cmd("load-session", timeout=None)
def load_session(
    target: Target, file: Annotated[str, typer.Argument(help="A saved session (.xml or .json), or its URL.")]
) -> None:
    """Load a saved session: IGV replaces what it shows with it."""
    _done(target, _igv(target).load_session(file))


def _track_verb(verb: str, doc: str) -> None:
    def command(target: Target, track: TrackArg = None) -> None:
        _done(target, getattr(_igv(target), verb)(track))

    command.__doc__ = doc
    cmd(verb, timeout=None)(command)


_track_verb("collapse", "Collapse a track (all tracks by default).")
_track_verb("expand", "Expand a track (all tracks by default).")
_track_verb("squish", "Squish a track (all tracks by default).")


@cmd("sort", timeout=None)
def sort(
    target: Target,
    option: Annotated[
        str, typer.Argument(help="base, strand, quality, sample, readGroup, insertSize, tag …")
    ],
    locus: Annotated[str | None, typer.Argument(help="Where to sort (default: the centre).")] = None,
    reverse: Annotated[bool, typer.Option("--reverse", help="Reverse the order.")] = False,
) -> None:
    """Sort alignments."""
    _done(target, _igv(target).sort(option, locus, reverse=reverse))


@cmd("group", timeout=None)
def group(
    target: Target,
    option: Annotated[str, typer.Argument(help="strand, sample, library, read_group, tag, base_at_pos …")],
    value: Annotated[str | None, typer.Argument(help="The tag, or chr:pos for base_at_pos.")] = None,
) -> None:
    """Group alignments."""
    _done(target, _igv(target).group(option, value))


@cmd("color-by", timeout=None)
def color_by(
    target: Target,
    option: Annotated[str, typer.Argument(help="read_strand, insert_size, pair_orientation, tag …")],
    tag: Annotated[str | None, typer.Argument(help="The tag, for 'tag'.")] = None,
) -> None:
    """Colour alignments."""
    _done(target, _igv(target).color_by(option, tag))


@cmd("view-as-pairs", timeout=None)
def view_as_pairs(
    target: Target,
    track: TrackArg = None,
    off: Annotated[bool, typer.Option("--off", help="Turn pair view off.")] = False,
) -> None:
    """Show paired reads as pairs."""
    _done(target, _igv(target).view_as_pairs(not off, track))


@cmd("preference", timeout=None)
def preference(target: Target, key: str, value: str) -> None:
    """Override a preference for this IGV session."""
    _done(target, _igv(target).preference(key, value))


@cmd("max-panel-height", timeout=None)
def max_panel_height(target: Target, height: int) -> None:
    """Maximum track-panel height in snapshots (-1: the visible area)."""
    _done(target, _igv(target).max_panel_height(height))


@cmd("set-sleep-interval", timeout=None)
def set_sleep_interval(target: Target, ms: int) -> None:
    """Milliseconds IGV sleeps after every later command (all clients)."""
    _done(target, _igv(target).set_sleep_interval(ms))


@cmd("echo", timeout=None)
def echo(target: Target, text: Annotated[str | None, typer.Argument()] = None) -> None:
    """Ask IGV to echo (proves it is serving this client)."""
    answer = _igv(target).echo(text)
    target.emit({"echo": answer}, text=answer)


@cmd("version", timeout=None)
def version(target: Target) -> None:
    """IGV's version (from IGV, else from its jar or package)."""
    value = _igv(target).version()
    target.emit({"version": value}, text=value or "unknown")


@cmd("current-genome", timeout=None)
def current_genome(target: Target) -> None:
    """The genome IGV has loaded, and where tether learned it."""
    info = _igv(target).current_genome()
    text = f"{info['genome'] or 'unknown'}" + (f" (source: {info['source']})" if info["source"] else "")
    target.emit(info, text=text)


@cmd("send", timeout=None)
def send(
    target: Target,
    command: Annotated[str, typer.Argument(help='Any batch command, quoted: "setColor 255,0,0 reads.bam".')],
) -> None:
    """Send a raw batch command (line breaks and NUL are refused)."""
    _done(target, _igv(target).send(command))


@cmd("batch", timeout=None)
def batch(
    target: Target,
    script: Annotated[
        Path,
        typer.Argument(
            help="An IGV batch script (one command a line; # and // comments), or - for stdin. "
            "Relative paths follow IGV's own runner: the current directory first, then the script's "
            "directory for files that exist there."
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
) -> None:
    """Run a batch script as 'igv -b SCRIPT' would from here, line by line, with a progress bar."""
    from tether.cli import render

    from .script import prepare, read_script

    name, script_dir, lines = read_script(script)
    if dry_run:
        prepared = [line for line in prepare(lines, script_dir) if not line.skipped]
        for warning in (w for line in prepared for w in line.warnings):
            render.note(f"warning: {warning}")
        target.emit(
            {
                "cwd": str(Path.cwd()),
                "script_dir": str(script_dir),
                "lines": [ln.to_dict() for ln in prepared],
            },
            text="\n".join(command for line in prepared for command in line.commands),
        )
        return
    igv = _igv(target)
    with target.progress(f"running {name}", total=len(lines)) as bar:
        result = igv.batch(
            lines,
            base_dir=script_dir,
            keep_going=keep_going,
            on_line=lambda *_: bar.advance(),
            on_warning=lambda warning: render.note(f"warning: {warning}"),
        )
    target.emit(result, text=f"{result.done} command(s) done, {result.skipped} line(s) skipped")


@cmd("exit", timeout=None, destructive=True)
def exit_(target: Target) -> None:
    """Quit IGV (and the Xvfb tether started for it, if any)."""
    igv = _igv(target)
    igv.exit()
    target.emit({"exited": True, "port": igv.port, "pid": igv.pid}, text=f"IGV on port {igv.port} exited")


@cmd("launch", timeout=60.0, shared=("port", "timeout", "json", "verbose"))
def launch(
    target: Target,
    genome_: Annotated[
        str | None, typer.Option("--genome", "-g", help="Genome id or FASTA/JSON path.")
    ] = None,
    headless: Annotated[
        bool, typer.Option("--headless", help="Run under a private Xvfb even with a display.")
    ] = False,
    memory: Annotated[str | None, typer.Option("--memory", help="Java heap limit, e.g. 2g.")] = None,
    width: Annotated[
        int | None, typer.Option("--width", help="Snapshot width in pixels (300-16384).")
    ] = None,
    height: Annotated[
        int | None, typer.Option("--height", help="Window height (a snapshot is as tall as its tracks).")
    ] = None,
) -> None:
    """Start IGV on a free port with its own preferences (no dialogs offline); print the endpoint."""
    from .launch import launch as start

    with target.progress("starting IGV") as spinner:
        rec = start(
            genome_,
            port=target.port,
            headless=headless,
            memory=memory,
            timeout=target.timeout or 60.0,
            width=width,
            height=height,
            on_status=lambda text: spinner.update(description=text),
        )
    xvfb = f", Xvfb {rec.display}" if rec.xvfb_pid else ""
    target.emit(rec, text=f"IGV ready on {rec.host}:{rec.port} (pid {rec.pid}, genome {rec.genome}{xvfb})")


@cmd("stop", shared=("port", "json", "verbose"), destructive=True)
def stop(target: Target) -> None:
    """Stop an IGV that tether launched (by pid, with its Xvfb), e.g. when it no longer answers."""
    from .launch import stop_launched

    rec, was_running = stop_launched(target.port)
    target.emit(
        {"port": rec.port, "pid": rec.pid, "was_running": was_running, "xvfb_pid": rec.xvfb_pid},
        text=f"stopped IGV pid {rec.pid}" if was_running else f"IGV pid {rec.pid} was gone; cleaned up",
    )


def _table_command(spec: BatchCommand) -> None:
    """A command from a row of IGV's command table: its arguments in IGV's order, checked by the client."""

    def command(target: Target, **given: Any) -> None:
        values: list[Any] = []
        for arg in spec.args:
            value = given[arg.name]
            if arg.many:
                values += list(value or [])
            elif value is not None:
                values.append(value)
        answer = getattr(_igv(target), spec.method)(*values)
        if spec.query:
            target.emit({"answer": answer}, text=answer)
        else:
            _done(target, answer)

    params = [inspect.Parameter("target", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Target)]
    for arg in spec.args:
        kind = list[str] if arg.many else str
        annotation = Annotated[
            kind | None if arg.optional else kind, typer.Argument(help=arg.help, metavar=arg.name.upper())
        ]
        default = None if arg.optional else inspect.Parameter.empty
        params.append(
            inspect.Parameter(
                arg.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
        )
    setattr(command, "__signature__", inspect.Signature(params))  # noqa: B010 - the command layer reads it
    command.__doc__ = spec.help + ("" if spec.since == "2.5" else f" (IGV {spec.since} and later.)")
    cmd(spec.name, timeout=None)(command)


for _spec in GENERATED:
    _table_command(_spec)


cmd.group("url", help="Print an encoded 'View in IGV' HTTP link (nothing is sent).")
LINK_OPTIONS = ("port", "json")


@cmd("goto", group="url", shared=LINK_OPTIONS, settings=False)
def url_goto(target: Target, loci: Annotated[list[str], typer.Argument(help="One or several loci.")]) -> None:
    """A link that makes a running IGV go to the loci."""
    from .links import goto_url

    link = goto_url(loci, port=target.port)
    target.emit({"url": link}, text=link)


@cmd("load", group="url", shared=LINK_OPTIONS, settings=False)
def url_load(
    target: Target,
    files: Annotated[list[str], typer.Argument(help="File URLs or paths.")],
    locus: Annotated[str | None, typer.Option("--locus", help="Go there after loading.")] = None,
    genome_: Annotated[str | None, typer.Option("--genome", help="Genome id.")] = None,
    index: Annotated[str | None, typer.Option("--index", help="Index URL or path.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Track name.")] = None,
    format_: Annotated[str | None, typer.Option("--format", help="File format.")] = None,
    merge: Annotated[bool | None, typer.Option("--merge/--no-merge", help="Keep the current tracks.")] = None,
) -> None:
    """A link that makes a running IGV load files (for a web page or Galaxy)."""
    from .links import load_url

    link = load_url(
        files,
        locus=locus,
        genome=genome_,
        index=index,
        name=name,
        format=format_,
        merge=merge,
        port=target.port,
    )
    target.emit({"url": link}, text=link)
