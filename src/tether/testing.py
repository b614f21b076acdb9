"""Fake servers and the adapter conformance check, for tether's tests and for third-party adapters.

Fakes stand in for the faults a real app cannot be made to produce on demand (silence, garbage,
a dropped connection); real apps prove the rest. Every fake runs in threads on a free port of
127.0.0.1 and records what its clients sent, so a test can prove what was (not) sent.

- :class:`FakeServer` — a raw TCP server running ``handler(conn, server)`` per connection (``conn`` a
  :class:`FakeConnection`); with the
  handlers :func:`silent`, :func:`close_at_once`, :func:`http_400`.
- :func:`read_lines` — the lines a client sends, for any line-protocol fake.
- :class:`FakeHTTP` — a threaded HTTP server with routes and a request log.
- :class:`FakeWebSocket` — a WebSocket server (standard library only) running ``handler(ws)``
  per connection; :func:`ws_upgrade` and :func:`ws_frame` for hand-made faults (an oversized
  header, a message trickled a byte at a time, endless fragments, a refused handshake).
- :func:`replying`, :func:`trickling`, :func:`endless`, :func:`http_response`, :func:`http_routes` —
  hostile peers for the fault matrix (a reply then silence, bytes one at a time, a stream
  without end, an HTTP server whose routes misbehave).
- :func:`check_adapter` — the Adapter contract as an executable spec.

A third-party adapter keeps the contract by running the check in its own tests::

    from tether.testing import check_adapter
    from tether_redis import RedisAdapter

    def test_the_redis_adapter_keeps_the_adapter_contract():
        report = check_adapter(RedisAdapter())  # raises AssertionError naming every broken rule
        print(report)                           # what each probe said, and how long it took

Each adapter ships the fakes of its own app's protocol next to it: ``tether_igv.testing``
(``fake_igv``), ``tether_firefox.testing`` (Marionette's frames, greeting and replies).

This module imports only the core's leaf modules (``tether.errors``, ``tether.endpoint``) and the
standard library; ``http.server`` is imported by :class:`FakeHTTP` only.
"""

from __future__ import annotations

import inspect
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .endpoint import Listener

__all__ = [
    "ConformanceReport",
    "FakeConnection",
    "FakeHTTP",
    "FakeServer",
    "FakeWebSocket",
    "WsPeer",
    "WsRequest",
    "check_adapter",
    "close_at_once",
    "endless",
    "http_400",
    "http_response",
    "http_routes",
    "read_lines",
    "replying",
    "silent",
    "trickling",
    "ws_frame",
    "ws_upgrade",
]


# -- raw TCP --------------------------------------------------------------------------------------


