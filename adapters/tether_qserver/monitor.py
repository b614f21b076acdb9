"""``tether qserver monitor``: the operator's live view of a queue server, read-only.

:class:`Monitor` keeps what the view shows — RE Manager's status, the running item, the queue,
the last items of history, the active runs — and reads each part again only when the status says
it changed: the queue on ``plan_queue_uid`` (or ``running_item_uid``), history on
``plan_history_uid``, the runs on ``run_list_uid``. A status poll (``reload``: the server's own
copy may be 0.4 s old) is one small request, so an idle server costs one request per interval.
:class:`ConsoleTail` follows the console in a background thread: the HTTP server's
``/api/console_output/ws`` (or its polling fallback) after the buffer's last lines, or RE
Manager's info socket over 0MQ. :func:`view` lays it all out for a terminal of a given size;
:func:`run` redraws it on every change, every second (the running item's elapsed time), and on a
resize, until ``q``.

Nothing here writes to the server: the monitor only reads. Server text (plan names, arguments,
console lines, messages) is put in :class:`rich.text.Text` as it is, never read as markup.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from tether.errors import AuthError, TetherError

from .views import history_rows, queue_rows

HISTORY_ROWS = 10
CONSOLE_KEEP = 500
CONSOLE_PAST = 100
INTERVAL = 0.5
STATUS_TIMEOUT = 3.0
QUIT_KEYS = ("q", "Q")


class Screen(Protocol):
    """Where :func:`run` draws (``tether.cli.render.screen`` on a terminal; a fake in tests)."""

    @property
    def size(self) -> tuple[int, int]: ...  # columns, rows

    def update(self, renderable: Any) -> None: ...

    def key(self, timeout: float) -> str | None: ...  # a key typed, "" on a resize, None on timeout


class ConsoleTail:
    """The console's last ``keep`` lines, filled by a daemon thread; :attr:`error` says why it stopped.

    ``source``: a function returning the message iterator (default: :func:`.stream.follow_console`
    for ``qs``); it is called before the buffer's past is read, so nothing printed in between is lost.
    """

    def __init__(
        self,
        qs: Any,
        *,
        transport: str = "auto",
        keep: int = CONSOLE_KEEP,
        source: Callable[[], Any] | None = None,
    ) -> None:
        self.qs = qs
        self.transport = transport
        self.lines: deque[str] = deque(maxlen=keep)
        self.error: str | None = None
        self.changed = threading.Event()
        self._partial = ""
        self._lock = threading.Lock()
        self._source = source
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Subscribe, read the past (the HTTP server's buffer; 0MQ has none), then follow in a thread."""
        try:
            if self._source is not None:
                messages = self._source()
            else:
                from .stream import follow_console

                messages = follow_console(self.qs, transport=self.transport)
            if self.qs.door == "http":
                self.feed(self.qs.console_text(CONSOLE_PAST))
        except AuthError:
            raise
        except TetherError as exc:
            self.error = exc.message
            return
        self._thread = threading.Thread(target=self._follow, args=(messages,), daemon=True, name="console")
        self._thread.start()

    def _follow(self, messages: Any) -> None:
        try:
            for msg in messages:
                self.feed(msg)
        except TetherError as exc:
            self.error = exc.message
        except Exception as exc:  # a thread's error must reach the view, not a traceback on stderr
            self.error = f"{type(exc).__name__}: {exc}"
        self.changed.set()

    def feed(self, text: str) -> None:
        """Add console text (messages may end mid-line: the rest comes with the next one)."""
        if not text:
            return
        with self._lock:
            parts = (self._partial + text).split("\n")
            self._partial = parts.pop()
            self.lines.extend(p.rstrip("\r") for p in parts)
        self.changed.set()

    def tail(self, count: int) -> list[str]:
        """The last ``count`` lines (an unfinished line last)."""
        with self._lock:
            lines = [*self.lines, self._partial] if self._partial else list(self.lines)
        return lines[-count:] if count > 0 else []


