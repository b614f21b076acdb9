"""WebSocket connections with websocket-client: open with headers, receive under a deadline,
iterate messages, send JSON; every failure mapped to :mod:`tether.errors`.

Generic on purpose: the queue server's ``/api/status/ws`` stream and WebDriver BiDi both use
it. ``suppress_origin=True`` leaves out the ``Origin`` header (Firefox's Remote Agent
refuses handshakes that carry one). ``websocket`` is imported inside the functions, so
importing this module costs nothing.
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

log = logging.getLogger("tether.transport.ws")


def ws_url(http_url: str) -> str:
    """``http://…`` → ``ws://…``, ``https://…`` → ``wss://…`` (other schemes unchanged)."""
    if http_url.startswith("https://"):
        return "wss://" + http_url[len("https://") :]
    if http_url.startswith("http://"):
        return "ws://" + http_url[len("http://") :]
    return http_url


class WsConnection:
    """One open WebSocket. Create it with :meth:`open`; close it (or use ``with``)."""

    def __init__(self, ws: Any, url: str, secrets: Iterable[str] = ()) -> None:
        self._ws = ws
        self.url = url
        self._secrets = [s for s in secrets if s]

    @classmethod
    def open(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        suppress_origin: bool = False,
        subprotocols: list[str] | None = None,
        sslopt: dict[str, Any] | None = None,
        secrets: Iterable[str] = (),
        what: str = "the server",
    ) -> WsConnection:
        """Connect and complete the handshake within ``timeout`` seconds.

        Raises :class:`AuthError` (401/403 on the upgrade), :class:`HandshakeRefused` (any
        other status), :class:`Timeout`, :class:`Unreachable`.
        """
        import websocket

        secrets = [s for s in secrets if s]
        header = [f"{k}: {v}" for k, v in (headers or {}).items()]
        try:
            ws = websocket.create_connection(
                url,
                timeout=timeout,
                header=header,
                suppress_origin=suppress_origin,
                subprotocols=subprotocols,
                sslopt=sslopt,
                enable_multithread=True,
            )
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
        return cls(ws, url, secrets)

    # -- sending -----------------------------------------------------------------------------
    @contextmanager
    def _mapped(self, doing: str, seconds: float) -> Iterator[None]:
        """Translate websocket-client's exceptions raised while ``doing`` into tether errors."""
        import websocket

        try:
            yield
        except (TimeoutError, websocket.WebSocketTimeoutException) as exc:
            raise Timeout(f"{doing} {self.url}: nothing within {seconds:.3g} s") from exc
        except websocket.WebSocketConnectionClosedException as exc:
            raise Closed(f"{doing} {self.url}: the WebSocket is closed") from exc
        except (websocket.WebSocketException, OSError) as exc:
            raise Unreachable(f"{doing} {self.url} failed: {exc}") from exc

    def send_text(self, text: str, timeout: float = 5.0) -> None:
        """Send one text message within ``timeout`` seconds."""
        self._ws.settimeout(timeout)
        with self._mapped("sending on", timeout):
            self._ws.send(text)

    def send_json(self, obj: Any, timeout: float = 5.0) -> None:
        """Send ``obj`` as one JSON text message."""
        self.send_text(json.dumps(obj), timeout)

    # -- receiving ---------------------------------------------------------------------------
    def recv(self, timeout: float | Deadline) -> str:
        """The next text message, within ``timeout`` seconds (or by a :class:`Deadline`).

        Raises :class:`Timeout` when nothing arrives in time (the connection stays usable),
        :class:`Closed` when the server closed it.
        """
        import websocket

        seconds = timeout.remaining() if isinstance(timeout, Deadline) else timeout
        if seconds <= 0:
            raise Timeout(f"no message on {self.url} in time")
        self._ws.settimeout(seconds)
        with self._mapped("receiving on", seconds):
            opcode, data = self._ws.recv_data(control_frame=False)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            reason = data[2:].decode("utf-8", errors="replace")
            raise Closed(
                f"the server closed the WebSocket {self.url} (code {code}{': ' + reason if reason else ''})",
                code=code,
                reason=reason,
            )
        if isinstance(data, bytes):
            return data.decode("utf-8", errors="replace")
        return data

    def recv_json(self, timeout: float | Deadline) -> Any:
        """The next message decoded as JSON (:class:`ProtocolError` if it is not JSON)."""
        text = self.recv(timeout)
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ProtocolError(f"a message on {self.url} is not JSON: {text[:120]!r}") from exc

    def messages(self, idle_timeout: float) -> Iterator[str]:
        """Messages as they arrive; raises :class:`Timeout` after ``idle_timeout`` s of silence
        and :class:`Closed` when the server closes."""
        while True:
            yield self.recv(idle_timeout)

    # -- lifetime ----------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._ws is None or not self._ws.connected

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


__all__ = ["WsConnection", "ws_url"]
