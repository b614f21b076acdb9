"""In-process fake servers (threads) for faults a real app cannot be made to produce."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable


class FakeServer:
    """A TCP server on 127.0.0.1 (free port) running ``handler(conn, server)`` per connection.

    Records every byte received in ``received`` (a list of bytes per connection).
    """

    def __init__(self, handler, port: int = 0) -> None:
        self.handler = handler
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:  # close() may already have run: a closed socket ends the loop, quietly
                self.sock.settimeout(0.1)
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            self.connections += 1
            idx = len(self.received)
            self.received.append(b"")
            threading.Thread(target=self._run, args=(conn, idx), daemon=True).start()

    def _run(self, conn: socket.socket, idx: int) -> None:
        try:
            self.handler(_Recorder(conn, self, idx), self)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(2)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Recorder:
    """A connection wrapper that records what the client sent."""

    def __init__(self, conn: socket.socket, server: FakeServer, idx: int) -> None:
        self.conn, self.server, self.idx = conn, server, idx

    def recv(self, n: int = 4096, timeout: float = 5.0) -> bytes:
        self.conn.settimeout(timeout)
        try:
            data = self.conn.recv(n)
        except TimeoutError:
            return b""
        self.server.received[self.idx] += data
        return data

    def sendall(self, data: bytes) -> None:
        self.conn.sendall(data)

    def wait_closed(self, timeout: float = 5.0) -> None:
        """Block until the client closes (or the timeout passes), recording what it sends."""
        self.conn.settimeout(timeout)
        try:
            while self.recv(4096, timeout):
                pass
        except OSError:
            pass


def silent(conn, server) -> None:
    """Accept, read, never answer (a busy IGV, a hung app)."""
    conn.wait_closed(10)


def close_at_once(conn, server) -> None:
    """Accept and close without a byte (Marionette while another client holds the session)."""


def http_400(conn, server) -> None:
    """A plain HTTP server's answer to a line that is not HTTP."""
    conn.recv()
    conn.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\n\r\nbad request\n")


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

    def handler(conn, server):
        if hold is not None:
            hold.wait(10)
        buf = b""
        while True:
            data = conn.recv(4096, timeout=10)
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
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
