"""WebSocket connections with websocket-client: open with headers, receive under a deadline,
iterate messages, send JSON; every failure mapped to :mod:`tether.errors`.

Generic on purpose: the queue server's ``/api/status/ws`` stream and WebDriver BiDi both use
it. ``suppress_origin=True`` leaves out the ``Origin`` header (Firefox's Remote Agent
refuses handshakes that carry one). ``websocket`` is imported inside the functions, so
importing this module costs nothing.

**Deadlines and a size cap.** websocket-client's timeout bounds each socket read, so a server
trickling a frame (or the upgrade's headers) a byte at a time would never time out: a
:class:`~tether.transport.tcp.Watchdog` shuts the socket down shortly after the deadline (a
server that is merely silent still gets a plain :class:`Timeout`, and the connection stays
usable). A message (all its frames) longer than ``max_message`` bytes is a
:class:`ProtocolError` raised from its header, before its payload is read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..deadline import Deadline
from ..errors import AuthError, Closed, HandshakeRefused, ProtocolError, Timeout, Unreachable
from .http import redact_text
from .tcp import Watchdog

log = logging.getLogger("tether.transport.ws")
#: Default cap of one message (all its frames), in bytes: BiDi screenshots are tens of MiB.
MAX_MESSAGE = 256 * 1024 * 1024
#: How long after the deadline the watchdog cuts a peer that keeps a read alive by trickling
#: (a silent peer is timed out by the socket at the deadline itself, the connection intact).
GRACE = 0.25


class _TooBig(Exception):
    def __init__(self, size: int, cap: int) -> None:
        super().__init__(size, cap)
        self.size, self.cap = size, cap


def _cap_messages(ws: Any, cap: int) -> None:
    """Make ``ws`` refuse a frame (or a fragmented message) longer than ``cap`` bytes from its
    length field, before any of its payload is read or buffered."""
    frames, parts = ws.frame_buffer, ws.cont_frame
    recv_length, add = frames.recv_length, parts.add

    def checked_length() -> None:
        recv_length()
        so_far = len(parts.cont_data[1]) if parts.cont_data else 0
        if frames.length is not None and frames.length + so_far > cap:
            raise _TooBig(frames.length + so_far, cap)

    def checked_add(frame: Any) -> None:
        so_far = len(parts.cont_data[1]) if parts.cont_data else 0
        if so_far + len(frame.data) > cap:
            raise _TooBig(so_far + len(frame.data), cap)
        add(frame)
        if not frame.fin and parts.cont_data and isinstance(parts.cont_data[1], bytes):
            # websocket-client joins fragments with bytes += bytes: a copy of the whole message
            # per fragment (quadratic). A bytearray grows in place.
            parts.cont_data[1] = bytearray(parts.cont_data[1])

    frames.recv_length = checked_length
    parts.add = checked_add


def ws_url(http_url: str) -> str:
    """``http://…`` → ``ws://…``, ``https://…`` → ``wss://…`` (other schemes unchanged)."""
    if http_url.startswith("https://"):
        return "wss://" + http_url[len("https://") :]
    if http_url.startswith("http://"):
        return "ws://" + http_url[len("http://") :]
    return http_url