class FakeServer:
    """A TCP server on 127.0.0.1 (free port) running ``handler(conn, server)`` per connection.

    Records every byte received in ``received`` (bytes per connection, in accept order), and in
    ``client_closed`` whether the client closed that connection (an EOF or a reset was read).
    ``conn`` has ``recv``, ``sendall`` and ``wait_closed``; the connection is closed when the
    handler returns. Use it as a context manager, or call :meth:`close`.

    ``full_backlog_for``: seconds during which the listener's backlog is full (a connection of
    its own waits in it, not accepted): the kernel drops clients' SYNs, so a connect made then
    completes only at the SYN's retransmission, about 1 s later (Linux) — a slow connect, the
    way an overloaded app's port behaves. That client is then served by ``handler`` as usual.
    """

    def __init__(
        self, handler: Callable[[Any, FakeServer], None], port: int = 0, *, full_backlog_for: float = 0.0
    ) -> None:
        self.handler = handler
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(0 if full_backlog_for > 0 else 8)
        self.port: int = self.sock.getsockname()[1]
        self._filler: socket.socket | None = None
        self._full_until = 0.0
        if full_backlog_for > 0:  # backlog 0 queues one connection: this one fills it
            self._filler = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            self._full_until = time.monotonic() + full_backlog_for
        self.received: list[bytes] = []
        self.client_closed: list[bool] = []
        self.connections = 0
        self._ended: list[threading.Event] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        if self._filler is not None:
            self._stop.wait(max(0.0, self._full_until - time.monotonic()))
            try:  # the filler is first in the queue: accepting it makes room for the client
                self.sock.settimeout(2)
                own, _ = self.sock.accept()
                own.close()
            except OSError:
                pass
            self._filler.close()
        while not self._stop.is_set():
            try:  # close() may already have run: a closed socket ends the loop, quietly
                self.sock.settimeout(0.1)
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            idx = len(self.received)
            self.received.append(b"")
            self.client_closed.append(False)
            self._ended.append(threading.Event())
            self.connections += 1
            threading.Thread(target=self._run, args=(conn, idx), daemon=True).start()

    def _run(self, conn: socket.socket, idx: int) -> None:
        try:
            self.handler(FakeConnection(conn, self, idx), self)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
            self._ended[idx].set()

    def settle(self, timeout: float, first: float = 0.2) -> bool:
        """Wait until every handler has returned; False when ``timeout`` passes first.

        A connection the client just made may not be accepted yet: wait up to ``first`` seconds
        for one to arrive (none after that: nothing to wait for).
        """
        start = time.monotonic()
        while (now := time.monotonic()) - start < timeout:
            if self.connections and all(e.is_set() for e in list(self._ended)):
                return True
            if not self.connections and now - start >= first:
                return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(2)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FakeConnection:
    """A connection wrapper that records what the client sent, and whether it hung up."""

    def __init__(self, conn: socket.socket, server: FakeServer, idx: int) -> None:
        self.conn, self.server, self.idx = conn, server, idx

    def recv(self, n: int = 4096, timeout: float = 5.0) -> bytes:
        """Up to ``n`` bytes; ``b""`` on EOF or when ``timeout`` passes without any."""
        self.conn.settimeout(timeout)
        try:
            data = self.conn.recv(n)
        except TimeoutError:
            return b""
        except OSError:  # reset by the client: it hung up too
            self.server.client_closed[self.idx] = True
            raise
        if not data:
            self.server.client_closed[self.idx] = True
        self.server.received[self.idx] += data
        return data

    def sendall(self, data: bytes) -> None:
        self.conn.sendall(data)

    def wait_closed(self, timeout: float = 5.0) -> None:
        """Block until the client closes (or the timeout passes), recording what it sends."""
        end = time.monotonic() + timeout
        try:
            while (left := end - time.monotonic()) > 0 and not self.server.client_closed[self.idx]:
                self.recv(4096, left)
        except OSError:
            pass


def silent(conn: FakeConnection, server: FakeServer) -> None:
    """Accept, read, never answer (a busy IGV, a hung app)."""
    conn.wait_closed(10)


def close_at_once(conn: FakeConnection, server: FakeServer) -> None:
    """Accept and close without a byte (Marionette while another client holds the session)."""


def http_400(conn: FakeConnection, server: FakeServer) -> None:
    """A plain HTTP server's answer to a line that is not HTTP."""
    conn.recv()
    conn.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\n\r\nbad request\n")


# -- hostile peers: the fault matrix's servers -----------------------------------------------------


def replying(data: bytes, *, read_first: bool = True, then_close: bool = False) -> Callable[..., None]:
    """A handler that (after reading the request, unless ``read_first=False``) sends ``data``
    and then stays connected and silent (``then_close``: hangs up instead)."""

    def handler(conn: FakeConnection, server: FakeServer) -> None:
        if read_first:
            conn.recv(65536, timeout=5)
        conn.sendall(data)
        if not then_close:
            conn.wait_closed(30)

    return handler


def trickling(data: bytes, *, every: float = 0.5, read_first: bool = True) -> Callable[..., None]:
    """A handler that sends ``data`` one byte every ``every`` seconds (then more of the last
    byte's kind: it never finishes on its own), until the client hangs up. A per-read timeout
    never fires on it; only an overall deadline ends the exchange."""

    def handler(conn: FakeConnection, server: FakeServer) -> None:
        if read_first:
            conn.recv(65536, timeout=5)
        i = 0
        while not server._stop.is_set():
            byte = data[i : i + 1] or b"x"
            try:
                conn.sendall(byte)
            except OSError:
                return
            i += 1
            if conn.recv(1, timeout=every) == b"" and server.client_closed[conn.idx]:
                return

    return handler


