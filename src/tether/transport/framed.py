"""``<decimal utf-8 byte length>:<json>`` frames over TCP (Firefox Marionette), bounded in time and size."""

from __future__ import annotations

import json
import socket
from typing import Any

from ..deadline import Deadline
from ..errors import ProtocolError, Timeout, Unreachable
from .tcp import close_quietly, connect, recv_error, send_error

MAX_HEADER = 20  # digits plus the colon: "999999999999999999:" — far beyond any real length
MAX_FRAME = 256 * 1024 * 1024  # 256 MiB (a full-page screenshot of a long page is tens of MiB)
READ_SIZE = 65536
BIG_READ = 1 << 20
#: The socket's timeout is re-armed only when it is this far (seconds) from the time left:
#: every ``settimeout`` costs a system call, and a command's deadline rarely moves.
SLACK = 0.05
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class FramedConnection:
    """One TCP connection carrying ``<length>:<json>`` frames; every read and write has a deadline."""

    def __init__(self, sock: socket.socket, *, max_frame: int = MAX_FRAME) -> None:
        self.sock: socket.socket | None = sock
        self.max_frame = max_frame
        self._buf = bytearray()
        self._armed: float | None = None  # the socket's current timeout, as last set

    def _arm(self, deadline: Deadline) -> socket.socket:
        """The socket, with its timeout within ``SLACK`` of the time left before ``deadline``."""
        sock = self.sock
        if sock is None:
            raise Unreachable("the connection is closed")
        left = deadline.remaining()
        if left <= 0:
            raise Timeout(f"no answer within {deadline.seconds:g} s")
        if self._armed is None or abs(self._armed - left) > SLACK:
            sock.settimeout(left)
            self._armed = left
        return sock

    @classmethod
    def open(
        cls, host: str, port: int, deadline: Deadline, *, what: str = "the app", **kw: Any
    ) -> FramedConnection:
        """Connect by ``deadline`` (started before connecting; pass the same one to the reads)."""
        return cls(connect(host, port, deadline, what=what), **kw)

    def _fill(self, deadline: Deadline, size: int = READ_SIZE) -> bool:
        """Read what has arrived (up to ``size`` bytes) into the buffer; False when the peer closed."""
        sock = self._arm(deadline)
        try:
            chunk = sock.recv(size)
        except OSError as exc:  # TimeoutError included
            raise recv_error(exc, deadline) from exc
        if not chunk:
            return False
        self._buf += chunk
        return True

    def read_frame(self, deadline: Deadline) -> Any | None:
        """The next frame's JSON value, or ``None`` if the peer closed before sending any byte of one.

        Raises :class:`ProtocolError` for a header that is not ``<digits>:`` within
        ``MAX_HEADER`` bytes or a length beyond ``max_frame`` (checked before the body is read,
        so memory stays bounded), :class:`Timeout` at the deadline.
        """
        if self.sock is None:
            raise Unreachable("the connection is closed")
        buf = self._buf
        while True:
            colon = buf.find(b":", 0, MAX_HEADER + 1)
            if colon > 0:
                if not buf[:colon].isdigit():
                    raise ProtocolError(
                        f"malformed frame header {bytes(buf[:colon])!r} (expected <length>:<json>)"
                    )
                break
            if colon == 0:
                raise ProtocolError("malformed frame header (empty length)")
            if buf and not buf[: MAX_HEADER + 1].isdigit():
                raise ProtocolError(
                    f"malformed frame header {bytes(buf[:MAX_HEADER])!r} (expected <length>:<json>)"
                )
            if len(buf) > MAX_HEADER:
                raise ProtocolError(f"frame header longer than {MAX_HEADER} bytes")
            if not self._fill(deadline):
                if buf:
                    raise ProtocolError("the connection closed in the middle of a frame header")
                return None
        length = int(buf[:colon])
        if length > self.max_frame:
            raise ProtocolError(f"frame length {length} exceeds the limit of {self.max_frame} bytes")
        end = colon + 1 + length
        if length >= BIG_READ and len(buf) < end:
            body = self._read_big(colon, length, deadline)
        else:
            while len(buf) < end:
                # Small reads for small frames (a 1 MiB recv buffer per reply costs more than
                # the reply itself).
                if not self._fill(deadline, max(end - len(buf), READ_SIZE)):
                    raise Unreachable("the connection closed in the middle of a frame")
            body = buf[colon + 1 : end]
            del buf[:end]
        try:
            # decoded first and the bytes dropped: the parser then holds the text and the values
            text = body.decode("utf-8")
            del body
            return json.loads(text)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise ProtocolError(f"a frame is not valid UTF-8 JSON: {str(exc)[:200]}") from exc

    def _read_big(self, colon: int, length: int, deadline: Deadline) -> bytearray:
        """A large frame's body read straight into one buffer of its size (no chunks copied
        into a growing buffer, no slice copied out of it): memory stays at one frame."""
        body = bytearray(length)
        have = len(self._buf) - colon - 1
        body[:have] = memoryview(self._buf)[colon + 1 :]
        self._buf.clear()
        view = memoryview(body)
        while have < length:
            sock = self._arm(deadline)
            try:
                n = sock.recv_into(view[have:], min(length - have, BIG_READ))
            except OSError as exc:  # TimeoutError included
                raise recv_error(exc, deadline) from exc
            if not n:
                raise Unreachable("the connection closed in the middle of a frame")
            have += n
        view.release()
        return body

    def write_frame(self, value: Any, deadline: Deadline) -> None:
        """Send ``value`` as one frame (its length counted in UTF-8 bytes)."""
        body = _encode(value).encode("utf-8")
        sock = self._arm(deadline)
        try:
            sock.sendall(b"%d:%b" % (len(body), body))
        except OSError as exc:
            raise send_error(exc, deadline) from exc

    def close(self) -> None:
        close_quietly(self.sock)
        self.sock = None

    def __enter__(self) -> FramedConnection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