class WsConnection:
    """One open WebSocket. Create it with :meth:`open`; close it (or use ``with``)."""

    def __init__(
        self, ws: Any, url: str, secrets: Iterable[str] = (), *, max_message: int = MAX_MESSAGE
    ) -> None:
        self._ws = ws
        self.url = url
        self._secrets = [s for s in secrets if s]
        self.max_message = max_message
        if hasattr(ws, "frame_buffer") and hasattr(ws, "cont_frame"):
            _cap_messages(ws, max_message)

    @classmethod
    def open(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        deadline: Deadline,
        suppress_origin: bool = False,
        subprotocols: list[str] | None = None,
        sslopt: dict[str, Any] | None = None,
        secrets: Iterable[str] = (),
        what: str = "the server",
        max_message: int = MAX_MESSAGE,
    ) -> WsConnection:
        """Connect and complete the handshake by ``deadline`` (started before connecting).

        Raises :class:`AuthError` (401/403 on the upgrade), :class:`HandshakeRefused` (any
        other status), :class:`Timeout`, :class:`Unreachable`.
        """
        import websocket

        secrets = [s for s in secrets if s]
        header = [f"{k}: {v}" for k, v in (headers or {}).items()]
        options = {"header": header, "suppress_origin": suppress_origin, "subprotocols": subprotocols}
        # websocket.create_connection, done here so that the watchdog sees the socket as soon
        # as it exists (the upgrade's headers are read one byte per recv)
        ws = websocket.WebSocket(sslopt=sslopt, enable_multithread=True)
        timeout = deadline.seconds
        left = deadline.remaining()
        if left <= 0:
            raise Timeout(f"no time left for the WebSocket handshake with {url} ({timeout:g} s)")
        ws.settimeout(left)
        watch = Watchdog(Deadline(left + GRACE))
        try:
            with watch:
                watch.watch(ws)
                try:
                    ws.connect(url, **options)
                except Exception:
                    if watch.fired:
                        raise TimeoutError from None
                    raise
        except websocket.WebSocketBadStatusException as exc:
            status = getattr(exc, "status_code", None)
            if status in (401, 403):
                raise AuthError(
                    f"{what} refused the WebSocket handshake on {url} (HTTP {status})", status=status
                ) from exc
            raise HandshakeRefused(
                f"{what} refused the WebSocket handshake on {url} (HTTP {status})", status=status
            ) from exc
        except (TimeoutError, websocket.WebSocketTimeoutException) as exc:
            raise Timeout(f"the WebSocket handshake with {url} did not finish within {timeout:g} s") from exc
        except ConnectionRefusedError as exc:
            raise Unreachable(f"nothing accepts connections at {url}", reason="refused") from exc
        except (websocket.WebSocketException, OSError, ValueError) as exc:
            raise Unreachable(f"cannot open a WebSocket to {url}: {redact_text(str(exc), secrets)}") from exc
        log.debug("WebSocket open: %s", url)
        return cls(ws, url, secrets, max_message=max_message)

    # -- sending -----------------------------------------------------------------------------
    @contextmanager
    def _mapped(self, doing: str, seconds: float) -> Iterator[None]:
        """Translate websocket-client's exceptions raised while ``doing`` into tether errors."""
        import websocket

        try:
            yield
        except (TimeoutError, websocket.WebSocketTimeoutException) as exc:
            raise Timeout(f"{doing} {self.url}: nothing within {seconds:.3g} s") from exc
        except _TooBig as exc:
            self.abort()
            raise ProtocolError(
                f"{doing} {self.url}: a message of {exc.size} bytes exceeds the limit of {exc.cap} bytes",
                limit=exc.cap,
            ) from exc
        except websocket.WebSocketConnectionClosedException as exc:
            raise Closed(f"{doing} {self.url}: the WebSocket is closed") from exc
        except (websocket.WebSocketException, OSError) as exc:
            raise Unreachable(f"{doing} {self.url} failed: {exc}") from exc

    def send_text(self, text: str, deadline: Deadline) -> None:
        """Send one text message by ``deadline``."""
        left = deadline.remaining()
        if left <= 0:
            raise Timeout(f"sending on {self.url}: no time left ({deadline.seconds:.3g} s)")
        self._ws.settimeout(left)
        with self._mapped("sending on", deadline.seconds):
            self._ws.send(text)

    def send_json(self, obj: Any, deadline: Deadline) -> None:
        """Send ``obj`` as one JSON text message."""
        self.send_text(json.dumps(obj), deadline)

    # -- receiving ---------------------------------------------------------------------------
    def recv(self, deadline: Deadline) -> str:
        """The next text message, by ``deadline``.

        Raises :class:`Timeout` when nothing arrives in time (the connection stays usable),
        :class:`Closed` when the server closed it.
        """
        import websocket

        seconds, total = deadline.remaining(), deadline.seconds
        if seconds <= 0:
            raise Timeout(f"no message on {self.url} within {total:.3g} s")
        self._ws.settimeout(seconds)
        watch = Watchdog(Deadline(seconds + GRACE))
        with self._mapped("receiving on", total), watch:
            watch.watch(self._ws)
            try:
                opcode, data = self._ws.recv_data(control_frame=False)
            except Exception:
                if watch.fired:  # a peer trickling a message: cut at the deadline
                    self.abort()
                    raise TimeoutError from None
                raise
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            reason = data[2:].decode("utf-8", errors="replace")
            raise Closed(
                f"the server closed the WebSocket {self.url} (code {code}{': ' + reason if reason else ''})",
                code=code,
                reason=reason,
            )
        if isinstance(data, (bytes, bytearray)):
            return data.decode("utf-8", errors="replace")
        return data

    def recv_json(self, deadline: Deadline) -> Any:
        """The next message decoded as JSON (:class:`ProtocolError` if it is not JSON)."""
        text = self.recv(deadline)
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ProtocolError(f"a message on {self.url} is not JSON: {text[:120]!r}") from exc

    def messages(self, idle_timeout: float) -> Iterator[str]:
        """Messages as they arrive; raises :class:`Timeout` after ``idle_timeout`` s of silence
        and :class:`Closed` when the server closes."""
        while True:
            yield self.recv(Deadline(idle_timeout))

    # -- lifetime ----------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._ws is None or not self._ws.connected

    def abort(self) -> None:
        """Drop the connection without the closing handshake (the peer broke the protocol: it
        would not answer a close frame in step either)."""
        if self._ws is None:
            return
        try:
            self._ws.shutdown()
        except Exception:  # already broken: nothing more to do
            pass
        self._ws = None

    def close(self) -> None:
        """Close the WebSocket (quietly when it is already broken)."""
        if self._ws is None:
            return
        try:
            self._ws.close(timeout=1)
        except Exception:  # closing a broken socket: nothing more to do
            pass
        self._ws = None

    def __enter__(self) -> WsConnection:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ["MAX_MESSAGE", "WsConnection", "ws_url"]
