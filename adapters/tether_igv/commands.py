"""IGV's batch commands as data: one table gives the client's methods, the CLI's commands and the docs.

Read from IGV's ``batch/CommandExecutor.java`` (``execute``), at every release tag from 2.5 to 3.0:
52 commands (plus 8 aliases, e.g. ``gotoimmediate``, ``loadfile``, ``oauth``). Each row names IGV's
command, tether's kebab-case name and client method, its arguments in IGV's own order with their
kinds, the deadline kind (a key of :data:`tether_igv.client.DEFAULT_TIMEOUTS`) and the first IGV
version that has it. Rows with ``generated=True`` become :class:`~tether_igv.client.IGVClient`
methods and ``tether igv`` commands from the table alone; the others have hand-written methods
(path handling, locus checks …) and are listed for the docs and the version check.

Argument kinds (checked before anything is sent; a bad value is a ``UsageError``, exit 2):

- ``track``: a track name, quoted the way IGV's tokenizer reads it (``"my regions.bed"``); IGV
  matches the display name or the file path, case-insensitively; omitted: every track.
- ``tracks``: one or more track names. ``attributes``: attribute names (quoted like tracks).
- ``range``: ``min,max`` or ``min,baseline,max`` (min <= baseline <= max), or ``auto``.
- ``color``: ``r,g,b`` with each 0-255, or ``#rrggbb``; sent as ``r,g,b``.
- ``bool``: ``true``/``false``. ``int``: a whole number (``minimum`` applies).
- ``strand``: ``+``/``-`` (or ``positive``/``negative``). ``order``: ``asc``/``desc``.
- ``word``: one word without quotes. ``secret``: a word that ``-v`` output masks.
- ``loci``: loci for new panels (checked like ``goto``'s).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.errors import UsageError

from . import args as A


@dataclass(frozen=True)
class Arg:
    """One argument of a batch command."""

    name: str
    kind: str
    help: str
    optional: bool = False  # may be left out (a track: every track)
    many: bool = False  # one or more values (the rest of the line)
    minimum: int | None = None


@dataclass(frozen=True)
class BatchCommand:
    """One of IGV's batch commands."""

    igv: str  # as IGV spells it, and as it is sent
    help: str
    args: tuple[Arg, ...] = ()
    since: str = "2.5"  # the first IGV release whose CommandExecutor has it
    kind: str = "goto"  # deadline kind
    query: bool = False  # answers with text, not OK
    generated: bool = True  # method and command come from this row
    name: str = ""  # tether's command name (default: IGV's, kebab-cased)
    method: str = ""  # the client's method (default: IGV's, snake-cased)
    aliases: tuple[str, ...] = ()
    note: str = ""
    usage: str = ""  # the hand-written command's arguments, for the docs
    exposed: bool = True  # has a tether command of its own
    secret: bool = False  # an argument is a secret: -v output masks it

    def __post_init__(self) -> None:
        kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", self.igv).lower()
        if not self.name:
            object.__setattr__(self, "name", kebab)
        if not self.method:
            object.__setattr__(self, "method", self.name.replace("-", "_"))

    # -- what is sent --------------------------------------------------------------------------
    def line(self, values: Sequence[Any] = ()) -> str:
        """The command line for ``values``, in IGV's order (a ``many`` argument, always the last,
        takes the rest), every value checked and written the way IGV reads it."""
        values = list(values)
        tokens = [self.igv]
        for i, arg in enumerate(self.args):
            if arg.many:
                items = [str(v) for v in values[i:]]
                if not items and not arg.optional:
                    raise UsageError(
                        f"refused: {self.name} needs at least one {arg.name}", hint="nothing was sent"
                    )
                tokens += _many(arg, items, self.name)
                return " ".join(tokens)
            if i >= len(values) or values[i] is None:
                if not arg.optional:
                    raise UsageError(
                        f"refused: {self.name} needs its {arg.name} argument", hint="nothing was sent"
                    )
                if any(v is not None for v in values[i + 1 :]):
                    raise UsageError(f"refused: {self.name}: give {arg.name} before the arguments after it")
                break
            tokens.append(token(arg, values[i], self.name))
        if len(values) > len(self.args):
            raise UsageError(f"refused: {self.name} takes {len(self.args)} argument(s), not {len(values)}")
        return " ".join(tokens)

    def check_version(self, version: str | None) -> None:
        """Refuse the command (exit 2, nothing sent) when the connected IGV is older than ``since``;
        an unknown version lets it through (IGV then answers for itself)."""
        have, since = parse_version(version), parse_version(self.since) or ()
        if have is not None and have < since:
            raise UsageError(
                f"refused: IGV {version} has no '{self.igv}' command (IGV {self.since} and later have it)",
                hint="nothing was sent; upgrade IGV",
            )


