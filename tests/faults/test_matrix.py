"""The fault matrix (issue 9): every hostile behaviour a peer can show, for every adapter, against the
fakes of :mod:`tether.testing`. The real apps' rows (where the fault can be made real: killed,
stopped, busy …) are in ``test_matrix_real.py``.

Each cell runs one ``tether`` command and asserts its exit code, that it ended within its deadline
plus a margin, that no traceback and no secret reached the output. Every cell is recorded; the
table (cell, exit code, seconds, deadline) is printed at the end of the run (see conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tether.testing import (
    FakeServer,
    endless,
    http_400,
    http_response,
    http_routes,
    read_lines,
    replying,
    silent,
    trickling,
)
from tether_firefox.testing import (
    MARIONETTE_GREETING,
    MARIONETTE_SESSION,
    marionette_frame,
    read_marionette_command,
)

from .conftest import record

DEADLINE = 2.0  # -t of every cell: short, so that the whole matrix stays quick
MARGIN = 1.5  # seconds allowed beyond the deadline (process start, the probe's own share)
KEY = "m4trix-Key-5ecret-7f3a"
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _nothing() -> Iterator[int]:
    yield _free_port()


@contextlib.contextmanager
def _serve(handler: Callable) -> Iterator[int]:
    with FakeServer(handler) as srv:
        yield srv.port


def _check(cell: str, code: int, out: str, err: str, took: float, expected: int, deadline: float) -> None:
    record(cell, code, took, deadline, expected)
    assert code == expected, f"{cell}: exit {code}, expected {expected}\n{err}"
    assert took <= deadline + MARGIN, f"{cell}: took {took:.2f} s, deadline {deadline} s"
    assert "Traceback" not in out + err and "internal error" not in err, err
    assert KEY not in out + err


# -- IGV: one command per line; the probe sends "echo <nonce>" ----------------------------------------
def _igv(on_command: Callable) -> Callable:
    """A fake IGV answering the probe's echo, handing any other line to ``on_command(conn, line)``
    (return False to end the connection)."""

    def handler(conn, server):
        for line in read_lines(conn):
            if line.startswith(b"echo"):
                conn.sendall((line[5:] or b"echo") + b"\n")
            elif on_command(conn, line) is False:
                return

    return handler


def _flood(conn, line):
    with contextlib.suppress(OSError):
        while True:
            conn.sendall(b"x" * 65536)
    return False


def _later(seconds: float, answer: bytes) -> Callable:
    def on_command(conn, line):
        time.sleep(seconds)
        conn.sendall(answer)

    return on_command


def _frozen(conn, line):
    conn.wait_closed(30)
    return False


def _echo_trickled(conn, server):
    """Answers the probe's echo with the right words, one byte every half second."""
    line = b""
    while b"\n" not in line:
        data = conn.recv(4096, timeout=5)
        if not data:
            return
        line += data
    with contextlib.suppress(OSError):
        for byte in (line.split(b"\n", 1)[0][5:] or b"echo") + b"\n":
            conn.sendall(bytes([byte]))
            if conn.recv(1, timeout=0.5) == b"" and server.client_closed[conn.idx]:
                return


GOTO = ["igv", "goto", "chr1:1-100"]
IGV_CELLS = {
    "nothing listening": (_nothing, GOTO, 3),
    "accepts and stays silent": (lambda: _serve(silent), GOTO, 4),
    # a partial echo by the probe's deadline: "sent b'echo' and no line", not IGV's way (exit 6)
    "trickles bytes": (lambda: _serve(_echo_trickled), GOTO, 6),
    "endless stream": (lambda: _serve(_igv(_flood)), GOTO, 4),
    "garbage": (lambda: _serve(replying(b"\x00\x01\x02garbage\r\n")), GOTO, 6),
    "invalid UTF-8": (lambda: _serve(replying(b"\xff\xfe\xfd\xfc\n")), GOTO, 6),
    "oversized": (lambda: _serve(_igv(lambda c, ln: c.sendall(b"y" * (2 << 20) + b"\n"))), GOTO, 4),
    "wrong reply (an error line)": (lambda: _serve(_igv(lambda c, ln: c.sendall(b"ERROR [/] x\n"))), GOTO, 1),
    "wrong app": (lambda: _serve(http_400), GOTO, 6),
    "app killed mid-command": (lambda: _serve(_igv(lambda c, ln: False)), GOTO, 4),
    "app frozen then resumed": (lambda: _serve(_igv(_later(0.4, b"OK\n"))), GOTO, 0),
    "app frozen": (lambda: _serve(_igv(_frozen)), GOTO, 4),
    "injection": (lambda: _serve(_igv(lambda c, ln: c.sendall(b"OK\n"))), ["igv", "goto", "chr1\nexit"], 2),
}


