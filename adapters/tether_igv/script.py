"""Batch scripts over the port: relative local paths are resolved against the script's directory.

What IGV itself does (``batch/BatchRunner.java`` and ``CommandExecutor.getFile`` /
``resolveFileReference``; the same from 2.16 to 3.0): a script run with ``igv -b script`` or
*Tools › Run Batch Script* gets the script's parent directory as ``scriptDir``, and ``getFile``
resolves a path in this order: ``~`` → the home directory; ``$SCRIPT_DIR…`` → the script's
directory; a file that exists relative to IGV's working directory; a file that exists relative
to the script's directory; otherwise IGV's working directory. That applies to the files of
``load`` (not its ``index=``/``coverage=``, which go to IGV as written), ``genome``,
``snapshotDirectory``, ``saveSession`` and ``snapshot`` before any ``snapshotDirectory``.
Over the port IGV has no script at all (``new CommandExecutor(igv)``): every relative path is
resolved against IGV's working directory, and ``$SCRIPT_DIR`` is taken literally.

What tether does, so a review script kept next to its data works from anywhere: every relative
local path of those commands, ``index=`` and ``coverage=`` included, is made absolute against
the script's directory — always, not only when the file exists (tether's choice: an output
such as a new ``snapshotDirectory`` lands next to the script, not wherever IGV was started).
``~`` and ``$SCRIPT_DIR`` are expanded as IGV does. URLs (``https://``, ``gs://``, ``s3://``,
``htsget://`` …), ``data:`` URLs and absolute paths are left as written. A ``genome`` argument
is a path when it names a file next to the script or holds a ``/``; otherwise it is a genome id
and is left alone. IGV's port keeps the snapshot directory across clients, so a ``snapshot``
before the script's first ``snapshotDirectory`` is sent as ``snapshotDirectory <its
directory>`` + ``snapshot <name>``. Lines without a path are sent exactly as written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tether.errors import UsageError

from . import args as A

SCRIPT_DIR = "$SCRIPT_DIR"


@dataclass
class ScriptLine:
    """One line of a script: its number, its text as written, and the commands sent for it
    (none for a blank or comment line; two for a ``snapshot`` that needs its directory set)."""

    number: int
    text: str
    commands: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> bool:
        return not self.commands

    def to_dict(self) -> dict[str, object]:
        return {"line": self.number, "text": self.text, "send": list(self.commands)}


def split_quoted(text: str, sep: str) -> list[str]:
    """IGV's ``StringUtils.breakQuotedString`` + ``getArgs``: split on ``sep`` outside single or
    double quotes (the quotes are kept), trim each part, drop empty ones."""
    parts, buf, quote = [], [], ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
            buf.append(char)
        elif char in "\"'":
            quote = char
            buf.append(char)
        elif char == sep:
            parts.append("".join(buf).strip())
            buf = []
        else:
            buf.append(char)
    if buf:
        parts.append("".join(buf).strip())
    return [p for p in parts if p]


def strip_quotes(value: str) -> str:
    """IGV's ``StringUtils.stripQuotes``: drop one pair of matching outer quotes."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