class Monitor:
    """What the view shows, read again only as the status's uids say it changed (see the module)."""

    def __init__(
        self, qs: Any, *, history: int = HISTORY_ROWS, clock: Callable[[], float] = time.time
    ) -> None:
        self.qs = qs
        self.history_rows = history
        self.clock = clock
        self.status: dict[str, Any] = {}
        self.queue: dict[str, Any] = {}
        self.history: list[dict] = []
        self.history_count = 0
        self.runs: list[dict] = []
        self.error: str | None = None
        self.updated: float | None = None
        self.reads: dict[str, int] = {"status": 0, "queue": 0, "history": 0, "runs": 0}
        self._seen: dict[str, Any] = {}
        self._running_since: dict[str, float] = {}

    def _changed(self, st: Mapping[str, Any], *keys: str) -> bool:
        now = tuple(st.get(k) for k in keys)
        if self._seen.get(keys[0], object()) == now:
            return False
        self._seen[keys[0]] = now
        return True

    def refresh(self) -> bool:
        """Read the status, and what it says changed; returns whether anything shown changed.

        A server that does not answer is shown as such (:attr:`error`) and asked again next
        time; a refused key (:class:`AuthError`) is raised: asking again cannot fix it."""
        try:
            # a short deadline: while a call waits, the screen does not answer q (the HTTP server
            # itself answers 408 after 2 s when RE Manager is gone)
            st = self.qs.status(reload=True, retries=0, timeout=STATUS_TIMEOUT)
            self.reads["status"] += 1
            if not isinstance(st, dict):
                st = {}
            changed = st != self.status or self.error is not None
            if self._changed(st, "plan_queue_uid", "running_item_uid"):
                self.queue = self.qs.queue_get(reload=True)
                self.reads["queue"] += 1
            if self._changed(st, "plan_history_uid"):
                items = self.qs.history_get(reload=True).get("items") or []
                self.history_count = len(items)
                self.history = items[-self.history_rows :] if self.history_rows else []
                self.reads["history"] += 1
            if self._changed(st, "run_list_uid"):
                self.runs = self._read_runs()
        except AuthError:
            raise
        except TetherError as exc:
            if self.error != exc.message:
                self.error = exc.message
                return True
            return False
        self.error = None
        self.status = st
        self.updated = self.clock()
        return changed

    def _read_runs(self) -> list[dict]:
        self.reads["runs"] += 1
        try:
            runs = self.qs.re_runs("active").get("run_list") or []
        except TetherError:
            return []  # an older server without the endpoint: the view leaves the runs out
        return [r for r in runs if isinstance(r, dict)]

    def running(self) -> dict | None:
        """The running item with ``elapsed`` seconds (from the item's ``time_start``, else from
        when this monitor first saw it running)."""
        item = self.queue.get("running_item") or None
        if not item or not self.status.get("running_item_uid"):
            return None
        uid = item.get("item_uid")
        start = (item.get("properties") or {}).get("time_start")
        if not isinstance(start, (int, float)):
            start = self._running_since.setdefault(uid, self.clock())
        return {**item, "elapsed": max(0.0, self.clock() - start)}


# -- the view -------------------------------------------------------------------------------------------
def _args_text(item: Mapping[str, Any]) -> str:
    import json

    def literal(value: Any) -> str:
        try:
            return json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return str(value)

    args = [literal(a) for a in item.get("args") or []]
    kwargs = [f"{k}={literal(v)}" for k, v in (item.get("kwargs") or {}).items()]
    return " ".join([*args, *kwargs])


def _elapsed(seconds: float) -> str:
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes}:{sec:02d}"


STATUS_STYLE = {"completed": "green", "failed": "red", "aborted": "red", "halted": "red", "stopped": "yellow"}


def header(mon: Monitor, where: str) -> Any:
    """One line: RE Manager's state, the environment, the RunEngine, the counts, then where."""
    from rich.text import Text

    st = mon.status
    env = "open" if st.get("worker_environment_exists") else "closed"
    env_state = st.get("worker_environment_state")
    if env_state and env_state not in ("idle", "closed", env):
        env += f" ({env_state})"
    parts: list[tuple[str, str] | str] = [
        "manager ",
        (str(st.get("manager_state") or "?"), "bold cyan"),
        "  env ",
        (env, "bold green" if st.get("worker_environment_exists") else "bold yellow"),
        "  RE ",
        (str(st.get("re_state") or "-"), "bold"),
        f"  queue {st.get('items_in_queue', '?')}  history {st.get('items_in_history', '?')}",
    ]
    if st.get("queue_stop_pending"):
        parts.append(("  stop pending", "yellow"))
    if st.get("pause_pending"):
        parts.append(("  pause pending", "yellow"))
    if st.get("queue_autostart_enabled"):
        parts.append("  autostart")
    lock = st.get("lock") or {}
    if isinstance(lock, dict) and (lock.get("environment") or lock.get("queue")):
        parts.append(("  locked", "yellow"))
    if mon.error:
        parts.append((f"  ✗ {mon.error}", "bold red"))
    parts.append((f"   {where}", "dim"))
    return Text.assemble(*parts, no_wrap=True, overflow="ellipsis")


#: columns that share the width the others leave, in this ratio (any other column: its content's width)
FLEXIBLE = {"args": 3, "msg": 2}


def _table(rows: list[dict], columns: list[tuple[str, str]], *, limit: int, empty: str) -> Any:
    from rich.table import Table
    from rich.text import Text

    if not rows:
        return Text(empty, style="dim")
    t = Table(show_edge=False, pad_edge=False, header_style="bold", box=None, expand=True)
    for key, heading in columns:
        # the free text (arguments, a failure's message) shares what is left; an exit status is never cut
        t.add_column(
            heading,
            no_wrap=True,
            overflow="ellipsis",
            ratio=FLEXIBLE.get(key),
            min_width=len(heading) if key == "exit_status" else None,
        )
    for row in rows[:limit]:
        cells = []
        for key, _ in columns:
            value = row.get(key)
            style = STATUS_STYLE.get(str(value), "") if key == "exit_status" else ""
            cells.append(Text("-" if value is None else str(value), style=style))
        t.add_row(*cells)
    if len(rows) > limit:
        t.add_row(Text(f"… {len(rows) - limit} more", style="dim"), *[""] * (len(columns) - 1))
    return t


