"""Batch scripts over the port, with the paths IGV's own runner would use.

What IGV does (``batch/BatchRunner.java`` and ``CommandExecutor.getFile`` /
``resolveFileReference``; the same from 2.16 to 3.0): a script run with ``igv -b script`` gets the
script's parent directory as ``scriptDir``, and ``getFile`` resolves a path in this order: ``~`` ->
the home directory; ``$SCRIPT_DIR…`` -> the script's directory; a file that exists relative to
IGV's working directory; a file that exists relative to the script's directory; otherwise IGV's
working directory (where a new ``snapshotDirectory`` or ``saveSession`` file is made). That
applies to the files of ``load``, ``genome`` (a path only when the file exists; otherwise a genome
id), ``snapshotDirectory``, ``saveSession`` and a ``snapshot`` before any ``snapshotDirectory``.
``index=`` and ``coverage=`` are never resolved: IGV opens them relative to its working directory.

Over the port IGV has no script, and its working directory is wherever IGV was started. So tether
does the resolving, as ``igv -b SCRIPT`` started in the caller's working directory would: every
relative path of those commands becomes absolute by IGV's rule, with the caller's working
directory as IGV's (``index=``/``coverage=`` against it alone). A path whose meaning differs
between the working directory and the script's directory gets a warning: it exists in both (IGV
takes the working directory's), or in neither (a new directory or session file lands under the
working directory, not next to the script), or an ``index=``/``coverage=`` file exists only next
to the script (IGV does not look there). URLs (``https://``, ``gs://``, ``s3://``, ``htsget://``
…), ``data:`` URLs and absolute paths are left as written. IGV's port keeps the snapshot directory
across clients, so a ``snapshot`` before the script's first ``snapshotDirectory`` is sent as
``snapshotDirectory <its directory>`` + ``snapshot <name>``; a ``saveSession`` path with a space
(which IGV cannot take) is saved elsewhere and moved into place by the client. Lines without a
path are sent exactly as written. Errors name the line and quote it as written.
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
    warnings: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> bool:
        return not self.commands

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"line": self.number, "text": self.text, "send": list(self.commands)}
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


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
    """Rewrites the path arguments of one script's commands by IGV's rule (see the module doc):
    ``cwd`` plays IGV's working directory, ``script_dir`` the script's."""

    def __init__(self, script_dir: str | Path, cwd: str | Path | None = None) -> None:
        self.script_dir = Path(script_dir).expanduser().resolve()
        self.cwd = Path(cwd if cwd is not None else Path.cwd()).expanduser().resolve()
        self.snapshot_dir_set = False
        self.warnings: list[str] = []

    # -- single values ---------------------------------------------------------------------
    def local(self, value: str, *, only_cwd: bool = False) -> str | None:
        """``value`` (unquoted) as an absolute local path by IGV's ``getFile`` (``only_cwd``: as
        IGV opens ``index=``/``coverage=``), or ``None`` when it stays as written (a URL, a
        ``data:`` URL, an absolute path)."""
        if A.is_url(value) or value.startswith("data:"):
            return None
        if value.startswith(SCRIPT_DIR):
            return str(Path(str(self.script_dir) + value[len(SCRIPT_DIR) :]).resolve())
        if value.startswith("~"):
            expanded = os.path.expanduser(value)
            return None if expanded.startswith("~") else str(Path(expanded).resolve())  # ~user: IGV's
        if os.path.isabs(value):
            return None
        here, there = (self.cwd / value).resolve(), (self.script_dir / value).resolve()
        if here == there:
            return str(here)
        if only_cwd:
            if not here.exists() and there.exists():
                self.warnings.append(
                    f"{value!r} is opened against the working directory ({here}), as IGV does; "
                    f"the file next to the script ({there}) is not used"
                )
            return str(here)
        if here.exists():
            if there.exists():
                self.warnings.append(
                    f"{value!r} exists in the working directory and next to the script; "
                    f"IGV's rule takes the working directory's ({here})"
                )
            return str(here)
        if there.exists():
            return str(there)
        self.warnings.append(
            f"{value!r} exists in neither directory: IGV's rule makes it {here} "
            f"(the working directory), not {there} next to the script"
        )
        return str(here)

    def _value(self, raw: str, what: str) -> str:
        """One token of a single path (``snapshotDirectory``, ``saveSession`` …), rewritten or as written."""
        resolved = self.local(strip_quotes(raw))
        return raw if resolved is None else A.path_token(resolved, what)

    def _file_list(self, raw: str, what: str, *, only_cwd: bool = False) -> str:
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
            resolved = self.local(strip_quotes(item), only_cwd=only_cwd)
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
                        new[i] = key + self._file_list(param[len(key) :], key[:-1], only_cwd=True)
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
        """IGV's ``resolveFileReference``: a path when the file exists by IGV's rule; otherwise
        a genome id, sent as written (a value that can only be a path is resolved all the same,
        so IGV's error names the file)."""
        value = strip_quotes(raw)
        if A.is_url(value) or os.path.isabs(value):
            return raw
        exists = value.startswith(("~", SCRIPT_DIR)) or any(
            (d / value).exists() for d in (self.cwd, self.script_dir)
        )
        if exists or "/" in value or os.sep in value:
            return self._value(raw, "genome")
        return raw

    def _session_target(self, raw: str) -> str:
        """The session file by IGV's rule, quoted when it must be: IGV 2.16-3.0 cannot save to a
        quoted path (they test the suffix before stripping the quotes), so the client saves such
        a session elsewhere and moves it (``IGVClient.save_session``)."""
        resolved = self.local(strip_quotes(raw))
        return raw if resolved is None else A.path_token(resolved, "session file")

    def _snapshot(self, args: list[str]) -> list[str]:
        """A snapshot before any ``snapshotDirectory``: set its directory, then send the bare name."""
        if len(args) < 2:
            return [f"snapshotDirectory {A.path_token(str(self.cwd), 'snapshot directory')}", " ".join(args)]
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
    """A script's name, its directory (IGV's ``scriptDir``) and its lines; ``-`` reads stdin
    (its directory: the current one)."""
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


def prepare(
    lines: Iterable[str], script_dir: str | Path | None = None, *, cwd: str | Path | None = None
) -> list[ScriptLine]:
    """Check every line and work out what is sent for it, before anything is sent.

    ``script_dir``: the script's directory; ``cwd``: the directory IGV's rule tries first (the
    caller's working directory); both default to the current working directory. A line break or
    NUL inside a line, a line IGV would take for an HTTP request, or a path IGV cannot read is a
    :class:`~tether.errors.UsageError` naming the line and quoting it as written.
    """
    resolver = Resolver(script_dir if script_dir is not None else Path.cwd(), cwd)
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
                    f"line {number}: {exc.message} (the line: {text!r})",
                    hint=exc.hint or "nothing was sent",
                    line=number,
                ) from exc
            line.warnings, resolver.warnings = [f"line {number}: {w}" for w in resolver.warnings], []
        prepared.append(line)
    return prepared
