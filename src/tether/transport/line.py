"""A newline-terminated text protocol over TCP (IGV's batch port), every read under a deadline."""

from __future__ import annotations

import socket

from ..errors import ProtocolError, Unreachable
from .tcp import Deadline, close_quietly, connect, recv_some, send_all

MAX_LINE = 1 << 20  # 1 MiB: longer "lines" are a protocol error, never an unbounded buffer


class LineConnection:
    """One TCP connection speaking lines. ``readline`` returns a line without its terminator."""

    def __init__(self, sock: socket.socket, *, encoding: str = "utf-8", max_line: int = MAX_LINE) -> None:
        self.sock: socket.socket | None = sock
        self.encoding = encoding
        self.max_line = max_line
        self._buf = bytearray()

    @classmethod
    def open(cls, host: str, port: int, timeout: float, *, what: str = "the app", **kw) -> "LineConnection":
        return cls(connect(host, port, timeout, what=what), **kw)

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
            chunk = recv_some(self.sock, deadline)
            if not chunk:
                if self._buf:
                    raw = bytes(self._buf)
                    self._buf.clear()
                    return raw.rstrip(b"\r").decode(self.encoding, errors="replace")
                return None
            self._buf += chunk

    def close(self) -> None:
        close_quietly(self.sock)
        self.sock = None

    def __enter__(self) -> "LineConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