def endless(head: bytes, *, chunk: bytes = b"x" * 65536, read_first: bool = True) -> Callable[..., None]:
    """A handler that sends ``head`` and then ``chunk`` for ever, as fast as the client reads,
    until it hangs up: an unbounded reader's memory grows without limit."""

    def handler(conn: FakeConnection, server: FakeServer) -> None:
        if read_first:
            conn.recv(65536, timeout=5)
        try:
            conn.sendall(head)
            while not server._stop.is_set():
                conn.sendall(chunk)
        except OSError:
            return

    return handler


def http_response(status: int = 200, body: bytes = b"{}", headers: dict[str, str] | None = None) -> bytes:
    """The bytes of a whole HTTP/1.1 response (``Content-Length`` set, connection closed after)."""
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {"Content-Type": "application/json"}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def http_routes(routes: dict[str, bytes | Callable[[Any], None]]) -> Callable[..., None]:
    """A raw HTTP/1.1 handler serving one request after another on a connection (keep-alive):
    ``routes[path]`` is the whole response (bytes, e.g. :func:`http_response`) or a function of
    the connection that answers, misbehaves or hangs up (return ``False`` to end the connection).
    Unknown paths answer 404. Request lines are matched by path only (the query string dropped)."""

    def handler(conn: FakeConnection, server: FakeServer) -> None:
        buf = b""
        while not server._stop.is_set():
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536, timeout=10)
                if not data:
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length" and value.strip().isdigit():
                    length = int(value.strip())
            while len(buf) < length:
                data = conn.recv(65536, timeout=10)
                if not data:
                    return
                buf += data
            buf = buf[length:]
            path = head.split(b" ", 2)[1].decode("latin-1").split("?", 1)[0]
            answer = routes.get(path, http_response(404, b'{"detail": "Not Found"}'))
            if callable(answer):
                if answer(conn) is False:
                    return
            else:
                conn.sendall(answer)
                if b"Connection: close" in answer.split(b"\r\n\r\n", 1)[0]:
                    return

    return handler


# -- line protocols -------------------------------------------------------------------------------


def read_lines(conn: FakeConnection, timeout: float = 10.0) -> Iterator[bytes]:
    """The lines a client sends (without their ``\n``), until it closes the connection or is
    silent for ``timeout`` seconds: the loop every line-protocol fake needs."""
    buf = b""
    while True:
        data = conn.recv(4096, timeout=timeout)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line


# -- WebSocket (RFC 6455): the server side, for framing and fault tests ----------------------------

_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WS_TEXT, WS_BINARY, WS_CLOSE, WS_PING, WS_PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def ws_frame(
    payload: bytes | str = b"", opcode: int = WS_TEXT, *, fin: bool = True, length: int | None = None
) -> bytes:
    """One server frame (unmasked). ``length`` claims another payload length in the header
    than ``payload`` has (an oversized message announced by its header, a frame cut short);
    ``opcode=0`` is a continuation frame."""
    data = payload.encode() if isinstance(payload, str) else payload
    n = len(data) if length is None else length
    first = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head = first + bytes([n])
    elif n < 65536:
        head = first + bytes([126]) + n.to_bytes(2, "big")
    else:
        head = first + bytes([127]) + n.to_bytes(8, "big")
    return head + data


@dataclass
class WsRequest:
    """The upgrade request a client sent: its path (query included) and headers (names as sent)."""

    path: str
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


def ws_upgrade(conn: FakeConnection, refuse: dict[str, int] | None = None) -> WsRequest | None:
    """Read the client's upgrade request and answer ``101 Switching Protocols``; ``None`` when
    the client sent no whole request, or when ``refuse`` maps its path (query dropped) to an
    HTTP status, which is sent instead (a 403 for a bad key, a 404 for a wrong path)."""
    import base64
    import hashlib

    request = b""
    while b"\r\n\r\n" not in request:
        data = conn.recv(4096, timeout=5)
        if not data or len(request) > 65536:
            return None
        request += data
    head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    parts = head[0].split(" ")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    req = WsRequest(parts[1] if len(parts) > 1 else "/", headers)
    status = (refuse or {}).get(req.path.split("?", 1)[0])
    if status is not None:
        body = f"refused with {status}\n".encode()
        conn.sendall(f"HTTP/1.1 {status} Refused\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        return None
    key = (req.header("Sec-WebSocket-Key") or "").encode()
    accept = base64.b64encode(hashlib.sha1(key + _WS_GUID).digest()).decode()
    conn.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
    )
    return req


