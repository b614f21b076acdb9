"""TCP basics: a deadline, a connect that maps failures to tether errors, reads bounded in time."""

from __future__ import annotations

import errno
import socket

from ..deadline import Deadline
from ..errors import TetherError, Timeout, Unreachable


def connect(host: str, port: int, timeout: float, *, what: str = "the app") -> socket.socket:
    """Open a TCP connection within ``timeout`` seconds.

    Raises :class:`Unreachable` (refused, unroutable) or :class:`Timeout`.
    """
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError as exc:
        raise Unreachable(
            f"nothing accepts connections on {host}:{port} ({what} is not listening there)",
            host=host,
            port=port,
            reason="refused",
        ) from exc
    except TimeoutError as exc:
        raise Timeout(
            f"connecting to {what} at {host}:{port} timed out after {timeout:g} s", host=host, port=port
        ) from exc
    except OSError as exc:
        raise Unreachable(
            f"cannot connect to {what} at {host}:{port}: {exc.strerror or exc}", host=host, port=port
        ) from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_error(exc: OSError, deadline: Deadline) -> TetherError:
    """The tether error for a failed ``recv`` (timeouts, resets, anything else)."""
    if isinstance(exc, TimeoutError):
        return Timeout(f"no answer within {deadline.seconds:g} s")
    if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
        return Unreachable("the connection was reset by the app", reason="reset")
    return Unreachable(f"reading from the app failed: {exc.strerror or exc}")


def send_error(exc: OSError, deadline: Deadline) -> TetherError:
    """The tether error for a failed ``sendall``."""
    if isinstance(exc, TimeoutError):
        return Timeout(f"sending to the app did not finish within {deadline.seconds:g} s")
    return Unreachable(f"the connection to the app broke while sending: {exc.strerror or exc}")


def recv_some(sock: socket.socket, deadline: Deadline, size: int = 65536) -> bytes:
    """One ``recv`` that returns by the deadline: ``b""`` means the peer closed.

    Raises :class:`Timeout` when the deadline passes, :class:`Unreachable` on a reset.
    """
    remaining = deadline.remaining()
    if remaining <= 0:
        raise Timeout(f"no answer within {deadline.seconds:g} s")
    sock.settimeout(remaining)
    try:
        return sock.recv(size)
    except OSError as exc:  # TimeoutError included
        raise recv_error(exc, deadline) from exc


def send_all(sock: socket.socket, data: bytes, deadline: Deadline) -> None:
    sock.settimeout(deadline.remaining(0.001))
    try:
        sock.sendall(data)
    except OSError as exc:
        raise send_error(exc, deadline) from exc


def close_quietly(sock: socket.socket | None) -> None:
    if sock is None:
        return
    try:
        sock.close()
    except OSError:
        pass


__all__ = [
    "Timeout",
    "Unreachable",
    "close_quietly",
    "connect",
    "recv_error",
    "recv_some",
    "send_all",
    "send_error",
]