def parse_version(text: str | None) -> tuple[int, ...] | None:
    """``"2.16.0"`` -> ``(2, 16, 0)``; ``"3.0.0-beta.1"`` -> ``(3, 0, 0)``; ``None`` when not a version."""
    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", text or "")
    return tuple(int(p) for p in m.group(1).split(".")) if m else None


# -- argument kinds ---------------------------------------------------------------------------------
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _many(arg: Arg, items: list[str], command: str) -> list[str]:
    if arg.kind == "pairs":  # ATTRIBUTE ORDER [ATTRIBUTE ORDER …]
        if len(items) % 2:
            raise UsageError(f"refused: {command} takes ATTRIBUTE asc|desc pairs, not {' '.join(items)!r}")
        pairs = zip(items[::2], items[1::2], strict=True)
        attr, order = Arg("attribute", "attributes", ""), Arg("order", "order", "")
        return [t for a, o in pairs for t in (token(attr, a, command), token(order, o, command))]
    return [token(arg, item, command) for item in items]


def token(arg: Arg, value: Any, command: str) -> str:
    """One argument as IGV reads it, or a ``UsageError`` naming the command and the argument."""
    what = f"{command} {arg.name}"
    kind = arg.kind
    if kind in ("track", "tracks", "attributes"):
        return track_token(str(value), what)
    if kind == "bool":
        return boolean(value, what)
    if kind == "int":
        return str(integer(value, what, arg.minimum))
    if kind == "color":
        return color(value, what)
    if kind == "range":
        return data_range(value, what)
    if kind == "strand":
        text = A.word(str(value), what).lower()
        if text not in ("+", "-", "positive", "negative"):
            raise UsageError(f"refused: {what} must be + or - (positive/negative), not {value!r}")
        return text
    if kind == "order":
        text = A.word(str(value), what).lower()
        if text not in ("asc", "desc"):
            raise UsageError(f"refused: {what} must be asc or desc, not {value!r}")
        return text
    if kind in ("word", "secret", "loci"):
        return A.word(str(value), what)
    raise AssertionError(f"unknown argument kind {kind!r}")  # pragma: no cover - the table is ours


def track_token(name: str, what: str = "track name") -> str:
    """A track (or attribute) name as one IGV token.

    IGV splits a line on spaces outside quotes, keeps the quotes, then matches a track by the
    token as written or, when quoted, without its quotes (unquoted: URL-decoded, so a bare ``%``
    or ``+`` could change the name). So a name with a space, a quote, a comma, ``%`` or ``+`` is
    quoted; a name with both kinds of quotes cannot be written.
    """
    A.check_text(name, what)
    if not name.strip():
        raise UsageError(f"refused: the {what} is empty")
    needs = any(c.isspace() or c in "\"',%+" for c in name)
    return A._wrap(name, what, needs)


