"""The whole tether error tree, and the exit code each error maps to.

Every error tether raises is a :class:`TetherError`; no raw ``socket``/``requests``/
``websocket`` exception escapes the library (lower layers are translated with
``raise Mapped(...) from exc``). Each class carries ``exit_code``, the one the CLI
exits with; the CLI maps errors to codes in one place (``tether.cli.app``) by reading it.

    TetherError                      (exit 1 unless a subclass says otherwise)
    ├── CommandError           1     the app answered and refused the command; ``app_message``
    │   │                            holds the app's own text
    │   └── HttpError          1     an HTTP error status other than auth (``status``)
    ├── UsageError             2     bad usage or input, refused before anything was sent
    │   │                            (also a ``ValueError``)
    │   ├── AmbiguousTarget    2     several endpoints match; ``candidates`` lists them
    │   └── UnknownApp         2     no adapter of that name (or it is disabled); also a ``NotFound``
    ├── NotFound               3     nothing verified where we looked; ``looked_at`` says where
    ├── Unreachable            4     refused, closed, busy or silent (also a ``ConnectionError``)
    │   ├── Busy               4     another client holds the app's single connection/session
    │   ├── Timeout            4     no answer within the deadline (also a ``TimeoutError``)
    │   ├── ProtocolError      4     the peer broke the protocol (garbage framing, bad JSON)
    │   ├── HandshakeRefused   4     a WebSocket upgrade answered with another status (``status``)
    │   └── Closed             4     the peer closed the WebSocket (``code``, ``reason``)
    ├── AuthError              5     authentication or permission failure (also a
    │                                ``PermissionError``)
    └── WrongApp               6     another app answers on that port (fingerprint mismatch)

Messages are meant for people: they say what happened and, where there is one, what
to do next (``hint``). They never contain secrets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "EXIT_CODES",
    "AmbiguousTarget",
    "AuthError",
    "Busy",
    "Closed",
    "CommandError",
    "HandshakeRefused",
    "HttpError",
    "NotFound",
    "ProtocolError",
    "TetherError",
    "Timeout",
    "UnknownApp",
    "Unreachable",
    "UsageError",
    "WrongApp",
]


class TetherError(Exception):
    """Root of every error tether raises."""

    exit_code: int = 1

    def __init__(self, message: str = "", *, hint: str | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description, used by ``--json`` output of failures."""
        out: dict[str, Any] = {
            "error": type(self).__name__,
            "message": self.message,
            "exit_code": self.exit_code,
        }
        if self.hint:
            out["hint"] = self.hint
        for key, value in self.detail.items():
            if isinstance(value, (str, int, float, bool, type(None), list, dict)):
                out[key] = value
        return out


class CommandError(TetherError):
    """The app answered and refused the command. ``app_message`` is the app's own text."""

    exit_code = 1

    def __init__(self, message: str, *, app_message: str | None = None, **kw: Any) -> None:
        super().__init__(message, app_message=app_message, **kw)
        self.app_message = app_message


class HttpError(CommandError):
    """The server answered with an HTTP error status (4xx/5xx other than auth).

    ``status`` is the HTTP status, ``app_message`` the server's ``detail`` (or body text).
    """

    def __init__(self, message: str, *, status: int, app_message: str | None = None, **kw: Any) -> None:
        super().__init__(message, app_message=app_message, status=status, **kw)
        self.status = status


class UsageError(TetherError, ValueError):
    """Bad usage or input, refused before anything was sent to the app."""

    exit_code = 2


class AmbiguousTarget(UsageError):
    """Several endpoints match; name one with ``--port`` (``candidates`` lists them)."""

    def __init__(self, message: str, *, candidates: Sequence[Any] = (), **kw: Any) -> None:
        cands = [c.to_dict() if hasattr(c, "to_dict") else c for c in candidates]
        super().__init__(message, candidates=cands, **kw)
        self.candidates = list(candidates)


class NotFound(TetherError):
    """Nothing verified where we looked. ``looked_at`` lists the places (host:port, files)."""

    exit_code = 3

    def __init__(self, message: str, *, looked_at: Sequence[str] = (), **kw: Any) -> None:
        super().__init__(message, looked_at=list(looked_at), **kw)
        self.looked_at = list(looked_at)


class UnknownApp(UsageError, NotFound):
    """No adapter of that name, or it is disabled: bad usage (exit 2), whichever command names it.
    Also a :class:`NotFound`, which it was before (old handlers still catch it)."""


class Unreachable(TetherError, ConnectionError):
    """The app is unreachable: refused, closed the connection, or busy."""

    exit_code = 4


class Busy(Unreachable):
    """Another client holds the app's single connection or session."""


class Timeout(Unreachable, TimeoutError):
    """No answer within the deadline. The connection was closed; nothing was resent."""


class ProtocolError(Unreachable):
    """The peer broke the protocol (malformed framing, oversize frame, bad JSON)."""


class HandshakeRefused(Unreachable):
    """The server answered the upgrade with an HTTP status other than 101 (``status``), e.g. a
    404 where the endpoint does not exist. 401/403 raise :class:`AuthError` instead."""

    def __init__(self, message: str, *, status: int | None, **kw: Any) -> None:
        super().__init__(message, status=status, **kw)
        self.status = status


class Closed(Unreachable):
    """The server closed the WebSocket (``code``/``reason`` as sent, when it sent them)."""

    def __init__(self, message: str, *, code: int | None = None, reason: str = "", **kw: Any) -> None:
        super().__init__(message, code=code, reason=reason, **kw)
        self.code = code
        self.reason = reason


class AuthError(TetherError, PermissionError):
    """Authentication or permission failure."""

    exit_code = 5


class WrongApp(TetherError):
    """Another app answers on that port: its fingerprint is not the one asked for."""

    exit_code = 6


#: Documented exit codes of the ``tether`` command.
EXIT_CODES: dict[int, str] = {
    0: "done",
    1: "the app answered and refused the command",
    2: "bad usage or input, refused before anything was sent",
    3: "the app was not found (nothing verified where we looked)",
    4: "the app is unreachable, busy with another client, or did not answer in time",
    5: "authentication or permission failure",
    6: "another app answers on that port (fingerprint mismatch)",
}
