"""The example adapter's own tests: what a third-party adapter writes, with tether's generic fakes
and its conformance check only (no code from another adapter).

Run them with ``pytest examples/third_party_adapter/tests`` once ``tether_redis`` is importable
(``pip install ./examples/third_party_adapter``; tether's suite puts it on the path).
"""

from __future__ import annotations

import pytest
from tether_redis import RedisAdapter, RedisClient

from tether.endpoint import Endpoint
from tether.errors import CommandError
from tether.testing import FakeServer, check_adapter, read_lines


def fake_redis(password: str | None = None) -> FakeServer:
    """Enough of redis' inline protocol: ``AUTH`` and ``PING``."""

    def handler(conn, server):
        authed = password is None
        for line in read_lines(conn):
            verb, _, arg = line.decode().partition(" ")
            if verb.upper() == "AUTH":
                authed = arg == password
                conn.sendall(b"+OK\r\n" if authed else b"-WRONGPASS invalid password\r\n")
            elif verb.upper() == "PING":
                conn.sendall(b"+PONG\r\n" if authed else b"-NOAUTH Authentication required.\r\n")

    return FakeServer(handler)


def test_the_adapter_keeps_the_contract():
    report = check_adapter(RedisAdapter())
    assert report.ok, report


def test_the_probe_verifies_redis_and_sends_only_a_ping():
    with fake_redis() as server:
        res = RedisAdapter().probe("127.0.0.1", server.port, 2.0)
        assert server.settle(2)
    assert res.verdict == "verified"
    assert server.received == [b"PING\n"]


def test_the_client_authenticates_and_masks_its_password():
    with fake_redis("s3cret") as server:
        endpoint = Endpoint(app="redis", title="Redis", host="127.0.0.1", port=server.port)
        client = RedisAdapter().connect(endpoint, password="s3cret", timeout=2.0)
        assert client.ping() == "+PONG" and client.secrets == ["s3cret"]
        with pytest.raises(CommandError):
            RedisClient("127.0.0.1", server.port, password="wrong", timeout=2.0).ping()
