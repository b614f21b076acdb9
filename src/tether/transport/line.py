"""A newline-terminated text protocol over TCP (IGV's batch port), every read under a deadline.

``quickack=True`` re-arms Linux's ``TCP_QUICKACK`` before every read, so the client ACKs each
reply at once instead of delaying the ACK ~40 ms. That matters when the server does not set
``TCP_NODELAY`` and writes two small replies in a row (IGV answering a command and then a
pipelined ``echo``): Nagle holds the second reply until the first is ACKed. Where the OS has
no ``TCP_QUICKACK`` the option does nothing (:attr:`LineConnection.quickack_active` says so).
"""

from __future__ import annotations

import socket

from ..deadline import Deadline
from ..errors import ProtocolError, Unreachable
from .tcp import close_quietly, connect, recv_some, send_all

_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
MAX_LINE = 1 << 20  # 1 MiB: longer "lines" are a protocol error, never an unbounded buffer


class LineConnection:
    """One TCP connection speaking lines. ``readline`` returns a line without its terminator."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        encoding: str = "utf-8",
        max_line: int = MAX_LINE,
        quickack: bool = False,
    ) -> None:
        self.sock: socket.socket | None = sock
        self.encoding = encoding
        self.max_line = max_line
        self._buf = bytearray()
        #: whether TCP_QUICKACK is re-armed before each read (asked for, and the OS has it)
        self.quickack_active = quickack and _QUICKACK is not None

    @classmethod
    def open(cls, host: str, port: int, deadline: Deadline, *, what: str = "the app", **kw) -> LineConnection:
        """Connect by ``deadline`` (started before connecting; pass the same one to the reads)."""
        return cls(connect(host, port, deadline, what=what), **kw)

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet returned as a line (e.g. a peer that spoke without a newline)."""
        return bytes(self._buf)

    @property
    def closed(self) -> bool:
        return self.sock is None

    def send_line(self, line: str, deadline: Deadline) -> None:
        self.send_lines([line], deadline)

    def send_lines(self, lines: list[str], deadline: Deadline) -> None:
        """Send several lines in one write."""
        if self.sock is None:
            raise Unreachable("the connection is closed")
        data = "".join(f"{line}\n" for line in lines).encode(self.encoding)
        send_all(self.sock, data, deadline)

    def readline(self, deadline: Deadline) -> str | None:
        """The next line (``\\n``, ``\\r\\n`` or ``\\r`` stripped); ``None`` if the peer closed first."""
        if self.sock is None:
            raise Unreachable("the connection is closed")
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                raw = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                return raw.rstrip(b"\r").decode(self.encoding, errors="replace")
            if len(self._buf) > self.max_line:
                raise ProtocolError(f"a reply line exceeded {self.max_line} bytes without a newline")
            if self.quickack_active:
                self._arm_quickack()
            chunk = recv_some(self.sock, deadline)
            if not chunk:
                if self._buf:
                    raw = bytes(self._buf)
                    self._buf.clear()
                    return raw.rstrip(b"\r").decode(self.encoding, errors="replace")
                return None
            self._buf += chunk

    def has_line(self) -> bool:
        """Whether a whole line is already buffered (a read would not touch the socket)."""
        return b"\n" in self._buf

    def _arm_quickack(self) -> None:
        # Linux clears TCP_QUICKACK on its own (it is not sticky), so it is set before every read;
        # setting it also sends an ACK that is pending right now.
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)  # type: ignore[union-attr, arg-type]
        except OSError:
            self.quickack_active = False

    def close(self) -> None:
        close_quietly(self.sock)
        self.sock = None

    def __enter__(self) -> LineConnection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