class WsPeer:
    """The server's end of one WebSocket (what a :class:`FakeWebSocket` handler gets).

    :meth:`recv` returns the client's next message (``None`` once it closed: a close frame is
    answered, pings are ponged); :meth:`send` / :meth:`send_json` send one; :meth:`close` sends
    a close frame with a code and reason. ``conn`` is the raw :class:`FakeConnection`, for
    faults (``conn.sendall(ws_frame(..., length=1 << 40))``, trickling, silence).
    """

    def __init__(self, conn: FakeConnection, request: WsRequest) -> None:
        self.conn, self.request, self.path = conn, request, request.path
        self._buf = b""
        self.closed = False

    def _exact(self, n: int, timeout: float) -> bytes | None:
        while len(self._buf) < n:
            data = self.conn.recv(max(4096, n - len(self._buf)), timeout=timeout)
            if not data:
                return None
            self._buf += data
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def recv_frame(self, timeout: float = 10.0) -> tuple[bool, int, bytes] | None:
        """The client's next frame as ``(fin, opcode, payload)`` (unmasked); ``None`` on EOF or silence."""
        head = self._exact(2, timeout)
        if head is None:
            return None
        fin, opcode, n = bool(head[0] & 0x80), head[0] & 0x0F, head[1] & 0x7F
        if n in (126, 127):
            ext = self._exact(2 if n == 126 else 8, timeout)
            if ext is None:
                return None
            n = int.from_bytes(ext, "big")
        mask = self._exact(4, timeout) if head[1] & 0x80 else b"\0\0\0\0"
        payload = self._exact(n, timeout) if n else b""
        if mask is None or payload is None:
            return None
        return fin, opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    def recv(self, timeout: float = 10.0) -> str | bytes | None:
        """The client's next message (text as ``str``); ``None`` when it closed, or sent
        nothing for ``timeout`` seconds."""
        parts: list[bytes] = []
        kind = WS_TEXT
        while True:
            frame = self.recv_frame(timeout)
            if frame is None:
                return None
            fin, opcode, payload = frame
            if opcode == WS_CLOSE:
                if not self.closed:
                    self.conn.sendall(ws_frame(payload[:2], WS_CLOSE))
                    self.closed = True
                return None
            if opcode == WS_PING:
                self.conn.sendall(ws_frame(payload, WS_PONG))
                continue
            if opcode == WS_PONG:
                continue
            if opcode in (WS_TEXT, WS_BINARY):
                kind = opcode
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                return data.decode("utf-8", errors="replace") if kind == WS_TEXT else data

    def __iter__(self) -> Iterator[str | bytes]:
        """The client's messages until it closes (or is silent for 10 s)."""
        while (message := self.recv()) is not None:
            yield message

    def send(self, message: str | bytes) -> None:
        self.conn.sendall(ws_frame(message, WS_TEXT if isinstance(message, str) else WS_BINARY))

    def send_json(self, value: Any) -> None:
        self.send(json.dumps(value))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame; the connection ends when the handler returns."""
        if not self.closed:
            self.conn.sendall(ws_frame(code.to_bytes(2, "big") + reason.encode(), WS_CLOSE))
            self.closed = True


class FakeWebSocket(FakeServer):
    """A WebSocket server on 127.0.0.1 running ``handler(ws)`` (a :class:`WsPeer`) per connection
    after the upgrade; ``refuse`` maps paths to the HTTP status their handshake gets instead.
    ``url`` is ``ws://127.0.0.1:<port>``; ``requests`` the upgrade requests, in order. Standard
    library only: framing and fault tests need no WebSocket package.

    >>> def echo(ws):                                            # doctest: +SKIP
    ...     for message in ws:
    ...         ws.send(message)
    >>> with FakeWebSocket(echo, refuse={"/forbidden": 403}) as server:   # doctest: +SKIP
    ...     connect_to(server.url + "/echo")
    """

    def __init__(self, handler: Callable[[WsPeer], None], *, refuse: dict[str, int] | None = None) -> None:
        self.requests: list[WsRequest] = []

        def serve(conn: FakeConnection, server: FakeServer) -> None:
            request = ws_upgrade(conn, refuse)
            if request is None:
                return
            self.requests.append(request)
            peer = WsPeer(conn, request)
            handler(peer)
            if not peer.closed:
                peer.close(1000)
            conn.wait_closed(2)

        super().__init__(serve)
        self.url = f"ws://127.0.0.1:{self.port}"


# -- HTTP -----------------------------------------------------------------------------------------


class FakeHTTP:
    """A threaded HTTP server: ``routes[(method, path)] = fn(body) -> (status, payload)``.

    ``payload`` is sent as is when it is bytes, else as JSON. Every request is recorded in
    ``requests`` as ``(method, path, headers, body)``; unknown routes answer 404. ``url`` is
    ``http://127.0.0.1:<port>``. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.routes: dict[tuple[str, str], Callable[[bytes], tuple[int, Any]]] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                fake.requests.append((self.command, self.path, dict(self.headers), raw))
                route = fake.routes.get((self.command, self.path))
                status, payload = route(raw) if route else (404, {"detail": "Not Found"})
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def count(self, method: str, path: str) -> int:
        """How many ``method path`` requests arrived."""
        return sum(1 for m, p, _, _ in self.requests if (m, p) == (method, path))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeHTTP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the Adapter contract, executable -------------------------------------------------------------

