"""WebDriver BiDi over websocket-client: console messages and uncaught JavaScript errors as they happen.

Firefox runs BiDi only with its Remote Agent (``--remote-debugging-port``; ``tether firefox
launch --bidi``), whose port it writes to ``<profile>/WebDriverBiDiServer.json``. The WebSocket
handshake must carry no ``Origin`` header (Firefox answers 400), hence ``suppress_origin``.
Firefox serves one session at a time, shared with Marionette: while another client holds
it, :class:`~tether.errors.Busy` is raised.

>>> with BiDi.open(port) as bidi:                                  # doctest: +SKIP
...     bidi.subscribe(["log.entryAdded"])
...     for entry in bidi.log_entries():
...         print(entry["level"], entry["text"])
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tether.deadline import Deadline
from tether.errors import (
    Busy,
    Closed,
    CommandError,
    ProtocolError,
    TetherError,
    Timeout,
    Unreachable,
)
from tether.transport.ws import WsConnection

from .probe import bidi_port_of

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Self

log = logging.getLogger("tether.firefox")


class BiDiError(CommandError):
    """Firefox answered a BiDi command with an error (``code`` is the W3C error code)."""

    def __init__(self, message: str, *, code: str, app_message: str = "") -> None:
        super().__init__(message, app_message=app_message, code=code)
        self.code = code


class BiDi:
    """One WebDriver BiDi session over a WebSocket: commands, and the events they subscribe to."""

    def __init__(self, ws: WsConnection, *, timeout: float = 10.0) -> None:
        self.ws = ws
        self.url = ws.url
        self.timeout = timeout
        self._next_id = 0
        self._events: deque[dict] = deque()
        self.session_id: str | None = None

    @classmethod
    def open(
        cls, port: int, host: str = "127.0.0.1", *, timeout: float = 10.0, new_session: bool = True
    ) -> BiDi:
        """Connect to ``ws://host:port/session`` and (by default) start a session."""
        url = f"ws://{host}:{port}/session"
        opening = Deadline(timeout)  # the handshake and the new session share it
        # Firefox answers 400 to a handshake that carries an Origin header.
        ws = WsConnection.open(url, deadline=opening, suppress_origin=True, what="Firefox WebDriver BiDi")
        bidi = cls(ws, timeout=timeout)
        if new_session:
            try:
                left = opening.remaining(0.05)
                bidi.session_id = session_id_of(
                    bidi.command("session.new", {"capabilities": {}}, timeout=left)
                )
            except BiDiError as exc:
                bidi.close(end_session=False)
                if exc.code == "session not created":
                    raise Busy(
                        f"Firefox's WebDriver session is taken: {exc.app_message}",
                        hint="Firefox has one WebDriver session for Marionette and BiDi together: "
                        "close the other client (another `logs --follow`, a Selenium or tether session) "
                        "and retry",
                    ) from exc
                raise
            except BaseException:
                bidi.close(end_session=False)
                raise
        return bidi

    def _recv(self, deadline: Deadline) -> dict:
        try:
            msg = self.ws.recv_json(deadline)
        except Closed as exc:
            raise Unreachable("Firefox closed the BiDi connection (did it exit?)") from exc
        if not isinstance(msg, dict):
            raise ProtocolError(f"a BiDi message is not an object: {str(msg)[:80]!r}")
        return msg

    def command(self, method: str, params: dict | None = None, *, timeout: float | None = None) -> Any:
        """Run one BiDi command; events that arrive meanwhile are kept for :meth:`events`."""
        if self.ws.closed:  # closed by this side (the session was closed): say so, typed
            raise Closed(f"the WebDriver BiDi connection is closed: {method} was not sent")
        self._next_id += 1
        msg_id = self._next_id
        deadline = Deadline(timeout or self.timeout)
        self.ws.send_json({"id": msg_id, "method": method, "params": params or {}}, deadline)
        while True:
            try:
                msg = self._recv(deadline)
            except Timeout as exc:
                raise Timeout(f"Firefox did not answer {method} within {deadline.seconds:g} s") from exc
            if msg.get("type") == "event":
                self._events.append(msg)
                continue
            if msg.get("id") != msg_id:
                continue
            if msg.get("type") == "error":
                code = str(msg.get("error") or "unknown error")
                text = str(msg.get("message") or "")
                raise BiDiError(f"{method}: {code}: {text}", code=code, app_message=text)
            return msg.get("result")

    def subscribe(self, events: list[str], contexts: list[str] | None = None) -> Any:
        """Subscribe to ``events`` (e.g. ``["log.entryAdded"]``), in every tab or only ``contexts``."""
        params: dict[str, Any] = {"events": events}
        if contexts:
            params["contexts"] = contexts
        return self.command("session.subscribe", params)

    def events(self, *, timeout: float | None = None) -> Iterator[dict]:
        """Events as they come (``{"method": …, "params": …}``); stops after ``timeout`` s of
        silence when given, runs until the connection closes otherwise."""
        while True:
            while self._events:
                yield self._events.popleft()
            try:
                msg = self._recv(Deadline(timeout if timeout is not None else 3600.0))
            except Timeout:
                if timeout is not None:
                    return
                continue
            if msg.get("type") == "event":
                yield msg

    def log_entries(self, *, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """``log.entryAdded`` events, flattened by :func:`log_entry`."""
        for event in self.events(timeout=timeout):
            if event.get("method") == "log.entryAdded":
                yield log_entry(event.get("params"))

    def close(self, *, end_session: bool = True) -> None:
        """End the session (Firefox keeps running) and close the WebSocket."""
        try:
            if end_session and self.session_id is not None:
                with contextlib.suppress(TetherError):  # closing the socket ends the session too
                    self.command("session.end", timeout=min(self.timeout, 5.0))
        finally:
            self.session_id = None
            self.ws.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Console:
    """The console messages and uncaught JavaScript errors of a session a client already holds,
    collected over that session's own BiDi endpoint (``capabilities.webSocketUrl``, which
    Marionette's ``NewSession`` returns for ``{"webSocketUrl": true}`` when Firefox runs the
    Remote Agent). A daemon thread reads ``log.entryAdded`` events into :attr:`entries` and
    hands each to ``on_entry``; :meth:`close` stops it.
    """

    def __init__(
        self, url: str, *, timeout: float = 10.0, on_entry: Callable[[dict[str, Any]], Any] | None = None
    ) -> None:
        ws = WsConnection.open(
            url, deadline=Deadline(timeout), suppress_origin=True, what="Firefox WebDriver BiDi"
        )
        self._bidi = BiDi(ws, timeout=timeout)
        self.entries: list[dict[str, Any]] = []
        self.on_entry = on_entry
        self._lock = threading.Lock()
        self._stop = threading.Event()
        try:
            self._bidi.subscribe(["log.entryAdded"])
        except BaseException:
            ws.close()
            raise
        for early in list(self._bidi._events):  # events that came with the subscription's reply
            self._take(early)
        self._bidi._events.clear()
        self._thread = threading.Thread(target=self._run, name="tether-firefox-console", daemon=True)
        self._thread.start()

    def _take(self, msg: dict) -> None:
        if msg.get("type") != "event" or msg.get("method") != "log.entryAdded":
            return
        entry = log_entry(msg.get("params"))
        with self._lock:
            self.entries.append(entry)
        if self.on_entry is not None:
            try:
                self.on_entry(entry)
            except Exception:  # a failing callback must not stop the collection
                log.exception("the console callback failed")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._bidi._recv(Deadline(0.25))
            except Timeout:
                continue
            except Exception:  # closed (the session ended, Firefox exited): nothing more will come
                return
            self._take(msg)

    def snapshot(self) -> list[dict[str, Any]]:
        """Every entry so far, oldest first."""
        with self._lock:
            return list(self.entries)

    def close(self) -> None:
        """Stop collecting and close the WebSocket."""
        self._stop.set()
        self._thread.join(timeout=1.0)
        self._bidi.ws.close()


def session_id_of(result: Any) -> str:
    """The ``sessionId`` of a ``session.new`` result; a result without one is a ProtocolError."""
    sid = result.get("sessionId") if isinstance(result, dict) else None
    if not isinstance(sid, str) or not sid:
        raise ProtocolError(f"Firefox answered session.new without a sessionId: {str(result)[:120]!r}")
    return sid


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _of(value: Any, *types: type) -> Any:
    """``value`` when it is one of ``types`` (never a bool for a number), else None."""
    if isinstance(value, bool) and bool not in types:
        return None
    return value if isinstance(value, types) else None


def log_entry(params: Any) -> dict[str, Any]:
    """A flat record of a ``log.entryAdded`` event: time, level, type (console/javascript), text, url.
    A field of the wrong type (Firefox's or a stranger's) reads as None, never an exception."""
    params = _obj(params)
    frames = _obj(params.get("stackTrace")).get("callFrames")
    where = _obj(frames[0]) if isinstance(frames, list) and frames else {}
    return {
        "timestamp": _of(params.get("timestamp"), int, float),
        "level": _of(params.get("level"), str),
        "type": _of(params.get("type"), str),
        "method": _of(params.get("method"), str),
        "text": _of(params.get("text"), str),
        "url": _of(where.get("url"), str),
        "line": _of(where.get("lineNumber"), int),
        "context": _of(_obj(params.get("source")).get("context"), str),
    }


__all__ = ["BiDi", "BiDiError", "Console", "bidi_port_of", "log_entry", "session_id_of"]
