"""Argument safety for IGV batch commands: what may be sent, and how it must be written.

IGV reads one command per line and splits it on spaces; double or single quotes group words,
and there is no escape character. So: a line break or NUL in an argument would start a new
command (``goto "chr1\\nexit"`` would quit IGV) and is refused before anything is sent; a
value with spaces is quoted; a value containing a quote *and* a space cannot be written at all.
Every refusal is a :class:`~tether.errors.UsageError` (exit 2).
"""

from __future__ import annotations

from pathlib import Path

from tether.errors import UsageError

_FORBIDDEN = {"\n": "a line break", "\r": "a carriage return", "\0": "a NUL byte"}
# A line starting with these switches IGV's listener to HTTP for the connection.
_HTTP_WORDS = ("GET", "HEAD", "OPTIONS")


def check_text(value: str, what: str = "argument") -> str:
    """Refuse a value containing a line break, carriage return or NUL (command injection)."""
    for char, name in _FORBIDDEN.items():
        if char in value:
            raise UsageError(
                f"refused: the {what} {value!r} contains {name}, which would let it run another IGV command",
                hint="nothing was sent",
            )
    return value


def check_command(line: str) -> str:
    """A raw batch command: one line, not empty, not an HTTP request line."""
    check_text(line, "command")
    stripped = line.strip()
    if not stripped:
        raise UsageError("refused: the command is empty")
    if stripped.startswith(_HTTP_WORDS):
        raise UsageError(
            f"refused: {stripped.split()[0]!r} at the start of a line switches IGV's port to HTTP",
            hint="use 'tether igv url' for HTTP links",
        )
    return stripped


def quote(value: str, what: str = "argument") -> str:
    """``value`` as one IGV token: quoted when it has spaces or a quote character (which would
    open a quoted run in IGV's tokenizer and swallow the rest of the line), or is a URL (so IGV
    does not decode it)."""
    check_text(value, what)
    if not value:
        raise UsageError(f"refused: the {what} is empty")
    return _wrap(value, what, any(c.isspace() or c in "\"'" for c in value) or "://" in value)


def path_token(value: str, what: str = "path") -> str:
    """A path as one item of an IGV file list: :func:`quote`, and quoted for a comma too
    (IGV's list separator), so each item of ``load a,b`` can be quoted on its own."""
    check_text(value, what)
    if not value:
        raise UsageError(f"refused: the {what} is empty")
    return _wrap(value, what, any(c.isspace() or c in ",\"'" for c in value) or "://" in value)


def _wrap(value: str, what: str, needed: bool) -> str:
    if not needed:
        return value
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    raise UsageError(f"refused: the {what} {value!r} has both kinds of quotes; IGV cannot read it")


def word(value: str, what: str = "argument") -> str:
    """A value that must be a single bare word (an option, a number, a key)."""
    check_text(value, what)
    if not value or any(c.isspace() for c in value) or any(q in value for q in "\"'"):
        raise UsageError(f"refused: the {what} {value!r} must be one word without quotes")
    return value


def is_url(value: str) -> bool:
    head = value.split("://", 1)[0]
    return "://" in value and head.isalnum()


def local_path(text: str, what: str = "path") -> Path:
    """``text`` as a local path with ``~`` expanded; :class:`UsageError` for ``~nosuchuser``."""
    try:
        return Path(text).expanduser()
    except RuntimeError:  # Path.expanduser: "Could not determine home directory"
        raise UsageError(f"{what} {text!r}: no such user for ~", hint="nothing was sent") from None


def _path_error(exc: OSError, text: str, what: str) -> UsageError:
    return UsageError(f"{what} {text[:80]!r}: {exc.strerror or exc}", hint="nothing was sent")


def exists_locally(text: str, what: str = "path") -> bool:
    """Whether ``text`` names an existing local file or directory (a path too long, or an
    unknown ``~user``, is bad input: :class:`UsageError`)."""
    path = local_path(text, what)
    try:
        return path.exists()
    except OSError as exc:  # ENAMETOOLONG, ELOOP …
        raise _path_error(exc, text, what) from exc


def path_or_url(value: str | Path, what: str = "path", *, must_exist: bool = True) -> str:
    """A URL unchanged, or a local path made absolute (IGV resolves relative paths against its own cwd)."""
    text = str(value)
    check_text(text, what)
    if is_url(text):
        return text
    path = local_path(text, what)
    if must_exist and not exists_locally(text, what):
        raise UsageError(f"{what} {text} does not exist", hint="nothing was sent")
    try:
        return str(path.resolve())
    except OSError as exc:
        raise _path_error(exc, text, what) from exc


SNAPSHOT_SUFFIXES = (".png", ".svg")


def snapshot_target(path: str | Path) -> tuple[str, str]:
    """``(directory, file name)`` for a snapshot: absolute directory, ``.png``/``.svg`` only.

    IGV writes ``new File(snapshotDirectory, name)``, so an absolute name would be appended
    to the directory: the directory is always set first and a bare name sent.
    """
    text = str(path)
    check_text(text, "snapshot path")
    p = local_path(text, "snapshot path")
    if p.suffix.lower() not in SNAPSHOT_SUFFIXES:
        raise UsageError(
            f"refused: snapshot {text!r} must end in .png or .svg (IGV writes only those)",
            hint="nothing was sent",
        )
    try:
        p = p.resolve()
    except OSError as exc:
        raise _path_error(exc, text, "snapshot path") from exc
    return str(p.parent), p.name


def window_bounds(width: int | None, height: int | None) -> tuple[int, int] | None:
    """IGV's window size (``IGV.Bounds``) for snapshots ``width`` pixels wide; None: IGV's default.

    Measured with IGV 2.16 under Xvfb (no window manager): a snapshot is exactly the window's
    width (1600 -> 1600, 800 -> 800). Its height is not the window's: IGV paints every track in
    full, so a snapshot is as tall as its tracks (``maxPanelHeight`` caps each panel).
    """
    if width is None and height is None:
        return None
    for value, what in ((width, "width"), (height, "height")):
        if value is not None and not 300 <= value <= 16384:
            raise UsageError(f"refused: a snapshot {what} must be 300 to 16384 pixels, not {value}")
    return (width or 1150, height or 800)  # IGV's own default size otherwise