def boolean(value: Any, what: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip().lower()
    if text in _TRUE:
        return "true"
    if text in _FALSE:
        return "false"
    raise UsageError(f"refused: {what} must be true or false, not {value!r}", hint="nothing was sent")


def integer(value: Any, what: str, minimum: int | None = None) -> int:
    if isinstance(value, bool):
        raise UsageError(f"refused: {what} must be a whole number, not {value!r}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise UsageError(
            f"refused: {what} must be a whole number, not {value!r}", hint="nothing was sent"
        ) from None
    if minimum is not None and number < minimum:
        raise UsageError(f"refused: {what} must be at least {minimum}, not {number}", hint="nothing was sent")
    return number


def color(value: Any, what: str = "colour") -> str:
    """``(r, g, b)``, ``"r,g,b"`` (each 0-255) or ``"#rrggbb"``, as IGV's ``r,g,b``."""
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"#[0-9a-fA-F]{6}", text):
            parts: list[Any] = [int(text[i : i + 2], 16) for i in (1, 3, 5)]
        else:
            parts = text.split(",")
    else:
        parts = list(value)
    if len(parts) != 3:
        raise UsageError(
            f"refused: {what} must be r,g,b (each 0-255) or #rrggbb, not {value!r}", hint="nothing was sent"
        )
    rgb = []
    for part in parts:
        try:
            number = int(str(part).strip())
        except ValueError:
            number = -1
        if not 0 <= number <= 255:
            raise UsageError(
                f"refused: {what} {value!r}: each of r,g,b must be a whole number from 0 to 255",
                hint="nothing was sent",
            )
        rgb.append(number)
    return ",".join(map(str, rgb))


def data_range(value: Any, what: str = "data range") -> str:
    """``"min,max"``, ``"min,baseline,max"``, a tuple of those, or ``"auto"`` (autoscale)."""
    if isinstance(value, str) and value.strip().lower() in ("auto", "autoscale"):
        return "auto"
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        numbers = [float(str(p).strip()) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3) or any(n != n or n in (float("inf"), float("-inf")) for n in numbers):
        raise UsageError(
            f"refused: {what} must be min,max or min,baseline,max (numbers), or auto; not {value!r}",
            hint="nothing was sent",
        )
    if numbers != sorted(numbers) or numbers[0] == numbers[-1]:
        raise UsageError(
            f"refused: {what} {value!r}: min must be below max (and the baseline between them)",
            hint="nothing was sent",
        )
    return ",".join(f"{n:g}" for n in numbers)


# -- the table ----------------------------------------------------------------------------------------
TRACK = Arg("track", "track", "Track name or file path (default: every track).", optional=True)


def _track(help: str = "Track name or file path.") -> Arg:
    return Arg("track", "track", help)


