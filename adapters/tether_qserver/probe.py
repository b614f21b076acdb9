"""The Bluesky HTTP Server's adapter: hints (uvicorn/bluesky_httpserver processes) and the OpenAPI probe.

``GET /openapi.json`` needs no API key, changes nothing, and names the server
(``info.title == "Bluesky HTTP Server"``) and its version. The probe speaks plain HTTP/1.1
over a socket (``http.client`` for https only), so that a scan — and every other adapter's
command, which loads this module with the adapter — pays neither for requests nor for
``http.client``/``ssl`` (~25 ms of imports).
"""

from __future__ import annotations

import json
import re
import time

from tether.adapter import ProbeResult, Verdict

DEFAULT_PORT = 60610
TITLE = "Bluesky HTTP Server"
# (tether_qserver.httpserver: the server as `tether qserver launch` starts it, its key kept out of its log)
_PROCESS_MARKS = (
    "bluesky_httpserver",
    "bluesky-httpserver",
    "start-bluesky-httpserver",
    "tether_qserver.httpserver",
)
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
    path = f"{prefix.rstrip('/')}/openapi.json"
    try:
        if scheme == "https":
            status, body = _get_https(host, port, path, timeout)
        else:
            status, body = _get_plain(host, port, path, timeout)
    except _ZmqPeer:
        return ProbeResult(Verdict.NOT_ME, detail=ZMQ_DETAIL)
    except ConnectionRefusedError:
        return ProbeResult(Verdict.UNREACHABLE, detail="connection refused")
    except TimeoutError:
        return ProbeResult(Verdict.UNKNOWN, detail=f"no whole HTTP answer within {timeout:g} s")
    except _NotHttp as exc:
        return ProbeResult(Verdict.NOT_ME, detail=f"not an HTTP server ({exc})")
    except ConnectionResetError:
        return ProbeResult(Verdict.UNKNOWN, detail="the connection was reset before an HTTP answer")
    except OSError as exc:  # said in words: errno text is for programmers
        return ProbeResult(Verdict.UNKNOWN, detail=f"HTTP probe failed: {exc.strerror or type(exc).__name__}")
    if status != 200:
        return ProbeResult(Verdict.NOT_ME, detail=f"GET /openapi.json answered HTTP {status}")
    if len(body) > MAX_SCHEMA:
        return ProbeResult(Verdict.NOT_ME, detail=f"/openapi.json is larger than {MAX_SCHEMA} bytes")
    info = _leading_info(body)
    if info is None:
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


#: how FastAPI's schema begins: ``{"openapi":"3.1.0","info":`` (then the info object); compiled
#: at the first probe (``re`` caches it), not when every command loads the adapter
_LEADING_INFO = r'\{\s*"openapi"\s*:\s*"[^"\\]{0,40}"\s*,\s*"info"\s*:\s*'


def _leading_info(body: bytes) -> dict | None:
    """The top-level ``info`` object of a schema that begins as FastAPI writes it, decoded
    alone (the whole schema — tens of kB, ~0.5 ms — is not); ``None`` for any other shape,
    which the caller decodes whole."""
    head = body[:200].decode("utf-8", "replace")
    m = re.match(_LEADING_INFO, head)
    if m is None:
        return None
    try:
        info, _ = json.JSONDecoder().raw_decode(body.decode("utf-8", "replace"), m.end())
    except (ValueError, RecursionError):
        return None
    return info if isinstance(info, dict) else None


class _ZmqPeer(Exception):
    """The port greets with ZMTP's signature: a ZeroMQ socket."""


class _NotHttp(Exception):
    """The peer does not answer in HTTP."""


def _get_https(host: str, port: int, path: str, timeout: float) -> tuple[int, bytes]:
    import http.client

    conn = http.client.HTTPSConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/json", "Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read(MAX_SCHEMA + 1)
    except (http.client.HTTPException, ValueError) as exc:
        raise _NotHttp(type(exc).__name__) from exc
    finally:
        conn.close()


def _get_plain(host: str, port: int, path: str, timeout: float) -> tuple[int, bytes]:
    """``GET path`` in HTTP/1.1 over a socket: the status and the body (at most ``MAX_SCHEMA``
    bytes; ``Content-Length``, chunked, or up to the close that ``Connection: close`` asks for)."""
    from tether.transport.tcp import create_connection

    hostname = f"[{host}]" if ":" in host else host
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {hostname}:{port}\r\nAccept: application/json\r\n"
        "Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
    )
    end = time.monotonic() + timeout  # one deadline for connect, request, headers and body

    def left() -> float:
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no whole HTTP answer within {timeout:g} s")
        return remaining

    sock = create_connection(host, port, timeout)  # a numeric host skips the name lookup
    try:
        sock.settimeout(left())
        sock.sendall(request.encode("ascii"))
        if _speaks_zmq(sock):
            raise _ZmqPeer()
        data = b""
        while b"\r\n\r\n" not in data:
            sock.settimeout(left())  # a server trickling bytes cannot stretch the deadline
            chunk = sock.recv(65536)
            if not chunk:
                raise _NotHttp("closed before the end of the headers")
            data += chunk
            if len(data) > 65536 and b"\r\n\r\n" not in data:
                raise _NotHttp("no end of headers")
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise _NotHttp("BadStatusLine")
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise _NotHttp("a malformed header")
            headers[name.strip().lower()] = value.strip()

        def more() -> bytes:
            sock.settimeout(left())
            chunk = sock.recv(65536)
            if not chunk:
                raise _NotHttp("closed before the end of the body")
            return chunk

        if "chunked" in headers.get("transfer-encoding", "").lower():
            return status, _dechunk(body, more)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise _NotHttp("a malformed Content-Length")
            want = min(int(length), MAX_SCHEMA + 1)  # one byte more tells "too large"
            while len(body) < want:
                body += more()
            return status, body[:want]
        while len(body) <= MAX_SCHEMA:
            sock.settimeout(left())
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, body[: MAX_SCHEMA + 1]
    finally:
        sock.close()


def _dechunk(data: bytes, more) -> bytes:
    """A chunked body (``data`` read so far, ``more()`` for the rest), at most ``MAX_SCHEMA`` + 1 bytes."""
    out = b""
    while True:
        while b"\r\n" not in data:
            data += more()
        size_line, _, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _NotHttp("a malformed chunk") from None
        if size == 0 or len(out) > MAX_SCHEMA:
            return out[: MAX_SCHEMA + 1]  # one byte more tells "too large"
        while len(data) < size + 2:
            data += more()
        out += data[:size]
        data = data[size + 2 :]


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