@pytest.mark.parametrize("fault", list(IGV_CELLS))
def test_igv(cli, fault):
    make, argv, expected = IGV_CELLS[fault]
    with make() as port:
        start = time.monotonic()
        code, out, err = cli(*argv, "--port", str(port), "-t", str(DEADLINE))
        took = time.monotonic() - start
    _check(f"igv: {fault}", code, out, err, took, expected, DEADLINE)


# -- Firefox Marionette: len:json frames; the probe reads the greeting --------------------------------
def _marionette(on_command: Callable) -> Callable:
    """A fake Marionette that greets and opens sessions, handing other commands to
    ``on_command(conn, msg_id, name)`` (return False to end the connection)."""

    def handler(conn, server):
        conn.sendall(marionette_frame(MARIONETTE_GREETING))
        while (cmd := read_marionette_command(conn)) is not None:
            _, msg_id, name, params = cmd
            if name in MARIONETTE_SESSION:
                conn.sendall(marionette_frame([1, msg_id, None, MARIONETTE_SESSION[name](params)]))
            elif on_command(conn, msg_id, name, params) is False:
                return

    return handler


def _title_after(seconds: float) -> Callable:
    def on_command(conn, msg_id, name, params):
        time.sleep(seconds)
        conn.sendall(marionette_frame([1, msg_id, None, {"value": "A [/] title"}]))

    return on_command


def _session_then(frame: bytes) -> Callable:
    """Greets, then answers NewSession with ``frame`` (raw bytes) and stays."""

    def handler(conn, server):
        conn.sendall(marionette_frame(MARIONETTE_GREETING))
        read_marionette_command(conn)
        with contextlib.suppress(OSError):
            conn.sendall(frame)
            if frame.endswith(b":"):
                while True:
                    conn.sendall(b"z" * 65536)
        conn.wait_closed(30)

    return handler


URLS: list[str] = []


def _navigated(conn, msg_id, name, params):
    if name == "WebDriver:Navigate":
        URLS.append(params.get("url"))
    conn.sendall(marionette_frame([1, msg_id, None, {"value": None}]))


TITLE = ["firefox", "title"]
FIREFOX_CELLS = {
    "nothing listening": (_nothing, TITLE, 3),
    "accepts and stays silent": (lambda: _serve(silent), TITLE, 4),
    "trickles bytes": (
        lambda: _serve(trickling(marionette_frame(MARIONETTE_GREETING), read_first=False)),
        TITLE,
        4,
    ),
    "endless stream": (lambda: _serve(_session_then(b"999999999999:")), TITLE, 4),
    "garbage": (lambda: _serve(replying(b"\x00\x01garbage frame", read_first=False)), TITLE, 6),
    "invalid UTF-8": (lambda: _serve(replying(b"6:\xff\xfe\xfd\xfc\xfb\xfa", read_first=False)), TITLE, 6),
    "oversized": (lambda: _serve(_session_then(b"314572800:[1,1,null,")), TITLE, 4),
    "wrong JSON shape": (
        lambda: _serve(_session_then(marionette_frame([1, 1, None, ["no", "session"]]))),
        TITLE,
        4,
    ),
    "wrong app": (lambda: _serve(replying(b"SSH-2.0-OpenSSH_9.6\r\n", read_first=False)), TITLE, 6),
    "app killed mid-command": (lambda: _serve(_marionette(lambda c, i, n, p: False)), TITLE, 4),
    "app frozen then resumed": (lambda: _serve(_marionette(_title_after(0.7))), TITLE, 0),
    "app frozen": (lambda: _serve(_marionette(lambda c, i, n, p: _frozen(c, n))), TITLE, 4),
    "injection": (
        lambda: _serve(_marionette(_navigated)),
        ["firefox", "navigate", "https://example.org/\r\nWebDriver:DeleteSession"],
        0,
    ),
}


