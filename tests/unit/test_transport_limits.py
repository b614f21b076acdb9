"""Every HTTP call ends by one overall deadline and holds at most a capped reply (issue 9, item 1).

The hostile peers come from :mod:`tether.testing`: a server that trickles a byte every half
second never trips a per-read timeout, an endless body grows an unbounded reader without limit.
"""

from __future__ import annotations

import time

import pytest

from tether.deadline import Deadline
from tether.errors import AuthError, ProtocolError, Timeout, Unreachable
from tether.testing import (
    FakeServer,
    endless,
    http_response,
    replying,
    silent,
    trickling,
    ws_frame,
    ws_upgrade,
)
from tether.transport.http import HttpSession

SECRET = "k3y-\n-with-newline"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def _call(handler, path="/x", **session_kw):
    """``(error or None, seconds, bytes the server received)`` of one GET to a fake running ``handler``."""
    with FakeServer(handler) as srv, HttpSession(f"http://127.0.0.1:{srv.port}", **session_kw) as s:
        start = time.monotonic()
        try:
            s.get(path)
            exc = None
        except Exception as e:  # the tests assert on the type
            exc = e
        return exc, time.monotonic() - start, b"".join(srv.received)


@pytest.mark.parametrize(
    "name, handler",
    [
        ("silent", silent),
        ("headers trickle", trickling(b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 100)),
        (
            "body trickles",
            trickling(b'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{"a": "' + b"a" * 100),
        ),
    ],
)
def test_one_deadline_covers_the_whole_call_however_the_server_paces_its_bytes(name, handler):
    exc, took, _ = _call(handler, timeout=1.0)
    assert isinstance(exc, Timeout), (name, exc)
    assert took < 1.8, (name, took)
    assert "within 1 s" in str(exc)


def test_retries_of_a_read_fit_inside_the_same_deadline():
    exc, took, _ = _call(silent, timeout=2.0, retries=2)
    assert isinstance(exc, Timeout)
    assert took < 2.8, took  # three tries of 2 s each took 6 s (16 s through the CLI) before


def test_refused_reads_are_retried_within_the_deadline():
    with HttpSession("http://127.0.0.1:9", timeout=1.0, retries=5, backoff=0.2) as s:
        start = time.monotonic()
        with pytest.raises(Unreachable) as err:
            s.get("/api/status")
    assert not isinstance(err.value, ProtocolError)
    assert "Errno" not in str(err.value) and "HTTPConnectionPool" not in str(err.value)
    assert time.monotonic() - start < 1.5


def test_an_endless_body_stops_at_the_cap_with_a_clear_error():
    chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
    exc, took, _ = _call(endless(CHUNKED, chunk=chunk), timeout=5.0, max_body=1 << 20)
    assert isinstance(exc, ProtocolError), exc
    assert "larger than the limit of 1 MiB" in str(exc)
    assert took < 5


