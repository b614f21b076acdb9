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
    """``GET <prefix>/openapi.json`` within ``timeout`` seconds in all (connect, headers and body:
    a server trickling bytes cannot stretch it), reading at most ``MAX_SCHEMA`` bytes."""
    from tether.deadline import Deadline
    from tether.transport.tcp import Watchdog

    deadline = Deadline(timeout)
    cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    conn = cls(host, port, timeout=timeout)
    watch = Watchdog(deadline)
    try:
        with watch:
            watch.watch(conn)
            conn.request(
                "GET",
                f"{prefix.rstrip('/')}/openapi.json",
                headers={"Accept": "application/json", "Connection": "close", "Accept-Encoding": "identity"},
            )
            if scheme == "http" and _speaks_zmq(conn.sock):
                return ProbeResult(Verdict.NOT_ME, detail=ZMQ_DETAIL)
            resp = conn.getresponse()
            body = resp.read(MAX_SCHEMA + 1)
    except ConnectionRefusedError:
        return ProbeResult(Verdict.UNREACHABLE, detail="connection refused")
    except TimeoutError:
        return ProbeResult(Verdict.UNKNOWN, detail=f"no whole HTTP answer within {timeout:g} s")
    except (http.client.HTTPException, ValueError) as exc:
        if watch.fired:
            return ProbeResult(Verdict.UNKNOWN, detail=f"no whole HTTP answer within {timeout:g} s")
        return ProbeResult(Verdict.NOT_ME, detail=f"not an HTTP server ({type(exc).__name__})")
    except OSError as exc:
        if watch.fired:
            return ProbeResult(Verdict.UNKNOWN, detail=f"no whole HTTP answer within {timeout:g} s")
        if isinstance(exc, ConnectionResetError):
            return ProbeResult(Verdict.UNKNOWN, detail="the connection was reset before an HTTP answer")
        return ProbeResult(Verdict.UNKNOWN, detail=f"HTTP probe failed: {exc.strerror or type(exc).__name__}")
    finally:
        conn.close()
    if resp.status != 200:
        return ProbeResult(Verdict.NOT_ME, detail=f"GET /openapi.json answered HTTP {resp.status}")
    if len(body) > MAX_SCHEMA:
        return ProbeResult(Verdict.NOT_ME, detail=f"/openapi.json is larger than {MAX_SCHEMA} bytes")
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return ProbeResult(Verdict.NOT_ME, detail="/openapi.json is not JSON")
    info = doc.get("info") if isinstance(doc, dict) else None
    title = info.get("title") if isinstance(info, dict) else None
    if title != TITLE:
        return ProbeResult(Verdict.NOT_ME, detail=f"an HTTP API titled {str(title)[:80]!r}, not {TITLE!r}")
    return ProbeResult(
        Verdict.VERIFIED, version=str(info.get("version") or "")[:80] or None, detail="OpenAPI title matches"
    )


def _speaks_zmq(sock) -> bool:
    """True when the peer's first bytes are ZMTP's signature (peeked: the HTTP reply stays unread).

    A ZeroMQ socket greets every connection at once; an HTTP server only answers the request."""
    import socket

    head = sock.recv(10, socket.MSG_PEEK)
    return len(head) == 10 and head[:1] == ZMTP_SIGNATURE[0] and head[9:] == ZMTP_SIGNATURE[1]


def parse_url(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path prefix)`` of a server URL, or :class:`UsageError`: only
    ``http``/``https`` with a host, a port in range, and nothing that cannot name a machine."""
    from urllib.parse import urlsplit

    from tether.adapter import check_host
    from tether.errors import UsageError

    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname
    except ValueError:  # "Invalid IPv6 URL", a port out of range …
        host, port, parts = None, 0, None
    if not host or parts is None or parts.scheme not in ("http", "https") or not port:
        raise UsageError(f"--url must look like http://host:port or https://host/prefix, not {url[:200]!r}")
    check_host(host)
    return parts.scheme, host, port, parts.path


def verify_url(url: str, timeout: float):
    """The verified endpoint behind ``url`` (which may carry a path prefix), or the typed error.

    Probes ``<prefix>/openapi.json``: tether never sends a command to an unverified server.
    The endpoint's ``extra["base_url"]`` keeps the scheme and the prefix for the client.
    """
    from tether.adapter import Confidence, raise_for_verdict
    from tether.endpoint import Endpoint

    scheme, host, port, prefix = parse_url(url)
    res = probe_openapi(host, port, timeout, prefix=prefix, scheme=scheme)
    raise_for_verdict(res, title=TITLE, where=url, host=host, port=port)
    return Endpoint(
        app="qserver",
        title=TITLE,
        version=res.version,
        host=host,
        port=port,
        confidence=Confidence.VERIFIED,
        detail=res.detail,
        extra={"base_url": url.rstrip("/")},
    )