class Resolver:
    """Rewrites the path arguments of one script's commands against ``base`` (see the module doc)."""

    def __init__(self, base_dir: str | Path) -> None:
        self.base = Path(base_dir).expanduser().resolve()
        self.snapshot_dir_set = False

    # -- single values ---------------------------------------------------------------------
    def local(self, value: str) -> str | None:
        """``value`` (unquoted) as an absolute local path, or ``None`` when it stays as written
        (a URL, a ``data:`` URL, an absolute path)."""
        if A.is_url(value) or value.startswith("data:"):
            return None
        expanded = False
        if value.startswith(SCRIPT_DIR):
            value, expanded = str(self.base) + value[len(SCRIPT_DIR) :], True
        elif value.startswith("~"):
            value = os.path.expanduser(value)
            if value.startswith("~"):
                return None  # ~user unknown here: let IGV try
            expanded = True
        if os.path.isabs(value):
            return str(Path(value).resolve()) if expanded else None
        return str((self.base / value).resolve())

    def _value(self, raw: str, what: str) -> str:
        """One token of a single path (``snapshotDirectory``, ``saveSession`` …), rewritten or as written."""
        resolved = self.local(strip_quotes(raw))
        return raw if resolved is None else A.path_token(resolved, what)

    def _file_list(self, raw: str, what: str) -> str:
        """A ``load`` file list or ``index=``/``coverage=`` value: each comma-separated item (IGV's
        ``breakFileString``, quotes respected) rewritten and quoted on its own."""
        if raw.startswith("data:"):
            return raw
        items = split_quoted(raw, ",")
        if len(items) == 1 and "%2C" in raw:
            encoded = split_quoted(raw.replace("%2C", ","), ",")
            if len(encoded) > 1:
                items = encoded
        changed, out = False, []
        for item in items:
            resolved = self.local(strip_quotes(item))
            if resolved is None:
                out.append(item)
            else:
                out.append(A.path_token(resolved, what))
                changed = True
        return ",".join(out) if changed else raw

    # -- commands ------------------------------------------------------------------------------
    def commands(self, text: str) -> list[str]:
        """The command(s) to send for one script line (``text`` stripped, not a comment)."""
        try:
            return self._commands(text)
        except OSError as exc:  # a path the file system refuses to look at: ENAMETOOLONG, ELOOP …
            name = f" {exc.filename[:60]!r}…" if isinstance(exc.filename, str) else ""
            raise UsageError(f"a path on this line cannot be used{name}: {exc.strerror or exc}") from exc

    def _commands(self, text: str) -> list[str]:
        args = split_quoted(text, " ")
        verb = args[0].lower() if args else ""
        new = list(args)
        if verb in ("load", "loadfile") and len(args) > 1:
            new[1] = self._file_list(args[1], "file")
            for i, param in enumerate(args[2:], start=2):
                for key in ("index=", "coverage="):
                    if param.startswith(key):  # case-sensitive, as IGV reads them
                        new[i] = key + self._file_list(param[len(key) :], key[:-1])
        elif verb == "genome" and len(args) > 1:
            new[1] = self._genome(args[1])
        elif verb == "snapshotdirectory" and len(args) > 1:
            new[1] = self._value(args[1], "snapshot directory")
            self.snapshot_dir_set = True
        elif verb == "savesession" and len(args) > 1:
            new[1] = self._session_target(args[1])
        elif verb == "snapshot" and not self.snapshot_dir_set:
            return self._snapshot(args)
        if new == args:
            return [text]
        return [" ".join(new)]

    def _genome(self, raw: str) -> str:
        value = strip_quotes(raw)
        looks_like_path = (
            "/" in value
            or os.sep in value
            or value.startswith(("~", SCRIPT_DIR))
            or (self.base / value).exists()
        )
        return self._value(raw, "genome") if looks_like_path else raw

    def _session_target(self, raw: str) -> str:
        resolved = self.local(strip_quotes(raw))
        if resolved is None:
            return raw
        A.check_text(resolved, "session file")
        if any(c.isspace() or c in "\"'" for c in resolved):
            # IGV checks the suffix before it strips the quotes, then saves to '"…".xml' under its
            # working directory ("directory not found"): 2.16 to 3.0 cannot take a quoted path here.
            raise UsageError(
                f"refused: IGV cannot save a session to {resolved!r} (saveSession cannot take a quoted path)",
                hint="save it under a path without spaces or quotes",
            )
        return resolved

    def _snapshot(self, args: list[str]) -> list[str]:
        """A snapshot before any ``snapshotDirectory``: set its directory, then send the bare name."""
        if len(args) < 2:
            return [f"snapshotDirectory {A.path_token(str(self.base), 'snapshot directory')}", " ".join(args)]
        value = strip_quotes(args[1])
        if A.is_url(value) or value.startswith("data:"):
            raise UsageError(f"refused: snapshot {value!r}: IGV writes snapshots to local files only")
        resolved = self.local(value) or value
        target = Path(resolved)
        directory, name = str(target.parent), target.name
        if not name:
            raise UsageError(f"refused: snapshot {value!r} names a directory, not a file")
        rest = [A.path_token(name, "snapshot file name"), *args[2:]]
        directory_token = A.path_token(directory, "snapshot directory")
        return [f"snapshotDirectory {directory_token}", "snapshot " + " ".join(rest)]


def split_lines(text: str) -> list[str]:
    """``text`` cut into lines where IGV's batch runner cuts them (Java's ``readLine``: ``\n``,
    ``\r\n`` or ``\r``), not where ``str.splitlines`` does: U+2028, ``\x0b``, ``\x85`` … stay
    inside a line, as IGV reads them (a line ``echo a<U+2028>exit`` is one command, not two)."""
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()  # the newline ending the last line starts no new one
    return lines


def read_script(script: str | Path) -> tuple[str, Path, list[str]]:
    """A script's name, the directory its relative paths are resolved against, and its lines;
    ``-`` reads stdin (resolved against the current directory)."""
    if str(script) == "-":
        import sys

        return "stdin", Path.cwd(), split_lines(sys.stdin.read())
    path = Path(script)
    try:
        lines = split_lines(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {script}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{script} is not UTF-8 text (byte {exc.start}): nothing was sent") from exc
    return path.name, path.absolute().parent, lines  # IGV's BatchRunner: the script's parent


def prepare(lines: Iterable[str], base_dir: str | Path | None = None) -> list[ScriptLine]:
    """Check every line and work out what is sent for it, before anything is sent.

    ``base_dir``: where relative paths are resolved (the script's directory; default the current
    working directory). A line break or NUL inside a line, a line IGV would take for an HTTP
    request, or a path IGV cannot read is a :class:`~tether.errors.UsageError` naming the line.
    """
    resolver = Resolver(base_dir if base_dir is not None else Path.cwd())
    prepared = []
    for number, raw in enumerate(lines, start=1):
        A.check_text(raw.rstrip("\r\n"), f"line {number}")
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (stdin read with surrogateescape …)
            raise UsageError(f"line {number} is not valid UTF-8 text", hint="nothing was sent") from None
        text = raw.strip()
        line = ScriptLine(number, text)
        if text and not text.startswith(("#", "//")):
            try:
                line.commands = [A.check_command(c) for c in resolver.commands(text)]
            except UsageError as exc:
                raise UsageError(
                    f"line {number}: {exc.message}", hint=exc.hint or "nothing was sent", line=number
                ) from exc
        prepared.append(line)
    return prepared
