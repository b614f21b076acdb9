"""IGV's batch port, framed reliably with ``echo <nonce>``.

IGV answers each command line with one line, usually; but a command that throws gets no
answer at all (IGV 2.9–2.19.2), some errors span several lines, and a dying listener just
closes the socket. IGV runs the lines of a connection strictly in order, so an ``echo <nonce>``
sent after a command comes back after the command's whole reply. The reply is every line
before the nonce:

- exactly ``OK``            → success;
- nothing before the nonce  → IGV failed the command silently (:class:`~tether.errors.CommandError`);
- anything else             → IGV's own error text (:class:`~tether.errors.CommandError`);
- EOF before the nonce      → the listener died (:class:`~tether.errors.Unreachable`, with the recovery).

**When the echo is sent** (``confirm``):

- ``"on-doubt"`` (default): the command goes alone; a first reply line of exactly ``OK`` settles
  it. The echo is sent only when the first line is anything else (to collect a multi-line
  error) or when no line has come within ``grace`` seconds (to tell "failed silently" from
  "still working"). A good command costs what a bare client pays; a silent failure is
  reported after ``grace`` instead of hanging.
- ``"always"``: every command is written together with its echo. On a long-lived connection
  that walks into the **Nagle/delayed-ACK trap** (measured by ``benchmarks/igv_goto.py``): IGV
  writes ``OK`` and the nonce as two small segments without ``TCP_NODELAY``, Nagle holds the
  nonce until ``OK`` is ACKed, and the client delays that ACK ~40 ms. tether defuses it with ``TCP_QUICKACK``
  re-armed before every read (Linux) and, with ``lazy``, by returning on ``OK`` and reading the
  nonce after the next command's write (which carries the ACK). It still pays IGV's own time
  for one more command per command (~1.3× a bare goto), hence not the default.

Queries (``echo``, ``version``, ``currentGenomePath``) always use the echo: their answer is data.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from tether.deadline import Deadline
from tether.errors import Busy, CommandError, ProtocolError, TetherError, Timeout, Unreachable, UsageError
from tether.transport.line import LineConnection

#: IGV's prefixes for "this command is unknown" (2.x spells it UNKOWN).
UNKNOWN_PREFIXES = ("UNKNOWN COMMAND", "UNKOWN COMMAND")
LISTENER_DIED_HINT = (
    "if IGV is still running, its batch listener has died: re-enable the port "
    "(View > Preferences > Advanced > Enable port) or restart IGV"
)


#: Seconds to wait for a first reply line before asking ``echo <nonce>`` whether one is coming.
GRACE = 0.25


def new_nonce() -> str:
    return f"tether-{os.urandom(6).hex()}"  # secrets.token_hex, without importing secrets


@dataclass
class Reply:
    """What IGV answered to one command: ``text`` is ``OK`` on success, or the query's answer."""

    command: str
    text: str
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.text == "OK"

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "reply": self.text, "ok": self.ok, "seconds": round(self.seconds, 6)}

    def __str__(self) -> str:
        return self.text


def _where(host: str, port: int) -> str:
    return f"IGV at {host}:{port}"