# Probe verdicts by value: the core's verdict constants (or enum members) compare equal to these.
VERIFIED, BUSY, NOT_ME, UNREACHABLE, UNKNOWN = "verified", "busy", "not-me", "unreachable", "unknown"
VERDICTS = (VERIFIED, BUSY, NOT_ME, UNREACHABLE, UNKNOWN)
HINT_STRENGTHS = ("port", "process", "file")

#: listeners of other programs on ports no adapter claims: no adapter may hint them
FOREIGN_PROCESSES = (
    ("sshd", ["/usr/sbin/sshd", "-D"]),
    ("postgres", ["/usr/lib/postgresql/16/bin/postgres", "-D", "/var/lib/postgresql/16/main"]),
    ("python3", ["python3", "-m", "http.server", "8000"]),
)
_FOREIGN_PORTS = (22, 5432, 8000, 3306, 9418)

# name: (positional arguments it must accept, whether the contract requires it)
_METHODS: dict[str, tuple[int, bool]] = {
    "hints": (1, True),
    "probe": (3, True),
    "connect": (1, True),
    "cli": (0, True),
    "extra_listeners": (1, False),
    "version_hint": (1, False),
    "banner": (1, False),
    "check": (0, False),
}


@dataclass
class ProbeCase:
    """One probe :func:`check_adapter` ran against a fake (or a closed port)."""

    case: str
    verdict: str | None  # None: the probe raised, hung or returned no ProbeResult
    seconds: float
    sent: int = 0  # bytes the fake received
    detail: str = ""


@dataclass
class ConformanceReport:
    """What :func:`check_adapter` found: each probe's verdict and time, and every broken rule."""

    adapter: str
    probes: list[ProbeCase] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        lines = [f"adapter {self.adapter!r}: " + ("keeps the contract" if self.ok else "BREAKS the contract")]
        lines += [
            f"  {p.case:<16} -> {p.verdict or '-':<12} {p.seconds:5.2f}s  sent {p.sent:>4} B  {p.detail}"
            for p in self.probes
        ]
        lines += [f"  - {f}" for f in self.failures]
        return "\n".join(lines)


#: the slow-connect case's timeout: longer than the ~1 s a connect waits for its SYN's
#: retransmission, so the connect succeeds and the probe's reads must make do with what is left
SLOW_CONNECT_TIMEOUT = 1.25
#: how long after ``timeout + margin`` a probe still running is reported as hung (and left)
HANG_GRACE = 2.0


