"""All CLI output goes through here: JSON for scripts, rich tables and lines for people.

Adapters' commands call :func:`emit` (data) and :func:`note` (human-only remarks on stderr);
errors are printed by :func:`error`, called from the one place that maps errors to exit codes.

Another front end (the MCP server) runs a command with a :class:`Sink` (:func:`sink_to`): the
data the command emits (:func:`emit` with JSON, :func:`print_json`, :func:`json_line`, and
:func:`line`'s text) goes to the sink as values, not to stdout as text to be parsed back.

Text from apps and users (loci, selectors, JS errors, plan arguments, server messages) is
printed as text, never interpreted as rich markup: a ``[/]`` or ``[type=int]`` in it is shown
as it is. Only this module's own styling is markup, applied to :class:`rich.text.Text` spans.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any


class Sink:
    """Where a command's output goes instead of stdout: each value it emits, in order (JSON-able
    data; text lines as ``str``), and its remarks for people (:func:`note`)."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.notes: list[str] = []

    @property
    def result(self) -> Any:
        """What the command printed, as data: its one value, a list of several (a stream of
        JSON lines), or ``None``."""
        if not self.values:
            return None
        return self.values[0] if len(self.values) == 1 else list(self.values)


_SINK: ContextVar[Sink | None] = ContextVar("tether_render_sink", default=None)


@contextmanager
def sink_to(sink: Sink) -> Iterator[Sink]:
    """Send this thread's (this context's) command output to ``sink`` while the block runs."""
    token = _SINK.set(sink)
    try:
        yield sink
    finally:
        _SINK.reset(token)


def _console(stderr: bool = False):
    import shutil

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output is read by people too (logs, CI): don't squeeze tables into 80 columns.
    width = None if stream.isatty() else max(shutil.get_terminal_size((160, 24)).columns, 160)
    # force_jupyter=False: inside a kernel (the %igv … magics) the CLI still writes text to the
    # stream, which the magic captures, instead of rich sending its own display messages.
    return Console(
        stderr=stderr, highlight=False, soft_wrap=True, width=width, emoji=False, force_jupyter=False
    )


def to_jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def print_json(value: Any) -> None:
    sink = _SINK.get()
    if sink is not None:
        sink.values.append(json.loads(json.dumps(to_jsonable(value), ensure_ascii=False, default=str)))
        return
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def json_line(value: Any) -> None:
    """One compact JSON object per line (JSON Lines): what ``--follow --json`` streams print."""
    if _SINK.get() is not None:
        print_json(value)
        return
    line(json.dumps(to_jsonable(value), ensure_ascii=False, default=str))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def table(
    rows: Sequence[dict],
    columns: Sequence[str | tuple[str, str]],
    *,
    title: str | None = None,
    empty: str = "(none)",
) -> None:
    """A rich table of ``rows`` (dicts); ``columns`` are keys or (key, heading) pairs."""
    _console().print(renderable_table(rows, columns, title=title, empty=empty))


def renderable_table(
    rows: Sequence[dict],
    columns: Sequence[str | tuple[str, str]],
    *,
    title: str | None = None,
    empty: str = "(none)",
) -> Any:
    """What :func:`table` prints, as a rich renderable (for a live display)."""
    from rich.table import Table
    from rich.text import Text

    cols = [(c, c.upper()) if isinstance(c, str) else c for c in columns]
    if not rows:
        return Text(f"{title + ': ' if title else ''}{empty}")
    t = Table(
        title=Text(title) if title else None,
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        header_style="bold",
    )
    for _, heading in cols:
        t.add_column(Text(heading), overflow="fold")
    for row in rows:
        t.add_row(*(Text(_cell(row.get(key))) for key, _ in cols))
    return t


@contextmanager
def live(enabled: bool = True) -> Iterator[Any]:
    """A display on stdout that is redrawn in place (``update(renderable)``); ``None`` when
    stdout is not a terminal or ``enabled`` is false, so the caller prints lines instead."""
    if not enabled or not sys.stdout.isatty():
        yield None
        return
    from rich.live import Live

    with Live(console=_console(), auto_refresh=False, transient=False) as display:
        yield _LiveView(display)


class _LiveView:
    def __init__(self, display) -> None:
        self._display = display

    def update(self, renderable: Any) -> None:
        self._display.update(renderable, refresh=True)


def emit(
    data: Any,
    *,
    as_json: bool,
    columns: Sequence[str | tuple[str, str]] | None = None,
    title: str | None = None,
    text: str | None = None,
    empty: str = "(none)",
) -> None:
    """Print ``data``: JSON with ``as_json``; else a table (``columns``), ``text``, or key/value lines."""
    if as_json:
        print_json(data)
        return
    if text is not None:
        line(text)
        return
    plain = to_jsonable(data)
    if columns is not None:
        rows = plain if isinstance(plain, list) else [plain]
        table(rows, columns, title=title, empty=empty)
    elif isinstance(plain, dict):
        table(
            [{"key": k, "value": v} for k, v in plain.items()],
            [("key", "KEY"), ("value", "VALUE")],
            title=title,
        )
    elif isinstance(plain, list):
        for item in plain:
            line(_cell(item))
    else:
        line(_cell(plain))