class IGVConnection:
    """One connection to IGV's port, nonce-framed. Not thread-safe; IGV serves one client at a time."""

    def __init__(
        self,
        line: LineConnection,
        host: str,
        port: int,
        *,
        confirm: str = "on-doubt",
        lazy: bool = False,
        grace: float = GRACE,
    ) -> None:
        if confirm not in ("on-doubt", "always"):
            raise UsageError(f"confirm must be 'on-doubt' or 'always', not {confirm!r}")
        self.line = line
        self.host = host
        self.port = port
        self.confirm = confirm
        self.lazy = lazy
        self.grace = grace
        self._pending: str | None = None  # a nonce still to read (lazy mode)

    @classmethod
    def open(
        cls,
        host: str,
        port: int,
        *,
        connect_timeout: float = 3.0,
        ready_timeout: float = 5.0,
        quickack: bool = True,
        confirm: str = "on-doubt",
        lazy: bool = False,
        grace: float = GRACE,
    ) -> IGVConnection:
        """Connect and make sure IGV is serving *this* connection before any command is sent.

        IGV serves one client at a time and leaves the others in the kernel's backlog, where a
        connect succeeds and nothing is read. A command written there would run later, after we
        gave up on it; so only a harmless ``echo`` goes first. No answer within ``ready_timeout``
        is :class:`~tether.errors.Busy`.
        """
        # IGV must serve this connection within ready_timeout, the connect included (one deadline
        # started before connecting); the connect alone has its own, shorter limit
        deadline = Deadline(ready_timeout)
        line = LineConnection.open(host, port, deadline.cap(connect_timeout), what="IGV", quickack=quickack)
        nonce = new_nonce()
        try:
            line.send_line(f"echo {nonce}", deadline)
            answer = line.readline(deadline)
        except Timeout as exc:
            line.close()
            raise Busy(
                f"{_where(host, port)} accepted the connection but did not answer within "
                f"{ready_timeout:g} s: another client holds its port (IGV serves one at a time), "
                "or IGV is busy with a long command",
                hint="close the other client or wait for IGV, then retry; nothing was sent",
                host=host,
                port=port,
                reason="busy",
            ) from exc
        except TetherError:
            line.close()
            raise
        if answer is None:
            line.close()
            raise Unreachable(
                f"{_where(host, port)} closed the connection without answering",
                hint=LISTENER_DIED_HINT,
                host=host,
                port=port,
            )
        if answer != nonce:
            line.close()
            raise ProtocolError(f"{host}:{port} answered {answer[:60]!r} to 'echo {nonce}': is this IGV?")
        return cls(line, host, port, confirm=confirm, lazy=lazy, grace=grace)

    @property
    def closed(self) -> bool:
        return self.line.closed

    def _read(
        self, command: str, deadline: Deadline, started: float, *, soft: Deadline | None = None
    ) -> str | None:
        """One reply line, mapping timeouts and a dead listener to errors that say what happened.

        With ``soft``, returns ``None`` when that earlier deadline passes (nothing is lost: a
        partial line stays buffered).
        """
        try:
            text = self.line.readline(soft if soft is not None else deadline)
        except Timeout as exc:
            if soft is not None and not deadline.expired:
                return None
            self.close(drain=False)
            raise Timeout(
                f"{_where(self.host, self.port)} did not finish {command!r} within {deadline.seconds:g} s "
                "(timed out mid-command); the connection was closed and the command was not resent",
                hint="IGV may still complete it; raise the deadline with --timeout for slow loads",
                host=self.host,
                port=self.port,
                reason="timeout",
            ) from exc
        except ProtocolError as exc:  # an endless line: IGV is alive and talking, but not IGV's way
            self.close(drain=False)
            raise ProtocolError(
                f"{_where(self.host, self.port)} answered {command!r} with {exc.message}: "
                "not an IGV reply; the connection was closed",
                host=self.host,
                port=self.port,
                reason="protocol",
            ) from exc
        except Unreachable as exc:
            self.close(drain=False)
            raise Unreachable(
                f"{_where(self.host, self.port)} dropped the connection during {command!r} "
                f"after {time.monotonic() - started:.2f} s: IGV exited or its listener died",
                hint=LISTENER_DIED_HINT,
                host=self.host,
                port=self.port,
                reason="closed",
            ) from exc
        if text is None:
            self.close(drain=False)
            raise Unreachable(
                f"{_where(self.host, self.port)} closed the connection before answering {command!r}: "
                "IGV exited or its listener died",
                hint=LISTENER_DIED_HINT,
                host=self.host,
                port=self.port,
                reason="closed",
            )
        return text

    def _until(self, nonce: str, command: str, deadline: Deadline, started: float) -> list[str]:
        """Every line before ``nonce``."""
        lines = []
        while (text := self._read(command, deadline, started)) != nonce:
            lines.append(text)  # type: ignore[arg-type]
        return lines

    def _drain(self, command: str, deadline: Deadline, started: float) -> None:
        nonce, self._pending = self._pending, None
        if nonce is None:
            return
        extra = self._until(nonce, command, deadline, started)
        if extra:
            raise ProtocolError(
                f"IGV sent unexpected lines after an 'OK' of the previous command: {extra[:3]!r}"
            )

    def execute(self, command: str, timeout: float, *, query: bool = False) -> Reply:
        """Send one (already checked) command line and return IGV's reply.

        ``query``: the answer is data (``echo``, ``version``…), not ``OK``; only an
        unknown-command answer is an error. Raises :class:`CommandError` for IGV's refusals.
        """
        if self.closed:
            raise Unreachable("the connection to IGV is closed")
        started = time.monotonic()
        deadline = Deadline(timeout)
        if self.confirm == "always" or query:
            lines = self._execute_eager(command, deadline, started, query)
        else:
            lines = self._execute_on_doubt(command, deadline, started)
        return _classify(command, lines, time.monotonic() - started, query=query)

    def _execute_eager(self, command: str, deadline: Deadline, started: float, query: bool) -> list[str]:
        # The next write goes before the pending nonce is read: it carries the ACK IGV waits for.
        nonce = new_nonce()
        self.line.send_lines([command, f"echo {nonce}"], deadline)
        self._drain(command, deadline, started)
        lines: list[str] = []
        while (text := self._read(command, deadline, started)) != nonce:
            lines.append(text)  # type: ignore[arg-type]
            if self.lazy and not query and lines == ["OK"] and not self.line.has_line():
                self._pending = nonce
                break
        return lines

    def _execute_on_doubt(self, command: str, deadline: Deadline, started: float) -> list[str]:
        # A first line of exactly "OK" settles it: IGV answers each line in order, one line per
        # command. Only when the reply is something else, or nothing arrives within the grace
        # period, is the echo sent — and then every line before its nonce is the reply.
        self._drain(command, deadline, started)
        self.line.send_line(command, deadline)
        soft = Deadline(min(self.grace, deadline.remaining()))
        first = self._read(command, deadline, started, soft=soft)
        if first == "OK" and not self.line.has_line():
            return ["OK"]
        nonce = new_nonce()
        self.line.send_line(f"echo {nonce}", deadline)
        lines = [] if first is None else [first]
        return lines + self._until(nonce, command, deadline, started)

    def execute_many(self, commands: list[str], timeout: float) -> list[Reply]:
        """Send several (already checked) command lines in one write and return their replies,
        in order; ``timeout`` covers them all.

        IGV reads its port line by line and runs each to the end (on its event thread) before it
        reads the next, so the lines run exactly as if each waited for its answer; only the
        round trips between them go. Replies are settled as in ``on-doubt``: one ``OK`` per line;
        when a line is slow (``grace`` with no answer) or something else than ``OK`` comes, one
        ``echo <nonce>`` follows and every line before its nonce is the rest of the replies.
        Raises :class:`CommandError`: IGV's error text is blamed on the line at its position;
        fewer answers than lines (a line IGV failed silently) names every line, since the ``OK``
        answers do not say which line wrote nothing.
        """
        if self.closed:
            raise Unreachable("the connection to IGV is closed")
        if not commands:
            return []
        started = time.monotonic()
        deadline = Deadline(timeout)
        label = commands[0] if len(commands) == 1 else f"{commands[0]} (and {len(commands) - 1} more)"
        self._drain(label, deadline, started)
        self.line.send_lines(list(commands), deadline)
        replies: list[Reply] = []
        while len(replies) < len(commands):
            command = commands[len(replies)]
            soft = Deadline(min(self.grace, deadline.remaining()))
            first = self._read(command, deadline, started, soft=soft)
            if first == "OK":
                replies.append(Reply(command, "OK", time.monotonic() - started, ["OK"]))
                continue
            nonce = new_nonce()  # slow, silent or not OK: let the echo say where the replies end
            self.line.send_line(f"echo {nonce}", deadline)
            rest = [] if first is None else [first]
            rest += self._until(nonce, command, deadline, started)
            left = commands[len(replies) :]
            if len(rest) == len(left) and all(text == "OK" for text in rest):
                replies += [Reply(c, "OK", time.monotonic() - started, ["OK"]) for c in left]
                break
            bad = next((i for i, text in enumerate(rest) if text != "OK"), None)
            if bad is not None:  # IGV's own error text, blamed on the line at its position
                _classify(left[min(bad, len(left) - 1)], rest[bad:], time.monotonic() - started, query=False)
            if len(rest) < len(left):  # OKs only, too few: one line wrote nothing, which is not known
                raise CommandError(  # any earlier OK may have been the next line's
                    f"IGV failed one of {', '.join(repr(c) for c in commands)} silently: "
                    f"{len(replies) + len(rest)} answer(s) for {len(commands)} line(s) "
                    "(IGV 2.9-2.19.2 drop a command that throws, e.g. a bad option)",
                    app_message="",
                    command=label,
                    reason="silent",
                )
            raise CommandError(  # OKs only, more lines than commands
                f"IGV answered {label!r} with {len(rest)} lines for {len(left)} commands: {rest[:4]!r}",
                app_message="\n".join(rest),
                command=left[-1],
            )
        return replies

    def send_exit(self, timeout: float) -> None:
        """Send ``exit`` (which never answers) and wait for IGV to close the connection."""
        deadline = Deadline(timeout)
        started = time.monotonic()
        self._drain("exit", deadline, started)
        self.line.send_line("exit", deadline)
        try:
            while self.line.readline(deadline) is not None:
                pass
        except Timeout as exc:
            raise Timeout(f"IGV did not exit within {timeout:g} s of the 'exit' command") from exc
        except Unreachable:
            pass  # a reset is as good as a close here: IGV is gone
        finally:
            self.close(drain=False)

    def close(self, *, drain: bool = True, timeout: float = 2.0) -> None:
        """Close, first reading a pending nonce so IGV never writes into a closed socket."""
        if drain and self._pending and not self.closed:
            try:
                self._drain("close", Deadline(timeout), time.monotonic())
            except TetherError:
                pass
        self._pending = None
        self.line.close()


def _classify(command: str, lines: list[str], seconds: float, *, query: bool) -> Reply:
    while lines and lines[-1] == "":
        lines.pop()  # some IGV errors end with a stray newline (an extra blank line)
    text = "\n".join(lines)
    verb = command.split(" ", 1)[0]
    if text.upper().startswith(UNKNOWN_PREFIXES):
        raise CommandError(
            f"IGV does not know the command {verb!r}: {text}", app_message=text, command=command
        )
    if query:
        return Reply(command, text, seconds, lines)
    if text == "OK":
        return Reply(command, text, seconds, lines)
    if not lines:
        raise CommandError(
            f"IGV failed {command!r} silently: it wrote no answer before the echo that followed it "
            "(IGV 2.9-2.19.2 drop a command that throws, e.g. a bad option)",
            app_message="",
            command=command,
            reason="silent",
        )
    raise CommandError(f"IGV refused {command!r}: {text}", app_message=text, command=command)
