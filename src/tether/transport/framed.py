"""``<decimal utf-8 byte length>:<json>`` frames over TCP (Firefox Marionette), bounded in time and size."""

from __future__ import annotations

import json
import socket
from typing import Any

from ..errors import ProtocolError, Unreachable
from .tcp import Deadline, close_quietly, connect, recv_some, send_all

MAX_HEADER = 20  # digits plus the colon: "999999999999999999:" — far beyond any real length
MAX_FRAME = 256 * 1024 * 1024  # 256 MiB (a full-page screenshot of a long page is tens of MiB)


class FramedConnection:
    def __init__(self, sock: socket.socket, *, max_frame: int = MAX_FRAME) -> None:
        self.sock: socket.socket | None = sock
        self.max_frame = max_frame
        self._buf = bytearray()

    @classmethod
    def open(cls, host: str, port: int, timeout: float, *, what: str = "the app", **kw) -> "FramedConnection":
        return cls(connect(host, port, timeout, what=what), **kw)

    def _fill(self, deadline: Deadline) -> bool:
        assert self.sock is not None
        chunk = recv_some(self.sock, deadline, 1 << 20)
        if not chunk:
            return False
        self._buf += chunk
        return True

    def read_frame(self, deadline: Deadline) -> Any | None:
        """The next frame's JSON value, or ``None`` if the peer closed before sending any byte of one."""
        if self.sock is None:
            raise Unreachable("the connection is closed")
        while True:
            colon = self._buf.find(b":", 0, MAX_HEADER + 1)
            header = bytes(self._buf[: colon if colon >= 0 else MAX_HEADER + 1])
            if header and not header.isdigit():
                raise ProtocolError(f"malformed frame header {header[:MAX_HEADER]!r} (expected <length>:<json>)")
            if colon >= 0:
                if colon == 0:
                    raise ProtocolError("malformed frame header (empty length)")
                break
            if len(self._buf) > MAX_HEADER:
                raise ProtocolError(f"frame header longer than {MAX_HEADER} bytes")
            if not self._fill(deadline):
                if self._buf:
                    raise ProtocolError("the connection closed in the middle of a frame header")
                return None
        length = int(header)
        if length > self.max_frame:
            raise ProtocolError(f"frame length {length} exceeds the limit of {self.max_frame} bytes")
        del self._buf[: colon + 1]
        while len(self._buf) < length:
            if not self._fill(deadline):
                raise Unreachable("the connection closed in the middle of a frame")
        body = bytes(self._buf[:length])
        del self._buf[:length]
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError(f"a frame is not valid UTF-8 JSON: {exc}") from exc

    def write_frame(self, value: Any, deadline: Deadline) -> None:
        if self.sock is None:
            raise Unreachable("the connection is closed")
        body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        send_all(self.sock, str(len(body)).encode() + b":" + body, deadline)

    def close(self) -> None:
        close_quietly(self.sock)
        self.sock = None

    def __enter__(self) -> "FramedConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