def check_adapter(
    adapter: Any, *, timeout: float = 0.5, margin: float = 0.5, max_sent: int = 1024, strict: bool = True
) -> ConformanceReport:
    """Check ``adapter`` against the Adapter contract, as the engine relies on it.

    - ``name`` (lower-case, a CLI command name), ``title`` and ``default_ports`` (a tuple of port
      numbers) are set; ``hints``, ``probe``, ``connect`` and ``cli`` exist and take the contract's
      arguments (``extra_listeners``, ``version_hint``, ``banner``, ``check`` too, when present);
      ``cli()`` gives a typer app or None.
    - ``hints`` returns a hint with a known strength for each default port, and None for other
      programs' listeners (sshd, postgres, an HTTP server on their own ports); it never raises.
    - ``probe(host, port, timeout)`` never raises and returns within ``timeout + margin`` seconds,
      the connect included: against a port whose backlog is full at first (the connect takes
      about a second; the probe's timeout there is :data:`SLOW_CONNECT_TIMEOUT`), a probe that
      starts its deadline after connecting overruns, and fails the check. It returns
      ``unreachable`` for a closed port; ``busy`` or ``unknown`` for a port that accepts and never
      answers (or ``not-me``, for a probe that can see the listening process is not its app);
      ``not-me`` or ``unknown`` for a wrong app that talks (garbage, another app's greeting);
      never ``verified`` (nor ``unreachable``) for anything that accepted.
    - Side-effect free: against each fake the probe sends at most ``max_sent`` bytes, and it
      closes every connection it opened.
    - ``banner`` (when present) never verifies garbage.

    Returns a :class:`ConformanceReport`; with ``strict`` (the default) raises ``AssertionError``
    listing every broken rule. Probes run against fakes on 127.0.0.1 only.
    """
    report = ConformanceReport(adapter=str(getattr(adapter, "name", "") or type(adapter).__name__))
    fail = report.failures.append
    _check_attributes(adapter, fail)
    callable_ok = _check_methods(adapter, fail)
    if callable_ok.get("hints"):
        _check_hints(adapter, fail)
    if callable_ok.get("banner"):
        _check_banner(adapter, fail)
    if callable_ok.get("probe"):
        _check_probes(adapter, report, timeout=timeout, margin=margin, max_sent=max_sent)
    if strict and report.failures:
        raise AssertionError(str(report))
    return report


def _check_attributes(adapter: Any, fail: Callable[[str], None]) -> None:
    name, title = getattr(adapter, "name", None), getattr(adapter, "title", None)
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
        fail(f"name must be a lower-case word usable as 'tether <name>', not {name!r}")
    if not isinstance(title, str) or not title.strip():
        fail(f"title must be a non-empty str, not {title!r}")
    ports = getattr(adapter, "default_ports", None)
    if not isinstance(ports, tuple) or not all(
        isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in ports
    ):
        fail(f"default_ports must be a tuple of port numbers (1-65535), not {ports!r}")


def _check_methods(adapter: Any, fail: Callable[[str], None]) -> dict[str, bool]:
    ok: dict[str, bool] = {}
    for method, (nargs, required) in _METHODS.items():
        fn = getattr(adapter, method, None)
        if fn is None:
            if required:
                fail(f"{method}() is missing")
            continue
        if not callable(fn):
            fail(f"{method} must be a method, not {fn!r}")
            continue
        try:
            inspect.signature(fn).bind(*([None] * nargs))
        except TypeError as exc:
            fail(f"{method}() must take {nargs} positional argument(s): {exc}")
            continue
        except ValueError:  # no signature (a builtin): trust it
            pass
        ok[method] = True
    if ok.get("connect"):
        try:  # tether.connect passes client options through, ``timeout`` among them
            inspect.signature(adapter.connect).bind(None, timeout=1.0)
        except TypeError:
            fail("connect(endpoint, **options) must accept client options such as timeout=")
        except ValueError:
            pass
    attach = getattr(adapter, "attach", None)
    if callable(attach):
        try:  # every command hands its one deadline to attach (tether.cli.command.Target.client)
            inspect.signature(attach).bind(lambda: None, deadline=None, timeout=1.0)
        except TypeError:
            fail("attach(locate, *, deadline=None, **options) must accept the command's deadline=")
        except ValueError:
            pass
    if ok.get("cli"):
        try:
            app = adapter.cli()
        except Exception as exc:
            fail(f"cli() raised {type(exc).__name__}: {exc}")
        else:
            if app is not None and not callable(app):
                fail(f"cli() must return a typer.Typer or None, not {app!r}")
    return ok