COMMANDS: tuple[BatchCommand, ...] = (
    # navigation and views
    BatchCommand(
        "echo", "Answer with the text (or 'echo').", query=True, kind="echo", generated=False, usage="[TEXT]"
    ),
    BatchCommand(
        "goto",
        "Go to loci (split view for several).",
        aliases=("gotoimmediate",),
        generated=False,
        usage="LOCUS …",
    ),
    BatchCommand(
        "addFrames",
        "Add panels for more loci beside the current ones (IGV wants at least two).",
        (Arg("loci", "loci", "Loci for the new panels.", many=True),),
        since="2.12",
    ),
    BatchCommand(
        "region", "Mark a region of interest.", generated=False, usage="CHR:START-END [DESCRIPTION]"
    ),
    BatchCommand("zoomin", "Zoom in one step.", name="zoom-in"),
    BatchCommand("zoomout", "Zoom out one step.", name="zoom-out"),
    BatchCommand(
        "scrollToTrack",
        "Scroll the track panel to a track.",
        (_track(),),
        since="2.9",
        aliases=("gototrack",),
    ),
    BatchCommand("scrollToTop", "Scroll every track panel to its top.", since="2.17"),
    BatchCommand("tofront", "Bring IGV's window to the front."),
    # data and sessions
    BatchCommand(
        "load",
        "Load files or URLs.",
        kind="load",
        aliases=("loadfile",),
        generated=False,
        usage="FILE … [--index I] [--name N] [--format F]",
    ),
    BatchCommand("genome", "Load a genome.", kind="genome", generated=False, usage="GENOME"),
    BatchCommand(
        "currentGenomePath",
        "The loaded genome's path or id.",
        since="2.17",
        query=True,
        kind="echo",
        generated=False,
        name="current-genome",
    ),
    BatchCommand("new", "Unload every track (a new session).", aliases=("reset", "clear"), generated=False),
    BatchCommand(
        "saveSession",
        "Save the session (2.x: XML; 3.0: JSON).",
        since="2.12",
        generated=False,
        note="any path: tether saves elsewhere and moves it where IGV cannot write the path",
        usage="FILE",
    ),
    BatchCommand("remove", "Remove a track.", (_track(),)),
    BatchCommand(
        "renameTrack",
        "Rename a track.",
        (_track("The track's current name."), Arg("new_name", "track", "Its new name.")),
        since="3.0",
    ),
    BatchCommand(
        "snapshotDirectory",
        "Set the snapshot directory.",
        generated=False,
        note="`snapshot` sets it",
        exposed=False,
    ),
    BatchCommand(
        "snapshot",
        "Save a PNG or SVG of the view.",
        kind="snapshot",
        generated=False,
        usage="FILE.png|FILE.svg",
    ),
    BatchCommand(
        "maxPanelHeight",
        "Maximum track-panel height in snapshots.",
        generated=False,
        name="max-panel-height",
        usage="HEIGHT",
    ),
    # track appearance
    BatchCommand("collapse", "Collapse a track (every track by default).", generated=False, usage="[TRACK]"),
    BatchCommand("expand", "Expand a track (every track by default).", generated=False, usage="[TRACK]"),
    BatchCommand("squish", "Squish a track (every track by default).", generated=False, usage="[TRACK]"),
    BatchCommand(
        "setDataRange",
        "Set a data track's range: min,max or min,baseline,max, or auto (autoscale).",
        (Arg("range", "range", "min,max | min,baseline,max | auto"), TRACK),
    ),
    BatchCommand(
        "setLogScale", "Log scale on (true) or off (false).", (Arg("log", "bool", "true or false"), TRACK)
    ),
    BatchCommand(
        "setColor",
        "Set a track's colour.",
        (Arg("color", "color", "r,g,b (0-255 each) or #rrggbb"), TRACK),
        since="2.12",
    ),
    BatchCommand(
        "setAltColor",
        "Set a track's alternative (negative-value/strand) colour.",
        (Arg("color", "color", "r,g,b (0-255 each) or #rrggbb"), TRACK),
        since="2.12",
    ),
    BatchCommand(
        "setTrackHeight",
        "Set a track's height in pixels.",
        (Arg("height", "int", "Height in pixels.", minimum=0), TRACK),
        since="2.10",
    ),
    BatchCommand(
        "setRowHeight",
        "Set a track's row height in pixels.",
        (Arg("height", "int", "Row height in pixels.", minimum=0), TRACK),
        since="3.0",
    ),
    BatchCommand(
        "showDataRange",
        "Show or hide a data track's range label.",
        (Arg("show", "bool", "true or false"), TRACK),
        since="2.10",
    ),
    BatchCommand(
        "fitTracks", "Fit the tracks' heights to the window.", since="2.10", aliases=("minimizeTrackHeights",)
    ),
    BatchCommand(
        "overlay",
        "Overlay data tracks as one track with this name.",
        (
            Arg("name", "track", "The overlaid track's name."),
            Arg("tracks", "tracks", "Data tracks.", many=True),
        ),
        since="2.12",
    ),
    BatchCommand("separate", "Split an overlaid track back into its tracks.", (_track(),), since="2.12"),
    BatchCommand(
        "setSequenceStrand",
        "Show the sequence track's + or - strand.",
        (Arg("strand", "strand", "+ or -"),),
        since="2.9",
    ),
    BatchCommand(
        "setSequenceShowTranslation",
        "Show the sequence track's translation.",
        (Arg("show", "bool", "true or false"),),
        since="2.9",
    ),
    BatchCommand(
        "sortByAttribute",
        "Sort tracks by sample attributes: ATTRIBUTE asc|desc [ATTRIBUTE asc|desc …].",
        (Arg("pairs", "pairs", "ATTRIBUTE asc|desc, one pair or more.", many=True),),
        since="2.10",
    ),
    BatchCommand(
        "showAttributes",
        "Show only these sample attributes (none: hide every one).",
        (Arg("attributes", "attributes", "Attribute names.", optional=True, many=True),),
        since="2.10",
    ),
    # alignments
    BatchCommand("sort", "Sort alignments.", generated=False, usage="OPTION [LOCUS] [--reverse]"),
    BatchCommand("group", "Group alignments.", generated=False, usage="OPTION [VALUE]"),
    BatchCommand("colorBy", "Colour alignments.", since="2.9", generated=False, usage="OPTION [TAG]"),
    BatchCommand(
        "viewaspairs",
        "Show paired reads as pairs.",
        generated=False,
        name="view-as-pairs",
        method="view_as_pairs",
        usage="[TRACK] [--off]",
    ),
    BatchCommand(
        "samplingWindowSize",
        "Alignment downsampling window, in bases.",
        (Arg("bases", "int", "Window size in bases.", minimum=1),),
    ),
    BatchCommand(
        "maxDepth",
        "Reads kept per downsampling window.",
        (Arg("reads", "int", "Reads per window.", minimum=1),),
        aliases=("samplingReadCount",),
    ),
    # settings and access
    BatchCommand("preference", "Override a preference for this session.", generated=False, usage="KEY VALUE"),
    BatchCommand(
        "setSleepInterval",
        "Milliseconds IGV sleeps after each command.",
        generated=False,
        name="set-sleep-interval",
        usage="MS",
    ),
    BatchCommand(
        "setCredentials",
        "User and password for protected URLs.",
        (Arg("user", "word", "User name."), Arg("password", "secret", "Password.")),
        secret=True,
    ),
    BatchCommand("clearCredentials", "Forget the user and password."),
    BatchCommand(
        "setAccessToken",
        "An OAuth access token, for every URL or for one domain.",
        (
            Arg("token", "secret", "The token."),
            Arg("domain", "word", "Domain (e.g. *.example.org).", optional=True),
        ),
        since="2.15",
        aliases=("oauth",),
        secret=True,
    ),
    BatchCommand("clearAccessTokens", "Forget every access token.", since="2.15"),
    # queries and life cycle
    BatchCommand("version", "IGV's version.", query=True, kind="echo", generated=False),
    BatchCommand(
        "toolsYaml",
        "IGV's configured tools, as YAML.",
        since="3.0",
        query=True,
        kind="echo",
        name="tools-yaml",
    ),
    BatchCommand("exit", "Quit IGV.", kind="exit", generated=False),
    BatchCommand("tweakdivider", "Does nothing (its code is commented out).", generated=False, exposed=False),
)

