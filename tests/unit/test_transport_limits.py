"""Every HTTP call ends by one overall deadline and holds at most a capped reply (issue 9, item 1).

The hostile peers come from :mod:`tether.testing`: a server that trickles a byte every half
second never trips a per-read timeout, an endless body grows an unbounded reader without limit.
"""

from __future__ import annotations

import time

import pytest

from tether.errors import ProtocolError, Timeout, Unreachable
from tether.testing import FakeServer, endless, http_response, replying, silent, trickling
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