def _check_hints(adapter: Any, fail: Callable[[str], None]) -> None:
    defaults = tuple(getattr(adapter, "default_ports", ()) or ())
    ports = [p for p in _FOREIGN_PORTS if p not in defaults]
    foreign = [
        Listener(host="127.0.0.1", port=port, bind="127.0.0.1", pid=None, process=proc, cmdline=list(cmd))
        for port, (proc, cmd) in zip(ports, FOREIGN_PROCESSES, strict=False)
    ]
    for li in foreign:
        try:
            hint = adapter.hints(li)
        except Exception as exc:
            fail(f"hints() raised {type(exc).__name__} for a {li.process} listener on port {li.port}: {exc}")
            continue
        if hint is not None:
            fail(f"hints() claims a {li.process} listener on port {li.port}: {hint!r} (expected None)")
    for port in defaults if isinstance(defaults, tuple) else ():
        li = Listener(host="127.0.0.1", port=port, bind="127.0.0.1", source="default-port")
        try:
            hint = adapter.hints(li)
        except Exception as exc:
            fail(f"hints() raised {type(exc).__name__} for its default port {port}: {exc}")
            continue
        if hint is None:
            fail(f"hints() gives no hint for its default port {port}: the engine would never probe it")
        elif getattr(hint, "strength", None) not in HINT_STRENGTHS or not isinstance(
            getattr(hint, "reason", None), str
        ):
            fail(f"hints() must return a Hint (reason, strength in {HINT_STRENGTHS}), not {hint!r}")


def _check_banner(adapter: Any, fail: Callable[[str], None]) -> None:
    for data in (b"", _GARBAGE_BANNER, _HTTP_404, _marionette_like_greeting()):
        try:
            res = adapter.banner(data)
        except Exception as exc:
            fail(f"banner() raised {type(exc).__name__} on {data[:30]!r}: {exc}")
            continue
        if res is not None and _verdict(res) == VERIFIED:
            fail(f"banner() verifies bytes that are not the app: {data[:30]!r}")


def _verdict(res: Any) -> str | None:
    """The verdict's string value: a plain str, or a str Enum member's value."""
    value = getattr(res, "verdict", None)
    value = getattr(value, "value", value)
    return value if isinstance(value, str) else None


# -- the fakes the conformance probes meet --

_GARBAGE_BANNER = b"SSH-2.0-OpenSSH_9.6 garbage\r\n"
_HTTP_404 = (
    b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 22\r\n\r\n"
    b'{"detail":"Not Found"}'
)


def _marionette_like_greeting() -> bytes:
    """Firefox's DevTools server greets in Marionette's ``<length>:<json>`` framing; it is not
    Marionette (another app's greeting, as a wrong app on the port sends it)."""
    body = json.dumps({"from": "root", "applicationType": "browser", "traits": {}}).encode()
    return str(len(body)).encode() + b":" + body


def _conformance_fakes(
    wait: float,
) -> dict[str, tuple[Callable[[FakeConnection, FakeServer], None], tuple[str, ...]]]:
    """case name: (handler, the verdicts a probe may give). Every handler reads until the client
    closes, so the check can tell that the probe did."""

    def silent_port(conn: FakeConnection, server: FakeServer) -> None:
        conn.wait_closed(wait)

    def garbage(conn: FakeConnection, server: FakeServer) -> None:
        conn.sendall(_GARBAGE_BANNER)
        end = time.monotonic() + wait
        while not server.client_closed[conn.idx] and (left := end - time.monotonic()) > 0:
            if conn.recv(4096, left):
                conn.sendall(b"?? garbage\r\n")

    def http_server(conn: FakeConnection, server: FakeServer) -> None:
        data = conn.recv(4096, wait)
        if data:
            is_http = re.match(rb"(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH) \S+ HTTP/1\.[01]\r?\n", data)
            conn.sendall(_HTTP_404 if is_http else b"HTTP/1.0 400 Bad Request\r\n\r\n")
        conn.wait_closed(wait)

    def other_greeting(conn: FakeConnection, server: FakeServer) -> None:
        conn.sendall(_marionette_like_greeting())
        conn.wait_closed(wait)

    talked = (NOT_ME, UNKNOWN)  # the fake spoke first: not silent, so not busy
    accepted = (BUSY, NOT_ME, UNKNOWN)
    return {
        # Firefox's probe sees that the silent listener is this Python, not Firefox: not-me
        "silent-port": (silent_port, accepted),
        "garbage-talker": (garbage, talked),
        "other-greeting": (other_greeting, talked),
        "http-server": (http_server, accepted),
    }


