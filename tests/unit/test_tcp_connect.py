"""tether.transport.tcp.create_connection: a numeric address is connected to without a name lookup
(getaddrinfo, and the idna codec it imports: milliseconds of every one-shot command)."""

from __future__ import annotations

import socket

import pytest

from tether.deadline import Deadline
from tether.errors import Unreachable
from tether.transport import tcp


@pytest.fixture
def server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s


def test_a_numeric_address_needs_no_name_lookup(server, monkeypatch):
    def no_lookup(*args, **kwargs):
        raise AssertionError("getaddrinfo was called for a numeric address")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    port = server.getsockname()[1]
    with tcp.create_connection("127.0.0.1", port, 1.0) as conn:
        assert conn.getpeername() == ("127.0.0.1", port) and conn.gettimeout() == 1.0
    conn = tcp.connect("127.0.0.1", port, Deadline(1.0))
    try:
        assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        conn.close()


def test_a_name_is_still_looked_up(server, monkeypatch):
    looked = []
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: looked.append(a[0]) or real(*a, **k))
    with tcp.create_connection("localhost", server.getsockname()[1], 1.0):
        pass
    assert looked == ["localhost"]
    for host in ("127.1", "1e100"):  # not what inet_pton accepts: left to the resolver
        assert tcp._numeric_family(host) is None


def test_a_refused_numeric_address_is_the_same_error_as_before():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(ConnectionRefusedError):
            tcp.create_connection("127.0.0.1", port, 1.0)
        with pytest.raises(Unreachable) as info:
            tcp.connect("127.0.0.1", port, Deadline(1.0), what="IGV")
    assert info.value.detail["reason"] == "refused" and "IGV is not listening" in info.value.message