@pytest.mark.parametrize("fault", list(FIREFOX_CELLS))
def test_firefox(cli, monkeypatch, fault):
    import tether_firefox.probe

    # the port's owner cannot be told (a fake is a python process): as for a frozen Firefox
    monkeypatch.setattr(tether_firefox.probe, "listener_name", lambda host, port: None)
    make, argv, expected = FIREFOX_CELLS[fault]
    URLS.clear()
    with make() as port:
        start = time.monotonic()
        code, out, err = cli(*argv, "--port", str(port), "-t", str(DEADLINE))
        took = time.monotonic() - start
    _check(f"firefox: {fault}", code, out, err, took, expected, DEADLINE)
    if fault == "injection":
        assert [argv[2]] == URLS  # one Navigate, the text as data: framing cannot be broken
    if fault == "app frozen then resumed":
        assert "A [/] title" in out


# -- the Bluesky HTTP Server: GET /openapi.json probes; /api/queue/get is the command ---------------------
OPENAPI = http_response(200, b'{"info": {"title": "Bluesky HTTP Server", "version": "0.0.1"}}')
QUEUE_BODY = b'{"success": true, "items": [], "running_item": {}, "plan_queue_uid": "q"}'
QUEUE = http_response(200, QUEUE_BODY)


def _qs(queue: bytes | Callable) -> Callable:
    return http_routes({"/openapi.json": OPENAPI, "/api/queue/get": queue})


def _answer_after(seconds: float, body: bytes) -> Callable:
    def route(conn):
        time.sleep(seconds)
        conn.sendall(http_response(200, body))
        return False

    return route


def _needs_key(conn):
    conn.recv(1, timeout=0.01)
    conn.sendall(http_response(401, b'{"detail": "Invalid API key"}'))
    return False


