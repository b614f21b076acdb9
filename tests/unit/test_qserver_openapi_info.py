"""The OpenAPI probe decodes only the leading ``info`` of a schema shaped as FastAPI writes it, and
the whole document otherwise: the verdict is the same either way."""

from __future__ import annotations

import json

import pytest

from tether.testing import FakeServer
from tether_qserver import probe

INFO = {"title": "Bluesky HTTP Server", "version": "0.0.14"}
PATHS = {f"/api/p{i}": {"get": {"summary": "x" * 50}} for i in range(200)}


def _served(body: bytes):
    def serve(conn, _server):
        conn.recv(4096, timeout=2)
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        conn.sendall(head + body)

    with FakeServer(serve) as srv:
        return probe.probe_openapi("127.0.0.1", srv.port, 1.0)


@pytest.mark.parametrize(
    "doc,verdict",
    [
        ({"openapi": "3.1.0", "info": INFO, "paths": PATHS}, "verified"),  # FastAPI's order: info alone
        ({"paths": PATHS, "info": INFO, "openapi": "3.1.0"}, "verified"),  # another order: decoded whole
        ({"openapi": "3.1.0", "info": {"title": "Other API", "version": "1"}}, "not-me"),
        ({"openapi": "3.1.0", "info": "Bluesky HTTP Server"}, "not-me"),  # not an object
        ({"openapi": "3.1.0", "x": {"info": INFO}, "info": {"title": "Other"}}, "not-me"),  # nested
    ],
)
def test_the_verdict_is_the_documents_whichever_way_it_is_decoded(doc, verdict):
    res = _served(json.dumps(doc).encode())
    assert res.verdict == verdict, res
    if verdict == "verified":
        assert res.version == "0.0.14"


def test_only_a_fastapi_shaped_schema_is_read_from_its_head():
    fast = json.dumps({"openapi": "3.1.0", "info": INFO, "paths": PATHS}).encode()
    assert probe._leading_info(fast) == INFO
    assert probe._leading_info(fast[:-5]) == INFO  # what follows the info object is not decoded
    assert probe._leading_info(json.dumps({"paths": PATHS, "info": INFO}).encode()) is None
    assert probe._leading_info(b'{"openapi": "3.1.0", "info": [1]}') is None