def view(mon: Monitor, console: ConsoleTail | None, size: tuple[int, int], where: str = "") -> Any:
    """The whole screen for a terminal of ``size`` (columns, rows), as a rich renderable."""
    from rich.console import Group
    from rich.layout import Layout
    from rich.panel import Panel
    from rich.text import Text

    _, height = size
    height = max(height, 12)
    running = mon.running()
    if running:
        body = Text.assemble(
            (str(running.get("name")), "bold"),
            " ",
            _args_text(running),
            no_wrap=True,
            overflow="ellipsis",
        )
        meta = Text.assemble(
            ("elapsed ", "dim"),
            (_elapsed(running["elapsed"]), "bold"),
            ("   uid ", "dim"),
            str(running.get("item_uid") or "-"),
            ("   user ", "dim"),
            str(running.get("user") or "-"),
            no_wrap=True,
            overflow="ellipsis",
        )
        open_runs = [r for r in mon.runs if r.get("is_open")]
        if open_runs:
            meta.append(f"   runs {len(mon.runs)} ({len(open_runs)} open)", style="dim")
        now: Any = Group(body, meta)
    else:
        now = Text("nothing running", style="dim")

    queue = [r for r in queue_rows(mon.queue) if r.get("state") == "queued"]
    history = list(reversed(history_rows(mon.history)))  # newest first
    for row in queue + history:
        row["args"] = _args_text(row)
    for row in history:
        row["msg"] = str(row.get("msg") or "").split("\n")[0]

    room = height - 3 - 4  # header, running panel
    q_rows = min(len(queue), max(1, room // 3 - 3)) if queue else 1
    h_rows = min(len(history), max(1, room // 3 - 3)) if history else 1
    q_size = q_rows + 3 + (1 if len(queue) > q_rows else 0)
    h_size = h_rows + 3
    c_size = max(3, height - 3 - 4 - q_size - h_size)
    lines = console.tail(c_size - 2) if console else []
    console_text = Text("\n".join(lines), no_wrap=True, overflow="ellipsis")
    if console is not None and console.error:
        console_text = Text.assemble(console_text, ("\n" if lines else "") + f"console: {console.error}")
    layout = Layout()
    layout.split_column(
        Layout(Panel(header(mon, where), border_style="blue"), size=3),
        Layout(Panel(now, title="running", title_align="left"), size=4),
        Layout(
            Panel(
                _table(
                    queue,
                    [("pos", "#"), ("name", "PLAN"), ("args", "ARGS"), ("item_uid", "UID")],
                    limit=q_rows,
                    empty="the queue is empty",
                ),
                title=f"queue ({len(queue)})",
                title_align="left",
            ),
            size=q_size,
        ),
        Layout(
            Panel(
                _table(
                    history,
                    [("name", "PLAN"), ("args", "ARGS"), ("exit_status", "EXIT STATUS"), ("msg", "MESSAGE")],
                    limit=h_rows,
                    empty="no history",
                ),
                title=f"history (last {min(len(history), h_rows)} of {mon.history_count})",
                title_align="left",
            ),
            size=h_size,
        ),
        Layout(
            Panel(
                console_text, title="console", title_align="left", subtitle="q quits", subtitle_align="right"
            ),
            size=c_size,
        ),
    )
    return layout


def run(
    mon: Monitor,
    screen: Screen,
    console: ConsoleTail | None = None,
    *,
    where: str = "",
    interval: float = INTERVAL,
    duration: float | None = None,
) -> None:
    """Draw, then redraw on every change and at least once a second, until ``q`` (or ``duration`` s)."""
    end = None if duration is None else time.monotonic() + duration
    next_poll = 0.0
    drawn_at = 0.0
    dirty = True
    while end is None or time.monotonic() < end:
        now = time.monotonic()
        if now >= next_poll:
            dirty = mon.refresh() or dirty
            next_poll = time.monotonic() + interval
        if console is not None and console.changed.is_set():
            console.changed.clear()
            dirty = True
        if dirty or time.monotonic() - drawn_at >= 1.0:
            screen.update(view(mon, console, screen.size, where))
            drawn_at, dirty = time.monotonic(), False
        wait = max(0.0, min(next_poll - time.monotonic(), 0.1 if console is not None else interval))
        key = screen.key(wait)
        if key is None:
            continue
        if any(k in key for k in QUIT_KEYS):
            return
        if key == "":  # the terminal was resized
            dirty = True
