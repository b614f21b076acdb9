"""TCP basics: a deadline, a connect that maps failures to tether errors, reads bounded in time."""

from __future__ import annotations

import errno
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ..deadline import Deadline
from ..errors import TetherError, Timeout, Unreachable


def _numeric_family(host: str) -> int | None:
    """``AF_INET``/``AF_INET6`` when ``host`` is a numeric address (no zone), else ``None``."""
    if not host or not (host[0].isdigit() or ":" in host):
        return None
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
        return family
    return None


def create_connection(host: str, port: int, timeout: float | None) -> socket.socket:
    """:func:`socket.create_connection`, without its name lookup when ``host`` is a numeric address.

    ``getaddrinfo`` costs a call into the resolver and, for a ``str`` host, the import of the
    ``idna`` codec (~1-2 ms of every one-shot command and of each probe of a scan); a numeric
    ``127.0.0.1`` needs neither. Raises what ``socket.create_connection`` raises (``OSError``s).
    """
    family = _numeric_family(host)
    if family is None:
        return socket.create_connection((host, port), timeout=timeout)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def connect(host: str, port: int, deadline: Deadline, *, what: str = "the app") -> socket.socket:
    """Open a TCP connection by ``deadline``: the operation's one budget, started by the caller
    *before* connecting, so the connect and every later read share it (a probe whose connect
    is slow does not get a fresh timeout for its reads).

    Raises :class:`Unreachable` (refused, unroutable) or :class:`Timeout`.
    """
    timeout = deadline.seconds
    left = deadline.remaining()
    if left <= 0:
        raise Timeout(
            f"no time left to connect to {what} at {host}:{port} ({timeout:g} s)", host=host, port=port
        )
    try:
        sock = create_connection(host, port, left)
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


class _Alarms:
    """One daemon thread that calls functions at given monotonic times (cheaper than a
    ``threading.Timer`` per call: a command may make hundreds of calls)."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._heap: list[list[Any]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, at: float, fn: Callable[[], None]) -> list[Any]:
        entry = [at, next(self._seq), fn]
        with self._cv:
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="tether-deadlines", daemon=True)
                self._thread.start()
            self._cv.notify()
        return entry

    @staticmethod
    def cancel(entry: list[Any]) -> None:
        entry[2] = None  # dropped when it comes up

    def _run(self) -> None:
        while True:
            with self._cv:
                while True:
                    while self._heap and self._heap[0][2] is None:
                        heapq.heappop(self._heap)
                    if not self._heap:
                        self._cv.wait()
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        fn = heapq.heappop(self._heap)[2]
                        break
                    self._cv.wait(wait)
            if fn is not None:
                try:
                    fn()
                except Exception:  # an alarm must never kill the thread
                    pass


_ALARMS = _Alarms()


def shutdown_quietly(sock: Any) -> None:
    """Shut ``sock`` down both ways: a read blocked on it in another thread returns at once."""
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError, AttributeError):
        pass


class Watchdog:
    """Ends a blocking exchange at its deadline, however the peer paces its bytes.

    A socket timeout bounds each read, not the exchange: a peer sending one byte every half
    second keeps a library's read loop (http.client's header parser, a body reader) alive for
    ever. Used as ``with Watchdog(deadline) as wd: wd.watch(sock); ...``, it shuts the watched
    sockets down when the deadline passes, so the blocked read returns; ``wd.fired`` then says
    the failure was the deadline (report :class:`Timeout`, not the library's "connection closed").
    ``watch`` takes a socket or any object with a ``sock`` attribute (read when the alarm fires).
    """

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        self.fired = False
        self._watched: list[Any] = []
        self._lock = threading.Lock()
        self._alarm: list[Any] | None = None

    def watch(self, thing: Any) -> None:
        """Shut ``thing`` (a socket, or an object whose ``sock`` is one) down at the deadline."""
        with self._lock:
            self._watched.append(thing)
            fired = self.fired
        if fired:
            self._shut(thing)

    @staticmethod
    def _shut(thing: Any) -> None:
        if isinstance(thing, socket.socket):
            shutdown_quietly(thing)
        else:
            shutdown_quietly(getattr(thing, "sock", None))

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            watched = list(self._watched)
        for thing in watched:
            self._shut(thing)

    def __enter__(self) -> Watchdog:
        self._alarm = _ALARMS.add(self.deadline.at, self._fire)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._alarm is not None:
            _ALARMS.cancel(self._alarm)
        with self._lock:
            self._watched.clear()


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
    "Watchdog",
    "close_quietly",
    "connect",
    "create_connection",
    "recv_error",
    "recv_some",
    "send_all",
    "send_error",
    "shutdown_quietly",
]
