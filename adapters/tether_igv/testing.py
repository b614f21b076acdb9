"""Fakes of IGV's batch port, for tests of this adapter and of code that drives IGV.

:func:`fake_igv` answers like IGV's batch port on a free port of 127.0.0.1 (a
:class:`tether.testing.FakeServer`, recording what clients sent).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tether.testing import FakeConnection, FakeServer, read_lines

__all__ = ["fake_igv"]


def fake_igv(
    replies: dict[str, bytes | None] | Callable[[str], bytes | None],
    *,
    stall_after: str | None = None,
    hold: threading.Event | None = None,
) -> FakeServer:
    """A line server answering like IGV: ``echo X`` → ``X``; ``replies`` maps a command verb to its
    raw answer (``None``: no answer; ``b"CLOSE"``: drop the connection), or is a function of the
    whole line giving that answer; anything else → ``OK``.
    ``hold``: an event the handler waits on before serving at all (another client holds IGV)."""

    def handler(conn: FakeConnection, server: FakeServer) -> None:
        if hold is not None:
            hold.wait(10)
        for line in read_lines(conn):
            text = line.decode()
            verb = text.split(" ", 1)[0]
            if verb == "echo":
                conn.sendall((text[5:] or "echo").encode() + b"\n")
                continue
            if stall_after and verb == stall_after:
                time.sleep(10)
                return
            answer = replies(text) if callable(replies) else replies.get(verb, b"OK\n")
            if answer == b"CLOSE":
                return
            if answer is not None:
                conn.sendall(answer)

    return FakeServer(handler)