def _run_probe(
    adapter: Any, port: int, timeout: float, limit: float
) -> tuple[Any, BaseException | None, float, bool]:
    """``adapter.probe`` in a thread, so a hanging probe fails the check instead of hanging it:
    (result, exception, seconds, whether it returned within ``limit``)."""
    out: list[Any] = [None, None]

    def run() -> None:
        try:
            out[0] = adapter.probe("127.0.0.1", port, timeout)
        except BaseException as exc:
            out[1] = exc

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True, name=f"check_adapter probe :{port}")
    thread.start()
    thread.join(limit)
    return out[0], out[1], time.monotonic() - started, not thread.is_alive()


def _probe_case(
    adapter: Any,
    report: ConformanceReport,
    case: str,
    port: int,
    allowed: tuple[str, ...],
    timeout: float,
    margin: float,
) -> ProbeCase:
    fail = report.failures.append
    budget = timeout + margin
    res, exc, took, finished = _run_probe(adapter, port, timeout, budget + HANG_GRACE)
    verdict = _verdict(res)
    row = ProbeCase(case, verdict, round(took, 3), detail=str(getattr(res, "detail", "") or ""))
    report.probes.append(row)
    where = f"probe on a {case.replace('-', ' ')} (port {port})"
    if not finished:
        fail(f"{where} hung: no verdict after {took:.1f}s (timeout {timeout}s)")
    elif exc is not None:
        fail(f"{where} raised {type(exc).__name__}: {exc} (a probe maps every failure to a verdict)")
    elif verdict not in VERDICTS:
        fail(f"{where} returned {res!r}: expected a ProbeResult with a verdict in {VERDICTS}")
    elif verdict not in allowed:
        fail(f"{where} said {verdict!r} ({row.detail}); expected {' or '.join(allowed)}")
    if finished and took > budget:
        fail(
            f"{where} took {took:.2f}s, more than its timeout {timeout}s + {margin}s"
            + (" (a deadline started after connecting?)" if case == "slow-connect" else "")
        )
    return row


def _check_probes(
    adapter: Any, report: ConformanceReport, *, timeout: float, margin: float, max_sent: int
) -> None:
    fail = report.failures.append
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        row = _probe_case(
            adapter, report, "closed-port", closed.getsockname()[1], (UNREACHABLE,), timeout, margin
        )
    slow = max(timeout, SLOW_CONNECT_TIMEOUT)
    fakes = _conformance_fakes(slow + margin + 1)
    # (case, handler, verdicts allowed, the probe's timeout, seconds the backlog stays full)
    cases = [(case, handler, allowed, timeout, 0.0) for case, (handler, allowed) in fakes.items()]
    silent_port, accepted = fakes["silent-port"]
    cases.append(("slow-connect", silent_port, accepted, slow, slow / 2))
    last = timeout
    for case, handler, allowed, seconds, full_for in cases:
        if row.seconds > last + margin:  # each further probe would only add its overrun
            fail("the remaining probe cases were not run: the probe overran its timeout")
            return
        with FakeServer(handler, full_backlog_for=full_for) as server:
            row = _probe_case(adapter, report, case, server.port, allowed, seconds, margin)
            last = seconds
            settled = server.settle(max(margin, 1.0))
            row.sent = sum(len(b) for b in server.received)
            if row.sent > max_sent:
                fail(
                    f"probe on a {case} sent {row.sent} bytes, more than {max_sent}: {server.received!r:.99}"
                )
            if server.connections and (not settled or not all(server.client_closed)):
                fail(f"probe on a {case} left a connection open: it must close what it opens")
