"""Fakes of Firefox's Marionette port, for tests of this adapter and of code that drives Firefox.

Marionette frames are ``<byte length>:<json>``; a server greets first, then answers
``[0, id, name, params]`` commands with ``[1, id, error, result]``. Use with
:class:`tether.testing.FakeServer`: ``FakeServer(lambda conn, _: marionette_handler(replies)(conn))``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tether.testing import FakeConnection

__all__ = [
    "MARIONETTE_GREETING",
    "MARIONETTE_SESSION",
    "marionette_frame",
    "marionette_handler",
    "read_marionette_command",
]


MARIONETTE_GREETING = {"applicationType": "gecko", "marionetteProtocol": 3}

#: replies that open and end a WebDriver session, for :func:`marionette_handler`
MARIONETTE_SESSION: dict[str, Callable[[Any], object]] = {
    "WebDriver:NewSession": lambda p: {"sessionId": "s1", "capabilities": {"browserName": "firefox"}},
    "WebDriver:DeleteSession": lambda p: {"value": None},
}


def marionette_frame(value: object) -> bytes:
    """``value`` as one Marionette frame: ``<byte length>:<json>``."""
    body = json.dumps(value).encode()
    return str(len(body)).encode() + b":" + body


def read_marionette_command(conn: FakeConnection) -> list | None:
    """One ``len:json`` command from the client (None on EOF)."""
    buf = b""
    while b":" not in buf:
        chunk = conn.recv(1)
        if not chunk:
            return None
        buf += chunk
    length = int(buf[:-1])
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return json.loads(body)


def marionette_handler(
    replies: dict[str, Callable[[Any], object]], received: list | None = None
) -> Callable[[FakeConnection], None]:
    """A well-behaved Marionette: greets, then answers each command by name.

    ``replies[name](params)`` gives the value; a dict with ``error`` and ``message`` is sent as
    the error; a name not in ``replies`` gets ``unknown command``. Commands are appended to
    ``received``. The handler takes the connection only: ``FakeServer(lambda c, _: h(c))``.
    """

    def handler(conn: FakeConnection) -> None:
        conn.sendall(marionette_frame(MARIONETTE_GREETING))
        while (cmd := read_marionette_command(conn)) is not None:
            if received is not None:
                received.append(cmd)
            _, msg_id, name, params = cmd
            make = replies.get(name)
            if make is None:
                error = {"error": "unknown command", "message": name, "stacktrace": ""}
                conn.sendall(marionette_frame([1, msg_id, error, None]))
                continue
            out = make(params)
            if isinstance(out, dict) and "error" in out and set(out) >= {"error", "message"}:
                conn.sendall(marionette_frame([1, msg_id, out, None]))
            else:
                conn.sendall(marionette_frame([1, msg_id, None, out]))

    return handler