def _status_line_only(then_close: bool) -> Callable:
    """A reply cut off after its status line: the headers never finish (then silence, or a close)."""

    def route(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        if not then_close:
            conn.wait_closed(30)
        return False

    return route


def _start(route: Callable) -> Callable:
    return http_routes({"/openapi.json": OPENAPI, "/api/queue/start": route})


#: a plan description whose parameter kind is no kind at all (the server's data, malformed)
_ODD_PLANS = http_routes(
    {
        "/openapi.json": OPENAPI,
        "/api/status": http_response(200, b'{"manager_state": "idle", "plans_allowed_uid": "p"}'),
        "/api/plans/allowed": http_response(
            200,
            b'{"success": true, "plans_allowed_uid": "p", "plans_allowed": {"count": {"name": "count",'
            b' "parameters": [{"name": "detectors", "kind": {"name": "X", "value": "a"}}]}}}',
        ),
        "/api/devices/allowed": http_response(200, b'{"success": true, "devices_allowed": {"det1": {}}}'),
    }
)


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
QUEUE_CMD = ["qserver", "queue"]
START_CMD = ["qserver", "start"]
ENDLESS = endless(CHUNKED, chunk=b"10000\r\n" + b"x" * 65536 + b"\r\n", read_first=False)
QSERVER_CELLS = {
    "nothing listening": (_nothing, QUEUE_CMD, 3, KEY),
    "accepts and stays silent": (lambda: _serve(silent), QUEUE_CMD, 4, KEY),
    "trickles bytes": (lambda: _serve(trickling(b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 50)), QUEUE_CMD, 4, KEY),
    "endless stream": (
        lambda: _serve(_qs(lambda c: ENDLESS(c, c.server))),
        QUEUE_CMD,
        4,
        KEY,
    ),
    "garbage": (lambda: _serve(replying(b"\x00\x01\x02garbage\r\n\r\n", then_close=True)), QUEUE_CMD, 6, KEY),
    "invalid UTF-8": (lambda: _serve(_qs(http_response(200, b'{"items": "\xff\xfe"}'))), QUEUE_CMD, 4, KEY),
    "oversized": (
        lambda: _serve(_qs(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n{")),
        QUEUE_CMD,
        4,
        KEY,
    ),
    "wrong JSON shape": (lambda: _serve(_qs(http_response(200, b"[1, 2]"))), QUEUE_CMD, 4, KEY),
    "wrong app": (
        lambda: _serve(http_routes({"/openapi.json": http_response(200, b'{"info": {"title": "Other"}}')})),
        QUEUE_CMD,
        6,
        KEY,
    ),
    "app killed mid-command": (lambda: _serve(_qs(lambda c: False)), QUEUE_CMD, 4, KEY),
    "app frozen then resumed": (lambda: _serve(_qs(_answer_after(0.7, QUEUE_BODY))), QUEUE_CMD, 0, KEY),
    "app frozen": (lambda: _serve(_qs(lambda c: c.wait_closed(30) and False)), QUEUE_CMD, 4, KEY),
    "injection": (lambda: _serve(_qs(QUEUE)), ["qserver", "add", "count;rm -rf ~", "--no-validate"], 2, KEY),
    "wrong key": (lambda: _serve(_qs(_needs_key)), QUEUE_CMD, 5, KEY),
    "empty key": (lambda: _serve(_qs(_needs_key)), QUEUE_CMD, 5, ""),
    "odd key (line break)": (lambda: _serve(_qs(QUEUE)), QUEUE_CMD, 2, KEY[:5] + "\r\n" + KEY[5:]),
    "odd key (non-ASCII)": (lambda: _serve(_qs(QUEUE)), QUEUE_CMD, 2, KEY + "\u00e9"),
    "headers never finish (start)": (lambda: _serve(_start(_status_line_only(False))), START_CMD, 4, KEY),
    "cut off after the status line (start)": (
        lambda: _serve(_start(_status_line_only(True))),
        START_CMD,
        4,
        KEY,
    ),
    "headers never finish (queue)": (lambda: _serve(_qs(_status_line_only(False))), QUEUE_CMD, 4, KEY),
    "not HTTP, kept open": (lambda: _serve(replying(b"SSH-2.0-OpenSSH_9.2\r\n")), QUEUE_CMD, 6, KEY),
    "malformed plan description": (lambda: _serve(_ODD_PLANS), ["qserver", "add", "count", "det1,"], 4, KEY),
}


@pytest.mark.parametrize("fault", list(QSERVER_CELLS))
def test_qserver(cli, monkeypatch, fault):
    make, argv, expected, key = QSERVER_CELLS[fault]
    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", key)
    with make() as port:
        start = time.monotonic()
        code, out, err = cli(*argv, "--url", f"http://127.0.0.1:{port}", "-t", str(DEADLINE))
        took = time.monotonic() - start
    _check(f"qserver: {fault}", code, out, err, took, expected, DEADLINE)
    assert "m4trix" not in out + err and "7f3a" not in out + err  # no part of the key either


def test_a_peer_that_is_not_http_is_told_at_once_not_at_the_deadline(cli, monkeypatch):
    """Non-HTTP bytes on a connection kept open: exit 6 without waiting out a long deadline (the
    probe waited for an end of headers that never comes, then said 4)."""
    monkeypatch.setenv("QSERVER_HTTP_SERVER_API_KEY", KEY)
    with _serve(replying(b"SSH-2.0-OpenSSH_9.2\r\n")) as port:
        start = time.monotonic()
        code, out, err = cli(*QUEUE_CMD, "--url", f"http://127.0.0.1:{port}", "-t", "20")
        took = time.monotonic() - start
    _check("qserver: not HTTP, kept open, -t 20", code, out, err, took, 6, 20)
    assert took < 10, took  # half the deadline: it did not wait it out


@pytest.mark.parametrize("peer", ["http", "silent"])
def test_zmq_at_a_port_that_is_not_0mq_is_the_wrong_app_at_once(cli, peer):
    """``--zmq`` at an HTTP server (or any other program that waits for its client to speak): 6,
    not the deadline's 4 — a 0MQ socket greets at once, and this machine's table names the owner."""
    handler = _qs(QUEUE) if peer == "http" else silent
    with _serve(handler) as port:
        start = time.monotonic()
        code, out, err = cli("qserver", "status", "--zmq", f"tcp://127.0.0.1:{port}", "-t", "20")
        took = time.monotonic() - start
    _check(f"qserver --zmq at a {peer} port, -t 20", code, out, err, took, 6, 20)
    assert took < 10, took
    assert "not RE Manager" in err or "not a 0MQ socket" in err, err


# -- 20 parallel clients and Ctrl-C: real processes ------------------------------------------------------
def _tether(*argv: str, env: dict | None = None) -> subprocess.Popen:
    path = os.pathsep.join(str(ROOT / p) for p in ("src", "adapters", "examples/third_party_adapter"))
    full_env = {
        **os.environ,
        "PYTHONPATH": path + os.pathsep + os.environ.get("PYTHONPATH", ""),
        **(env or {}),
    }
    code = "import sys; from tether.cli import main; main(sys.argv[1:])"
    return subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    )


@contextlib.contextmanager
def _fake_app(app: str, frozen: bool = False) -> Iterator[tuple[list[str], dict]]:
    """A well-behaved (or, with ``frozen``, never-answering) fake of ``app``: (argv, env)."""
    if app == "igv":
        with FakeServer(_igv(_frozen if frozen else lambda c, ln: c.sendall(b"OK\n"))) as srv:
            yield ["igv", "goto", "chr1:1-100", "--port", str(srv.port)], {}
    elif app == "firefox":
        on_title = (lambda c, i, n, p: _frozen(c, n)) if frozen else _title_after(0)
        with FakeServer(_marionette(on_title)) as srv:
            yield ["firefox", "title", "--port", str(srv.port)], {}
    else:
        route = (lambda c: c.wait_closed(30) and False) if frozen else QUEUE
        with FakeServer(_qs(route)) as srv:
            yield (
                ["qserver", "queue", "--url", f"http://127.0.0.1:{srv.port}"],
                {"QSERVER_HTTP_SERVER_API_KEY": KEY},
            )


@pytest.mark.parametrize("app", ["igv", "firefox", "qserver"])
def test_twenty_parallel_clients_all_end_cleanly(app):
    deadline = 20.0  # twenty interpreters starting at once on two cores
    with _fake_app(app) as (argv, env):
        start = time.monotonic()
        procs = [_tether(*argv, "-t", "10", env=env) for _ in range(20)]
        results = [(p.wait(60), *p.communicate()) for p in procs]
        took = time.monotonic() - start
    codes = sorted({r[0] for r in results})
    record(f"{app}: 20 parallel clients", codes[-1], took, deadline, 0)
    assert codes == [0], [r[2][-300:] for r in results if r[0]]
    assert all("Traceback" not in r[1] + r[2] and KEY not in r[1] + r[2] for r in results)
    assert took < deadline


@pytest.mark.parametrize("app", ["igv", "firefox", "qserver"])
def test_ctrl_c_exits_130_at_once_with_nothing_left_running(app):
    with _fake_app(app, frozen=True) as (argv, env):
        proc = _tether(*argv, "-t", "30", env=env)
        time.sleep(2.0)  # started, probed, and waiting on the frozen app
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(10)
        took = time.monotonic() - start
        out, err = proc.communicate()
    record(f"{app}: Ctrl-C", code, took, 1.0, 130)
    assert code == 130, err
    assert took < 1.0 + MARGIN
    assert "Traceback" not in out + err and KEY not in out + err
    assert threading.active_count() >= 1  # (the child is gone: wait() returned)