def test_a_declared_length_beyond_the_cap_is_refused_before_reading():
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n{"
    exc, took, _ = _call(replying(reply), timeout=2.0, max_body=1 << 20)
    assert isinstance(exc, ProtocolError) and took < 1.5


def test_endless_headers_are_a_protocol_error_not_a_hang():
    exc, took, _ = _call(
        endless(b"HTTP/1.1 200 OK\r\n", chunk=b"X-Hdr: " + b"y" * 100 + b"\r\n"), timeout=3.0
    )
    assert isinstance(exc, ProtocolError), exc
    assert "headers" in str(exc) and took < 3


def test_a_compressed_reply_not_asked_for_is_refused():
    reply = http_response(200, b"\x1f\x8b garbage", {"Content-Encoding": "gzip"})
    exc, _, sent = _call(replying(reply), timeout=2.0)
    assert isinstance(exc, ProtocolError) and "gzip" in str(exc)
    assert b"accept-encoding: identity" in sent.lower()


@pytest.mark.parametrize(
    "body", [b"\xff\xfe not utf-8", b"<html>garbage</html>", b"[" * 100_000, b"\x00" * 10]
)
def test_a_body_that_is_not_json_is_a_protocol_error(body):
    exc, _, _ = _call(replying(http_response(200, body)), timeout=2.0)
    assert isinstance(exc, ProtocolError), exc


def test_garbage_instead_of_http_is_unreachable_in_plain_words():
    garbage = b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02garbage\r\n\r\n"
    exc, _, _ = _call(replying(garbage, then_close=True), timeout=2.0, retries=0)
    assert isinstance(exc, Unreachable), exc
    assert "Errno" not in str(exc)


def test_a_secret_in_a_body_that_is_not_json_is_masked():
    reply = http_response(200, b"bad key " + SECRET.encode() + b" / " + repr(SECRET).encode())
    exc, _, _ = _call(replying(reply), timeout=2.0, secrets=[SECRET])
    assert isinstance(exc, ProtocolError)
    assert "k3y-" not in str(exc)


# -- the queue server's probe shares the problem (scan and --url use it) -------------------------------
@pytest.mark.parametrize(
    "handler",
    [silent, trickling(b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 100), trickling(http_response(200, b"{" * 50))],
)
def test_the_openapi_probe_ends_by_its_deadline_however_the_server_paces_its_bytes(handler):
    from tether_qserver.probe import probe_openapi

    with FakeServer(handler) as srv:
        start = time.monotonic()
        res = probe_openapi("127.0.0.1", srv.port, 1.0)
        took = time.monotonic() - start
    assert res.verdict == "unknown" and "within 1 s" in res.detail
    assert took < 1.6, took


@pytest.mark.parametrize(
    "body",
    [b"[1, 2]", b'{"info": "x"}', b'{"info": {"title": 5}}', b'{"info": null}', b"[" * 99_999, b"\xff\xfe"],
)
def test_an_openapi_answer_of_another_shape_is_not_the_app(body):
    from tether_qserver.probe import probe_openapi

    with FakeServer(replying(http_response(200, body))) as srv:
        res = probe_openapi("127.0.0.1", srv.port, 2.0)
    assert res.verdict == "not-me", res


# -- WebSocket: the same deadline and a message cap -----------------------------------------------------
def _ws_server(after_upgrade):
    def handler(conn, server):
        ws_upgrade(conn)
        after_upgrade(conn, server)

    return FakeServer(handler)


def test_a_websocket_message_trickled_a_byte_at_a_time_ends_at_the_deadline():
    from tether.transport.ws import WsConnection

    def trickle(conn, server):
        conn.sendall(ws_frame(length=1000))
        trickling(b"a" * 1000, every=0.2, read_first=False)(conn, server)

    with (
        _ws_server(trickle) as srv,
        WsConnection.open(f"ws://127.0.0.1:{srv.port}/", deadline=Deadline(2)) as ws,
    ):
        start = time.monotonic()
        with pytest.raises(Timeout) as err:
            ws.recv(Deadline(1.0))
        took = time.monotonic() - start
    assert took < 1.6, took
    assert "1 s" in str(err.value)


def test_a_silent_websocket_times_out_and_stays_usable():
    from tether.transport.ws import WsConnection

    def later(conn, server):
        time.sleep(0.8)
        conn.sendall(ws_frame(b"hi"))
        conn.wait_closed(5)

    with (
        _ws_server(later) as srv,
        WsConnection.open(f"ws://127.0.0.1:{srv.port}/", deadline=Deadline(2)) as ws,
    ):
        with pytest.raises(Timeout):
            ws.recv(Deadline(0.3))
        assert ws.recv(Deadline(2.0)) == "hi"


def test_an_oversized_websocket_message_is_refused_from_its_header():
    from tether.transport.ws import WsConnection

    def huge(conn, server):
        conn.sendall(ws_frame(length=1 << 40))
        conn.wait_closed(5)

    with _ws_server(huge) as srv:
        ws = WsConnection.open(f"ws://127.0.0.1:{srv.port}/", deadline=Deadline(2), max_message=1 << 20)
        with pytest.raises(ProtocolError) as err:
            ws.recv(Deadline(2.0))
        ws.close()
    assert "limit of 1048576 bytes" in str(err.value)


def test_a_websocket_message_in_many_small_fragments_is_capped_too():
    from tether.transport.ws import WsConnection

    def fragments(conn, server):
        try:
            conn.sendall(ws_frame(b"a" * 1000, fin=False))
            while True:
                conn.sendall(ws_frame(b"a" * 1000, opcode=0, fin=False))
        except OSError:
            return

    with _ws_server(fragments) as srv:
        ws = WsConnection.open(f"ws://127.0.0.1:{srv.port}/", deadline=Deadline(2), max_message=100_000)
        with pytest.raises(ProtocolError):
            ws.recv(Deadline(3.0))
        ws.close()


def test_a_websocket_upgrade_trickled_a_byte_at_a_time_ends_at_the_deadline():
    from tether.transport.ws import WsConnection

    with FakeServer(trickling(b"HTTP/1.1 101 Switching Protocols\r\nX: " + b"y" * 100, every=0.2)) as srv:
        start = time.monotonic()
        with pytest.raises(Timeout):
            WsConnection.open(f"ws://127.0.0.1:{srv.port}/", deadline=Deadline(1.0))
        took = time.monotonic() - start
    assert took < 1.6, took


# -- memory: a capped reply costs about its cap, an accepted one about twice its size ----------------
def _peak(fn) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_endless_body_costs_at_most_one_and_a_half_times_the_cap():
    cap = 8 << 20
    chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
    with FakeServer(endless(CHUNKED, chunk=chunk)) as srv:
        s = HttpSession(f"http://127.0.0.1:{srv.port}", timeout=10, max_body=cap)
        errors: list = []

        def read() -> None:
            try:
                s.get("/x")
            except ProtocolError as exc:
                errors.append(exc)

        peak = _peak(read)
        s.close()
    assert errors, "the endless body was not refused"
    assert peak < 1.5 * cap, peak / cap


def test_a_large_reply_is_parsed_at_about_twice_its_size():
    size = 16 << 20
    body = b'"' + b"x" * size + b'"'
    with FakeServer(replying(http_response(200, body))) as srv:
        s = HttpSession(f"http://127.0.0.1:{srv.port}", timeout=10)
        out: list = []
        peak = _peak(lambda: out.append(s.get("/x")))
        s.close()
    assert len(out[0]) == size
    assert peak < 2.3 * size, peak / size  # 3x before: bytes, their decoded copy and the value


def test_a_large_marionette_frame_is_read_at_about_twice_its_size():
    from tether.deadline import Deadline
    from tether.transport.framed import FramedConnection

    size = 16 << 20
    body = b'[1,1,null,{"value":"' + b"A" * size + b'"}]'
    with FakeServer(replying(b"%d:" % len(body) + body, read_first=False)) as srv:
        conn = FramedConnection.open("127.0.0.1", srv.port, Deadline(5))
        time.sleep(0.3)  # let the whole frame arrive in the socket buffers (not counted by tracemalloc)
        out: list = []
        peak = _peak(lambda: out.append(conn.read_frame(Deadline(10))))
        conn.close()
    assert len(out[0][3]["value"]) == size
    assert peak < 2.3 * size, peak / size  # 2.85x before


# -- a reply cut off inside its headers is no empty success ------------------------------------------------
@pytest.mark.parametrize("then_close", [False, True])
def test_a_reply_cut_off_after_its_status_line_is_an_error_not_an_empty_success(then_close):
    """http.client reads a connection closed (or shut down at the deadline) inside the headers as
    their end: the reply looked like an empty 200, and ``{}`` was taken for success."""
    exc, took, _ = _call(replying(b"HTTP/1.1 200 OK\r\n", then_close=then_close), timeout=1.0, retries=0)
    assert isinstance(exc, Timeout if not then_close else Unreachable), exc
    assert took < 2.5


def test_an_empty_body_the_headers_announce_is_an_empty_reply():
    with FakeServer(replying(http_response(200, b""))) as srv:
        session = HttpSession(f"http://127.0.0.1:{srv.port}")
        assert session.post("/x") == {}
        session.close()


# -- the light GET of probes (tether.transport.http.light_get) ------------------------------------------
def test_light_get_reads_sized_chunked_and_until_close_bodies():
    from tether.transport.http import light_get

    body = b'{"a": 1}'
    chunked = b"3\r\n" + body[:3] + b"\r\n" + b"%x\r\n" % len(body[3:]) + body[3:] + b"\r\n0\r\n\r\n"
    for head, payload in (
        (b"Content-Length: %d\r\n" % len(body), body),
        (b"Transfer-Encoding: chunked\r\n", chunked),
        (b"", body),
    ):
        reply = b"HTTP/1.1 200 OK\r\nX-Y: z\r\n" + head + b"\r\n" + payload
        with FakeServer(replying(reply, then_close=True)) as srv:
            got = light_get("127.0.0.1", srv.port, "/x", 2.0)
        assert (got.status, got.body, got.headers["x-y"]) == (200, body, "z")


def test_light_get_tells_a_peer_that_is_not_http_at_once_and_keeps_its_first_bytes():
    from tether.transport.http import light_get

    with FakeServer(replying(b"SSH-2.0-x\r\n")) as srv:  # kept open: no end of headers will come
        start = time.monotonic()
        with pytest.raises(ProtocolError) as err:
            light_get("127.0.0.1", srv.port, "/x", 10.0)
        assert time.monotonic() - start < 5
    assert err.value.detail["first_bytes"].startswith(b"SSH-2.0")


def test_light_get_ends_by_its_deadline_caps_the_body_and_says_refused():
    from tether.transport.http import light_get

    with FakeServer(trickling(b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 100)) as srv, pytest.raises(Timeout):
        light_get("127.0.0.1", srv.port, "/x", 0.5)
    big = http_response(200, b"x" * 5000)
    with FakeServer(replying(big)) as srv, pytest.raises(ProtocolError) as err:
        light_get("127.0.0.1", srv.port, "/x", 2.0, max_body=1000)
    assert err.value.detail["limit"] == 1000
    with FakeServer(silent) as srv:
        port = srv.port
    with pytest.raises(Unreachable) as err:
        light_get("127.0.0.1", port, "/x", 1.0)
    assert err.value.detail.get("reason") == "refused"


def test_the_websocket_fake_reads_masked_messages_and_answers_a_clients_close():
    """tether.testing.FakeWebSocket: what a client sends arrives unmasked, in order; a close from
    the client is answered (the client's close handshake completes) and ends the iteration."""
    from tether.testing import FakeWebSocket
    from tether.transport.ws import WsConnection

    got: list = []

    def handler(ws):
        for message in ws:
            got.append(message)
            ws.send(message.upper())
        got.append(("closed", ws.closed))

    with FakeWebSocket(handler, refuse={"/no": 401}) as server:
        ws = WsConnection.open(server.url + "/path?x=1", deadline=Deadline(2))
        ws.send_text("hello " * 50, Deadline(2))  # 300 bytes: a 16-bit length header
        assert ws.recv(Deadline(2)) == "HELLO " * 50
        ws.send_json({"a": 1}, Deadline(2))
        assert ws.recv(Deadline(2)) == '{"A": 1}'
        ws.close()
        assert server.settle(3)
        with pytest.raises(AuthError):
            WsConnection.open(server.url + "/no", deadline=Deadline(2))
    assert got == ["hello " * 50, '{"a": 1}', ("closed", True)]
    assert server.requests[0].path == "/path?x=1" and server.requests[0].header("upgrade") == "websocket"