def line(text: str) -> None:
    sink = _SINK.get()
    if sink is not None:
        sink.values.append(text.removesuffix("\n"))
        return
    sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
    sys.stdout.flush()


def note(text: str) -> None:
    """A remark for people, on stderr (never mixed into data on stdout)."""
    sink = _SINK.get()
    if sink is not None:
        sink.notes.append(text)
        return
    _console(stderr=True).print(text, markup=False)


def error(exc: Exception, *, as_json: bool) -> None:
    """Print a tether error: a JSON object on stdout with ``--json``, else a short message on stderr."""
    data = exc.to_dict() if hasattr(exc, "to_dict") else {"error": type(exc).__name__, "message": str(exc)}
    if as_json:
        print_json(data)
        return
    from rich.text import Text

    con = _console(stderr=True)
    con.print(Text.assemble(("error", "bold red"), ": ", str(data.get("message") or type(exc).__name__)))
    app_message = str(data.get("app_message") or "")  # the app's own text: any JSON value it sent
    if app_message and app_message not in str(data.get("message") or ""):
        con.print(f"  the app said: {app_message}", markup=False)
    if data.get("hint"):
        con.print(f"  hint: {data['hint']}", markup=False)


@contextmanager
def progress(description: str, *, total: float | None = None, enabled: bool = True) -> Iterator[Any]:
    """A progress bar (or spinner when ``total`` is None) on stderr; yields an object with
    ``advance(n=1)``, ``update(completed=…, description=…)``. Disabled when stderr is not a
    terminal or ``enabled`` is false (e.g. ``--json``), so scripts see clean output.
    """
    if not enabled or not sys.stderr.isatty():
        yield _NullProgress()
        return
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    cols = [SpinnerColumn(), TextColumn("{task.description}", markup=False)]
    if total is not None:
        cols += [BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f}")]
    cols.append(TimeElapsedColumn())
    if total is not None:
        cols += [TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*cols, console=_console(stderr=True), transient=True) as prog:
        task = prog.add_task(description, total=total)
        yield _Bar(prog, task)


class _NullProgress:
    def advance(self, n: float = 1) -> None:
        pass

    def update(self, **kw: Any) -> None:
        pass


class _Bar:
    def __init__(self, prog, task) -> None:
        self._prog, self._task = prog, task

    def advance(self, n: float = 1) -> None:
        self._prog.advance(self._task, n)

    def update(self, **kw: Any) -> None:
        self._prog.update(self._task, **kw)


def interactive() -> bool:
    """Whether stdin and stdout are both a terminal: what a full-screen view (:func:`screen`) needs."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


@contextmanager
def screen() -> Iterator[Any]:
    """A full-screen display on the terminal's alternate screen, with keys read as typed.

    Yields an object with ``update(renderable)`` (draw it, fitted to the terminal), ``size``
    (columns, rows, read at each call) and ``key(timeout)`` (the keys typed, ``""`` when the
    terminal was resized, ``None`` after ``timeout`` seconds). The terminal's settings (no echo,
    keys one at a time: cbreak, so Ctrl-C still interrupts), the cursor and the screen are
    restored on the way out, however it is left. POSIX terminals only (termios).
    """
    import os
    import signal

    try:
        import termios
        import tty
    except ImportError:  # pragma: no cover - Windows
        from ..errors import UsageError

        raise UsageError("a full-screen view needs a POSIX terminal") from None
    from rich.live import Live

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)

    def on_resize(signum: int, frame: Any) -> None:
        try:
            os.write(wake_w, b"r")
        except OSError:
            pass

    old_handler = signal.signal(signal.SIGWINCH, on_resize)
    console = _console()
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        with Live(console=console, screen=True, auto_refresh=False, transient=True) as display:
            yield _Screen(display, console, fd, wake_r)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGWINCH, old_handler)
        os.close(wake_r)
        os.close(wake_w)


class _Screen:
    def __init__(self, display, console, fd: int, wake: int) -> None:
        self._display, self._console, self._fd, self._wake = display, console, fd, wake

    @property
    def size(self) -> tuple[int, int]:
        import os

        try:  # the terminal itself, not $COLUMNS/$LINES, which a resize does not change
            cols, rows = os.get_terminal_size(sys.stdout.fileno())
        except (OSError, ValueError):
            return 80, 24
        return cols, rows

    def update(self, renderable: Any) -> None:
        self._console.size = self.size  # after a resize, draw at the new size
        self._display.update(renderable, refresh=True)

    def key(self, timeout: float) -> str | None:
        import os
        import select

        ready, _, _ = select.select([self._fd, self._wake], [], [], max(0.0, timeout))
        if self._wake in ready:
            try:
                os.read(self._wake, 64)
            except OSError:
                pass
            return ""
        if self._fd in ready:
            return os.read(self._fd, 64).decode("utf-8", errors="replace")
        return None
