"""The Bluesky HTTP Server's adapter: hints (uvicorn/bluesky_httpserver processes) and the OpenAPI probe.

``GET /openapi.json`` needs no API key, changes nothing, and names the server
(``info.title == "Bluesky HTTP Server"``) and its version. The probe uses the standard
library's ``http.client`` so that a scan does not pay for importing requests.
"""

from __future__ import annotations

import http.client
import json

from tether.adapter import ProbeResult, Verdict

DEFAULT_PORT = 60610
TITLE = "Bluesky HTTP Server"
_PROCESS_MARKS = ("bluesky_httpserver", "bluesky-httpserver", "start-bluesky-httpserver")
MAX_SCHEMA = 8 * 1024 * 1024
#: What a ZeroMQ socket sends first (ZMTP 3 signature): RE Manager's own ports answer so.
ZMTP_SIGNATURE = (b"\xff", b"\x7f")
ZMQ_DETAIL = (
    "this port is a ZeroMQ socket (RE Manager's control port: 60615 by default), not its HTTP server; "
    "tether drives RE Manager through bluesky-httpserver (port 60610 by default; `tether scan` finds it)"
)


def is_httpserver_process(cmdline: list[str]) -> bool:
    joined = " ".join(cmdline)
    return any(m in joined for m in _PROCESS_MARKS)


def probe_openapi(
    host: str, port: int, timeout: float, *, prefix: str = "", scheme: str = "http"
) -> ProbeResult:
    cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    conn = cls(host, port, timeout=timeout)
    try:
        conn.request(
            "GET",
            f"{prefix.rstrip('/')}/openapi.json",
            headers={"Accept": "application/json", "Connection": "close"},
        )
        if scheme == "http" and _speaks_zmq(conn.sock):
            return ProbeResult(Verdict.NOT_ME, detail=ZMQ_DETAIL)
        resp = conn.getresponse()
        body = resp.read(MAX_SCHEMA)
    except ConnectionRefusedError as exc:
        return ProbeResult(Verdict.UNREACHABLE, detail=f"connection refused ({exc})")
    except TimeoutError:
        return ProbeResult(Verdict.UNKNOWN, detail="no HTTP answer within the deadline")
    except (http.client.HTTPException, ValueError) as exc:
        return ProbeResult(Verdict.NOT_ME, detail=f"not an HTTP server ({type(exc).__name__})")
    except OSError as exc:
        return ProbeResult(Verdict.UNKNOWN, detail=f"HTTP probe failed: {exc}")
    finally:
        conn.close()
    if resp.status != 200:
        return ProbeResult(Verdict.NOT_ME, detail=f"GET /openapi.json answered HTTP {resp.status}")
    try:
        info = json.loads(body).get("info", {})
    except (ValueError, AttributeError):
        return ProbeResult(Verdict.NOT_ME, detail="/openapi.json is not JSON")
    if info.get("title") != TITLE:
        return ProbeResult(Verdict.NOT_ME, detail=f"an HTTP API titled {info.get('title')!r}, not {TITLE!r}")
    return ProbeResult(
        Verdict.VERIFIED, version=str(info.get("version") or "") or None, detail="OpenAPI title matches"
    )


def _speaks_zmq(sock) -> bool:
    """True when the peer's first bytes are ZMTP's signature (peeked: the HTTP reply stays unread).

    A ZeroMQ socket greets every connection at once; an HTTP server only answers the request."""
    import socket

    head = sock.recv(10, socket.MSG_PEEK)
    return len(head) == 10 and head[:1] == ZMTP_SIGNATURE[0] and head[9:] == ZMTP_SIGNATURE[1]


def verify_url(url: str, timeout: float):
    """The verified endpoint behind ``url`` (which may carry a path prefix), or the typed error.

    Probes ``<prefix>/openapi.json``: tether never sends a command to an unverified server.
    The endpoint's ``extra["base_url"]`` keeps the scheme and the prefix for the client.
    """
    from urllib.parse import urlsplit

    from tether.adapter import Confidence, raise_for_verdict
    from tether.endpoint import Endpoint
    from tether.errors import UsageError

    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    if parts.scheme not in ("http", "https") or not parts.hostname or not port:
        raise UsageError(f"--url must look like http://host:port or https://host/prefix, not {url!r}")
    res = probe_openapi(parts.hostname, port, timeout, prefix=parts.path, scheme=parts.scheme)
    raise_for_verdict(res, title=TITLE, where=url, host=parts.hostname, port=port)
    return Endpoint(
        app="qserver",
        title=TITLE,
        version=res.version,
        host=parts.hostname,
        port=port,
        confidence=Confidence.VERIFIED,
        detail=res.detail,
        extra={"base_url": url.rstrip("/")},
    )