BY_IGV = {c.igv.lower(): c for c in COMMANDS}
for _c in COMMANDS:
    for _alias in _c.aliases:
        BY_IGV[_alias.lower()] = _c
BY_NAME = {c.name: c for c in COMMANDS}
GENERATED = tuple(c for c in COMMANDS if c.generated)


def markdown_table() -> str:
    """Every batch command, its tether name and the IGV versions that have it (for the READMEs)."""
    rows = ["| IGV command | tether | IGV versions | what it does |", "|---|---|---|---|"]
    for c in COMMANDS:
        igv = f"`{c.igv}`" + "".join(f", `{a}`" for a in c.aliases)
        usage = c.usage or " ".join(_usage(a) for a in c.args)
        tether = f"`{c.name}{' ' + usage if usage else ''}`" if c.exposed else "—"
        versions = f"{c.since} and later" if c.since != "2.5" else "all (2.5 and later)"
        note = f" ({c.note})" if c.note else ""
        cells = [igv, tether, versions, f"{c.help}{note}"]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


# -- the client's generated methods, as source (so type checkers and editors see them) -------------

#: the Python type a method takes for each argument kind (what :func:`token` accepts)
_KIND_TYPES = {
    "bool": "bool | str",
    "int": "int | str",
    "color": "str | Sequence[int]",
    "range": "str | Sequence[float]",
}
GENERATED_MODULE = "generated.py"


def _doc(spec: BatchCommand) -> list[str]:
    import textwrap

    summary = textwrap.wrap(f"IGV's ``{spec.igv}`` (IGV {spec.since} and later): {spec.help}", 96)
    args = [f"``{arg.name}``: {arg.help}" for arg in spec.args]
    if len(summary) == 1 and not args:
        return [f'        """{summary[0]}"""']
    lines = [f'        """{summary[0]}', *(f"        {line}" for line in summary[1:])]
    if args:
        lines += ["", *(f"        {line}" for arg in args for line in textwrap.wrap(arg, 96))]
    return [*lines, '        """']


def _method_source(spec: BatchCommand) -> list[str]:
    params, values = ["self"], []
    for arg in spec.args:
        kind = _KIND_TYPES.get(arg.kind, "str")
        if arg.many:
            params.append(f"*{arg.name}: {kind}")
            values.append(f"*{arg.name}")
        else:
            params.append(f"{arg.name}: {kind} | None = None" if arg.optional else f"{arg.name}: {kind}")
            values.append(arg.name)
    if not any(a.many for a in spec.args):
        params.append("*")
    params.append("timeout: float | None = None")
    returns = "str" if spec.query else "Reply"
    head = f"    def {spec.method}({', '.join(params)}) -> {returns}:"
    if len(head) > 110:
        head = f"    def {spec.method}(\n        {', '.join(params)}\n    ) -> {returns}:"
    packed = "(" + ", ".join(values) + ("," if len(values) == 1 else "") + ")"
    call = f'self._run(BY_NAME["{spec.name}"], {packed}, timeout)'
    body = f"        return {call}.text" if spec.query else f"        return {call}"
    return [head, *_doc(spec), body]


def client_source() -> str:
    """The source of :mod:`tether_igv.generated`: one method per generated row of the table."""
    for spec in GENERATED:
        for i, arg in enumerate(spec.args):
            # Python's parameter order must be IGV's: no required argument after an optional one
            assert arg.optional or not any(a.optional for a in spec.args[:i]), spec.igv
            assert '"""' not in arg.help + spec.help and "\\" not in arg.help + spec.help, spec.igv
    out = [
        '"""IGV\'s batch commands as :class:`~tether_igv.client.IGVClient` methods, generated from the',
        "table in :mod:`tether_igv.commands` (one method per row with ``generated=True``), as source:",
        "type checkers and editors see every method, its arguments and its docstring.",
        "",
        "Do not edit: ``python -m tether_igv.commands --write`` writes this file again from the table,",
        "and tests/unit/test_igv_generated.py fails when it is out of date.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import TYPE_CHECKING, Any",
        "",
        "from .commands import BY_NAME",
        "",
        "if TYPE_CHECKING:  # pragma: no cover",
        "    from collections.abc import Sequence",
        "",
        "    from .commands import BatchCommand",
        "    from .protocol import Reply",
        "",
        "",
        "class GeneratedCommands:",
        '    """The table\'s commands; :class:`~tether_igv.client.IGVClient` runs them (``_run``)."""',
        "",
        "    def _run(self, spec: BatchCommand, values: tuple[Any, ...], timeout: float | None) -> Reply:",
        "        raise NotImplementedError  # pragma: no cover - IGVClient's",
    ]
    for spec in GENERATED:
        out += ["", *_method_source(spec)]
    return "\n".join(out) + "\n"


def write_client_source() -> Path:
    """Write :func:`client_source` to ``tether_igv/generated.py``; its path."""
    path = Path(__file__).with_name(GENERATED_MODULE)
    path.write_text(client_source(), encoding="utf-8")
    return path


def _usage(arg: Arg) -> str:
    text = arg.name.upper() + (" …" if arg.many else "")
    return f"[{text}]" if arg.optional else text


if __name__ == "__main__":  # python -m tether_igv.commands: the table the READMEs carry
    import sys

    if sys.argv[1:] == ["--write"]:  # the client's generated methods, again from the table
        print(write_client_source())
    else:
        print(markdown_table())
